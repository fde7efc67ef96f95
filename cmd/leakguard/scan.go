package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/patterns"
	"github.com/leakguard/leakguard/report"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/scanner/gitscan"
)

const scanUsage = `usage: leakguard scan [flags] [PATH...]
       leakguard scan --history [flags] [REPO]
       leakguard scan --staged [flags] [REPO]

Scan files and folders (default "."), archives inside them, the whole git
history, or what is staged, for secrets. Exit status: 0 no findings,
1 findings, 2 error.

flags:
  --history              scan every commit reachable from every ref of REPO
                         (default "."), reporting the commit that introduced
                         each secret; a range after REPO (A..B) limits it
  --since DATE, --until DATE
                         with --history: commits in these dates
  --branch REF           with --history: commits reachable from REF
  --log-opts "OPTS"      with --history: git log options that select
                         commits (A..B, --all, --since, -n 10, --no-merges)
  --allow-incomplete     with --history: objects that cannot be read (a
                         partial clone) are a warning, not exit 2
  --staged               scan what is staged in REPO (default ".")
  --rules LIST           only these comma-separated rule ids; "platform" is
                         the platform's own key rules
  --include-publishable  report publishable (pk_) keys too
  --config FILE          custom rules and allow-list (TOML)
  --format F             text, json or sarif (default text)
  --baseline FILE        report only findings absent from this earlier JSON
                         report
  --ignore-file FILE     secrets to ignore (default .leakguardignore at the
                         scanned root): one secret_sha256 or
                         file:rule:secret_sha256 fingerprint per line
  --no-redact            print secrets in full
  --workers N            parallel workers (default: number of CPUs)
  --follow-symlinks      follow symlinks that lead out of the scanned folder
                         (by default they are a warning and not followed)
  --no-progress          no progress display on a terminal
  --help                 this help
`

// scanFlags are the flags shared by scan and the pre-push hook.
type scanFlags struct {
	rules         string
	publishable   bool
	config        string
	format        string
	baseline      string
	ignoreFile    string
	noRedact      bool
	workers       int
	noProgress    bool
	history       bool
	staged        bool
	ignoreFileSet bool
	follow        bool // --follow-symlinks
}

func (f *scanFlags) register(fs *flag.FlagSet, withModes bool) {
	fs.StringVar(&f.rules, "rules", "", "")
	fs.BoolVar(&f.publishable, "include-publishable", false, "")
	fs.StringVar(&f.config, "config", "", "")
	fs.StringVar(&f.format, "format", "text", "")
	fs.StringVar(&f.baseline, "baseline", "", "")
	fs.StringVar(&f.ignoreFile, "ignore-file", "", "")
	fs.BoolVar(&f.noRedact, "no-redact", false, "")
	fs.IntVar(&f.workers, "workers", 0, "")
	fs.BoolVar(&f.noProgress, "no-progress", false, "")
	if withModes {
		fs.BoolVar(&f.follow, "follow-symlinks", false, "")
		fs.BoolVar(&f.history, "history", false, "")
		fs.BoolVar(&f.staged, "staged", false, "")
	}
}

// parse reads args into f (flags may follow paths). done means the command
// ends now with code: help was shown, or a flag was bad.
func (f *scanFlags) parse(e *env, fs *flag.FlagSet, name, usage string, args []string) (pos []string, code int, done bool) {
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		io.WriteString(e.stdout, usage)
		return nil, exitOK, true
	}
	if err != nil {
		return nil, flagError(e, name, err), true
	}
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "ignore-file" {
			f.ignoreFileSet = true
		}
	})
	return pos, 0, false
}

// parseInterspersed parses flags anywhere among the arguments (as in
// "scan --history repo --format json") and returns the positional ones.
// Everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagError turns the flag package's error into the one-line message.
func flagError(e *env, cmd string, err error) int {
	return fail(e, "%s: %s", cmd, strings.TrimSpace(strings.SplitN(err.Error(), "\n", 2)[0]))
}

// platformDescriptions describe the platform key rules for reports.
var platformDescriptions = map[string]string{
	keyformat.RuleSecretKey:      "Platform secret API key (sk_)",
	keyformat.RuleRestrictedKey:  "Platform restricted API key (rk_)",
	keyformat.RulePublishableKey: "Platform publishable API key (pk_), public by design",
}

// scanSetup is what a scan needs once its flags are checked.
type scanSetup struct {
	engine  *scanner.Engine
	filter  *report.Filter
	opts    report.Options
	workers int
	pathKey func(string) string // see gitscan.Options.PathKey
}

// setup builds the engine, filters and report options from flags. The
// ignore file is read from roots unless --ignore-file names one; prog, if
// set, shows the engine's progress.
func (f *scanFlags) setup(roots []string, prog *report.Progress) (*scanSetup, error) {
	format, err := report.ParseFormat(f.format)
	if err != nil {
		return nil, err
	}
	if f.workers < 0 {
		return nil, fmt.Errorf("--workers must be at least 0, not %d", f.workers)
	}
	opts := scanner.Options{IncludePublishable: f.publishable, Workers: f.workers, FollowSymlinks: f.follow}
	if prog != nil {
		opts.Progress = func(st scanner.Stats) { prog.Update(st.Files, st.FoundFiles, st.Bytes, "files") }
	}
	if f.rules != "" {
		for _, id := range strings.Split(f.rules, ",") {
			if id = strings.TrimSpace(id); id != "" {
				opts.RuleIDs = append(opts.RuleIDs, id)
			}
		}
		if len(opts.RuleIDs) == 0 {
			return nil, errors.New("--rules names no rule")
		}
	}
	s := &scanSetup{filter: &report.Filter{}, workers: f.workers}
	desc := map[string]string{}
	for id, d := range platformDescriptions {
		desc[id] = d
	}
	if f.config != "" {
		cfg, err := loadScanConfig(f.config)
		if err != nil {
			return nil, err
		}
		// RuleSet already holds the default rules the config keeps.
		opts.ExtraRules = cfg.RuleSet()
		opts.NoDefaultRules = true
		opts.Allow = cfg.Allow
		allow := &report.Allow{Paths: cfg.Allow.Paths, Regexes: cfg.Allow.Regexes,
			StopWords: cfg.Allow.StopWords, Commits: cfg.Allow.Commits, RuleCommits: map[string][]string{}}
		for _, r := range opts.ExtraRules {
			if len(r.AllowCommits) > 0 {
				allow.RuleCommits[r.ID] = r.AllowCommits
			}
		}
		s.filter.Allow = allow
		s.pathKey = pathClasses(cfg.Allow, opts.ExtraRules)
	}
	if !opts.NoDefaultRules {
		// Hand the engine the default rules read here, so they are built
		// once and their descriptions are at hand for the report.
		opts.ExtraRules = patterns.DefaultRules()
		opts.NoDefaultRules = true
	}
	for _, r := range opts.ExtraRules {
		desc[r.ID] = r.Description
	}
	eng, err := scanner.New(opts)
	if err != nil {
		return nil, err
	}
	s.engine = eng
	if f.baseline != "" {
		b, err := report.LoadBaseline(f.baseline)
		if err != nil {
			return nil, err
		}
		s.filter.Baseline = b
	}
	ig := &report.Ignore{}
	if f.ignoreFileSet {
		loaded, err := report.LoadIgnore(f.ignoreFile, false)
		if err != nil {
			return nil, err
		}
		ig.Merge(loaded)
	} else {
		for _, root := range roots {
			loaded, err := report.LoadIgnore(filepath.Join(root, report.DefaultIgnoreFile), true)
			if err != nil {
				return nil, err
			}
			ig.Merge(loaded)
		}
	}
	s.filter.Ignore = ig
	s.opts = report.Options{Format: format, NoRedact: f.noRedact, Color: false,
		ToolVersion: version, Descriptions: desc}
	return s, nil
}

// loadScanConfig reads a --config file: custom rules and a global
// allow-list.
func loadScanConfig(path string) (*patterns.Config, error) {
	data, err := readBounded(path, 16<<20)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := patterns.ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// pathClasses returns a function naming the class of a path: which
// path-limited rules apply there and whether the allowlist skips it. Nil
// when nothing depends on the path.
func pathClasses(allow patterns.GlobalAllow, rules []patterns.Rule) func(string) string {
	var dep []patterns.Rule
	for _, r := range rules {
		if r.Path != nil || len(r.AllowPaths) > 0 {
			dep = append(dep, r)
		}
	}
	if len(dep) == 0 && len(allow.Paths) == 0 {
		return nil
	}
	return func(path string) string {
		b := make([]byte, 0, len(dep)+1)
		if allow.AllowsPath(path) {
			b = append(b, 'x')
		} else {
			b = append(b, '-')
		}
		for i := range dep {
			if dep[i].AppliesTo(path) {
				b = append(b, '1')
			} else {
				b = append(b, '0')
			}
		}
		return string(b)
	}
}

func readBounded(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

func runScan(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f scanFlags
	f.register(fs, true)
	var hf historyFlags
	hf.register(fs)
	pos, code, done := f.parse(e, fs, "scan", scanUsage, args)
	if done {
		return code
	}
	var err error
	if f.history && f.staged {
		return fail(e, "scan: --history and --staged cannot be used together")
	}
	if (hf.selecting() || hf.allowIncomplete) && !f.history {
		return fail(e, "scan: --since, --until, --branch, --log-opts and --allow-incomplete go with --history")
	}
	var revs []string
	if f.history {
		repoDir, ranges := historyPositional(pos)
		for _, r := range ranges {
			if _, err := os.Stat(r); err == nil {
				return fail(e, "scan: --history and --staged take one repository, not %d paths", len(pos))
			}
		}
		if revs, err = hf.revs(ranges); err != nil {
			return fail(e, "scan: %s", oneLine(err.Error()))
		}
		pos = []string{repoDir}
	}
	if len(pos) == 0 {
		pos = []string{"."}
	}
	if (f.history || f.staged) && len(pos) > 1 {
		return fail(e, "scan: --history and --staged take one repository, not %d paths", len(pos))
	}
	start := time.Now()
	var (
		findings []scanner.Finding
		sum      report.Summary
		s        *scanSetup
		prog     *report.Progress
	)
	showProgress := !f.noProgress && e.isTerminal(e.stderr)
	if showProgress {
		prog = report.NewProgress(e.stderr, 0)
	}
	warn := func(w scanner.Warning) {
		prog.Clear()
		fmt.Fprintf(e.stderr, "leakguard: warning: %s\n", report.Escape(w.Error()))
	}
	if f.history || f.staged {
		defer limitMemory(e)()
		repo, err := gitscan.Open(pos[0])
		if err != nil {
			return fail(e, "scan: %s", oneLine(err.Error()))
		}
		if s, err = f.setup([]string{repo.Root()}, prog); err != nil {
			return fail(e, "scan: %s", oneLine(err.Error()))
		}
		gopts := gitscan.Options{Workers: s.workers, Warn: warn, PathKey: s.pathKey}
		if prog != nil {
			gopts.Progress = func(p gitscan.Progress) { prog.Update(p.Done, p.Total, p.Bytes, p.Phase) }
		}
		emit := func(fd scanner.Finding) { findings = append(findings, fd) }
		var st gitscan.Stats
		if f.history {
			st, err = repo.HistoryOf(ctx, s.engine, revs, gopts, emit)
		} else {
			st, err = repo.Staged(ctx, s.engine, gopts, emit)
		}
		prog.Done()
		if err != nil {
			return fail(e, "scan: %s", oneLine(err.Error()))
		}
		sum = report.Summary{Commits: st.Commits, Files: st.Blobs, Bytes: st.Bytes}
		if f.staged {
			sum.Commits = 0
		}
		code := finishScan(e, s, findings, sum, start)
		if code == exitError {
			return code
		}
		return incomplete(e.stderr, st, hf.allowIncomplete, code)
	} else {
		roots := make([]string, 0, len(pos))
		for _, p := range pos {
			fi, err := os.Stat(p)
			if err != nil {
				return fail(e, "scan: %s", oneLine(err.Error()))
			}
			if fi.IsDir() {
				roots = append(roots, p)
			}
		}
		if len(roots) == 0 {
			roots = []string{"."}
		}
		if s, err = f.setup(roots, prog); err != nil {
			return fail(e, "scan: %s", oneLine(err.Error()))
		}
		st, err := s.engine.ScanPaths(ctx, pos, func(fd scanner.Finding) { findings = append(findings, fd) }, warn)
		prog.Done()
		if err != nil {
			return fail(e, "scan: %s", oneLine(err.Error()))
		}
		sum = report.Summary{Files: st.Files, Bytes: st.Bytes}
	}
	return finishScan(e, s, findings, sum, start)
}

// finishScan filters, prints and picks the exit code.
func finishScan(e *env, s *scanSetup, findings []scanner.Finding, sum report.Summary, start time.Time) int {
	findings = s.filter.Apply(findings)
	report.Sort(findings)
	opts := s.opts
	opts.Color = opts.Format == report.Text && e.isTerminal(e.stdout) && e.getenv("NO_COLOR") == ""
	if err := report.Write(e.stdout, findings, opts); err != nil {
		return fail(e, "scan: %s", oneLine(err.Error()))
	}
	sum.Findings = len(findings)
	sum.Elapsed = time.Since(start)
	if opts.Format == report.Text {
		report.WriteSummary(e.stderr, sum)
	}
	if len(findings) > 0 {
		return exitFindings
	}
	return exitOK
}

// oneLine keeps an error message to one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
