package github_test

import (
	"context"
	"testing"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/fakeupstream"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/sources/github"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

func upstreamSource(t *testing.T, fake *fakeupstream.GitHub, kit *sourcetest.Kit) *github.Source {
	t.Helper()
	src, err := github.New(github.Config{APIURL: fake.URL(), History: github.HistoryConfig{Dir: t.TempDir()}}, kit.Env)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// hitsByKey maps each hit's key fingerprint to its location.
func hitsByKey(kit *sourcetest.Kit) map[string]leakguard.Location {
	out := map[string]leakguard.Location{}
	for _, h := range kit.Pub.Hits() {
		out[h.SecretSHA256] = h.Location
	}
	return out
}

// A key committed and removed again in the next commit of the same push is
// in neither the push's net diff nor its head, but anyone can read it in
// the history: every commit is scanned with its own diff.
func TestEveryCommitOfAPushIsScannedWithItsOwnDiff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	first := fake.PlantPush("octo/shop", "README.md", "# shop\n")
	src := upstreamSource(t, fake, kit)
	b, err := src.Poll(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	gone, kept := newKey(t, keyformat.Secret), newKey(t, keyformat.Secret)
	push := fake.PushCommits("octo/shop", "main",
		[]fakeupstream.Change{{Path: "config/prod.env", Content: "A=1\nKEY=" + gone + "\n"}},
		[]fakeupstream.Change{{Path: "config/prod.env", Content: "A=1\nKEY=${KEY}\n"}},
		[]fakeupstream.Change{{Path: "deploy/key.txt", Content: kept + "\n"}},
	)
	if push.Before != first.Commit || len(push.Commits) != 3 {
		t.Fatalf("push %+v", push)
	}
	calls := fake.RequestsTo("/repos/octo/shop/commits/")
	if _, err := src.Poll(ctx, b.Cursor); err != nil {
		t.Fatal(err)
	}
	got := hitsByKey(kit)
	want := map[string]leakguard.Location{
		keyformat.Fingerprint([]byte(gone)): {Repository: "octo/shop", Commit: push.Commits[0], Path: "config/prod.env", Line: 2,
			URL: "https://github.com/octo/shop/blob/" + push.Commits[0] + "/config/prod.env#L2"},
		keyformat.Fingerprint([]byte(kept)): {Repository: "octo/shop", Commit: push.Commits[2], Path: "deploy/key.txt", Line: 1,
			URL: "https://github.com/octo/shop/blob/" + push.Commits[2] + "/deploy/key.txt#L1"},
	}
	if len(got) != len(want) {
		t.Fatalf("hits %+v, want the key removed within the push and the one kept", got)
	}
	for k, w := range want {
		if g := got[k]; g.Commit != w.Commit || g.Path != w.Path || g.Line != w.Line || g.Repository != w.Repository {
			t.Fatalf("location %+v, want %+v", g, w)
		}
	}
	// One compare, one commit call each.
	if n := fake.RequestsTo("/repos/octo/shop/commits/") - calls; n != 3 {
		t.Fatalf("%d commit calls, want 3", n)
	}
	assertNoPlaintext(t, kit, gone, kept)
}

// A new branch's event says before = 0000…: what it adds is everything
// from its merge base with the default branch, not just its head commit.
func TestNewBranchIsScannedFromItsMergeBase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	onMain := newKey(t, keyformat.Secret) // on main since before the source started: not this branch's
	fake.PlantPush("octo/app", "old.env", "K="+onMain+"\n")
	fake.PlantPush("octo/app", "old.env", "K=\n")
	src := upstreamSource(t, fake, kit)
	b, err := src.Poll(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	before := len(kit.Pub.Hits())
	k := newKey(t, keyformat.Restricted)
	push := fake.PushCommits("octo/app", "feature",
		[]fakeupstream.Change{{Path: "src/main.go", Content: "package main\n\nconst k = \"" + k + "\"\n"}},
		[]fakeupstream.Change{{Path: "src/main.go", Content: "package main\n"}},
	)
	if push.Before != "0000000000000000000000000000000000000000" {
		t.Fatalf("a new branch's push: %+v", push)
	}
	if _, err := src.Poll(ctx, b.Cursor); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()[before:]
	if len(hits) != 1 || hits[0].SecretSHA256 != keyformat.Fingerprint([]byte(k)) ||
		hits[0].Location.Commit != push.Commits[0] || hits[0].Location.Line != 3 {
		t.Fatalf("hits %+v, want the key of the branch's first commit", hits)
	}
	if n := fake.RequestsTo("/repos/octo/app/compare/main..."); n != 1 {
		t.Fatalf("%d compares with the default branch, want 1", n)
	}
}

// A repository made public exposes its whole history at once: every key
// ever committed, on every branch, is found, each at the commit that
// introduced it, through one clone.
func TestRepositoryMadePublicHasItsHistoryScanned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	old, still := newKey(t, keyformat.Secret), newKey(t, keyformat.Restricted)
	commits := fake.CommitPrivate("corp/internal-tools",
		[]fakeupstream.Change{{Path: "README.md", Content: "tools\n"}},
		[]fakeupstream.Change{{Path: "ci/deploy.sh", Content: "#!/bin/sh\nexport KEY=" + old + "\n"}},
		[]fakeupstream.Change{{Path: "ci/deploy.sh", Content: "#!/bin/sh\nexport KEY=$1\n"}},
		[]fakeupstream.Change{{Path: "lib/config.py", Content: "# config\nTOKEN = '" + still + "'\n"}},
	)
	src := upstreamSource(t, fake, kit)
	b, err := src.Poll(ctx, "")
	if err != nil || len(kit.Pub.Hits()) != 0 {
		t.Fatalf("private repository: %v, hits %d", err, len(kit.Pub.Hits()))
	}
	id := fake.MakePublic("corp/internal-tools")
	b2, err := src.Poll(ctx, b.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	if b2.Cursor != id {
		t.Fatalf("cursor %s, want the PublicEvent %s", b2.Cursor, id)
	}
	got := hitsByKey(kit)
	want := map[string]leakguard.Location{
		keyformat.Fingerprint([]byte(old)): {Repository: "corp/internal-tools", Commit: commits[1], Path: "ci/deploy.sh", Line: 2,
			URL: "https://github.com/corp/internal-tools/blob/" + commits[1] + "/ci/deploy.sh#L2"},
		keyformat.Fingerprint([]byte(still)): {Repository: "corp/internal-tools", Commit: commits[3], Path: "lib/config.py", Line: 2,
			URL: "https://github.com/corp/internal-tools/blob/" + commits[3] + "/lib/config.py#L2"},
	}
	if len(got) != 2 {
		t.Fatalf("hits %+v", got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Fatalf("location\n got %+v\nwant %+v", got[k], w)
		}
	}
	if fake.RequestsTo("/corp/internal-tools.git/git-upload-pack") != 1 {
		t.Fatal("history not fetched by one clone")
	}
	// The same event polled again (a restart before the cursor was saved)
	// is not cloned again.
	if _, err := src.Poll(ctx, b.Cursor); err != nil {
		t.Fatal(err)
	}
	if fake.RequestsTo("/corp/internal-tools.git/git-upload-pack") != 1 {
		t.Fatal("history cloned twice for one event")
	}
	assertNoPlaintext(t, kit, old, still)
}

// The first push of a repository creates its default branch: every commit
// it carries is scanned, not only the head.
func TestFirstPushOfARepositoryScansEveryCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := fakeupstream.NewGitHub(t)
	kit := sourcetest.NewKit(t, leakguard.SourceGitHub, nil)
	k := newKey(t, keyformat.Secret)
	push := fake.PushCommits("octo/fresh", "main",
		[]fakeupstream.Change{{Path: ".env", Content: "KEY=" + k + "\n"}},
		[]fakeupstream.Change{{Path: ".env", Delete: true}},
	)
	src := upstreamSource(t, fake, kit)
	if _, err := src.Poll(ctx, ""); err != nil {
		t.Fatal(err)
	}
	hits := kit.Pub.Hits()
	if len(hits) != 1 || hits[0].Location.Commit != push.Commits[0] {
		t.Fatalf("hits %+v, want the key of the first commit", hits)
	}
}
