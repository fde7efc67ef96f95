package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestAccountsLoginLink(t *testing.T) {
	adminStores(t, func(t *testing.T, vars map[string]string) {
		acct := oneObject(t, adminCLI(t, vars, "accounts", "create", "--email", "owner@example.com", "--json"))

		r := adminCLI(t, vars, "accounts", "login-link", "--account", acct.AccountID, "--json")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 {
			t.Fatalf("stdout %q: want exactly {\"url\": ...}", r.stdout)
		}
		u, err := url.Parse(out["url"].(string))
		if err != nil || u.Scheme+"://"+u.Host != "http://127.0.0.1:8080" || u.Path != "/signin/link" ||
			u.Query().Get("account") != acct.AccountID || len(u.Query().Get("token")) != 43 {
			t.Errorf("url %q: want http://127.0.0.1:8080/signin/link?account=%s&token=(43 characters)", out["url"], acct.AccountID)
		}

		// LEAKGUARD_CONSOLE_URL names where owners reach the console.
		vars2 := map[string]string{"LEAKGUARD_CONSOLE_URL": "https://console.example.com/"}
		for k, v := range vars {
			vars2[k] = v
		}
		r = adminCLI(t, vars2, "accounts", "login-link", "--account", acct.AccountID)
		if r.code != 0 || !strings.Contains(r.stdout, "https://console.example.com/signin/link?account="+acct.AccountID) || !strings.Contains(r.stdout, "15 minutes") {
			t.Errorf("text output %q (exit %d, %s)", r.stdout, r.code, r.stderr)
		}

		for _, args := range [][]string{
			{"accounts", "login-link", "--account", "acct_doesnotexist"},
			{"accounts", "login-link"},
		} {
			r := adminCLI(t, vars, args...)
			if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, "login-link") {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want a one-line error", args, r.code, r.stdout, r.stderr)
			}
		}
	})
}
