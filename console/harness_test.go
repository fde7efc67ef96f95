package console_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard/console"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
	"github.com/leakguard/leakguard/keystore/postgres"
	"github.com/leakguard/leakguard/keystore/sqlite"
	"github.com/leakguard/leakguard/notifier"
	"github.com/leakguard/leakguard/notifier/notifiertest"
)

const serviceToken = "console-test-service-token-0123456789"

// clock is the service's clock, moved forward by tests.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

// env is a running console with the key API next to it, on a real SQLite
// store and a real SMTP relay, as `leakguard serve` wires them.
type env struct {
	t     testing.TB
	store fullStore
	svc   *keystore.Service
	con   *console.Console
	srv   *httptest.Server
	smtp  *notifiertest.SMTPServer
	clock *clock
	base  *url.URL
	path  string // the SQLite file, when the store is SQLite
}

// fullStore is a store as serve opens it: keys and console sessions.
type fullStore interface {
	keystore.Store
	keystore.SessionStore
}

type envOpts struct {
	postgres  bool
	resources []string
	cfg       func(*console.Config)
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var st fullStore
	var err error
	path := ""
	if o.postgres {
		st, err = postgres.Open(ctx, testenv.PostgresURL(t), nil)
	} else {
		path = filepath.Join(t.TempDir(), "leakguard.db")
		st, err = sqlite.Open(ctx, path, nil)
	}
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	e := &env{t: t, store: st, clock: &clock{}, path: path}
	res := keystore.BuiltinResources()
	res = append(res, o.resources...)
	e.svc, err = keystore.NewService(st, keystore.Config{Mode: keyformat.Test, Resources: res, Now: e.clock.now,
		Usage: keystore.UsageConfig{FlushInterval: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	e.smtp = notifiertest.NewSMTPServer(t)
	sender, err := notifier.NewSMTPSender(e.smtp.Addr(), "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := console.Config{BaseURL: e.srv.URL, Mailer: sender}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	e.con, err = console.New(cfg, e.svc, st)
	if err != nil {
		t.Fatalf("console.New: %v", err)
	}
	e.base, _ = url.Parse(e.srv.URL)
	mux := http.NewServeMux()
	mux.Handle("/v1/", api.New(api.Config{ServiceToken: serviceToken, RateLimit: -1, AuthFailuresPerMinute: -1}, e.svc, nil, nil))
	mux.Handle("/", e.con)
	h = mux
	done := make(chan struct{}, 2)
	go func() { _ = e.svc.Run(ctx); done <- struct{}{} }()
	go func() { _ = e.con.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		e.srv.Close()
		cancel()
		<-done
		<-done
		st.Close()
	})
	return e
}

// account creates an account and returns it with its first secret key.
func (e *env) account(email string) (keystore.Account, keystore.NewKey) {
	e.t.Helper()
	a, nk, err := e.svc.CreateAccount(context.Background(), email, keyformat.Test)
	if err != nil {
		e.t.Fatalf("CreateAccount: %v", err)
	}
	return a, nk
}

// link issues a sign-in link as `leakguard accounts login-link` does.
func (e *env) link(accountID, next string) string {
	e.t.Helper()
	u, err := console.IssueLink(context.Background(), e.store, e.base, accountID, next, e.clock.now(), console.DefaultLinkTTL)
	if err != nil {
		e.t.Fatalf("IssueLink: %v", err)
	}
	return u
}

// client is a browser-like HTTP client: cookies, no redirects followed
// unless asked.
type client struct {
	t    testing.TB
	e    *env
	http *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, e: e, http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

type answer struct {
	status int
	header http.Header
	body   string
	url    string
}

func (c *client) do(req *http.Request) answer {
	c.t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: string(b), url: res.Request.URL.String()}
}

func (c *client) get(path string) answer {
	c.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = c.e.srv.URL + path
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) answer {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", body)
	}
	return html.UnescapeString(m[1])
}

// signIn follows a sign-in link and confirms it, as an owner would.
func (c *client) signIn(link string) answer {
	c.t.Helper()
	a := c.get(link)
	if a.status != http.StatusOK {
		c.t.Fatalf("GET sign-in link: %d\n%s", a.status, a.body)
	}
	u, _ := url.Parse(link)
	q := u.Query()
	f := url.Values{"csrf": {csrfOf(c.t, a.body)}, "account": {q.Get("account")}, "token": {q.Get("token")}}
	if n := q.Get("next"); n != "" {
		f.Set("next", n)
	}
	return c.post("/signin/link", f)
}

// apiCall calls the key API with a key.
func (e *env) apiCall(key, method, path, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+/signin/link\?[^\s"<>]+`)

// mailedLink waits for the n-th mail and returns the sign-in link in it.
func (e *env) mailedLink(n int) (string, notifiertest.Mail) {
	e.t.Helper()
	mails := e.smtp.WaitMails(n, 5*time.Second)
	if len(mails) < n {
		e.t.Fatalf("got %d mails, want %d", len(mails), n)
	}
	m := mails[n-1]
	text := mailText(e.t, m.Raw)
	l := linkRE.FindString(text)
	if l == "" {
		e.t.Fatalf("no sign-in link in mail:\n%s", text)
	}
	return html.UnescapeString(l), m
}

// mailText decodes every text part of a raw message.
func mailText(t testing.TB, raw []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse mail: %v", err)
	}
	var out strings.Builder
	var walk func(h map[string][]string, body io.Reader)
	walk = func(h map[string][]string, body io.Reader) {
		ct, params, _ := mime.ParseMediaType(first(h["Content-Type"]))
		if strings.HasPrefix(ct, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err != nil {
					return
				}
				walk(p.Header, p)
			}
		}
		var r io.Reader = body
		switch strings.ToLower(first(h["Content-Transfer-Encoding"])) {
		case "quoted-printable":
			r = quotedprintable.NewReader(body)
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, body)
		}
		b, _ := io.ReadAll(r)
		out.Write(b)
		out.WriteString("\n")
	}
	walk(msg.Header, msg.Body)
	return out.String()
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
