package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// serve mounts the owner console at / next to the key API, and a link from
// `accounts login-link` signs the owner in to it.
func TestServeMountsConsole(t *testing.T) {
	vars := map[string]string{
		"LEAKGUARD_DATA_DIR":  t.TempDir(),
		"LEAKGUARD_HTTP_ADDR": "127.0.0.1:0",
		"LEAKGUARD_SOURCES":   "none",
	}
	acct := createAccount(t, envFrom(vars), "console@example.com")
	info, _ := startServe(t, envFrom(vars))
	base := "http://" + info.Addr
	vars["LEAKGUARD_CONSOLE_URL"] = base

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(u string) (int, string, string) {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Request.URL.Path, string(b)
	}
	if code, path, body := get(base + "/"); code != 200 || path != "/signin" || !strings.Contains(body, "Email me a sign-in link") {
		t.Fatalf("GET /: %d at %s", code, path)
	}
	r := adminCLI(t, vars, "accounts", "login-link", "--account", acct.AccountID, "--json")
	var out struct{ URL string }
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || !strings.HasPrefix(out.URL, base+"/signin/link?") {
		t.Fatalf("login-link: %q %s", r.stdout, r.stderr)
	}
	_, _, page := get(out.URL)
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	u, _ := url.Parse(out.URL)
	if csrf == nil {
		t.Fatalf("link page:\n%s", page)
	}
	resp, err := c.PostForm(base+"/signin/link", url.Values{"csrf": {csrf[1]}, "account": {acct.AccountID}, "token": {u.Query().Get("token")}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<h1>API keys</h1>") || !strings.Contains(string(body), acct.KeyID) {
		t.Fatalf("after sign-in: %d\n%s", resp.StatusCode, body)
	}
	// The key API is still where it was.
	if code, _ := getAccount(t, info.Addr, acct.Secret); code != 200 {
		t.Errorf("GET /v1/account: %d", code)
	}
}
