package dockerhub

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/sources/artifact"
)

// permanent marks a failure that retrying the same bytes cannot fix.
func permanent(err error) error { return artifact.Permanent(err) }

func isPermanent(err error) bool {
	return artifact.MarkedPermanent(err)
}

// classify marks HTTP answers that will not change on retry as permanent;
// rate limits, 5xx, 408 and network errors stay transient.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var rl *httpx.RateLimitedError
	if errors.As(err, &rl) {
		return err
	}
	code := httpx.HTTPStatus(err)
	if code != 0 && code != http.StatusRequestTimeout && code < 500 {
		return permanent(err)
	}
	return err
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// validDigest accepts sha256:<64 lowercase hex>, the only algorithm Docker
// Hub uses.
func validDigest(d string) bool {
	const p = "sha256:"
	if len(d) != len(p)+64 || d[:len(p)] != p {
		return false
	}
	for _, c := range d[len(p):] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
