package npm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/sources"
)

func slogJSON(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

// assertNoPlaintext fails when a key appears in hits or logs.
func assertNoPlaintext(t *testing.T, h *harness, keys ...string) {
	t.Helper()
	b, _ := json.Marshal(h.pub.all())
	for _, k := range keys {
		if strings.Contains(string(b), k) {
			t.Errorf("a hit carries the plaintext key")
		}
		if strings.Contains(h.logs.String(), k) {
			t.Errorf("the log carries the plaintext key")
		}
	}
}

func poll(t *testing.T, h *harness, cursor string) sources.Batch {
	t.Helper()
	b, err := h.src.Poll(context.Background(), cursor)
	if err != nil {
		t.Fatalf("Poll(%q): %v", cursor, err)
	}
	return b
}

func TestPollFeedPagesScopedAndDeleted(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 3})
	k1, k2 := newKey(t), newKey(t)
	h.fake.addPackage("leaky-lib", "1.0.0", fakeVersion{version: "1.0.0", published: t0,
		tgz: tgz(t, "package/package.json", `{"name":"leaky-lib"}`, "package/index.js", "// config\nconst a = 1;\nconst key = \""+k1+"\";\n")})
	h.fake.addPackage("@acme/tool", "2.1.0", fakeVersion{version: "2.1.0", published: t0,
		tgz: tgz(t, "package/lib/config.json", "{\n  \"apiKey\": \""+k2+"\"\n}\n")})
	h.fake.addPackage("clean", "0.1.0", fakeVersion{version: "0.1.0", published: t0, tgz: tgz(t, "package/index.js", "module.exports = 1\n")})
	h.fake.addChange(101, "_design/app", false)
	h.fake.addChange(102, "leaky-lib", false)
	h.fake.addChange(103, "gone-pkg", true)
	h.fake.addChange(104, "@acme/tool", false)
	h.fake.addChange(105, "clean", false)

	b := poll(t, h, "")
	if b.Cursor != "103" {
		t.Fatalf("first page cursor = %q, want 103 (last_seq of the page)", b.Cursor)
	}
	if got := h.pub.all(); len(got) != 1 {
		t.Fatalf("after page 1: %d hits, want 1", len(got))
	}
	b = poll(t, h, b.Cursor)
	if b.Cursor != "105" {
		t.Fatalf("second page cursor = %q, want 105", b.Cursor)
	}
	b = poll(t, h, b.Cursor)
	if b.Cursor != "" {
		t.Fatalf("drained feed moved the cursor to %q", b.Cursor)
	}
	if h.fake.count("/gone-pkg") != 0 || h.fake.count("/_design%2Fapp") != 0 || h.fake.count("/_design/app") != 0 {
		t.Error("a deleted package or design doc was fetched")
	}
	if h.fake.count("/@acme%2ftool") != 1 {
		t.Errorf("scoped package document not fetched as /@acme%%2ftool")
	}

	hits := h.pub.all()
	if len(hits) != 2 {
		t.Fatalf("got %d hits, want 2: %+v", len(hits), hits)
	}
	want := []leakguard.Location{
		// The exact tarball at the configured registry, never npmjs.com's
		// page for a package that may not be there.
		{URL: strings.TrimSuffix(h.fake.URL(), "/") + "/leaky-lib/-/leaky-lib-1.0.0.tgz", Repository: "leaky-lib", Commit: "1.0.0", Path: "package/index.js", Line: 3},
		{URL: strings.TrimSuffix(h.fake.URL(), "/") + "/@acme/tool/-/tool-2.1.0.tgz", Repository: "@acme/tool", Commit: "2.1.0", Path: "package/lib/config.json", Line: 2},
	}
	for i, hit := range hits {
		if hit.Location != want[i] {
			t.Errorf("hit %d location = %+v, want %+v", i, hit.Location, want[i])
		}
		key := []string{k1, k2}[i]
		if hit.SecretSHA256 != sha(key) {
			t.Errorf("hit %d hash = %s, want sha256 of the key", i, hit.SecretSHA256)
		}
		if hit.Source != "npm" || hit.Rule != "leakguard-secret-key" || hit.Redacted == key || !strings.HasPrefix(hit.Redacted, "sk_live_") {
			t.Errorf("hit %d = %+v", i, hit)
		}
		if err := hit.Validate(); err != nil {
			t.Errorf("hit %d invalid: %v", i, err)
		}
	}
	assertNoPlaintext(t, h, k1, k2)
}

func TestStringSeqIsOpaque(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 1})
	k := newKey(t)
	h.fake.addPackage("a", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: tgz(t, "package/a.js", "x")})
	h.fake.addPackage("b", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: tgz(t, "package/b.js", k)})
	h.fake.addChange("41-g1AAAAFTeJzLYWBgYMpgTmHgz8tPSTV0MDQy", "a", false)
	h.fake.addChange("42-g1AAAAFTeJzLYWBgYMpgTmHgz8tPSTV0MDQz", "b", false)
	b := poll(t, h, "")
	if b.Cursor != `"41-g1AAAAFTeJzLYWBgYMpgTmHgz8tPSTV0MDQy"` {
		t.Fatalf("cursor = %s, want the raw JSON string token", b.Cursor)
	}
	b = poll(t, h, b.Cursor)
	if b.Cursor != `"42-g1AAAAFTeJzLYWBgYMpgTmHgz8tPSTV0MDQz"` || len(h.pub.all()) != 1 {
		t.Fatalf("cursor = %s, hits = %d", b.Cursor, len(h.pub.all()))
	}
	if _, err := h.src.Poll(context.Background(), "{not json"); err == nil {
		t.Error("a corrupt cursor was accepted")
	}
}

func TestNewestPublishedVersionIsScanned(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	// latest stays 1.0.0; 2.0.0-beta.1 was published after it and leaks.
	h.fake.addPackage("pre", "1.0.0",
		fakeVersion{version: "1.0.0", published: t0, tgz: tgz(t, "package/index.js", "clean")},
		fakeVersion{version: "2.0.0-beta.1", published: t0.Add(time.Hour), tgz: tgz(t, "package/index.js", "k="+k)},
		fakeVersion{version: "0.9.0", published: t0.Add(-time.Hour), tgz: tgz(t, "package/index.js", "old")},
	)
	h.fake.addChange(1, "pre", false)
	poll(t, h, "")
	hits := h.pub.all()
	if len(hits) != 1 || hits[0].Location.Commit != "2.0.0-beta.1" {
		t.Fatalf("hits = %+v, want one in 2.0.0-beta.1", hits)
	}
	if h.fake.count(tarballPath("pre", "1.0.0")) != 0 {
		t.Error("an older version's tarball was downloaded")
	}
}

func TestIntegrityMismatchPublishesNothing(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	good := tgz(t, "package/index.js", k)
	sum := sha512.Sum512(tgz(t, "package/index.js", "something else"))
	// The document promises another tarball's digest.
	h.fake.addPackageDoc(t, "tampered", "1.0.0", good, "sha512-"+base64.StdEncoding.EncodeToString(sum[:]), "")
	h.fake.addChange(1, "tampered", false)
	b := poll(t, h, "")
	if len(h.pub.all()) != 0 {
		t.Fatalf("hits from a tarball whose integrity did not match: %+v", h.pub.all())
	}
	if b.Cursor != "1" {
		t.Errorf("cursor = %q: a bad tarball must not hold the feed", b.Cursor)
	}
	if !strings.Contains(h.logs.String(), "integrity mismatch") {
		t.Errorf("no integrity warning logged: %s", h.logs.String())
	}
	assertNoPlaintext(t, h, k)
}

func TestShasumFallback(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	body := tgz(t, "package/old.js", k)
	h.fake.addPackageDoc(t, "oldie", "0.0.1", body, "-", "")
	h.fake.addPackageDoc(t, "oldie-bad", "0.0.1", tgz(t, "package/old.js", k+" "), "-", strings.Repeat("ab", 20))
	h.fake.addChange(1, "oldie", false)
	h.fake.addChange(2, "oldie-bad", false)
	poll(t, h, "")
	hits := h.pub.all()
	if len(hits) != 1 || hits[0].Location.Repository != "oldie" {
		t.Fatalf("hits = %+v, want one from oldie (sha1 checked), none from oldie-bad", hits)
	}
}

func TestTruncatedGzipIsReportedAndBatchContinues(t *testing.T) {
	h := newHarness(t, Config{Concurrency: 1})
	k1, k2 := newKey(t), newKey(t)
	whole := tgz(t, "package/index.js", strings.Repeat("filler line\n", 5000)+k1)
	cut := whole[:len(whole)/2]
	h.fake.addPackageDoc(t, "cut", "1.0.0", cut, "", "") // integrity of the cut bytes: only the gzip is broken
	h.fake.addPackage("after", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: tgz(t, "package/x.js", k2)})
	h.fake.addChange(1, "cut", false)
	h.fake.addChange(2, "after", false)
	b := poll(t, h, "")
	if b.Cursor != "2" {
		t.Fatalf("cursor = %q, want 2", b.Cursor)
	}
	hits := h.pub.all()
	if len(hits) != 1 || hits[0].Location.Repository != "after" {
		t.Fatalf("hits = %+v, want only the one from the package after the broken one", hits)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "unexpected EOF") || !strings.Contains(logs, `"package":"cut"`) {
		t.Errorf("the truncated tarball was not reported clearly: %s", logs)
	}
}

func TestDotDotEntryIsOnlyAName(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	dir := t.TempDir()
	t.Chdir(dir)
	h.fake.addPackage("evil", "1.0.0", fakeVersion{version: "1.0.0", published: t0,
		tgz: tgz(t, "../../escape.js", "k = '"+k+"'\n", "package/../../../tmp/escape2.js", k)})
	h.fake.addChange(1, "evil", false)
	poll(t, h, "")
	hits := h.pub.all()
	if len(hits) != 2 || hits[0].Location.Path != "../../escape.js" || hits[1].Location.Path != "package/../../../tmp/escape2.js" {
		t.Fatalf("hits = %+v, want the member names as given", hits)
	}
	for _, p := range []string{"../../escape.js", "../escape.js", "escape.js"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written to disk", p)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("files appeared in the working directory: %v", ents)
	}
}

func TestMalformedJSON(t *testing.T) {
	t.Run("feed", func(t *testing.T) {
		h := newHarness(t, Config{})
		h.fake.SetFeedBody([]byte(`{"results":[{"seq":1,"id":"a"`))
		b, err := h.src.Poll(context.Background(), "7")
		if err == nil || b.Cursor != "" {
			t.Fatalf("Poll = %+v, %v; want an error and no cursor move", b, err)
		}
		if !strings.Contains(err.Error(), "decode") {
			t.Errorf("error does not say what was wrong: %v", err)
		}
	})
	t.Run("feed seq", func(t *testing.T) {
		h := newHarness(t, Config{})
		h.fake.SetFeedBody([]byte(`{"results":[{"seq":{"x":1},"id":"a","changes":[]}],"last_seq":1}`))
		if _, err := h.src.Poll(context.Background(), ""); err == nil {
			t.Fatal("an object seq was accepted")
		}
	})
	t.Run("document", func(t *testing.T) {
		h := newHarness(t, Config{})
		k := newKey(t)
		h.fake.addPackage("ok", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: tgz(t, "package/i.js", k)})
		h.fake.SetDocument("broken", []byte(`{"name":"broken","versions":{"1.0.0":{"dist":`), nil)
		h.fake.addChange(1, "broken", false)
		h.fake.addChange(2, "ok", false)
		b := poll(t, h, "")
		if b.Cursor != "2" || len(h.pub.all()) != 1 {
			t.Fatalf("cursor %q, %d hits; a broken document must be skipped, not stop the feed", b.Cursor, len(h.pub.all()))
		}
		if !strings.Contains(h.logs.String(), "decode") {
			t.Errorf("no warning about the broken document: %s", h.logs.String())
		}
	})
}

func TestDedupeByIntegrity(t *testing.T) {
	h := newHarness(t, Config{Concurrency: 1})
	k := newKey(t)
	body := tgz(t, "package/index.js", k)
	h.fake.addPackage("same", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: body})
	h.fake.addPackage("same-copy", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: body})
	h.fake.addChange(1, "same", false)
	h.fake.addChange(2, "same-copy", false) // the very same tarball under another name
	h.fake.addChange(3, "same", false)      // and a metadata-only change, in the same page
	poll(t, h, "")
	if n := h.fake.count(tarballPath("same", "1.0.0")) + h.fake.count(tarballPath("same-copy", "1.0.0")); n != 1 {
		t.Fatalf("tarball downloaded %d times, want 1", n)
	}
	if h.fake.count("/same") != 1 {
		t.Errorf("a package changed twice in one page was fetched %d times", h.fake.count("/same"))
	}
	if len(h.pub.all()) != 1 {
		t.Fatalf("%d hits, want 1", len(h.pub.all()))
	}
}

func TestRateLimitedDocument(t *testing.T) {
	h := newHarness(t, Config{Concurrency: 1})
	k := newKey(t)
	h.fake.addPackage("first", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: tgz(t, "package/i.js", k)})
	h.fake.addPackage("limited", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: tgz(t, "package/i.js", "x")})
	h.fake.SetDocumentStatus("limited", http.StatusTooManyRequests, http.Header{"Retry-After": {"120"}})
	h.fake.addChange(10, "first", false)
	h.fake.addChange(11, "limited", false)
	before := time.Now()
	b, err := h.src.Poll(context.Background(), "")
	var rl *httpx.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want a RateLimitedError", err)
	}
	if d := rl.Until.Sub(before); d < 119*time.Second || d > 125*time.Second {
		t.Errorf("Until is %v away, want Retry-After's 120s", d)
	}
	if b.Cursor != "10" || len(h.pub.all()) != 1 {
		t.Errorf("cursor %q with %d hits; want progress up to the limited package", b.Cursor, len(h.pub.all()))
	}
}

func TestTransientFailureIsRetriedNotLost(t *testing.T) {
	h := newHarness(t, Config{Concurrency: 1})
	k1, k2 := newKey(t), newKey(t)
	h.fake.addPackage("one", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: tgz(t, "package/i.js", k1)})
	body := tgz(t, "package/i.js", k2)
	h.fake.addPackage("flaky", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: body})
	p := tarballPath("flaky", "1.0.0")
	var fail atomic.Bool
	fail.Store(true)
	h.fake.SetTarball(p, func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "upstream timeout", http.StatusBadGateway)
			return
		}
		w.Write(body)
	})
	h.fake.addChange(1, "one", false)
	h.fake.addChange(2, "flaky", false)
	b := poll(t, h, "")
	if b.Cursor != "1" {
		t.Fatalf("cursor = %q, want 1: the failed package must be retried", b.Cursor)
	}
	fail.Store(false)
	b = poll(t, h, b.Cursor)
	if b.Cursor != "2" || len(h.pub.all()) != 2 {
		t.Fatalf("after retry: cursor %q, %d hits", b.Cursor, len(h.pub.all()))
	}
	// A failure on the first package of a page is an error for the runner's backoff.
	h.fake.addPackage("down", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: tgz(t, "package/i.js", "x")})
	h.fake.SetDocumentStatus("down", http.StatusServiceUnavailable, nil)
	h.fake.addChange(3, "down", false)
	if b, err := h.src.Poll(context.Background(), "2"); err == nil || b.Cursor != "" {
		t.Fatalf("Poll = %+v, %v; want an error without progress", b, err)
	}
}

func TestPublishFailureKeepsCursor(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	h.fake.addPackage("p", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: tgz(t, "package/i.js", k)})
	h.fake.addChange(1, "p", false)
	h.pub.fail = errors.New("bus down")
	if b, err := h.src.Poll(context.Background(), ""); err == nil || b.Cursor != "" {
		t.Fatalf("Poll = %+v, %v; want an error and no cursor", b, err)
	}
	h.pub.fail = nil
	poll(t, h, "")
	if len(h.pub.all()) != 1 {
		t.Fatal("the hit was lost after the bus recovered")
	}
}

func TestTarballOverLimitIsSkipped(t *testing.T) {
	h := newHarness(t, Config{MaxTarballBytes: 1024})
	k := newKey(t)
	noise := make([]byte, 4096)
	rand.Read(noise)
	big := tgz(t, "package/i.js", k+"\n"+hex.EncodeToString(noise))
	h.fake.addPackage("big", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: big})
	h.fake.addChange(1, "big", false)
	b := poll(t, h, "")
	if b.Cursor != "1" || len(h.pub.all()) != 0 {
		t.Fatalf("cursor %q, hits %d", b.Cursor, len(h.pub.all()))
	}
	if !strings.Contains(h.logs.String(), "limit") {
		t.Errorf("no warning about the size limit: %s", h.logs.String())
	}
}

func TestUnpublishedPackageIsSkipped(t *testing.T) {
	h := newHarness(t, Config{})
	h.fake.SetDocument("unpub", []byte(`{"_id":"unpub","name":"unpub","time":{"created":"2020-01-01T00:00:00.000Z","modified":"2021-01-01T00:00:00.000Z","unpublished":{"time":"2021-01-01T00:00:00.000Z","versions":["1.0.0"]}}}`), nil)
	h.fake.addChange(1, "unpub", false)
	h.fake.addChange(2, "missing", false)
	if b := poll(t, h, ""); b.Cursor != "2" {
		t.Fatalf("cursor = %q", b.Cursor)
	}
}

func TestHugeDocumentFallsBackToAbbreviated(t *testing.T) {
	h := newHarness(t, Config{MaxDocBytes: 600})
	k := newKey(t)
	h.fake.addPackage("huge", "3.0.0", fakeVersion{version: "3.0.0", published: t0, tgz: tgz(t, "package/i.js", k)})
	var doc map[string]any
	json.Unmarshal(h.fake.Document("huge"), &doc)
	doc["readme"] = strings.Repeat("long readme ", 200)
	full, _ := json.Marshal(doc)
	h.fake.SetDocument("huge", full, abbreviatedOf(t, h.fake, "huge"))
	h.fake.addChange(1, "huge", false)
	poll(t, h, "")
	if len(h.pub.all()) != 1 {
		t.Fatalf("hits = %d, want 1 via the abbreviated document", len(h.pub.all()))
	}
	if a := h.fake.LastAccept("/huge"); !strings.HasPrefix(a, "application/vnd.npm.install-v1+json") {
		t.Errorf("last Accept = %q", a)
	}
}

func TestNewestVersion(t *testing.T) {
	raw := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	v := versionDoc{}
	cases := []struct {
		name string
		doc  packument
		want string
	}{
		{"by time", packument{DistTags: map[string]string{"latest": "1.0.0"},
			Versions: map[string]versionDoc{"1.0.0": v, "1.1.0-rc.1": v},
			Time:     map[string]json.RawMessage{"1.0.0": raw("2026-01-01T00:00:00.000Z"), "1.1.0-rc.1": raw("2026-02-01T00:00:00.000Z"), "modified": raw("2026-03-01T00:00:00.000Z")}}, "1.1.0-rc.1"},
		{"tie goes to latest", packument{DistTags: map[string]string{"latest": "1.0.0"},
			Versions: map[string]versionDoc{"1.0.0": v, "2.0.0": v},
			Time:     map[string]json.RawMessage{"1.0.0": raw("2026-01-01T00:00:00.000Z"), "2.0.0": raw("2026-01-01T00:00:00.000Z")}}, "1.0.0"},
		{"no time map", packument{DistTags: map[string]string{"latest": "3.0.0"}, Versions: map[string]versionDoc{"3.0.0": v, "4.0.0": v}}, "3.0.0"},
		{"unpublished version in time only", packument{DistTags: map[string]string{"latest": "1.0.0"},
			Versions: map[string]versionDoc{"1.0.0": v},
			Time:     map[string]json.RawMessage{"1.0.0": raw("2026-01-01T00:00:00.000Z"), "9.9.9": raw("2026-09-01T00:00:00.000Z")}}, "1.0.0"},
		{"nothing", packument{}, ""},
	}
	for _, c := range cases {
		if got := newestVersion(c.doc); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestParseIntegrity(t *testing.T) {
	sha512Zero := "sha512-" + strings.Repeat("A", 86) + "=="
	cases := []struct {
		sri, shasum, want string
		err               bool
	}{
		{sri: sha512Zero, want: "sha512"},
		{sri: "sha1-" + "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" + " " + sha512Zero, want: "sha512"},
		{sri: sha512Zero + "?foo", want: "sha512"},
		{sri: "md5-AAAAAAAAAAAAAAAAAAAAAA==", shasum: strings.Repeat("0", 40), want: "sha1"},
		{shasum: strings.Repeat("a", 40), want: "sha1"},
		{sri: "md5-AAAAAAAAAAAAAAAAAAAAAA==", err: true},
		{shasum: "xyz", err: true},
		{err: true},
		{sri: "sha512-short", err: true},
	}
	for _, c := range cases {
		got, err := parseIntegrity(c.sri, c.shasum)
		if (err != nil) != c.err || (err == nil && got.algo != c.want) {
			t.Errorf("parseIntegrity(%q, %q) = %v, %v", c.sri, c.shasum, got.algo, err)
		}
	}
}

func TestEscapeName(t *testing.T) {
	for in, want := range map[string]string{"left-pad": "left-pad", "@babel/core": "@babel%2fcore", "@a/b.c": "@a%2fb.c"} {
		if got := escapeName(in); got != want {
			t.Errorf("escapeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSeqString(f *testing.F) {
	for _, s := range []string{`1`, `"1-abc"`, `1e3`, `null`, `{}`, `"`, ``, `-0`, `"\u0000"`, `[1]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := seqString(json.RawMessage(s))
		if err == nil && v == "" {
			t.Fatalf("seqString(%q) accepted an empty seq", s)
		}
		if err == nil {
			// What the feed gave must work as a stored cursor.
			if got, err := sinceParam(s); err != nil || got != v {
				t.Fatalf("sinceParam(%q) = %q, %v; want %q", s, got, err, v)
			}
		}
	})
}

func FuzzParseIntegrity(f *testing.F) {
	f.Add("sha512-"+strings.Repeat("A", 86)+"==", "")
	f.Add("sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA= sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "")
	f.Add("", strings.Repeat("ab", 20))
	f.Add("sha512-?", "zz")
	f.Fuzz(func(t *testing.T, sri, shasum string) {
		got, err := parseIntegrity(sri, shasum)
		if err == nil && len(got.sum) != newHash(got.algo).Size() {
			t.Fatalf("digest of %d bytes for %s", len(got.sum), got.algo)
		}
	})
}

func FuzzFeedPage(f *testing.F) {
	f.Add([]byte(`{"results":[{"seq":1,"id":"a","changes":[{"rev":"1-x"}]}],"last_seq":1}`))
	f.Add([]byte(`{"results":[{"seq":"2-g1","id":"@s/p","changes":[],"deleted":true}],"last_seq":"2-g1","pending":0}`))
	f.Add([]byte(`{"results":null,"last_seq":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var page changesPage
		if decodeJSON(strings.NewReader(string(body)), 1<<20, "feed", &page) != nil {
			return
		}
		if c := lastSeq(page); c != "" {
			if _, err := sinceParam(c); err != nil {
				// last_seq may be unusable; then the last result's seq is used,
				// which Poll validated before.
				for _, r := range page.Results {
					if _, err := seqString(r.Seq); err != nil {
						return
					}
				}
				t.Fatalf("cursor %q from a valid page does not parse: %v", c, err)
			}
		}
	})
}

func TestBrokenNestedArchiveKeepsOtherHits(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	broken := string(tgz(t, "inner.js", "x"))[:40] // a truncated nested .tgz
	h.fake.addPackage("nest", "1.0.0", fakeVersion{version: "1.0.0", published: t0,
		tgz: tgz(t, "package/vendor/dep.tgz", broken, "package/index.js", "k=\""+k+"\"\n")})
	h.fake.addChange(1, "nest", false)
	poll(t, h, "")
	hits := h.pub.all()
	if len(hits) != 1 || hits[0].Location.Path != "package/index.js" {
		t.Fatalf("hits = %+v, want the key in index.js despite the broken nested archive", hits)
	}
}

func TestNestedArchivePath(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	inner := string(tgz(t, "lib/secret.js", "\n"+k))
	h.fake.addPackage("nest2", "1.0.0", fakeVersion{version: "1.0.0", published: t0,
		tgz: tgz(t, "package/vendor/dep.tgz", inner)})
	h.fake.addChange(1, "nest2", false)
	poll(t, h, "")
	hits := h.pub.all()
	if len(hits) != 1 || !strings.HasPrefix(hits[0].Location.Path, "package/vendor/dep.tgz!") || !strings.HasSuffix(hits[0].Location.Path, "lib/secret.js") || hits[0].Location.Line != 2 {
		t.Fatalf("hits = %+v, want package/vendor/dep.tgz!…lib/secret.js line 2", hits)
	}
}

func TestPoisonedPackageIsGivenUpOn(t *testing.T) {
	h := newHarness(t, Config{})
	h.fake.addPackage("poison", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: tgz(t, "package/i.js", "x")})
	h.fake.SetDocumentStatus("poison", http.StatusInternalServerError, nil)
	h.fake.addChange(1, "poison", false)
	for i := 0; i < maxAttempts-1; i++ {
		if b, err := h.src.Poll(context.Background(), ""); err == nil || b.Cursor != "" {
			t.Fatalf("poll %d: cursor %q, %v: gave up too early", i, b.Cursor, err)
		}
	}
	b, err := h.src.Poll(context.Background(), "")
	if err != nil || b.Cursor != "1" || !strings.Contains(h.logs.String(), "giving up") {
		t.Fatalf("after %d failures: cursor %q, %v", maxAttempts, b.Cursor, err)
	}
}

// A first start on a long feed begins at its head (npm's history is not
// replayed), persists it, and reads a backlog page after page without
// waiting; a short feed is read from its start.
func TestFirstPollStartsAtFeedHeadAndDrainsBacklog(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 2})
	h.fake.SetDBInfo(true)
	old, fresh1, fresh2 := newKey(t), newKey(t), newKey(t)
	for i, k := range []string{old, fresh1, fresh2} {
		name := []string{"old-pkg", "fresh-a", "fresh-b"}[i]
		h.fake.addPackage(name, "1.0.0", fakeVersion{version: "1.0.0", published: t0,
			tgz: tgz(t, "package/index.js", "const k = \""+k+"\";\n")})
	}
	h.fake.addChange(5, "old-pkg", false)
	h.fake.addChange(6, "old-pkg", false)
	h.fake.addChange(7, "old-pkg", false)

	b := poll(t, h, "")
	if b.Cursor != "7" || !b.More {
		t.Fatalf("first poll = %+v, want the head seq 7 as cursor and More", b)
	}
	if h.fake.count("/old-pkg") != 0 {
		t.Fatal("a package published before the first start was fetched")
	}
	h.fake.addChange(8, "fresh-a", false)
	h.fake.addChange(9, "fresh-b", false)
	h.fake.addChange(10, "_design/app", false)
	b = poll(t, h, b.Cursor)
	if b.Cursor != "9" || !b.More {
		t.Fatalf("full page = %+v, want cursor 9 and More", b)
	}
	b = poll(t, h, b.Cursor)
	if b.Cursor != "10" || b.More {
		t.Fatalf("last page = %+v, want cursor 10 and no More", b)
	}
	got := map[string]bool{}
	for _, hit := range h.pub.all() {
		got[hit.SecretSHA256] = true
	}
	if len(got) != 2 || !got[sha(fresh1)] || !got[sha(fresh2)] || got[sha(old)] {
		t.Fatalf("hits for %d keys; want exactly the two published after the start", len(got))
	}
}

func TestFirstPollReadsAShortFeedFromItsStart(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 10})
	h.fake.SetDBInfo(true)
	k := newKey(t)
	h.fake.addPackage("early", "1.0.0", fakeVersion{version: "1.0.0", published: t0,
		tgz: tgz(t, "package/index.js", "const k = \""+k+"\";\n")})
	h.fake.addChange(3, "early", false)
	if b := poll(t, h, ""); b.Cursor != "3" || b.More {
		t.Fatalf("first poll = %+v, want the short feed read (cursor 3, no More)", b)
	}
	if hits := h.pub.all(); len(hits) != 1 || hits[0].SecretSHA256 != sha(k) {
		t.Fatalf("hits = %+v, want the key published before the first start", hits)
	}
}

// A bus outage longer than the give-up limit loses nothing: the change is
// retried until the bus is back, then its hit goes out.
func TestBusOutageNeverSkipsAChange(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	h.fake.addPackage("leaky", "1.0.0", fakeVersion{version: "1.0.0", published: t0,
		tgz: tgz(t, "package/index.js", "const k = \""+k+"\";\n")})
	h.fake.addChange(1, "leaky", false)
	h.pub.mu.Lock()
	h.pub.fail = errors.New("nats: no responders available for request")
	h.pub.mu.Unlock()
	for i := 0; i < maxAttempts+2; i++ {
		b, err := h.src.Poll(context.Background(), "")
		if err == nil || b.Cursor != "" {
			t.Fatalf("poll %d with the bus down: cursor %q, err %v; want an error and no progress", i, b.Cursor, err)
		}
	}
	h.pub.mu.Lock()
	h.pub.fail = nil
	h.pub.mu.Unlock()
	if b := poll(t, h, ""); b.Cursor != "1" {
		t.Fatalf("after the bus came back: cursor %q, want 1", b.Cursor)
	}
	if hits := h.pub.all(); len(hits) != 1 || hits[0].SecretSHA256 != sha(k) {
		t.Fatalf("hits after the outage: %+v", hits)
	}
}
