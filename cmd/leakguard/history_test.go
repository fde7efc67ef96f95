package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
)

// TestScanHistorySelectionAndDetail: --since, --until, --branch, a range
// and --log-opts pick the commits; JSON findings carry author, email, date
// and message.
func TestScanHistorySelectionAndDetail(t *testing.T) {
	repo := newGitRepo(t)
	k1, k2 := genKey(t, keyformat.Secret), genKey(t, keyformat.Secret)
	repo.write("a.txt", k1+"\n")
	c1 := repo.commit("first key")
	repo.git("checkout", "-q", "-b", "feature")
	repo.write("b.txt", k2+"\n")
	c2 := repo.commit("feature key\n\nbody line")
	repo.git("checkout", "-q", "main")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"all", nil, []string{c1, c2}},
		{"branch", []string{"--branch", "main"}, []string{c1}},
		{"range", []string{"main..feature"}, []string{c2}},
		{"log-opts", []string{"--log-opts", "main..feature --no-merges"}, []string{c2}},
		{"since", []string{"--since", "2000-01-01"}, []string{c1, c2}},
		{"until", []string{"--until", "2000-01-01"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"scan", "--history", "--format", "json", repo.dir}, tc.args...)
			r := runCLI(t, "", args...)
			var fs []map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &fs); err != nil {
				t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
			var got []string
			for _, f := range fs {
				got = append(got, f["commit"].(string))
				if f["commit"] == c2 && (f["author"] != "t" || f["email"] != "t@example.com" ||
					f["message"] != "feature key\n\nbody line" || !strings.HasPrefix(f["date"].(string), "20")) {
					t.Errorf("finding detail %v", f)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("commits %v, want %v (stderr %q)", got, tc.want, r.stderr)
			}
		})
	}
	assertOneLineError(t, runCLI(t, "", "scan", "--history", repo.dir, "--log-opts", "-p"), "-p")
	assertOneLineError(t, runCLI(t, "", "scan", "--since", "2020-01-01", repo.dir), "--history")
}

// TestScanHistoryIncomplete: a history with blobs that cannot be read is
// no quiet success: the summary counts them and the exit code is 2, unless
// --allow-incomplete says that is expected.
func TestScanHistoryIncomplete(t *testing.T) {
	src := newGitRepo(t)
	src.git("config", "uploadpack.allowFilter", "true")
	src.write("a.txt", genKey(t, keyformat.Secret)+"\n")
	src.commit("key")
	src.write("b.txt", "x\n")
	src.commit("more")
	dir := filepath.Join(t.TempDir(), "partial")
	src.git("clone", "-q", "--no-checkout", "--filter=blob:none", "file://"+src.dir, dir)
	r := runCLI(t, "", "scan", "--history", dir)
	if r.code != exitError || !strings.Contains(r.stderr, "2 blobs could not be read") || !strings.Contains(r.stderr, "incomplete") {
		t.Fatalf("partial clone: exit %d stderr %q", r.code, r.stderr)
	}
	if strings.Count(r.stderr, "\n") > 6 {
		t.Errorf("a warning per missing blob: %q", r.stderr)
	}
	r = runCLI(t, "", "scan", "--history", "--allow-incomplete", dir)
	if r.code != exitOK || !strings.Contains(r.stderr, "2 blobs could not be read") {
		t.Fatalf("--allow-incomplete: exit %d stderr %q", r.code, r.stderr)
	}
}
