package fakeupstream

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
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
)

// GitHub is a fake of GitHub's REST API for the github and gists sources:
//
//   - GET /events: public events, newest first, at most 300, per_page
//     (default 30, at most 100) and page with Link headers, a weak ETag
//     answered with 304 on If-None-Match, X-Poll-Interval (60 unless set).
//     Pushes have the October 2025 payload: repository_id, push_id, ref,
//     head, before.
//   - GET /repos/{owner}/{repo}/commits/{sha} and
//     GET /repos/{owner}/{repo}/compare/{base}...{head}, with files[] and
//     their unified-diff patch (422 for an unknown commit, 404 for an
//     unknown repository or comparison).
//   - GET /gists/public?since=&per_page=&page=: most recently updated first,
//     Link headers, files without content and with a raw_url.
//   - raw files, under /raw.githubusercontent.com/... and
//     /gist.githubusercontent.com/... on the fake itself, so nothing
//     reaches the real hosts.
//
// Requests without a User-Agent get 403, as GitHub answers them. Web
// addresses (html_url, blob_url) are github.com's, never fetched.
type GitHub struct {
	fault
	t   testing.TB
	srv *httptest.Server

	mu           sync.Mutex
	nextEvent    int64
	pushID       int64
	events       []map[string]any // newest first
	heads        map[string]string
	commits      map[string]ghCommit          // "owner/repo@sha"
	files        map[string]map[string]string // "owner/repo@sha" → tree at that commit
	gists        []*ghGist
	gistSeq      int
	pollInterval int
	requests     int
	paths        map[string]int // request path → count
}

type ghCommit struct {
	repo, sha, parent, message string
	files                      []ghFile
}

type ghFile struct {
	path, status, patch, content string
	additions, deletions         int
}

type ghGist struct {
	id, owner, rev string
	created        time.Time
	updated        time.Time
	files          map[string]string
}

// Push is what PlantPush published.
type Push struct {
	Repo    string // owner/name
	Before  string // previous head, or 40 zeros for a new branch
	Commit  string // the pushed head commit
	Path    string
	BlobURL string // https://github.com/owner/name/blob/<commit>/<path>
	EventID string
}

// Gist is what PlantGist published.
type Gist struct {
	ID      string
	Owner   string
	HTMLURL string // https://gist.github.com/<id>
}

const zeroSHA = "0000000000000000000000000000000000000000"

// NewGitHub starts the fake; it stops when the test ends.
func NewGitHub(t testing.TB) *GitHub {
	g := &GitHub{t: t, nextEvent: 44000000000, pushID: 21000000000, heads: map[string]string{},
		commits: map[string]ghCommit{}, files: map[string]map[string]string{}, pollInterval: 60,
		paths: map[string]int{}}
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

// PlantPush commits content at path in repo ("owner/name") on its main
// branch and pushes it: a PushEvent appears in the public events feed. The
// first push to a repository creates its branch (before is all zeros).
func (g *GitHub) PlantPush(repo, path, content string) Push {
	if o, n, ok := strings.Cut(repo, "/"); !ok || o == "" || n == "" || strings.Contains(n, "/") {
		g.t.Fatalf("fakeupstream: repository %q is not owner/name", repo)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	before := g.heads[repo]
	tree := map[string]string{}
	for p, c := range g.files[repo+"@"+before] {
		tree[p] = c
	}
	old, existed := tree[path]
	tree[path] = content
	g.nextEvent++
	sum := sha1.Sum([]byte(fmt.Sprintf("commit %s %s %s %d", repo, before, path, g.nextEvent) + content))
	sha := hex.EncodeToString(sum[:])
	f := ghFile{path: path, status: "added", content: content}
	if existed {
		f.status = "modified"
	}
	f.patch, f.additions, f.deletions = unifiedPatch(old, content, existed)
	g.commits[repo+"@"+sha] = ghCommit{repo: repo, sha: sha, parent: before, message: "Update " + path, files: []ghFile{f}}
	g.files[repo+"@"+sha] = tree
	g.heads[repo] = sha
	if before == "" {
		before = zeroSHA
	}
	id := strconv.FormatInt(g.nextEvent, 10)
	g.pushID++
	owner := strings.SplitN(repo, "/", 2)[0]
	repoID := int64(binaryHash(repo) % 900000000)
	ev := map[string]any{
		"id":   id,
		"type": "PushEvent",
		"actor": map[string]any{"id": 583231, "login": owner, "display_login": owner, "gravatar_id": "",
			"url": "https://api.github.com/users/" + owner, "avatar_url": "https://avatars.githubusercontent.com/u/583231?"},
		"repo": map[string]any{"id": repoID, "name": repo, "url": "https://api.github.com/repos/" + repo},
		"payload": map[string]any{"repository_id": repoID, "push_id": g.pushID, "ref": "refs/heads/main",
			"head": sha, "before": before},
		"public":     true,
		"created_at": time.Now().UTC().Format(time.RFC3339),
	}
	g.events = append([]map[string]any{ev}, g.events...)
	if len(g.events) > 300 {
		g.events = g.events[:300]
	}
	return Push{Repo: repo, Before: before, Commit: sha, Path: path, EventID: id,
		BlobURL: "https://github.com/" + repo + "/blob/" + sha + "/" + escapeSegments(path)}
}

// PlantGist creates a public gist of owner with files (name → content).
func (g *GitHub) PlantGist(owner string, files map[string]string) Gist {
	return g.PlantGistAt(owner, files, time.Now())
}

// PlantGistAt creates a public gist created and last updated at when (in
// the past, for a feed that grew while nobody watched).
func (g *GitHub) PlantGistAt(owner string, files map[string]string, when time.Time) Gist {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gistSeq++
	sum := sha1.Sum([]byte(fmt.Sprintf("gist %s %d", owner, g.gistSeq)))
	id := hex.EncodeToString(sum[:16])
	rev := hex.EncodeToString(sum[:])
	cp := map[string]string{}
	for k, v := range files {
		cp[k] = v
	}
	at := when.UTC().Truncate(time.Second)
	g.gists = append(g.gists, &ghGist{id: id, owner: owner, rev: rev, created: at, updated: at, files: cp})
	return Gist{ID: id, Owner: owner, HTMLURL: "https://gist.github.com/" + id}
}

func binaryHash(s string) uint64 {
	sum := sha256.Sum256([]byte(s))
	var n uint64
	for _, b := range sum[:8] {
		n = n<<8 | uint64(b)
	}
	return n
}

// unifiedPatch is GitHub's patch field for a file going from old to new:
// the hunk header and every line, "-" removed and "+" added.
func unifiedPatch(old, new string, existed bool) (patch string, additions, deletions int) {
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	}
	ol, nl := split(old), split(new)
	var b strings.Builder
	oStart := 1
	if !existed || len(ol) == 0 {
		oStart = 0
	}
	nStart := 1
	if len(nl) == 0 {
		nStart = 0
	}
	fmt.Fprintf(&b, "@@ -%d,%d +%d,%d @@", oStart, len(ol), nStart, len(nl))
	for _, l := range ol {
		b.WriteString("\n-" + l)
	}
	for _, l := range nl {
		b.WriteString("\n+" + l)
	}
	if new != "" && !strings.HasSuffix(new, "\n") {
		b.WriteString("\n\\ No newline at end of file")
	}
	return b.String(), len(nl), len(ol)
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
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "4999")
	h.Set("X-RateLimit-Used", "1")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
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
	g.mu.Unlock()
	if g.intercept(w, r) {
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
	p := r.URL.Path
	switch {
	case p == "/events":
		g.serveEvents(w, r)
	case p == "/gists/public":
		g.serveGists(w, r)
	case strings.HasPrefix(p, "/repos/"):
		g.serveRepo(w, r)
	case strings.HasPrefix(p, "/raw.githubusercontent.com/"):
		g.serveRaw(w, strings.TrimPrefix(p, "/raw.githubusercontent.com/"))
	case strings.HasPrefix(p, "/gist.githubusercontent.com/"):
		g.serveGistRaw(w, strings.TrimPrefix(p, "/gist.githubusercontent.com/"))
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
	etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("X-Poll-Interval", strconv.Itoa(interval))
	h.Set("Cache-Control", "public, max-age=60, s-maxage=60")
	h.Set("Vary", "Accept, Accept-Encoding, Accept, X-Requested-With")
	if inm := r.Header.Get("If-None-Match"); inm != "" && (inm == etag || inm == strings.TrimPrefix(etag, "W/")) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "4999")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	_, _ = w.Write(body)
}

func (g *GitHub) fileJSON(repo, sha string, f ghFile) map[string]any {
	blob := sha1.Sum([]byte(fmt.Sprintf("blob %d\x00%s", len(f.content), f.content)))
	return map[string]any{
		"sha":          hex.EncodeToString(blob[:]),
		"filename":     f.path,
		"status":       f.status,
		"additions":    f.additions,
		"deletions":    f.deletions,
		"changes":      f.additions + f.deletions,
		"blob_url":     "https://github.com/" + repo + "/blob/" + sha + "/" + escapeSegments(f.path),
		"raw_url":      g.srv.URL + "/raw.githubusercontent.com/" + repo + "/" + sha + "/" + escapeSegments(f.path),
		"contents_url": g.srv.URL + "/repos/" + repo + "/contents/" + escapeSegments(f.path) + "?ref=" + sha,
		"patch":        f.patch,
	}
}

func (g *GitHub) commitJSON(c ghCommit) map[string]any {
	owner := strings.SplitN(c.repo, "/", 2)[0]
	person := map[string]any{"name": owner, "email": owner + "@users.noreply.github.com", "date": time.Now().UTC().Format(time.RFC3339)}
	parents := []map[string]any{}
	if c.parent != "" {
		parents = append(parents, map[string]any{"sha": c.parent, "url": g.srv.URL + "/repos/" + c.repo + "/commits/" + c.parent,
			"html_url": "https://github.com/" + c.repo + "/commit/" + c.parent})
	}
	return map[string]any{
		"sha": c.sha, "node_id": "C_" + c.sha[:20],
		"url":      g.srv.URL + "/repos/" + c.repo + "/commits/" + c.sha,
		"html_url": "https://github.com/" + c.repo + "/commit/" + c.sha,
		"commit":   map[string]any{"author": person, "committer": person, "message": c.message, "comment_count": 0},
		"author":   map[string]any{"login": owner, "id": 583231, "type": "User"},
		"parents":  parents,
	}
}

func (g *GitHub) serveRepo(w http.ResponseWriter, r *http.Request) {
	// /repos/{owner}/{repo}/{kind}/{rest}
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/repos/"), "/", 4)
	if len(parts) < 4 {
		g.notFound(w)
		return
	}
	repo := parts[0] + "/" + parts[1]
	g.mu.Lock()
	_, known := g.heads[repo]
	g.mu.Unlock()
	if !known {
		g.notFound(w)
		return
	}
	switch parts[2] {
	case "commits":
		g.mu.Lock()
		c, ok := g.commits[repo+"@"+parts[3]]
		g.mu.Unlock()
		if !ok {
			g.writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "No commit found for SHA: " + parts[3],
				"documentation_url": "https://docs.github.com/rest/commits/commits#get-a-commit", "status": "422"})
			return
		}
		files := []map[string]any{}
		add, del := 0, 0
		for _, f := range c.files {
			files = append(files, g.fileJSON(repo, c.sha, f))
			add += f.additions
			del += f.deletions
		}
		m := g.commitJSON(c)
		m["files"] = files
		m["stats"] = map[string]any{"total": add + del, "additions": add, "deletions": del}
		g.writeJSON(w, http.StatusOK, m)
	case "compare":
		base, head, ok := strings.Cut(parts[3], "...")
		if !ok {
			g.notFound(w)
			return
		}
		g.mu.Lock()
		// Walk head's first parents back to base.
		var chain []ghCommit
		found := false
		for sha := head; sha != ""; {
			c, ok := g.commits[repo+"@"+sha]
			if !ok {
				break
			}
			if sha == base {
				found = true
				break
			}
			chain = append(chain, c)
			sha = c.parent
		}
		_, baseKnown := g.commits[repo+"@"+base]
		g.mu.Unlock()
		if !found || !baseKnown {
			g.notFound(w)
			return
		}
		// Oldest first, as GitHub lists compare commits; files are the net
		// change, the newest version of each path.
		for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
			chain[i], chain[j] = chain[j], chain[i]
		}
		commits := []map[string]any{}
		byPath := map[string]ghFile{}
		var order []string
		for _, c := range chain {
			commits = append(commits, g.commitJSON(c))
			for _, f := range c.files {
				if _, ok := byPath[f.path]; !ok {
					order = append(order, f.path)
				}
				byPath[f.path] = f
			}
		}
		files := []map[string]any{}
		for _, p := range order {
			files = append(files, g.fileJSON(repo, head, byPath[p]))
		}
		g.mu.Lock()
		bc := g.commitJSON(g.commits[repo+"@"+base])
		g.mu.Unlock()
		self := g.srv.URL + "/repos/" + repo + "/compare/" + parts[3]
		g.writeJSON(w, http.StatusOK, map[string]any{
			"url": self, "html_url": "https://github.com/" + repo + "/compare/" + parts[3],
			"permalink_url": "https://github.com/" + repo + "/compare/" + parts[3],
			"diff_url":      "https://github.com/" + repo + "/compare/" + parts[3] + ".diff",
			"patch_url":     "https://github.com/" + repo + "/compare/" + parts[3] + ".patch",
			"base_commit":   bc, "merge_base_commit": bc,
			"status": "ahead", "ahead_by": len(chain), "behind_by": 0, "total_commits": len(chain),
			"commits": commits, "files": files,
		})
	default:
		g.notFound(w)
	}
}

// serveRaw answers /raw.githubusercontent.com/{owner}/{repo}/{sha}/{path}.
func (g *GitHub) serveRaw(w http.ResponseWriter, rest string) {
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) < 4 {
		http.Error(w, "404: Not Found", http.StatusNotFound)
		return
	}
	g.mu.Lock()
	content, ok := g.files[parts[0]+"/"+parts[1]+"@"+parts[2]][parts[3]]
	g.mu.Unlock()
	if !ok {
		http.Error(w, "404: Not Found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(content))
}

// serveGistRaw answers /gist.githubusercontent.com/{owner}/{id}/raw/{rev}/{file}.
func (g *GitHub) serveGistRaw(w http.ResponseWriter, rest string) {
	parts := strings.SplitN(rest, "/", 5)
	if len(parts) < 5 || parts[2] != "raw" {
		http.Error(w, "404: Not Found", http.StatusNotFound)
		return
	}
	name, _ := url.PathUnescape(parts[4])
	g.mu.Lock()
	var content string
	ok := false
	for _, gi := range g.gists {
		if gi.id == parts[1] && gi.rev == parts[3] {
			content, ok = gi.files[name]
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

func (g *GitHub) serveGists(w http.ResponseWriter, r *http.Request) {
	var since time.Time
	if s := r.URL.Query().Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			g.writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Invalid request.\n\n\"since\" is not a timestamp.",
				"documentation_url": "https://docs.github.com/rest/gists/gists#list-public-gists", "status": "422"})
			return
		}
		since = t
	}
	g.mu.Lock()
	var sel []ghGist
	for _, gi := range g.gists {
		if since.IsZero() || gi.updated.After(since) {
			sel = append(sel, *gi)
		}
	}
	g.mu.Unlock()
	sort.SliceStable(sel, func(i, j int) bool { return sel[i].updated.After(sel[j].updated) })
	sel = page(w, r, sel)
	out := []map[string]any{}
	for _, gi := range sel {
		files := map[string]any{}
		for name, content := range gi.files {
			files[name] = map[string]any{"filename": name, "type": "text/plain", "language": "Text",
				"raw_url": g.srv.URL + "/gist.githubusercontent.com/" + gi.owner + "/" + gi.id + "/raw/" + gi.rev + "/" + url.PathEscape(name),
				"size":    len(content)}
		}
		api := g.srv.URL + "/gists/" + gi.id
		out = append(out, map[string]any{
			"url": api, "forks_url": api + "/forks", "commits_url": api + "/commits", "id": gi.id, "node_id": "G_" + gi.id,
			"git_pull_url": "https://gist.github.com/" + gi.id + ".git", "git_push_url": "https://gist.github.com/" + gi.id + ".git",
			"html_url": "https://gist.github.com/" + gi.id, "files": files, "public": true,
			"created_at": gi.created.Format(time.RFC3339), "updated_at": gi.updated.Format(time.RFC3339),
			"description": "", "comments": 0, "user": nil, "comments_url": api + "/comments",
			"owner":     map[string]any{"login": gi.owner, "id": 583231, "type": "User", "html_url": "https://github.com/" + gi.owner},
			"truncated": false,
		})
	}
	g.writeJSON(w, http.StatusOK, out)
}
