package patterns

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenericCorpus measures the generic rule on a corpus of its own:
// testdata/generic/noise holds code and configuration that name passwords,
// tokens and keys without holding one (form fields, token URLs, env
// lookups, hashes, base64 images, placeholders, test fakes); positives.txt
// holds assignments of random values in many languages' shapes. Every
// finding in the noise is a false positive; a positive is found when its
// value, exactly, is reported.
func TestGenericCorpus(t *testing.T) {
	r := rulesByID(t)["generic-api-key"]
	g := newGen(42)
	fp := 0
	noise, err := filepath.Glob("testdata/generic/noise/*")
	if err != nil || len(noise) < 10 {
		t.Fatalf("noise corpus: %v (%d files)", err, len(noise))
	}
	noiseLines := 0
	for _, name := range noise {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		noiseLines += bytes.Count(data, []byte("\n"))
		for _, f := range applyRuleAt(r, name, data) {
			fp++
			t.Logf("false positive in %s: %q", filepath.Base(name), f.match)
		}
	}
	f, err := os.Open("testdata/generic/positives.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tp, total := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		total++
		i, j := strings.Index(line, "{"), strings.LastIndex(line, "}")
		want := g.f(line[i : j+1])
		text := line[:i] + want + line[j+1:] + "\n"
		got := applyRuleAt(r, "src/app.conf", []byte(text))
		switch {
		case len(got) == 1 && got[0].secret == want:
			tp++
		case len(got) == 0:
			t.Logf("missed: %q", text)
		default:
			fp += len(got)
			t.Logf("wrong finding %v in %q", got, text)
		}
	}
	precision := float64(tp) / float64(tp+fp)
	recall := float64(tp) / float64(total)
	t.Logf("generic-api-key: %d noise files (%d lines), %d positives: TP %d, FP %d, FN %d; precision %.3f, recall %.3f",
		len(noise), noiseLines, total, tp, fp, total-tp, precision, recall)
	if precision < 0.95 || recall < 0.90 {
		t.Errorf("precision %.3f (want >= 0.95), recall %.3f (want >= 0.90)", precision, recall)
	}
}
