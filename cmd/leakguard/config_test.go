package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/keyformat"
)

var update = flag.Bool("update", false, "rewrite the environment tables of README.md and docs/configuration.md from the code's table")

func envFrom(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(envFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "leakguard-data" || c.HTTPAddr != "127.0.0.1:8080" || c.HTTPAddrSet || c.Mode != "test" ||
		c.SMTP.From != "leakguard@localhost" || c.SMTP.Addr != "" || c.SMTP.TLS != smtpTLSOpportunistic ||
		c.DatabaseURL != "" || c.NATSURL != "" {
		t.Fatalf("defaults: %+v", c)
	}
	if strings.Join(c.Sources, ",") != "github,gists,npm" {
		t.Fatalf("default sources = %v", c.Sources)
	}
	if c.GitHubAPIURL != "https://api.github.com/" || c.PastebinURL != "https://scrape.pastebin.com/" ||
		c.GitHubScanningKeysURL != "https://api.github.com/meta/public_keys/secret_scanning" ||
		c.NPMReplicateURL != "https://replicate.npmjs.com/" || c.NPMRegistryURL != "https://registry.npmjs.org/" ||
		c.DockerHubURL != "https://hub.docker.com/" || c.DockerRegistryURL != "https://registry-1.docker.io/" ||
		c.DockerAuthURL != "https://auth.docker.io/token" {
		t.Fatalf("upstream defaults: %+v", c)
	}
	if c.ConsoleURL != "http://127.0.0.1:8080" || c.WebhookAllowPrivate {
		t.Fatalf("console/webhook defaults: %q %v", c.ConsoleURL, c.WebhookAllowPrivate)
	}
	// The API's own defaults apply (api.Config's zero values), except the
	// rate limit and auth failures, which the table spells out.
	if c.API.ServiceToken != "" || c.API.RateLimit != 100 || c.API.RateBurst != 0 || c.API.AuthFailuresPerMinute != 20 ||
		len(c.API.TrustedProxies) != 0 {
		t.Fatalf("API defaults: %+v", c.API)
	}
	if !slices.Equal(c.Resources, []string{"account", "api_keys", "api_logs", "leaks"}) {
		t.Fatalf("default resources %v", c.Resources)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad mode", map[string]string{"LEAKGUARD_MODE": "prod"}, "LEAKGUARD_MODE"},
		{"bad addr", map[string]string{"LEAKGUARD_HTTP_ADDR": "8080"}, "LEAKGUARD_HTTP_ADDR"},
		{"bad smtp", map[string]string{"LEAKGUARD_SMTP_ADDR": "mail"}, "LEAKGUARD_SMTP_ADDR"},
		{"smtp port name", map[string]string{"LEAKGUARD_SMTP_ADDR": "mail.internal:smtp"}, "bad port"},
		{"smtp no host", map[string]string{"LEAKGUARD_SMTP_ADDR": ":25"}, "no host"},
		{"bad interval", map[string]string{"LEAKGUARD_POLL_INTERVAL": "soon"}, "LEAKGUARD_POLL_INTERVAL"},
		{"negative interval", map[string]string{"LEAKGUARD_POLL_INTERVAL": "-1s"}, "LEAKGUARD_POLL_INTERVAL"},
		{"unknown source", map[string]string{"LEAKGUARD_SOURCES": "github,twitter"}, "twitter"},
		{"bad resource", map[string]string{"LEAKGUARD_RESOURCES": "Bad-Name"}, "LEAKGUARD_RESOURCES"},
		{"rate limit word", map[string]string{"LEAKGUARD_RATE_LIMIT": "fast"}, "LEAKGUARD_RATE_LIMIT"},
		{"rate limit NaN", map[string]string{"LEAKGUARD_RATE_LIMIT": "NaN"}, "LEAKGUARD_RATE_LIMIT"},
		{"rate limit Inf", map[string]string{"LEAKGUARD_RATE_LIMIT": "Inf"}, "LEAKGUARD_RATE_LIMIT"},
		{"zero burst", map[string]string{"LEAKGUARD_RATE_BURST": "0"}, "LEAKGUARD_RATE_BURST"},
		{"zero replicas", map[string]string{"LEAKGUARD_NATS_REPLICAS": "0"}, "LEAKGUARD_NATS_REPLICAS"},
		{"too many replicas", map[string]string{"LEAKGUARD_NATS_REPLICAS": "7"}, "LEAKGUARD_NATS_REPLICAS"},
		{"replicas word", map[string]string{"LEAKGUARD_NATS_REPLICAS": "three"}, "LEAKGUARD_NATS_REPLICAS"},
		{"auth failures word", map[string]string{"LEAKGUARD_AUTH_FAILURES_PER_MINUTE": "x"}, "LEAKGUARD_AUTH_FAILURES_PER_MINUTE"},
		{"auth failures zero", map[string]string{"LEAKGUARD_AUTH_FAILURES_PER_MINUTE": "0"}, "LEAKGUARD_AUTH_FAILURES_PER_MINUTE"},
		{"bad proxy", map[string]string{"LEAKGUARD_TRUSTED_PROXIES": "10.0.0.0/99"}, "LEAKGUARD_TRUSTED_PROXIES"},
		{"bad smtp tls", map[string]string{"LEAKGUARD_SMTP_TLS": "ssl"}, "LEAKGUARD_SMTP_TLS"},
		{"user without password", map[string]string{"LEAKGUARD_SMTP_USERNAME": "mailer"}, "LEAKGUARD_SMTP_PASSWORD"},
		{"password without user", map[string]string{"LEAKGUARD_SMTP_PASSWORD": "s3cret-pw"}, "LEAKGUARD_SMTP_USERNAME"},
		{"bad allow private", map[string]string{"LEAKGUARD_WEBHOOK_ALLOW_PRIVATE": "yes"}, "LEAKGUARD_WEBHOOK_ALLOW_PRIVATE"},
		{"console not a URL", map[string]string{"LEAKGUARD_CONSOLE_URL": "console.example.com"}, "LEAKGUARD_CONSOLE_URL"},
		{"upstream not http", map[string]string{"LEAKGUARD_GITHUB_API_URL": "ftp://github.example/"}, "LEAKGUARD_GITHUB_API_URL"},
		{"keys URL relative", map[string]string{"LEAKGUARD_GITHUB_SCANNING_KEYS_URL": "/meta"}, "LEAKGUARD_GITHUB_SCANNING_KEYS_URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(envFrom(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
		})
	}
}

// Every bad value is reported, not just the first.
func TestLoadConfigReportsEveryError(t *testing.T) {
	_, err := loadConfig(envFrom(map[string]string{"LEAKGUARD_MODE": "prod", "LEAKGUARD_RATE_BURST": "-2"}))
	if err == nil || !strings.Contains(err.Error(), "LEAKGUARD_MODE") || !strings.Contains(err.Error(), "LEAKGUARD_RATE_BURST") {
		t.Fatalf("err = %v, want both variables named", err)
	}
}

func TestLoadConfigValues(t *testing.T) {
	c, err := loadConfig(envFrom(map[string]string{
		"LEAKGUARD_SOURCES":               " npm, dockerhub ,npm",
		"LEAKGUARD_POLL_INTERVAL":         "250ms",
		"LEAKGUARD_DOCKERHUB_NAMESPACES":  "acme, other",
		"LEAKGUARD_MODE":                  "live",
		"LEAKGUARD_RESOURCES":             "orders",
		"LEAKGUARD_HTTP_ADDR":             "0.0.0.0:9090",
		"LEAKGUARD_SMTP_ADDR":             "mail.internal:587",
		"LEAKGUARD_SMTP_FROM":             "sec@example.com",
		"LEAKGUARD_SMTP_USERNAME":         "mailer",
		"LEAKGUARD_SMTP_PASSWORD":         " pw with spaces inside ",
		"LEAKGUARD_SMTP_TLS":              "starttls",
		"LEAKGUARD_CONSOLE_URL":           "https://keys.example.com/",
		"LEAKGUARD_WEBHOOK_ALLOW_PRIVATE": "1",
		"LEAKGUARD_GITHUB_TOKEN":          "ghp-token",
		"LEAKGUARD_NATS_URL":              "nats://n1:4222,nats://n2:4222",
		"LEAKGUARD_NATS_REPLICAS":         "3",
		"LEAKGUARD_DATABASE_URL":          "postgres://lg@db/lg",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.NATSReplicas != 3 {
		t.Errorf("NATSReplicas = %d, want 3", c.NATSReplicas)
	}
	if strings.Join(c.Sources, ",") != "npm,dockerhub" || c.PollInterval != 250*time.Millisecond ||
		strings.Join(c.DockerHubNamespaces, ",") != "acme,other" || c.Mode != keyformat.Live {
		t.Fatalf("%+v", c)
	}
	if !slices.Equal(c.Resources, []string{"account", "api_keys", "api_logs", "leaks", "orders"}) {
		t.Fatalf("resources %v", c.Resources)
	}
	if !c.HTTPAddrSet || c.HTTPAddr != "0.0.0.0:9090" {
		t.Fatalf("http addr %q set=%v", c.HTTPAddr, c.HTTPAddrSet)
	}
	want := smtpConfig{Addr: "mail.internal:587", From: "sec@example.com", Username: "mailer", Password: "pw with spaces inside", TLS: smtpTLSStartTLS}
	if c.SMTP != want {
		t.Fatalf("smtp %+v, want %+v", c.SMTP, want)
	}
	if c.ConsoleURL != "https://keys.example.com" || !c.WebhookAllowPrivate || c.GitHubToken != "ghp-token" ||
		c.NATSURL != "nats://n1:4222,nats://n2:4222" || c.DatabaseURL != "postgres://lg@db/lg" {
		t.Fatalf("%+v", c)
	}
	for in, want := range map[string]string{
		"":                        "[github gists npm]",
		"none":                    "[]",
		"NONE":                    "[]",
		"github, pastebin,github": "[github pastebin]",
		"GitHub,DockerHub":        "[github dockerhub]",
	} {
		c, err := loadConfig(envFrom(map[string]string{"LEAKGUARD_SOURCES": in}))
		if err != nil || fmt.Sprint(c.Sources) != want {
			t.Errorf("LEAKGUARD_SOURCES=%q: %v %v, want %s", in, c.Sources, err, want)
		}
	}
	for _, m := range smtpTLSModes() {
		c, err := loadConfig(envFrom(map[string]string{"LEAKGUARD_SMTP_TLS": string(m)}))
		if err != nil || c.SMTP.TLS != m {
			t.Errorf("LEAKGUARD_SMTP_TLS=%s: %v %v", m, c.SMTP.TLS, err)
		}
	}
	// The console defaults to the API's address, wherever that is.
	c, err = loadConfig(envFrom(map[string]string{"LEAKGUARD_HTTP_ADDR": "10.1.2.3:80"}))
	if err != nil || c.ConsoleURL != "http://10.1.2.3:80" {
		t.Fatalf("console default: %q %v", c.ConsoleURL, err)
	}
}

func TestLoadConfigAPI(t *testing.T) {
	c, err := loadConfig(envFrom(map[string]string{
		"LEAKGUARD_SERVICE_TOKEN": " tok ", "LEAKGUARD_RATE_LIMIT": "25.5", "LEAKGUARD_RATE_BURST": "7",
		"LEAKGUARD_AUTH_FAILURES_PER_MINUTE": "5", "LEAKGUARD_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1 ,",
	}))
	if err != nil {
		t.Fatal(err)
	}
	a := c.API
	if a.ServiceToken != "tok" || a.RateLimit != 25.5 || a.RateBurst != 7 || a.AuthFailuresPerMinute != 5 ||
		!slices.Equal(a.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}) {
		t.Fatalf("config %+v", a)
	}
	for _, off := range []string{"0", "off", "none", "-1"} {
		if c, err := loadConfig(envFrom(map[string]string{"LEAKGUARD_RATE_LIMIT": off})); err != nil || c.API.RateLimit >= 0 {
			t.Errorf("LEAKGUARD_RATE_LIMIT=%s: %+v %v", off, c.API.RateLimit, err)
		}
	}
	if c, err := loadConfig(envFrom(map[string]string{"LEAKGUARD_AUTH_FAILURES_PER_MINUTE": "-1"})); err != nil || c.API.AuthFailuresPerMinute >= 0 {
		t.Errorf("negative auth failures (no limit): %v %v", c.API.AuthFailuresPerMinute, err)
	}
}

func TestEnvWarnings(t *testing.T) {
	c, err := loadConfig(envFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := envWarnings(c, []string{
		"PATH=/usr/bin",
		"LEAKGUARD_MODE=live",             // known
		"LEAKGUARD_SMTP_ADRR=mail:25",     // a typo
		"LEAKGUARD_SMTP_ADRR=mail:25",     // listed twice: warned once
		"LEAKGUARD_COLOUR=1",              // unknown, nothing close
		"LEAKGUARD_TEST_DATABASE_URL=x",   // the tests' own
		"LEAKGUARD_API_TEST_CHILD_DB=y",   // a test's child process
		"LEAKGUARD_BENCH_DIR=/tmp",        // a benchmark's
		"NOT_LEAKGUARD_THING=1",           // not ours
		"LEAKGUARD_POLL_INTERVAL_SECS=30", // unknown, close to a known one
	})
	want := []string{
		"unknown environment variable LEAKGUARD_SMTP_ADRR (ignored); did you mean LEAKGUARD_SMTP_ADDR?",
		"unknown environment variable LEAKGUARD_COLOUR (ignored)",
		"unknown environment variable LEAKGUARD_POLL_INTERVAL_SECS (ignored)",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	c, err = loadConfig(envFrom(map[string]string{"LEAKGUARD_SMTP_USERNAME": "u", "LEAKGUARD_SMTP_PASSWORD": "p"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := envWarnings(c, nil); len(got) != 1 || !strings.Contains(got[0], "without LEAKGUARD_SMTP_ADDR") {
		t.Fatalf("SMTP auth without a relay: %v", got)
	}
}

// `serve` logs the warning as it starts (here it then fails on the
// cancelled context, which is beside the point).
func TestServeWarnsAboutUnknownVariable(t *testing.T) {
	vars := map[string]string{"LEAKGUARD_DATA_DIR": t.TempDir(), "LEAKGUARD_SOURCES": "none", "LEAKGUARD_SERVICE_TOKNE": "x"}
	e, _, errb := cliEnv(envFrom(vars))
	e.environ = func() []string {
		var out []string
		for k, v := range vars {
			out = append(out, k+"="+v)
		}
		return out
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	run(ctx, e, []string{"serve", "--roles", "revoker"})
	if !strings.Contains(errb.String(), "level=WARN") ||
		!strings.Contains(errb.String(), "unknown environment variable LEAKGUARD_SERVICE_TOKNE (ignored); did you mean LEAKGUARD_SERVICE_TOKEN?") {
		t.Fatalf("stderr lacks the warning:\n%s", errb)
	}
}

func TestParseRoles(t *testing.T) {
	if r, err := parseRoles("api,revoker"); err != nil || !r["api"] || !r["revoker"] || r["sources"] {
		t.Fatalf("%v %v", r, err)
	}
	for _, bad := range []string{"", "api,cron", ","} {
		if _, err := parseRoles(bad); err == nil {
			t.Fatalf("parseRoles(%q) accepted", bad)
		}
	}
}

func TestEnvTableIsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range append(envVars(), testEnvVars()...) {
		if !regexp.MustCompile(`^LEAKGUARD_[A-Z0-9_]+$`).MatchString(v.Name) || seen[v.Name] {
			t.Errorf("%q: bad or repeated name", v.Name)
		}
		seen[v.Name] = true
		if v.Type == "" || v.Meaning == "" || v.Default == "" && v.Unset == "" {
			t.Errorf("%s: type, meaning and a default (or what unset means) are all needed", v.Name)
		}
	}
	for _, v := range envVars() {
		if v.set == nil {
			t.Errorf("%s: nothing parses it", v.Name)
		}
		// Each default parses.
		if v.Default != "" {
			var c config
			if err := v.set(&c, v.Default); err != nil {
				t.Errorf("%s: default %q: %v", v.Name, v.Default, err)
			}
		}
	}
}

// docTables are the files holding a copy of the code's tables, each
// between two markers.
var docTables = []struct {
	file, marker string
	vars         func() []envVar
}{
	{"README.md", "env", envVars},
	{"docs/configuration.md", "env", envVars},
	{"docs/configuration.md", "testenv", testEnvVars},
}

// TestEnvTableMatchesDocs parses the environment tables of the README and
// docs/configuration.md and compares them with envVars, row by row. With
// -update it rewrites them instead.
func TestEnvTableMatchesDocs(t *testing.T) {
	root := repoRoot(t)
	for _, d := range docTables {
		path := filepath.Join(root, d.file)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		doc := string(b)
		begin, end := "<!-- leakguard:"+d.marker+" begin -->\n", "<!-- leakguard:"+d.marker+" end -->"
		i, j := strings.Index(doc, begin), strings.Index(doc, end)
		if i < 0 || j < i {
			t.Errorf("%s: no table between %q and %q", d.file, strings.TrimSpace(begin), end)
			continue
		}
		table := doc[i+len(begin) : j]
		if *update {
			doc = doc[:i+len(begin)] + renderEnvTable(d.vars()) + doc[j:]
			if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got := parseEnvTable(t, d.file, table)
		want := d.vars()
		for _, w := range want {
			row, ok := got[w.Name]
			if !ok {
				t.Errorf("%s: no row for %s", d.file, w.Name)
				continue
			}
			if exp := envRow(w); !slices.Equal(row, exp) {
				t.Errorf("%s: row for %s is\n\t%q\nthe code's table says\n\t%q", d.file, w.Name, row, exp)
			}
			delete(got, w.Name)
		}
		for name := range got {
			t.Errorf("%s: documents %s, which the code's table does not have", d.file, name)
		}
	}
	if t.Failed() {
		t.Log("after changing envVars, run: go test ./cmd/leakguard -run TestEnvTableMatchesDocs -update")
	}
}

// envRow is a variable's cells in the docs: name, type, meaning, when unset.
func envRow(v envVar) []string {
	unset := v.Unset
	if unset == "" {
		unset = "`" + v.Default + "`"
	}
	return []string{"`" + v.Name + "`", v.Type, v.Meaning, unset}
}

func renderEnvTable(vars []envVar) string {
	var b strings.Builder
	b.WriteString("| variable | type | meaning | when unset |\n|---|---|---|---|\n")
	for _, v := range vars {
		cells := envRow(v)
		for i := range cells {
			cells[i] = strings.ReplaceAll(cells[i], "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

// parseEnvTable reads a Markdown table of variables: name -> cells.
func parseEnvTable(t *testing.T, file, table string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "|---") {
		t.Errorf("%s: the environment table has no header", file)
		return out
	}
	for _, line := range lines[2:] {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") {
			t.Errorf("%s: not a table row: %q", file, line)
			continue
		}
		// Split on unescaped pipes.
		var cells []string
		var cur strings.Builder
		inner := line[1 : len(line)-1]
		for k := 0; k < len(inner); k++ {
			switch {
			case inner[k] == '\\' && k+1 < len(inner) && inner[k+1] == '|':
				cur.WriteByte('|')
				k++
			case inner[k] == '|':
				cells = append(cells, strings.TrimSpace(cur.String()))
				cur.Reset()
			default:
				cur.WriteByte(inner[k])
			}
		}
		cells = append(cells, strings.TrimSpace(cur.String()))
		if len(cells) != 4 {
			t.Errorf("%s: want 4 cells, got %d: %q", file, len(cells), line)
			continue
		}
		name := strings.Trim(cells[0], "`")
		if _, dup := out[name]; dup {
			t.Errorf("%s: %s twice", file, name)
		}
		out[name] = cells
	}
	return out
}

// Every LEAKGUARD_* name the code and the docs mention is one of the
// table's: a renamed or misspelt variable shows up here.
func TestMentionedVariablesAreKnown(t *testing.T) {
	known := map[string]bool{}
	for _, v := range append(envVars(), testEnvVars()...) {
		known[v.Name] = true
	}
	re := regexp.MustCompile(`LEAKGUARD_[A-Z0-9_]*[A-Z0-9]\b`) // not the prefixes LEAKGUARD_TEST_ and the like
	root := repoRoot(t)
	walkSource(t, root, func(rel string, b []byte) {
		if strings.HasSuffix(rel, "_test.go") || !strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, ".md") {
			return
		}
		for _, name := range re.FindAllString(string(b), -1) {
			if !known[name] {
				t.Errorf("%s mentions %s, which is not in the environment table", rel, name)
			}
		}
	})
}

// Only cmd/leakguard reads the environment (and the tests' helpers in
// internal/testenv, their own LEAKGUARD_TEST_* variables).
func TestOnlyCmdReadsTheEnvironment(t *testing.T) {
	re := regexp.MustCompile(`\bos\.(Getenv|LookupEnv|Environ)\(`)
	walkSource(t, repoRoot(t), func(rel string, b []byte) {
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		if dir == "cmd/leakguard" || dir == "internal/testenv" {
			return
		}
		if re.Match(b) {
			t.Errorf("%s reads the environment; configuration is read in cmd/leakguard and handed down", rel)
		}
	})
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root: %v", err)
	}
	return root
}

// walkSource calls fn for every file of the repository outside .git and
// testdata.
func walkSource(t *testing.T, root string, fn func(rel string, b []byte)) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == ".git" || n == "testdata" || n == "leakguard-data" {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fn(rel, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The repository stands alone: nothing points at a document a user of it
// does not have (the docs/ pages are the reference).
func TestNoOutsideReferences(t *testing.T) {
	outside := []string{"CONTRACT" + ".md", "CONTRACT" + " §", "../" + "shared"}
	walkSource(t, repoRoot(t), func(rel string, b []byte) {
		if !strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, ".md") && !strings.HasPrefix(rel, ".ci") && !strings.HasPrefix(rel, "scripts") {
			return
		}
		for _, s := range outside {
			if strings.Contains(string(b), s) {
				t.Errorf("%s refers to %q, which is not in the repository; cite docs/ instead", rel, s)
			}
		}
	})
}
