package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/leakguard/leakguard/scanner"
)

// csvHeader names the columns of --format csv (docs/formats.md): the JSON
// fields, in the same order, secret last and empty unless it may be shown.
var csvHeader = []string{"rule", "description", "file", "line", "column", "end_line", "end_column",
	"commit", "secret_sha256", "redacted", "entropy", "fingerprint", "secret"}

// WriteCSV prints one header row and one row per finding (RFC 4180).
func WriteCSV(w io.Writer, fs []scanner.Finding, opts Options) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("write csv report: %w", err)
	}
	for _, e := range Entries(fs, opts) {
		row := []string{e.Rule, e.Description, e.File, strconv.Itoa(e.Line), strconv.Itoa(e.Column),
			strconv.Itoa(e.EndLine), strconv.Itoa(e.EndColumn), e.Commit, e.SecretSHA256, e.Redacted,
			strconv.FormatFloat(e.Entropy, 'f', 3, 64), e.Fingerprint, e.Secret}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write csv report: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv report: %w", err)
	}
	return nil
}
