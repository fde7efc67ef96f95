package npm

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/leakguard/leakguard/internal/truncate"
)

// integrity is the one digest a tarball is checked against.
type integrity struct {
	algo string // sha512, sha384, sha256 or sha1
	sum  []byte
}

// algorithms in the order ssri prefers them (strongest first).
var algoRank = map[string]int{"sha512": 4, "sha384": 3, "sha256": 2, "sha1": 1}

func newHash(algo string) hash.Hash {
	switch algo {
	case "sha512":
		return sha512.New()
	case "sha384":
		return sha512.New384()
	case "sha256":
		return sha256.New()
	default:
		return sha1.New()
	}
}

// parseIntegrity reads dist.integrity (Subresource Integrity: one or more
// "algo-base64[?opts]" separated by whitespace, the strongest known one
// wins) and falls back to dist.shasum (sha1 hex) when integrity is absent.
func parseIntegrity(sri, shasum string) (integrity, error) {
	var best integrity
	for _, tok := range strings.Fields(sri) {
		algo, b64, ok := strings.Cut(tok, "-")
		if !ok {
			continue
		}
		algo = strings.ToLower(algo)
		rank := algoRank[algo]
		if rank == 0 || rank <= algoRank[best.algo] {
			continue
		}
		b64, _, _ = strings.Cut(b64, "?")
		sum, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(sum) != newHash(algo).Size() {
			continue
		}
		best = integrity{algo: algo, sum: sum}
	}
	if best.algo != "" {
		return best, nil
	}
	if sri != "" && shasum == "" {
		return integrity{}, fmt.Errorf("dist.integrity %q has no usable sha512/sha384/sha256/sha1 digest", truncate.String(sri, 100))
	}
	sum, err := hex.DecodeString(strings.TrimSpace(shasum))
	if err != nil || len(sum) != sha1.Size {
		if shasum == "" {
			return integrity{}, errors.New("no dist.integrity and no dist.shasum to check the tarball against")
		}
		return integrity{}, fmt.Errorf("dist.shasum %q is not 40 hex digits", truncate.String(shasum, 100))
	}
	return integrity{algo: "sha1", sum: sum}, nil
}

// String is the canonical SRI form, used as the dedupe id.
func (i integrity) String() string {
	return i.algo + "-" + base64.StdEncoding.EncodeToString(i.sum)
}

func (i integrity) matches(got []byte) bool {
	return subtle.ConstantTimeCompare(i.sum, got) == 1
}
