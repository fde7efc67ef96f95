package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leakguard/leakguard/allow"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/patterns"
	"github.com/leakguard/leakguard/report"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/scanner/gitscan"
)

const scanUsage = `usage: leakguard scan [flags] [PATH...]
       leakguard scan --history [flags] [REPO]
       leakguard scan --staged [flags] [REPO]
       leakguard scan [flags] -          (standard input)

Scan files and folders (default "."), archives inside them, standard input,
the whole git history, or what is staged, for secrets, also where they are
base64, percent- or escape-encoded or in UTF-16. Exit status: 0 no findings,
1 findings (see --exit-code), 2 error.

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
  --config, -c FILE      custom rules and allow-lists (TOML; gitleaks'
                         format, its default config included)
  --format, --report-format, -f F
                         text, json, sarif, csv or junit (default text)
  --report-path, -r FILE write the report to FILE instead of standard output
  --baseline, --baseline-path, -b FILE
                         report only findings absent from this earlier JSON
                         report (leakguard's or gitleaks')
  --ignore-file, --gitleaks-ignore-path, -i FILE
                         secrets to ignore (default .leakguardignore and
                         .gitleaksignore at the scanned root)
  --no-redact            print secrets in full
  --redact[=N]           hide secrets (the default); --redact=N shows the
                         first 100-N percent of each secret
  --exit-code N          exit status when there are findings (default 1)
  --max-target-megabytes N
                         skip files larger than N megabytes
  --max-decode-depth N   how many encodings deep to look (default 3; 0: off)
  --source, -s PATH      what to scan (as a PATH argument)
  --verbose, -v          also list the findings on standard error when the
                         report goes to a file or is not text
  --log-level L          trace, debug, info, warn (default) or error: error
                         hides warnings
  --no-banner            accepted for gitleaks' sake (there is no banner)
  --workers N            parallel workers (default: number of CPUs)
  --follow-symlinks      follow symlinks that lead out of the scanned folder
                         (by default they are a warning and not followed)
  --no-progress          no progress display on a terminal
  --help                 this help
`

// scanFlags are the flags shared by scan and the pre-push hook. Several
// have gitleaks' names as aliases (docs/cli.md, "Coming from gitleaks").
type scanFlags struct {
	rules         string
	publishable   bool
	config        string
	format        string
	reportPath    string
	baseline      string
	ignoreFile    string
	noRedact      bool
	redact        redactFlag
	exitCode      int
	maxTargetMB   int
	decodeDepth   int
	source        string
	verbose       bool
	logLevel      string
	noBanner      bool
	workers       int
	noProgress    bool
	history       bool
	staged        bool
	ignoreFileSet bool
	follow        bool // --follow-symlinks
}

// redactFlag is gitleaks' --redact: a bare flag, or --redact=N percent.
type redactFlag struct{ percent int }

func (r *redactFlag) String() string   { return strconv.Itoa(r.percent) }
func (r *redactFlag) IsBoolFlag() bool { return true }
func (r *redactFlag) Set(v string) error {
	switch strings.ToLower(v) {
	case "true", "":
		r.percent = 100
		return nil
	case "false":
		r.percent = 0
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 100 {
		return fmt.Errorf("--redact=%s: want a percentage from 0 to 100", v)
	}
	r.percent = n
	return nil
}

func (f *scanFlags) register(fs *flag.FlagSet, withModes bool) {
	fs.StringVar(&f.rules, "rules", "", "")
	fs.BoolVar(&f.publishable, "include-publishable", false, "")
	for _, n := range []string{"config", "c"} {
		fs.StringVar(&f.config, n, "", "")
	}
	for _, n := range []string{"format", "report-format", "f"} {
		fs.StringVar(&f.format, n, "text", "")
	}
	for _, n := range []string{"report-path", "r"} {
		fs.StringVar(&f.reportPath, n, "", "")
	}
	for _, n := range []string{"baseline", "baseline-path", "b"} {
		fs.StringVar(&f.baseline, n, "", "")
	}
	for _, n := range []string{"ignore-file", "gitleaks-ignore-path", "i"} {
		fs.StringVar(&f.ignoreFile, n, "", "")
	}
	fs.BoolVar(&f.noRedact, "no-redact", false, "")
	fs.Var(&f.redact, "redact", "")
	fs.IntVar(&f.exitCode, "exit-code", exitFindings, "")
	fs.IntVar(&f.maxTargetMB, "max-target-megabytes", 0, "")
	fs.IntVar(&f.decodeDepth, "max-decode-depth", -1, "")
	for _, n := range []string{"source", "s"} {
		fs.StringVar(&f.source, n, "", "")
	}
	for _, n := range []string{"verbose", "v"} {
		fs.BoolVar(&f.verbose, n, false, "")
	}
	for _, n := range []string{"log-level", "l"} {
		fs.StringVar(&f.logLevel, n, "warn", "")
	}
	fs.BoolVar(&f.noBanner, "no-banner", false, "")
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
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		io.WriteString(e.stdout, usage)
		return nil, exitOK, true
	}
	if err != nil {
		return nil, flagError(e, name, err), true
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "ignore-file", "gitleaks-ignore-path", "i":
			f.ignoreFileSet = true
		}
	})
	if err := f.check(); err != nil {
		return nil, fail(e, "%s: %s", name, err), true
	}
	if f.source != "" {
		pos = append(pos, f.source)
	}
	return pos, 0, false
}

// check validates what the flag package cannot.
func (f *scanFlags) check() error {
	switch {
	case f.exitCode < 0 || f.exitCode > 255:
		return fmt.Errorf("--exit-code %d: want 0 to 255", f.exitCode)
	case f.maxTargetMB < 0:
		return fmt.Errorf("--max-target-megabytes %d: want 0 (no limit) or more", f.maxTargetMB)
	case f.decodeDepth > 3:
		return fmt.Errorf("--max-decode-depth %d: at most 3", f.decodeDepth)
	}
	switch strings.ToLower(f.logLevel) {
	case "trace", "debug", "info", "warn", "warning", "error", "fatal":
	default:
		return fmt.Errorf("--log-level %q: want trace, debug, info, warn or error", f.logLevel)
	}
	return nil
}

// quiet reports whether warnings are hidden (--log-level error).
func (f *scanFlags) quiet() bool {
	l := strings.ToLower(f.logLevel)
	return l == "error" || l == "fatal"
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
	flags   *scanFlags
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
	opts := scanner.Options{IncludePublishable: f.publishable, Workers: f.workers, FollowSymlinks: f.follow,
		NoDecode: f.decodeDepth == 0, MaxDecodeDepth: max(f.decodeDepth, 0)}
	if f.maxTargetMB > 0 {
		opts.Limits.MaxFileSize = int64(f.maxTargetMB) << 20
	}
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
		s.filter.Composite = report.NewComposite(opts.ExtraRules)
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
			for _, name := range []string{report.DefaultIgnoreFile, report.GitleaksIgnoreFile} {
				loaded, err := report.LoadIgnore(filepath.Join(root, name), true)
				if err != nil {
					return nil, err
				}
				ig.Merge(loaded)
			}
		}
	}
	s.filter.Ignore = ig
	s.opts = report.Options{Format: format, NoRedact: f.noRedact, RedactPercent: f.redact.percent, Color: false,
		ToolVersion: version, Descriptions: desc}
	s.flags = f
	return s, nil
}

// loadScanConfig reads a --config file (and the files its [extend] path
// names): custom rules and allow-lists.
func loadScanConfig(path string) (*patterns.Config, error) {
	cfg, err := patterns.LoadConfig(path, func(p string) ([]byte, error) { return readBounded(p, 16<<20) })
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// pathClasses returns a function naming the class of a path: which
// path-limited rules apply there and which allow-lists match it. Nil when
// nothing depends on the path.
func pathClasses(global []allow.List, rules []patterns.Rule) func(string) string {
	var lists []*allow.List
	var dep []*patterns.Rule
	for i := range global {
		if len(global[i].Paths) > 0 {
			lists = append(lists, &global[i])
		}
	}
	for i := range rules {
		r := &rules[i]
		if r.Path != nil {
			dep = append(dep, r)
		}
		for j := range r.Allowlists {
			if len(r.Allowlists[j].Paths) > 0 {
				lists = append(lists, &r.Allowlists[j])
			}
		}
	}
	if len(dep) == 0 && len(lists) == 0 {
		return nil
	}
	return func(path string) string {
		b := make([]byte, 0, len(dep)+len(lists))
		for _, r := range dep {
			b = append(b, '0'+byte(boolInt(r.AppliesTo(path))))
		}
		for _, l := range lists {
			b = append(b, '0'+byte(boolInt(l.MatchesPath(path))))
		}
		return string(b)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
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
	fs := newFlagSet("scan")
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
	stdin := slices.Contains(pos, "-")
	if stdin && (len(pos) > 1 || f.history || f.staged) {
		return fail(e, "scan: - (standard input) is scanned alone, without paths, --history or --staged")
	}
	start := time.Now()
	var (
		findings []scanner.Finding
		sum      report.Summary
		s        *scanSetup
		prog     *report.Progress
	)
	showProgress := !f.noProgress && !stdin && e.isTerminal(e.stderr)
	if showProgress {
		prog = report.NewProgress(e.stderr, 0)
	}
	warn := func(w scanner.Warning) {
		if f.quiet() {
			return
		}
		prog.Clear()
		fmt.Fprintf(e.stderr, "leakguard: warning: %s\n", report.Escape(w.Error()))
	}
	emit := func(fd scanner.Finding) { findings = append(findings, fd) }
	switch {
	case f.history || f.staged:
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
	case stdin:
		if s, err = f.setup(nil, nil); err != nil {
			return fail(e, "scan: %s", oneLine(err.Error()))
		}
		cr := &countingReader{r: e.stdin}
		if err := s.engine.ScanStream(ctx, "-", cr, emit, warn); err != nil {
			return fail(e, "scan: standard input: %s", oneLine(err.Error()))
		}
		sum = report.Summary{Files: 1, Bytes: cr.n}
	default:
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
		st, err := s.engine.ScanPaths(ctx, pos, emit, warn)
		prog.Done()
		if err != nil {
			return fail(e, "scan: %s", oneLine(err.Error()))
		}
		sum = report.Summary{Files: st.Files, Bytes: st.Bytes}
	}
	return finishScan(e, s, findings, sum, start)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// finishScan filters, prints and picks the exit code.
func finishScan(e *env, s *scanSetup, findings []scanner.Finding, sum report.Summary, start time.Time) int {
	findings = s.filter.Apply(findings)
	report.Sort(findings)
	opts := s.opts
	out := e.stdout
	var file *os.File
	if p := s.flags.reportPath; p != "" && p != "-" {
		var err error
		if file, err = os.Create(p); err != nil {
			return fail(e, "scan: --report-path: %s", oneLine(err.Error()))
		}
		out = file
	}
	opts.Color = file == nil && opts.Format == report.Text && e.isTerminal(e.stdout) && e.getenv("NO_COLOR") == ""
	if err := report.Write(out, findings, opts); err != nil {
		if file != nil {
			file.Close()
		}
		return fail(e, "scan: %s", oneLine(err.Error()))
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return fail(e, "scan: --report-path: %s", oneLine(err.Error()))
		}
	}
	if s.flags.verbose && (file != nil || opts.Format != report.Text) {
		vo := opts
		vo.Format, vo.Color = report.Text, false
		_ = report.WriteText(e.stderr, findings, vo)
	}
	sum.Findings = len(findings)
	sum.Elapsed = time.Since(start)
	if opts.Format == report.Text || file != nil {
		report.WriteSummary(e.stderr, sum)
	}
	if len(findings) > 0 {
		return s.flags.exitCode
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

// gitleaksCommands are gitleaks' subcommands, so its habits and scripts
// carry over (docs/cli.md, "Coming from gitleaks"): each is a scan.
func gitleaksCommands() map[string]command {
	alias := func(extra ...string) func(context.Context, *env, []string) int {
		return func(ctx context.Context, e *env, args []string) int {
			return runScan(ctx, e, append(slices.Clone(extra), args...))
		}
	}
	return map[string]command{
		"git": {"gitleaks' 'git': scan --history", alias("--history")},
		"dir": {"gitleaks' 'dir': scan PATH", alias()},
		"stdin": {"gitleaks' 'stdin': scan -", func(ctx context.Context, e *env, args []string) int {
			return runScan(ctx, e, append(args, "-"))
		}},
		"detect": {"gitleaks' 'detect': scan --history (--no-git: scan PATH)", func(ctx context.Context, e *env, args []string) int {
			rest := make([]string, 0, len(args)+1)
			git := true
			for _, a := range args {
				if a == "--no-git" || a == "-no-git" {
					git = false
					continue
				}
				rest = append(rest, a)
			}
			if git {
				rest = append([]string{"--history"}, rest...)
			}
			return runScan(ctx, e, rest)
		}},
		"protect": {"gitleaks' 'protect': scan --staged", func(ctx context.Context, e *env, args []string) int {
			rest := []string{"--staged"}
			for _, a := range args {
				if a != "--staged" && a != "-staged" {
					rest = append(rest, a)
				}
			}
			return runScan(ctx, e, rest)
		}},
	}
}
