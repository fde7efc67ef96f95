package sources_test

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

// A key that a source finds encoded (base64 in a gist, \u-escaped in a
// package, UTF-16 in a Docker layer) becomes the same hit as a plain one:
// the revoker sees the key's own SHA-256 and rule, so it revokes it.
func TestEncodedKeyInItemIsAHit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kit := sourcetest.NewKit(t, "gists", nil)
	k, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	want := keyformat.Fingerprint([]byte(k))
	gist := "apiVersion: v1\nkind: Secret\ndata:\n  token: " + base64.StdEncoding.EncodeToString([]byte(k)) + "\n"

	it := sources.NewItem(kit.Env, "gists")
	it.Scan("secret.yaml", []byte(gist), func(f scanner.Finding) leakguard.Location {
		return leakguard.Location{URL: "https://gist.github.com/u/1", Path: "secret.yaml"}
	})
	if err := it.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	// (A rule for Secret manifests may report the encoded value too.)
	var found []string
	for _, h := range kit.Pub.Hits() {
		if h.Rule != keyformat.RuleSecretKey {
			continue
		}
		found = append(found, h.SecretSHA256)
		if h.SecretSHA256 != want || h.Location.Line != 4 || h.Redacted != keyformat.RedactKey([]byte(k)) {
			t.Fatalf("hit %+v, want the key's SHA-256 and redaction at line 4", h)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s hits, want 1: %+v", len(found), keyformat.RuleSecretKey, kit.Pub.Hits())
	}
}
