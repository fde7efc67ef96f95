package partner

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/httpx"
)

// Errors of signature verification. None carries the payload.
var (
	ErrMissingSignature = errors.New("missing Github-Public-Key-Identifier or Github-Public-Key-Signature header")
	ErrUnknownKey       = errors.New("unknown public key identifier")
	ErrBadSignature     = errors.New("signature does not verify")
	ErrKeysUnavailable  = errors.New("GitHub's public keys are unavailable")
)

// publicKeys is GET /meta/public_keys/secret_scanning.
type publicKeys struct {
	PublicKeys []struct {
		KeyIdentifier string `json:"key_identifier"`
		Key           string `json:"key"`
		IsCurrent     bool   `json:"is_current"`
	} `json:"public_keys"`
}

// keyring caches GitHub's signing keys by identifier and refetches the
// document when an unknown identifier arrives, at most once per minGap, so
// a flood of made-up identifiers cannot hammer GitHub.
type keyring struct {
	url    string
	token  string
	http   *http.Client
	minGap time.Duration

	mu   sync.RWMutex // guards keys
	keys map[string]*ecdsa.PublicKey

	fetchMu   sync.Mutex // one fetch at a time; guards lastFetch
	lastFetch time.Time
}

// Verify checks sig (base64 ASN.1 DER ECDSA over SHA-256 of body) against
// the key named keyID.
func (k *keyring) Verify(ctx context.Context, keyID, sig string, body []byte) error {
	keyID, sig = strings.TrimSpace(keyID), strings.TrimSpace(sig)
	if keyID == "" || sig == "" {
		return ErrMissingSignature
	}
	der, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64", ErrBadSignature)
	}
	pub, err := k.key(ctx, keyID)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(pub, sum[:], der) {
		return ErrBadSignature
	}
	return nil
}

func (k *keyring) cached(id string) (*ecdsa.PublicKey, bool, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	pub, ok := k.keys[id]
	return pub, ok, k.keys != nil
}

func (k *keyring) key(ctx context.Context, id string) (*ecdsa.PublicKey, error) {
	if pub, ok, _ := k.cached(id); ok {
		return pub, nil
	}
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	// Another request may have fetched while this one waited.
	pub, ok, loaded := k.cached(id)
	if ok {
		return pub, nil
	}
	gap := k.minGap
	if !loaded {
		// Nothing to verify with yet: retry an outage sooner.
		gap = min(gap, 5*time.Second)
	}
	if !k.lastFetch.IsZero() && time.Since(k.lastFetch) < gap {
		if !loaded {
			return nil, ErrKeysUnavailable
		}
		return nil, ErrUnknownKey
	}
	k.lastFetch = time.Now()
	keys, err := k.fetch(ctx)
	if err != nil {
		if !loaded {
			return nil, fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
		}
		return nil, ErrUnknownKey
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	if pub, ok := keys[id]; ok {
		return pub, nil
	}
	return nil, ErrUnknownKey
}

func (k *keyring) fetch(ctx context.Context) (map[string]*ecdsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	h := http.Header{"Accept": {"application/vnd.github+json"}}
	if k.token != "" {
		h.Set("Authorization", "Bearer "+k.token)
	}
	data, _, err := httpx.Get(ctx, k.http, k.url, h, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("fetch secret scanning keys: %w", err)
	}
	return ParsePublicKeys(data)
}

// ParsePublicKeys reads GitHub's public keys document ({"public_keys":
// [{"key_identifier", "key" (PEM), "is_current"}]}) into ECDSA keys by
// identifier. Keys that are not ECDSA are skipped; none at all is an error.
func ParsePublicKeys(data []byte) (map[string]*ecdsa.PublicKey, error) {
	var doc publicKeys
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse secret scanning keys: %w", err)
	}
	out := map[string]*ecdsa.PublicKey{}
	for _, pk := range doc.PublicKeys {
		block, _ := pem.Decode([]byte(pk.Key))
		if block == nil || pk.KeyIdentifier == "" {
			continue
		}
		parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			continue
		}
		if ec, ok := parsed.(*ecdsa.PublicKey); ok {
			out[pk.KeyIdentifier] = ec
		}
	}
	if len(out) == 0 {
		return nil, errors.New("parse secret scanning keys: no usable ECDSA key")
	}
	return out, nil
}
