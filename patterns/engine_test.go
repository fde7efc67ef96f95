package patterns_test

import (
	"testing"

	"github.com/leakguard/leakguard/patterns"
	"github.com/leakguard/leakguard/scanner"
)

// TestEngineFindsEveryExample runs every rule's true examples through the
// scanner's engine, not just the rule's regex: the engine only runs a
// regex near a keyword hit, and checks most hits first with a regex
// anchored there (scanner/width.go), so a keyword set or an anchoring that
// does not cover every match would make a rule silently never fire.
func TestEngineFindsEveryExample(t *testing.T) {
	eng, err := scanner.New(scanner.Options{NoDecode: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []uint64{1, 2, 3} {
		for _, ex := range patterns.EngineExamples(seed) {
			found := false
			var got []string
			eng.ScanBytes(ex.Path, []byte(ex.Text), func(f scanner.Finding) {
				got = append(got, f.RuleID)
				// generic-password's secrets may come out as
				// generic-api-key: the two overlap and the engine keeps one.
				sameRule := f.RuleID == ex.Rule || ex.Rule == "generic-password" && f.RuleID == "generic-api-key"
				if sameRule && string(f.Secret) == ex.Secret {
					found = true
				}
			})
			if !found {
				t.Errorf("%s: the engine misses %q in %q (found %v)", ex.Rule, ex.Secret, ex.Text, got)
			}
		}
	}
}

// TestRandomTokensFound generates 120 true examples per rule (random
// tokens in the provider's format) and fails a rule that misses more than
// one in a hundred (so one miss in 120 passes): an entropy floor set above what random tokens of the
// format reach drops real keys (sidekiq-secret's floor of 3 bits missed one
// real credential in twenty).
func TestRandomTokensFound(t *testing.T) {
	eng, err := scanner.New(scanner.Options{NoDecode: true})
	if err != nil {
		t.Fatal(err)
	}
	miss, total := map[string]int{}, map[string]int{}
	example := map[string]patterns.EngineExample{}
	for seed := uint64(100); seed < 140; seed++ {
		for _, ex := range patterns.EngineExamples(seed) {
			total[ex.Rule]++
			found := false
			eng.ScanBytes(ex.Path, []byte(ex.Text), func(f scanner.Finding) {
				sameRule := f.RuleID == ex.Rule || ex.Rule == "generic-password" && f.RuleID == "generic-api-key"
				found = found || sameRule && string(f.Secret) == ex.Secret
			})
			if !found {
				miss[ex.Rule]++
				example[ex.Rule] = ex
			}
		}
	}
	for id, n := range miss {
		if n*100 > total[id] {
			t.Errorf("%s misses %d of %d random tokens, e.g. %q (entropy %.2f)", id, n, total[id],
				example[id].Secret, patterns.ShannonEntropy([]byte(example[id].Secret)))
		}
	}
}
