// Package scanner matches secrets in bytes: files, folders, archives and
// streams. It knows the rules in patterns and nothing of NATS or the store.
//
// Input is scanned in bounded chunks that overlap, so memory does not grow
// with file size and no secret is split. Platform keys are found by a
// fixed-infix search plus checksum; third-party rules run their regex only in
// a window around a keyword hit found by one multi-keyword prefilter pass.
package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/leakguard/leakguard/allow"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/patterns"
)

// Finding is one secret at one place. Secret is the plaintext and stays in
// this process: it is never serialised (json:"-").
type Finding struct {
	RuleID       string `json:"rule"`
	Path         string `json:"file"`   // relative; archive members joined with "!"
	Line         int    `json:"line"`   // 1-based
	Column       int    `json:"column"` // 1-based, in bytes from the line start
	Commit       string `json:"commit"`
	SecretSHA256 string `json:"secret_sha256"`
	Redacted     string `json:"redacted"`
	Offset       int64  `json:"offset"` // byte offset in the (decompressed) file
	// EndLine and EndColumn are the place of the secret's last byte (for a
	// secret found decoded: of the encoded text's last byte).
	EndLine   int     `json:"end_line"`
	EndColumn int     `json:"end_column"`
	Entropy   float64 `json:"entropy"` // Shannon entropy of the secret, bits per byte
	Secret    []byte  `json:"-"`
	// AllowCommits are the commits (allow.CommitMatches prefixes) whose
	// findings an allow-list drops: applied once Commit is known.
	AllowCommits []string `json:"-"`
	// The commit's author, email, author date (RFC 3339) and message, for
	// findings of history and hook scans (docs/formats.md).
	Author  string `json:"author,omitempty"`
	Email   string `json:"email,omitempty"`
	Date    string `json:"date,omitempty"`
	Message string `json:"message,omitempty"`
}

// AllowedByCommit reports whether an allow-list drops f now that its
// commit is known.
func (f *Finding) AllowedByCommit() bool { return allow.AnyCommit(f.AllowCommits, f.Commit) }

// Options choose what an Engine reports.
type Options struct {
	// RuleIDs limits the scan to these rule ids; "platform" stands for the
	// platform key rules. Empty means every enabled default rule.
	RuleIDs []string
	// ExtraRules are custom rules (from --config), added to the defaults.
	ExtraRules []patterns.Rule
	// NoDefaultRules drops the built-in third-party rules: only ExtraRules
	// and the platform rules are known (a config that does not extend the
	// defaults).
	NoDefaultRules bool
	// Allow are a config's global allow-lists, for every rule: a file they
	// skip whole is not read; other findings are checked against them as
	// they are found. What depends on a commit is left in
	// Finding.AllowCommits for whoever knows the commit.
	Allow []allow.List
	// NoDecode turns off the search of encoded text (base64, percent and
	// string escapes, UTF-16; docs/formats.md).
	NoDecode bool
	// MaxDecodeDepth bounds how many encodings deep secrets are looked
	// for: 1 to 3; 0 means 3.
	MaxDecodeDepth int
	// IncludePublishable reports pk_ keys too.
	IncludePublishable bool
	// Workers bounds parallelism for ScanPaths and for one large input;
	// 0 means GOMAXPROCS.
	Workers int
	// Progress, if set, is called by ScanPaths with running totals, from one
	// goroutine, at most about ten times a second and once at the end. It is
	// never called concurrently with emit or warn.
	Progress func(Stats)
	// Limits bound archive expansion and file size; zero fields take the
	// defaults (DefaultLimits()).
	Limits Limits
	// FollowSymlinks lets ScanPaths follow symlinks that lead out of the
	// root being scanned; by default such a link is a warning
	// (ErrSymlinkOutside) and is not followed. Links within the root are
	// always followed; every folder is walked once either way.
	FollowSymlinks bool
}

// Limits bound what one input may cost. A zero field means the default; a
// negative one means no limit.
type Limits struct {
	// MaxArchiveDepth is how deep archives nest (a zip in a tar.gz is 2).
	MaxArchiveDepth int
	// MaxDecompressedBytes bounds the bytes produced by decompression and
	// archive members, in total, for one top-level input.
	MaxDecompressedBytes int64
	// MaxRatio bounds decompressed/compressed bytes of one stream or member
	// once it has produced more than 1 MiB.
	MaxRatio int64
	// MaxFileSize skips larger files and archive members (with a warning).
	MaxFileSize int64
}

// DefaultLimits are the limits used for zero fields of Options.Limits:
// archives nest 8 deep, one input expands to at most 4 GiB, a stream or
// member may not expand more than 200:1, files of any size are scanned
// (memory does not grow with size).
func DefaultLimits() Limits {
	return Limits{MaxArchiveDepth: 8, MaxDecompressedBytes: 4 << 30, MaxRatio: 200, MaxFileSize: -1}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxArchiveDepth == 0 {
		l.MaxArchiveDepth = d.MaxArchiveDepth
	}
	if l.MaxDecompressedBytes == 0 {
		l.MaxDecompressedBytes = d.MaxDecompressedBytes
	}
	if l.MaxRatio == 0 {
		l.MaxRatio = d.MaxRatio
	}
	if l.MaxFileSize == 0 {
		l.MaxFileSize = d.MaxFileSize
	}
	return l
}

// Warning is a problem that skipped part of the input but not the scan.
type Warning struct {
	Path string
	Err  error
}

func (w Warning) Error() string { return w.Path + ": " + w.Err.Error() }

func (w Warning) Unwrap() error { return w.Err }

// Stats summarise a scan.
type Stats struct {
	Files    int64 // files on disk scanned
	Bytes    int64 // bytes of the files on disk scanned so far
	Findings int64
	Skipped  int64 // files not scanned at all (special, unreadable, too big)
	// Binary counts files with a NUL byte in their first block: only the
	// platform key rules (a fixed-string search) run over them.
	Binary   int64
	Warnings int64
	// FoundFiles and FoundBytes are what the walk has found so far; with
	// Files and Bytes they give a progress fraction. FoundBytes is counted
	// only when Options.Progress is set.
	FoundFiles int64
	FoundBytes int64
}

// Errors wrapped by warnings about archives.
var (
	ErrArchiveDepth = errors.New("archive nested too deep")
	ErrExpansion    = errors.New("archive expands past the decompressed-bytes limit")
	ErrRatio        = errors.New("archive compression ratio past the limit (zip bomb?)")
	ErrTooLarge     = errors.New("file larger than the size limit")
)

// compiledRule is a selected third-party rule with what the scanner derives
// from it.
type compiledRule struct {
	patterns.Rule
	window    int      // bytes of context each side of a keyword hit
	stopWords [][]byte // lower case
	// anchored, if set, must match at a keyword hit for the hit to count;
	// the match then starts at most lead bytes before the hit.
	anchored *regexp.Regexp
	lead     int
	// direct: anchored is the whole rule, so its match at a hit is taken
	// as it is (no window search).
	direct bool
	// leadSets are the bytes each of the first positions of anchored's
	// match can be (leadSets in width.go), checked before running it.
	leadSets []byteSet
	// pathIdx is the rule's index in Engine.pathRules if it has a Path
	// (it then runs only on files whose path matches), else -1.
	pathIdx int
	// pathHints: every path Path matches contains one of these (lower
	// case); empty if no such literals are known.
	pathHints []string
}

// Engine is safe for concurrent use.
type Engine struct {
	opts     Options
	limits   Limits
	workers  int
	platform [3]bool // by keyIndex: secret, restricted, publishable
	anyPlat  bool
	rules    []compiledRule
	// pathRules are the indices in rules of the rules with a Path: a file
	// is matched against each path once, so a rule for one kind of file
	// (.netrc, wp-config.php) costs nothing elsewhere.
	pathRules []int
	pf        *prefilter // keyword prefilter over rules; nil without rules
	// anyFallback: some selected rule is a Fallback (see dropFallbacks).
	anyFallback bool
	// margin is the context each chunk carries on both sides of the part it
	// owns: enough for the longest rule window and a key's boundaries.
	margin int
	chunk  int // bytes each chunk owns
	bufs   *bufPool
	// spoolMem is how much of a streamed zip is kept in memory before it
	// goes to a temporary file.
	spoolMem int
	// scratches recycles per-goroutine working memory.
	scratches sync.Pool
	// bigSem lets one large input at a time fan out over the workers, which
	// bounds the buffers in flight when ScanPaths meets several.
	bigSem chan struct{}
	// b64Min is the shortest base64 run worth decoding (decode.go).
	b64Min int
	escMin int // shortest escape span worth decoding (decode.go)
	// needMatch, needLine: an allow-list looks at the whole match or line.
	needMatch, needLine bool
	hasAllow            bool // any allow-list at all
	decodeDepth         int
	fileRules           []patterns.Rule // path-only rules: whole files
}

// DefaultWindow is the context, in bytes each side of a keyword hit, that a
// rule's regex sees when Rule.MaxLen is 0.
const DefaultWindow = 512

// maxWindow caps Rule.MaxLen so a rule cannot make chunks huge.
const maxWindow = 64 << 10

// defaultChunk is how many bytes of input one chunk owns.
const defaultChunk = 1 << 20

// New builds an engine for the selected rules.
func New(opts Options) (*Engine, error) {
	e := &Engine{opts: opts, limits: opts.Limits.withDefaults(), workers: opts.Workers}
	if e.workers <= 0 {
		e.workers = runtime.GOMAXPROCS(0)
	}
	var all []patterns.Rule
	if !opts.NoDefaultRules {
		all = patterns.DefaultRules()
	}
	// An extra rule with a default rule's id replaces it.
	at := map[string]int{}
	for i, r := range all {
		at[r.ID] = i
	}
	for _, r := range opts.ExtraRules {
		if i, ok := at[r.ID]; ok {
			all[i] = r
			continue
		}
		at[r.ID] = len(all)
		all = append(all, r)
	}

	want := map[string]bool{}
	for _, id := range opts.RuleIDs {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if id == "platform" {
			for _, p := range patterns.PlatformRuleIDs() {
				want[p] = true
			}
			continue
		}
		want[id] = true
	}
	known := map[string]bool{}
	for i, p := range patterns.PlatformRuleIDs() {
		known[p] = true
		if len(want) == 0 || want[p] {
			e.platform[i] = true
		}
	}
	if !opts.IncludePublishable {
		e.platform[keyIndex(keyformat.Publishable)] = false
	}
	e.anyPlat = e.platform[0] || e.platform[1] || e.platform[2]

	maxWin := 0
	for _, r := range all {
		if r.ID == "" {
			return nil, errors.New("rule with an empty id")
		}
		known[r.ID] = true
		if !((len(want) == 0 && !r.Disabled) || want[r.ID]) {
			continue
		}
		if r.IsFileRule() {
			e.fileRules = append(e.fileRules, r)
			continue
		}
		if r.Regex == nil {
			return nil, fmt.Errorf("rule %q has no regex", r.ID)
		}
		if r.SecretGroup < patterns.FirstGroup || r.SecretGroup > r.Regex.NumSubexp() {
			return nil, fmt.Errorf("rule %q: secret group %d out of range", r.ID, r.SecretGroup)
		}
		// analyzeRules sets the window and the anchoring below.
		cr := compiledRule{Rule: r, window: DefaultWindow, pathIdx: -1}
		if r.Path != nil {
			cr.pathIdx = len(e.pathRules)
			cr.pathHints = requiredLiterals(r.Path.String())
			e.pathRules = append(e.pathRules, len(e.rules))
		}
		for _, w := range r.StopWords {
			cr.stopWords = append(cr.stopWords, []byte(strings.ToLower(w)))
		}
		e.anyFallback = e.anyFallback || r.Fallback
		e.rules = append(e.rules, cr)
	}
	analyzeRules(e.rules)
	for i := range e.rules {
		maxWin = max(maxWin, e.rules[i].window)
	}
	for id := range want {
		if !known[id] {
			return nil, fmt.Errorf("unknown rule %q", id)
		}
	}
	if len(e.rules) > 0 {
		e.pf = newPrefilter(e.rules)
		maxWin += e.pf.maxKeyword
	}
	for _, l := range opts.Allow {
		e.noteList(&l)
	}
	for i := range e.rules {
		for j := range e.rules[i].Allowlists {
			e.noteList(&e.rules[i].Allowlists[j])
		}
	}
	e.margin = max(maxWin, keyformat.KeyLength, decodeMargin) + 64
	e.b64Min, e.escMin = b64Min, escMin
	e.decodeDepth = maxDecodeDepth
	if d := opts.MaxDecodeDepth; d > 0 && d < maxDecodeDepth {
		e.decodeDepth = d
	}
	if len(e.rules) == 0 {
		e.b64Min, e.escMin = b64MinPlatform, escMinPlatform
	}
	e.chunk = defaultChunk
	e.spoolMem = 8 << 20
	e.bufs = newBufPool(e.chunk + 2*e.margin)
	e.scratches.New = func() any { return e.newScratch() }
	e.bigSem = make(chan struct{}, 1)
	return e, nil
}

func (e *Engine) noteList(l *allow.List) {
	e.hasAllow = true
	e.needMatch = e.needMatch || l.Needs(allow.Match)
	e.needLine = e.needLine || l.Needs(allow.Line)
}

// RuleIDs lists the rules this engine reports, platform rules first.
func (e *Engine) RuleIDs() []string {
	var ids []string
	for i, p := range patterns.PlatformRuleIDs() {
		if e.platform[i] {
			ids = append(ids, p)
		}
	}
	for _, r := range e.rules {
		ids = append(ids, r.ID)
	}
	for _, r := range e.fileRules {
		ids = append(ids, r.ID)
	}
	return ids
}

// analyzeRules sets each rule's window, anchored regex and lead sets. The
// rules are independent and this is most of an engine's start-up (parsing
// and compiling regexes), so it is spread over the cores.
func analyzeRules(rules []compiledRule) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), 4, len(rules)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(rules); i = int(next.Add(1) - 1) {
				analyzeRule(&rules[i])
			}
		}()
	}
	wg.Wait()
}

// analyzeRule: the window is the most context a match containing the
// keyword can need (the regex's own bound when it has one, else
// Rule.MaxLen, else DefaultWindow; two more bytes let anchors see real
// context), and the anchored regex checks a keyword hit first
// (anchorAtKeyword).
func analyzeRule(cr *compiledRule) {
	r := &cr.Rule
	if r.MaxLen > 0 {
		cr.window = min(r.MaxLen, maxWindow)
	}
	if w := regexWidth(r.Regex.String()); w >= 0 && (r.MaxLen <= 0 || w < cr.window) {
		cr.window = min(w, maxWindow)
	}
	cr.window += 2
	if q, lead, direct, ok := anchorAtKeyword(r.Regex.String(), r.Keywords); ok {
		cr.anchored, cr.lead, cr.direct = q, lead, direct
		cr.leadSets = leadSets(q.String())
	}
}

// ScanBytes reports every finding in one in-memory buffer. Archives are
// opened by content, as in ScanReader; problems inside them are dropped (use
// ScanStream to see them).
func (e *Engine) ScanBytes(path string, data []byte, emit func(Finding)) {
	s := e.newInput(context.Background(), emit, nil)
	s.scanMem(path, data, 0)
}

// ScanReader scans one stream named path, in bounded chunks. Archives are
// opened by content. Problems inside archives (a corrupt member, a zip bomb)
// do not stop the scan: they are returned at the end, joined, as Warnings.
func (e *Engine) ScanReader(ctx context.Context, path string, r io.Reader, emit func(Finding)) error {
	var warns []error
	err := e.ScanStream(ctx, path, r, emit, func(w Warning) {
		if len(warns) < 16 {
			warns = append(warns, w)
		}
	})
	if err != nil {
		return err
	}
	return errors.Join(warns...)
}

// ScanStream is ScanReader with problems inside archives reported to warn
// (which may be nil) as they happen. It returns an error only when reading r
// failed or ctx ended.
func (e *Engine) ScanStream(ctx context.Context, path string, r io.Reader, emit func(Finding), warn func(Warning)) error {
	s := e.newInput(ctx, emit, warn)
	if err := s.scanStream(path, r, 0); err != nil {
		return fmt.Errorf("scan %s: %w", path, err)
	}
	return ctx.Err()
}

// withLayout is a copy of e with other worker and chunk sizes, sharing the
// compiled rules (tests use small chunks to put many chunk edges in little
// data).
func (e *Engine) withLayout(workers, chunk int) *Engine {
	c := &Engine{opts: e.opts, limits: e.limits, workers: workers, platform: e.platform, anyPlat: e.anyPlat,
		rules: e.rules, pathRules: e.pathRules, pf: e.pf, anyFallback: e.anyFallback, margin: e.margin, chunk: chunk,
		spoolMem: e.spoolMem, b64Min: e.b64Min, escMin: e.escMin,
		needMatch: e.needMatch, needLine: e.needLine, hasAllow: e.hasAllow, decodeDepth: e.decodeDepth,
		fileRules: e.fileRules}
	c.opts.Workers = workers
	c.bufs = newBufPool(c.chunk + 2*c.margin)
	c.scratches.New = func() any { return c.newScratch() }
	c.bigSem = make(chan struct{}, 1)
	return c
}

// pathMask reports, for each rule in e.pathRules, whether it applies to a
// file with this path; nil when the engine has no path rules. A path
// without any of a rule's required literals (pathHints) is rejected with
// a substring search: running a few dozen unanchored regexes on every path
// cost more than scanning small files.
func (e *Engine) pathMask(path string) []bool {
	if len(e.pathRules) == 0 {
		return nil
	}
	m := make([]bool, len(e.pathRules))
	lower := strings.ToLower(path)
	for i, ri := range e.pathRules {
		r := &e.rules[ri]
		if len(r.pathHints) > 0 {
			found := false
			for _, h := range r.pathHints {
				if strings.Contains(lower, h) {
					found = true
					break
				}
			}
			if !found {
				continue
			}
		}
		m[i] = r.Path.MatchString(path)
	}
	return m
}
