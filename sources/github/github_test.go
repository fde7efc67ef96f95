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
	"github.com/leakguard/leakguard/internal/fakeupstream"
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

func newSource(t *testing.T, fake *fakeupstream.GitHub, kit *sourcetest.Kit) *github.Source {
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

// primed is a fake whose repository repo already has one commit that the
// source has seen, so the next push to it is a compare of two commits.
func primed(t *testing.T, fake *fakeupstream.GitHub, src *github.Source, repo string) string {
	t.Helper()
	fake.PlantPush(repo, "README.md", "# "+repo+"\n")
	b, err := src.Poll(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return b.Cursor
}

func TestPushCompareReportsAddedLinesAtNewFileLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	added := newKey(t, keyformat.Secret)
	removed := newKey(t, keyformat.Secret)
	context_ := newKey(t, keyformat.Restricted)
	filler := strings.Repeat("filler\n", 15)
	fake.PlantPush("octo/app", "config/app.env", "# settings\nOLD_KEY="+removed+"\nCONTEXT_KEY="+context_+"\ntail\n"+filler+"a\nb\n")
	src := newSource(t, fake, kit)
	b0, err := src.Poll(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	seen := len(kit.Pub.Hits())
	// A diff of two hunks: one line removed, context kept, two lines added;
	// and far below, an example that is not a key.
	push := fake.PlantPush("octo/app", "config/app.env", "# settings\nCONTEXT_KEY="+context_+"\nDEBUG=false\nSTRIPE_LIKE_KEY="+added+"\ntail\n"+
		filler+"a\ndocs: sk_live_abc123xyz789 is an example, not a key\nb\n")
	b, err := src.Poll(ctx, b0.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()[seen:]
	if len(hits) != 1 {
		t.Fatalf("got %d hits, want only the added key: %+v", len(hits), hits)
	}
	h := hits[0]
	want := leakguard.Location{
		URL:        "https://github.com/octo/app/blob/" + push.Commit + "/config/app.env#L4",
		Repository: "octo/app", Commit: push.Commit, Path: "config/app.env", Line: 4,
	}
	if h.Location != want {
		t.Fatalf("location\n got %+v\nwant %+v", h.Location, want)
	}
	if h.SecretSHA256 != keyformat.Fingerprint([]byte(added)) || h.Rule != keyformat.RuleSecretKey ||
		h.Source != leakguard.SourceGitHub || h.Redacted != keyformat.RedactKey([]byte(added)) {
		t.Fatalf("hit %+v", h)
	}
	if b.Items != 1 || b.Cursor != push.EventID || b.Wait != 60*time.Second {
		t.Fatalf("batch %+v", b)
	}
	if got := fake.LastRequest("/repos/").Header.Get("Authorization"); got != "Bearer ghp_testtoken" {
		t.Fatalf("Authorization %q", got)
	}
	assertNoPlaintext(t, kit, added, removed, context_)
}

func TestLocationOnGitHubDotCom(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	target, _ := url.Parse(fake.URL())
	kit.Env.HTTP = &http.Client{Transport: rewriteTransport{target: target}}
	key := newKey(t, keyformat.Secret)
	src, err := github.New(github.Config{APIURL: "https://api.github.com/"}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	cursor := primed(t, fake, src, "octo/app")
	push := fake.PlantPush("octo/app", "dir with space/k.txt", "x\n"+key+"\n")
	if _, err := src.Poll(ctx, cursor); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 {
		t.Fatalf("hits %+v", hits)
	}
	if want := "https://github.com/octo/app/blob/" + push.Commit + "/dir%20with%20space/k.txt#L2"; hits[0].Location.URL != want {
		t.Fatalf("URL %s, want %s", hits[0].Location.URL, want)
	}
}

func TestETagMakesSecondPollFree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	fake.SetPollInterval(90)
	fake.PlantPush("octo/app", "a.txt", "a\n")
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
	first := fake.LastRequest("/events")
	if first.Header.Get("If-None-Match") != "" {
		t.Fatal("first poll was conditional")
	}
	calls := fake.RequestsTo("/repos/")
	cursor := r.Cursor()

	wait, err = r.PollOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second := fake.LastRequest("/events")
	if second.Header.Get("If-None-Match") == "" {
		t.Fatal("second poll did not send If-None-Match")
	}
	if fake.RequestsTo("/repos/") != calls {
		t.Fatal("a 304 cost repository calls")
	}
	if r.Cursor() != cursor || wait != 90*time.Second {
		t.Fatalf("after 304: cursor %q (was %q), wait %v", r.Cursor(), cursor, wait)
	}
	if n := fake.RequestsTo("/events"); n != 2 {
		t.Fatalf("events requests %d, want 2 (no further pages after a 304)", n)
	}
}

func TestPaginationAndCursor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	newest := ""
	for i := range 250 {
		if i%50 == 0 {
			p := fake.PlantPush("octo/many", "k", newKey(t, keyformat.Secret)+"\n")
			newest = p.EventID
		} else {
			newest = fake.PlantEvent("WatchEvent", "a/b", nil)
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
	if n := fake.RequestsTo("/events"); n != 3 {
		t.Fatalf("%d event pages read, want 3 (Link next)", n)
	}
	if b.Cursor != newest {
		t.Fatalf("cursor %s, want newest id %s", b.Cursor, newest)
	}
	// Two new events: page 1 holds them and reaches the cursor; no page 2.
	fake.PlantPush("octo/new", "n", newKey(t, keyformat.Restricted)+"\n")
	fake.PlantEvent("ForkEvent", "a/b", map[string]any{})
	b2, err := src.Poll(ctx, b.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	if n := fake.RequestsTo("/events"); b2.Items != 2 || n != 4 || len(kit.Pub.Hits()) != 6 {
		t.Fatalf("second poll: items %d, event requests %d, hits %d", b2.Items, n, len(kit.Pub.Hits()))
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reset := time.Now().Add(7 * time.Minute).Truncate(time.Second)
	tests := []struct {
		name   string
		answer http.HandlerFunc
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
			fake := fakeupstream.NewGitHub(t)
			kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
			fake.PlantEvent("WatchEvent", "a/b", nil)
			fake.AnswerNext(tc.answer)
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
			fake.AnswerNext(tc.answer)
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

// The fake's own primary rate limit: 60 requests an hour without a token.
// Past it the source parks until the reset GitHub names.
func TestUnauthenticatedBudgetRunsOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	fake.SetRateLimit(3, 5000, time.Hour)
	for i := range 3 {
		fake.PlantPush("octo/busy"+strconv.Itoa(i), "f", "x\n")
	}
	src, err := github.New(github.Config{APIURL: fake.URL(), Concurrency: 1}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Poll(ctx, "")
	var rl *httpx.RateLimitedError
	if !errors.As(err, &rl) || time.Until(rl.Until) < 55*time.Minute {
		t.Fatalf("err %v, want a rate limit until the reset about an hour away", err)
	}
	// x-ratelimit-remaining said 0 after the 3rd: no 4th request is sent
	// only to be refused.
	if fake.Requests() != 3 || fake.RateLimited() != 0 {
		t.Fatalf("%d requests, %d refused; want 3 and none", fake.Requests(), fake.RateLimited())
	}
}

func TestRateLimitMidBatchKeepsProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	src, err := github.New(github.Config{APIURL: fake.URL(), Concurrency: 1}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	// Primed by another source of the same process (same seen set), so
	// this one holds no ETag yet.
	cursor := primed(t, fake, newSource(t, fake, kit), "octo/rl")
	var ids []string
	for i := range 3 {
		ids = append(ids, fake.PlantPush("octo/rl", "f", "x"+strconv.Itoa(i)+"\n").EventID)
	}
	// events ok, compare 1 ok, compare 2 rate limited.
	fake.AnswerNext(nil)
	fake.AnswerNext(nil)
	fake.AnswerNext(retryAfter(60, http.StatusTooManyRequests))
	b, err := src.Poll(ctx, cursor)
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
	if fake.LastRequest("/events").Header.Get("If-None-Match") != "" {
		t.Fatal("an ETag from a failed poll was reused: the rest would never be read")
	}
}

func TestMalformedAndServerErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		answer http.HandlerFunc
	}{
		{"malformed JSON", status(200, `[{"id": "1", "type": "PushEvent", "payload": `)},
		{"not an array", status(200, `{"message":"hi"}`)},
		{"502", status(502, `<html>Bad gateway</html>`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakeupstream.NewGitHub(t)
			kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
			fake.AnswerNext(tc.answer)
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
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	fake.PlantEvent("WatchEvent", "a/b", nil)
	src := newSource(t, fake, kit)
	r := sources.NewRunner(src, sources.RunnerConfig{Interval: 5 * time.Second, BaseBackoff: time.Second, MaxBackoff: time.Minute},
		kit.Store, nil, kit.Metrics, nil)
	var waits []time.Duration
	for range 5 {
		fake.AnswerNext(status(503, `{"message":"Service Unavailable"}`))
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
		fake := fakeupstream.NewGitHub(t)
		kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
		fake.PlantPush("gone/repo", "x", newKey(t, keyformat.Secret)+"\n")
		fake.SetRepoStatus("gone/repo", code)
		id := fake.PlantPush("octo/live", "x", newKey(t, keyformat.Secret)+"\n").EventID
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
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	fake.SetMaxPatchBytes(10_000)
	src := newSource(t, fake, kit)
	cursor := primed(t, fake, src, "octo/big")
	key := newKey(t, keyformat.Secret)
	big := strings.Repeat("filler line\n", 5000) + "KEY=" + key + "\n"
	fake.PushCommits("octo/big", "main", []fakeupstream.Change{
		{Path: "data/big.txt", Content: big},
		{Path: "logo.png", Content: "\x89PNG\r\n\x1a\n\x00\x00"},
	})
	if _, err := src.Poll(ctx, cursor); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 || hits[0].Location.Line != 5001 {
		t.Fatalf("hits %+v", hits)
	}
	// The raw host is the fake itself here (same host as the API), so the
	// token may go; a different host never gets it (see rawFile). The
	// image is not fetched.
	if n := fake.RequestsTo("/raw.githubusercontent.com/"); n != 1 {
		t.Fatalf("%d raw files fetched, want the big text file only", n)
	}
}

func TestSameHeadScannedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	src := newSource(t, fake, kit)
	cursor := primed(t, fake, src, "octo/d")
	push := fake.PlantPush("octo/d", "x", "y\n")
	b, err := src.Poll(ctx, cursor)
	if err != nil {
		t.Fatal(err)
	}
	calls := fake.RequestsTo("/repos/octo/d/")
	fake.PushRef("octo/d", "release", push.Commit) // the same head seen again (another ref)
	if _, err := src.Poll(ctx, b.Cursor); err != nil {
		t.Fatal(err)
	}
	if n := fake.RequestsTo("/repos/octo/d/"); n != calls {
		t.Fatalf("%d more repository calls for a head already scanned", n-calls)
	}
	if isNew, _ := kit.Store.MarkSeen(ctx, "github", "octo/d@"+push.Commit); isNew {
		t.Fatal("head not recorded in the store")
	}
}

func TestPublishFailureDoesNotMarkSeenOrAdvance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	key := newKey(t, keyformat.Secret)
	fake.PlantPush("octo/pf", "x", key+"\n")
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

// GitHub Enterprise Server and events from before October 2025 list the
// push's commits in the payload (and may lack head).
func TestOldFormatPayloadWithCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	key := newKey(t, keyformat.Secret)
	c := fake.Commit("octo/old", []fakeupstream.Change{{Path: "a", Content: "a\n" + key + "\n"}})
	fake.PlantEvent("PushEvent", "octo/old", map[string]any{"push_id": 1, "size": 1, "distinct_size": 1, "ref": "refs/heads/main",
		"commits": []map[string]any{{"sha": c[0], "message": "m", "distinct": true,
			"author": map[string]any{"name": "a", "email": "a@example.com"}}}})
	src := newSource(t, fake, kit)
	if _, err := src.Poll(ctx, ""); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 || hits[0].Location.Commit != c[0] || hits[0].Location.Line != 2 {
		t.Fatalf("hits %+v", hits)
	}
}

func TestRunnerRestartResumesWithoutGapOrRepeat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	path := t.TempDir() + "/lg.db"
	store := sourcetest.StoreAt(t, path)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, store)
	fake.PlantPush("octo/rs", "README.md", "rs\n")
	addPush := func() { fake.PlantPush("octo/rs", "k", newKey(t, keyformat.Secret)+"\n") }
	for range 3 {
		addPush()
	}
	src := newSource(t, fake, kit)
	r := sources.NewRunner(src, sources.RunnerConfig{Interval: time.Second}, store, nil, nil, nil)
	if _, err := r.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// The process stops; two more pushes happen; a new process (new source,
	// no ETag, a fresh memory) starts on the same store and bus.
	_ = store.Close()
	for range 2 {
		addPush()
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
	if n := fake.RequestsTo("/repos/octo/rs/compare"); n != 5 {
		t.Fatalf("%d compares, want 5", n)
	}
}

func TestArchivePushedWithoutPatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	key := newKey(t, keyformat.Secret)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("config/.env")
	_, _ = w.Write([]byte("A=1\nKEY=" + key + "\n"))
	_ = zw.Close()
	src := newSource(t, fake, kit)
	cursor := primed(t, fake, src, "octo/zip")
	push := fake.PlantPush("octo/zip", "dist/bundle.zip", buf.String())
	if _, err := src.Poll(ctx, cursor); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 {
		t.Fatalf("hits %+v", hits)
	}
	want := leakguard.Location{URL: "https://github.com/octo/zip/blob/" + push.Commit + "/dist/bundle.zip",
		Repository: "octo/zip", Commit: push.Commit, Path: "dist/bundle.zip!config/.env", Line: 2}
	if hits[0].Location != want {
		t.Fatalf("location\n got %+v\nwant %+v", hits[0].Location, want)
	}
}

func TestPoisonEventIsSkippedAfterRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	// Every call about the first push's repository fails with 500; the
	// second push is fine.
	fake.PlantPush("octo/poison", "x", "y\n")
	fake.SetRepoStatus("octo/poison", 500)
	good := fake.PlantPush("octo/good", "k", newKey(t, keyformat.Secret)+"\n").EventID
	src := newSource(t, fake, kit)
	var cursor string
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
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	src := newSource(t, fake, kit)
	cursor := primed(t, fake, src, "octo/bad")
	id := fake.PlantPush("octo/bad", "x", "y\n").EventID
	fake.AnswerNext(nil)
	fake.AnswerNext(status(200, `{"files": "not a list"}`))
	b, err := src.Poll(ctx, cursor)
	if err != nil || b.Cursor != id {
		t.Fatalf("batch %+v err %v", b, err)
	}
}

// A GitHub Enterprise Server answer names its own web host in html_url
// and may leave blob_url out: hits point at that host.
func TestLocationFromHTMLURLWhenNoBlobURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	key := newKey(t, keyformat.Secret)
	src := newSource(t, fake, kit)
	cursor := primed(t, fake, src, "octo/h")
	push := fake.PlantPush("octo/h", "a/b.txt", "z\n")
	fake.AnswerNext(nil)
	fake.AnswerNext(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"html_url": "https://ghe.example.com/octo/h/compare/" + push.Before + "..." + push.Commit,
			"files":    []map[string]any{{"filename": "a/b.txt", "status": "modified", "additions": 1, "patch": "@@ -1 +1 @@\n+" + key}},
		})
	})
	if _, err := src.Poll(ctx, cursor); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 || hits[0].Location.URL != "https://ghe.example.com/octo/h/blob/"+push.Commit+"/a/b.txt#L1" {
		t.Fatalf("hits %+v", hits)
	}
}

// rateLimited answers like GitHub's primary rate limit.
func rateLimited(reset time.Time, code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("X-RateLimit-Limit", "60")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Used", "60")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		w.Header().Set("X-RateLimit-Resource", "core")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"message":"API rate limit exceeded for 203.0.113.7. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}`))
	}
}

// retryAfter answers like GitHub's secondary rate limit.
func retryAfter(secs int, code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`))
	}
}

func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

// rewriteTransport sends every request to the fake, whatever its host, so
// a source configured with the real API URL can be tested.
type rewriteTransport struct{ target *url.URL }

func (rt rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = rt.target.Scheme, rt.target.Host
	r.Host = rt.target.Host
	return http.DefaultTransport.RoundTrip(r)
}
