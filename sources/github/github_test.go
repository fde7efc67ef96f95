package github_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/sources"
	"github.com/leakguard/leakguard/sources/github"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

func newKey(t *testing.T, typ keyformat.KeyType) string {
	t.Helper()
	k, err := keyformat.GenerateKey(typ, keyformat.Live)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSource(t *testing.T, fake *fakeGitHub, kit *sourcetest.Kit) *github.Source {
	t.Helper()
	src, err := github.New(github.Config{APIURL: fake.URL(), Token: "ghp_testtoken"}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// assertNoPlaintext proves a secret went nowhere: not the hits, not the logs.
func assertNoPlaintext(t *testing.T, kit *sourcetest.Kit, secrets ...string) {
	t.Helper()
	hits, _ := json.Marshal(kit.Pub.Hits())
	for _, s := range secrets {
		if strings.Contains(string(hits), s) {
			t.Fatalf("plaintext secret in published hits: %s", hits)
		}
		if strings.Contains(kit.Logs.String(), s) {
			t.Fatalf("plaintext secret in logs")
		}
	}
}

func TestPushCompareReportsAddedLinesAtNewFileLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	added := newKey(t, keyformat.Secret)
	removed := newKey(t, keyformat.Secret)
	context_ := newKey(t, keyformat.Restricted)
	before, head := sha("before"), sha("head")
	patch := strings.Join([]string{
		"@@ -1,4 +1,5 @@",
		" # settings",
		"-OLD_KEY=" + removed,
		" CONTEXT_KEY=" + context_,
		"+DEBUG=false",
		"+STRIPE_LIKE_KEY=" + added,
		" tail",
		"@@ -20,2 +21,3 @@ func main() {",
		" a",
		"+docs: sk_live_abc123xyz789 is an example, not a key",
		" b",
		`\ No newline at end of file`,
	}, "\n")
	fake.do(func(f *fakeGitHub) {
		f.compares["octo/app "+before+"..."+head] = []fakeFile{{Name: "config/app.env", Patch: patch}}
	})
	fake.push("octo/app", before, head)
	src := newSource(t, fake, kit)

	b, err := src.Poll(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 {
		t.Fatalf("got %d hits, want only the added key: %+v", len(hits), hits)
	}
	h := hits[0]
	want := leakguard.Location{
		URL:        fake.srv.URL + "/octo/app/blob/" + head + "/config/app.env#L4",
		Repository: "octo/app", Commit: head, Path: "config/app.env", Line: 4,
	}
	if h.Location != want {
		t.Fatalf("location\n got %+v\nwant %+v", h.Location, want)
	}
	if h.SecretSHA256 != keyformat.Fingerprint([]byte(added)) || h.Rule != keyformat.RuleSecretKey ||
		h.Source != leakguard.SourceGitHub || h.Redacted != keyformat.RedactKey([]byte(added)) {
		t.Fatalf("hit %+v", h)
	}
	if b.Items != 1 || b.Cursor == "" || b.Wait != 60*time.Second {
		t.Fatalf("batch %+v", b)
	}
	if got := fake.lastRequest("/repos/").Header.Get("Authorization"); got != "Bearer ghp_testtoken" {
		t.Fatalf("Authorization %q", got)
	}
	assertNoPlaintext(t, kit, added, removed, context_)
}

func TestLocationOnGitHubDotCom(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	target, _ := url.Parse(fake.srv.URL)
	kit.Env.HTTP = &http.Client{Transport: rewriteTransport{target: target}}
	key := newKey(t, keyformat.Secret)
	before, head := sha("b2"), sha("h2")
	fake.do(func(f *fakeGitHub) {
		f.compares["octo/app "+before+"..."+head] = []fakeFile{{Name: "dir with space/k.txt", Patch: "@@ -0,0 +1,2 @@\n+x\n+" + key}}
	})
	fake.push("octo/app", before, head)
	src, err := github.New(github.Config{APIURL: "https://api.github.com/"}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Poll(ctx, ""); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 {
		t.Fatalf("hits %+v", hits)
	}
	if want := "https://github.com/octo/app/blob/" + head + "/dir%20with%20space/k.txt#L2"; hits[0].Location.URL != want {
		t.Fatalf("URL %s, want %s", hits[0].Location.URL, want)
	}
}

func TestETagMakesSecondPollFree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	before, head := sha("b3"), sha("h3")
	fake.do(func(f *fakeGitHub) {
		f.compares["octo/app "+before+"..."+head] = []fakeFile{{Name: "a.txt", Patch: "@@ -1 +1 @@\n-a\n+b"}}
		f.pollInterval = 90
	})
	fake.push("octo/app", before, head)
	src := newSource(t, fake, kit)
	store := kit.Store
	r := sources.NewRunner(src, sources.RunnerConfig{Interval: 10 * time.Second}, store, nil, kit.Metrics, nil)
	wait, err := r.PollOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if wait != 90*time.Second {
		t.Fatalf("wait %v, want X-Poll-Interval 90s (longer than the 10s interval)", wait)
	}
	first := fake.lastRequest("/events")
	if first.Header.Get("If-None-Match") != "" {
		t.Fatal("first poll was conditional")
	}
	compares := fake.count("/repos/")
	cursor := r.Cursor()

	wait, err = r.PollOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second := fake.lastRequest("/events")
	if second.Header.Get("If-None-Match") == "" {
		t.Fatal("second poll did not send If-None-Match")
	}
	if fake.count("/repos/") != compares {
		t.Fatal("a 304 cost compare calls")
	}
	if r.Cursor() != cursor || wait != 90*time.Second {
		t.Fatalf("after 304: cursor %q (was %q), wait %v", r.Cursor(), cursor, wait)
	}
	if fake.count("/events") != 2 {
		t.Fatalf("events requests %d, want 2 (no further pages after a 304)", fake.count("/events"))
	}
}

func TestPaginationAndCursor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	keys := map[string]string{}
	for i := range 250 {
		if i%50 == 0 {
			before, head := sha("pb"+string(rune(i))), sha("ph"+string(rune(i)))
			k := newKey(t, keyformat.Secret)
			keys[head] = k
			fake.do(func(f *fakeGitHub) {
				f.compares["octo/many "+before+"..."+head] = []fakeFile{{Name: "k", Patch: "@@ -1,0 +1,1 @@\n+" + k}}
			})
			fake.push("octo/many", before, head)
		} else {
			fake.other("WatchEvent")
		}
	}
	src := newSource(t, fake, kit)
	b, err := src.Poll(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if b.Items != 250 || len(kit.Pub.Hits()) != 5 {
		t.Fatalf("items %d hits %d, want 250 and 5", b.Items, len(kit.Pub.Hits()))
	}
	if fake.count("/events") != 3 {
		t.Fatalf("%d event pages read, want 3 (Link next)", fake.count("/events"))
	}
	var newest string
	fake.do(func(f *fakeGitHub) { newest = f.events[0]["id"].(string) })
	if b.Cursor != newest {
		t.Fatalf("cursor %s, want newest id %s", b.Cursor, newest)
	}
	// Two new events: page 1 holds them and reaches the cursor; no page 2.
	before, head := sha("nb"), sha("nh")
	k := newKey(t, keyformat.Restricted)
	fake.do(func(f *fakeGitHub) {
		f.compares["octo/new "+before+"..."+head] = []fakeFile{{Name: "n", Patch: "@@ -1,0 +1,1 @@\n+" + k}}
	})
	fake.push("octo/new", before, head)
	fake.other("ForkEvent")
	b2, err := src.Poll(ctx, b.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	if b2.Items != 2 || fake.count("/events") != 4 || len(kit.Pub.Hits()) != 6 {
		t.Fatalf("second poll: items %d, event requests %d, hits %d", b2.Items, fake.count("/events"), len(kit.Pub.Hits()))
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reset := time.Now().Add(7 * time.Minute).Truncate(time.Second)
	tests := []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request)
		min    time.Duration
		max    time.Duration
	}{
		{"primary 403 remaining 0", rateLimited(reset, http.StatusForbidden), 6*time.Minute + 50*time.Second, 7 * time.Minute},
		{"primary 429 remaining 0", rateLimited(reset, http.StatusTooManyRequests), 6*time.Minute + 50*time.Second, 7 * time.Minute},
		{"secondary 403 retry-after", retryAfter(45, http.StatusForbidden), 40 * time.Second, 46 * time.Second},
		{"429 retry-after", retryAfter(30, http.StatusTooManyRequests), 25 * time.Second, 31 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeGitHub(t)
			kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
			fake.other("WatchEvent")
			fake.do(func(f *fakeGitHub) { f.next = append(f.next, tc.answer) })
			src := newSource(t, fake, kit)
			_, err := src.Poll(ctx, "")
			var rl *httpx.RateLimitedError
			if !errors.As(err, &rl) {
				t.Fatalf("err %v (%T), want *httpx.RateLimitedError", err, err)
			}
			if d := time.Until(rl.Until); d < tc.min || d > tc.max {
				t.Fatalf("until in %v, want in [%v, %v]", d, tc.min, tc.max)
			}
			// The runner honours it.
			r := sources.NewRunner(src, sources.RunnerConfig{Interval: time.Second}, kit.Store, nil, kit.Metrics, nil)
			fake.do(func(f *fakeGitHub) { f.next = append(f.next, tc.answer) })
			wait, _ := r.PollOnce(ctx)
			if wait < tc.min || wait > tc.max {
				t.Fatalf("runner waits %v", wait)
			}
			if sourcetest.Count(kit.Metrics.SourcePolls.WithLabelValues("github", "rate_limited")) != 1 {
				t.Fatal("rate_limited not counted")
			}
		})
	}
}

func TestRateLimitMidBatchKeepsProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	var ids []string
	for i := range 3 {
		before, head := sha("rb"+string(rune('a'+i))), sha("rh"+string(rune('a'+i)))
		fake.do(func(f *fakeGitHub) {
			f.compares["octo/rl "+before+"..."+head] = []fakeFile{{Name: "f", Patch: "@@ -1 +1 @@\n+x"}}
		})
		ids = append(ids, fake.push("octo/rl", before, head))
	}
	src, err := github.New(github.Config{APIURL: fake.URL(), Concurrency: 1}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	// events ok, compare 1 ok, compare 2 rate limited.
	fake.do(func(f *fakeGitHub) {
		f.next = []func(http.ResponseWriter, *http.Request){f.serveEvents, f.serveRepo,
			retryAfter(60, http.StatusTooManyRequests)}
	})
	b, err := src.Poll(ctx, "")
	var rl *httpx.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("err %v", err)
	}
	if b.Cursor != ids[0] {
		t.Fatalf("cursor %q, want the first event %s", b.Cursor, ids[0])
	}
	// Next poll (ETag not kept after a failure) picks up the rest.
	b, err = src.Poll(ctx, b.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	if b.Cursor != ids[2] || b.Items != 2 {
		t.Fatalf("after recovery: %+v", b)
	}
	if fake.lastRequest("/events").Header.Get("If-None-Match") != "" {
		t.Fatal("an ETag from a failed poll was reused: the rest would never be read")
	}
}

func TestMalformedAndServerErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request)
	}{
		{"malformed JSON", status(200, `[{"id": "1", "type": "PushEvent", "payload": `)},
		{"not an array", status(200, `{"message":"hi"}`)},
		{"502", status(502, `<html>Bad gateway</html>`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeGitHub(t)
			kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
			fake.do(func(f *fakeGitHub) { f.next = append(f.next, tc.answer) })
			src := newSource(t, fake, kit)
			b, err := src.Poll(ctx, "123")
			if err == nil || b.Cursor != "" {
				t.Fatalf("batch %+v err %v", b, err)
			}
			var rl *httpx.RateLimitedError
			if errors.As(err, &rl) {
				t.Fatal("not a rate limit")
			}
		})
	}
}

func TestServerErrorStormBacksOffThenRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	fake.other("WatchEvent")
	src := newSource(t, fake, kit)
	r := sources.NewRunner(src, sources.RunnerConfig{Interval: 5 * time.Second, BaseBackoff: time.Second, MaxBackoff: time.Minute},
		kit.Store, nil, kit.Metrics, nil)
	var waits []time.Duration
	for range 5 {
		fake.do(func(f *fakeGitHub) { f.next = append(f.next, status(503, `{"message":"Service Unavailable"}`)) })
		w, err := r.PollOnce(ctx)
		if err == nil {
			t.Fatal("want error")
		}
		waits = append(waits, w)
	}
	for i := 1; i < len(waits); i++ {
		// Jitter is within [d/2, d] and d doubles, so each wait is at least
		// the previous one's lower bound doubled.
		if waits[i] < (time.Second<<i)/2 {
			t.Fatalf("backoff did not grow: %v", waits)
		}
	}
	w, err := r.PollOnce(ctx)
	if err != nil || w != 60*time.Second {
		t.Fatalf("recovered poll: wait %v err %v (want X-Poll-Interval 60s)", w, err)
	}
	if n := sourcetest.Count(kit.Metrics.SourcePolls.WithLabelValues("github", "error")); n != 5 {
		t.Fatalf("error polls %v", n)
	}
}

func TestDeletedRepositoryIsSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, code := range []int{http.StatusNotFound, http.StatusUnavailableForLegalReasons} {
		fake := newFakeGitHub(t)
		kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
		fake.push("gone/repo", sha("gb"), sha("gh"))
		live := newKey(t, keyformat.Secret)
		before, head := sha("lb"), sha("lh")
		fake.do(func(f *fakeGitHub) {
			f.gone["gone/repo"] = code
			f.compares["octo/live "+before+"..."+head] = []fakeFile{{Name: "x", Patch: "@@ -1 +1 @@\n+" + live}}
		})
		id := fake.push("octo/live", before, head)
		src := newSource(t, fake, kit)
		b, err := src.Poll(ctx, "")
		if err != nil {
			t.Fatalf("%d: a deleted repository failed the poll: %v", code, err)
		}
		if b.Cursor != id || len(kit.Pub.Hits()) != 1 {
			t.Fatalf("%d: cursor %s hits %d", code, b.Cursor, len(kit.Pub.Hits()))
		}
	}
}

func TestMissingPatchFetchesRawFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	key := newKey(t, keyformat.Secret)
	before, head := sha("bigb"), sha("bigh")
	big := strings.Repeat("filler line\n", 5000) + "KEY=" + key + "\n"
	fake.do(func(f *fakeGitHub) {
		f.compares["octo/big "+before+"..."+head] = []fakeFile{
			{Name: "data/big.txt", NoPatch: true, Additions: 5001},
			{Name: "logo.png", Status: "added", NoPatch: true},
			{Name: "moved.txt", Status: "renamed", NoPatch: true},
		}
		f.raw["octo/big/"+head+"/data/big.txt"] = big
	})
	fake.push("octo/big", before, head)
	src := newSource(t, fake, kit)
	if _, err := src.Poll(ctx, ""); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 || hits[0].Location.Line != 5001 {
		t.Fatalf("hits %+v", hits)
	}
	// The raw host is the fake itself here (same host as the API), so the
	// token may go; a different host never gets it (see rawFile).
	if fake.count("/raw/") != 1 {
		t.Fatal("raw file not fetched")
	}
}

func TestSameHeadScannedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	before, head := sha("db"), sha("dh")
	fake.do(func(f *fakeGitHub) {
		f.compares["octo/d "+before+"..."+head] = []fakeFile{{Name: "x", Patch: "@@ -1 +1 @@\n+y"}}
	})
	fake.push("octo/d", before, head)
	src := newSource(t, fake, kit)
	b, err := src.Poll(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	fake.push("octo/d", before, head) // the same push seen again (another ref)
	if _, err := src.Poll(ctx, b.Cursor); err != nil {
		t.Fatal(err)
	}
	if n := fake.count("/repos/octo/d/compare"); n != 1 {
		t.Fatalf("compare called %d times for one head", n)
	}
	if isNew, _ := kit.Store.MarkSeen(ctx, "github", "octo/d@"+head); isNew {
		t.Fatal("head not recorded in the store")
	}
}

func TestPublishFailureDoesNotMarkSeenOrAdvance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	key := newKey(t, keyformat.Secret)
	before, head := sha("pfb"), sha("pfh")
	fake.do(func(f *fakeGitHub) {
		f.compares["octo/pf "+before+"..."+head] = []fakeFile{{Name: "x", Patch: "@@ -1 +1 @@\n+" + key}}
	})
	fake.push("octo/pf", before, head)
	src := newSource(t, fake, kit)
	kit.Pub.SetFailing(true)
	b, err := src.Poll(ctx, "")
	if err == nil || b.Cursor != "" {
		t.Fatalf("publish failure: batch %+v err %v", b, err)
	}
	kit.Pub.SetFailing(false)
	if _, err := src.Poll(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if len(kit.Pub.Hits()) != 1 {
		t.Fatal("the hit was lost after a bus failure")
	}
	assertNoPlaintext(t, kit, key)
}

func TestOldFormatPayloadWithCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	key := newKey(t, keyformat.Secret)
	c1 := sha("old1")
	fake.do(func(f *fakeGitHub) {
		f.commits["octo/old@"+c1] = fakeCommit{SHA: c1, Files: []fakeFile{{Name: "a", Patch: "@@ -1 +1,2 @@\n a\n+" + key}}}
		f.events = append([]map[string]any{{
			"id": "39999999999", "type": "PushEvent", "public": true,
			"repo": map[string]any{"id": 1, "name": "octo/old"},
			"payload": map[string]any{"push_id": 1, "size": 1, "distinct_size": 1, "ref": "refs/heads/main",
				"commits": []map[string]any{{"sha": c1, "message": "m", "distinct": true,
					"author": map[string]any{"name": "a", "email": "a@example.com"}}}},
		}}, f.events...)
	})
	src := newSource(t, fake, kit)
	if _, err := src.Poll(ctx, ""); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 || hits[0].Location.Commit != c1 || hits[0].Location.Line != 2 {
		t.Fatalf("hits %+v", hits)
	}
}

func TestRunnerRestartResumesWithoutGapOrRepeat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	path := t.TempDir() + "/lg.db"
	store := sourcetest.StoreAt(t, path)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, store)
	var keys []string
	addPush := func(i int) {
		k := newKey(t, keyformat.Secret)
		keys = append(keys, k)
		before, head := sha("rsb"+strconv.Itoa(i)), sha("rsh"+strconv.Itoa(i))
		fake.do(func(f *fakeGitHub) {
			f.compares["octo/rs "+before+"..."+head] = []fakeFile{{Name: "k", Patch: "@@ -1 +1 @@\n+" + k}}
		})
		fake.push("octo/rs", before, head)
	}
	for i := range 3 {
		addPush(i)
	}
	src := newSource(t, fake, kit)
	r := sources.NewRunner(src, sources.RunnerConfig{Interval: time.Second}, store, nil, nil, nil)
	if _, err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// The process stops; two more pushes happen; a new process (new source,
	// no ETag, a fresh memory) starts on the same store and bus.
	_ = store.Close()
	for i := 3; i < 5; i++ {
		addPush(i)
	}
	store2 := sourcetest.StoreAt(t, path)
	kit2 := sourcetest.NewKit(t, leakguard.SourceGitHub, store2)
	kit2.Env.Publisher = kit.Pub
	src2 := newSource(t, fake, kit2)
	r2 := sources.NewRunner(src2, sources.RunnerConfig{Interval: time.Second}, store2, nil, nil, nil)
	if _, err := r2.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 5 {
		t.Fatalf("%d hits after restart, want 5", len(hits))
	}
	if kit.Pub.Attempts() != 5 {
		t.Fatalf("%d publish attempts, want 5: nothing re-published after restart", kit.Pub.Attempts())
	}
	if n := fake.count("/repos/octo/rs/compare"); n != 5 {
		t.Fatalf("%d compares, want 5", n)
	}
}

func TestArchivePushedWithoutPatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	key := newKey(t, keyformat.Secret)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("config/.env")
	_, _ = w.Write([]byte("A=1\nKEY=" + key + "\n"))
	_ = zw.Close()
	before, head := sha("zb"), sha("zh")
	fake.do(func(f *fakeGitHub) {
		f.compares["octo/zip "+before+"..."+head] = []fakeFile{{Name: "dist/bundle.zip", Status: "added", NoPatch: true}}
		f.raw["octo/zip/"+head+"/dist/bundle.zip"] = buf.String()
	})
	fake.push("octo/zip", before, head)
	src := newSource(t, fake, kit)
	if _, err := src.Poll(ctx, ""); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 {
		t.Fatalf("hits %+v", hits)
	}
	want := leakguard.Location{URL: fake.srv.URL + "/octo/zip/blob/" + head + "/dist/bundle.zip",
		Repository: "octo/zip", Commit: head, Path: "dist/bundle.zip!config/.env", Line: 2}
	if hits[0].Location != want {
		t.Fatalf("location\n got %+v\nwant %+v", hits[0].Location, want)
	}
}

func TestPoisonEventIsSkippedAfterRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	// The first push's compare always fails with 500; the second is fine.
	pb, ph := sha("poison-b"), sha("poison-h")
	fake.push("octo/poison", pb, ph)
	key := newKey(t, keyformat.Secret)
	gb, gh := sha("good-b"), sha("good-h")
	fake.do(func(f *fakeGitHub) {
		f.compares["octo/good "+gb+"..."+gh] = []fakeFile{{Name: "k", Patch: "@@ -1 +1 @@\n+" + key}}
	})
	good := fake.push("octo/good", gb, gh)
	src := newSource(t, fake, kit)
	var cursor string
	fake.do(func(f *fakeGitHub) { f.fail["octo/poison"] = 500 })
	for i := range 5 {
		b, err := src.Poll(ctx, cursor)
		if b.Cursor != "" {
			cursor = b.Cursor
		}
		if i < 4 && err == nil {
			t.Fatalf("attempt %d: a 500 did not fail the poll", i)
		}
		if i == 4 && err != nil {
			t.Fatalf("after 5 failures the event should be skipped: %v", err)
		}
	}
	if cursor != good || len(kit.Pub.Hits()) != 1 {
		t.Fatalf("cursor %s (want %s), hits %d", cursor, good, len(kit.Pub.Hits()))
	}
	if !strings.Contains(kit.Logs.String(), "giving up") {
		t.Fatal("skipping was not logged")
	}
}

func TestMalformedCompareIsSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	id := fake.push("octo/bad", sha("mb"), sha("mh"))
	fake.do(func(f *fakeGitHub) {
		f.next = []func(http.ResponseWriter, *http.Request){f.serveEvents, status(200, `{"files": "not a list"}`)}
	})
	src := newSource(t, fake, kit)
	b, err := src.Poll(ctx, "")
	if err != nil || b.Cursor != id {
		t.Fatalf("batch %+v err %v", b, err)
	}
}

func TestLocationFromHTMLURLWhenNoBlobURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	key := newKey(t, keyformat.Secret)
	before, head := sha("hb"), sha("hh")
	fake.push("octo/h", before, head)
	fake.do(func(f *fakeGitHub) {
		f.next = []func(http.ResponseWriter, *http.Request){f.serveEvents, func(w http.ResponseWriter, r *http.Request) {
			f.writeJSON(w, 200, map[string]any{
				"html_url": "https://ghe.example.com/octo/h/compare/" + before + "..." + head,
				"files":    []map[string]any{{"filename": "a/b.txt", "status": "modified", "additions": 1, "patch": "@@ -1 +1 @@\n+" + key}},
			})
		}}
	})
	src := newSource(t, fake, kit)
	if _, err := src.Poll(ctx, ""); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 || hits[0].Location.URL != "https://ghe.example.com/octo/h/blob/"+head+"/a/b.txt#L1" {
		t.Fatalf("hits %+v", hits)
	}
}
