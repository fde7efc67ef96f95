package main

// Configuration: this file is the one place leakguard reads its LEAKGUARD_*
// environment. envVars is the table of every variable (name, type, default,
// meaning); loadConfig parses and validates them into config, and the
// packages get typed structs built from it (they never read the
// environment). The README's and docs/configuration.md's tables are this
// table: TestEnvTableMatchesDocs fails when they drift, and rewrites them
// with -update.

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
	"github.com/leakguard/leakguard/notifier"
	"github.com/leakguard/leakguard/partner"
	"github.com/leakguard/leakguard/sources/dockerhub"
	"github.com/leakguard/leakguard/sources/github"
	"github.com/leakguard/leakguard/sources/npm"
	"github.com/leakguard/leakguard/sources/pastebin"
)

// config is everything leakguard reads from its environment, parsed.
// `serve` uses all of it; the admin commands (accounts, keys) the store
// settings, the mode and the resources.
type config struct {
	DataDir     string // embedded state (SQLite, embedded NATS)
	DatabaseURL string // PostgreSQL (pgx); "": SQLite in DataDir
	NATSURL     string // "": embedded NATS in DataDir
	// NATSReplicas is the replica count of the JetStream streams (0: 1).
	NATSReplicas int
	HTTPAddr     string
	// HTTPAddrSet: LEAKGUARD_HTTP_ADDR was given, so roles other than api
	// listen too (for /healthz and /metrics); unset, they stay off the
	// default port so several processes fit on one machine.
	HTTPAddrSet bool
	Mode        keyformat.Mode
	Resources   []string // built-ins first, then LEAKGUARD_RESOURCES

	// API is the key API's configuration: service token, rate limits,
	// auth-failure limit, trusted proxies.
	API api.Config

	SMTP smtpConfig
	// ConsoleURL is the owner console's public base URL, for links in
	// emails; no trailing slash. Default "http://" + HTTPAddr.
	ConsoleURL string
	// WebhookAllowPrivate lets webhook endpoints resolve to loopback,
	// private, link-local or metadata addresses.
	WebhookAllowPrivate bool

	Sources               []string
	PollInterval          time.Duration // 0: each source's own pace
	GitHubAPIURL          string
	GitHubToken           string // sources and the partner endpoint's key fetch
	GitHubScanningKeysURL string
	NPMReplicateURL       string
	NPMRegistryURL        string
	DockerHubURL          string
	DockerRegistryURL     string
	DockerAuthURL         string
	DockerHubNamespaces   []string
	PastebinURL           string
}

// smtpConfig is the mail relay of the notifier role.
type smtpConfig struct {
	Addr     string // host:port; "": no relay, notices are logged
	From     string
	Username string // SMTP AUTH (PLAIN or LOGIN); "" with Password "": no AUTH
	Password string
	TLS      smtpTLSMode
	CAFile   string // extra roots to trust for the relay's certificate
}

// smtpTLSMode is how the notifier protects its connection to the relay.
type smtpTLSMode string

const (
	// smtpTLSStartTLS requires STARTTLS: a relay without it is refused.
	smtpTLSStartTLS smtpTLSMode = "starttls"
	// smtpTLSImplicit speaks TLS from the first byte (port 465).
	smtpTLSImplicit smtpTLSMode = "implicit"
	// smtpTLSOpportunistic uses STARTTLS when the relay offers it.
	smtpTLSOpportunistic smtpTLSMode = "opportunistic"
	// smtpTLSNone never uses TLS.
	smtpTLSNone smtpTLSMode = "none"
)

func smtpTLSModes() []smtpTLSMode {
	return []smtpTLSMode{smtpTLSStartTLS, smtpTLSImplicit, smtpTLSOpportunistic, smtpTLSNone}
}

// envVar is one row of the table.
type envVar struct {
	Name string
	Type string // how the value is read (for the docs)
	// Default is the value used when the variable is unset or blank ("":
	// none); Unset, when set, says in words what happens instead (for the
	// docs, where the literal default would not say enough).
	Default string
	Unset   string
	Meaning string
	// set parses v (the value, or Default) into c. It is not called when
	// both are empty.
	set func(c *config, v string) error
}

// envVars is the table of every LEAKGUARD_* variable leakguard reads, in
// the order the docs list them.
func envVars() []envVar {
	return []envVar{
		{Name: "LEAKGUARD_DATA_DIR", Type: "path", Default: "./leakguard-data",
			Meaning: "where embedded state lives: the SQLite store and the embedded NATS server (created 0700)",
			set:     func(c *config, v string) error { c.DataDir = filepath.Clean(v); return nil }},
		{Name: "LEAKGUARD_DATABASE_URL", Type: "URL", Unset: "SQLite in the data dir",
			Meaning: "PostgreSQL connection URL (pgx syntax); every process of a scaled deployment uses the same one",
			set:     func(c *config, v string) error { c.DatabaseURL = v; return nil }},
		{Name: "LEAKGUARD_NATS_URL", Type: "URL", Unset: "embedded NATS in the data dir, loopback only",
			Meaning: "NATS server with JetStream (a comma list of URLs for a cluster)",
			set:     func(c *config, v string) error { c.NATSURL = v; return nil }},
		{Name: "LEAKGUARD_NATS_REPLICAS", Type: "integer", Default: "1",
			Meaning: "replicas of the hit and dead-letter streams, 1 to 5 (3 on a 3-node cluster); every process must use the same value, since each makes the streams match it at start",
			set:     setNATSReplicas},
		{Name: "LEAKGUARD_HTTP_ADDR", Type: "host:port", Default: "127.0.0.1:8080",
			Meaning: "listen address of the key API, the console and the partner endpoint; roles other than api listen here (health, metrics) only when it is set",
			set:     setHTTPAddr},
		{Name: "LEAKGUARD_MODE", Type: "`live` or `test`", Default: string(keyformat.Test),
			Meaning: "the mode of keys this API server accepts, and the default mode of the admin commands",
			set:     setMode},
		{Name: "LEAKGUARD_RESOURCES", Type: "list", Unset: "built-ins only",
			Meaning: "the platform's own scope resources beyond `account`, `api_keys`, `api_logs`, `leaks` (e.g. `orders,customers`)",
			set:     setResources},
		{Name: "LEAKGUARD_SERVICE_TOKEN", Type: "secret", Unset: "`POST /v1/keys/verify` is off",
			Meaning: "the token the platform's own services present to `POST /v1/keys/verify`",
			set:     func(c *config, v string) error { c.API.ServiceToken = v; return nil }},
		{Name: "LEAKGUARD_RATE_LIMIT", Type: "number", Default: strconv.Itoa(api.DefaultRateLimit),
			Meaning: "requests per second per key (also on verify); `0` or `off`: no limit",
			set:     setRateLimit},
		{Name: "LEAKGUARD_RATE_BURST", Type: "integer", Unset: "twice the rate limit",
			Meaning: "how many requests a key may make at once above its rate",
			set:     setRateBurst},
		{Name: "LEAKGUARD_AUTH_FAILURES_PER_MINUTE", Type: "integer", Default: strconv.Itoa(api.DefaultAuthFailures),
			Meaning: "unknown keys (or wrong service tokens) one client IP may present per minute before it gets 429; negative: no limit",
			set:     setAuthFailures},
		{Name: "LEAKGUARD_TRUSTED_PROXIES", Type: "CIDR list", Unset: "the client is the TCP peer",
			Meaning: "proxies (CIDRs or addresses) whose `X-Forwarded-For` names the client, for allow-lists, logs and limits",
			set:     setTrustedProxies},
		{Name: "LEAKGUARD_CONSOLE_URL", Type: "URL", Unset: "`http://` + `LEAKGUARD_HTTP_ADDR`",
			Meaning: "public base URL of the owner console, used in the links of emails",
			set:     setConsoleURL},
		{Name: "LEAKGUARD_SMTP_ADDR", Type: "host:port", Unset: "no email; notices are logged",
			Meaning: "the mail relay",
			set:     setSMTPAddr},
		{Name: "LEAKGUARD_SMTP_FROM", Type: "address", Default: notifier.DefaultFrom,
			Meaning: "sender address of the emails",
			set:     func(c *config, v string) error { c.SMTP.From = v; return nil }},
		{Name: "LEAKGUARD_SMTP_USERNAME", Type: "string", Unset: "no AUTH",
			Meaning: "SMTP AUTH user name (PLAIN or LOGIN, whichever the relay offers); needs `LEAKGUARD_SMTP_PASSWORD`",
			set:     func(c *config, v string) error { c.SMTP.Username = v; return nil }},
		{Name: "LEAKGUARD_SMTP_PASSWORD", Type: "secret", Unset: "no AUTH",
			Meaning: "SMTP AUTH password; needs `LEAKGUARD_SMTP_USERNAME`",
			set:     func(c *config, v string) error { c.SMTP.Password = v; return nil }},
		{Name: "LEAKGUARD_SMTP_TLS", Type: "`starttls`, `implicit`, `opportunistic` or `none`", Default: string(smtpTLSOpportunistic),
			Meaning: "`starttls`: refuse a relay without STARTTLS; `implicit`: TLS from the first byte (port 465); `opportunistic`: STARTTLS when offered; `none`: never TLS",
			set:     setSMTPTLS},
		{Name: "LEAKGUARD_SMTP_CA_FILE", Type: "path", Unset: "the system's roots only",
			Meaning: "PEM file of extra CA certificates to trust for the relay's certificate (a private CA); when set, a relay on loopback is verified too",
			set:     func(c *config, v string) error { c.SMTP.CAFile = v; return nil }},
		{Name: "LEAKGUARD_WEBHOOK_ALLOW_PRIVATE", Type: "`1` or `0`", Unset: "refused",
			Meaning: "`1` lets webhook endpoints resolve to loopback, private, link-local or metadata addresses (tests, private deployments)",
			set:     setWebhookAllowPrivate},
		{Name: "LEAKGUARD_SOURCES", Type: "list", Default: strings.Join(defaultSources(), ","),
			Meaning: "the sources to poll, of `" + strings.Join(allSources(), ",") + "`, or `none` (the defaults need no account)",
			set:     setSources},
		{Name: "LEAKGUARD_POLL_INTERVAL", Type: "duration", Unset: "each source's own pace",
			Meaning: "time between two polls of a source, as a Go duration (`30s`); an upstream's longer hint (GitHub's `X-Poll-Interval`) wins",
			set:     setPollInterval},
		{Name: "LEAKGUARD_GITHUB_API_URL", Type: "URL", Default: github.DefaultAPIURL,
			Meaning: "GitHub REST API base (the github and gists sources)",
			set:     urlSetter(func(c *config) *string { return &c.GitHubAPIURL })},
		{Name: "LEAKGUARD_GITHUB_TOKEN", Type: "secret", Unset: "none (GitHub's anonymous rate limit)",
			Meaning: "GitHub token for the github and gists sources and for fetching GitHub's secret scanning keys",
			set:     func(c *config, v string) error { c.GitHubToken = v; return nil }},
		{Name: "LEAKGUARD_GITHUB_SCANNING_KEYS_URL", Type: "URL", Default: partner.DefaultKeysURL,
			Meaning: "GitHub's published secret scanning public keys, which sign the partner endpoint's requests",
			set:     urlSetter(func(c *config) *string { return &c.GitHubScanningKeysURL })},
		{Name: "LEAKGUARD_NPM_REPLICATE_URL", Type: "URL", Default: npm.DefaultReplicateURL,
			Meaning: "npm replication base; the changes feed is `<base>/registry/_changes`",
			set:     urlSetter(func(c *config) *string { return &c.NPMReplicateURL })},
		{Name: "LEAKGUARD_NPM_REGISTRY_URL", Type: "URL", Default: npm.DefaultRegistryURL,
			Meaning: "npm registry base (package documents and tarballs)",
			set:     urlSetter(func(c *config) *string { return &c.NPMRegistryURL })},
		{Name: "LEAKGUARD_DOCKERHUB_URL", Type: "URL", Default: dockerhub.DefaultHubURL,
			Meaning: "Docker Hub API base (repositories and tags)",
			set:     urlSetter(func(c *config) *string { return &c.DockerHubURL })},
		{Name: "LEAKGUARD_DOCKER_REGISTRY_URL", Type: "URL", Default: dockerhub.DefaultRegistryURL,
			Meaning: "Docker registry v2 base (manifests and layers)",
			set:     urlSetter(func(c *config) *string { return &c.DockerRegistryURL })},
		{Name: "LEAKGUARD_DOCKER_AUTH_URL", Type: "URL", Default: dockerhub.DefaultAuthURL,
			Meaning: "registry token endpoint, used when the registry's `WWW-Authenticate` challenge names none",
			set:     urlSetter(func(c *config) *string { return &c.DockerAuthURL })},
		{Name: "LEAKGUARD_DOCKERHUB_NAMESPACES", Type: "list", Unset: "none (the dockerhub source does not start)",
			Meaning: "Docker Hub namespaces to watch (Docker Hub has no feed of everything)",
			set:     func(c *config, v string) error { c.DockerHubNamespaces = splitList(v); return nil }},
		{Name: "LEAKGUARD_PASTEBIN_URL", Type: "URL", Default: pastebin.DefaultURL,
			Meaning: "Pastebin scraping API base",
			set:     urlSetter(func(c *config) *string { return &c.PastebinURL })},
	}
}

// testEnvVars are read by the tests and benchmarks only, never by
// leakguard itself; `serve` does not warn about them.
func testEnvVars() []envVar {
	return []envVar{
		{Name: "LEAKGUARD_TEST_DATABASE_URL", Type: "URL", Default: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
			Meaning: "the PostgreSQL server of the tests (each test works in a schema of its own)"},
		{Name: "LEAKGUARD_BIG_TESTS", Type: "`1`", Unset: "100 MB",
			Meaning: "`1` makes the npm and Docker Hub big-artifact tests stream 1 GB"},
		{Name: "LEAKGUARD_BENCH_DIR", Type: "path", Unset: "benchmark skipped",
			Meaning: "folder scanned by the scanner's `BenchmarkRealFolder`"},
		{Name: "LEAKGUARD_BENCH_FILE", Type: "path", Unset: "benchmark skipped",
			Meaning: "file scanned by the scanner's `BenchmarkRealFile`"},
		{Name: "LEAKGUARD_BENCH_REPO", Type: "path", Unset: "a temporary directory",
			Meaning: "where the git history benchmark builds (and keeps) its repository"},
		{Name: "LEAKGUARD_BENCH_LARGE_REPO", Type: "path", Unset: "a temporary directory",
			Meaning: "where `BenchmarkHistoryLarge` builds (and keeps) its large generated repository"},
		{Name: "LEAKGUARD_RSS_FILE", Type: "path", Unset: "test skipped",
			Meaning: "file scanned by the scanner's memory test `TestRSSOfFile`"},
		{Name: "LEAKGUARD_RULECOST_DIR", Type: "path", Unset: "test skipped",
			Meaning: "folder for `TestRuleCost`, which reports the cost of each rule"},
	}
}

// testChildPrefixes mark variables a test sets for a child process it
// starts itself.
func testChildPrefixes() []string { return []string{"LEAKGUARD_TEST_", "LEAKGUARD_API_TEST_"} }

// allSources are the sources leakguard knows, in the order they start.
func allSources() []string {
	return []string{leakguard.SourceGitHub, leakguard.SourceGists, leakguard.SourceNPM, leakguard.SourceDockerHub, leakguard.SourcePastebin}
}

// defaultSources are those that need no account.
func defaultSources() []string {
	return []string{leakguard.SourceGitHub, leakguard.SourceGists, leakguard.SourceNPM}
}

// loadConfig reads and checks every variable of envVars. It reports every
// bad value at once, each naming its variable.
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var errs []error
	for _, v := range envVars() {
		val := strings.TrimSpace(getenv(v.Name))
		if v.Name == "LEAKGUARD_HTTP_ADDR" {
			c.HTTPAddrSet = val != ""
		}
		if val == "" {
			val = v.Default
		}
		if val == "" {
			continue
		}
		if err := v.set(&c, val); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.Name, err))
		}
	}
	if (c.SMTP.Username == "") != (c.SMTP.Password == "") {
		errs = append(errs, errors.New("LEAKGUARD_SMTP_USERNAME and LEAKGUARD_SMTP_PASSWORD go together: set both or neither"))
	}
	if c.Resources == nil {
		c.Resources = keystore.BuiltinResources()
	}
	if c.ConsoleURL == "" && c.HTTPAddr != "" {
		c.ConsoleURL = "http://" + c.HTTPAddr
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, nil
}

// envWarnings are what `serve` warns about at start: LEAKGUARD_* variables
// it does not know (a typo must not silently fall back to a default), and
// settings that do nothing as given.
func envWarnings(c config, environ []string) []string {
	known := map[string]bool{}
	var names []string
	for _, v := range envVars() {
		known[v.Name] = true
		names = append(names, v.Name)
	}
	for _, v := range testEnvVars() {
		known[v.Name] = true
	}
	var out []string
	seen := map[string]bool{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "LEAKGUARD_") || known[name] || seen[name] || hasAnyPrefix(name, testChildPrefixes()) {
			continue
		}
		seen[name] = true
		w := "unknown environment variable " + name + " (ignored)"
		if s := closest(name, names); s != "" {
			w += "; did you mean " + s + "?"
		}
		out = append(out, w)
	}
	if c.SMTP.Addr == "" && (c.SMTP.Username != "" || c.SMTP.TLS != smtpTLSOpportunistic) {
		out = append(out, "SMTP settings given without LEAKGUARD_SMTP_ADDR: no email is sent, notices are logged")
	}
	return out
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// closest is the known name within edit distance 3 of name, if any.
func closest(name string, known []string) string {
	best, bestD := "", 4
	for _, k := range known {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is Levenshtein's, on bytes (names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func setHTTPAddr(c *config, v string) error {
	if _, err := hostPort(v, true); err != nil {
		return err
	}
	c.HTTPAddr = v
	return nil
}

func setSMTPAddr(c *config, v string) error {
	host, err := hostPort(v, false)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("%q names no host", v)
	}
	c.SMTP.Addr = v
	return nil
}

// hostPort checks v is host:port with a numeric port; port 0 (any free
// port) only for a listen address.
func hostPort(v string, listen bool) (string, error) {
	host, p, err := net.SplitHostPort(v)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port: %v", v, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 || n == 0 && !listen {
		return "", fmt.Errorf("%q: bad port %q", v, p)
	}
	return host, nil
}

func setMode(c *config, v string) error {
	m := keyformat.Mode(v)
	if !m.Valid() {
		return fmt.Errorf("must be live or test, not %q", v)
	}
	c.Mode = m
	return nil
}

func setResources(c *config, v string) error {
	res, err := keystore.ParseResources(v)
	if err != nil {
		return err
	}
	c.Resources = res
	return nil
}

func setRateLimit(c *config, v string) error {
	f, err := strconv.ParseFloat(v, 64)
	switch {
	case v == "off" || v == "none" || err == nil && f <= 0:
		c.API.RateLimit = -1 // api.Config: negative is unlimited
	case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
		return fmt.Errorf("%q: want requests per second per key (0 or off: no limit)", v)
	default:
		c.API.RateLimit = f
	}
	return nil
}

func setNATSReplicas(c *config, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 5 {
		return fmt.Errorf("%q: want a replica count from 1 to 5 (JetStream's limit)", v)
	}
	c.NATSReplicas = n
	return nil
}

func setRateBurst(c *config, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return fmt.Errorf("%q: want a positive integer", v)
	}
	c.API.RateBurst = n
	return nil
}

func setAuthFailures(c *config, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n == 0 {
		return fmt.Errorf("%q: want a non-zero integer (negative for no limit)", v)
	}
	c.API.AuthFailuresPerMinute = n
	return nil
}

func setTrustedProxies(c *config, v string) error {
	var out []netip.Prefix
	for _, s := range splitList(v) {
		// One at a time: the allow-list bound of a key does not apply here.
		ps, err := keystore.ParseAllowedIPs([]string{s})
		if err != nil {
			return err
		}
		out = append(out, ps...)
	}
	c.API.TrustedProxies = out
	return nil
}

func setConsoleURL(c *config, v string) error {
	if err := checkURL(v); err != nil {
		return err
	}
	c.ConsoleURL = strings.TrimRight(v, "/")
	return nil
}

func setSMTPTLS(c *config, v string) error {
	for _, m := range smtpTLSModes() {
		if v == string(m) {
			c.SMTP.TLS = m
			return nil
		}
	}
	return fmt.Errorf("%q: want starttls, implicit, opportunistic or none", v)
}

func setWebhookAllowPrivate(c *config, v string) error {
	switch v {
	case "1", "true":
		c.WebhookAllowPrivate = true
	case "0", "false":
		c.WebhookAllowPrivate = false
	default:
		return fmt.Errorf("%q: want 1 or 0", v)
	}
	return nil
}

func setSources(c *config, v string) error {
	srcs, err := parseSources(v)
	if err != nil {
		return err
	}
	c.Sources = srcs
	return nil
}

func setPollInterval(c *config, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive Go duration (like 30s)", v)
	}
	c.PollInterval = d
	return nil
}

// urlSetter checks an upstream base URL and stores it in the field.
func urlSetter(field func(*config) *string) func(*config, string) error {
	return func(c *config, v string) error {
		if err := checkURL(v); err != nil {
			return err
		}
		*field(c) = v
		return nil
	}
}

// checkURL wants an absolute http or https URL.
func checkURL(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", v, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want an absolute http:// or https:// URL", v)
	}
	return nil
}

// parseSources reads LEAKGUARD_SOURCES: known names in any case,
// duplicates dropped, or "none".
func parseSources(v string) ([]string, error) {
	v = strings.ToLower(v)
	if strings.TrimSpace(v) == "none" {
		return nil, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, s := range splitList(v) {
		known := false
		for _, k := range allSources() {
			known = known || s == k
		}
		if !known {
			return nil, fmt.Errorf("unknown source %q (known: %s, or none)", s, strings.Join(allSources(), ","))
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseRoles parses --roles.
func parseRoles(v string) (map[string]bool, error) {
	known := map[string]bool{"api": true, "sources": true, "revoker": true, "notifier": true}
	out := map[string]bool{}
	for _, r := range splitList(v) {
		if !known[r] {
			return nil, fmt.Errorf("--roles: unknown role %q (known: api,sources,revoker,notifier)", r)
		}
		out[r] = true
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--roles: name at least one of api,sources,revoker,notifier")
	}
	return out, nil
}
