package fakeupstream

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

type ghGist struct {
	id, owner string
	created   time.Time
	revs      []*gistRev // oldest first; the last is the gist as it is
}

type gistRev struct {
	version              string
	when                 time.Time
	files                map[string]string
	additions, deletions int
}

func (gi *ghGist) current() *gistRev { return gi.revs[len(gi.revs)-1] }

// Gist is what PlantGist published.
type Gist struct {
	ID      string
	Owner   string
	HTMLURL string // https://gist.github.com/<id>
	Version string // the revision created
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
	gi := &ghGist{id: hex.EncodeToString(sum[:16]), owner: owner, created: when.UTC().Truncate(time.Second)}
	g.gists = append(g.gists, gi)
	v := g.reviseLocked(gi, files, when)
	return Gist{ID: gi.id, Owner: owner, HTMLURL: "https://gist.github.com/" + gi.id, Version: v}
}

// UpdateGist replaces the files of gist id (a new revision, now) and
// returns the revision's version.
func (g *GitHub) UpdateGist(id string, files map[string]string) string {
	return g.UpdateGistAt(id, files, time.Now())
}

// UpdateGistAt is UpdateGist at when.
func (g *GitHub) UpdateGistAt(id string, files map[string]string, when time.Time) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, gi := range g.gists {
		if gi.id == id {
			return g.reviseLocked(gi, files, when)
		}
	}
	g.t.Fatalf("fakeupstream: no gist %s", id)
	return ""
}

func (g *GitHub) reviseLocked(gi *ghGist, files map[string]string, when time.Time) string {
	rev := &gistRev{when: when.UTC().Truncate(time.Second), files: map[string]string{}}
	var prev map[string]string
	if len(gi.revs) > 0 {
		prev = gi.current().files
	}
	h := sha1.New()
	fmt.Fprintf(h, "gist %s rev %d", gi.id, len(gi.revs))
	for _, name := range sortedKeys(files) {
		rev.files[name] = files[name]
		fmt.Fprintf(h, "\x00%s\x00%s", name, files[name])
		_, a, d := unifiedPatch(prev[name], files[name], prev != nil)
		rev.additions += a
		rev.deletions += d
	}
	rev.version = hex.EncodeToString(h.Sum(nil))
	gi.revs = append(gi.revs, rev)
	return rev.version
}

func (g *GitHub) gistJSON(gi *ghGist, rev *gistRev, withContent, withHistory bool) map[string]any {
	files := map[string]any{}
	for name, content := range rev.files {
		f := map[string]any{"filename": name, "type": "text/plain", "language": "Text",
			"raw_url": g.srv.URL + "/gist.githubusercontent.com/" + gi.owner + "/" + gi.id + "/raw/" + rev.version + "/" + url.PathEscape(name),
			"size":    len(content)}
		if withContent {
			// GitHub truncates content past a megabyte; raw_url has it all.
			f["truncated"] = len(content) > 1<<20
			f["content"] = content[:min(len(content), 1<<20)]
		}
		files[name] = f
	}
	api := g.srv.URL + "/gists/" + gi.id
	m := map[string]any{
		"url": api, "forks_url": api + "/forks", "commits_url": api + "/commits", "id": gi.id, "node_id": "G_" + gi.id,
		"git_pull_url": "https://gist.github.com/" + gi.id + ".git", "git_push_url": "https://gist.github.com/" + gi.id + ".git",
		"html_url": "https://gist.github.com/" + gi.id, "files": files, "public": true,
		"created_at": gi.created.Format(time.RFC3339), "updated_at": gi.current().when.Format(time.RFC3339),
		"description": "", "comments": 0, "user": nil, "comments_url": api + "/comments",
		"owner":     map[string]any{"login": gi.owner, "id": 583231, "type": "User", "html_url": "https://github.com/" + gi.owner},
		"truncated": false,
	}
	if withHistory {
		m["history"] = g.gistHistory(gi)
	}
	return m
}

// gistHistory lists gi's revisions newest first, as the history field and
// GET /gists/{id}/commits do.
func (g *GitHub) gistHistory(gi *ghGist) []map[string]any {
	out := []map[string]any{}
	for i := len(gi.revs) - 1; i >= 0; i-- {
		r := gi.revs[i]
		out = append(out, map[string]any{
			"url": g.srv.URL + "/gists/" + gi.id + "/" + r.version, "version": r.version,
			"user":          map[string]any{"login": gi.owner, "id": 583231, "type": "User"},
			"change_status": map[string]any{"total": r.additions + r.deletions, "additions": r.additions, "deletions": r.deletions},
			"committed_at":  r.when.Format(time.RFC3339),
		})
	}
	return out
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
		if gi.id != parts[1] {
			continue
		}
		for _, r := range gi.revs {
			if r.version == parts[3] {
				content, ok = r.files[name]
			}
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
	var sel []*ghGist
	for _, gi := range g.gists {
		if since.IsZero() || gi.current().when.After(since) {
			sel = append(sel, gi)
		}
	}
	sort.SliceStable(sel, func(i, j int) bool { return sel[i].current().when.After(sel[j].current().when) })
	out := []map[string]any{}
	for _, gi := range page(w, r, sel) {
		out = append(out, g.gistJSON(gi, gi.current(), false, false))
	}
	g.mu.Unlock()
	g.writeJSON(w, http.StatusOK, out)
}

// serveGist answers GET /gists/{id}, /gists/{id}/commits and
// /gists/{id}/{sha}.
func (g *GitHub) serveGist(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/gists/"), "/")
	g.mu.Lock()
	defer g.mu.Unlock()
	var gi *ghGist
	for _, x := range g.gists {
		if x.id == parts[0] {
			gi = x
		}
	}
	if gi == nil || len(parts) > 2 {
		g.notFound(w)
		return
	}
	switch {
	case len(parts) == 1:
		g.writeJSON(w, http.StatusOK, g.gistJSON(gi, gi.current(), true, true))
	case parts[1] == "commits":
		g.writeJSON(w, http.StatusOK, page(w, r, g.gistHistory(gi)))
	default:
		for _, rev := range gi.revs {
			if rev.version == parts[1] {
				g.writeJSON(w, http.StatusOK, g.gistJSON(gi, rev, true, true))
				return
			}
		}
		g.notFound(w)
	}
}
