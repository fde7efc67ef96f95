// Package partner is GitHub's secret scanning partner endpoint
// (POST /v1/secret-scanning/github, docs/api.md). GitHub posts a JSON array
// of tokens it found in public, signed with ECDSA (P-256, SHA-256) over the
// raw body: Github-Public-Key-Identifier names the key among those GitHub
// publishes, Github-Public-Key-Signature is the base64 ASN.1 DER signature.
// Each token that is one of the platform's keys is fed into the revoke
// pipeline as a hit; the answer labels every token true_positive (a key
// that existed) or false_positive, by SHA-256 hash, never echoing a token.
//
// GitHub's keys are loaded by Run at start and refreshed in the background;
// an unknown key id waits for a fresh fetch (rate-bounded, shared, on a
// context of its own), and an alert that cannot be verified for lack of
// keys is answered 503 so GitHub retries (docs/api.md).
package partner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// DefaultKeysURL is where GitHub publishes its secret scanning keys.
const DefaultKeysURL = "https://api.github.com/meta/public_keys/secret_scanning"

// Path is where the handler is mounted.
const Path = "/v1/secret-scanning/github"

// Labels of the answer.
const (
	TruePositive  = "true_positive"
	FalsePositive = "false_positive"
)

// Config configures the endpoint.
type Config struct {
	// KeysURL is GitHub's public keys document
	// (LEAKGUARD_GITHUB_SCANNING_KEYS_URL); default DefaultKeysURL.
	KeysURL string
	// HTTP fetches the keys; nil means a client with a 15s timeout.
	HTTP *http.Client
	// Token, when set, authenticates the keys fetch (a higher rate limit).
	Token string
	// MinRefetch is the least time between the starts of two fetches of
	// the keys document (an unknown key id asks for one). Default 5s, so a
	// newly published key is accepted within about 5s of its first use.
	MinRefetch time.Duration
	// MaxWait bounds how long a request with an unknown key id waits for
	// a fresh copy of the document before it is answered 503. Default 10s.
	MaxWait time.Duration
	// Refresh is the period of the background refresh. Default 10 minutes.
	Refresh time.Duration
	// FetchTimeout bounds one fetch of the document. Default 15s.
	FetchTimeout time.Duration
	// MaxBody bounds a request body. Default 1 MiB.
	MaxBody int64
	// MaxTokens bounds the tokens of one request. Default 1000.
	MaxTokens int
}

// Match is one token GitHub reports.
type Match struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

// Label is the answer for one token.
type Label struct {
	TokenHash string `json:"token_hash"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

// Handler serves the partner endpoint.
type Handler struct {
	cfg   Config
	keys  *keyring
	store KeyFinder
	pub   leakguard.HitPublisher
	log   *slog.Logger
	stop  context.CancelFunc
}

// KeyFinder is what the endpoint needs of the key store: whether a
// reported token is a key that exists.
type KeyFinder interface {
	KeyByHash(ctx context.Context, hash string) (keystore.Key, error)
}

// NewHandler builds the endpoint.
func NewHandler(cfg Config, store KeyFinder, pub leakguard.HitPublisher, logger *slog.Logger) *Handler {
	if cfg.KeysURL == "" {
		cfg.KeysURL = DefaultKeysURL
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.MinRefetch <= 0 {
		cfg.MinRefetch = 5 * time.Second
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 10 * time.Second
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 10 * time.Minute
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = 15 * time.Second
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = 1000
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "github-secret-scanning")
	// Fetches run on a context of their own: no request can cancel one.
	base, cancel := context.WithCancel(context.Background())
	return &Handler{cfg: cfg, store: store, pub: pub, log: log, stop: cancel,
		keys: &keyring{url: cfg.KeysURL, token: cfg.Token, http: cfg.HTTP, minGap: cfg.MinRefetch,
			maxWait: cfg.MaxWait, timeout: cfg.FetchTimeout, base: base, log: log}}
}

// Run loads GitHub's keys now and refreshes them every Config.Refresh
// until ctx ends, then stops any fetch under way. Without Run the keys are
// fetched when the first alert needs them.
func (h *Handler) Run(ctx context.Context) {
	defer h.stop()
	h.keys.refreshLoop(ctx, h.cfg.Refresh)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "invalid_request",
				fmt.Sprintf("request body exceeds %d bytes", h.cfg.MaxBody))
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_request", "could not read the request body")
		return
	}
	err = h.keys.Verify(r.Context(), r.Header.Get("Github-Public-Key-Identifier"), r.Header.Get("Github-Public-Key-Signature"), body)
	switch {
	case errors.Is(err, ErrKeysUnavailable):
		// Not the sender's fault: GitHub retries a 5xx, never a 401.
		h.log.Error("cannot verify a secret scanning report", "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(h.cfg.MinRefetch.Seconds()))))
		writeError(w, http.StatusServiceUnavailable, "unavailable", "GitHub's signing keys could not be fetched; retry later")
		return
	case err != nil:
		h.log.Warn("rejected a secret scanning report", "err", err, "remote", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, "invalid_signature", err.Error())
		return
	}
	var matches []Match
	if err := json.Unmarshal(body, &matches); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "body must be a JSON array of {token, type, url, source}")
		return
	}
	if len(matches) > h.cfg.MaxTokens {
		writeError(w, http.StatusRequestEntityTooLarge, "invalid_request",
			fmt.Sprintf("at most %d tokens per request", h.cfg.MaxTokens))
		return
	}
	labels, err := h.Report(r.Context(), matches)
	if err != nil {
		// GitHub retries a failed delivery; every effect is idempotent.
		h.log.Error("handle secret scanning report", "err", err, "tokens", len(matches))
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the report could not be processed; retry later")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(labels)
}

// Report labels each match and publishes a hit for each key that exists.
// It returns an error (and the caller answers 503, so GitHub retries) when
// the store or the bus fails; labels are in the order of matches.
func (h *Handler) Report(ctx context.Context, matches []Match) ([]Label, error) {
	labels := make([]Label, 0, len(matches))
	published := map[string]bool{}
	now := time.Now().UTC()
	for _, m := range matches {
		tok := []byte(m.Token)
		// Never let a URL that spells the token carry it further.
		m.URL = keyformat.Scrub(m.URL, tok)
		sum := sha256.Sum256(tok)
		hash := hex.EncodeToString(sum[:])
		l := Label{TokenHash: hash, TokenType: m.Type, Label: FalsePositive}
		info, err := keyformat.ParseKey(tok)
		if err == nil {
			_, err := h.store.KeyByHash(ctx, hash)
			switch {
			case err == nil:
				l.Label = TruePositive
			case errors.Is(err, keystore.ErrNotFound):
			default:
				return nil, fmt.Errorf("look up reported key %s: %w", keyformat.RedactKey(tok), err)
			}
			if l.Label == TruePositive {
				hit := leakguard.Hit{
					SecretSHA256: hash,
					Redacted:     keyformat.RedactKey(tok),
					Rule:         info.Type.RuleID(),
					Source:       leakguard.SourceGitHubScanning,
					Location:     locationOf(m.URL),
					FoundAt:      now,
				}
				if id := hit.MsgID(); !published[id] {
					if err := h.pub.PublishHit(ctx, hit); err != nil {
						return nil, fmt.Errorf("publish reported key %s: %w", hit.Redacted, err)
					}
					published[id] = true
				}
			}
		}
		h.log.Info("secret scanning report", "hash", hash, "type", m.Type, "label", l.Label, "url", m.URL, "where", m.Source)
		labels = append(labels, l)
	}
	return labels, nil
}

// locationOf reads a GitHub blob URL
// (https://host/owner/repo/blob/sha/path#L12) into a location; any other URL
// is kept as it is.
func locationOf(raw string) leakguard.Location {
	loc := leakguard.Location{URL: raw}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return loc
	}
	parts := strings.SplitN(strings.TrimPrefix(u.Path, "/"), "/", 5)
	if len(parts) == 5 && parts[2] == "blob" && parts[0] != "" && parts[1] != "" {
		loc.Repository = parts[0] + "/" + parts[1]
		loc.Commit = parts[3]
		loc.Path = parts[4]
		if n, err := strconv.Atoi(strings.TrimPrefix(strings.SplitN(u.Fragment, "-", 2)[0], "L")); err == nil && n > 0 {
			loc.Line = n
		}
	}
	return loc
}
