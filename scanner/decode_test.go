package scanner

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/leakguard/leakguard/keyformat"
)

// jsEscape writes every '_' of s as \u005f, as a minifier or a JSON encoder
// with ASCII-only output may.
func jsEscape(s, esc string) string { return strings.ReplaceAll(s, "_", esc) }

func utf16Bytes(s string, bigEndian, bom bool) []byte {
	var b []byte
	u := utf16.Encode([]rune(s))
	if bom {
		u = append([]uint16{0xfeff}, u...)
	}
	for _, c := range u {
		if bigEndian {
			b = append(b, byte(c>>8), byte(c))
		} else {
			b = append(b, byte(c), byte(c>>8))
		}
	}
	return b
}

func TestEncodedPlatformKeys(t *testing.T) {
	key := newKey(t, keyformat.Secret, keyformat.Live)
	rk := newKey(t, keyformat.Restricted, keyformat.Test)
	b64 := base64.StdEncoding.EncodeToString
	cases := []struct {
		name string
		data []byte
		line int
		sec  string
	}{
		{"kubernetes secret", []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\ndata:\n  key: " + b64([]byte(key)) + "\n"), 6, key},
		{"curl basic auth header", []byte("# from curl -u KEY:\ncurl https://api.example.com/v1/account \\\n  -H 'Authorization: Basic " + b64([]byte(key+":")) + "'\n"), 3, key},
		{"unpadded url-safe base64", []byte("token=" + base64.RawURLEncoding.EncodeToString([]byte("?>?"+key+"?>?")) + "\n"), 1, key},
		{"javascript \\u005f", []byte("const a = 1;\nconst k = \"" + jsEscape(key, `\u005f`) + "\";\n"), 2, key},
		{"\\x5f escapes", []byte("k = '" + jsEscape(rk, `\x5f`) + "'\n"), 1, rk},
		{"percent-encoded", []byte("GET /hook?x=1&key=" + url.QueryEscape(jsEscape(key, "%5F")) + " HTTP/1.1\n"), 1, key},
		{"base64 of a .env file", []byte("blob: " + b64([]byte("A=1\nB=two\nAPI_KEY="+key+"\nC=3\n")) + "\n"), 1, key},
		{"base64 inside percent-encoding", []byte("u=" + url.QueryEscape(b64([]byte("key="+key))) + "\n"), 1, key},
		{"base64 of base64 of base64", []byte("x: " + b64([]byte(b64([]byte(b64([]byte(key))))))), 1, key},
		{"utf-16le with bom", utf16Bytes("line one\r\nkey = "+key+"\r\n", false, true), 2, key},
		{"utf-16le without bom", utf16Bytes("line one\nline two\nkey = "+key+"\n", false, false), 3, key},
		{"utf-16be with bom", utf16Bytes("key = "+key+"\n", true, true), 1, key},
	}
	e := mustNew(t, Options{RuleIDs: []string{"platform"}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for way, got := range scanAllWays(t, e, "f.txt", c.data) {
				if len(got) != 1 {
					t.Fatalf("%s: got %d findings, want 1:%s", way, len(got), describe(got))
				}
				f := got[0]
				if string(f.Secret) != c.sec || f.SecretSHA256 != sha(c.sec) || f.Line != c.line {
					t.Fatalf("%s: got %s line %d, want line %d", way, f.Redacted, f.Line, c.line)
				}
				if f.Redacted != keyformat.RedactKey([]byte(c.sec)) {
					t.Fatalf("%s: redacted %q", way, f.Redacted)
				}
			}
		})
	}
	t.Run("no decoders", func(t *testing.T) {
		off := mustNew(t, Options{RuleIDs: []string{"platform"}, NoDecode: true})
		for _, c := range cases {
			if got := collectBytes(off, "f", c.data); len(got) != 0 {
				t.Errorf("%s: NoDecode still found %s", c.name, describe(got))
			}
		}
	})
}

func TestEncodedThirdPartyRule(t *testing.T) {
	// AWS key ids have no checksum: a generated one stands for a real one.
	id := "AKIA" + "2K7Q4M6W5XJ3HPLR"
	data := []byte("aws:\n  creds: " + base64.StdEncoding.EncodeToString([]byte("aws_access_key_id = "+id+"\n")) + "\n")
	e := mustNew(t, Options{})
	got := collectBytes(e, "values.yaml", data)
	if len(got) != 1 || got[0].RuleID != "aws-access-key-id" || string(got[0].Secret) != id || got[0].Line != 2 {
		t.Fatalf("got %s", describe(got))
	}
}

// A key deeper than maxDecodeDepth encodings is not looked for: the cost
// of a scan stays bounded whatever the input.
func TestDecodeDepthIsBounded(t *testing.T) {
	key := newKey(t, keyformat.Secret, keyformat.Test)
	s := key
	for range maxDecodeDepth + 1 {
		s = base64.StdEncoding.EncodeToString([]byte(s))
	}
	e := mustNew(t, Options{RuleIDs: []string{"platform"}})
	if got := collectBytes(e, "f", []byte(s)); len(got) != 0 {
		t.Fatalf("found a key %d encodings deep: %s", maxDecodeDepth+1, describe(got))
	}
}

// A long base64 line is decoded in overlapping pieces that every chunk
// layout cuts at the same places: each key in it is found once.
func TestLongBase64Run(t *testing.T) {
	var plain bytes.Buffer
	var keys []string
	for i := range 40 {
		k := newKey(t, keyformat.Secret, keyformat.Live)
		keys = append(keys, k)
		fmt.Fprintf(&plain, "%s line %d key=%s ", strings.Repeat("lorem ipsum ", i%7*9), i, k)
	}
	data := []byte("payload: " + base64.StdEncoding.EncodeToString(plain.Bytes()) + "\nnext\n")
	e := mustNew(t, Options{RuleIDs: []string{"platform"}})
	for way, got := range scanAllWays(t, e, "f", data) {
		seen := map[string]int{}
		for _, f := range got {
			seen[string(f.Secret)]++
			if f.Line != 1 {
				t.Errorf("%s: line %d", way, f.Line)
			}
		}
		for _, k := range keys {
			if seen[k] != 1 {
				t.Errorf("%s: key %s found %d times", way, keyformat.RedactKey([]byte(k)), seen[k])
			}
		}
		if len(got) != len(keys) {
			t.Errorf("%s: %d findings, want %d", way, len(got), len(keys))
		}
	}
}

// Ordinary text with base64-looking words, binary base64 (images) and
// URL escapes yields nothing, and a plain key is reported once even when
// an escape span holds it.
func TestDecodersNoNoise(t *testing.T) {
	key := newKey(t, keyformat.Secret, keyformat.Live)
	img := make([]byte, 3000)
	for i := range img {
		img[i] = byte(i * 7)
	}
	data := []byte("see https://example.com/a%20b/c?q=hello%2Fworld\n" +
		"var someVeryLongIdentifierNameHereAndMore = 1\n" +
		"png: data:image/png;base64," + base64.StdEncoding.EncodeToString(img) + "\n" +
		"path /usr/local/lib/python3/site-packages/something\n" +
		"k = \"" + key + "\\u0020and more\"\n")
	e := mustNew(t, Options{})
	got := collectBytes(e, "f", data)
	if len(got) != 1 || string(got[0].Secret) != key || got[0].Line != 5 {
		t.Fatalf("got %s", describe(got))
	}
}
