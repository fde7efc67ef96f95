package fakeupstream

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"
)

func githubClient(t *testing.T, g *GitHub) *gh.Client {
	t.Helper()
	c := gh.NewClient(nil)
	u, err := url.Parse(g.URL())
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = u
	return c
}

func TestGitHubPushesThroughGoGitHub(t *testing.T) {
	g := NewGitHub(t)
	c := githubClient(t, g)
	ctx := context.Background()

	p1 := g.PlantPush("acme/shop", "config/app.env", "A=1\nKEY=first\n")
	p2 := g.PlantPush("acme/shop", "config/app.env", "A=1\nKEY=second\nB=2\n")
	if p1.Before != zeroSHA || p2.Before != p1.Commit || len(p2.Commit) != 40 {
		t.Fatalf("pushes: %+v %+v", p1, p2)
	}
	evs, resp, err := c.Activity.ListEvents(ctx, &gh.ListOptions{PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].GetID() != p2.EventID || evs[0].GetType() != "PushEvent" || evs[0].GetRepo().GetName() != "acme/shop" {
		t.Fatalf("events: %d, first %s %s", len(evs), evs[0].GetID(), evs[0].GetType())
	}
	payload, err := evs[0].ParsePayload()
	if err != nil {
		t.Fatal(err)
	}
	push := payload.(*gh.PushEvent)
	if push.GetHead() != p2.Commit || push.GetBefore() != p1.Commit || push.GetRef() != "refs/heads/main" {
		t.Fatalf("payload head %s before %s ref %s", push.GetHead(), push.GetBefore(), push.GetRef())
	}
	if resp.Header.Get("X-Poll-Interval") != "60" || resp.Header.Get("ETag") == "" {
		t.Fatalf("events headers: %v", resp.Header)
	}

	// The same ETag answers 304 and costs nothing.
	req, _ := http.NewRequest("GET", g.URL()+"events?per_page=100", nil)
	req.Header.Set("User-Agent", "test")
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match with the current ETag: %d, want 304", r2.StatusCode)
	}

	first, _, err := c.Repositories.GetCommit(ctx, "acme", "shop", p1.Commit, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f := first.Files[0]; f.GetStatus() != "added" || f.GetFilename() != "config/app.env" ||
		f.GetPatch() != "@@ -0,0 +1,2 @@\n+A=1\n+KEY=first" || f.GetAdditions() != 2 {
		t.Fatalf("first commit file: %s %s %q %d", f.GetStatus(), f.GetFilename(), f.GetPatch(), f.GetAdditions())
	}
	cmp, _, err := c.Repositories.CompareCommits(ctx, "acme", "shop", p1.Commit, p2.Commit, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cmp.GetTotalCommits() != 1 || len(cmp.Files) != 1 || !strings.Contains(cmp.Files[0].GetPatch(), "\n+KEY=second") ||
		cmp.Files[0].GetBlobURL() != p2.BlobURL || cmp.Files[0].GetStatus() != "modified" {
		t.Fatalf("compare: %d commits, files %+v", cmp.GetTotalCommits(), cmp.Files)
	}
	raw, err := http.Get(cmp.Files[0].GetRawURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(raw.Body)
	raw.Body.Close()
	if string(body) != "A=1\nKEY=second\nB=2\n" {
		t.Fatalf("raw_url served %q", body)
	}
	if _, _, err := c.Repositories.GetCommit(ctx, "acme", "shop", strings.Repeat("a", 40), nil); !isStatus(err, 422) {
		t.Fatalf("unknown commit: %v, want 422", err)
	}
	if _, _, err := c.Repositories.GetCommit(ctx, "acme", "nope", p1.Commit, nil); !isStatus(err, 404) {
		t.Fatalf("unknown repository: %v, want 404", err)
	}
}

func isStatus(err error, code int) bool {
	er, ok := err.(*gh.ErrorResponse)
	return ok && er.Response.StatusCode == code
}

func TestGitHubEventsPaginateAndNeedAUserAgent(t *testing.T) {
	g := NewGitHub(t)
	for range 150 {
		g.PlantPush("acme/busy", "f.txt", "x")
	}
	c := githubClient(t, g)
	evs, resp, err := c.Activity.ListEvents(context.Background(), &gh.ListOptions{PerPage: 100})
	if err != nil || len(evs) != 100 || resp.NextPage != 2 || resp.LastPage != 2 {
		t.Fatalf("page 1: %d events, next %d last %d, %v", len(evs), resp.NextPage, resp.LastPage, err)
	}
	evs, resp, err = c.Activity.ListEvents(context.Background(), &gh.ListOptions{PerPage: 100, Page: 2})
	if err != nil || len(evs) != 50 || resp.NextPage != 0 || resp.PrevPage != 1 {
		t.Fatalf("page 2: %d events, next %d prev %d, %v", len(evs), resp.NextPage, resp.PrevPage, err)
	}
	req, _ := http.NewRequest("GET", g.URL()+"events", nil)
	req.Header.Set("User-Agent", "")
	r3, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	r3.Body.Close()
	if r3.StatusCode != http.StatusForbidden {
		t.Fatalf("no User-Agent: %d, want 403", r3.StatusCode)
	}
}

func TestGitHubPublicGists(t *testing.T) {
	g := NewGitHub(t)
	before := time.Now().Add(-time.Minute)
	gi := g.PlantGist("octo", map[string]string{"a b.env": "K=1\n", "README.md": "hi"})
	c := githubClient(t, g)
	list, _, err := c.Gists.ListAll(context.Background(), &gh.GistListOptions{Since: before})
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %d, %v", len(list), err)
	}
	got := list[0]
	if got.GetID() != gi.ID || got.GetHTMLURL() != gi.HTMLURL || got.GetOwner().GetLogin() != "octo" || len(got.Files) != 2 {
		t.Fatalf("gist: %+v", got)
	}
	f := got.Files["a b.env"]
	if f.Content != nil {
		t.Fatal("the listing carries no content, as GitHub's doesn't")
	}
	resp, err := http.Get(f.GetRawURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "K=1\n" {
		t.Fatalf("raw_url served %q", body)
	}
	later, _, err := c.Gists.ListAll(context.Background(), &gh.GistListOptions{Since: time.Now().Add(time.Minute)})
	if err != nil || len(later) != 0 {
		t.Fatalf("since after the gist: %d, %v", len(later), err)
	}
}

func TestBreakAndHeal(t *testing.T) {
	g := NewGitHub(t)
	c := githubClient(t, g)
	g.Break(http.StatusBadGateway, "text/html", "<html>bad gateway</html>")
	if _, _, err := c.Activity.ListEvents(context.Background(), nil); !isStatus(err, 502) {
		t.Fatalf("broken: %v, want 502", err)
	}
	if g.BrokenAnswers() != 1 {
		t.Fatalf("BrokenAnswers = %d", g.BrokenAnswers())
	}
	g.Heal()
	if _, _, err := c.Activity.ListEvents(context.Background(), nil); err != nil {
		t.Fatalf("healed: %v", err)
	}
}
