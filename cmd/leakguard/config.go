package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/console"
	"github.com/leakguard/leakguard/keyformat"
)

// serveConfig is everything `serve` reads from the environment (CONTRACT §3).
type serveConfig struct {
	DataDir      string
	DatabaseURL  string
	NATSURL      string
	HTTPAddr     string
	Mode         keyformat.Mode
	SMTPAddr     string
	SMTPFrom     string
	Sources      []string
	PollInterval time.Duration // 0: each source's own default

	GitHubAPIURL          string
	GitHubToken           string
	GitHubScanningKeysURL string
	NPMReplicateURL       string
	NPMRegistryURL        string
	DockerHubURL          string
	DockerRegistryURL     string
	DockerAuthURL         string
	DockerHubNamespaces   []string
	PastebinURL           string
	ServiceToken          string
	// ConsoleURL is the owner console's public base URL, used in links.
	ConsoleURL string
}

// allSources are the sources leakguard knows, in the order they start.
func allSources() []string {
	return []string{leakguard.SourceGitHub, leakguard.SourceGists, leakguard.SourceNPM, leakguard.SourceDockerHub, leakguard.SourcePastebin}
}

func loadServeConfig(getenv func(string) string) (serveConfig, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := serveConfig{
		DataDir:               get("LEAKGUARD_DATA_DIR", "./leakguard-data"),
		DatabaseURL:           get("LEAKGUARD_DATABASE_URL", ""),
		NATSURL:               get("LEAKGUARD_NATS_URL", ""),
		HTTPAddr:              get("LEAKGUARD_HTTP_ADDR", "127.0.0.1:8080"),
		Mode:                  keyformat.Mode(get("LEAKGUARD_MODE", string(keyformat.Test))),
		SMTPAddr:              get("LEAKGUARD_SMTP_ADDR", ""),
		SMTPFrom:              get("LEAKGUARD_SMTP_FROM", "leakguard@localhost"),
		GitHubAPIURL:          get("LEAKGUARD_GITHUB_API_URL", "https://api.github.com/"),
		GitHubToken:           get("LEAKGUARD_GITHUB_TOKEN", ""),
		GitHubScanningKeysURL: get("LEAKGUARD_GITHUB_SCANNING_KEYS_URL", "https://api.github.com/meta/public_keys/secret_scanning"),
		NPMReplicateURL:       get("LEAKGUARD_NPM_REPLICATE_URL", "https://replicate.npmjs.com/"),
		NPMRegistryURL:        get("LEAKGUARD_NPM_REGISTRY_URL", "https://registry.npmjs.org/"),
		DockerHubURL:          get("LEAKGUARD_DOCKERHUB_URL", "https://hub.docker.com/"),
		DockerRegistryURL:     get("LEAKGUARD_DOCKER_REGISTRY_URL", "https://registry-1.docker.io/"),
		DockerAuthURL:         get("LEAKGUARD_DOCKER_AUTH_URL", "https://auth.docker.io/token"),
		PastebinURL:           get("LEAKGUARD_PASTEBIN_URL", "https://scrape.pastebin.com/"),
		ServiceToken:          get("LEAKGUARD_SERVICE_TOKEN", ""),
	}
	if !c.Mode.Valid() {
		return c, fmt.Errorf("LEAKGUARD_MODE must be live or test, not %q", c.Mode)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return c, fmt.Errorf("LEAKGUARD_HTTP_ADDR %q is not host:port: %v", c.HTTPAddr, err)
	}
	c.ConsoleURL = consoleURL(getenv)
	if _, err := console.ParseBaseURL(c.ConsoleURL); err != nil {
		return c, fmt.Errorf("LEAKGUARD_CONSOLE_URL: %v", err)
	}
	if c.SMTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.SMTPAddr); err != nil {
			return c, fmt.Errorf("LEAKGUARD_SMTP_ADDR %q is not host:port: %v", c.SMTPAddr, err)
		}
	}
	if v := get("LEAKGUARD_POLL_INTERVAL", ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("LEAKGUARD_POLL_INTERVAL %q is not a positive Go duration (like 30s)", v)
		}
		c.PollInterval = d
	}
	srcs, err := parseSources(get("LEAKGUARD_SOURCES", "github,gists,npm"))
	if err != nil {
		return c, err
	}
	c.Sources = srcs
	c.DockerHubNamespaces = splitList(get("LEAKGUARD_DOCKERHUB_NAMESPACES", ""))
	c.DataDir = filepath.Clean(c.DataDir)
	return c, nil
}

// consoleURL is LEAKGUARD_CONSOLE_URL, by default http:// +
// LEAKGUARD_HTTP_ADDR (docs/console.md).
func consoleURL(getenv func(string) string) string {
	if v := strings.TrimSpace(getenv("LEAKGUARD_CONSOLE_URL")); v != "" {
		return strings.TrimRight(v, "/")
	}
	addr := strings.TrimSpace(getenv("LEAKGUARD_HTTP_ADDR"))
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	return "http://" + addr
}

func parseSources(v string) ([]string, error) {
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
			return nil, fmt.Errorf("LEAKGUARD_SOURCES: unknown source %q (known: %s, or none)", s, strings.Join(allSources(), ","))
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

// roles parses --roles.
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
