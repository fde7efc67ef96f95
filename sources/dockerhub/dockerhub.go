// Package dockerhub hunts leaks in public images on Docker Hub. Hub has no
// firehose, so it watches the namespaces it is given: each poll lists their
// repositories and the tags updated since the cursor (Hub API v2), then
// pulls each such tag through the Registry v2 API with an anonymous Bearer
// token: the manifest (an OCI index or Docker manifest list fans out to its
// platform manifests), the image config (Env, Cmd, Entrypoint, Labels and
// history[].created_by are scanned as text) and every layer, streamed
// through its decompressor (gzip, zstd or none) and tar into the scanner
// while its sha256 digest is checked. Hits of a blob are published only
// after its digest matched. Layers and configs are deduped by digest across
// tags and repositories.
//
// Cursor: a JSON object {"repos":{"<ns>/<repo>":"<RFC 3339 last_updated>"}}
// holding, per repository, the newest tag last_updated fully processed; a
// tag is pulled when its last_updated is after its repository's entry. At
// most 10 000 repositories are kept (the least recently updated go first).
//
// Location of a hit: URL the blob at the configured registry
// (<registry>/v2/<ns>/<repo>/blobs/<layer or config digest>), Repository "<ns>/<repo>:<tag>", Commit the image manifest digest (the
// platform's manifest, for a multi-platform tag), Layer the layer digest,
// Path the file inside the layer ("!" joins archive members nested in it)
// or config:Env, config:Cmd, config:Entrypoint, config:Labels,
// config:history[N].created_by for the image config, Line. The email adds
// the repository's page on hub.docker.com only when the registry is
// Docker Hub's own.
package dockerhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/sources"
	"github.com/leakguard/leakguard/sources/artifact"
)

// Defaults for a zero Config field.
const (
	DefaultHubURL           = "https://hub.docker.com/"
	DefaultRegistryURL      = "https://registry-1.docker.io/"
	DefaultAuthURL          = "https://auth.docker.io/token"
	DefaultPollInterval     = 10 * time.Minute
	DefaultMaxLayerBytes    = 2 << 30
	DefaultMaxUnpackedBytes = 8 << 30
	DefaultMaxTagsPerPoll   = 50
	DefaultMaxPlatforms     = 16
	DefaultRequestTimeout   = 30 * time.Second
	DefaultDownloadTimeout  = 30 * time.Minute

	maxConfigBytes   = 16 << 20
	maxLayers        = 256
	maxCursorRepos   = 10000
	maxHitsPerBlob   = 1000
	maxTagAttempts   = 5
	maxTrackedFailed = 10000
)

// Config of the Docker Hub source. Zero fields take the defaults above.
type Config struct {
	HubURL           string   // Hub API base (repositories and tags)
	RegistryURL      string   // Registry v2 base
	AuthURL          string   // token service, when the challenge names no realm
	Namespaces       []string // namespaces to watch
	PollInterval     time.Duration
	MaxLayerBytes    int64 // compressed layer cap; bigger layers are skipped with a warning
	MaxUnpackedBytes int64 // cap on one layer's unpacked tar stream
	MaxTagsPerPoll   int   // tags pulled per poll; the rest waits for the next one
	MaxPlatforms     int   // platform manifests followed per index
	RequestTimeout   time.Duration
	DownloadTimeout  time.Duration // per blob
}

func (c Config) withDefaults() Config {
	if c.HubURL == "" {
		c.HubURL = DefaultHubURL
	}
	if c.RegistryURL == "" {
		c.RegistryURL = DefaultRegistryURL
	}
	if c.AuthURL == "" {
		c.AuthURL = DefaultAuthURL
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxLayerBytes <= 0 {
		c.MaxLayerBytes = DefaultMaxLayerBytes
	}
	if c.MaxUnpackedBytes <= 0 {
		c.MaxUnpackedBytes = DefaultMaxUnpackedBytes
	}
	if c.MaxTagsPerPoll <= 0 {
		c.MaxTagsPerPoll = DefaultMaxTagsPerPoll
	}
	if c.MaxPlatforms <= 0 {
		c.MaxPlatforms = DefaultMaxPlatforms
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.DownloadTimeout <= 0 {
		c.DownloadTimeout = DefaultDownloadTimeout
	}
	return c
}

// Source is the Docker Hub leak hunter.
type Source struct {
	cfg    Config
	env    sources.Env
	client *http.Client
	log    *slog.Logger
	hub    *url.URL
	reg    *registry
	cfgErr error

	// failures counts failed polls per tag, so one broken image cannot
	// hold its repository back forever.
	failures *artifact.FailureCounter
}

// New builds the Docker Hub source. A bad URL is reported by Poll.
func New(cfg Config, env sources.Env) sources.Source {
	return newSource(cfg, env)
}

func newSource(cfg Config, env sources.Env) *Source {
	cfg = cfg.withDefaults()
	// Layers can take many minutes; per-request contexts bound each call.
	client := artifact.DownloadClient(env.HTTP)
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Source{cfg: cfg, env: env, client: client, log: log.With("source", leakguard.SourceDockerHub),
		failures: artifact.NewFailureCounter(maxTrackedFailed)}
	hub, err := url.Parse(strings.TrimRight(cfg.HubURL, "/") + "/")
	if err != nil || (hub.Scheme != "http" && hub.Scheme != "https") || hub.Host == "" {
		s.cfgErr = fmt.Errorf("dockerhub: Hub URL %q is not an http(s) URL", cfg.HubURL)
	}
	s.hub = hub
	if s.reg, err = newRegistry(cfg.RegistryURL, cfg.AuthURL, client, cfg.RequestTimeout); err != nil && s.cfgErr == nil {
		s.cfgErr = fmt.Errorf("dockerhub: %w", err)
	}
	return s
}

// Name is "dockerhub".
func (s *Source) Name() string { return leakguard.SourceDockerHub }

// PollInterval is the configured time between polls.
func (s *Source) PollInterval() time.Duration { return s.cfg.PollInterval }

// cursorState is the persisted cursor.
type cursorState struct {
	Repos map[string]time.Time `json:"repos"`
}

func parseCursor(c string) (cursorState, error) {
	st := cursorState{Repos: map[string]time.Time{}}
	if strings.TrimSpace(c) == "" {
		return st, nil
	}
	if err := json.Unmarshal([]byte(c), &st); err != nil {
		return st, fmt.Errorf("dockerhub: cursor is not the JSON this source writes: %w", err)
	}
	if st.Repos == nil {
		st.Repos = map[string]time.Time{}
	}
	return st, nil
}

// encode writes the cursor, keeping the maxCursorRepos most recently
// updated repositories.
func (st cursorState) encode() string {
	if len(st.Repos) > maxCursorRepos {
		keys := make([]string, 0, len(st.Repos))
		for k := range st.Repos {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return st.Repos[keys[i]].After(st.Repos[keys[j]]) })
		for _, k := range keys[maxCursorRepos:] {
			delete(st.Repos, k)
		}
	}
	b, _ := json.Marshal(st)
	return string(b)
}

// Poll pulls the tags updated since the cursor, at most MaxTagsPerPoll of
// them. The returned cursor is valid even with an error.
func (s *Source) Poll(ctx context.Context, cursor string) (sources.Batch, error) {
	if s.cfgErr != nil {
		return sources.Batch{}, s.cfgErr
	}
	st, err := parseCursor(cursor)
	if err != nil {
		return sources.Batch{}, err
	}
	if len(s.cfg.Namespaces) == 0 {
		s.log.Debug("dockerhub: no namespaces to watch (LEAKGUARD_DOCKERHUB_NAMESPACES)")
		return sources.Batch{}, nil
	}
	if err := s.reg.pullLimited(time.Now()); err != nil {
		return sources.Batch{}, fmt.Errorf("dockerhub: %w", err)
	}
	budget := s.cfg.MaxTagsPerPoll
	items := 0
	changed := false
	var firstErr error
	result := func(err error) (sources.Batch, error) {
		b := sources.Batch{Items: items}
		if changed {
			b.Cursor = st.encode()
		}
		return b, err
	}
	for _, ns := range s.cfg.Namespaces {
		if budget <= 0 {
			break
		}
		repos, err := s.listRepos(ctx, ns)
		if err != nil {
			if fatal(ctx, err) {
				return result(fmt.Errorf("dockerhub: %w", err))
			}
			s.log.Warn("dockerhub: cannot list namespace", "namespace", ns, "err", err)
			if !isPermanent(err) {
				firstErr = keepFirst(firstErr, err) // a missing namespace is no reason to back off
			}
			continue
		}
		for _, repo := range repos {
			if budget <= 0 {
				return result(firstErr)
			}
			key := ns + "/" + repo.Name
			since := st.Repos[key]
			if repo.LastUpdated != nil && !repo.LastUpdated.After(since) {
				continue
			}
			tags, err := s.listTags(ctx, ns, repo.Name, since)
			if err != nil {
				if fatal(ctx, err) {
					return result(fmt.Errorf("dockerhub: %w", err))
				}
				s.log.Warn("dockerhub: cannot list tags", "repository", key, "err", err)
				if !isPermanent(err) {
					firstErr = keepFirst(firstErr, err)
				}
				continue
			}
			// Tags with the same last_updated advance the cursor together.
			complete := true
			for i := 0; i < len(tags); {
				if budget <= 0 {
					complete = false
					break
				}
				j := i
				for j < len(tags) && tags[j].LastUpdated.Equal(tags[i].LastUpdated) {
					j++
				}
				var groupErr error
				for _, tag := range tags[i:j] {
					err := s.processTag(ctx, ns, repo.Name, tag)
					items++
					budget--
					if err != nil {
						groupErr = err
						break
					}
				}
				if groupErr != nil {
					if fatal(ctx, groupErr) {
						return result(fmt.Errorf("dockerhub: %s: %w", key, groupErr))
					}
					s.log.Warn("dockerhub: tag failed; retried next poll", "repository", key, "err", groupErr)
					firstErr = keepFirst(firstErr, groupErr)
					complete = false
					break
				}
				st.Repos[key] = tags[i].LastUpdated
				changed = true
				i = j
			}
			// Every tag up to the repository's own last_updated is done: a
			// change that touched no tag (a new description) is not
			// listed again.
			if complete && repo.LastUpdated != nil && repo.LastUpdated.After(st.Repos[key]) {
				st.Repos[key] = *repo.LastUpdated
				changed = true
			}
		}
	}
	return result(firstErr)
}

// fatal reports errors that end the whole poll: a rate limit (the next
// request would be refused too) or the end of ctx.
func fatal(ctx context.Context, err error) bool {
	var rl *httpx.RateLimitedError
	return errors.As(err, &rl) || ctx.Err() != nil
}

// keepFirst returns first, or err (wrapped) when there is none yet.
func keepFirst(first, err error) error {
	if first != nil {
		return first
	}
	return fmt.Errorf("dockerhub: %w", err)
}

// processTag pulls one tag. A nil error means it needs no more work.
func (s *Source) processTag(ctx context.Context, ns, repo string, tag hubTag) error {
	err := s.pullTag(ctx, ns, repo, tag)
	// A bus outage is not the tag's fault: never give up on it for that,
	// or its hits would be lost.
	if err == nil || fatal(ctx, err) || errors.Is(err, sources.ErrPublish) {
		return err
	}
	if isPermanent(err) {
		s.log.Warn("dockerhub: skipping tag", "repository", ns+"/"+repo, "tag", tag.Name, "err", err)
		return nil
	}
	key := ns + "/" + repo + ":" + tag.Name + "@" + tag.Digest
	if s.failures.Inc(key) >= maxTagAttempts {
		s.failures.Forget(key)
		s.log.Error("dockerhub: giving up on a tag after repeated failures", "repository", ns+"/"+repo, "tag", tag.Name, "attempts", maxTagAttempts, "err", err)
		return nil
	}
	return err
}

// pullTag reads the tag's manifest and scans every platform image in it.
func (s *Source) pullTag(ctx context.Context, ns, repo string, tag hubTag) error {
	repoPath := ns + "/" + repo
	ref := tag.Name
	if validDigest(tag.Digest) {
		ref = tag.Digest
		// An image already scanned under another tag or repository costs
		// no pull: its config and layers are deduped anyway.
		if sources.SeenHas(s.env.Seen, "dockerhub:manifest:"+tag.Digest) {
			s.log.Debug("dockerhub: image already scanned", "repository", repoPath, "tag", tag.Name, "digest", tag.Digest)
			return nil
		}
	}
	mt, body, digest, err := s.reg.manifest(ctx, repoPath, ref)
	if err != nil {
		return err
	}
	if err := s.pullManifest(ctx, ns, repo, tag, mt, body, digest); err != nil {
		return err
	}
	s.markSeen(ctx, "dockerhub:manifest:"+digest)
	return nil
}

// pullManifest scans the image, or each platform image of an index.
func (s *Source) pullManifest(ctx context.Context, ns, repo string, tag hubTag, mt string, body []byte, digest string) error {
	repoPath := ns + "/" + repo
	img := imageRef{registry: s.reg.base.String(), ns: ns, repo: repo, tag: tag.Name}
	m, err := parseManifest(mt, body)
	if err != nil {
		return permanent(fmt.Errorf("manifest %s@%s: %w", repoPath, digest, err))
	}
	if !m.isIndex() {
		img.digest = digest
		return s.scanImage(ctx, img, m)
	}
	followed := 0
	for _, d := range m.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue // provenance, not an image; fetching it would cost a pull
		}
		if !validDigest(d.Digest) {
			s.log.Warn("dockerhub: skipping platform with an unsupported digest", "repository", repoPath, "tag", tag.Name, "digest", d.Digest)
			continue
		}
		if followed >= s.cfg.MaxPlatforms {
			s.log.Warn("dockerhub: too many platforms; scanning the first ones", "repository", repoPath, "tag", tag.Name, "followed", followed)
			break
		}
		followed++
		cmt, cbody, cdigest, err := s.reg.manifest(ctx, repoPath, d.Digest)
		if err != nil {
			return err
		}
		child, err := parseManifest(cmt, cbody)
		if err != nil || child.isIndex() {
			if err == nil {
				err = errors.New("nested index")
			}
			s.log.Warn("dockerhub: skipping platform manifest", "repository", repoPath, "tag", tag.Name, "digest", cdigest, "err", err)
			continue
		}
		pimg := img
		pimg.digest = cdigest
		if err := s.scanImage(ctx, pimg, child); err != nil {
			return err
		}
	}
	return nil
}

// imageRef names one image for locations.
type imageRef struct {
	registry      string // registry base URL, ending in "/"
	ns, repo, tag string
	digest        string // image manifest digest
}

// location names blob (a layer or the config) of the image at the
// registry it was pulled from.
func (i imageRef) location(blob string) leakguard.Location {
	return leakguard.Location{
		URL:        httpx.RedactURL(i.registry + "v2/" + i.ns + "/" + i.repo + "/blobs/" + blob),
		Repository: i.ns + "/" + i.repo + ":" + i.tag,
		Commit:     i.digest,
	}
}

// descriptor is an OCI content descriptor.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	URLs        []string          `json:"urls"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

// manifest is an OCI/Docker image manifest or index.
type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        *descriptor  `json:"config"`
	Layers        []descriptor `json:"layers"`
	Manifests     []descriptor `json:"manifests"`
}

func (m manifest) isIndex() bool {
	return m.MediaType == mediaOCIIndex || m.MediaType == mediaDockerList
}

// parseManifest decodes a manifest; the Content-Type wins, then the
// document's own mediaType, then its shape.
func parseManifest(contentType string, body []byte) (manifest, error) {
	var m manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return m, fmt.Errorf("decode: %w", err)
	}
	if m.SchemaVersion != 2 {
		return m, fmt.Errorf("schemaVersion %d is not supported", m.SchemaVersion)
	}
	switch contentType {
	case mediaOCIIndex, mediaDockerList, mediaOCIManifest, mediaDockerManifest:
		m.MediaType = contentType
	}
	switch m.MediaType {
	case mediaOCIIndex, mediaDockerList, mediaOCIManifest, mediaDockerManifest:
	case "":
		if m.Manifests != nil {
			m.MediaType = mediaOCIIndex
		} else {
			m.MediaType = mediaOCIManifest
		}
	default:
		return m, fmt.Errorf("media type %q is not an image manifest or index", m.MediaType)
	}
	if !m.isIndex() && (m.Config == nil || !validDigest(m.Config.Digest)) {
		return m, errors.New("image manifest without a valid config descriptor")
	}
	return m, nil
}
