package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	gittransport "github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gh "github.com/google/go-github/v62/github"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/scanner/gitscan"
	"github.com/leakguard/leakguard/sources"
)

// HistoryConfig bounds the history scan of a repository made public.
type HistoryConfig struct {
	// MaxRepoKiB skips the clone of a repository GitHub reports larger
	// (its size field, in KiB); the newest MaxPushCommits commits are
	// scanned through the API instead. Default 200 MiB.
	MaxRepoKiB int
	// MaxPackBytes bounds the bytes of the clone itself. Default 512 MiB.
	MaxPackBytes int64
	// Timeout bounds one clone and scan. Default 10 minutes.
	Timeout time.Duration
	// Dir is where clones are written (and removed after the scan).
	// Default the system's temporary folder.
	Dir string
	// Workers bounds the scan's parallelism. Default 2.
	Workers int
}

func (c *HistoryConfig) defaults() {
	if c.MaxRepoKiB <= 0 {
		c.MaxRepoKiB = 200 << 10
	}
	if c.MaxPackBytes <= 0 {
		c.MaxPackBytes = 512 << 20
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
}

// handlePublic scans the whole history of a repository that was just made
// public: every commit of every branch, through a git clone (one request
// however long the history, and none of the API's rate limit), each
// finding reported at the commit that introduced it.
func (s *Source) handlePublic(ctx context.Context, e *gh.Event) error {
	repo := e.GetRepo().GetName()
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" {
		return nil
	}
	id := "public:" + repo + "#" + e.GetID()
	if sources.SeenHas(s.env.Seen, id) {
		return nil
	}
	r, _, err := s.client.Repositories.Get(ctx, owner, name)
	if err != nil {
		if gone(err) {
			s.log.Info("skipping a repository made public that is gone again", "repo", repo, "status", StatusOf(err))
			return nil
		}
		return fmt.Errorf("get repository %s: %w", repo, Classify(err, time.Now()))
	}
	switch {
	case r.GetSize() > s.cfg.History.MaxRepoKiB || r.GetCloneURL() == "":
		s.log.Warn("repository made public is too large to clone; scanning its newest commits only",
			"repo", repo, "size_kib", r.GetSize(), "limit_kib", s.cfg.History.MaxRepoKiB)
		commits, err := s.listCommits(ctx, owner, name, r.GetDefaultBranch())
		if err != nil {
			if gone(err) {
				return nil
			}
			return err
		}
		if err := s.scanCommits(ctx, owner, name, commits); err != nil {
			return err
		}
	default:
		web := strings.TrimSuffix(r.GetHTMLURL(), "/"+repo)
		if err := s.scanHistory(ctx, repo, r.GetCloneURL(), web); err != nil {
			return err
		}
	}
	return sources.MarkSeen(ctx, s.env.Seen, id)
}

// scanHistory clones cloneURL into a temporary folder and scans every
// commit reachable from its branches.
// web is the web host of the repository's pages (from its html_url).
func (s *Source) scanHistory(ctx context.Context, repo, cloneURL, web string) error {
	if s.env.Scanner == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.History.Timeout)
	defer cancel()
	dir, err := os.MkdirTemp(s.cfg.History.Dir, "leakguard-clone-")
	if err != nil {
		return fmt.Errorf("clone %s: %w", repo, err)
	}
	defer os.RemoveAll(dir)
	empty, err := s.clone(ctx, cloneURL, filepath.Join(dir, "repo.git"))
	if err != nil {
		if errors.Is(err, gittransport.ErrRepositoryNotFound) || errors.Is(err, gittransport.ErrAuthenticationRequired) {
			s.log.Info("repository made public can't be cloned any more", "repo", repo, "err", err)
			return nil
		}
		return fmt.Errorf("clone %s: %w", repo, err)
	}
	if empty {
		return nil
	}
	gr, err := gitscan.Open(filepath.Join(dir, "repo.git"))
	if err != nil {
		return fmt.Errorf("open clone of %s: %w", repo, err)
	}
	item := sources.NewItem(s.env, leakguard.SourceGitHub)
	opts := gitscan.Options{Workers: s.cfg.History.Workers, Warn: func(w scanner.Warning) {
		s.log.Warn("history scan skipped something", "repo", repo, "warning", w.Error())
	}}
	st, err := gr.History(ctx, s.env.Scanner, opts, func(f scanner.Finding) {
		loc := leakguard.Location{URL: s.blobURL(repo, f.Commit, f.Path, web, "", f.Line),
			Repository: repo, Commit: f.Commit, Path: f.Path, Line: f.Line}
		if i := strings.Index(f.Path, "!"); i >= 0 {
			// Inside an archive: the blob URL names the archive.
			loc.URL = s.blobURL(repo, f.Commit, f.Path[:i], web, "", 0)
		}
		item.AddFinding(f, loc)
	})
	if err != nil {
		return fmt.Errorf("scan history of %s: %w", repo, err)
	}
	s.log.Info("scanned the history of a repository made public", "repo", repo,
		"commits", st.Commits, "blobs", st.Blobs, "bytes", st.Bytes, "hits", len(item.Hits()))
	return item.Publish(ctx)
}

// clone fetches every branch of cloneURL into a new bare repository at
// dir over git's smart-HTTP protocol, through the source's own HTTP client
// (go-git's clone would use its process-wide one), with the pack bounded.
// It reports a repository without branches as empty.
func (s *Source) clone(ctx context.Context, cloneURL, dir string) (empty bool, err error) {
	ep, err := gittransport.NewEndpoint(cloneURL)
	if err != nil {
		return false, err
	}
	if ep.Protocol != "https" && ep.Protocol != "http" {
		return false, fmt.Errorf("clone URL %s: only http(s) is fetched", httpx.RedactURL(cloneURL))
	}
	hc := &http.Client{Timeout: s.cfg.History.Timeout}
	if s.env.HTTP != nil {
		cp := *s.env.HTTP
		hc = &cp
	}
	hc.Transport = &limitTransport{base: hc.Transport, limit: s.cfg.History.MaxPackBytes}
	sess, err := githttp.NewClient(hc).NewUploadPackSession(ep, nil)
	if err != nil {
		return false, err
	}
	defer sess.Close()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return false, err
	}
	refs := map[plumbing.ReferenceName]plumbing.Hash{}
	wanted := map[plumbing.Hash]bool{}
	// What the server offers (side band, ofs-delta) that go-git reads.
	req := packp.NewUploadPackRequestFromCapabilities(ar.Capabilities)
	for name, h := range ar.References {
		rn := plumbing.ReferenceName(name)
		if !rn.IsBranch() || h.IsZero() {
			continue
		}
		refs[rn] = h
		if !wanted[h] {
			wanted[h] = true
			req.Wants = append(req.Wants, h)
		}
	}
	if len(req.Wants) == 0 {
		return true, nil
	}
	repo, err := git.PlainInit(dir, true)
	if err != nil {
		return false, err
	}
	resp, err := sess.UploadPack(ctx, req)
	if err != nil {
		return false, err
	}
	defer resp.Close()
	var pack io.Reader = resp
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		pack = sideband.NewDemuxer(sideband.Sideband64k, resp)
	case req.Capabilities.Supports(capability.Sideband):
		pack = sideband.NewDemuxer(sideband.Sideband, resp)
	}
	if err := packfile.UpdateObjectStorage(repo.Storer, pack); err != nil {
		return false, fmt.Errorf("write pack: %w", err)
	}
	for name, h := range refs {
		if err := repo.Storer.SetReference(plumbing.NewHashReference(name, h)); err != nil {
			return false, err
		}
	}
	return false, nil
}

// limitTransport fails an answer whose body grows past limit.
type limitTransport struct {
	base  http.RoundTripper
	limit int64
}

func (t *limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = httpx.LimitBody(resp.Body, t.limit)
	return resp, nil
}
