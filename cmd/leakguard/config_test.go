package main

import (
	"strings"
	"testing"
	"time"
)

func envFrom(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadServeConfigDefaults(t *testing.T) {
	c, err := loadServeConfig(envFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "leakguard-data" || c.HTTPAddr != "127.0.0.1:8080" || c.Mode != "test" ||
		c.SMTPFrom != "leakguard@localhost" || c.DatabaseURL != "" || c.NATSURL != "" {
		t.Fatalf("defaults: %+v", c)
	}
	if strings.Join(c.Sources, ",") != "github,gists,npm" {
		t.Fatalf("default sources = %v", c.Sources)
	}
	if c.GitHubAPIURL != "https://api.github.com/" || c.PastebinURL != "https://scrape.pastebin.com/" {
		t.Fatalf("upstream defaults: %+v", c)
	}
}

func TestLoadServeConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad mode", map[string]string{"LEAKGUARD_MODE": "prod"}, "LEAKGUARD_MODE"},
		{"bad addr", map[string]string{"LEAKGUARD_HTTP_ADDR": "8080"}, "LEAKGUARD_HTTP_ADDR"},
		{"bad smtp", map[string]string{"LEAKGUARD_SMTP_ADDR": "mail"}, "LEAKGUARD_SMTP_ADDR"},
		{"bad interval", map[string]string{"LEAKGUARD_POLL_INTERVAL": "soon"}, "LEAKGUARD_POLL_INTERVAL"},
		{"negative interval", map[string]string{"LEAKGUARD_POLL_INTERVAL": "-1s"}, "LEAKGUARD_POLL_INTERVAL"},
		{"unknown source", map[string]string{"LEAKGUARD_SOURCES": "github,twitter"}, "twitter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadServeConfig(envFrom(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
		})
	}
}

func TestLoadServeConfigValues(t *testing.T) {
	c, err := loadServeConfig(envFrom(map[string]string{
		"LEAKGUARD_SOURCES":              " npm, dockerhub ,npm",
		"LEAKGUARD_POLL_INTERVAL":        "250ms",
		"LEAKGUARD_DOCKERHUB_NAMESPACES": "acme, other",
		"LEAKGUARD_MODE":                 "live",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Sources, ",") != "npm,dockerhub" || c.PollInterval != 250*time.Millisecond ||
		strings.Join(c.DockerHubNamespaces, ",") != "acme,other" || c.Mode != "live" {
		t.Fatalf("%+v", c)
	}
	c, err = loadServeConfig(envFrom(map[string]string{"LEAKGUARD_SOURCES": "none"}))
	if err != nil || len(c.Sources) != 0 {
		t.Fatalf("none: %v %v", c.Sources, err)
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
