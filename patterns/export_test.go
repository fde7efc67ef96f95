package patterns

// EngineExample is one true example of a default rule, for tests outside
// the package (the scanner's engine runs them through its prefilter).
type EngineExample struct{ Rule, Path, Text, Secret string }

// EngineExamples returns every true example of every default rule.
func EngineExamples(seed uint64) []EngineExample {
	var out []EngineExample
	for _, c := range ruleCases(newGen(seed)) {
		path := c.path
		if path == "" {
			path = "src/app.env"
		}
		for _, ex := range c.yes {
			out = append(out, EngineExample{Rule: c.id, Path: path, Text: ex.text, Secret: ex.secret})
		}
	}
	return out
}
