package sources_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

func TestItemPublishesAfterScanOnceEach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kit := sourcetest.NewKit(t, "pastebin", nil)
	k, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	w, _ := zw.Create("inner/.env")
	_, _ = w.Write([]byte("\n\nK=" + k))
	_ = zw.Close()

	it := sources.NewItem(kit.Env, "pastebin")
	loc := func(f scanner.Finding) leakguard.Location {
		return leakguard.Location{URL: "https://pastebin.com/abc", Path: "abc"}
	}
	it.Scan("abc", []byte("x "+k+"\n"+k+"\n"), loc)
	it.Scan("abc", []byte("again "+k+"\n"), loc) // same line 1: a duplicate
	it.Scan("abc", zbuf.Bytes(), loc)
	if len(kit.Pub.Hits()) != 0 {
		t.Fatal("published before Publish")
	}
	if err := it.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	var where []string
	for _, h := range hits {
		where = append(where, h.Location.Path+":"+string(rune('0'+h.Location.Line)))
	}
	if got := strings.Join(where, " "); got != "abc:1 abc:2 abc!inner/.env:3" {
		t.Fatalf("hits at %s", got)
	}
	if it.Bytes() == 0 || sourcetest.Count(kit.Metrics.BytesScanned.WithLabelValues("pastebin")) != float64(it.Bytes()) {
		t.Fatal("bytes scanned not counted")
	}
	kit.Pub.SetFailing(true)
	it2 := sources.NewItem(kit.Env, "pastebin")
	it2.Scan("abc", []byte(k), loc)
	if err := it2.Publish(ctx); !errors.Is(err, sources.ErrPublish) || strings.Contains(err.Error(), k) {
		t.Fatalf("publish error %v", err)
	}
}

func TestItemScrubsSecretFromLocation(t *testing.T) {
	t.Parallel()
	kit := sourcetest.NewKit(t, "gists", nil)
	k, _ := keyformat.GenerateKey(keyformat.Restricted, keyformat.Test)
	it := sources.NewItem(kit.Env, "gists")
	name := k + ".txt"
	it.Scan(name, []byte(k), func(f scanner.Finding) leakguard.Location {
		return leakguard.Location{URL: "https://gist.github.com/x#file-" + name, Path: name}
	})
	if err := it.Publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := kit.Pub.Hits()
	if len(h) != 1 || strings.Contains(h[0].Location.URL+h[0].Location.Path, k) ||
		!strings.Contains(h[0].Location.Path, keyformat.RedactKey([]byte(k))) {
		t.Fatalf("hits %+v", h)
	}
}
