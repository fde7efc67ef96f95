package gists_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/sources/gists"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

type gist struct {
	ID      string
	Owner   string
	Updated time.Time
	Files   map[string]string
}

// fakeGists speaks GET /gists/public (since, per_page, page, Link) and
// serves raw files like gist.githubusercontent.com.
type fakeGists struct {
	srv      *httptest.Server
	mu       sync.Mutex
	gists    []gist
	requests []string
	rawHits  int
	next     []func(http.ResponseWriter, *http.Request)
	auth     []string // Authorization of raw requests
}

func newFake(t *testing.T) *fakeGists {
	f := &fakeGists{}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGists) add(g gist) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gists = append(f.gists, g)
}

func (f *fakeGists) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.RequestURI())
	var override func(http.ResponseWriter, *http.Request)
	if len(f.next) > 0 {
		override, f.next = f.next[0], f.next[1:]
	}
	f.mu.Unlock()
	if override != nil {
		override(w, r)
		return
	}
	f.route(w, r)
}

func (f *fakeGists) route(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/gists/public":
		f.list(w, r)
	case strings.HasPrefix(r.URL.Path, "/raw/"):
		parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/raw/"), "/", 2)
		f.mu.Lock()
		f.rawHits++
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		var body string
		found := false
		for _, g := range f.gists {
			if g.ID == parts[0] {
				body, found = g.Files[parts[1]]
			}
		}
		f.mu.Unlock()
		if !found {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(body))
	default:
		w.WriteHeader(404)
		_, _ = w.Write([]byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`))
	}
}

func (f *fakeGists) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since time.Time
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			w.WriteHeader(422)
			_, _ = w.Write([]byte(`{"message":"Invalid request.\n\n\"since\" is not a timestamp."}`))
			return
		}
		since = t
	}
	f.mu.Lock()
	var sel []gist
	for _, g := range f.gists {
		if g.Updated.After(since) { // "last updated after the given time"
			sel = append(sel, g)
		}
	}
	f.mu.Unlock()
	sort.SliceStable(sel, func(i, j int) bool { return sel[i].Updated.After(sel[j].Updated) })
	perPage, _ := strconv.Atoi(q.Get("per_page"))
	if perPage <= 0 {
		perPage = 30
	}
	page, _ := strconv.Atoi(q.Get("page"))
	if page <= 0 {
		page = 1
	}
	lo := min((page-1)*perPage, len(sel))
	hi := min(lo+perPage, len(sel))
	var out []map[string]any
	for _, g := range sel[lo:hi] {
		files := map[string]any{}
		for name, body := range g.Files {
			files[name] = map[string]any{"filename": name, "type": "text/plain", "language": "Text",
				"raw_url": f.srv.URL + "/raw/" + g.ID + "/" + name, "size": len(body)}
		}
		out = append(out, map[string]any{
			"url": f.srv.URL + "/gists/" + g.ID, "id": g.ID, "node_id": "G_" + g.ID,
			"html_url": "https://gist.github.com/" + g.ID, "files": files, "public": true,
			"created_at": g.Updated.Add(-time.Hour).Format(time.RFC3339),
			"updated_at": g.Updated.UTC().Format(time.RFC3339), "description": "", "comments": 0,
			"owner": map[string]any{"login": g.Owner, "id": 1}, "truncated": false,
		})
	}
	if hi < len(sel) {
		u := *r.URL
		q.Set("page", strconv.Itoa(page+1))
		u.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<http://%s%s>; rel="next"`, r.Host, u.RequestURI()))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(out)
}

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
	fake := newFake(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGists, nil)
	base := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Minute)
	k1, k2 := key(t), key(t)
	fake.add(gist{ID: "aa5a315d61ae9438b18d", Owner: "octocat", Updated: base.Add(time.Minute),
		Files: map[string]string{"config.env": "A=1\nSECRET=" + k1 + "\n", "readme.md": "nothing"}})
	fake.add(gist{ID: "bb", Owner: "mona", Updated: base.Add(2 * time.Minute),
		Files: map[string]string{"Hello World.py": "x = 1\n\n\nkey = '" + k2 + "'\n"}})
	src, err := gists.New(gists.Config{APIURL: fake.srv.URL + "/", Token: "tok"}, kit.Env)
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
		keyformat.Fingerprint([]byte(k1)): {URL: "https://gist.github.com/aa5a315d61ae9438b18d#file-config-env",
			Repository: "octocat/aa5a315d61ae9438b18d", Path: "config.env", Line: 2},
		keyformat.Fingerprint([]byte(k2)): {URL: "https://gist.github.com/bb#file-hello-world-py",
			Repository: "mona/bb", Path: "Hello World.py", Line: 4},
	}
	for _, h := range hits {
		if h.Location != want[h.SecretSHA256] {
			t.Fatalf("location %+v, want %+v", h.Location, want[h.SecretSHA256])
		}
	}
	if b.Cursor != base.Add(2*time.Minute).Format(time.RFC3339) || b.Items != 2 {
		t.Fatalf("batch %+v", b)
	}
	for _, a := range fake.auth {
		if a != "Bearer tok" { // raw host == API host in this fake
			t.Fatalf("raw auth %q", a)
		}
	}
	// Nothing new: the listing is re-read from the cursor; nothing re-fetched.
	raw := fake.rawHits
	if _, err := src.Poll(ctx, b.Cursor); err != nil {
		t.Fatal(err)
	}
	if fake.rawHits != raw {
		t.Fatal("unchanged gists fetched again")
	}
	// An update of the first gist is scanned again.
	k3 := key(t)
	fake.mu.Lock()
	fake.gists[0].Updated = base.Add(3 * time.Minute)
	fake.gists[0].Files["config.env"] = "NEW=" + k3
	fake.mu.Unlock()
	b2, err := src.Poll(ctx, b.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	if len(kit.Pub.Hits()) != 3 || b2.Cursor != base.Add(3*time.Minute).Format(time.RFC3339) {
		t.Fatalf("after update: hits %d batch %+v", len(kit.Pub.Hits()), b2)
	}
	last := fake.requests[len(fake.requests)-3]
	if !strings.Contains(last, "since="+strings.ReplaceAll(base.Add(2*time.Minute-time.Second).Format(time.RFC3339), ":", "%3A")) {
		t.Fatalf("listing %s does not ask since the cursor", last)
	}
	hitsJSON, _ := json.Marshal(kit.Pub.Hits())
	for _, k := range []string{k1, k2, k3} {
		if strings.Contains(string(hitsJSON), k) || strings.Contains(kit.Logs.String(), k) {
			t.Fatal("plaintext leaked")
		}
	}
}

func TestGistsPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFake(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGists, nil)
	base := time.Now().UTC().Truncate(time.Second).Add(-30 * time.Minute)
	for i := range 230 {
		fake.add(gist{ID: fmt.Sprintf("g%03d", i), Owner: "o", Updated: base.Add(time.Duration(i) * time.Second),
			Files: map[string]string{"f.txt": "x"}})
	}
	src, err := gists.New(gists.Config{APIURL: fake.srv.URL + "/"}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Poll(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if b.Items != 230 || fake.rawHits != 230 {
		t.Fatalf("items %d raw %d", b.Items, fake.rawHits)
	}
	pages := 0
	for _, r := range fake.requests {
		if strings.HasPrefix(r, "/gists/public") {
			pages++
		}
	}
	if pages != 3 {
		t.Fatalf("%d pages read, want 3", pages)
	}
	if fake.auth[0] != "" {
		t.Fatal("no token configured, yet one was sent")
	}
}

func TestGistsRateLimitAndPartialProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFake(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGists, nil)
	base := time.Now().UTC().Truncate(time.Second).Add(-5 * time.Minute)
	for i := range 3 {
		fake.add(gist{ID: fmt.Sprintf("p%d", i), Owner: "o", Updated: base.Add(time.Duration(i) * time.Minute),
			Files: map[string]string{"f": "x"}})
	}
	src, err := gists.New(gists.Config{APIURL: fake.srv.URL + "/", Concurrency: 1}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	limited := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"message":"You have exceeded a secondary rate limit."}`))
	}
	fake.mu.Lock()
	fake.next = []func(http.ResponseWriter, *http.Request){fake.route, fake.route, limited}
	fake.mu.Unlock()
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
	fake := newFake(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGists, nil)
	k := key(t)
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	fake.add(gist{ID: "del", Owner: "o", Updated: base, Files: map[string]string{"a.txt": "A=" + k}})
	src, err := gists.New(gists.Config{APIURL: fake.srv.URL + "/"}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	// The file vanishes between the listing and the fetch: skipped, not an error.
	fake.mu.Lock()
	fake.next = []func(http.ResponseWriter, *http.Request){fake.route, func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	}}
	fake.mu.Unlock()
	b, err := src.Poll(ctx, "")
	if err != nil || b.Cursor != base.Format(time.RFC3339) || len(kit.Pub.Hits()) != 0 {
		t.Fatalf("batch %+v err %v hits %d", b, err, len(kit.Pub.Hits()))
	}
	fake.mu.Lock()
	fake.next = []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[{"id": "x", "files": `))
	}}
	fake.mu.Unlock()
	b, err = src.Poll(ctx, b.Cursor)
	if err == nil || b.Cursor != "" {
		t.Fatalf("malformed listing: batch %+v err %v", b, err)
	}
}
