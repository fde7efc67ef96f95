package gitscan

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/scanner"
)

// testRepo is a real repository made with the git CLI.
type testRepo struct {
	t   testing.TB
	dir string
}

func gitEnv(home string) []string {
	return append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "HOME="+home,
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.com")
}

func newRepo(t testing.TB) *testRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	r := &testRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = gitEnv(r.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *testRepo) write(path, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// commit stages everything and commits; it returns the new commit id.
func (r *testRepo) commit(msg string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

func key(t testing.TB) string {
	t.Helper()
	k, err := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func engine(t testing.TB) *scanner.Engine {
	t.Helper()
	e, err := scanner.New(scanner.Options{RuleIDs: []string{"platform"}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// got is a finding reduced to what the tests compare.
type got struct {
	path   string
	line   int
	commit string
	secret string
}

func collect(t testing.TB, scan func(emit func(scanner.Finding)) (Stats, error)) ([]got, Stats) {
	t.Helper()
	var out []got
	st, err := scan(func(f scanner.Finding) {
		if keyformat.Fingerprint(f.Secret) != f.SecretSHA256 {
			t.Errorf("finding %s: secret_sha256 does not match the secret", f.Path)
		}
		out = append(out, got{f.Path, f.Line, f.Commit, string(f.Secret)})
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].path != out[j].path {
			return out[i].path < out[j].path
		}
		return out[i].commit < out[j].commit
	})
	return out, st
}

func history(t testing.TB, dir string) ([]got, Stats) {
	t.Helper()
	repo, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return collect(t, func(emit func(scanner.Finding)) (Stats, error) {
		return repo.History(context.Background(), engine(t), Options{Workers: 2}, emit)
	})
}

func equal(t *testing.T, got, want []got) {
	t.Helper()
	sort.Slice(want, func(i, j int) bool {
		if want[i].path != want[j].path {
			return want[i].path < want[j].path
		}
		return want[i].commit < want[j].commit
	})
	if len(got) != len(want) {
		t.Fatalf("got %d findings %v\nwant %d %v", len(got), got, len(want), want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("finding %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestHistoryAttribution(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		build func(r *testRepo, k1, k2 string) []got
	}{
		{"added then edited", func(r *testRepo, k1, _ string) []got {
			r.write("README", "hello\n")
			r.commit("init")
			r.write("conf/app.env", "a=1\nKEY="+k1+"\n")
			a := r.commit("add key")
			r.write("conf/app.env", "# header\n# more\na=1\nKEY="+k1+"\nb=2\n")
			r.commit("edit")
			return []got{{"conf/app.env", 2, a, k1}}
		}},
		{"on an unmerged branch", func(r *testRepo, k1, _ string) []got {
			r.write("a.txt", "x\n")
			r.commit("init")
			r.git("checkout", "-q", "-b", "feature")
			r.write("b.txt", "\n\n"+k1+"\n")
			c := r.commit("feature key")
			r.git("checkout", "-q", "main")
			r.write("a.txt", "y\n")
			r.commit("main moves on")
			return []got{{"b.txt", 3, c, k1}}
		}},
		{"same secret in two files", func(r *testRepo, k1, _ string) []got {
			r.write("one.txt", k1+"\n")
			r.write("two/two.txt", "x "+k1+"\n")
			c := r.commit("both")
			return []got{{"one.txt", 1, c, k1}, {"two/two.txt", 1, c, k1}}
		}},
		{"evil merge", func(r *testRepo, k1, _ string) []got {
			r.write("a.txt", "base\n")
			r.commit("base")
			r.git("checkout", "-q", "-b", "side")
			r.write("b.txt", "side\n")
			r.commit("side")
			r.git("checkout", "-q", "main")
			r.write("c.txt", "main\n")
			r.commit("main")
			r.git("merge", "-q", "--no-ff", "--no-commit", "side")
			r.write("a.txt", "base\n"+k1+"\n")
			m := r.commit("merge with a key")
			return []got{{"a.txt", 2, m, k1}}
		}},
		{"evil merge in nested folders both sides changed", func(r *testRepo, k1, k2 string) []got {
			// Against the second parent only the folders holding what the
			// merge changed from the first are compared: a key the
			// resolution adds deep down must still be found, and one that
			// came from the side branch must stay the side's.
			r.write("deep/er/a.txt", "base\n")
			r.write("deep/other/x.txt", "base\n")
			r.commit("base")
			r.git("checkout", "-q", "-b", "side")
			r.write("deep/er/a.txt", "side\n")
			r.write("deep/other/y.txt", k2+"\n")
			s := r.commit("side")
			r.git("checkout", "-q", "main")
			r.write("deep/er/b.txt", "main\n")
			r.write("deep/other/x.txt", "main\n")
			r.commit("main")
			r.git("merge", "-q", "--no-ff", "--no-commit", "side")
			r.write("deep/er/a.txt", "merged\n"+k1+"\n")
			m := r.commit("merge with a key")
			return []got{{"deep/er/a.txt", 2, m, k1}, {"deep/other/y.txt", 1, s, k2}}
		}},
		{"clean merge adds nothing", func(r *testRepo, k1, _ string) []got {
			r.write("a.txt", "base\n")
			r.commit("base")
			r.git("checkout", "-q", "-b", "side")
			r.write("b.txt", k1+"\n")
			s := r.commit("side key")
			r.git("checkout", "-q", "main")
			r.write("c.txt", "main\n")
			r.commit("main")
			r.git("merge", "-q", "--no-ff", "-m", "merge", "side")
			return []got{{"b.txt", 1, s, k1}}
		}},
		{"removed and added again", func(r *testRepo, k1, k2 string) []got {
			r.write("a.txt", k1+"\n")
			c1 := r.commit("add")
			r.write("a.txt", "gone\n")
			r.commit("remove")
			r.write("a.txt", "back\n\n"+k1+"\n"+k2+"\n")
			c3 := r.commit("again")
			return []got{{"a.txt", 1, c1, k1}, {"a.txt", 3, c3, k1}, {"a.txt", 4, c3, k2}}
		}},
		{"renamed file is new at its new path", func(r *testRepo, k1, _ string) []got {
			r.write("old.txt", k1+"\n")
			c1 := r.commit("add")
			r.git("mv", "old.txt", "new.txt")
			c2 := r.commit("rename")
			return []got{{"new.txt", 1, c2, k1}, {"old.txt", 1, c1, k1}}
		}},
		{"only an annotated tag and a detached HEAD reach it", func(r *testRepo, k1, k2 string) []got {
			r.write("a.txt", "x\n")
			r.commit("init")
			r.git("checkout", "-q", "-b", "tmp")
			r.write("t.txt", k1+"\n")
			tc := r.commit("tagged")
			r.git("tag", "-a", "-m", "v1", "v1")
			r.git("checkout", "-q", "--detach")
			r.write("d.txt", k2+"\n")
			dc := r.commit("detached")
			r.git("branch", "-D", "tmp")
			return []got{{"d.txt", 1, dc, k2}, {"t.txt", 1, tc, k1}}
		}},
		{"archive", func(r *testRepo, k1, _ string) []got {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			w, _ := zw.Create("inner/cfg.txt")
			w.Write([]byte("line\nkey=" + k1 + "\n"))
			zw.Close()
			r.write("dist/a.zip", buf.String())
			c := r.commit("zip")
			return []got{{"dist/a.zip!inner/cfg.txt", 2, c, k1}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t)
			want := tc.build(r, key(t), key(t))
			g, _ := history(t, r.dir) // loose objects, read through go-git
			equal(t, g, want)
			// Packed with deltas: read by the pack pass.
			r.git("repack", "-adfq", "--depth=50", "--window=50")
			g, _ = history(t, r.dir)
			equal(t, g, want)
		})
	}
}

func TestHistoryScansEachBlobOnce(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	k := key(t)
	r.write("a.txt", k+"\n")
	r.write("b.txt", k+"\n") // the same blob as a.txt
	r.write("c.txt", "other\n")
	r.commit("one")
	r.write("d.txt", "other\n") // the same blob as c.txt
	r.commit("two")
	r.git("checkout", "-q", "-b", "copy") // a second ref to the same commits
	g, st := history(t, r.dir)
	if st.Blobs != 2 || st.Commits != 2 {
		t.Errorf("scanned %d blobs in %d commits, want 2 in 2", st.Blobs, st.Commits)
	}
	if len(g) != 2 {
		t.Errorf("findings %v, want a.txt and b.txt", g)
	}
}

func TestHistoryEmptyAndNotARepo(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	g, st := history(t, r.dir)
	if len(g) != 0 || st.Commits != 0 {
		t.Errorf("empty repository: %v %+v", g, st)
	}
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not in a git repository") {
		t.Errorf("Open of a plain directory: %v", err)
	}
}

func TestHistoryFromSubdirectoryAndWorktree(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	k := key(t)
	r.write("sub/dir/a.txt", k+"\n")
	c := r.commit("add")
	g, _ := history(t, filepath.Join(r.dir, "sub", "dir"))
	equal(t, g, []got{{"sub/dir/a.txt", 1, c, k}})

	wt := filepath.Join(t.TempDir(), "wt")
	r.git("worktree", "add", "-q", "-b", "wtb", wt)
	repo, err := Open(wt)
	if err != nil {
		t.Fatal(err)
	}
	if repo.Root() != wt {
		t.Errorf("worktree root %q, want %q", repo.Root(), wt)
	}
	g, _ = history(t, wt)
	equal(t, g, []got{{"sub/dir/a.txt", 1, c, k}})
}

func TestStaged(t *testing.T) {
	t.Parallel()
	staged := func(t *testing.T, dir string) []got {
		repo, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		g, _ := collect(t, func(emit func(scanner.Finding)) (Stats, error) {
			return repo.Staged(context.Background(), engine(t), Options{}, emit)
		})
		return g
	}
	t.Run("new repository", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t)
		k := key(t)
		r.write("a.txt", "x\n"+k+"\n")
		r.git("add", "a.txt")
		equal(t, staged(t, r.dir), []got{{"a.txt", 2, "", k}})
	})
	t.Run("only what the staged version adds", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t)
		k1, k2, k3, k4 := key(t), key(t), key(t), key(t)
		r.write("a.txt", k1+"\n")
		r.write("same.txt", k4+"\n")
		r.commit("old key")
		r.write("a.txt", k1+"\n"+k2+"\n")
		r.git("add", "a.txt")
		r.write("a.txt", k1+"\n"+k2+"\n"+k3+"\n") // not staged
		r.write("new.txt", k3+"\n")               // not staged either
		equal(t, staged(t, r.dir), []got{{"a.txt", 2, "", k2}})
	})
	t.Run("nothing staged", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t)
		r.write("a.txt", key(t)+"\n")
		r.commit("committed")
		equal(t, staged(t, r.dir), nil)
	})
}

func TestParsePrePush(t *testing.T) {
	t.Parallel()
	a, b := strings.Repeat("a", 40), strings.Repeat("0", 40)
	for _, tc := range []struct {
		in   string
		n    int
		fail bool
	}{
		{"", 0, false},
		{"refs/heads/main " + a + " refs/heads/main " + b + "\n", 1, false},
		{"\nrefs/heads/x " + b + " refs/heads/x " + a + "\nrefs/tags/v " + a + " refs/tags/v " + b, 2, false},
		{"refs/heads/main " + a + " refs/heads/main\n", 0, true},
		{"refs/heads/main xyz refs/heads/main " + b + "\n", 0, true},
		{"refs/heads/main " + strings.ToUpper(a) + " refs/heads/main " + b + "\n", 0, true},
	} {
		u, err := ParsePrePush(strings.NewReader(tc.in))
		if (err != nil) != tc.fail || len(u) != tc.n {
			t.Errorf("ParsePrePush(%q) = %d updates, %v", tc.in, len(u), err)
		}
	}
	u, _ := ParsePrePush(strings.NewReader("refs/heads/x " + b + " refs/heads/x " + a + "\n"))
	if !u[0].Deletes() || u[0].RemoteSHA != plumbing.NewHash(a) {
		t.Errorf("deletion parsed as %+v", u[0])
	}
}

func TestPrePushRanges(t *testing.T) {
	t.Parallel()
	zero := strings.Repeat("0", 40)
	// setup: main pushed to origin with k0; then local work.
	type fixture struct {
		r         *testRepo
		k0        string
		pushed    string // origin/main
		local     string // main, one commit ahead with k1
		k1        string
		feature   string // new branch from main with k2
		k2        string
		rewritten string // a commit replacing pushed (force push) with k3
		k3        string
	}
	setup := func(t *testing.T) fixture {
		r := newRepo(t)
		f := fixture{r: r, k0: key(t), k1: key(t), k2: key(t), k3: key(t)}
		remote := t.TempDir()
		r.git("init", "-q", "--bare", remote)
		r.git("remote", "add", "origin", remote)
		r.write("a.txt", f.k0+"\n")
		f.pushed = r.commit("pushed")
		r.git("push", "-q", "origin", "main")
		r.write("b.txt", f.k1+"\n")
		f.local = r.commit("local")
		r.git("checkout", "-q", "-b", "feature")
		r.write("c.txt", f.k2+"\n")
		f.feature = r.commit("feature")
		r.git("checkout", "-q", "--orphan", "rewrite")
		r.git("rm", "-rqf", ".")
		r.write("d.txt", f.k3+"\n")
		f.rewritten = r.commit("rewritten")
		r.git("checkout", "-q", "main")
		return f
	}
	f := setup(t)
	repo, err := Open(f.r.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, packed := range []bool{false, true} {
		if packed {
			f.r.git("repack", "-adq")
			// go-git keeps the pack list it saw first: reopen.
			if repo, err = Open(f.r.dir); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name  string
			input string
			want  []got
		}{
			{"update", "refs/heads/main " + f.local + " refs/heads/main " + f.pushed,
				[]got{{"b.txt", 1, f.local, f.k1}}},
			{"new branch", "refs/heads/feature " + f.feature + " refs/heads/feature " + zero,
				[]got{{"b.txt", 1, f.local, f.k1}, {"c.txt", 1, f.feature, f.k2}}},
			{"delete", "(delete) " + zero + " refs/heads/old " + f.pushed, nil},
			{"up to date", "refs/heads/main " + f.pushed + " refs/heads/main " + f.pushed, nil},
			{"force push", "refs/heads/rewrite " + f.rewritten + " refs/heads/main " + f.pushed,
				[]got{{"d.txt", 1, f.rewritten, f.k3}}},
			{"remote commit unknown here", "refs/heads/main " + f.local + " refs/heads/main " + strings.Repeat("e", 40),
				[]got{{"b.txt", 1, f.local, f.k1}}},
			{"two refs", "refs/heads/main " + f.local + " refs/heads/main " + f.pushed + "\n" +
				"refs/heads/feature " + f.feature + " refs/heads/feature " + zero,
				[]got{{"b.txt", 1, f.local, f.k1}, {"c.txt", 1, f.feature, f.k2}}},
		} {
			t.Run(fmt.Sprintf("%s/packed=%v", tc.name, packed), func(t *testing.T) {
				u, err := ParsePrePush(strings.NewReader(tc.input + "\n"))
				if err != nil {
					t.Fatal(err)
				}
				g, _ := collect(t, func(emit func(scanner.Finding)) (Stats, error) {
					return repo.PrePush(context.Background(), engine(t), u, Options{}, emit)
				})
				equal(t, g, tc.want)
			})
		}
	}
	u, _ := ParsePrePush(strings.NewReader("refs/heads/x " + strings.Repeat("f", 40) + " refs/heads/x " + zero + "\n"))
	if _, err := repo.PushCommits(context.Background(), u); err == nil {
		t.Error("pushing a commit the repository lacks: no error")
	}
}

func TestCompareEntries(t *testing.T) {
	t.Parallel()
	sortName := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	names := []string{"a", "a.txt", "a-b", "a0", "ab", "b", ""}
	var es []object.TreeEntry
	for _, n := range names {
		es = append(es, object.TreeEntry{Name: n, Mode: filemode.Regular}, object.TreeEntry{Name: n, Mode: filemode.Dir})
	}
	for _, a := range es {
		for _, b := range es {
			want := strings.Compare(sortName(a), sortName(b))
			if got := compareEntries(&a, &b); got != want {
				t.Errorf("compare(%q %v, %q %v) = %d, want %d", a.Name, a.Mode, b.Name, b.Mode, got, want)
			}
		}
	}
}

// TestHistoryTrickyNames: a directory and files whose names sort around it.
func TestHistoryTrickyNames(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	k1, k2, k3 := key(t), key(t), key(t)
	r.write("a.txt", "x\n")
	r.write("a/x.txt", "x\n")
	r.write("a-b", "x\n")
	r.commit("init")
	r.write("a.txt", k1+"\n")
	r.write("a/x.txt", "y\n"+k2+"\n")
	r.write("a0", k3+"\n")
	c := r.commit("keys")
	g, _ := history(t, r.dir)
	equal(t, g, []got{{"a.txt", 1, c, k1}, {"a/x.txt", 2, c, k2}, {"a0", 1, c, k3}})
	r.git("repack", "-adq")
	g, _ = history(t, r.dir)
	equal(t, g, []got{{"a.txt", 1, c, k1}, {"a/x.txt", 2, c, k2}, {"a0", 1, c, k3}})
}

// TestHistoryShallowAndBare: a shallow clone's oldest commit introduces
// what it holds; a bare clone scans like its source.
func TestHistoryShallowAndBare(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	k1, k2 := key(t), key(t)
	r.write("a.txt", k1+"\n")
	r.commit("old")
	r.write("b.txt", k2+"\n")
	c2 := r.commit("new")
	r.write("c.txt", "x\n")
	c3 := r.commit("newest")

	shallow := filepath.Join(t.TempDir(), "shallow")
	r.git("clone", "-q", "--depth", "2", "file://"+r.dir, shallow)
	g, st := history(t, shallow)
	equal(t, g, []got{{"a.txt", 1, c2, k1}, {"b.txt", 1, c2, k2}})
	if st.Commits != 2 {
		t.Errorf("shallow clone: %d commits, want 2", st.Commits)
	}

	bare := filepath.Join(t.TempDir(), "bare.git")
	r.git("clone", "-q", "--bare", r.dir, bare)
	repo, err := Open(bare)
	if err != nil {
		t.Fatal(err)
	}
	if !repo.Bare() {
		t.Error("bare clone not seen as bare")
	}
	g, _ = history(t, bare)
	if len(g) != 2 || g[1].commit != c2 {
		t.Errorf("bare clone: %v", g)
	}
	if _, err := repo.Staged(context.Background(), engine(t), Options{}, func(scanner.Finding) {}); err == nil {
		t.Error("staged scan of a bare repository: no error")
	}
	_ = c3
}

// TestHistoryCorruptPack: a damaged pack gives warnings or an error, never
// a crash or a hang.
func TestHistoryCorruptPack(t *testing.T) {
	t.Parallel()
	for _, damage := range []string{"flip", "truncate"} {
		r := newRepo(t)
		for i := range 5 {
			r.write(fmt.Sprintf("f%d.txt", i), strings.Repeat(fmt.Sprintf("line %d\n", i), 200)+key(t)+"\n")
			r.commit(fmt.Sprintf("c%d", i))
		}
		r.git("repack", "-adq")
		packs, _ := filepath.Glob(filepath.Join(r.dir, ".git", "objects", "pack", "*.pack"))
		if len(packs) != 1 {
			t.Fatalf("%d packs", len(packs))
		}
		data, err := os.ReadFile(packs[0])
		if err != nil {
			t.Fatal(err)
		}
		if damage == "flip" {
			for i := len(data) / 2; i < len(data)/2+64; i++ {
				data[i] ^= 0xff
			}
		} else {
			data = data[:len(data)/2]
		}
		os.Chmod(packs[0], 0o644)
		if err := os.WriteFile(packs[0], data, 0o644); err != nil {
			t.Fatal(err)
		}
		repo, err := Open(r.dir)
		if err != nil {
			t.Fatal(err)
		}
		var warns []scanner.Warning
		_, err = repo.History(context.Background(), engine(t), Options{Warn: func(w scanner.Warning) { warns = append(warns, w) }},
			func(scanner.Finding) {})
		if err == nil && len(warns) == 0 {
			t.Errorf("%s: a damaged pack gave neither an error nor a warning", damage)
		}
	}
}
