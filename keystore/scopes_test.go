package keystore_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

func TestParseResources(t *testing.T) {
	got, err := keystore.ParseResources(" orders, customers,orders,,account ")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"account", "api_keys", "api_logs", "leaks", "orders", "customers"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"Orders", "9lives", "a-b", "x:y", string(make([]byte, 65))} {
		if _, err := keystore.ParseResources(bad); err == nil {
			t.Errorf("ParseResources(%q) accepted", bad)
		}
	}
}

func TestNormalizeScopes(t *testing.T) {
	res := []string{"account", "api_keys", "orders"}
	tests := []struct {
		in      []string
		want    []string
		wantErr bool
	}{
		{in: nil, want: []string{}},
		{in: []string{"orders:read"}, want: []string{"orders:read"}},
		{in: []string{"orders:read", "orders:write", "orders:read"}, want: []string{"orders:write"}},
		{in: []string{"orders:write", "api_keys:read"}, want: []string{"api_keys:read", "orders:write"}},
		{in: []string{"orders"}, wantErr: true},
		{in: []string{"orders:delete"}, wantErr: true},
		{in: []string{"refunds:read"}, wantErr: true},
		{in: []string{":read"}, wantErr: true},
		{in: []string{"orders:read:x"}, wantErr: true},
		{in: []string{""}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := keystore.NormalizeScopes(tt.in, res)
		if (err != nil) != tt.wantErr {
			t.Errorf("NormalizeScopes(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !slices.Equal(got, tt.want) {
			t.Errorf("NormalizeScopes(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHasScope(t *testing.T) {
	sk := &keystore.Key{Type: keyformat.Secret}
	rk := &keystore.Key{Type: keyformat.Restricted, Scopes: []string{"orders:write", "leaks:read"}}
	pk := &keystore.Key{Type: keyformat.Publishable}
	tests := []struct {
		k      *keystore.Key
		scope  string
		expect bool
	}{
		{sk, "", true},
		{sk, "api_keys:write", true},
		{sk, "anything:read", true},
		{sk, "garbage", false},
		{rk, "", true},
		{rk, "orders:read", true}, // write implies read
		{rk, "orders:write", true},
		{rk, "leaks:read", true},
		{rk, "leaks:write", false}, // read does not imply write
		{rk, "api_keys:read", false},
		{pk, "", true},
		{pk, "account:read", false},
		{pk, "api_keys:read", false},
	}
	for _, tt := range tests {
		if got := keystore.HasScope(tt.k, tt.scope); got != tt.expect {
			t.Errorf("HasScope(%s %v, %q) = %v, want %v", tt.k.Type, tt.k.Scopes, tt.scope, got, tt.expect)
		}
	}
}

func TestEffectiveScopes(t *testing.T) {
	res := []string{"account", "api_keys", "api_logs", "leaks", "orders"}
	got := keystore.EffectiveScopes(&keystore.Key{Type: keyformat.Secret}, res)
	// api_logs and leaks are read-only: no API call writes them.
	want := []string{"account:write", "api_keys:write", "api_logs:read", "leaks:read", "orders:write"}
	if !slices.Equal(got, want) {
		t.Errorf("secret: %v, want %v", got, want)
	}
	if got := keystore.EffectiveScopes(&keystore.Key{Type: keyformat.Publishable}, res); got == nil || len(got) != 0 {
		t.Errorf("publishable: %#v, want empty non-nil", got)
	}
	if got := keystore.EffectiveScopes(&keystore.Key{Type: keyformat.Restricted}, res); got == nil || len(got) != 0 {
		t.Errorf("restricted without scopes: %#v, want empty non-nil", got)
	}
}

func TestParseAllowedIPs(t *testing.T) {
	tests := []struct {
		in      []string
		want    []string
		wantErr bool
	}{
		{in: nil, want: nil},
		{in: []string{"203.0.113.7"}, want: []string{"203.0.113.7/32"}},
		{in: []string{"2001:db8::1"}, want: []string{"2001:db8::1/128"}},
		{in: []string{"10.1.2.3/8"}, want: []string{"10.0.0.0/8"}},
		{in: []string{"::ffff:10.0.0.1"}, want: []string{"10.0.0.1/32"}},
		{in: []string{"::ffff:10.0.0.0/104"}, want: []string{"10.0.0.0/8"}},
		{in: []string{"10.0.0.0/8", "10.0.0.0/8"}, want: []string{"10.0.0.0/8"}},
		{in: []string{"10.0.0.0/33"}, wantErr: true},
		{in: []string{"300.1.1.1"}, wantErr: true},
		{in: []string{"example.com"}, wantErr: true},
		{in: []string{""}, wantErr: true},
		{in: []string{"fe80::1%eth0"}, wantErr: true},
		{in: []string{"10.0.0.0/-1"}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := keystore.ParseAllowedIPs(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseAllowedIPs(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, keystore.ErrInvalidRequest) {
				t.Errorf("ParseAllowedIPs(%q) error %v is not ErrInvalidRequest", tt.in, err)
			}
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if !slices.Equal(s, tt.want) {
			t.Errorf("ParseAllowedIPs(%q) = %v, want %v", tt.in, s, tt.want)
		}
	}
	many := make([]string, keystore.MaxAllowedIPs+1)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()
	}
	if _, err := keystore.ParseAllowedIPs(many); err == nil {
		t.Error("more than MaxAllowedIPs accepted")
	}
}

// FuzzParseInput: allow-lists and scopes from users never crash, and what
// is accepted is canonical (parsing the output again gives the output).
//
//	go test -run '^$' -fuzz FuzzParseInput -fuzztime 20s ./keystore/
func FuzzParseInput(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "10.1.2.3/8", "::ffff:1.2.3.4/120", "2001:db8::/33", "orders:read", "a:write", ":", "x/y", "1.2.3.4/33"} {
		f.Add(s)
	}
	res := []string{"account", "orders", "a"}
	f.Fuzz(func(t *testing.T, s string) {
		if ps, err := keystore.ParseAllowedIPs([]string{s}); err == nil {
			var again []string
			for _, p := range ps {
				if p != p.Masked() {
					t.Fatalf("%q gave unmasked %s", s, p)
				}
				again = append(again, p.String())
			}
			ps2, err := keystore.ParseAllowedIPs(again)
			if err != nil || !slices.Equal(ps, ps2) {
				t.Fatalf("%q: %v then %v (%v)", s, ps, ps2, err)
			}
		}
		if sc, err := keystore.NormalizeScopes([]string{s}, res); err == nil {
			sc2, err := keystore.NormalizeScopes(sc, res)
			if err != nil || !slices.Equal(sc, sc2) || len(sc) != 1 {
				t.Fatalf("%q: %v then %v (%v)", s, sc, sc2, err)
			}
		}
	})
}

// api_logs and leaks are written by the platform only: their write scopes
// do not exist, for any key.
func TestReadOnlyResources(t *testing.T) {
	res := keystore.BuiltinResources()
	for _, s := range []string{"api_logs:write", "leaks:write"} {
		want := strings.Replace(s, ":write", ":read", 1)
		if got, err := keystore.NormalizeScopes([]string{s}, res); err != nil || !slices.Equal(got, []string{want}) {
			t.Errorf("NormalizeScopes(%s) = %v, %v; want [%s]", s, got, err, want)
		}
		if keystore.HasScope(&keystore.Key{Type: keyformat.Secret}, s) {
			t.Errorf("a secret key holds %s", s)
		}
	}
	if !keystore.HasScope(&keystore.Key{Type: keyformat.Secret}, "account:write") {
		t.Error("a secret key lacks account:write (webhook endpoints need it)")
	}
}
