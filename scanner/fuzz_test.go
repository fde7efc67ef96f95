package scanner

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/leakguard/leakguard/keyformat"
)

// FuzzScanReader feeds arbitrary bytes, seeded with archives of every kind,
// through ScanStream: it must never panic or hang, and everything it
// reports must be a real platform key or a rule's match.
func FuzzScanReader(f *testing.F) {
	sk, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	text := []byte("a=1\nSECRET=" + sk + "\n")
	inner := mkZip(f, false, member{"k.env", text})
	for _, seed := range [][]byte{
		text,
		inner,
		mkZip(f, true, member{"a/b.txt", text}, member{"c.zip", inner}),
		mkTar(f, member{"x", text}, member{"y.zip", inner}),
		mkGzip(f, mkTar(f, member{"x", text})),
		mkGzip(f, text),
		mkZstd(f, mkTar(f, member{"x", text})),
		mkZstd(f, text),
		{0x1f, 0x8b, 8},
		[]byte("PK\x03\x04"),
		[]byte("k: " + base64.StdEncoding.EncodeToString(text) + "\n"),
		[]byte(`s = "sk\u005flive\x5f%5F\ud83d\ude00\u00"`),
		utf16Bytes(string(text), false, true),
	} {
		f.Add(seed)
	}
	e, err := New(Options{Limits: Limits{MaxDecompressedBytes: 64 << 20}})
	if err != nil {
		f.Fatal(err)
	}
	small := e.withLayout(2, 300)
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, eng := range []*Engine{e, small} {
			err := eng.ScanStream(ctx, "fuzz.bin", bytes.NewReader(data), func(f Finding) {
				if len(f.Secret) == 0 || f.Line < 1 || f.Column < 1 || f.SecretSHA256 != sha(string(f.Secret)) ||
					f.EndLine < f.Line || f.EndLine == f.Line && f.EndColumn < f.Column {
					t.Fatalf("malformed finding %+v", f)
				}
				if f.RuleID == keyformat.RuleSecretKey && !keyformat.ValidKey(f.Secret) {
					t.Fatalf("reported an invalid key")
				}
			}, func(Warning) {})
			if err != nil {
				t.Fatalf("ScanStream over bytes: %v", err)
			}
		}
	})
}
