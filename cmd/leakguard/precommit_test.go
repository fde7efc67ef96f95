package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
)

// TestHookPreCommitNoRange: the pre-commit framework passes no range for
// the first push of a branch whose history includes the root commit (and
// reads git's input itself): every commit no remote-tracking ref reaches is
// scanned.
func TestHookPreCommitNoRange(t *testing.T) {
	repo := newGitRepo(t)
	remote := t.TempDir()
	repo.git("init", "-q", "--bare", remote)
	repo.git("remote", "add", "origin", remote)
	sk := genKey(t, keyformat.Secret)
	repo.write("app.env", "KEY="+sk+"\n")
	root := repo.commit("first commit, with a key")
	repo.write("README.md", "hi\n")
	repo.commit("second")
	env := map[string]string{"PRE_COMMIT": "1", "PRE_COMMIT_REMOTE_NAME": "origin", "PRE_COMMIT_REMOTE_URL": remote,
		"PRE_COMMIT_LOCAL_BRANCH": "refs/heads/main", "PRE_COMMIT_REMOTE_BRANCH": "refs/heads/main"}
	r := runCLIEnv(t, "", env, "hook", "pre-push", "--repo", repo.dir)
	if r.code != exitFindings || !strings.Contains(r.stdout, "app.env:1:5") || !strings.Contains(r.stdout, root) {
		t.Fatalf("first push through pre-commit: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// Once the remote-tracking ref has the commits, nothing is left to scan.
	repo.git("push", "-q", "--no-verify", "origin", "main")
	if r := runCLIEnv(t, "", env, "hook", "pre-push", "--repo", repo.dir); r.code != exitOK {
		t.Fatalf("after the push: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestPreCommitFramework runs the real pre-commit (Debian's 3.0.4 here):
// the manifest validates, and a first push holding a key is blocked.
func TestPreCommitFramework(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	pc, err := exec.LookPath("pre-commit")
	if err != nil {
		t.Skip("pre-commit not installed")
	}
	manifest, _ := filepath.Abs(filepath.Join("..", "..", ".pre-commit-hooks.yaml"))
	if out, err := exec.Command(pc, "validate-manifest", manifest).CombinedOutput(); err != nil {
		t.Fatalf("pre-commit validate-manifest: %v\n%s", err, out)
	}
	binDir := t.TempDir()
	build := exec.Command("go", "build", "-ldflags=-s -w", "-o", filepath.Join(binDir, "leakguard"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	repo := newGitRepo(t)
	remote := t.TempDir()
	repo.git("init", "-q", "--bare", remote)
	repo.git("remote", "add", "origin", remote)
	// A local hook with the manifest's own entry and stages (the manifest's
	// language, golang, would build leakguard from a clone of this repo).
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	hooks := strings.Split(string(data), "\n- id: ")
	var prePush string
	for _, h := range hooks {
		if strings.HasPrefix(h, "leakguard-pre-push\n") {
			prePush = h
		}
	}
	if prePush == "" {
		t.Fatal("no leakguard-pre-push hook in the manifest")
	}
	prePush = strings.Replace(prePush, "language: golang", "language: system", 1)
	var cfg strings.Builder
	cfg.WriteString("repos:\n- repo: local\n  hooks:\n  - id: ")
	for i, line := range strings.Split(strings.TrimSpace(prePush), "\n") {
		if i > 0 {
			cfg.WriteString("    ")
		}
		cfg.WriteString(strings.TrimSpace(line) + "\n")
	}
	repo.write(".pre-commit-config.yaml", cfg.String())
	env := append(gitTestEnv(repo.dir), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PRE_COMMIT_HOME="+filepath.Join(t.TempDir(), "cache"))
	run := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir = repo.dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(pc, "install", "--hook-type", "pre-push"); err != nil {
		t.Fatalf("pre-commit install: %v\n%s", err, out)
	}
	sk := genKey(t, keyformat.Secret)
	repo.write("app.env", "KEY="+sk+"\n")
	repo.commit("root commit with a key")
	out, err := run("git", "push", "origin", "main")
	if err == nil {
		t.Fatalf("the first push of a key went through pre-commit:\n%s", out)
	}
	if !strings.Contains(out, "app.env:1:5") || strings.Contains(out, sk) {
		t.Fatalf("push output:\n%s", out)
	}
	if refs := repo.git("ls-remote", "origin"); refs != "" {
		t.Fatalf("remote got %q", refs)
	}
}

// TestHookForceBackupAndUninstall: --force keeps the hook it replaces, and
// uninstall removes leakguard's hook and puts that one back.
func TestHookForceBackupAndUninstall(t *testing.T) {
	repo := newGitRepo(t)
	hook := filepath.Join(repo.dir, ".git", "hooks", "pre-push")
	foreign := "#!/bin/sh\necho theirs\n"
	writeFile(t, hook, foreign)
	os.Chmod(hook, 0o755)
	r := runCLI(t, "", "hook", "install", "--repo", repo.dir, "--force")
	if r.code != exitOK || !strings.Contains(r.stdout, "pre-push.leakguard-backup") {
		t.Fatalf("install --force: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if kept, err := os.ReadFile(hook + ".leakguard-backup"); err != nil || string(kept) != foreign {
		t.Fatalf("backup %q, %v; want the replaced hook", kept, err)
	}
	ours, _ := os.ReadFile(hook)
	if !strings.Contains(string(ours), hookMarker) {
		t.Fatalf("hook %q is not leakguard's", ours)
	}
	// Installing again over our own hook keeps the backup as it is.
	if r := runCLI(t, "", "hook", "install", "--repo", repo.dir, "--force"); r.code != exitOK {
		t.Fatalf("second install: %d %q", r.code, r.stderr)
	}
	if kept, _ := os.ReadFile(hook + ".leakguard-backup"); string(kept) != foreign {
		t.Fatalf("second install overwrote the backup with %q", kept)
	}

	r = runCLI(t, "", "hook", "uninstall", "--repo", repo.dir)
	if r.code != exitOK || !strings.Contains(r.stdout, "restored") {
		t.Fatalf("uninstall: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if back, _ := os.ReadFile(hook); string(back) != foreign {
		t.Fatalf("after uninstall the hook is %q, want the one from before", back)
	}
	if _, err := os.Stat(hook + ".leakguard-backup"); !os.IsNotExist(err) {
		t.Errorf("backup left behind: %v", err)
	}
	// Not ours: uninstall refuses; nothing installed: says so.
	assertOneLineError(t, runCLI(t, "", "hook", "uninstall", "--repo", repo.dir), "not leakguard's")
	os.Remove(hook)
	if r := runCLI(t, "", "hook", "uninstall", "--repo", repo.dir); r.code != exitOK || !strings.Contains(r.stdout, "no pre-push hook") {
		t.Fatalf("uninstall with no hook: %d %q %q", r.code, r.stdout, r.stderr)
	}
}
