package report

import (
	"encoding/xml"
	"fmt"
	"io"

	"github.com/leakguard/leakguard/scanner"
)

// JUnit XML as CI servers read it: one test suite, one failed test case per
// finding, named after its place (docs/formats.md).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	File      string        `xml:"file,attr"`
	Line      int           `xml:"line,attr"`
	Failure   *junitFailure `xml:"failure"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit prints a JUnit XML report. With no findings it holds one
// passing test case, so a CI server shows that the scan ran.
func WriteJUnit(w io.Writer, fs []scanner.Finding, opts Options) error {
	suite := junitSuite{Name: "leakguard"}
	for _, e := range Entries(fs, opts) {
		secret := e.Redacted
		if e.Secret != "" {
			secret = e.Secret
		}
		text := fmt.Sprintf("%s at %s:%d:%d: %s\nsecret_sha256 %s\nfingerprint %s", e.Rule, e.File, e.Line, e.Column,
			secret, e.SecretSHA256, e.Fingerprint)
		if e.Commit != "" {
			text += "\ncommit " + e.Commit
		}
		msg := e.Description
		if msg == "" {
			msg = "secret matched by rule " + e.Rule
		}
		suite.Cases = append(suite.Cases, junitCase{Name: fmt.Sprintf("%s:%d %s", e.File, e.Line, e.Rule),
			ClassName: e.Rule, File: e.File, Line: e.Line,
			Failure: &junitFailure{Message: msg, Type: e.Rule, Text: text}})
	}
	suite.Failures = len(suite.Cases)
	if len(suite.Cases) == 0 {
		suite.Cases = []junitCase{{Name: "no secrets found", ClassName: "leakguard"}}
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	return nil
}
