package api

import (
	"encoding/json"
	"testing"

	"github.com/leakguard/leakguard/keystore"
)

func TestAppendAccountMatchesEncodingJSON(t *testing.T) {
	for _, email := range []string{"o@example.com", `"quoted"@example.com`, "ünï@exämple.com", "a\\b\n\t\x01<>&\u2028\u2029@x", "bad\xffutf8@x"} {
		p := &keystore.Principal{
			Key:     keystore.Key{ID: "key_1", Type: "restricted", Mode: "test"},
			Account: keystore.Account{ID: "acct_1", Email: email},
			Scopes:  []string{"orders:read", "leaks:write"},
		}
		want, err := json.Marshal(accountAnswer{ID: p.Account.ID, Email: email, Mode: "test", Key: keyBrief{ID: "key_1", Type: "restricted", Scopes: p.Scopes}})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendAccount(nil, p); string(got) != string(want) {
			t.Errorf("email %q:\n got %s\nwant %s", email, got, want)
		}
	}
	// A publishable key's answer has no email (the key is public; the
	// owner's address is not), and its scopes are an empty list.
	p := &keystore.Principal{Key: keystore.Key{ID: "k", Type: "publishable", Mode: "live"}, Account: keystore.Account{ID: "a", Email: "o@example.com"}, Scopes: []string{}}
	if got := string(appendAccount(nil, p)); got != `{"id":"a","mode":"live","key":{"id":"k","type":"publishable","scopes":[]}}` {
		t.Errorf("publishable key, empty scopes: %s", got)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote`, "back\\slash", "\x00\x1f\x7f", "\u2028", "\xff\xfe", "ü€😀", "<script>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}
