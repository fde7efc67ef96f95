package gitscan

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/scanner"
)

// commitAt commits with the given author and dates.
func (r *testRepo) commitAt(msg, date, author string) string {
	r.t.Helper()
	r.git("add", "-A")
	cmd := exec.Command("git", "commit", "-q", "--allow-empty", "-m", msg)
	cmd.Dir = r.dir
	cmd.Env = append(gitEnv(r.dir), "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date,
		"GIT_AUTHOR_NAME="+author, "GIT_AUTHOR_EMAIL="+strings.ToLower(author)+"@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("git commit: %v\n%s", err, out)
	}
	return r.git("rev-parse", "HEAD")
}

// TestHistorySelection: ranges, dates and branches pick the commits
// scanned; each finding carries its commit's author, email, date and
// message.
func TestHistorySelection(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	k1, k2, k3 := key(t), key(t), key(t)
	r.write("a.txt", k1+"\n")
	c1 := r.commitAt("first key", "2021-01-10T10:00:00Z", "Ann")
	r.write("b.txt", k2+"\n")
	c2 := r.commitAt("second key\n\nwith a body", "2022-06-01T12:30:00Z", "Bob")
	r.git("checkout", "-q", "-b", "feature")
	r.write("c.txt", k3+"\n")
	c3 := r.commitAt("feature key", "2023-03-03T03:03:03Z", "Cat")
	r.git("checkout", "-q", "main")

	cases := []struct {
		name string
		revs []string
		want []string // commits with findings
	}{
		{"everything", nil, []string{c1, c2, c3}},
		{"range", []string{c1 + "..feature"}, []string{c2, c3}},
		{"since", []string{"--all", "--since=2022-01-01"}, []string{c2, c3}},
		{"until", []string{"--all", "--until=2022-01-01"}, []string{c1}},
		{"branch", []string{"main"}, []string{c1, c2}},
		{"max count", []string{"feature", "-n", "1"}, []string{c3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			repo, err := Open(r.dir)
			if err != nil {
				t.Fatal(err)
			}
			var fs []scanner.Finding
			_, err = repo.HistoryOf(context.Background(), engine(t), tc.revs, Options{}, func(f scanner.Finding) { fs = append(fs, f) })
			if err != nil {
				t.Fatal(err)
			}
			var gotCommits []string
			for _, f := range fs {
				gotCommits = append(gotCommits, f.Commit)
			}
			if strings.Join(sorted(gotCommits), ",") != strings.Join(sorted(tc.want), ",") {
				t.Fatalf("commits %v, want %v", gotCommits, tc.want)
			}
			for _, f := range fs {
				if f.Commit == c2 && (f.Author != "Bob" || f.Email != "bob@example.com" ||
					f.Date != "2022-06-01T12:30:00Z" || f.Message != "second key\n\nwith a body") {
					t.Errorf("finding detail: %q %q %q %q", f.Author, f.Email, f.Date, f.Message)
				}
			}
		})
	}
	repo, _ := Open(r.dir)
	for _, bad := range [][]string{{"--patch"}, {"no-such-ref"}, {"--", "a.txt"}, {"--output=/tmp/x"}} {
		if _, err := repo.HistoryOf(context.Background(), engine(t), bad, Options{}, func(scanner.Finding) {}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
