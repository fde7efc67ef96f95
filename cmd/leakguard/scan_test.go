package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
)

// result is what one in-process run of the CLI produced.
type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runCLIEnv(t, stdin, nil, args...)
}

func runCLIEnv(t *testing.T, stdin string, vars map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		getenv:     func(k string) string { return vars[k] },
		isTerminal: func(io.Writer) bool { return false }}
	code := run(context.Background(), e, args)
	return result{code, out.String(), errb.String()}
}

// assertOneLineError checks the contract for exit 2: one line on stderr,
// nothing on stdout.
func assertOneLineError(t *testing.T, r result, want string) {
	t.Helper()
	if r.code != exitError {
		t.Fatalf("exit %d, want 2 (stdout %q stderr %q)", r.code, r.stdout, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout on error: %q", r.stdout)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") || !strings.HasPrefix(r.stderr, "leakguard: ") {
		t.Errorf("stderr is not one line: %q", r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q does not name %q", r.stderr, want)
	}
}

func genKey(t testing.TB, kt keyformat.KeyType) string {
	t.Helper()
	k, err := keyformat.GenerateKey(kt, keyformat.Test)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

type jsonFinding struct {
	Rule         string  `json:"rule"`
	File         string  `json:"file"`
	Line         int     `json:"line"`
	Column       int     `json:"column"`
	Commit       *string `json:"commit"`
	SecretSHA256 string  `json:"secret_sha256"`
	Redacted     string  `json:"redacted"`
	Fingerprint  string  `json:"fingerprint"`
	Secret       *string `json:"secret"`
}

func parseJSON(t *testing.T, s string) []jsonFinding {
	t.Helper()
	var fs []jsonFinding
	if err := json.Unmarshal([]byte(s), &fs); err != nil {
		t.Fatalf("stdout is not a JSON array: %v\n%s", err, s)
	}
	return fs
}

func TestScanErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.txt"), "nothing\n")
	writeFile(t, filepath.Join(dir, "bad.json"), "{")
	writeFile(t, filepath.Join(dir, "bad.ignore"), "not an entry\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"scan", "--bogus", dir}, "bogus"},
		{"flag without value", []string{"scan", dir, "--format"}, "format"},
		{"bad format", []string{"scan", "--format", "xml", dir}, "xml"},
		{"unknown rule", []string{"scan", "--rules", "nope-rule", dir}, "nope-rule"},
		{"empty rules", []string{"scan", "--rules", ",", dir}, "rules"},
		{"missing path", []string{"scan", filepath.Join(dir, "missing")}, "missing"},
		{"missing config", []string{"scan", "--config", filepath.Join(dir, "none.toml"), dir}, "none.toml"},
		{"missing baseline", []string{"scan", "--baseline", filepath.Join(dir, "none.json"), dir}, "none.json"},
		{"bad baseline", []string{"scan", "--baseline", filepath.Join(dir, "bad.json"), dir}, "bad.json"},
		{"missing ignore file", []string{"scan", "--ignore-file", filepath.Join(dir, "none.ignore"), dir}, "none.ignore"},
		{"bad ignore file", []string{"scan", "--ignore-file", filepath.Join(dir, "bad.ignore"), dir}, "line 1"},
		{"negative workers", []string{"scan", "--workers", "-1", dir}, "workers"},
		{"bad workers", []string{"scan", "--workers", "many", dir}, "workers"},
		{"history and staged", []string{"scan", "--history", "--staged", dir}, "--staged"},
		{"history of two repos", []string{"scan", "--history", dir, dir}, "one repository"},
		{"history not a repo", []string{"scan", "--history", dir}, "not in a git repository"},
		{"staged not a repo", []string{"scan", "--staged", dir}, "not in a git repository"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertOneLineError(t, runCLI(t, "", tc.args...), tc.want)
		})
	}
}

func TestScanHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		r := runCLI(t, "", "scan", arg)
		if r.code != exitOK || !strings.Contains(r.stdout, "usage: leakguard scan") || r.stderr != "" {
			t.Errorf("scan %s: exit %d stdout %q stderr %q", arg, r.code, r.stdout, r.stderr)
		}
	}
}

func TestScanFiles(t *testing.T) {
	dir := t.TempDir()
	sk, rk, pk := genKey(t, keyformat.Secret), genKey(t, keyformat.Restricted), genKey(t, keyformat.Publishable)
	writeFile(t, filepath.Join(dir, "clean.txt"), "nothing here sk_live_abc123xyz789\n")
	writeFile(t, filepath.Join(dir, "sub", "conf.env"), "A=1\nKEY="+sk+"\n")
	writeFile(t, filepath.Join(dir, "r.txt"), "  "+rk+"\n")
	writeFile(t, filepath.Join(dir, "web.js"), "const pk = '"+pk+"';\n")
	clean := t.TempDir()
	writeFile(t, filepath.Join(clean, "a.txt"), "hello\n")

	t.Run("clean json is an empty array", func(t *testing.T) {
		r := runCLI(t, "", "scan", "--format", "json", clean)
		if r.code != exitOK || strings.TrimSpace(r.stdout) != "[]" {
			t.Fatalf("exit %d stdout %q", r.code, r.stdout)
		}
	})
	t.Run("clean text", func(t *testing.T) {
		r := runCLI(t, "", "scan", clean)
		if r.code != exitOK || r.stdout != "" || !strings.Contains(r.stderr, "1 files") || !strings.Contains(r.stderr, "0 findings") {
			t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("json", func(t *testing.T) {
		r := runCLI(t, "", "scan", "--format", "json", dir)
		if r.code != exitFindings {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
		fs := parseJSON(t, r.stdout)
		if len(fs) != 2 {
			t.Fatalf("findings %+v, want sk and rk (pk only with --include-publishable)", fs)
		}
		f := fs[1]
		if fs[0].File != "r.txt" || f.File != "sub/conf.env" || f.Line != 2 || f.Column != 5 ||
			f.Rule != keyformat.RuleSecretKey || f.Commit == nil || *f.Commit != "" ||
			f.SecretSHA256 != keyformat.Fingerprint([]byte(sk)) || f.Redacted != keyformat.RedactKey([]byte(sk)) ||
			f.Fingerprint != "sub/conf.env:"+keyformat.RuleSecretKey+":"+f.SecretSHA256 || f.Secret != nil {
			t.Errorf("finding %+v", f)
		}
		if fs[0].Rule != keyformat.RuleRestrictedKey || fs[0].Line != 1 || fs[0].Column != 3 {
			t.Errorf("finding %+v", fs[0])
		}
	})
	t.Run("publishable and rule selection", func(t *testing.T) {
		r := runCLI(t, "", "scan", "--format", "json", "--include-publishable", "--rules", "platform", dir)
		if fs := parseJSON(t, r.stdout); len(fs) != 3 || r.code != exitFindings {
			t.Fatalf("exit %d findings %+v", r.code, fs)
		}
		r = runCLI(t, "", "scan", "--format", "json", "--rules", keyformat.RuleRestrictedKey, dir)
		if fs := parseJSON(t, r.stdout); len(fs) != 1 || fs[0].Rule != keyformat.RuleRestrictedKey {
			t.Fatalf("findings %+v", fs)
		}
	})
	t.Run("file argument and several roots", func(t *testing.T) {
		r := runCLI(t, "", "scan", "--format", "json", filepath.Join(dir, "sub", "conf.env"), clean)
		fs := parseJSON(t, r.stdout)
		if len(fs) != 1 || fs[0].File != "conf.env" {
			t.Fatalf("findings %+v", fs)
		}
	})
	t.Run("flags after paths", func(t *testing.T) {
		r := runCLI(t, "", "scan", dir, "--format", "json", "--rules", "platform")
		if r.code != exitFindings || len(parseJSON(t, r.stdout)) != 2 {
			t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("text", func(t *testing.T) {
		r := runCLI(t, "", "scan", dir)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != exitFindings || len(lines) != 2 {
			t.Fatalf("exit %d stdout %q", r.code, r.stdout)
		}
		want := "sub/conf.env:2:5 " + keyformat.RuleSecretKey + " " + keyformat.RedactKey([]byte(sk))
		if !strings.HasPrefix(lines[1], want) || !strings.Contains(lines[1], "fingerprint sub/conf.env:") {
			t.Errorf("line %q, want prefix %q", lines[1], want)
		}
		if strings.Contains(r.stdout, "\x1b[") {
			t.Error("colour codes when stdout is not a terminal")
		}
		if !strings.Contains(r.stderr, "2 findings") || !strings.Contains(r.stderr, "MB/s") {
			t.Errorf("summary %q", r.stderr)
		}
	})
}

// TestScanRedaction: the full secret never reaches stdout or stderr without
// --no-redact, in any format and mode.
func TestScanRedaction(t *testing.T) {
	repo := newGitRepo(t)
	sk := genKey(t, keyformat.Secret)
	repo.write("app/config.yml", "token: "+sk+"\n")
	repo.commit("add")
	repo.write("staged.txt", sk+"\n")
	repo.git("add", "staged.txt")
	for _, mode := range [][]string{{}, {"--history"}, {"--staged"}} {
		for _, format := range []string{"text", "json", "sarif"} {
			args := append(append([]string{"scan", "--format", format}, mode...), repo.dir)
			r := runCLI(t, "", args...)
			if r.code != exitFindings {
				t.Fatalf("%v: exit %d stderr %q", args, r.code, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, sk) {
				t.Errorf("%v: the secret was printed", args)
			}
			if !strings.Contains(r.stdout, keyformat.Fingerprint([]byte(sk))) {
				t.Errorf("%v: the secret's sha256 is missing", args)
			}
			if len(mode) == 0 && format == "json" || len(mode) > 0 && format != "json" {
				continue // --no-redact: text and sarif for files, json for git
			}
			r = runCLI(t, "", append([]string{"scan", "--no-redact"}, args[1:]...)...)
			has := strings.Contains(r.stdout, sk)
			if format != "sarif" && !has {
				t.Errorf("%v --no-redact: secret not printed", args)
			}
			if format == "sarif" && has {
				t.Errorf("%v --no-redact: SARIF must never hold the secret", args)
			}
			if strings.Contains(r.stderr, sk) {
				t.Errorf("%v --no-redact: secret on stderr", args)
			}
		}
	}
}

func TestScanSARIF(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.txt"), "\n\n   "+genKey(t, keyformat.Secret)+"\n")
	r := runCLI(t, "", "scan", "--format", "sarif", dir)
	if r.code != exitFindings {
		t.Fatalf("exit %d", r.code)
	}
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID               string `json:"id"`
						ShortDescription struct {
							Text string `json:"text"`
						} `json:"shortDescription"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine, StartColumn int
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || log.Schema == "" || len(log.Runs) != 1 || len(log.Runs[0].Results) != 1 {
		t.Fatalf("sarif %s", r.stdout)
	}
	run := log.Runs[0]
	res := run.Results[0]
	loc := res.Locations[0].PhysicalLocation
	if run.Tool.Driver.Name != "leakguard" || len(run.Tool.Driver.Rules) != 1 ||
		run.Tool.Driver.Rules[0].ShortDescription.Text == "" || res.RuleID != keyformat.RuleSecretKey ||
		loc.ArtifactLocation.URI != "a.txt" || loc.Region.StartLine != 3 || loc.Region.StartColumn != 4 ||
		len(res.PartialFingerprints["secretSha256/v1"]) != 64 {
		t.Errorf("sarif %s", r.stdout)
	}
}

func TestScanBaselineAndIgnore(t *testing.T) {
	dir := t.TempDir()
	k1, k2, k3 := genKey(t, keyformat.Secret), genKey(t, keyformat.Secret), genKey(t, keyformat.Secret)
	writeFile(t, filepath.Join(dir, "a.txt"), k1+"\n")
	first := runCLI(t, "", "scan", "--format", "json", dir)
	baseline := filepath.Join(t.TempDir(), "baseline.json")
	writeFile(t, baseline, first.stdout)

	// k1 moved down a line, k2 is new.
	writeFile(t, filepath.Join(dir, "a.txt"), "new line\n"+k1+"\n"+k2+"\n")
	r := runCLI(t, "", "scan", "--format", "json", "--baseline", baseline, dir)
	fs := parseJSON(t, r.stdout)
	if r.code != exitFindings || len(fs) != 1 || fs[0].SecretSHA256 != keyformat.Fingerprint([]byte(k2)) {
		t.Fatalf("with baseline: exit %d findings %+v", r.code, fs)
	}
	// Only baselined findings: exit 0.
	writeFile(t, filepath.Join(dir, "a.txt"), "\n\n"+k1+"\n")
	if r := runCLI(t, "", "scan", "--baseline", baseline, dir); r.code != exitOK || r.stdout != "" {
		t.Fatalf("only baselined: exit %d stdout %q", r.code, r.stdout)
	}

	// .leakguardignore at the root: k1 by sha everywhere, k2 by fingerprint
	// in a.txt only.
	writeFile(t, filepath.Join(dir, "a.txt"), k1+"\n"+k2+"\n"+k3+"\n")
	writeFile(t, filepath.Join(dir, "b.txt"), k1+"\n"+k2+"\n")
	fp := "a.txt:" + keyformat.RuleSecretKey + ":" + keyformat.Fingerprint([]byte(k2))
	writeFile(t, filepath.Join(dir, ".leakguardignore"), "# reviewed\n"+keyformat.Fingerprint([]byte(k1))+"\n"+fp+"\n")
	r = runCLI(t, "", "scan", "--format", "json", dir)
	fs = parseJSON(t, r.stdout)
	if len(fs) != 2 || fs[0].File != "a.txt" || fs[0].SecretSHA256 != keyformat.Fingerprint([]byte(k3)) ||
		fs[1].File != "b.txt" || fs[1].SecretSHA256 != keyformat.Fingerprint([]byte(k2)) {
		t.Fatalf("with ignore file: %+v", fs)
	}
	// A fingerprint printed by the scan, pasted into an ignore file, works.
	other := filepath.Join(t.TempDir(), "ignore")
	writeFile(t, other, fs[0].Fingerprint+"\n"+fs[1].Fingerprint+"\n")
	if r := runCLI(t, "", "scan", "--ignore-file", other, dir); r.code != exitFindings {
		// --ignore-file replaces the root's file: k1 is back.
		t.Fatalf("explicit ignore file: exit %d", r.code)
	} else if strings.Count(r.stdout, "\n") != 3 || strings.Contains(r.stdout, fs[0].Fingerprint) || strings.Contains(r.stdout, fs[1].Fingerprint) {
		t.Fatalf("explicit ignore file: %q", r.stdout)
	}
}

func TestScanHistoryAndStaged(t *testing.T) {
	repo := newGitRepo(t)
	k1, k2, k3 := genKey(t, keyformat.Secret), genKey(t, keyformat.Restricted), genKey(t, keyformat.Secret)
	repo.write("src/app.go", "package app\n\nconst key = \""+k1+"\"\n")
	c1 := repo.commit("add key")
	repo.write("src/app.go", "package app\n")
	repo.commit("remove key")
	repo.write("notes.txt", k2+"\n")
	repo.git("add", "notes.txt")
	repo.write("unstaged.txt", k3+"\n")

	r := runCLI(t, "", "scan", "--history", "--format", "json", repo.dir)
	fs := parseJSON(t, r.stdout)
	if r.code != exitFindings || len(fs) != 1 || fs[0].File != "src/app.go" || fs[0].Line != 3 ||
		fs[0].Commit == nil || *fs[0].Commit != c1 {
		t.Fatalf("history: exit %d %+v stderr %q", r.code, fs, r.stderr)
	}
	r = runCLI(t, "", "scan", "--history", repo.dir)
	if !strings.Contains(r.stdout, "commit "+c1) || !strings.Contains(r.stderr, "commits") {
		t.Errorf("history text: %q / %q", r.stdout, r.stderr)
	}

	r = runCLI(t, "", "scan", "--staged", "--format", "json", repo.dir)
	fs = parseJSON(t, r.stdout)
	if r.code != exitFindings || len(fs) != 1 || fs[0].File != "notes.txt" || *fs[0].Commit != "" {
		t.Fatalf("staged: exit %d %+v", r.code, fs)
	}
	// The root's ignore file applies to git scans too.
	repo.write(".leakguardignore", fs[0].Fingerprint+"\n")
	if r := runCLI(t, "", "scan", "--staged", repo.dir); r.code != exitOK {
		t.Fatalf("staged with ignore: exit %d %q", r.code, r.stdout)
	}
}

// gitRepo is a repository made with the git CLI, isolated from the user's
// git configuration.
type gitRepo struct {
	t   testing.TB
	dir string
}

func gitTestEnv(home string) []string {
	return append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "HOME="+home,
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.com")
}

func newGitRepo(t testing.TB) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	out, err := r.gitErr(args...)
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (r *gitRepo) gitErr(args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = gitTestEnv(r.dir)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (r *gitRepo) write(path, content string) {
	r.t.Helper()
	writeFile(r.t, filepath.Join(r.dir, path), content)
}

func (r *gitRepo) commit(msg string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

func TestScanConfig(t *testing.T) {
	acme := "acme_0123456789abcdef0123456789abcdef"
	sk := genKey(t, keyformat.Secret)
	repo := newGitRepo(t)
	// One blob at three paths: only the .env one is in the rule's scope,
	// the vendor one is allowlisted.
	repo.write("a.env", "KEY="+acme+"\n"+sk+"\n")
	repo.write("b.txt", "KEY="+acme+"\n"+sk+"\n")
	repo.write("vendor/c.env", "KEY="+acme+"\n"+sk+"\n")
	repo.commit("one blob, three paths")
	repo.write("skip.env", "x\n"+genKey(t, keyformat.Secret)+"\n")
	skipped := repo.commit("allowlisted commit")

	cfg := filepath.Join(t.TempDir(), "leakguard.toml")
	writeFile(t, cfg, `title = "test"
[extend]
useDefault = true
[[rules]]
id = "acme-api-key"
description = "ACME API key"
regex = '''\b(acme_[0-9a-f]{32})\b'''
secretGroup = 1
keywords = ["acme_"]
path = '''\.env$'''
[allowlist]
paths = ['''(^|/)vendor/''']
commits = ["`+skipped+`"]
`)
	type fk struct{ file, rule string }
	want := map[fk]bool{{"a.env", "acme-api-key"}: true, {"a.env", keyformat.RuleSecretKey}: true,
		{"b.txt", keyformat.RuleSecretKey}: true}
	for _, mode := range [][]string{{"--history"}, {}} {
		args := append(append([]string{"scan", "--format", "json", "--config", cfg}, mode...), repo.dir)
		r := runCLI(t, "", args...)
		fs := parseJSON(t, r.stdout)
		got := map[fk]bool{}
		for _, f := range fs {
			got[fk{f.File, f.Rule}] = true
		}
		if len(mode) == 0 {
			// Without history there is no commit to allowlist.
			want[fk{"skip.env", keyformat.RuleSecretKey}] = true
		}
		if r.code != exitFindings || len(got) != len(want) || len(fs) != len(want) {
			t.Fatalf("%v: exit %d findings %+v, want %v (stderr %q)", mode, r.code, fs, want, r.stderr)
		}
		for k := range want {
			if !got[k] {
				t.Errorf("%v: missing %v in %+v", mode, k, fs)
			}
		}
	}
	r := runCLI(t, "", "scan", "--format", "sarif", "--config", cfg, repo.dir)
	if !strings.Contains(r.stdout, "ACME API key") {
		t.Error("SARIF lacks the config rule's description")
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	writeFile(t, bad, "[[rules]]\nid = \"x\"\nregex = '''(unclosed'''\n")
	assertOneLineError(t, runCLI(t, "", "scan", "--config", bad, repo.dir), "bad.toml")
}

// TestScanTerminal: a progress display and colours appear only on a
// terminal, and never in machine-readable output.
func TestScanTerminal(t *testing.T) {
	repo := newGitRepo(t)
	sk := genKey(t, keyformat.Secret)
	repo.write("a.txt", sk+"\n")
	repo.commit("add")
	run := func(vars map[string]string, args ...string) result {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
			getenv:     func(k string) string { return vars[k] },
			isTerminal: func(io.Writer) bool { return true }}
		code := run(context.Background(), e, args)
		return result{code, out.String(), errb.String()}
	}
	for _, mode := range [][]string{{}, {"--history"}} {
		r := run(nil, append(append([]string{"scan"}, mode...), repo.dir)...)
		if !strings.Contains(r.stderr, "\r\x1b[K") || !strings.Contains(r.stdout, "\x1b[") {
			t.Errorf("%v on a terminal: stdout %q stderr %q", mode, r.stdout, r.stderr)
		}
		r = run(map[string]string{"NO_COLOR": "1"}, append(append([]string{"scan", "--no-progress"}, mode...), repo.dir)...)
		if strings.Contains(r.stderr, "\r") || strings.Contains(r.stdout, "\x1b[") {
			t.Errorf("%v --no-progress NO_COLOR: stdout %q stderr %q", mode, r.stdout, r.stderr)
		}
		r = run(nil, append(append([]string{"scan", "--format", "json"}, mode...), repo.dir)...)
		if fs := parseJSON(t, r.stdout); len(fs) != 1 || strings.Contains(r.stdout+r.stderr, sk) {
			t.Errorf("%v json on a terminal: %q", mode, r.stdout)
		}
	}
}

// TestScanWarnings: a broken archive is a warning line on stderr, not an
// error, in a folder and in history.
func TestScanWarnings(t *testing.T) {
	repo := newGitRepo(t)
	repo.write("bad.zip", "PK\x03\x04garbage-garbage-garbage-garbage")
	repo.commit("broken archive")
	for _, mode := range [][]string{{}, {"--history"}} {
		r := runCLI(t, "", append(append([]string{"scan", "--format", "json"}, mode...), repo.dir)...)
		if r.code != exitOK || strings.TrimSpace(r.stdout) != "[]" {
			t.Fatalf("%v: exit %d stdout %q", mode, r.code, r.stdout)
		}
		if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "leakguard: warning: bad.zip") {
			t.Errorf("%v: stderr %q, want one warning about bad.zip", mode, r.stderr)
		}
	}
}
