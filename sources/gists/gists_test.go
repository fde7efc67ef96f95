package gists_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/fakeupstream"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/sources/gists"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

func key(t *testing.T) string {
	k, err := keyformat.GenerateKey(keyformat.Secret, keyformat.Test)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGistsScanFilesAndMoveCursor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGists, nil)
	base := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Minute)
	k1, k2 := key(t), key(t)
	g1 := fake.PlantGistAt("octocat", map[string]string{"config.env": "A=1\nSECRET=" + k1 + "\n", "readme.md": "nothing"}, base.Add(time.Minute))
	g2 := fake.PlantGistAt("mona", map[string]string{"Hello World.py": "x = 1\n\n\nkey = '" + k2 + "'\n"}, base.Add(2*time.Minute))
	src, err := gists.New(gists.Config{APIURL: fake.URL(), Token: "tok"}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Poll(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 2 {
		t.Fatalf("hits %+v", hits)
	}
	want := map[string]leakguard.Location{
		keyformat.Fingerprint([]byte(k1)): {URL: g1.HTMLURL + "#file-config-env",
			Repository: "octocat/" + g1.ID, Path: "config.env", Line: 2},
		keyformat.Fingerprint([]byte(k2)): {URL: g2.HTMLURL + "#file-hello-world-py",
			Repository: "mona/" + g2.ID, Path: "Hello World.py", Line: 4},
	}
	for _, h := range hits {
		if h.Location != want[h.SecretSHA256] {
			t.Fatalf("location %+v, want %+v", h.Location, want[h.SecretSHA256])
		}
	}
	if b.Cursor != base.Add(2*time.Minute).Format(time.RFC3339) || b.Items != 2 {
		t.Fatalf("batch %+v", b)
	}
	for _, r := range fake.RequestLog("/gist.githubusercontent.com/") {
		if a := r.Header.Get("Authorization"); a != "Bearer tok" { // raw host == API host in this fake
			t.Fatalf("raw auth %q", a)
		}
	}
	// Nothing new: the listing is re-read from the cursor; nothing re-fetched.
	raw := fake.RequestsTo("/gist.githubusercontent.com/")
	if _, err := src.Poll(ctx, b.Cursor); err != nil {
		t.Fatal(err)
	}
	if fake.RequestsTo("/gist.githubusercontent.com/") != raw {
		t.Fatal("unchanged gists fetched again")
	}
	// An update of the first gist is scanned again.
	k3 := key(t)
	fake.UpdateGistAt(g1.ID, map[string]string{"config.env": "NEW=" + k3, "readme.md": "nothing"}, base.Add(3*time.Minute))
	b2, err := src.Poll(ctx, b.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	if len(kit.Pub.Hits()) != 3 || b2.Cursor != base.Add(3*time.Minute).Format(time.RFC3339) {
		t.Fatalf("after update: hits %d batch %+v", len(kit.Pub.Hits()), b2)
	}
	list := fake.LastRequest("/gists/public")
	if got, want := list.URL.Query().Get("since"), base.Add(2*time.Minute-time.Second).Format(time.RFC3339); got != want {
		t.Fatalf("listing asks since %s, want a second before the cursor, %s", got, want)
	}
	hitsJSON, _ := json.Marshal(kit.Pub.Hits())
	for _, k := range []string{k1, k2, k3} {
		if strings.Contains(string(hitsJSON), k) || strings.Contains(kit.Logs.String(), k) {
			t.Fatal("plaintext leaked")
		}
	}
}

// A key pasted into a gist and removed by the next edit, both between two
// polls, is in the gist's history for anyone to read: every revision since
// the last poll is scanned, each reported at its own revision's page.
func TestGistsEveryRevisionSinceTheLastPollIsScanned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGists, nil)
	base := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Minute)
	src, err := gists.New(gists.Config{APIURL: fake.URL()}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	old := fake.PlantGistAt("octocat", map[string]string{"notes.md": "hello\n"}, base)
	b, err := src.Poll(ctx, "")
	if err != nil || len(kit.Pub.Hits()) != 0 {
		t.Fatalf("first poll: %v, hits %d", err, len(kit.Pub.Hits()))
	}
	k := key(t)
	added := fake.UpdateGistAt(old.ID, map[string]string{"notes.md": "hello\nTOKEN=" + k + "\n"}, base.Add(time.Minute))
	fake.UpdateGistAt(old.ID, map[string]string{"notes.md": "hello\n"}, base.Add(2*time.Minute))
	if _, err := src.Poll(ctx, b.Cursor); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 || hits[0].SecretSHA256 != keyformat.Fingerprint([]byte(k)) {
		t.Fatalf("hits %+v, want the key of the intermediate revision", hits)
	}
	want := leakguard.Location{URL: old.HTMLURL + "/" + added + "#file-notes-md", Repository: "octocat/" + old.ID, Path: "notes.md", Line: 2}
	if hits[0].Location != want {
		t.Fatalf("location %+v, want %+v", hits[0].Location, want)
	}
	// The first revision, scanned by the first poll, is not read again.
	if n := fake.RequestsTo("/gists/" + old.ID + "/" + old.Version); n != 0 {
		t.Fatalf("the revision seen by the first poll was read %d times", n)
	}
}

func TestGistsPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGists, nil)
	base := time.Now().UTC().Truncate(time.Second).Add(-30 * time.Minute)
	for i := range 230 {
		fake.PlantGistAt("o", map[string]string{"f.txt": "x"}, base.Add(time.Duration(i)*time.Second))
	}
	src, err := gists.New(gists.Config{APIURL: fake.URL()}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Poll(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if raw := fake.RequestsTo("/gist.githubusercontent.com/"); b.Items != 230 || raw != 230 {
		t.Fatalf("items %d raw %d", b.Items, raw)
	}
	if pages := fake.RequestsTo("/gists/public"); pages != 3 {
		t.Fatalf("%d pages read, want 3", pages)
	}
	if fake.RequestsTo("/gists/") != 3 {
		t.Fatal("gists never edited need no revision listing")
	}
	if a := fake.LastRequest("/gist.githubusercontent.com/").Header.Get("Authorization"); a != "" {
		t.Fatal("no token configured, yet one was sent")
	}
}

func TestGistsRateLimitAndPartialProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGists, nil)
	base := time.Now().UTC().Truncate(time.Second).Add(-5 * time.Minute)
	for i := range 3 {
		fake.PlantGistAt("o", map[string]string{"f": "x"}, base.Add(time.Duration(i)*time.Minute))
	}
	src, err := gists.New(gists.Config{APIURL: fake.URL(), Concurrency: 1}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	// The listing and the first gist's file go through; then a secondary
	// rate limit.
	fake.AnswerNext(nil)
	fake.AnswerNext(nil)
	fake.AnswerNext(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"message":"You have exceeded a secondary rate limit."}`))
	})
	b, err := src.Poll(ctx, "")
	var rl *httpx.RateLimitedError
	if !errors.As(err, &rl) || time.Until(rl.Until) < 100*time.Second {
		t.Fatalf("err %v", err)
	}
	if b.Cursor != base.Format(time.RFC3339) {
		t.Fatalf("cursor %q, want the first gist's time", b.Cursor)
	}
}

func TestAnchor(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"config.env":      "config-env",
		"Hello World.py":  "hello-world-py",
		"hello_world.rb":  "hello_world-rb",
		"a..b":            "a-b",
		"UPPER-case.JSON": "upper-case-json",
	} {
		if got := gists.Anchor(in); got != want {
			t.Errorf("Anchor(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGistsDeletedFileAndMalformedListing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGists, nil)
	k := key(t)
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	fake.PlantGistAt("o", map[string]string{"a.txt": "A=" + k}, base)
	src, err := gists.New(gists.Config{APIURL: fake.URL()}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	// The file vanishes between the listing and the fetch: skipped, not an error.
	fake.AnswerNext(nil)
	fake.AnswerNext(http.NotFound)
	b, err := src.Poll(ctx, "")
	if err != nil || b.Cursor != base.Format(time.RFC3339) || len(kit.Pub.Hits()) != 0 {
		t.Fatalf("batch %+v err %v hits %d", b, err, len(kit.Pub.Hits()))
	}
	fake.AnswerNext(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[{"id": "x", "files": `))
	})
	b, err = src.Poll(ctx, b.Cursor)
	if err == nil || b.Cursor != "" {
		t.Fatalf("malformed listing: batch %+v err %v", b, err)
	}
}
