// Package scanner matches secrets in bytes: files, folders, archives and
// streams. It knows the rules in patterns and nothing of NATS or the store.
package scanner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/leakguard/leakguard/patterns"
)

// Finding is one secret at one place. Secret is the plaintext and stays in
// this process: it is never serialised (json:"-").
type Finding struct {
	RuleID       string `json:"rule"`
	Path         string `json:"file"` // relative; archive members joined with "!"
	Line         int    `json:"line"` // 1-based
	Column       int    `json:"column"`
	Commit       string `json:"commit"`
	SecretSHA256 string `json:"secret_sha256"`
	Redacted     string `json:"redacted"`
	Offset       int64  `json:"offset"` // byte offset in the (decompressed) file
	Secret       []byte `json:"-"`
}

// Options choose what an Engine reports.
type Options struct {
	// RuleIDs limits the scan to these rule ids; "platform" stands for the
	// platform key rules. Empty means every enabled default rule.
	RuleIDs []string
	// ExtraRules are custom rules (from --config), added to the defaults.
	ExtraRules []patterns.Rule
	// IncludePublishable reports pk_ keys too.
	IncludePublishable bool
	// Workers bounds parallelism for ScanPaths; 0 means GOMAXPROCS.
	Workers int
}

// Warning is a problem that skipped part of the input but not the scan.
type Warning struct {
	Path string
	Err  error
}

func (w Warning) Error() string { return w.Path + ": " + w.Err.Error() }

// Stats summarise a scan.
type Stats struct {
	Files    int64
	Bytes    int64
	Findings int64
	Skipped  int64
}

// Engine is safe for concurrent use.
type Engine struct {
	opts     Options
	platform map[string]bool // platform rule ids in force
	rules    []patterns.Rule
}

// New builds an engine for the selected rules.
func New(opts Options) (*Engine, error) {
	e := &Engine{opts: opts, platform: map[string]bool{}}
	all := append(patterns.DefaultRules(), opts.ExtraRules...)
	want := map[string]bool{}
	for _, id := range opts.RuleIDs {
		if id == "platform" {
			for _, p := range patterns.PlatformRuleIDs() {
				want[p] = true
			}
			continue
		}
		want[id] = true
	}
	known := map[string]bool{}
	for _, p := range patterns.PlatformRuleIDs() {
		known[p] = true
		if len(want) == 0 || want[p] {
			e.platform[p] = true
		}
	}
	if !opts.IncludePublishable {
		delete(e.platform, patterns.RulePublishableKey)
	}
	for _, r := range all {
		known[r.ID] = true
		if (len(want) == 0 && !r.Disabled) || want[r.ID] {
			e.rules = append(e.rules, r)
		}
	}
	for id := range want {
		if !known[id] {
			return nil, fmt.Errorf("unknown rule %q", id)
		}
	}
	return e, nil
}

// ScanBytes reports every finding in one in-memory buffer.
func (e *Engine) ScanBytes(path string, data []byte, emit func(Finding)) {
	for _, m := range patterns.FindKeys(data) {
		id := m.Type.RuleID()
		if !e.platform[id] {
			continue
		}
		e.emit(path, data, m.Start, m.Start+patterns.KeyLength, id, patterns.KeyPrefixLen, emit)
	}
	lower := bytes.ToLower(data)
	for _, r := range e.rules {
		hit := false
		for _, k := range r.Keywords {
			if bytes.Contains(lower, []byte(k)) {
				hit = true
				break
			}
		}
		if !hit {
			continue
		}
		for _, loc := range r.Regex.FindAllSubmatchIndex(data, -1) {
			s, end := loc[0], loc[1]
			if r.SecretGroup > 0 && 2*r.SecretGroup+1 < len(loc) {
				s, end = loc[2*r.SecretGroup], loc[2*r.SecretGroup+1]
			}
			if s < 0 {
				continue
			}
			if r.Validate != nil && !r.Validate(data[s:end]) {
				continue
			}
			e.emit(path, data, s, end, r.ID, r.RedactPrefix, emit)
		}
	}
}

func (e *Engine) emit(path string, data []byte, s, end int, id string, redact int, emit func(Finding)) {
	secret := bytes.Clone(data[s:end])
	line := bytes.Count(data[:s], []byte{'\n'}) + 1
	col := s - (bytes.LastIndexByte(data[:s], '\n') + 1) + 1
	emit(Finding{RuleID: id, Path: path, Line: line, Column: col, Offset: int64(s),
		Secret: secret, SecretSHA256: patterns.Fingerprint(secret),
		Redacted: patterns.Redact(secret, redact)})
}

// ScanReader scans one stream named path. Archives are opened by content.
func (e *Engine) ScanReader(ctx context.Context, path string, r io.Reader, emit func(Finding)) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	e.ScanBytes(path, data, emit)
	return ctx.Err()
}

// ScanPaths scans files and folders. Paths in findings are relative to the
// root they were found under. emit and warn are never called concurrently.
func (e *Engine) ScanPaths(ctx context.Context, roots []string, emit func(Finding), warn func(Warning)) (Stats, error) {
	var st Stats
	for _, root := range roots {
		if _, err := os.Stat(root); err != nil {
			return st, fmt.Errorf("scan %s: %w", root, err)
		}
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				warn(Warning{Path: p, Err: err})
				return nil
			}
			if d.IsDir() {
				if d.Name() == ".git" {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			if rel == "." {
				rel = filepath.Base(p)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				warn(Warning{Path: p, Err: err})
				return nil
			}
			st.Files++
			st.Bytes += int64(len(data))
			e.ScanBytes(filepath.ToSlash(rel), data, func(f Finding) { st.Findings++; emit(f) })
			return ctx.Err()
		})
		if err != nil {
			return st, err
		}
	}
	_ = strings.TrimSpace
	return st, nil
}
