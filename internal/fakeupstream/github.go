package fakeupstream

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// GitHub is a fake of GitHub's REST API for the github and gists sources,
// backed by real git repositories (go-git, in memory), so commit SHAs are
// git's own and a repository can be cloned:
//
//   - GET /events: public events, newest first, at most 300, per_page
//     (default 30, at most 100) and page with Link headers, a weak ETag
//     answered with 304 on If-None-Match, X-Poll-Interval (60 unless set).
//     Pushes have the October 2025 payload (repository_id, push_id, ref,
//     head, before; no commits); a repository made public is a
//     PublicEvent.
//   - GET /repos/{owner}/{repo} (default_branch, clone_url, size),
//     GET /repos/{owner}/{repo}/commits?sha=&per_page=&page= (newest
//     first), GET /repos/{owner}/{repo}/commits/{sha} with files[] and
//     their unified-diff patch (none for binary content), and
//     GET /repos/{owner}/{repo}/compare/{base}...{head} (base and head are
//     SHAs or branch names; commits oldest first, paginated, files the net
//     change, listed on the first page only; 404 for an unknown
//     comparison, 422 for an unknown commit).
//   - the git smart-HTTP protocol (upload-pack) at clone_url,
//     /{owner}/{repo}.git, for a clone of a public repository.
//   - gists: GET /gists/public?since=, GET /gists/{id}, GET
//     /gists/{id}/commits, GET /gists/{id}/{sha} (history, one revision per
//     update).
//   - raw files, under /raw.githubusercontent.com/... and
//     /gist.githubusercontent.com/... on the fake itself, so nothing
//     reaches the real hosts.
//
// Every API answer carries x-ratelimit-* headers; SetRateLimit makes the
// primary rate limit bite (per token, or per address without one). A
// private repository answers 404, as GitHub answers a stranger. Requests
// without a User-Agent get 403, as GitHub answers them. Web addresses
// (html_url, blob_url) are github.com's, never fetched.
type GitHub struct {
	fault
	t   testing.TB
	srv *httptest.Server

	mu           sync.Mutex
	nextEvent    int64
	pushID       int64
	clock        int64            // seconds added to commit times, so SHAs differ
	events       []map[string]any // newest first, at most 300
	repos        map[string]*ghRepo
	commits      map[string]*ghCommit // "owner/repo@sha"
	gists        []*ghGist
	gistSeq      int
	pollInterval int
	requests     int
	paths        map[string]int  // request path → count
	log          []*http.Request // the last 1,000 requests, bodies left out
	next         []http.HandlerFunc
	repoStatus   map[string]int // owner/repo → status every repo call answers
	maxPatch     int            // patches longer than this are left out (0: 1 MiB)
	rate         rateLimit
}

type ghRepo struct {
	name     string // owner/name
	id       int64
	public   bool
	st       *memory.Storage
	branches map[string]string // branch → head sha
}

type ghCommit struct {
	repo, sha, message string
	parents            []string
	files              []ghFile
	tree               map[string]string // path → content at this commit
	when               time.Time
}

type ghFile struct {
	path, status, patch, content string
	binary                       bool
	additions, deletions         int
}

// Change is one file of a commit: Content written at Path, or the file
// removed when Delete is set.
type Change struct {
	Path    string
	Content string
	Delete  bool
}

// Push is what a Plant… call published.
type Push struct {
	Repo    string   // owner/name
	Ref     string   // refs/heads/<branch>
	Before  string   // previous head, or 40 zeros for a new branch
	Commit  string   // the pushed head commit
	Commits []string // every commit of the push, oldest first
	Path    string   // the last change's path
	BlobURL string   // https://github.com/owner/name/blob/<commit>/<path>
	EventID string
}

const zeroSHA = "0000000000000000000000000000000000000000"

// NewGitHub starts the fake; it stops when the test ends.
func NewGitHub(t testing.TB) *GitHub {
	g := &GitHub{t: t, nextEvent: 44000000000, pushID: 21000000000, repos: map[string]*ghRepo{},
		commits: map[string]*ghCommit{}, pollInterval: 60, paths: map[string]int{}, repoStatus: map[string]int{}}
	g.rate.init()
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

// URL is the API base, with a trailing slash (LEAKGUARD_GITHUB_API_URL).
func (g *GitHub) URL() string { return g.srv.URL + "/" }

// SetPollInterval sets the X-Poll-Interval answered on /events, in seconds
// (GitHub sends 60, more when busy).
func (g *GitHub) SetPollInterval(seconds int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pollInterval = seconds
}

// AnswerNext makes the next request, whatever it asks, answered by h
// instead (queued in call order): a rate-limit answer, a malformed body,
// a 503 storm. A nil h lets that request through as usual, so a test can
// break the third request of a poll.
func (g *GitHub) AnswerNext(h http.HandlerFunc) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.next = append(g.next, h)
}

// SetRepoStatus makes every /repos/{repo}/... call answer status: 404 for a
// deleted repository, 451 for one blocked (DMCA), 500 for a failing one; 0
// restores it.
func (g *GitHub) SetRepoStatus(repo string, status int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if status == 0 {
		delete(g.repoStatus, repo)
		return
	}
	g.repoStatus[repo] = status
}

// Requests counts requests served, broken ones included.
func (g *GitHub) Requests() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.requests
}

// RequestsTo counts requests whose path starts with prefix, such as
// "/repos/acme/shop/compare/".
func (g *GitHub) RequestsTo(prefix string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for p, c := range g.paths {
		if strings.HasPrefix(p, prefix) {
			n += c
		}
	}
	return n
}

// LastRequest is the newest request whose path starts with prefix, or nil.
func (g *GitHub) LastRequest(prefix string) *http.Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := len(g.log) - 1; i >= 0; i-- {
		if strings.HasPrefix(g.log[i].URL.Path, prefix) {
			return g.log[i]
		}
	}
	return nil
}

// RequestLog lists the newest requests (at most 1,000) whose path starts
// with prefix, oldest first.
func (g *GitHub) RequestLog(prefix string) []*http.Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*http.Request
	for _, r := range g.log {
		if strings.HasPrefix(r.URL.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func validRepo(repo string) bool {
	o, n, ok := strings.Cut(repo, "/")
	return ok && o != "" && n != "" && !strings.Contains(n, "/")
}

// repoLocked returns repo, creating it (public or not) when new.
func (g *GitHub) repoLocked(repo string, public bool) *ghRepo {
	if !validRepo(repo) {
		g.t.Fatalf("fakeupstream: repository %q is not owner/name", repo)
	}
	r, ok := g.repos[repo]
	if !ok {
		r = &ghRepo{name: repo, id: int64(binaryHash(repo) % 900000000), public: public,
			st: memory.NewStorage(), branches: map[string]string{}}
		_ = r.st.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName("main")))
		g.repos[repo] = r
	}
	return r
}

// PlantPush commits content at path in repo ("owner/name") on its main
// branch and pushes it: a PushEvent appears in the public events feed. The
// first push to a repository creates its branch (before is all zeros).
func (g *GitHub) PlantPush(repo, path, content string) Push {
	return g.PushCommits(repo, "main", []Change{{Path: path, Content: content}})
}

// PushCommits makes one commit per element of commits on branch (created
// from the default branch's head when new) and pushes them all at once:
// one PushEvent whose before and head span every commit.
func (g *GitHub) PushCommits(repo, branch string, commits ...[]Change) Push {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.repoLocked(repo, true)
	before := r.branches[branch]
	parent := before
	if parent == "" {
		parent = r.branches["main"]
	}
	p := Push{Repo: repo, Ref: "refs/heads/" + branch, Before: before}
	for _, ch := range commits {
		parent = g.commitLocked(r, parent, ch)
		p.Commits = append(p.Commits, parent)
		if len(ch) > 0 {
			p.Path = ch[len(ch)-1].Path
		}
	}
	if len(p.Commits) == 0 {
		g.t.Fatalf("fakeupstream: a push needs a commit")
	}
	p.Commit = parent
	r.branches[branch] = parent
	_ = r.st.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(branch), plumbing.NewHash(parent)))
	if p.Before == "" {
		p.Before = zeroSHA
	}
	p.BlobURL = "https://github.com/" + repo + "/blob/" + p.Commit + "/" + escapeSegments(p.Path)
	if r.public {
		p.EventID = g.addEventLocked(r, "PushEvent", map[string]any{"repository_id": r.id, "push_id": g.nextPushID(),
			"ref": p.Ref, "head": p.Commit, "before": p.Before})
	}
	return p
}

// SetMaxPatchBytes makes the API leave out the patch of a file whose diff
// is longer than n bytes, as GitHub does for large diffs (binary files
// never have one); the file is then only at its raw_url.
func (g *GitHub) SetMaxPatchBytes(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.maxPatch = n
}

// PushRef points branch of repo at an existing commit sha (a branch
// created at a commit already pushed): a PushEvent with before all zeros
// when the branch is new.
func (g *GitHub) PushRef(repo, branch, sha string) Push {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.repoLocked(repo, true)
	before := r.branches[branch]
	if before == "" {
		before = zeroSHA
	}
	r.branches[branch] = sha
	_ = r.st.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(branch), plumbing.NewHash(sha)))
	p := Push{Repo: repo, Ref: "refs/heads/" + branch, Before: before, Commit: sha}
	p.EventID = g.addEventLocked(r, "PushEvent", map[string]any{"repository_id": r.id, "push_id": g.nextPushID(),
		"ref": p.Ref, "head": sha, "before": before})
	return p
}

// Commit commits to the main branch of repo without any event (a push the
// feed never showed); the repository is created public when new. It
// returns the commits, oldest first.
func (g *GitHub) Commit(repo string, commits ...[]Change) []string {
	g.mu.Lock()
	_, exists := g.repos[repo]
	if !exists {
		g.repoLocked(repo, true)
	}
	g.mu.Unlock()
	return g.CommitPrivate(repo, commits...)
}

// CommitPrivate commits to the main branch of repo, created private when
// new: no event is published and the API answers 404 for it until
// MakePublic. It returns the commits, oldest first.
func (g *GitHub) CommitPrivate(repo string, commits ...[]Change) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.repoLocked(repo, false)
	parent := r.branches["main"]
	var out []string
	for _, ch := range commits {
		parent = g.commitLocked(r, parent, ch)
		out = append(out, parent)
	}
	r.branches["main"] = parent
	_ = r.st.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName("main"), plumbing.NewHash(parent)))
	return out
}

// MakePublic turns a private repository public: a PublicEvent appears in
// the feed. It returns the event id.
func (g *GitHub) MakePublic(repo string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.repos[repo]
	if !ok {
		g.t.Fatalf("fakeupstream: no repository %q", repo)
	}
	r.public = true
	return g.addEventLocked(r, "PublicEvent", map[string]any{})
}

// PlantEvent adds an event of another type (WatchEvent, ForkEvent…) for
// repo with payload.
func (g *GitHub) PlantEvent(typ, repo string, payload map[string]any) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := &ghRepo{name: repo, id: int64(binaryHash(repo) % 900000000)}
	if payload == nil {
		payload = map[string]any{"action": "started"}
	}
	return g.addEventLocked(r, typ, payload)
}

func (g *GitHub) nextPushID() int64 {
	g.pushID++
	return g.pushID
}

func (g *GitHub) addEventLocked(r *ghRepo, typ string, payload map[string]any) string {
	g.nextEvent++
	id := strconv.FormatInt(g.nextEvent, 10)
	owner, _, _ := strings.Cut(r.name, "/")
	ev := map[string]any{
		"id":   id,
		"type": typ,
		"actor": map[string]any{"id": 583231, "login": owner, "display_login": owner, "gravatar_id": "",
			"url": "https://api.github.com/users/" + owner, "avatar_url": "https://avatars.githubusercontent.com/u/583231?"},
		"repo":       map[string]any{"id": r.id, "name": r.name, "url": "https://api.github.com/repos/" + r.name},
		"payload":    payload,
		"public":     true,
		"created_at": time.Now().UTC().Format(time.RFC3339),
	}
	g.events = append(g.events, nil)
	copy(g.events[1:], g.events)
	g.events[0] = ev
	if len(g.events) > 300 {
		g.events = g.events[:300]
	}
	return id
}

func binaryHash(s string) uint64 {
	sum := sha256.Sum256([]byte(s))
	var n uint64
	for _, b := range sum[:8] {
		n = n<<8 | uint64(b)
	}
	return n
}

func escapeSegments(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func (g *GitHub) writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (g *GitHub) notFound(w http.ResponseWriter) {
	g.writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found",
		"documentation_url": "https://docs.github.com/rest", "status": "404"})
}

func (g *GitHub) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.requests++
	g.paths[r.URL.Path]++
	var override http.HandlerFunc
	if len(g.next) > 0 {
		override, g.next = g.next[0], g.next[1:]
	}
	if len(g.log) == 1000 {
		g.log = append(g.log[:0], g.log[500:]...)
	}
	cp := r.Clone(r.Context())
	cp.Body = nil
	g.log = append(g.log, cp)
	g.mu.Unlock()
	if g.intercept(w, r) {
		return
	}
	if override != nil {
		override(w, r)
		return
	}
	p := r.URL.Path
	if strings.HasSuffix(p, ".git/info/refs") || strings.HasSuffix(p, ".git/git-upload-pack") {
		g.serveGit(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		g.writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	if r.Header.Get("User-Agent") == "" {
		g.writeJSON(w, http.StatusForbidden, map[string]any{"message": "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes."})
		return
	}
	switch {
	case strings.HasPrefix(p, "/raw.githubusercontent.com/"):
		g.serveRaw(w, strings.TrimPrefix(p, "/raw.githubusercontent.com/"))
		return
	case strings.HasPrefix(p, "/gist.githubusercontent.com/"):
		g.serveGistRaw(w, strings.TrimPrefix(p, "/gist.githubusercontent.com/"))
		return
	}
	// The REST API: counted against the primary rate limit.
	if !g.rate.take(w, r, p == "/events" && r.Header.Get("If-None-Match") != "") {
		return
	}
	switch {
	case p == "/events":
		g.serveEvents(w, r)
	case p == "/gists/public":
		g.serveGists(w, r)
	case strings.HasPrefix(p, "/gists/"):
		g.serveGist(w, r)
	case strings.HasPrefix(p, "/repos/"):
		g.serveRepo(w, r)
	default:
		g.notFound(w)
	}
}

// page cuts items into GitHub's pages and sets the Link header.
func page[T any](w http.ResponseWriter, r *http.Request, items []T) []T {
	q := r.URL.Query()
	perPage, _ := strconv.Atoi(q.Get("per_page"))
	if perPage <= 0 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	n, _ := strconv.Atoi(q.Get("page"))
	if n <= 0 {
		n = 1
	}
	lo := min((n-1)*perPage, len(items))
	hi := min(lo+perPage, len(items))
	last := max((len(items)+perPage-1)/perPage, 1)
	link := func(p int, rel string) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		qq := r.URL.Query()
		qq.Set("page", strconv.Itoa(p))
		u.RawQuery = qq.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if n > 1 {
		links = append(links, link(n-1, "prev"), link(1, "first"))
	}
	if n < last {
		links = append(links, link(n+1, "next"), link(last, "last"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	return items[lo:hi]
}

func (g *GitHub) serveEvents(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	events := append([]map[string]any(nil), g.events...)
	interval := g.pollInterval
	g.mu.Unlock()
	sel := page(w, r, events)
	if sel == nil {
		sel = []map[string]any{}
	}
	body, _ := json.Marshal(sel)
	sum := sha256.Sum256(body)
	etag := fmt.Sprintf(`W/"%x"`, sum[:16])
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("X-Poll-Interval", strconv.Itoa(interval))
	h.Set("Cache-Control", "public, max-age=60, s-maxage=60")
	h.Set("Vary", "Accept, Accept-Encoding, Accept, X-Requested-With")
	if inm := r.Header.Get("If-None-Match"); inm != "" && (inm == etag || inm == strings.TrimPrefix(etag, "W/")) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Header.Get("If-None-Match") != "" {
		g.rate.charge(r) // a 200 costs a request, even when conditional
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

func (g *GitHub) fileJSON(repo, sha string, f ghFile) map[string]any {
	m := map[string]any{
		"sha":          blobSHA(f.content),
		"filename":     f.path,
		"status":       f.status,
		"additions":    f.additions,
		"deletions":    f.deletions,
		"changes":      f.additions + f.deletions,
		"blob_url":     "https://github.com/" + repo + "/blob/" + sha + "/" + escapeSegments(f.path),
		"raw_url":      g.srv.URL + "/raw.githubusercontent.com/" + repo + "/" + sha + "/" + escapeSegments(f.path),
		"contents_url": g.srv.URL + "/repos/" + repo + "/contents/" + escapeSegments(f.path) + "?ref=" + sha,
	}
	g.mu.Lock() // callers don't hold it
	limit := g.maxPatch
	g.mu.Unlock()
	if limit <= 0 {
		limit = 1 << 20
	}
	if !f.binary && len(f.patch) <= limit {
		m["patch"] = f.patch
	}
	return m
}

func (g *GitHub) commitJSON(c *ghCommit) map[string]any {
	owner, _, _ := strings.Cut(c.repo, "/")
	person := map[string]any{"name": owner, "email": owner + "@users.noreply.github.com", "date": c.when.UTC().Format(time.RFC3339)}
	parents := []map[string]any{}
	for _, p := range c.parents {
		parents = append(parents, map[string]any{"sha": p, "url": g.srv.URL + "/repos/" + c.repo + "/commits/" + p,
			"html_url": "https://github.com/" + c.repo + "/commit/" + p})
	}
	return map[string]any{
		"sha": c.sha, "node_id": "C_" + c.sha[:20],
		"url":      g.srv.URL + "/repos/" + c.repo + "/commits/" + c.sha,
		"html_url": "https://github.com/" + c.repo + "/commit/" + c.sha,
		"commit": map[string]any{"author": person, "committer": person, "message": c.message, "comment_count": 0,
			"tree": map[string]any{"sha": c.sha}},
		"author":  map[string]any{"login": owner, "id": 583231, "type": "User"},
		"parents": parents,
	}
}

// resolveLocked turns a SHA or a branch name of r into a commit.
func (g *GitHub) resolveLocked(r *ghRepo, ref string) (*ghCommit, bool) {
	if sha, ok := r.branches[ref]; ok {
		ref = sha
	}
	c, ok := g.commits[r.name+"@"+ref]
	return c, ok
}

// ancestorsLocked lists c and every commit it descends from, newest first
// (first parents; the fake makes no merges).
func (g *GitHub) ancestorsLocked(c *ghCommit) []*ghCommit {
	var out []*ghCommit
	for c != nil {
		out = append(out, c)
		if len(c.parents) == 0 {
			break
		}
		c = g.commits[c.repo+"@"+c.parents[0]]
	}
	return out
}

func (g *GitHub) serveRepo(w http.ResponseWriter, r *http.Request) {
	// /repos/{owner}/{repo}[/{kind}[/{rest}]]
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/repos/"), "/", 4)
	if len(parts) < 2 {
		g.notFound(w)
		return
	}
	name := parts[0] + "/" + parts[1]
	g.mu.Lock()
	repo, known := g.repos[name]
	known = known && repo.public
	status := g.repoStatus[name]
	g.mu.Unlock()
	switch {
	case status == http.StatusUnavailableForLegalReasons:
		g.writeJSON(w, status, map[string]any{"message": "Repository access blocked", "block": map[string]any{"reason": "dmca"}})
		return
	case status >= 500:
		g.writeJSON(w, status, map[string]any{"message": "Server Error"})
		return
	case status != 0 || !known:
		g.notFound(w)
		return
	}
	if len(parts) == 2 {
		g.serveRepoInfo(w, repo)
		return
	}
	switch {
	case parts[2] == "commits" && len(parts) == 3:
		g.serveCommitList(w, r, repo)
	case parts[2] == "commits":
		g.mu.Lock()
		c, ok := g.resolveLocked(repo, parts[3])
		g.mu.Unlock()
		if !ok {
			g.writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "No commit found for SHA: " + parts[3],
				"documentation_url": "https://docs.github.com/rest/commits/commits#get-a-commit", "status": "422"})
			return
		}
		files := []map[string]any{}
		add, del := 0, 0
		for _, f := range c.files {
			files = append(files, g.fileJSON(name, c.sha, f))
			add += f.additions
			del += f.deletions
		}
		m := g.commitJSON(c)
		m["files"] = files
		m["stats"] = map[string]any{"total": add + del, "additions": add, "deletions": del}
		g.writeJSON(w, http.StatusOK, m)
	case parts[2] == "compare" && len(parts) == 4:
		g.serveCompare(w, r, repo, parts[3])
	default:
		g.notFound(w)
	}
}

func (g *GitHub) serveRepoInfo(w http.ResponseWriter, r *ghRepo) {
	g.mu.Lock()
	size := 0
	for _, c := range g.commits {
		if c.repo == r.name {
			for _, f := range c.files {
				size += len(f.content)
			}
		}
	}
	g.mu.Unlock()
	owner, _, _ := strings.Cut(r.name, "/")
	g.writeJSON(w, http.StatusOK, map[string]any{
		"id": r.id, "node_id": fmt.Sprintf("R_%d", r.id), "name": strings.SplitN(r.name, "/", 2)[1], "full_name": r.name,
		"private": false, "visibility": "public", "fork": false,
		"owner":          map[string]any{"login": owner, "id": 583231, "type": "User"},
		"html_url":       "https://github.com/" + r.name,
		"url":            g.srv.URL + "/repos/" + r.name,
		"git_url":        "git://github.com/" + r.name + ".git",
		"clone_url":      g.srv.URL + "/" + r.name + ".git",
		"default_branch": "main",
		"size":           (size + 1023) / 1024, // KiB, as GitHub reports it
	})
}

func (g *GitHub) serveCommitList(w http.ResponseWriter, r *http.Request, repo *ghRepo) {
	ref := r.URL.Query().Get("sha")
	if ref == "" {
		ref = "main"
	}
	g.mu.Lock()
	head, ok := g.resolveLocked(repo, ref)
	var chain []*ghCommit
	if ok {
		chain = g.ancestorsLocked(head)
	}
	g.mu.Unlock()
	if !ok {
		g.notFound(w)
		return
	}
	out := []map[string]any{}
	for _, c := range page(w, r, chain) {
		out = append(out, g.commitJSON(c))
	}
	g.writeJSON(w, http.StatusOK, out)
}

func (g *GitHub) serveCompare(w http.ResponseWriter, r *http.Request, repo *ghRepo, basehead string) {
	baseRef, headRef, ok := strings.Cut(basehead, "...")
	if !ok {
		g.notFound(w)
		return
	}
	g.mu.Lock()
	base, okB := g.resolveLocked(repo, baseRef)
	head, okH := g.resolveLocked(repo, headRef)
	var chain []*ghCommit
	var mergeBase *ghCommit
	behind := 0
	if okB && okH {
		inBase := map[string]int{}
		for i, c := range g.ancestorsLocked(base) {
			inBase[c.sha] = i
		}
		for _, c := range g.ancestorsLocked(head) {
			if i, ok := inBase[c.sha]; ok {
				mergeBase, behind = c, i
				break
			}
			chain = append(chain, c)
		}
	}
	g.mu.Unlock()
	if !okB || !okH || mergeBase == nil {
		g.notFound(w)
		return
	}
	// Oldest first, as GitHub lists compare commits; files are the net
	// change from the merge base, the newest version of each path.
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	files := []map[string]any{}
	pageN, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if pageN <= 1 {
		byPath := map[string]ghFile{}
		var order []string
		for _, c := range chain {
			for _, f := range c.files {
				if _, ok := byPath[f.path]; !ok {
					order = append(order, f.path)
				}
				byPath[f.path] = f
			}
		}
		for _, p := range order {
			f := byPath[p]
			old, existed := mergeBase.tree[p]
			now, exists := head.tree[p]
			switch {
			case !existed && !exists:
				continue // added and removed within the range: no net change
			case !exists:
				f = ghFile{path: p, status: "removed", binary: isBinary(old)}
				f.patch, _, f.deletions = unifiedPatch(old, "", true)
			default:
				f = ghFile{path: p, status: "modified", content: now, binary: isBinary(now)}
				if !existed {
					f.status = "added"
				}
				if old == now {
					continue
				}
				f.patch, f.additions, f.deletions = unifiedPatch(old, now, existed)
			}
			files = append(files, g.fileJSON(repo.name, head.sha, f))
		}
	}
	commits := []map[string]any{}
	for _, c := range page(w, r, chain) {
		commits = append(commits, g.commitJSON(c))
	}
	status := "ahead"
	switch {
	case len(chain) == 0 && behind == 0:
		status = "identical"
	case len(chain) == 0:
		status = "behind"
	case behind > 0:
		status = "diverged"
	}
	self := g.srv.URL + "/repos/" + repo.name + "/compare/" + basehead
	web := "https://github.com/" + repo.name + "/compare/" + basehead
	g.writeJSON(w, http.StatusOK, map[string]any{
		"url": self, "html_url": web, "permalink_url": web, "diff_url": web + ".diff", "patch_url": web + ".patch",
		"base_commit": g.commitJSON(base), "merge_base_commit": g.commitJSON(mergeBase),
		"status": status, "ahead_by": len(chain), "behind_by": behind, "total_commits": len(chain),
		"commits": commits, "files": files,
	})
}

// serveRaw answers /raw.githubusercontent.com/{owner}/{repo}/{sha}/{path}.
func (g *GitHub) serveRaw(w http.ResponseWriter, rest string) {
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) < 4 {
		http.Error(w, "404: Not Found", http.StatusNotFound)
		return
	}
	path, _ := url.PathUnescape(parts[3])
	g.mu.Lock()
	var content string
	ok := false
	if r, known := g.repos[parts[0]+"/"+parts[1]]; known && r.public {
		if c, found := g.resolveLocked(r, parts[2]); found {
			content, ok = c.tree[path]
		}
	}
	g.mu.Unlock()
	if !ok {
		http.Error(w, "404: Not Found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(content))
}

// sortedKeys lists m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
