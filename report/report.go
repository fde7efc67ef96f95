// Package report turns scanner findings into what a user or a program reads:
// text lines (coloured on a terminal), a JSON array (docs/formats.md) and SARIF
// 2.1.0 for code scanning. It also holds the filters that sit between the
// scanner and the output: baseline, .leakguardignore and the config's global
// allow-list.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/leakguard/leakguard/scanner"
)

// Format is an output format.
type Format string

// Output formats of --format.
const (
	Text  Format = "text"
	JSON  Format = "json"
	SARIF Format = "sarif"
	CSV   Format = "csv"
	JUnit Format = "junit"
)

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case Text, JSON, SARIF, CSV, JUnit:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q (want text, json, sarif, csv or junit)", s)
}

// Options shape the output.
type Options struct {
	Format Format
	// NoRedact prints the plaintext secret too (--no-redact).
	NoRedact bool
	// RedactPercent, between 1 and 99, prints the secret with its last
	// RedactPercent percent hidden (gitleaks' --redact=N); 0 or 100 print
	// no secret beyond the redacted form. NoRedact wins.
	RedactPercent int
	// Color uses ANSI colours in text output.
	Color bool
	// ToolVersion is the leakguard version in SARIF.
	ToolVersion string
	// Descriptions maps a rule id to its one-line description.
	Descriptions map[string]string
}

// Entry is one finding as printed in JSON (docs/formats.md).
type Entry struct {
	Rule         string `json:"rule"`
	Description  string `json:"description,omitempty"`
	File         string `json:"file"`
	Line         int    `json:"line"`
	Column       int    `json:"column"`
	EndLine      int    `json:"end_line"`
	EndColumn    int    `json:"end_column"`
	Commit       string `json:"commit"`
	SecretSHA256 string `json:"secret_sha256"`
	Redacted     string `json:"redacted"`
	// Entropy is the secret's Shannon entropy in bits per byte.
	Entropy float64 `json:"entropy"`
	// Fingerprint is what a user copies into .leakguardignore to ignore
	// this secret at this place.
	Fingerprint string `json:"fingerprint"`
	Secret      string `json:"secret,omitempty"`
	// History and hook scans: the introducing commit's author, author
	// email, author date (RFC 3339, UTC) and full message.
	Author  string `json:"author,omitempty"`
	Email   string `json:"email,omitempty"`
	Date    string `json:"date,omitempty"`
	Message string `json:"message,omitempty"`
}

// Fingerprint identifies a secret at a place: "file:rule:secret_sha256".
func Fingerprint(f scanner.Finding) string {
	return f.Path + ":" + f.RuleID + ":" + f.SecretSHA256
}

// Sort orders findings by file, line, column, rule, commit so output is
// stable whatever order the workers finished in.
func Sort(fs []scanner.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.RuleID != b.RuleID {
			return a.RuleID < b.RuleID
		}
		return a.Commit < b.Commit
	})
}

// Write prints findings in opts.Format.
func Write(w io.Writer, fs []scanner.Finding, opts Options) error {
	switch opts.Format {
	case JSON:
		return WriteJSON(w, fs, opts)
	case SARIF:
		return WriteSARIF(w, fs, opts)
	case CSV:
		return WriteCSV(w, fs, opts)
	case JUnit:
		return WriteJUnit(w, fs, opts)
	case Text, "":
		return WriteText(w, fs, opts)
	}
	return fmt.Errorf("write report: unknown format %q", opts.Format)
}

// Entries converts findings to their JSON form.
func Entries(fs []scanner.Finding, opts Options) []Entry {
	out := make([]Entry, 0, len(fs))
	for _, f := range fs {
		e := Entry{Rule: f.RuleID, Description: opts.Descriptions[f.RuleID], File: f.Path,
			Line: f.Line, Column: f.Column, EndLine: f.EndLine, EndColumn: f.EndColumn, Commit: f.Commit,
			SecretSHA256: f.SecretSHA256, Redacted: f.Redacted, Entropy: math.Round(f.Entropy*1000) / 1000,
			Fingerprint: Fingerprint(f), Secret: opts.shownSecret(f),
			Author: f.Author, Email: f.Email, Date: f.Date, Message: f.Message}
		out = append(out, e)
	}
	return out
}

// WriteJSON prints one JSON array, "[]" when there are no findings.
func WriteJSON(w io.Writer, fs []scanner.Finding, opts Options) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Entries(fs, opts)); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}

// ANSI colours for text output on a terminal.
const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiRed   = "\x1b[31m"
	ansiDim   = "\x1b[2m"
	ansiCyan  = "\x1b[36m"
)

// WriteText prints one finding per line:
// "file:line:col rule redacted [commit] fingerprint".
func WriteText(w io.Writer, fs []scanner.Finding, opts Options) error {
	var b strings.Builder
	for _, f := range fs {
		b.Reset()
		loc := fmt.Sprintf("%s:%d:%d", Escape(f.Path), f.Line, f.Column)
		secret := f.Redacted
		if s := opts.shownSecret(f); s != "" {
			secret = s
		}
		if opts.Color {
			fmt.Fprintf(&b, "%s%s%s %s%s%s %s", ansiBold, loc, ansiReset, ansiRed, Escape(f.RuleID), ansiReset, Escape(secret))
		} else {
			fmt.Fprintf(&b, "%s %s %s", loc, Escape(f.RuleID), Escape(secret))
		}
		if f.Commit != "" {
			if opts.Color {
				fmt.Fprintf(&b, " %scommit %s%s", ansiCyan, f.Commit, ansiReset)
			} else {
				fmt.Fprintf(&b, " commit %s", f.Commit)
			}
		}
		if opts.Color {
			fmt.Fprintf(&b, " %sfingerprint %s%s\n", ansiDim, Escape(Fingerprint(f)), ansiReset)
		} else {
			fmt.Fprintf(&b, " fingerprint %s\n", Escape(Fingerprint(f)))
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return fmt.Errorf("write text report: %w", err)
		}
	}
	return nil
}

// shownSecret is the secret as the options allow it to be printed, "" when
// only the redacted form may be.
func (o Options) shownSecret(f scanner.Finding) string {
	switch {
	case o.NoRedact:
		return string(f.Secret)
	case o.RedactPercent > 0 && o.RedactPercent < 100:
		keep := len(f.Secret) * (100 - o.RedactPercent) / 100
		return string(f.Secret[:keep]) + "..."
	}
	return ""
}
