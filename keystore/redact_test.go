package keystore_test

import (
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

func TestRedactKeyShaped(t *testing.T) {
	real, _ := keyformat.GenerateKey(keyformat.Restricted, keyformat.Live)
	look := "pk_test_" + strings.Repeat("x", 24)
	tests := []struct {
		in, want string
		shaped   bool
	}{
		{"/v1/api-keys/key_0VcrPkSrPEikRenfC3nf", "/v1/api-keys/key_0VcrPkSrPEikRenfC3nf", false},
		{"/v1/api-keys/" + real, "/v1/api-keys/rk_live_…" + real[42:], true},
		{"curl/8 (" + real + ") and " + look, "curl/8 (rk_live_…" + real[42:] + ") and pk_test_…xxxx", true},
		{"sk_live_short", "sk_live_short", false},
		{"sk_live_" + strings.Repeat("a", 19), "sk_live_" + strings.Repeat("a", 19), false},
		{"", "", false},
	}
	for _, tc := range tests {
		if got := keystore.RedactKeyShaped(tc.in); got != tc.want {
			t.Errorf("RedactKeyShaped(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := keystore.KeyShaped(tc.in); got != tc.shaped {
			t.Errorf("KeyShaped(%q) = %v", tc.in, got)
		}
	}
}
