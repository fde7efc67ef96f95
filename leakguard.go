// Package leakguard holds the domain types that cross package boundaries:
// a Hit is what a leak hunter found in public and what the revoker acts on.
package leakguard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/leakguard/leakguard/keyformat"
)

// Source names (docs/configuration.md, docs/bus.md). A hit travels on "leaks.hits.<source>".
const (
	SourceGitHub    = "github"
	SourceGists     = "gists"
	SourceNPM       = "npm"
	SourceDockerHub = "dockerhub"
	SourcePastebin  = "pastebin"
	// SourceGitHubScanning is GitHub's secret scanning partner program
	// reporting a token to POST /v1/secret-scanning/github.
	SourceGitHubScanning = "github-secret-scanning"
)

// HitSubjectPrefix is the JetStream subject prefix for hits.
const HitSubjectPrefix = "leaks.hits."

// Location is where a secret was seen, as exactly as the source knows it.
type Location struct {
	URL        string `json:"url"`
	Repository string `json:"repository,omitempty"` // owner/name, npm package, image name
	Commit     string `json:"commit,omitempty"`     // commit SHA, package version, image digest
	Path       string `json:"path,omitempty"`       // file path; inside archives "a.tgz!package/x.js"
	Line       int    `json:"line,omitempty"`       // 1-based
	Layer      string `json:"layer,omitempty"`      // image layer digest, when in an image
}

// Scrubbed is l with every text field scrubbed of plaintext (see
// keyformat.Scrub): of secrets, and of any standalone platform key. A
// location may spell a key (a file named after it, a key in a URL).
func (l Location) Scrubbed(secrets ...[]byte) Location {
	for _, f := range []*string{&l.URL, &l.Repository, &l.Commit, &l.Path, &l.Layer} {
		*f = keyformat.Scrub(*f, secrets...)
	}
	return l
}

// Hit is one sighting of a secret in public. It never carries the plaintext.
type Hit struct {
	SecretSHA256 string    `json:"secret_sha256"`
	Redacted     string    `json:"redacted"`
	Rule         string    `json:"rule"`
	Source       string    `json:"source"`
	Location     Location  `json:"location"`
	FoundAt      time.Time `json:"found_at"`
}

// Subject is the JetStream subject this hit is published on.
func (h Hit) Subject() string { return HitSubjectPrefix + h.Source }

// MsgID is the Nats-Msg-Id: the same secret seen at the same place by the
// same source is the same message, however often it is re-published.
func (h Hit) MsgID() string {
	s := sha256.New()
	for _, part := range []string{h.SecretSHA256, h.Source, h.Rule, h.Location.URL,
		h.Location.Repository, h.Location.Commit, h.Location.Path,
		strconv.Itoa(h.Location.Line), h.Location.Layer} {
		s.Write([]byte(part))
		s.Write([]byte{0})
	}
	return hex.EncodeToString(s.Sum(nil))
}

// Validate checks that a hit is usable: a SHA-256 fingerprint, a rule, a
// source and somewhere to point the owner at.
func (h Hit) Validate() error {
	if len(h.SecretSHA256) != 64 {
		return errors.New("hit: secret_sha256 must be 64 hex characters")
	}
	for _, c := range h.SecretSHA256 {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return errors.New("hit: secret_sha256 must be lowercase hex")
		}
	}
	if h.Rule == "" {
		return errors.New("hit: rule is empty")
	}
	if h.Source == "" {
		return errors.New("hit: source is empty")
	}
	for _, c := range h.Source {
		if c == '.' || c == '*' || c == '>' || c == ' ' {
			return fmt.Errorf("hit: source %q is not a subject token", h.Source)
		}
	}
	return nil
}

// HitPublisher puts hits on the bus. Implementations must be safe for
// concurrent use and return only after the bus acknowledged the hit.
type HitPublisher interface {
	PublishHit(ctx context.Context, hit Hit) error
}
