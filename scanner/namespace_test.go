package scanner

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
)

// The platform's prefixes are its own (docs/formats.md): a platform prefix
// followed by 36 to 40 base62 characters that do not form a valid,
// standalone key is reported under no rule at all, while Stripe keys of
// Stripe's own lengths still are.

func b62(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = keyformat.Base62Alphabet[r.IntN(len(keyformat.Base62Alphabet))]
	}
	return string(b)
}

// lookAlikes returns every look-alike shape of a valid key of type t and
// mode m, named.
func lookAlikes(t *testing.T, r *rand.Rand, typ keyformat.KeyType, m keyformat.Mode) map[string]string {
	t.Helper()
	key := newKey(t, typ, m)
	prefix := key[:keyformat.KeyPrefixLen]
	broken := []byte(key)
	i := len(broken) - 1 // the last checksum character
	broken[i] = map[bool]byte{true: 'a', false: 'b'}[broken[i] != 'a']
	// A random body of 38 characters almost never carries a valid
	// checksum; make sure.
	random := prefix + b62(r, 38)
	for keyformat.ValidKey([]byte(random)) {
		random = prefix + b62(r, 38)
	}
	return map[string]string{
		"broken checksum":         string(broken),
		"cut last character":      key[:len(key)-1],
		"one extra character":     key + "Q",
		"two extra characters":    key + "x7",
		"glued to letters before": "xyz" + key,
		"glued to a digit before": "7" + key,
		"36 characters":           prefix + b62(r, 36),
		"37 characters":           prefix + b62(r, 37),
		"39 characters":           prefix + b62(r, 39),
		"40 characters":           prefix + b62(r, 40),
		"random 38":               random,
	}
}

func TestPlatformLookAlikesReportedUnderNoRule(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 34))
	eng := mustEngine(t, Options{IncludePublishable: true})
	for _, typ := range []keyformat.KeyType{keyformat.Secret, keyformat.Restricted, keyformat.Publishable} {
		for _, m := range []keyformat.Mode{keyformat.Live, keyformat.Test} {
			for name, la := range lookAlikes(t, r, typ, m) {
				// In the contexts a Stripe or a generic rule looks at.
				for _, tmpl := range []string{
					"{}",
					"STRIPE_SECRET_KEY={}\n",
					`stripe.api_key = "{}"`,
					`{"api_key": "{}"}`,
					"Authorization: Bearer {}\n",
					"curl -u {}: https://api.example.net/v1/charges\n",
					"postgres://app:{}@db.internal/app\n",
				} {
					text := strings.ReplaceAll(tmpl, "{}", la)
					var got []string
					eng.ScanBytes("app.env", []byte(text), func(f Finding) { got = append(got, f.RuleID) })
					if len(got) != 0 {
						t.Errorf("%s %s %s in %q: reported as %v, want no finding", typ, m, name, text, got)
					}
				}
			}
		}
	}
}

func TestStripeKeysOfStripesLengthsStillReported(t *testing.T) {
	r := rand.New(rand.NewPCG(56, 78))
	eng := mustEngine(t, Options{})
	for _, tc := range []struct{ key, rule string }{
		{"sk_live_" + b62(r, 24), "stripe-secret-key"},
		{"sk_live_51" + b62(r, 97), "stripe-secret-key"},
		{"rk_live_" + b62(r, 24), "stripe-restricted-key"},
		{"rk_live_51" + b62(r, 97), "stripe-restricted-key"},
		{"sk_test_" + b62(r, 24), "stripe-secret-key"},
		{"sk_test_51" + b62(r, 97), "stripe-secret-key"},
		{"rk_test_51" + b62(r, 97), "stripe-restricted-key"},
	} {
		var got []Finding
		eng.ScanBytes("app.env", []byte("STRIPE_KEY="+tc.key+"\n"), func(f Finding) { got = append(got, f) })
		if len(got) != 1 || got[0].RuleID != tc.rule || got[0].SecretSHA256 != keyformat.Fingerprint([]byte(tc.key)) {
			t.Errorf("%s…: got %v, want one %s finding", tc.key[:10], got, tc.rule)
		}
	}
}

// A valid platform key is still reported as the platform's, and only as
// that, next to look-alikes.
func TestValidKeyNextToLookAlikes(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	eng := mustEngine(t, Options{})
	key := newKey(t, keyformat.Secret, keyformat.Live)
	text := "a=" + key + "\nb=" + lookAlikes(t, r, keyformat.Secret, keyformat.Live)["broken checksum"] + "\nc=" + key + "\n"
	var got []Finding
	eng.ScanBytes("app.env", []byte(text), func(f Finding) { got = append(got, f) })
	if len(got) != 2 || got[0].RuleID != keyformat.RuleSecretKey || got[1].RuleID != keyformat.RuleSecretKey || got[0].Line != 1 || got[1].Line != 3 {
		t.Fatalf("got %+v, want the valid key on lines 1 and 3 only", got)
	}
}
