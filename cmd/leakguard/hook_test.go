package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
)

// pushFixture is a repository with a bare remote: main was pushed with a
// clean file, then a local commit added a secret.
type pushFixture struct {
	repo    *gitRepo
	pushed  string
	local   string
	feature string
	secret  string
	k2      string
}

func newPushFixture(t *testing.T) pushFixture {
	t.Helper()
	repo := newGitRepo(t)
	remote := t.TempDir()
	repo.git("init", "-q", "--bare", remote)
	repo.git("remote", "add", "origin", remote)
	f := pushFixture{repo: repo, secret: genKey(t, keyformat.Secret), k2: genKey(t, keyformat.Restricted)}
	repo.write("README.md", "hello\n")
	f.pushed = repo.commit("clean")
	repo.git("push", "-q", "origin", "main")
	repo.write("config/prod.env", "DB=x\nAPI_KEY="+f.secret+"\n")
	f.local = repo.commit("add config")
	repo.git("checkout", "-q", "-b", "feature")
	repo.write("feature.txt", f.k2+"\n")
	f.feature = repo.commit("feature")
	repo.git("checkout", "-q", "main")
	return f
}

func TestHookPrePush(t *testing.T) {
	f := newPushFixture(t)
	zero := strings.Repeat("0", 40)
	for _, tc := range []struct {
		name  string
		stdin string
		code  int
		files []string
	}{
		{"update", "refs/heads/main " + f.local + " refs/heads/main " + f.pushed, exitFindings, []string{"config/prod.env"}},
		{"new branch", "refs/heads/feature " + f.feature + " refs/heads/feature " + zero, exitFindings,
			[]string{"config/prod.env", "feature.txt"}},
		{"delete", "(delete) " + zero + " refs/heads/gone " + f.pushed, exitOK, nil},
		{"nothing new", "refs/heads/main " + f.pushed + " refs/heads/main " + f.pushed, exitOK, nil},
		{"no input", "", exitOK, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.stdin+"\n", "hook", "pre-push", "--repo", f.repo.dir, "origin", "/remote")
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d (stdout %q stderr %q)", r.code, tc.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, f.secret) || strings.Contains(r.stdout+r.stderr, f.k2) {
				t.Fatal("the hook printed a secret")
			}
			if tc.code == exitOK {
				if r.stdout != "" || r.stderr != "" {
					t.Errorf("clean push printed %q %q", r.stdout, r.stderr)
				}
				return
			}
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			if len(lines) != len(tc.files) {
				t.Fatalf("findings %q, want %v", r.stdout, tc.files)
			}
			for i, file := range tc.files {
				if !strings.HasPrefix(lines[i], file+":") {
					t.Errorf("finding %q, want file %s", lines[i], file)
				}
			}
			if !strings.Contains(lines[0], "config/prod.env:2:9 "+keyformat.RuleSecretKey) || !strings.Contains(lines[0], "commit "+f.local) {
				t.Errorf("finding %q lacks line, rule or commit", lines[0])
			}
			for _, want := range []string{"blocked", "origin", "leakguard:allow", ".leakguardignore", "git push --no-verify"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("advice lacks %q: %s", want, r.stderr)
				}
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		r := runCLI(t, "refs/heads/main "+f.local+" refs/heads/main "+f.pushed+"\n", "hook", "pre-push", "--repo", f.repo.dir, "--format", "json")
		fs := parseJSON(t, r.stdout)
		if r.code != exitFindings || len(fs) != 1 || *fs[0].Commit != f.local || fs[0].Line != 2 {
			t.Fatalf("exit %d findings %+v", r.code, fs)
		}
	})
	t.Run("ignore file at the root", func(t *testing.T) {
		ig := filepath.Join(t.TempDir(), "ignore")
		writeFile(t, ig, keyformat.Fingerprint([]byte(f.secret))+"\n")
		r := runCLI(t, "refs/heads/main "+f.local+" refs/heads/main "+f.pushed+"\n", "hook", "pre-push", "--repo", f.repo.dir, "--ignore-file", ig)
		if r.code != exitOK {
			t.Fatalf("exit %d %q", r.code, r.stdout)
		}
	})
	t.Run("pre-commit framework environment", func(t *testing.T) {
		r := runCLIEnv(t, "", map[string]string{"PRE_COMMIT_FROM_REF": f.pushed, "PRE_COMMIT_TO_REF": f.local,
			"PRE_COMMIT_REMOTE_NAME": "origin"}, "hook", "pre-push", "--repo", f.repo.dir)
		if r.code != exitFindings || !strings.Contains(r.stdout, "config/prod.env:2:") {
			t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"malformed input", "refs/heads/main abc\n", nil, "line 1"},
		{"unknown local commit", "refs/heads/x " + strings.Repeat("f", 40) + " refs/heads/x " + zero + "\n", nil, "not in this repository"},
		{"bad flag", "", []string{"--nope"}, "nope"},
		{"too many arguments", "", []string{"a", "b", "c"}, "arguments"},
		{"not a repository", "", []string{"--repo", t.TempDir()}, "not in a git repository"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"hook", "pre-push", "--repo", f.repo.dir}, tc.args...)
			assertOneLineError(t, runCLI(t, tc.stdin, args...), tc.want)
		})
	}
}

func TestHookCommandErrors(t *testing.T) {
	assertOneLineError(t, runCLI(t, "", "hook"), "pre-push")
	assertOneLineError(t, runCLI(t, "", "hook", "post-commit"), "post-commit")
	if r := runCLI(t, "", "hook", "--help"); r.code != exitOK || !strings.Contains(r.stdout, "hook install") {
		t.Errorf("hook --help: %d %q", r.code, r.stdout)
	}
}

func TestHookInstall(t *testing.T) {
	repo := newGitRepo(t)
	hook := filepath.Join(repo.dir, ".git", "hooks", "pre-push")
	r := runCLI(t, "", "hook", "install", "--repo", repo.dir)
	if r.code != exitOK {
		t.Fatalf("install: exit %d %q", r.code, r.stderr)
	}
	data, err := os.ReadFile(hook)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(hook)
	if fi.Mode().Perm()&0o111 == 0 || !strings.HasPrefix(string(data), "#!/bin/sh\n") ||
		!strings.Contains(string(data), ` hook pre-push "$@"`) {
		t.Fatalf("hook mode %v content %q", fi.Mode(), data)
	}
	// Ours: installing again is fine and changes nothing.
	if r := runCLI(t, "", "hook", "install", "--repo", repo.dir); r.code != exitOK {
		t.Fatalf("second install: exit %d %q", r.code, r.stderr)
	}
	if again, _ := os.ReadFile(hook); string(again) != string(data) {
		t.Error("second install changed the hook")
	}
	// Someone else's hook is kept unless --force.
	foreign := "#!/bin/sh\necho mine\n"
	writeFile(t, hook, foreign)
	assertOneLineError(t, runCLI(t, "", "hook", "install", "--repo", repo.dir), "--force")
	if kept, _ := os.ReadFile(hook); string(kept) != foreign {
		t.Error("install without --force replaced a foreign hook")
	}
	if r := runCLI(t, "", "hook", "install", "--repo", repo.dir, "--force"); r.code != exitOK {
		t.Fatalf("install --force: exit %d %q", r.code, r.stderr)
	}
	if forced, _ := os.ReadFile(hook); string(forced) != string(data) {
		t.Error("install --force did not write our hook")
	}

	// core.hooksPath is respected, relative to the worktree root.
	repo.git("config", "core.hooksPath", "githooks")
	if r := runCLI(t, "", "hook", "install", "--repo", filepath.Join(repo.dir)); r.code != exitOK {
		t.Fatalf("install with core.hooksPath: exit %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(repo.dir, "githooks", "pre-push")); err != nil {
		t.Fatalf("hook not in core.hooksPath: %v", err)
	}
	// A linked worktree shares the main repository's hooks.
	repo.git("config", "--unset", "core.hooksPath")
	repo.commit("first")
	wt := filepath.Join(t.TempDir(), "wt")
	repo.git("worktree", "add", "-q", "-b", "wt", wt)
	os.Remove(hook)
	if r := runCLI(t, "", "hook", "install", "--repo", wt); r.code != exitOK {
		t.Fatalf("install in a worktree: exit %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(hook); err != nil {
		t.Fatalf("worktree install did not write the shared hook: %v", err)
	}
	assertOneLineError(t, runCLI(t, "", "hook", "install", "--repo", t.TempDir()), "hooks directory")
	assertOneLineError(t, runCLI(t, "", "hook", "install", "--repo", repo.dir, "extra"), "extra")
}

// TestHookRealPush builds the binary, installs the hook, and pushes to a
// local bare remote with the real git.
func TestHookRealPush(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	binDir := t.TempDir()
	// No symbol tables: the link, most of this test's time, is faster.
	build := exec.Command(goBin, "build", "-ldflags=-s -w", "-o", filepath.Join(binDir, "leakguard"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f := newPushFixture(t)
	pathEnv := "PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH")
	runIn := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir = f.repo.dir
		cmd.Env = append(gitTestEnv(f.repo.dir), pathEnv)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := runIn(filepath.Join(binDir, "leakguard"), "hook", "install"); err != nil {
		t.Fatalf("hook install: %v\n%s", err, out)
	}
	hook, _ := os.ReadFile(filepath.Join(f.repo.dir, ".git", "hooks", "pre-push"))
	if !strings.Contains(string(hook), "exec leakguard hook pre-push") {
		t.Fatalf("hook does not call leakguard from PATH: %q", hook)
	}

	out, err := runIn("git", "push", "origin", "main")
	if err == nil {
		t.Fatalf("push of a secret was not blocked:\n%s", out)
	}
	for _, want := range []string{"blocked", "config/prod.env:2:9", f.local, keyformat.RuleSecretKey, "--no-verify"} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, f.secret) {
		t.Error("push output holds the secret")
	}
	if remote := f.repo.git("ls-remote", "origin", "main"); !strings.HasPrefix(remote, f.pushed) {
		t.Fatalf("remote moved despite the block: %q", remote)
	}

	// The fingerprint from the output, put in .leakguardignore, lets it through.
	fp := "config/prod.env:" + keyformat.RuleSecretKey + ":" + keyformat.Fingerprint([]byte(f.secret))
	if !strings.Contains(out, fp) {
		t.Fatalf("push output lacks the fingerprint %q", fp)
	}
	f.repo.write(".leakguardignore", fp+"\n")
	if out, err := runIn("git", "push", "origin", "main"); err != nil {
		t.Fatalf("push with the finding ignored: %v\n%s", err, out)
	}
	// A new branch with another secret is blocked; deleting a branch is not.
	if out, err := runIn("git", "push", "origin", "feature"); err == nil || !strings.Contains(out, "feature.txt:1:1") {
		t.Fatalf("new branch push: %v\n%s", err, out)
	}
	if out, err := runIn("git", "push", "--no-verify", "origin", "feature"); err != nil {
		t.Fatalf("push --no-verify: %v\n%s", err, out)
	}
	if out, err := runIn("git", "push", "origin", "--delete", "feature"); err != nil {
		t.Fatalf("delete push: %v\n%s", err, out)
	}
}

// TestPreCommitHooksFile checks the hooks offered to the pre-commit
// framework.
func TestPreCommitHooksFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", ".pre-commit-hooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	hooks := strings.Split(string(data), "\n- id: ")
	if len(hooks) != 3 {
		t.Fatalf("want 2 hooks, got %d", len(hooks)-1)
	}
	for i, want := range [][]string{
		{"leakguard\n", "entry: leakguard scan --staged\n", "stages: [commit]\n"},
		{"leakguard-pre-push\n", "entry: leakguard hook pre-push\n", "stages: [push]\n"},
	} {
		h := hooks[i+1]
		for _, w := range append(want, "language: golang\n", "pass_filenames: false\n") {
			if !strings.Contains(h, w) {
				t.Errorf("hook %d lacks %q:\n%s", i+1, w, h)
			}
		}
	}
}
