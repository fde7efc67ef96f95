package console_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/console"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/api"
)

var keyRE = regexp.MustCompile(`\b(sk|rk|pk)_(live|test)_[0-9A-Za-z]{38}\b`)

func TestSignInByLink(t *testing.T) {
	e := newEnv(t, envOpts{})
	a, _ := e.account("owner@example.com")
	c := e.client()

	// Signed out, a page sends to sign-in and keeps where it was going.
	r := c.get("/keys?mode=test")
	if !strings.Contains(r.url, "/signin?next=") || !strings.Contains(r.body, "Email me a sign-in link") {
		t.Fatalf("signed out GET /keys ended at %s:\n%s", r.url, r.body)
	}

	link := e.link(a.ID, "/leaks?mode=test")
	// Opening the link signs no one in by itself (mail scanners follow links).
	if r := c.get(link); r.status != 200 || !strings.Contains(r.body, ">Sign in</button>") {
		t.Fatalf("link page: %d %s", r.status, r.body)
	}
	if r := c.get("/keys"); !strings.Contains(r.url, "/signin") {
		t.Fatalf("GET of the link page alone signed in")
	}
	r = c.signIn(link)
	if r.status != 200 || !strings.Contains(r.url, "/leaks?mode=test") || !strings.Contains(r.body, "<h1>Leaks</h1>") {
		t.Fatalf("after sign-in: %d at %s\n%s", r.status, r.url, r.body)
	}
	if !strings.Contains(r.body, "owner@example.com") {
		t.Errorf("signed-in page does not name the account")
	}

	// The same link again: refused with a clear page, no one signed in.
	c2 := e.client()
	r = c2.signIn(link)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Sign-in link not valid") {
		t.Errorf("reused link: %d\n%s", r.status, r.body)
	}
	if r := c2.get("/keys"); !strings.Contains(r.url, "/signin") {
		t.Errorf("reused link signed someone in")
	}

	// An expired link (15 minutes) likewise.
	old := e.link(a.ID, "")
	e.clock.advance(console.DefaultLinkTTL + time.Second)
	c3 := e.client()
	if r := c3.signIn(old); r.status != http.StatusBadRequest || !strings.Contains(r.body, "expired") {
		t.Errorf("expired link: %d\n%s", r.status, r.body)
	}
	if r := c3.get("/keys"); !strings.Contains(r.url, "/signin") {
		t.Errorf("expired link signed someone in")
	}
}

func TestLinkForAnotherAccount(t *testing.T) {
	e := newEnv(t, envOpts{})
	a, _ := e.account("a@example.com")
	b, _ := e.account("b@example.com")
	link := e.link(a.ID, "")
	u, _ := url.Parse(link)
	q := u.Query()
	q.Set("account", b.ID) // a's token presented for b
	u.RawQuery = q.Encode()
	c := e.client()
	if r := c.signIn(u.String()); r.status != http.StatusBadRequest || !strings.Contains(r.body, "not a link for this account") {
		t.Fatalf("token for another account: %d\n%s", r.status, r.body)
	}
	if r := c.get("/keys"); !strings.Contains(r.url, "/signin") {
		t.Fatalf("signed in with another account's token")
	}
	// The refused attempt did not spend a's link.
	if r := c.signIn(link); r.status != 200 || !strings.Contains(r.body, "a@example.com") {
		t.Fatalf("a's own link after the refused attempt: %d", r.status)
	}
	// Signing in to b in the same browser replaces a's session.
	old := cookieValue(c, e, "lg_session")
	if r := c.signIn(e.link(b.ID, "")); !strings.Contains(r.body, "b@example.com") {
		t.Fatalf("sign-in to b: %s", r.body)
	}
	other := e.client()
	setCookie(other, e, "lg_session", old)
	if r := other.get("/keys"); !strings.Contains(r.url, "/signin") {
		t.Errorf("a's session still works after signing in to b in that browser")
	}
}

func cookieValue(c *client, e *env, name string) string {
	for _, ck := range c.http.Jar.Cookies(e.base) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func setCookie(c *client, e *env, name, value string) {
	c.http.Jar.SetCookies(e.base, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

func TestEmailSignInSameAnswer(t *testing.T) {
	e := newEnv(t, envOpts{})
	a, _ := e.account("Owner@Example.com")
	ask := func(email string) answer {
		c := e.client()
		r := c.get("/signin?next=/leaks%3Fmode%3Dtest")
		return c.post("/signin", url.Values{"csrf": {csrfOf(t, r.body)}, "email": {email}, "next": {"/leaks?mode=test"}})
	}
	known := ask("owner@example.com")
	unknown := ask("nobody@example.com")
	norm := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "owner@example.com", "X"), "nobody@example.com", "X")
	}
	if known.status != 200 || norm(csrfRE.ReplaceAllString(known.body, "")) != norm(csrfRE.ReplaceAllString(unknown.body, "")) || known.status != unknown.status {
		t.Fatalf("known and unknown addresses answered differently:\n%d %s\n---\n%d %s", known.status, known.body, unknown.status, unknown.body)
	}
	link, m := e.mailedLink(1)
	if len(m.To) != 1 || !strings.EqualFold(m.To[0], "owner@example.com") {
		t.Errorf("mail went to %v", m.To)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(e.smtp.Mails()); n != 1 {
		t.Errorf("%d mails sent, want 1 (none for the unknown address)", n)
	}
	c := e.client()
	if r := c.signIn(link); !strings.Contains(r.url, "/leaks") || !strings.Contains(r.body, a.Email) {
		t.Fatalf("mailed link did not sign in to the Leaks page: %s\n%s", r.url, r.body)
	}
}

func TestEmailFormRateLimited(t *testing.T) {
	e := newEnv(t, envOpts{cfg: func(c *console.Config) { c.EmailsPerIP = 3; c.EmailsPerAddress = 2 }})
	e.account("o@example.com")
	c := e.client()
	csrf := csrfOf(t, c.get("/signin").body)
	var codes []int
	for range 4 {
		codes = append(codes, c.post("/signin", url.Values{"csrf": {csrf}, "email": {"o@example.com"}}).status)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 200 || codes[3] != http.StatusTooManyRequests {
		t.Errorf("statuses %v, want 200 200 200 429", codes)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(e.smtp.Mails()); n != 2 {
		t.Errorf("%d mails, want 2 (the per-address limit)", n)
	}
}

func signedIn(t *testing.T, e *env) (*client, keystore.Account, keystore.NewKey) {
	a, nk := e.account("owner@example.com")
	c := e.client()
	if r := c.signIn(e.link(a.ID, "")); r.status != 200 {
		t.Fatalf("sign in: %d %s", r.status, r.body)
	}
	return c, a, nk
}

func TestCSRFAndBadInput(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, _, nk := signedIn(t, e)
	page := c.get("/keys?mode=test")
	csrf := csrfOf(t, page.body)

	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"missing CSRF", url.Values{"action": {"create"}, "type": {"secret"}}, 403, "CSRF"},
		{"forged CSRF", url.Values{"csrf": {"AAAA" + csrf[4:]}, "action": {"create"}, "type": {"secret"}}, 403, "CSRF"},
		{"oversized form", url.Values{"csrf": {csrf}, "action": {"create"}, "name": {strings.Repeat("x", 70<<10)}}, 413, "Form too large"},
		{"bad IP", url.Values{"csrf": {csrf}, "action": {"create"}, "type": {"secret"}, "allowed_ips": {"not-an-ip"}}, 400, "is not an IP address"},
		{"restricted without permissions", url.Values{"csrf": {csrf}, "action": {"create"}, "type": {"restricted"}}, 400, "at least one resource"},
	} {
		r := c.post("/keys", tc.form)
		if r.status != tc.status || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s: %d, want %d with %q\n%s", tc.name, r.status, tc.status, tc.want, r.body)
		}
	}
	// Nothing was created by any of them.
	keys, _, _ := e.svc.ListKeys(context.Background(), nil, nk.Key.AccountID, keystore.Page{})
	if len(keys) != 1 {
		t.Errorf("%d keys after refused forms, want 1", len(keys))
	}
	// CSRF on revoke too; the key stays active.
	if r := c.post("/keys/"+nk.Key.ID+"/revoke", url.Values{"csrf": {"x"}}); r.status != 403 {
		t.Errorf("revoke with a bad CSRF token: %d", r.status)
	}
	if st, _ := e.apiCall(nk.Secret, "GET", "/v1/account", ""); st != 200 {
		t.Errorf("key stopped working after a refused revoke: %d", st)
	}
	// Another account's key id: not found, not revoked.
	_, onk := e.account("other@example.com")
	if r := c.post("/keys/"+onk.Key.ID+"/revoke", url.Values{"csrf": {csrf}}); r.status != 404 {
		t.Errorf("revoke of another account's key: %d", r.status)
	}
	if st, _ := e.apiCall(onk.Secret, "GET", "/v1/account", ""); st != 200 {
		t.Errorf("other account's key revoked through this console: %d", st)
	}
	// Another method: a clear 405 page.
	req, _ := http.NewRequest(http.MethodDelete, e.srv.URL+"/keys", nil)
	if r := c.do(req); r.status != 405 || !strings.Contains(r.body, "<h1>Not allowed</h1>") || r.header.Get("Allow") != "GET, POST" {
		t.Errorf("DELETE /keys: %d %q\n%s", r.status, r.header.Get("Allow"), r.body)
	}
	// Garbage ids and pages: clear pages, never a 500.
	for _, p := range []string{"/keys/%3Cscript%3E/rotate", "/keys/" + strings.Repeat("k", 300) + "/revoke", "/keys?after=%00", "/logs?ip=zzz&status=abc&since=yesterday", "/nope"} {
		if r := c.get(p); r.status >= 500 || r.status == 200 && strings.Contains(p, "rotate") {
			t.Errorf("GET %s: %d", p, r.status)
		}
	}
}

func TestTamperedCookies(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, _, _ := signedIn(t, e)
	good := cookieValue(c, e, "lg_session")
	// The last character changed to another value (one in 16 tokens already
	// ends in "A", which made this case the good cookie again).
	last := "A"
	if strings.HasSuffix(good, "A") {
		last = "E"
	}
	for _, v := range []string{"", "garbage", good[:len(good)-1] + last, strings.Repeat("A", len(good)), good + "x", "%00%ff"} {
		o := e.client()
		setCookie(o, e, "lg_session", v)
		r := o.get("/keys")
		if r.status != 200 || !strings.Contains(r.url, "/signin") {
			t.Errorf("cookie %q: %d at %s", v, r.status, r.url)
		}
		if r := o.post("/signout", url.Values{"csrf": {"x"}}); r.status != 403 || !strings.Contains(r.body, "Sign in again") {
			t.Errorf("POST with cookie %q: %d", v, r.status)
		}
	}
}

// A pre-session CSRF cookie that is not a token of ours (too short, empty)
// is refused even when the form repeats it. (Over HTTPS the cookie is
// __Host-, which a sibling subdomain cannot set at all.)
func TestTamperedCSRFCookie(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.account("o@example.com")
	for _, v := range []string{"x", "", strings.Repeat("A", 42)} {
		c := e.client()
		setCookie(c, e, "lg_csrf", v)
		if r := c.post("/signin", url.Values{"csrf": {v}, "email": {"o@example.com"}}); r.status != 403 {
			t.Errorf("csrf cookie %q: %d", v, r.status)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(e.smtp.Mails()); n != 0 {
		t.Errorf("%d mails sent for refused forms", n)
	}
}

func TestCookieFlagsAndHeaders(t *testing.T) {
	e := newEnv(t, envOpts{})
	a, _ := e.account("o@example.com")
	link := e.link(a.ID, "")
	c := e.client()
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r := c.get(link)
	u, _ := url.Parse(link)
	r = c.post("/signin/link", url.Values{"csrf": {csrfOf(t, r.body)}, "account": {a.ID}, "token": {u.Query().Get("token")}})
	var sc string
	for _, v := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "lg_session=") {
			sc = v
		}
	}
	if sc == "" || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") || strings.Contains(sc, "Secure") {
		t.Errorf("session cookie on loopback HTTP: %q, want HttpOnly, SameSite=Lax, not Secure", sc)
	}
	r = c.get("/keys")
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	if strings.Contains(r.body, "<script>") || strings.Contains(r.body, " onclick=") {
		t.Errorf("inline script in page")
	}
	for _, base := range []struct {
		url    string
		secure bool
	}{{"http://127.0.0.1:8080", false}, {"http://localhost:8080", false}, {"http://[::1]:8080", false},
		{"https://console.example.com", true}, {"http://console.example.com", true}, {"http://10.0.0.5:8080", true}} {
		u, err := console.ParseBaseURL(base.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := console.SecureCookies(u); got != base.secure {
			t.Errorf("SecureCookies(%s) = %v, want %v", base.url, got, base.secure)
		}
	}
}

func TestSecureCookieBehindHTTPS(t *testing.T) {
	e := newEnv(t, envOpts{cfg: func(c *console.Config) { c.BaseURL = "https://console.example.com" }})
	a, _ := e.account("o@example.com")
	link := e.link(a.ID, "")
	// The link points at the public URL; follow it on the test server.
	u, _ := url.Parse(link)
	c := e.client()
	r := c.get(e.srv.URL + u.RequestURI())
	var sc string
	for _, v := range r.header.Values("Set-Cookie") {
		sc += v + "\n"
	}
	if !strings.Contains(sc, "__Host-lg_csrf=") || !strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Errorf("pre-session cookie over HTTPS: %q", sc)
	}
	if r.header.Get("Strict-Transport-Security") == "" {
		t.Errorf("no HSTS behind an https console URL")
	}
}

func TestSignOutEndsSessionOnServer(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, _, _ := signedIn(t, e)
	tok := cookieValue(c, e, "lg_session")
	r := c.get("/keys")
	r = c.post("/signout", url.Values{"csrf": {csrfOf(t, r.body)}})
	if !strings.Contains(r.url, "/signin?signed_out=1") || !strings.Contains(r.body, "You are signed out") {
		t.Fatalf("sign out: %s\n%s", r.url, r.body)
	}
	replay := e.client()
	setCookie(replay, e, "lg_session", tok)
	if r := replay.get("/keys"); !strings.Contains(r.url, "/signin") {
		t.Errorf("the session's cookie still works after sign-out")
	}
}

func TestSessionIdleAndExpiry(t *testing.T) {
	e := newEnv(t, envOpts{cfg: func(c *console.Config) { c.IdleTimeout = 10 * time.Minute; c.SessionTTL = time.Hour }})
	c, _, _ := signedIn(t, e)
	for range 5 { // busy: 5 × 9 minutes, past the idle timeout in total
		e.clock.advance(9 * time.Minute)
		if r := c.get("/keys"); !strings.Contains(r.url, "/keys") {
			t.Fatalf("session ended while in use")
		}
	}
	e.clock.advance(11 * time.Minute)
	if r := c.get("/keys"); !strings.Contains(r.url, "/signin") {
		t.Errorf("session survived the idle timeout")
	}
	c2, _, _ := signedIn(t, e)
	for range 7 {
		e.clock.advance(9 * time.Minute)
		c2.get("/keys")
	}
	if r := c2.get("/keys"); !strings.Contains(r.url, "/signin") {
		t.Errorf("session survived its 1-hour expiry")
	}
}

func TestKeyNameIsEscaped(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, _, _ := signedIn(t, e)
	csrf := csrfOf(t, c.get("/keys/new").body)
	name := `<img src=x onerror=alert(1)><script>alert(2)</script>`
	r := c.post("/keys", url.Values{"csrf": {csrf}, "action": {"create"}, "type": {"secret"}, "name": {name}, "mode": {"test"}})
	if r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	list := c.get("/keys")
	if strings.Contains(list.body, "<img src=x") || strings.Contains(list.body, "<script>alert") {
		t.Fatalf("key name not escaped:\n%s", list.body)
	}
	if !strings.Contains(list.body, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("escaped name not shown")
	}
}

// The one answer holding a plaintext key is the creation (or rotation)
// answer; every other page holds none, and that answer is never cached.
func TestSecretOnlyOnCreationAnswer(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, a, first := signedIn(t, e)
	csrf := csrfOf(t, c.get("/keys").body)
	r := c.post("/keys", url.Values{"csrf": {csrf}, "action": {"create"}, "type": {"restricted"}, "perm_api_logs": {"read"}, "name": {"Logs reader"}})
	secrets := keyRE.FindAllString(r.body, -1)
	if r.status != 200 || len(secrets) != 1 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("creation answer: %d, secrets %v, Cache-Control %q", r.status, secrets, r.header.Get("Cache-Control"))
	}
	if st, _ := e.apiCall(secrets[0], "GET", "/v1/api-logs", ""); st != 200 {
		t.Errorf("new key does not work: %d", st)
	}
	for _, p := range []string{"/keys", "/keys?mode=live", "/keys/new", "/logs", "/leaks", "/keys/" + first.Key.ID + "/rotate", "/keys/" + first.Key.ID + "/revoke"} {
		if got := keyRE.FindAllString(c.get(p).body, -1); len(got) > 0 {
			t.Errorf("%s holds a plaintext key: %v", p, got)
		}
	}
	_ = a
}

// The preview says exactly what the API answers: for every resource ×
// permission (and each key type), each call the preview lists as allowed
// is not refused by the real key API, and each it lists as refused gets
// 403.
func TestPreviewMatchesAPI(t *testing.T) {
	e := newEnv(t, envOpts{resources: []string{"orders"}})
	c, a, _ := signedIn(t, e)
	csrf := csrfOf(t, c.get("/keys").body)
	type variant struct {
		name string
		form url.Values
	}
	var vs []variant
	for _, res := range e.svc.Resources() {
		for _, lvl := range []string{"none", "read", "write"} {
			f := url.Values{"type": {"restricted"}, "perm_" + res: {lvl}}
			if lvl == "none" {
				// A restricted key needs one scope: give it another resource.
				other := keystore.ResourceAccount
				if res == other {
					other = keystore.ResourceLeaks
				}
				f.Set("perm_"+other, "read")
			}
			vs = append(vs, variant{res + ":" + lvl, f})
		}
	}
	vs = append(vs, variant{"secret", url.Values{"type": {"secret"}}}, variant{"publishable", url.Values{"type": {"publishable"}}})
	callRE := regexp.MustCompile(`<li class="call call-(ok|no)"><code class="method">([A-Z]+)</code> <code class="path">([^<]+)</code>`)
	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) {
			f := v.form
			f.Set("csrf", csrf)
			pv := c.post("/keys/preview", f)
			calls := callRE.FindAllStringSubmatch(pv.body, -1)
			if pv.status != 200 || len(calls) != len(api.Endpoints())+2 {
				t.Fatalf("preview: %d, %d calls\n%s", pv.status, len(calls), pv.body)
			}
			kr := keystore.KeyRequest{Type: keyformat.KeyType(f.Get("type")), Mode: keyformat.Test}
			for _, res := range e.svc.Resources() {
				if l := f.Get("perm_" + res); l == "read" || l == "write" {
					kr.Scopes = append(kr.Scopes, res+":"+l)
				}
			}
			nk, err := e.svc.CreateKey(context.Background(), nil, a.ID, kr)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range calls {
				allowed, method, path := m[1] == "ok", m[2], m[3]
				var status int
				var body string
				if method == "VERIFY" {
					status, body = verify(t, e, nk.Secret, path)
				} else {
					p := strings.ReplaceAll(path, "{id}", "key_doesnotexist")
					reqBody := ""
					if method == "POST" {
						reqBody = `{"type": "no-such-type"}` // reaches validation only if the scope passed
					}
					status, body = e.apiCall(nk.Secret, method, p, reqBody)
				}
				if refused := status == 403; refused == allowed || status == 401 || status >= 500 {
					t.Errorf("%s %s: preview says allowed=%v, the API answered %d %s", method, path, allowed, status, body)
				}
			}
		})
	}
}

func verify(t *testing.T, e *env, key, scope string) (int, string) {
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/keys/verify", strings.NewReader(`{"key":"`+key+`","scope":"`+scope+`"}`))
	req.Header.Set("Authorization", "Bearer "+serviceToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v struct {
		Valid bool   `json:"valid"`
		Code  string `json:"code"`
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if !v.Valid && v.Code == "permission_denied" {
		return 403, v.Code
	}
	if v.Valid {
		return 200, v.Code
	}
	return 401, v.Code
}

// The store holds only hashes of sign-in links and sessions: neither token
// appears in any row of any table, while the session's SHA-256 does.
func TestOnlyTokenHashesStored(t *testing.T) {
	e := newEnv(t, envOpts{})
	a, _ := e.account("o@example.com")
	link := e.link(a.ID, "")
	u, _ := url.Parse(link)
	linkTok := u.Query().Get("token")
	c := e.client()
	c.signIn(link)
	sess := cookieValue(c, e, "lg_session")
	if sess == "" {
		t.Fatal("no session cookie")
	}
	db, err := sql.Open("sqlite", "file:"+e.path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var all strings.Builder
	for _, tbl := range tables {
		rs, err := db.Query(`SELECT * FROM "` + tbl + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rs.Columns()
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			_ = rs.Scan(ptrs...)
			fmt.Fprintln(&all, tbl, vals)
		}
		rs.Close()
	}
	dump := all.String()
	sum := sha256.Sum256([]byte(sess))
	if !strings.Contains(dump, "console_sessions") || !strings.Contains(dump, hex.EncodeToString(sum[:])) {
		t.Fatalf("the dump does not see the session's hash; it proves nothing:\n%s", dump)
	}
	for name, tok := range map[string]string{"sign-in link token": linkTok, "session token": sess} {
		if strings.Contains(dump, tok) {
			t.Errorf("the %s is stored in plaintext", name)
		}
	}
}

// A publishable key made in the console with allowed referrers is refused
// by the key API from any other origin, and a secret key cannot take them.
func TestPublishableKeyWithReferrers(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, _, _ := signedIn(t, e)
	csrf := csrfOf(t, c.get("/keys/new").body)
	r := c.post("/keys", url.Values{"csrf": {csrf}, "action": {"create"}, "type": {"secret"}, "name": {"server"},
		"mode": {"test"}, "allowed_referrers": {"https://shop.example.com"}})
	if r.status != 400 || !strings.Contains(r.body, "publishable keys only") {
		t.Errorf("secret key with referrers: %d", r.status)
	}
	r = c.post("/keys", url.Values{"csrf": {csrf}, "action": {"create"}, "type": {"publishable"}, "name": {"shop"},
		"mode": {"test"}, "allowed_referrers": {"https://shop.example.com, https://*.cdn.example.com"}})
	secrets := keyRE.FindAllString(r.body, -1)
	if r.status != 200 || len(secrets) != 1 {
		t.Fatalf("create publishable key: %d, secrets %v\n%s", r.status, secrets, r.body)
	}
	for _, tc := range []struct {
		origin string
		want   int
	}{{"https://shop.example.com", 200}, {"https://img.cdn.example.com", 200}, {"https://evil.example.net", 403}} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/account", nil)
		req.Header.Set("Authorization", "Bearer "+secrets[0])
		req.Header.Set("Origin", tc.origin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("Origin %s: %d, want %d", tc.origin, res.StatusCode, tc.want)
		}
	}
}
