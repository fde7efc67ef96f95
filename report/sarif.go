package report

import (
	"fmt"
	"io"
	"net/url"
	"sort"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/scanner"
)

// InformationURI is the project page named in SARIF output.
const InformationURI = "https://github.com/leakguard/leakguard"

// FingerprintKey is the SARIF partialFingerprints key: GitHub code scanning
// uses it to follow one secret across runs even when its line moves.
const FingerprintKey = "secretSha256/v1"

// WriteSARIF prints a SARIF 2.1.0 log with one run. The secret never appears
// in it, whatever opts.NoRedact says: SARIF files are uploaded and shared.
func WriteSARIF(w io.Writer, fs []scanner.Finding, opts Options) error {
	rep, err := sarif.New(sarif.Version210)
	if err != nil {
		return fmt.Errorf("write sarif report: %w", err)
	}
	version := opts.ToolVersion
	if version == "" {
		version = "dev"
	}
	run := sarif.NewRunWithInformationURI("leakguard", InformationURI)
	run.Tool.Driver.WithVersion(version)

	ids := map[string]bool{}
	for _, f := range fs {
		ids[f.RuleID] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	index := map[string]int{}
	for i, id := range sorted {
		desc := opts.Descriptions[id]
		if desc == "" {
			desc = "Secret matched by rule " + id
		}
		run.AddRule(id).WithDescription(desc).WithName(id).
			WithHelpURI(InformationURI)
		index[id] = i
	}

	for _, f := range fs {
		level := "error"
		if f.RuleID == keyformat.RulePublishableKey {
			level = "note"
		}
		msg := fmt.Sprintf("%s: secret %s (sha256 %s)", ruleText(opts, f.RuleID), f.Redacted, f.SecretSHA256)
		if f.Commit != "" {
			msg += " introduced in commit " + f.Commit
		}
		col := max(f.Column, 1)
		line := max(f.Line, 1)
		region := sarif.NewRegion().WithStartLine(line).WithStartColumn(col)
		if f.EndLine >= line && f.EndColumn > 0 {
			// SARIF's end column is the one just past the secret.
			region.WithEndLine(f.EndLine).WithEndColumn(f.EndColumn + 1)
		}
		res := sarif.NewRuleResult(f.RuleID).
			WithRuleIndex(index[f.RuleID]).
			WithLevel(level).
			WithMessage(sarif.NewTextMessage(msg)).
			WithLocations([]*sarif.Location{sarif.NewLocationWithPhysicalLocation(
				sarif.NewPhysicalLocation().
					WithArtifactLocation(sarif.NewSimpleArtifactLocation(fileURI(f.Path))).
					WithRegion(region))}).
			WithPartialFingerPrints(map[string]any{FingerprintKey: f.SecretSHA256})
		props := sarif.NewPropertyBag()
		props.Add("secret_sha256", f.SecretSHA256)
		props.Add("redacted", f.Redacted)
		if f.Commit != "" {
			props.Add("commit", f.Commit)
		}
		res.AttachPropertyBag(props)
		run.AddResult(res)
	}
	rep.AddRun(run)
	if err := rep.PrettyWrite(w); err != nil {
		return fmt.Errorf("write sarif report: %w", err)
	}
	return nil
}

func ruleText(opts Options, id string) string {
	if d := opts.Descriptions[id]; d != "" {
		return d
	}
	return id
}

// fileURI makes a relative path a URI reference: each segment escaped, "/"
// kept. Archive members keep their "!" separator, legal in a URI path.
func fileURI(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}
