package keystore

import (
	"crypto/rand"
	"time"

	"github.com/leakguard/leakguard/keyformat"
)

// NewID returns prefix + "_" + 8 base62 characters of milliseconds since the
// epoch + 12 random base62 characters. IDs of one prefix sort by creation
// time, so lists page with "id < starting_after" and no extra lookup.
func NewID(prefix string, now time.Time) string {
	const tsLen, randLen = 8, 12
	b := make([]byte, 0, len(prefix)+1+tsLen+randLen)
	b = append(b, prefix...)
	b = append(b, '_')
	ms := uint64(now.UnixMilli())
	var ts [tsLen]byte
	for i := tsLen - 1; i >= 0; i-- {
		ts[i] = keyformat.Base62Alphabet[ms%62]
		ms /= 62
	}
	b = append(b, ts[:]...)
	var r [randLen]byte
	_, _ = rand.Read(r[:])
	for _, c := range r {
		// 62*4 = 248: reject the top 8 values to avoid modulo bias.
		for c >= 248 {
			var one [1]byte
			_, _ = rand.Read(one[:])
			c = one[0]
		}
		b = append(b, keyformat.Base62Alphabet[c%62])
	}
	return string(b)
}
