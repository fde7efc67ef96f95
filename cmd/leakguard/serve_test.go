package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/bus"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/notifier/notifiertest"
)

// syncBuffer is a log sink safe for the daemon's goroutines.
type syncBuffer = testenv.LogBuffer

type created struct {
	AccountID string `json:"account_id"`
	KeyID     string `json:"key_id"`
	Secret    string `json:"secret"`
}

func cliEnv(getenv func(string) string) (*env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: getenv,
		isTerminal: func(io.Writer) bool { return false }}, &out, &errb
}

func createAccount(t *testing.T, getenv func(string) string, email string) created {
	t.Helper()
	e, out, errb := cliEnv(getenv)
	if code := run(context.Background(), e, []string{"accounts", "create", "--email", email, "--json"}); code != 0 {
		t.Fatalf("accounts create: exit %d: %s", code, errb)
	}
	var c created
	if err := json.Unmarshal(out.Bytes(), &c); err != nil || c.Secret == "" || c.AccountID == "" {
		t.Fatalf("accounts create --json printed %q: %v", out, err)
	}
	return c
}

// startServe runs the daemon with every role until the test ends.
func startServe(t *testing.T, getenv func(string) string) (serveInfo, *syncBuffer) {
	t.Helper()
	cfg, err := loadConfig(getenv)
	if err != nil {
		t.Fatal(err)
	}
	roles, _ := parseRoles("api,sources,revoker,notifier")
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	infoc := make(chan serveInfo, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, roles, logger, func(i serveInfo) { infoc <- i }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("serve did not stop within 20s of cancellation")
		}
	})
	select {
	case info := <-infoc:
		return info, logs
	case err := <-done:
		t.Fatalf("serve stopped at start: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start\n%s", logs)
	}
	return serveInfo{}, nil
}

func getAccount(t *testing.T, addr, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/account", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /v1/account: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func hitFor(secret string, n int) leakguard.Hit {
	return leakguard.Hit{
		SecretSHA256: keyformat.Fingerprint([]byte(secret)),
		Redacted:     keyformat.RedactKey([]byte(secret)),
		Rule:         keyformat.RuleSecretKey,
		Source:       leakguard.SourceGitHub,
		Location: leakguard.Location{
			URL:        "https://github.com/acme/shop/blob/0123456789abcdef0123456789abcdef01234567/config/prod.env#L" + string(rune('0'+n)),
			Repository: "acme/shop", Commit: "0123456789abcdef0123456789abcdef01234567",
			Path: "config/prod.env", Line: n,
		},
		FoundAt: time.Now().UTC(),
	}
}

// waitRevoked polls the API until the key answers 401 for exposure.
func waitRevoked(t *testing.T, addr, key string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := getAccount(t, addr, key)
		if code == http.StatusUnauthorized {
			if !strings.Contains(body, "invalid_api_key") || !strings.Contains(strings.ToLower(body), "exposed") {
				t.Fatalf("revoked key answered %s, want invalid_api_key saying it was exposed", body)
			}
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("key still answers %d %s 15s after its hit was published", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeRevokesPublishedHitAndEmailsOwnerOnce(t *testing.T) {
	nats := testenv.NATSServer(t)
	mail := notifiertest.NewSMTPServer(t)
	vars := map[string]string{
		"LEAKGUARD_DATA_DIR":  t.TempDir(),
		"LEAKGUARD_NATS_URL":  nats.ClientURL(),
		"LEAKGUARD_HTTP_ADDR": "127.0.0.1:0",
		"LEAKGUARD_SMTP_ADDR": mail.Addr(),
		"LEAKGUARD_SOURCES":   "none",
	}
	getenv := envFrom(vars)
	acct := createAccount(t, getenv, "owner@example.com")
	info, logs := startServe(t, getenv)

	if code, body := getAccount(t, info.Addr, acct.Secret); code != 200 || !strings.Contains(body, acct.AccountID) {
		t.Fatalf("fresh key: GET /v1/account = %d %s", code, body)
	}

	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Config{URL: nats.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// The same sighting three times and a second sighting elsewhere: one
	// revocation, one email.
	for _, h := range []leakguard.Hit{hitFor(acct.Secret, 3), hitFor(acct.Secret, 3), hitFor(acct.Secret, 3), hitFor(acct.Secret, 7)} {
		if err := b.Publisher().PublishHit(ctx, h); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	waitRevoked(t, info.Addr, acct.Secret)

	mails := mail.WaitMails(1, 15*time.Second)
	if len(mails) != 1 {
		t.Fatalf("got %d emails, want 1", len(mails))
	}
	time.Sleep(1500 * time.Millisecond) // give a duplicate the time to show up
	if n := len(mail.Mails()); n != 1 {
		t.Fatalf("owner got %d emails for one leaked key, want exactly 1", n)
	}
	raw := string(mails[0].Raw)
	if len(mails[0].To) != 1 || mails[0].To[0] != "owner@example.com" {
		t.Errorf("email went to %v, want the owner", mails[0].To)
	}
	msg, err := notifiertest.Parse(mails[0].Raw)
	if err != nil {
		t.Fatalf("parse email: %v", err)
	}
	redacted := keyformat.RedactKey([]byte(acct.Secret))
	if subj := msg.Header.Get("Subject"); !strings.Contains(subj, redacted[len(redacted)-4:]) || !strings.Contains(strings.ToLower(subj), "revoked") {
		t.Errorf("subject %q should name the key and say it was revoked", subj)
	}
	text := msg.Parts["text/plain"]
	for _, want := range []string{"acme/shop", "config/prod.env", "0123456789abcdef0123456789abcdef01234567", "github.com/acme/shop/blob/"} {
		if !strings.Contains(text, want) {
			t.Errorf("email text lacks %q", want)
		}
	}
	if testenv.Contains(acct.Secret, raw, text, msg.Parts["text/html"], logs.String()) {
		t.Fatal("the plaintext key reached the email or the logs")
	}
}

func TestServeWithNothingSetUsesEmbeddedStoreAndNATS(t *testing.T) {
	vars := map[string]string{
		"LEAKGUARD_DATA_DIR":  t.TempDir(),
		"LEAKGUARD_HTTP_ADDR": "127.0.0.1:0",
		"LEAKGUARD_SOURCES":   "none",
	}
	getenv := envFrom(vars)
	acct := createAccount(t, getenv, "solo@example.com")
	started := time.Now()
	info, logs := startServe(t, getenv)
	t.Logf("serve started in %v (embedded NATS at %s, SQLite in the data dir)", time.Since(started), info.NATSURL)
	if !strings.Contains(logs.String(), "store=sqlite") || !strings.Contains(logs.String(), "nats=embedded") {
		t.Fatalf("start log does not say embedded store and NATS:\n%s", logs)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + info.Addr + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}

	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Config{URL: info.NATSURL})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Publisher().PublishHit(ctx, hitFor(acct.Secret, 2)); err != nil {
		t.Fatal(err)
	}
	waitRevoked(t, info.Addr, acct.Secret)
	// Without SMTP the notice is logged (redacted), once.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "solo@example.com") {
		if time.Now().After(deadline) {
			t.Fatalf("no logged notice for the owner:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if testenv.Contains(acct.Secret, logs.String()) {
		t.Fatal("the plaintext key reached the logs")
	}
	resp, err := http.Get("http://" + info.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsText, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metricsText), "leakguard_revocations_total") {
		t.Fatal("/metrics lacks leakguard_revocations_total")
	}
}

func TestServeRejectsBadFlagsAndConfig(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--roles", "api,cron"}, nil, "cron"},
		{[]string{"--bogus"}, nil, "bogus"},
		{nil, map[string]string{"LEAKGUARD_MODE": "staging"}, "LEAKGUARD_MODE"},
		{nil, map[string]string{"LEAKGUARD_SOURCES": "myspace"}, "myspace"},
	}
	for _, tc := range cases {
		e, _, errb := cliEnv(envFrom(tc.env))
		code := run(context.Background(), e, append([]string{"serve"}, tc.args...))
		msg := errb.String()
		if code != exitError || !strings.Contains(msg, tc.want) || strings.Count(msg, "\n") != 1 {
			t.Errorf("serve %v (env %v): exit %d, stderr %q; want exit 2 and one line naming %q", tc.args, tc.env, code, msg, tc.want)
		}
	}
}
