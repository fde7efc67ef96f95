package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/leakguard/leakguard/report"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/scanner/gitscan"
)

const hookUsage = `usage: leakguard hook pre-push [flags] [REMOTE [URL]]
       leakguard hook install [--force] [--repo DIR]
       leakguard hook uninstall [--repo DIR]

pre-push   reads git's pre-push input ("<local ref> <local sha> <remote ref>
           <remote sha>" per line) and scans only the commits being pushed;
           exit 1 blocks the push when they add a secret. Takes the scan
           flags --rules, --include-publishable, --config, --format,
           --baseline, --ignore-file, --no-redact, --workers, --no-progress,
           --allow-incomplete (objects that cannot be read are a warning,
           not exit 2) and --repo DIR (default ".").
           Run by the pre-commit framework with no range (the first push
           of a branch holding the root commit), it scans every commit no
           remote-tracking ref has.
install    writes the pre-push hook into the repository's hooks directory
           (core.hooksPath is respected); --force replaces a hook that is
           not leakguard's, keeping it as pre-push.leakguard-backup.
uninstall  removes leakguard's pre-push hook and puts back the one
           install --force replaced, if any.
`

// hookMarker identifies a pre-push hook written by leakguard.
const hookMarker = "# leakguard pre-push hook"

func runHook(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		return fail(e, "hook: want 'pre-push', 'install' or 'uninstall' (see 'leakguard hook --help')")
	}
	switch args[0] {
	case "pre-push":
		return runPrePush(ctx, e, args[1:])
	case "install":
		return runHookInstall(ctx, e, args[1:])
	case "uninstall":
		return runHookUninstall(ctx, e, args[1:])
	case "-h", "--help", "-help", "help":
		io.WriteString(e.stdout, hookUsage)
		return exitOK
	}
	return fail(e, "hook: unknown hook command %q (want 'pre-push', 'install' or 'uninstall')", args[0])
}

func runPrePush(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("hook pre-push")
	var f scanFlags
	f.register(fs, false)
	repoDir := fs.String("repo", ".", "")
	allowIncomplete := fs.Bool("allow-incomplete", false, "")
	pos, code, done := f.parse(e, fs, "hook pre-push", hookUsage, args)
	if done {
		return code
	}
	if len(pos) > 2 {
		return fail(e, "hook pre-push: want at most REMOTE and URL, got %d arguments", len(pos))
	}
	remote := "the remote"
	if len(pos) > 0 {
		remote = pos[0]
	}
	start := time.Now()
	defer limitMemory(e)()
	repo, err := gitscan.Open(*repoDir)
	if err != nil {
		return fail(e, "hook pre-push: %s", oneLine(err.Error()))
	}
	var prog *report.Progress
	if !f.noProgress && e.isTerminal(e.stderr) {
		prog = report.NewProgress(e.stderr, 0)
	}
	s, err := f.setup([]string{repo.Root()}, nil)
	if err != nil {
		return fail(e, "hook pre-push: %s", oneLine(err.Error()))
	}
	updates, err := gitscan.ParsePrePush(io.LimitReader(e.stdin, 64<<20))
	if err != nil {
		return fail(e, "hook pre-push: %s", oneLine(err.Error()))
	}
	// Run by the pre-commit framework, which reads git's input itself and
	// passes the range (of the first ref pushed only) in its environment,
	// or no range at all for a first push that includes the root commit:
	// then every commit the remotes do not have is scanned.
	unpushed := false
	if len(updates) == 0 && e.getenv("PRE_COMMIT_TO_REF") != "" {
		if updates, err = preCommitUpdate(e); err != nil {
			return fail(e, "hook pre-push: %s", oneLine(err.Error()))
		}
	} else if len(updates) == 0 && (e.getenv("PRE_COMMIT") != "" || e.getenv("PRE_COMMIT_REMOTE_NAME") != "") {
		unpushed = true
	}
	if r := e.getenv("PRE_COMMIT_REMOTE_NAME"); r != "" && len(pos) == 0 {
		remote = r
	}
	gopts := gitscan.Options{Workers: s.workers, PathKey: s.pathKey, Warn: func(w scanner.Warning) {
		prog.Clear()
		fmt.Fprintf(e.stderr, "leakguard: warning: %s\n", report.Escape(w.Error()))
	}}
	if prog != nil {
		gopts.Progress = func(p gitscan.Progress) { prog.Update(p.Done, p.Total, p.Bytes, p.Phase) }
	}
	var findings []scanner.Finding
	emit := func(fd scanner.Finding) { findings = append(findings, fd) }
	var st gitscan.Stats
	if unpushed {
		st, err = repo.Unpushed(ctx, s.engine, gopts, emit)
	} else {
		st, err = repo.PrePush(ctx, s.engine, updates, gopts, emit)
	}
	prog.Done()
	if err != nil {
		return fail(e, "hook pre-push: %s", oneLine(err.Error()))
	}
	findings = s.filter.Apply(findings)
	report.Sort(findings)
	if len(findings) == 0 {
		if s.opts.Format != report.Text {
			if err := report.Write(e.stdout, findings, s.opts); err != nil {
				return fail(e, "hook pre-push: %s", oneLine(err.Error()))
			}
		}
		// Commits that could not be read whole block the push too.
		return incomplete(e.stderr, st, *allowIncomplete, exitOK)
	}
	opts := s.opts
	opts.Color = opts.Format == report.Text && e.isTerminal(e.stdout) && e.getenv("NO_COLOR") == ""
	n := len(findings)
	fmt.Fprintf(e.stderr, "leakguard: push to %s blocked: %d %s in the %d %s being pushed:\n",
		remote, n, pluralWord(n, "secret", "secrets"), st.Commits, pluralWord(int(st.Commits), "commit", "commits"))
	if err := report.Write(e.stdout, findings, opts); err != nil {
		return fail(e, "hook pre-push: %s", oneLine(err.Error()))
	}
	report.WriteSummary(e.stderr, report.Summary{Commits: st.Commits, Files: st.Blobs, Bytes: st.Bytes,
		Findings: n, Elapsed: time.Since(start)})
	fmt.Fprint(e.stderr, `Each line shows file:line:column, rule, the redacted secret, the commit that
added it and its fingerprint. Take the secret out of those commits (amend or
rebase) and rotate it. If a finding is a false positive:
  - add a "leakguard:allow" comment on its line, or
  - add its fingerprint (file:rule:secret_sha256) to .leakguardignore, or
  - push without this check once: git push --no-verify
`)
	return incomplete(e.stderr, st, *allowIncomplete, f.exitCode)
}

// preCommitUpdate builds the pushed range from the pre-commit framework's
// PRE_COMMIT_FROM_REF (empty for a new branch) and PRE_COMMIT_TO_REF.
func preCommitUpdate(e *env) ([]gitscan.RefUpdate, error) {
	zero := strings.Repeat("0", 40)
	or := func(v, def string) string {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
		return def
	}
	line := strings.Join([]string{
		or(e.getenv("PRE_COMMIT_LOCAL_BRANCH"), "HEAD"), strings.TrimSpace(e.getenv("PRE_COMMIT_TO_REF")),
		or(e.getenv("PRE_COMMIT_REMOTE_BRANCH"), "HEAD"), or(e.getenv("PRE_COMMIT_FROM_REF"), zero),
	}, " ")
	u, err := gitscan.ParsePrePush(strings.NewReader(line))
	if err != nil {
		return nil, fmt.Errorf("PRE_COMMIT_FROM_REF/PRE_COMMIT_TO_REF: %w", err)
	}
	return u, nil
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func runHookInstall(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("hook install")
	force := fs.Bool("force", false, "")
	repoDir := fs.String("repo", ".", "")
	path, code, done := hookPath(ctx, e, "hook install", fs, repoDir, args)
	if done {
		return code
	}
	script := prePushScript(leakguardCommand())
	old, err := os.ReadFile(path)
	backup := ""
	switch {
	case err == nil:
		if !bytes.Contains(old, []byte(hookMarker)) {
			if !*force {
				return fail(e, "hook install: %s exists and is not leakguard's (use --force to replace it; it is kept as %s)",
					path, filepath.Base(path+backupSuffix))
			}
			// Keep the hook being replaced, as it was, for uninstall to
			// put back; an earlier backup is never overwritten.
			backup = path + backupSuffix
			if _, err := os.Lstat(backup); err == nil {
				return fail(e, "hook install: %s exists already; move it away first", backup)
			}
			if err := os.Rename(path, backup); err != nil {
				return fail(e, "hook install: keep the old hook: %s", oneLine(err.Error()))
			}
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return fail(e, "hook install: %s", oneLine(err.Error()))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fail(e, "hook install: %s", oneLine(err.Error()))
	}
	if err := writeExecutable(path, []byte(script)); err != nil {
		return fail(e, "hook install: %s", oneLine(err.Error()))
	}
	fmt.Fprintf(e.stdout, "leakguard: pre-push hook installed at %s\n", path)
	if backup != "" {
		fmt.Fprintf(e.stdout, "leakguard: the hook it replaced is kept as %s ('leakguard hook uninstall' puts it back)\n", backup)
	}
	return exitOK
}

// hookPath parses the flags of a hook command (fs holds them, --repo among
// them) and names the pre-push file git runs for that repository. done says
// the command is over (help printed or an error reported) with exit code.
func hookPath(ctx context.Context, e *env, name string, fs *flag.FlagSet, repoDir *string, args []string) (path string, code int, done bool) {
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		io.WriteString(e.stdout, hookUsage)
		return "", exitOK, true
	}
	if err != nil {
		return "", flagError(e, name, err), true
	}
	if len(pos) > 0 {
		return "", fail(e, "%s: unexpected argument %q", name, pos[0]), true
	}
	dir, err := hooksDir(ctx, *repoDir)
	if err != nil {
		return "", fail(e, "%s: %s", name, oneLine(err.Error())), true
	}
	return filepath.Join(dir, "pre-push"), exitOK, false
}

// backupSuffix names the copy of a hook that install --force replaced.
const backupSuffix = ".leakguard-backup"

func runHookUninstall(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("hook uninstall")
	repoDir := fs.String("repo", ".", "")
	path, code, done := hookPath(ctx, e, "hook uninstall", fs, repoDir, args)
	if done {
		return code
	}
	cur, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(e.stdout, "leakguard: no pre-push hook at %s\n", path)
		return exitOK
	case err != nil:
		return fail(e, "hook uninstall: %s", oneLine(err.Error()))
	case !bytes.Contains(cur, []byte(hookMarker)):
		return fail(e, "hook uninstall: %s is not leakguard's; left as it is", path)
	}
	backup := path + backupSuffix
	if _, err := os.Lstat(backup); err == nil {
		if err := os.Rename(backup, path); err != nil {
			return fail(e, "hook uninstall: restore %s: %s", backup, oneLine(err.Error()))
		}
		fmt.Fprintf(e.stdout, "leakguard: pre-push hook removed; the earlier hook is restored at %s\n", path)
		return exitOK
	}
	if err := os.Remove(path); err != nil {
		return fail(e, "hook uninstall: %s", oneLine(err.Error()))
	}
	fmt.Fprintf(e.stdout, "leakguard: pre-push hook removed from %s\n", path)
	return exitOK
}

// hooksDir asks git where hooks live: it knows core.hooksPath and linked
// worktrees.
func hooksDir(ctx context.Context, repoDir string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--git-path", "hooks")
	cmd.Dir = repoDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("find hooks directory of %s: %s", repoDir, oneLine(msg))
	}
	dir := strings.TrimSpace(string(out))
	if !filepath.IsAbs(dir) {
		abs, err := filepath.Abs(filepath.Join(repoDir, dir))
		if err != nil {
			return "", err
		}
		dir = abs
	}
	return dir, nil
}

// leakguardCommand is how the hook calls leakguard: by name when it is on
// PATH, else by the absolute path of this executable.
func leakguardCommand() string {
	if _, err := exec.LookPath("leakguard"); err == nil {
		return "leakguard"
	}
	if p, err := os.Executable(); err == nil {
		if abs, err := filepath.EvalSymlinks(p); err == nil {
			return abs
		}
		return p
	}
	return "leakguard"
}

func prePushScript(bin string) string {
	return "#!/bin/sh\n" + hookMarker + " (written by 'leakguard hook install').\n" +
		"# Scans the commits being pushed and blocks the push if they add a secret.\n" +
		"exec " + shellQuote(bin) + " hook pre-push \"$@\"\n"
}

// shellQuote quotes s for sh when it holds anything but safe characters.
func shellQuote(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-+:@", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeExecutable replaces path atomically with an executable file.
func writeExecutable(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pre-push-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
