package gitscan

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/scanner"
)

// genHistory writes a repository of commits commits with git fast-import:
// files text files of about 2 kB, each commit editing a few of them, every
// 50th commit adding a platform key. It returns the repository and the
// number of keys planted. Set LEAKGUARD_BENCH_REPO to keep it somewhere.
func genHistory(tb testing.TB, dir string, commits, files int) int {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Skip("git not installed")
	}
	run := func(stdin *os.File, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = gitEnv(dir)
		if stdin != nil {
			cmd.Stdin = stdin
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run(nil, "init", "-q", "-b", "main")
	stream, err := os.CreateTemp(tb.TempDir(), "fast-import")
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(stream)
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the quick brown fox jumps over a lazy dog config value token secret key user name password host port")
	content := make([][]string, files)
	for i := range content {
		for range 40 {
			var line strings.Builder
			for range 8 {
				line.WriteString(words[rng.IntN(len(words))])
				line.WriteByte(' ')
			}
			content[i] = append(content[i], line.String())
		}
	}
	planted := 0
	for c := 1; c <= commits; c++ {
		fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\ncommitter t <t@example.com> %d +0000\ndata 8\ncommit %d\n", c, 1600000000+c, c%10)
		if c > 1 {
			fmt.Fprintf(w, "from :%d\n", c-1)
		}
		touched := 3
		if c == 1 {
			touched = files
		}
		for k := 0; k < touched; k++ {
			i := k
			if c > 1 {
				i = rng.IntN(files)
			}
			l := rng.IntN(len(content[i]))
			content[i][l] = fmt.Sprintf("edit %d %s", c, content[i][l])
			if c%50 == 0 && k == 0 {
				content[i][l] = "api_key = " + key(tb)
				planted++
			}
			data := strings.Join(content[i], "\n") + "\n"
			fmt.Fprintf(w, "M 100644 inline src/pkg%d/file%d.txt\ndata %d\n%s\n", i%20, i, len(data), data)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if _, err := stream.Seek(0, 0); err != nil {
		tb.Fatal(err)
	}
	run(stream, "fast-import", "--quiet")
	run(nil, "repack", "-adq")
	return planted
}

// BenchmarkHistory scans the whole history of a generated repository of
// 3000 commits (300 files, 9269 distinct blobs, 7 MB packed). Run:
//
//	go test -run='^$' -bench=History -benchtime=5x ./scanner/gitscan/
//
// To compare with gitleaks on the same repository, keep it with
// LEAKGUARD_BENCH_REPO=/some/empty/dir, then time
// "leakguard scan --history --format json DIR" against
// "gitleaks git DIR --report-format json --report-path out.json".
func BenchmarkHistory(b *testing.B) {
	dir := os.Getenv("LEAKGUARD_BENCH_REPO")
	if dir == "" {
		dir = b.TempDir()
	}
	const commits = 3000
	if _, err := os.Stat(dir + "/.git"); err != nil {
		genHistory(b, dir, commits, 300)
	}
	eng, err := scanner.New(scanner.Options{})
	if err != nil {
		b.Fatal(err)
	}
	repo, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	var st Stats
	b.ResetTimer()
	for b.Loop() {
		st, err = repo.History(context.Background(), eng, Options{}, func(scanner.Finding) {})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(st.Bytes)
	b.ReportMetric(float64(st.Commits)*float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	b.ReportMetric(float64(st.Findings), "findings")
}

func TestGeneratedHistoryFindsEveryPlantedKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	planted := genHistory(t, dir, 200, 30)
	g, st := history(t, dir)
	if len(g) != planted || st.Commits != 200 {
		t.Fatalf("found %d of %d planted keys in %d commits", len(g), planted, st.Commits)
	}
}
