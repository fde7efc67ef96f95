package gitscan

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/scanner"
)

// scanAll runs a history scan and returns its findings, stats and warnings.
func scanAll(t *testing.T, dir string) ([]got, Stats, []scanner.Warning) {
	t.Helper()
	repo, err := Open(dir)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	var warns []scanner.Warning
	g, st := collect(t, func(emit func(scanner.Finding)) (Stats, error) {
		return repo.History(context.Background(), engine(t), Options{Workers: 2,
			Warn: func(w scanner.Warning) { warns = append(warns, w) }}, emit)
	})
	return g, st, warns
}

// TestHistoryAlternates: a clone made with --shared or --reference finds
// its objects through objects/info/alternates; they are scanned like its
// own.
func TestHistoryAlternates(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	k := key(t)
	r.write("a.txt", k+"\n")
	c1 := r.commit("key")
	r.git("gc", "-q") // the objects in a pack, as in most real repositories
	r.write("b.txt", k+"x\n"+key(t)+"\n")
	r.commit("loose") // and some loose
	for _, how := range []string{"--shared", "--reference"} {
		dir := filepath.Join(t.TempDir(), "clone")
		args := []string{"clone", "-q", how}
		if how == "--reference" {
			args = append(args, r.dir)
		}
		r.git(append(args, r.dir, dir)...)
		g, st, _ := scanAll(t, dir)
		if len(g) != 2 || g[0].commit != c1 || st.Unreadable != 0 {
			t.Errorf("%s clone: findings %v, %d unreadable; want 2, the first in %s", how, g, st.Unreadable, c1)
		}
	}
}

// TestHistoryPartialClone: a blob-less clone lacks most blobs: the scan
// says how many could not be read.
func TestHistoryPartialClone(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.git("config", "uploadpack.allowFilter", "true")
	for i := range 3 {
		r.write("f"+string(rune('a'+i))+".txt", key(t)+"\n")
		r.commit("c")
	}
	dir := filepath.Join(t.TempDir(), "partial")
	r.git("clone", "-q", "--no-checkout", "--filter=blob:none", "file://"+r.dir, dir)
	_, st, _ := scanAll(t, dir)
	if st.Unreadable == 0 {
		t.Fatalf("partial clone: stats %+v, want unreadable blobs counted", st)
	}
}

// TestHistorySHA256: a repository with the SHA-256 object format is
// scanned, and findings name 64-digit commits.
func TestHistorySHA256(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	r := &testRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main", "--object-format=sha256")
	k := key(t)
	r.write("a.txt", "hello\n")
	r.commit("first")
	r.write("dir/b.txt", "x\n"+k+"\n")
	c2 := r.commit("key")
	r.write("dir/b.txt", "x\n"+k+"\nmore\n")
	r.commit("touch")
	g, st, warns := scanAll(t, r.dir)
	if len(g) != 1 || g[0].commit != c2 || g[0].path != "dir/b.txt" || g[0].line != 2 || len(c2) != 64 {
		t.Fatalf("sha256 repository: findings %v (warnings %v), want dir/b.txt:2 in %s", g, warns, c2)
	}
	if st.Commits != 3 {
		t.Errorf("%d commits, want 3", st.Commits)
	}
}

// TestHistoryKeepPromisorAndWorktree: packs with .keep and .promisor files
// and a linked worktree's own refs are all scanned.
func TestHistoryKeepPromisorAndWorktree(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	k1, k2 := key(t), key(t)
	r.write("a.txt", k1+"\n")
	r.commit("one")
	r.git("repack", "-adq")
	packs, _ := filepath.Glob(filepath.Join(r.dir, ".git", "objects", "pack", "*.pack"))
	for _, p := range packs {
		base := strings.TrimSuffix(p, ".pack")
		r.git("update-ref", "refs/x", "HEAD")
		writeEmpty(t, base+".keep")
		writeEmpty(t, base+".promisor")
	}
	wt := filepath.Join(t.TempDir(), "wt")
	r.git("worktree", "add", "-q", "-b", "side", wt)
	w := &testRepo{t: t, dir: wt}
	w.write("b.txt", k2+"\n")
	w.commit("in the worktree")
	g, _, _ := scanAll(t, r.dir)
	if len(g) != 2 {
		t.Fatalf("findings %v, want both keys", g)
	}
}

func writeEmpty(t *testing.T, p string) {
	t.Helper()
	r := &testRepo{t: t, dir: filepath.Dir(p)}
	r.write(filepath.Base(p), "")
}

// TestHistorySubmodulesNamed: a submodule's commits live in another
// repository: not scanned, but named in the stats.
func TestHistorySubmodulesNamed(t *testing.T) {
	t.Parallel()
	sub := newRepo(t)
	sub.write("k.txt", key(t)+"\n")
	sub.commit("key in the submodule")
	r := newRepo(t)
	r.write("a.txt", "x\n")
	r.commit("first")
	r.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", sub.dir, "libs/sub")
	r.commit("add submodule")
	g, st, _ := scanAll(t, r.dir)
	if len(g) != 0 || len(st.Submodules) != 1 || st.Submodules[0] != "libs/sub" {
		t.Fatalf("findings %v, submodules %v; want none and [libs/sub]", g, st.Submodules)
	}
}
