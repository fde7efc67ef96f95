package github_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGitHub speaks the parts of GitHub's REST API the source uses, as
// GitHub does: GET /events (per_page/page, Link headers, ETag and
// If-None-Match → 304, X-Poll-Interval), GET /repos/{o}/{r}/compare/{b}...{h},
// GET /repos/{o}/{r}/commits/{sha}, raw files, rate limit answers.
type fakeGitHub struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	events   []map[string]any // newest first, as GitHub lists them
	commits  map[string]fakeCommit
	compares map[string][]fakeFile // "o/r base...head"
	raw      map[string]string     // path after /raw/
	gone     map[string]int        // repo → status (404, 451)
	fail     map[string]int        // repo → status every repo call answers
	requests []*http.Request
	// next answers, consumed in order, override the route for any request.
	next         []func(w http.ResponseWriter, r *http.Request)
	pollInterval int
}

type fakeFile struct {
	Name, Status, Patch string
	NoPatch             bool
	Raw                 string
	Additions           int // when the patch is left out
}

type fakeCommit struct {
	Repo  string
	SHA   string
	Files []fakeFile
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{t: t, commits: map[string]fakeCommit{}, compares: map[string][]fakeFile{},
		raw: map[string]string{}, gone: map[string]int{}, fail: map[string]int{}, pollInterval: 60}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) URL() string { return f.srv.URL + "/" }

func (f *fakeGitHub) do(fn func(f *fakeGitHub)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// count counts requests whose path has prefix.
func (f *fakeGitHub) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.HasPrefix(r.URL.Path, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeGitHub) lastRequest(prefix string) *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.requests) - 1; i >= 0; i-- {
		if strings.HasPrefix(f.requests[i].URL.Path, prefix) {
			return f.requests[i]
		}
	}
	return nil
}

var nextEventID = struct {
	sync.Mutex
	n int64
}{n: 40000000000}

// push adds a PushEvent in the October 2025 shape: ref, before, head only.
func (f *fakeGitHub) push(repo, before, head string) string {
	nextEventID.Lock()
	nextEventID.n++
	id := strconv.FormatInt(nextEventID.n, 10)
	nextEventID.Unlock()
	ev := map[string]any{
		"id":   id,
		"type": "PushEvent",
		"actor": map[string]any{"id": 583231, "login": "octocat", "display_login": "octocat",
			"url": "https://api.github.com/users/octocat"},
		"repo": map[string]any{"id": 1296269, "name": repo, "url": "https://api.github.com/repos/" + repo},
		"payload": map[string]any{"repository_id": 1296269, "push_id": 10115855396,
			"ref": "refs/heads/main", "head": head, "before": before},
		"public":     true,
		"created_at": time.Now().UTC().Format(time.RFC3339),
	}
	f.do(func(f *fakeGitHub) { f.events = append([]map[string]any{ev}, f.events...) })
	return id
}

// other adds an event of another type.
func (f *fakeGitHub) other(typ string) {
	nextEventID.Lock()
	nextEventID.n++
	id := strconv.FormatInt(nextEventID.n, 10)
	nextEventID.Unlock()
	ev := map[string]any{"id": id, "type": typ, "repo": map[string]any{"id": 1, "name": "a/b"},
		"payload": map[string]any{"action": "started"}, "public": true, "created_at": time.Now().UTC().Format(time.RFC3339)}
	f.do(func(f *fakeGitHub) { f.events = append([]map[string]any{ev}, f.events...) })
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:20])
}

func (f *fakeGitHub) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Remaining", "4999")
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	w.Header().Set("X-RateLimit-Resource", "core")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeGitHub) notFound(w http.ResponseWriter) {
	f.writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found",
		"documentation_url": "https://docs.github.com/rest", "status": "404"})
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Clone(r.Context()))
	var override func(http.ResponseWriter, *http.Request)
	if len(f.next) > 0 {
		override, f.next = f.next[0], f.next[1:]
	}
	f.mu.Unlock()
	if override != nil {
		override(w, r)
		return
	}
	if r.Header.Get("User-Agent") == "" {
		// GitHub rejects requests without a User-Agent.
		f.writeJSON(w, http.StatusForbidden, map[string]any{"message": "Request forbidden by administrative rules. Please make sure your request has a User-Agent header"})
		return
	}
	p := r.URL.Path
	switch {
	case p == "/events":
		f.serveEvents(w, r)
	case strings.HasPrefix(p, "/repos/"):
		f.serveRepo(w, r)
	case strings.HasPrefix(p, "/raw/"):
		f.mu.Lock()
		body, ok := f.raw[strings.TrimPrefix(p, "/raw/")]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(body))
	default:
		f.notFound(w)
	}
}

func (f *fakeGitHub) serveEvents(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	events := append([]map[string]any(nil), f.events...)
	interval := f.pollInterval
	f.mu.Unlock()
	if len(events) > 300 {
		events = events[:300] // the feed holds at most 300
	}
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if perPage <= 0 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page <= 0 {
		page = 1
	}
	lo := min((page-1)*perPage, len(events))
	hi := min(lo+perPage, len(events))
	body, _ := json.Marshal(events[lo:hi])
	sum := sha256.Sum256(body)
	etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("X-Poll-Interval", strconv.Itoa(interval))
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "public, max-age=60, s-maxage=60")
	w.Header().Set("Vary", "Accept, Accept-Encoding, Accept, X-Requested-With")
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	last := (len(events) + perPage - 1) / perPage
	var links []string
	link := func(n int, rel string) string {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		q := u.Query()
		q.Set("page", strconv.Itoa(n))
		u.RawQuery = q.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	if page > 1 {
		links = append(links, link(page-1, "prev"), link(1, "first"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-RateLimit-Remaining", "4999")
	_, _ = w.Write(body)
}

func (f *fakeGitHub) fileJSON(repo, ref string, ff fakeFile) map[string]any {
	status := ff.Status
	if status == "" {
		status = "modified"
	}
	m := map[string]any{
		"sha":          sha(ff.Name + ff.Patch + ff.Raw),
		"filename":     ff.Name,
		"status":       status,
		"additions":    max(ff.Additions, strings.Count("\n"+ff.Patch, "\n+")),
		"deletions":    strings.Count(ff.Patch, "\n-"),
		"changes":      1,
		"blob_url":     f.srv.URL + "/" + repo + "/blob/" + ref + "/" + ff.Name,
		"raw_url":      f.srv.URL + "/raw/" + repo + "/" + ref + "/" + ff.Name,
		"contents_url": f.srv.URL + "/repos/" + repo + "/contents/" + ff.Name + "?ref=" + ref,
	}
	if !ff.NoPatch {
		m["patch"] = ff.Patch
	}
	return m
}

func (f *fakeGitHub) serveRepo(w http.ResponseWriter, r *http.Request) {
	// /repos/{owner}/{repo}/{kind}/{rest}
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/repos/"), "/", 4)
	if len(parts) < 4 {
		f.notFound(w)
		return
	}
	repo := parts[0] + "/" + parts[1]
	f.mu.Lock()
	goneStatus := f.gone[repo]
	failStatus := f.fail[repo]
	f.mu.Unlock()
	if failStatus != 0 {
		f.writeJSON(w, failStatus, map[string]any{"message": "Server Error"})
		return
	}
	if goneStatus == http.StatusUnavailableForLegalReasons {
		f.writeJSON(w, goneStatus, map[string]any{"message": "Repository access blocked",
			"block": map[string]any{"reason": "dmca"}})
		return
	}
	if goneStatus != 0 {
		f.notFound(w)
		return
	}
	switch parts[2] {
	case "compare":
		base, head, ok := strings.Cut(parts[3], "...")
		if !ok {
			f.notFound(w)
			return
		}
		f.mu.Lock()
		files, ok := f.compares[repo+" "+base+"..."+head]
		f.mu.Unlock()
		if !ok {
			f.notFound(w)
			return
		}
		var fj []map[string]any
		for _, ff := range files {
			fj = append(fj, f.fileJSON(repo, head, ff))
		}
		f.writeJSON(w, http.StatusOK, map[string]any{
			"url":           f.srv.URL + "/repos/" + repo + "/compare/" + parts[3],
			"html_url":      f.srv.URL + "/" + repo + "/compare/" + parts[3],
			"permalink_url": f.srv.URL + "/" + repo + "/compare/" + parts[3],
			"status":        "ahead", "ahead_by": 1, "behind_by": 0, "total_commits": 1,
			"base_commit": map[string]any{"sha": base},
			"commits":     []map[string]any{{"sha": head, "commit": map[string]any{"message": "update"}}},
			"files":       fj,
		})
	case "commits":
		f.mu.Lock()
		c, ok := f.commits[repo+"@"+parts[3]]
		f.mu.Unlock()
		if !ok {
			f.writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "No commit found for SHA: " + parts[3]})
			return
		}
		var fj []map[string]any
		for _, ff := range c.Files {
			fj = append(fj, f.fileJSON(repo, c.SHA, ff))
		}
		f.writeJSON(w, http.StatusOK, map[string]any{
			"sha": c.SHA, "html_url": f.srv.URL + "/" + repo + "/commit/" + c.SHA,
			"commit": map[string]any{"message": "first"}, "files": fj,
			"stats": map[string]any{"total": 1, "additions": 1, "deletions": 0},
		})
	default:
		f.notFound(w)
	}
}

// rateLimited answers like GitHub's primary rate limit.
func rateLimited(reset time.Time, status int) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("X-RateLimit-Limit", "60")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Used", "60")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		w.Header().Set("X-RateLimit-Resource", "core")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"message":"API rate limit exceeded for 203.0.113.7. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}`))
	}
}

// retryAfter answers like GitHub's secondary rate limit.
func retryAfter(secs int, status int) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`))
	}
}

func status(code int, body string) func(w http.ResponseWriter, r *http.Request) {
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
