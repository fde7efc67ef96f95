package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/console"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/notifier"
)

// chromiumPath finds the browser. Outside CI a machine without one skips
// the browser tests; in CI (CI=true) a missing browser fails them.
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found (want the Debian package chromium); CI must run the browser tests")
	}
	t.Skip("no Chromium on this machine (apt-get install -y chromium); browser tests skipped")
	return ""
}

// browser starts one headless Chromium for a whole test; tabs opened with
// tab() each get a browser context of their own (own cookies), as a
// separate person's browser would.
func browser(t *testing.T) context.Context {
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return bctx
}

func tab(t *testing.T, b context.Context) context.Context {
	ctx, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancel2 := context.WithTimeout(ctx, 30*time.Second)
	t.Cleanup(cancel2)
	return ctx
}

func run(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		u, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
		t.Fatalf("browser: %v\nat %s\n%s", err, u, body)
	}
}

// get runs one action that returns a value.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		u, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("browser: %v\nat %s", err, u)
	}
	return v
}

func onPage(name string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(`body[data-page="` + name + `"]`))
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

func clickButton(label string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(`//button[normalize-space(.)="` + label + `"]`)
}

func clickLink(label string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(`//a[normalize-space(.)="` + label + `"]`)
}

// poll waits until expr is true in the page, across a navigation under
// way (which ends a poll running in the old page: it is simply retried).
func poll(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			ok, err := chromedp.Evaluate[bool](`document.readyState === "complete" && !!(`+expr+`)`)(ctx, t)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			if time.Now().After(deadline) {
				return chromedp.Void{}, fmt.Errorf("waited 5s for %s (last error %v)", expr, err)
			}
			time.Sleep(30 * time.Millisecond)
		}
	}
}

func count(t *testing.T, ctx context.Context, sel string) int {
	return get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
}

func jsString(s string) string { return "'" + strings.ReplaceAll(s, "'", "\\'") + "'" }

func text(t *testing.T, ctx context.Context, sel string) string {
	return get(t, ctx, chromedp.Text(css(sel)))
}

func heading(t *testing.T, ctx context.Context) string { return text(t, ctx, "h1") }

// noPlaintext fails when the page in the tab holds a plaintext key.
func noPlaintext(t *testing.T, ctx context.Context, where string) {
	t.Helper()
	html := get(t, ctx, chromedp.OuterHTML(css("html")))
	if k := keyRE.FindString(html); k != "" {
		t.Errorf("%s holds a plaintext key %s…", where, k[:12])
	}
}

func signInTab(t *testing.T, ctx context.Context, link string) {
	t.Helper()
	run(t, ctx, chromedp.Navigate(link), onPage("link"), clickButton("Sign in"), chromedp.WaitNotPresent(css(`body[data-page="link"]`)))
}

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	start := time.Now()
	b := browser(t)
	e := newEnv(t, envOpts{cfg: func(c *console.Config) { c.EmailsPerIP = 1000; c.EmailsPerAddress = 1000 }})
	// The notifier mails leak notices with the console link, as in serve.
	sender, _ := notifier.NewSMTPSender(e.smtp.Addr(), "")
	n := notifier.New(notifier.Config{Interval: 50 * time.Millisecond, ConsoleURL: e.srv.URL}, e.store,
		map[keystore.Channel]notifier.Sender{keystore.ChannelEmail: sender}, nil, nil)
	nctx, ncancel := context.WithCancel(context.Background())
	ndone := make(chan struct{})
	go func() { _ = n.Run(nctx); close(ndone) }()
	t.Cleanup(func() { ncancel(); <-ndone })

	var seq int
	fresh := func() (keystore.Account, keystore.NewKey) {
		seq++
		return e.account(fmt.Sprintf("owner%d@example.com", seq))
	}
	signedInTab := func(t *testing.T) (context.Context, keystore.Account, keystore.NewKey) {
		a, nk := fresh()
		ctx := tab(t, b)
		signInTab(t, ctx, e.link(a.ID, ""))
		run(t, ctx, onPage("keys"))
		return ctx, a, nk
	}

	t.Run("SignInByLink", func(t *testing.T) {
		a, _ := fresh()
		link := e.link(a.ID, "")
		ctx := tab(t, b)
		signInTab(t, ctx, link)
		run(t, ctx, onPage("keys"))
		if h := heading(t, ctx); h != "API keys" {
			t.Errorf("heading %q, want API keys", h)
		}
		// The same link in another browser: refused, nobody signed in.
		other := tab(t, b)
		signInTab(t, other, link)
		run(t, other, onPage("error"))
		if h := heading(t, other); h != "Sign-in link not valid" {
			t.Errorf("reused link: heading %q", h)
		}
		run(t, other, chromedp.Navigate(e.srv.URL+"/keys"), onPage("signin"))
		// An expired link.
		old, err := console.IssueLink(context.Background(), e.store, e.base, a.ID, "", e.clock.now().Add(-16*time.Minute), console.DefaultLinkTTL)
		if err != nil {
			t.Fatal(err)
		}
		late := tab(t, b)
		signInTab(t, late, old)
		run(t, late, onPage("error"))
		run(t, late, chromedp.Navigate(e.srv.URL+"/keys"), onPage("signin"))
	})

	t.Run("CookieFlags", func(t *testing.T) {
		ctx, _, _ := signedInTab(t)
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
		if err != nil {
			t.Fatal(err)
		}
		jsCookies := get(t, ctx, chromedp.Evaluate[string](`document.cookie`))
		var found bool
		for _, c := range res.Cookies {
			if c.Name == "lg_session" {
				found = true
				if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Secure {
					t.Errorf("session cookie HttpOnly=%v SameSite=%v Secure=%v; want true, Lax, false (plain HTTP on loopback)", c.HTTPOnly, c.SameSite, c.Secure)
				}
			}
		}
		if !found {
			t.Errorf("no session cookie among %d", len(res.Cookies))
		}
		if strings.Contains(jsCookies, "lg_session") {
			t.Errorf("script can read the session cookie: %q", jsCookies)
		}
	})

	t.Run("CreateEachKeyType", func(t *testing.T) {
		ctx, _, _ := signedInTab(t)
		for _, typ := range []string{"secret", "restricted", "publishable"} {
			run(t, ctx, chromedp.Navigate(e.srv.URL+"/keys?mode=test"), onPage("keys"), clickLink("New key"), onPage("newkey"))
			noPlaintext(t, ctx, "the new-key form")
			run(t, ctx,
				chromedp.Click(css(`input[name=type][value=`+typ+`]`)),
				chromedp.SendKeys(css(`#name`), "My "+typ+" key"))
			if typ == "restricted" {
				run(t, ctx, chromedp.Click(css(`input[name=perm_api_logs][value=read]`)))
			}
			run(t, ctx, clickButton("Create key"), onPage("secret"))
			secret := get(t, ctx, chromedp.Value(css(`#secret`)))
			run(t, ctx, clickButton("Copy"), poll(`document.querySelector(".copied").textContent.length > 0`))
			copied := text(t, ctx, `.copied`)
			prefix := map[string]string{"secret": "sk_test_", "restricted": "rk_test_", "publishable": "pk_test_"}[typ]
			if !strings.HasPrefix(secret, prefix) || !keyformat.ValidKey([]byte(secret)) {
				t.Errorf("%s: secret %.12s…, want a valid %s key", typ, secret, prefix)
			}
			if st, _ := e.apiCall(secret, "GET", "/v1/account", ""); st != 200 {
				t.Errorf("%s: the new key gets %d from GET /v1/account", typ, st)
			}
			// Copied, or (a browser that denies the clipboard) selected with
			// a hint: either way the key is ready to paste.
			selected := get(t, ctx, chromedp.Evaluate[string](`(() => { const i = document.getElementById("secret"); return document.activeElement === i ? i.value.substring(i.selectionStart, i.selectionEnd) : ""; })()`))
			if copied != "Copied to the clipboard." && (selected != secret || !strings.Contains(copied, "copy it")) {
				t.Errorf("Copy: said %q, selection %d characters", copied, len(selected))
			}
			run(t, ctx, clickLink("Done"), onPage("keys"))
			noPlaintext(t, ctx, "the keys page after creating a "+typ+" key")
			list := text(t, ctx, `table.list`)
			if !strings.Contains(list, "My "+typ+" key") || !strings.Contains(list, secret[len(secret)-4:]) {
				t.Errorf("keys page does not list the new %s key:\n%s", typ, list)
			}
		}
	})

	t.Run("PreviewForRestrictedKey", func(t *testing.T) {
		ctx, _, _ := signedInTab(t)
		run(t, ctx, chromedp.Navigate(e.srv.URL+"/keys/new?mode=test"), onPage("newkey"),
			chromedp.Click(css(`input[name=type][value=restricted]`)),
			chromedp.WaitVisible(css(`#perms`)),
			chromedp.Click(css(`input[name=perm_api_logs][value=read]`)),
			chromedp.Click(css(`input[name=perm_leaks][value=read]`)),
			// Updated by the script, without a page load.
			poll(`document.querySelectorAll("#preview .call-ok").length === 3`))
		ok, no := text(t, ctx, `#pv-ok + ul`), text(t, ctx, `#pv-no + ul`)
		for _, want := range []string{"GET /v1/account", "GET /v1/api-logs", "GET /v1/leaks"} {
			if !strings.Contains(squash(ok), want) {
				t.Errorf("allowed list lacks %s:\n%s", want, ok)
			}
		}
		for _, want := range []string{"GET /v1/api-keys", "POST /v1/api-keys", "DELETE /v1/api-keys/{id}"} {
			if !strings.Contains(squash(no), want) {
				t.Errorf("refused list lacks %s:\n%s", want, no)
			}
		}
		// The "Update preview" button is for browsers without script only.
		shown := get(t, ctx, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector("button[value=preview]")).display !== "none"`))
		if shown {
			t.Errorf("the no-script preview button shows although the script runs")
		}
	})

	// Every action works without JavaScript: the preview through its
	// button, creation, rotation and revocation through plain forms.
	t.Run("WithoutJavaScript", func(t *testing.T) {
		a, _ := fresh()
		ctx := tab(t, b)
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		signInTab(t, ctx, e.link(a.ID, ""))
		run(t, ctx, onPage("keys"), clickLink("New key"), onPage("newkey"),
			chromedp.Click(css(`input[name=type][value=restricted]`)),
			chromedp.Click(css(`input[name=perm_leaks][value=read]`)),
			clickButton("Update preview"), poll(`document.querySelectorAll("#preview .call-ok").length === 2`))
		if ok := text(t, ctx, `#pv-ok + ul`); !strings.Contains(squash(ok), "GET /v1/leaks") {
			t.Errorf("no-script preview: %s", ok)
		}
		run(t, ctx, clickButton("Create key"), onPage("secret"))
		secret := get(t, ctx, chromedp.Value(css(`#secret`)))
		if st, _ := e.apiCall(secret, "GET", "/v1/leaks", ""); st != 200 {
			t.Errorf("key made without script: %d", st)
		}
		run(t, ctx, clickLink("Done"), onPage("keys"),
			chromedp.Click(`//tr[contains(., "leaks:read")]//a[normalize-space(.)="Rotate"]`), onPage("rotate"),
			clickButton("Rotate"), onPage("secret"))
		rotated := get(t, ctx, chromedp.Value(css(`#secret`)))
		run(t, ctx, clickLink("Done"), onPage("keys"),
			chromedp.Click(`//tr[contains(., "leaks:read") and contains(., "active")]//a[normalize-space(.)="Revoke"]`), onPage("revoke"),
			clickButton("Revoke key"), onPage("keys"))
		waitStatus(t, e, rotated, 401)
	})

	t.Run("RotateWithEachOverlap", func(t *testing.T) {
		ctx, a, _ := signedInTab(t)
		for _, secs := range []int64{0, 3600, 86400, 604800} {
			old, err := e.svc.CreateKey(context.Background(), nil, a.ID, keystore.KeyRequest{Name: fmt.Sprintf("rotate %d", secs), Mode: keyformat.Test})
			if err != nil {
				t.Fatal(err)
			}
			run(t, ctx, chromedp.Navigate(e.srv.URL+"/keys?mode=test"), onPage("keys"),
				chromedp.Click(css(`tr[id="`+old.Key.ID+`"] a[href$="/rotate"]`)), onPage("rotate"),
				chromedp.Click(css(fmt.Sprintf(`input[name=expires_in_seconds][value="%d"]`, secs))),
				clickButton("Rotate"), onPage("secret"))
			secret := get(t, ctx, chromedp.Value(css(`#secret`)))
			if st, _ := e.apiCall(secret, "GET", "/v1/account", ""); st != 200 {
				t.Errorf("overlap %d: new key gets %d", secs, st)
			}
			k, err := e.svc.GetKey(context.Background(), nil, a.ID, old.Key.ID)
			if err != nil {
				t.Fatal(err)
			}
			now := e.clock.now()
			if secs == 0 {
				if k.Status(now) != keystore.StatusRevoked {
					t.Errorf("overlap 0: old key is %s, want revoked", k.Status(now))
				}
				waitStatus(t, e, old.Secret, 401)
				continue
			}
			if k.ExpiresAt == nil || k.ExpiresAt.Sub(now) > time.Duration(secs)*time.Second || k.ExpiresAt.Sub(now) < time.Duration(secs)*time.Second-time.Minute {
				t.Errorf("overlap %d: old key expires at %v (now %v)", secs, k.ExpiresAt, now)
			}
			if st, _ := e.apiCall(old.Secret, "GET", "/v1/account", ""); st != 200 {
				t.Errorf("overlap %d: old key gets %d during the overlap", secs, st)
			}
		}
	})

	t.Run("RevokeWithConfirmation", func(t *testing.T) {
		ctx, _, first := signedInTab(t)
		run(t, ctx, chromedp.Click(css(`tr[id="`+first.Key.ID+`"] a[href$="/revoke"]`)), onPage("revoke"))
		// Asking is not doing: the key works until confirmed.
		if st, _ := e.apiCall(first.Secret, "GET", "/v1/account", ""); st != 200 {
			t.Fatalf("key stopped working before confirmation: %d", st)
		}
		run(t, ctx, clickButton("Revoke key"), onPage("keys"))
		notice, row := text(t, ctx, `.alert-ok`), text(t, ctx, `tr[id="`+first.Key.ID+`"]`)
		if !strings.Contains(notice, "revoked") || !strings.Contains(strings.ToLower(row), "revoked") {
			t.Errorf("after revoking: notice %q, row %q", notice, row)
		}
		waitStatus(t, e, first.Secret, 401)
	})

	t.Run("APILogsPage", func(t *testing.T) {
		ctx, a, first := signedInTab(t)
		rk, err := e.svc.CreateKey(context.Background(), nil, a.ID, keystore.KeyRequest{Name: "narrow", Type: keyformat.Restricted, Scopes: []string{"leaks:read"}})
		if err != nil {
			t.Fatal(err)
		}
		e.apiCall(first.Secret, "GET", "/v1/account", "")
		e.apiCall(rk.Secret, "GET", "/v1/leaks", "")
		e.apiCall(rk.Secret, "GET", "/v1/api-keys", "") // refused: 403
		waitLogs(t, e, a.ID, 3)
		run(t, ctx, clickLink("API logs"), onPage("logs"))
		if h := heading(t, ctx); h != "API logs" {
			t.Errorf("heading %q", h)
		}
		rows, refused := count(t, ctx, "table.logs tbody tr"), count(t, ctx, "table.logs tbody tr.refused")
		if rows != 3 || refused != 1 {
			t.Errorf("log page: %d rows, %d marked refused; want 3 and 1", rows, refused)
		}
		noPlaintext(t, ctx, "the API logs page")
		// Filter: refused only, then by key.
		run(t, ctx, chromedp.SetValue(css(`#f-status`), "refused"), clickButton("Filter"),
			chromedp.WaitVisible(css(`body[data-page="logs"]`)),
			poll(`location.search.includes("status=refused")`))
		rows = count(t, ctx, "table.logs tbody tr")
		body := text(t, ctx, `table.logs tbody`)
		if rows != 1 || !strings.Contains(body, "403") || !strings.Contains(body, "/v1/api-keys") {
			t.Errorf("status=refused: %d rows: %s", rows, body)
		}
		run(t, ctx, chromedp.Navigate(e.srv.URL+"/logs?mode=test&key="+rk.Key.ID), onPage("logs"))
		rows = count(t, ctx, "table.logs tbody tr")
		if rows != 2 {
			t.Errorf("key filter: %d rows, want 2", rows)
		}
		run(t, ctx, chromedp.Navigate(e.srv.URL+"/logs?mode=test&ip=192.0.2.0/24"), onPage("logs"))
		rows = count(t, ctx, "table.logs tbody tr")
		if rows != 0 {
			t.Errorf("ip filter for another network: %d rows", rows)
		}
		// Live mode shows none of the test calls.
		run(t, ctx, chromedp.Navigate(e.srv.URL+"/logs?mode=test"), onPage("logs"), clickLink("Live mode"),
			poll(`location.search.includes("mode=live")`), onPage("logs"))
		rows = count(t, ctx, "table.logs tbody tr")
		if rows != 0 {
			t.Errorf("live mode lists %d test-mode calls", rows)
		}
	})

	t.Run("RecoveryAfterAutoRevoke", func(t *testing.T) {
		a, only := fresh()
		before := len(e.smtp.Mails())
		// The revoker's store call for a key found in a public commit.
		x, err := e.store.RecordExposure(context.Background(), leakguard.Hit{
			SecretSHA256: keyformat.Fingerprint([]byte(only.Secret)), Redacted: only.Key.Redacted(), Rule: "leakguard-secret-key",
			Source: leakguard.SourceGitHub, FoundAt: time.Now(),
			Location: leakguard.Location{URL: "https://github.com/octo/app/blob/0123abc/config.env#L3", Repository: "octo/app", Commit: "0123abc", Path: "config.env", Line: 3},
		}, time.Now())
		if err != nil || x.Outcome != keystore.OutcomeRevoked {
			t.Fatalf("RecordExposure: %+v, %v", x, err)
		}
		n.Kick()
		waitStatus(t, e, only.Secret, 401)
		// The leak email links to the Leaks page.
		mails := e.smtp.WaitMails(before+1, 5*time.Second)
		notice := mailText(t, mails[len(mails)-1].Raw)
		leaksURL := regexp.MustCompile(`http://[^\s"<>]+/leaks\?mode=test`).FindString(notice)
		if leaksURL == "" {
			t.Fatalf("leak email has no Leaks link:\n%s", notice)
		}
		// With nothing but the mailbox: the Leaks page asks to sign in, and
		// the emailed link lands back on it.
		ctx := tab(t, b)
		run(t, ctx, chromedp.Navigate(leaksURL), onPage("signin"),
			chromedp.SendKeys(css(`#email`), a.Email), clickButton("Email me a sign-in link"),
			chromedp.WaitVisible(`//p[contains(., "we have emailed it a sign-in link")]`))
		link, _ := e.mailedLink(before + 2)
		signInTab(t, ctx, link)
		run(t, ctx, onPage("leaks"))
		if h := heading(t, ctx); h != "Leaks" {
			t.Errorf("landed on %q, want Leaks", h)
		}
		card := text(t, ctx, `li.leak`)
		href := get(t, ctx, chromedp.AttributeValue(css(`li.leak .facts a[target]`), "href")).Value
		for _, want := range []string{only.Key.Redacted(), "Revoked automatically", "GitHub commit", "config.env:3", "octo/app"} {
			if !strings.Contains(card, want) {
				t.Errorf("leak card lacks %q:\n%s", want, card)
			}
		}
		if href != "https://github.com/octo/app/blob/0123abc/config.env#L3" {
			t.Errorf("where-link %q", href)
		}
		noPlaintext(t, ctx, "the Leaks page")
		run(t, ctx, clickButton("Roll replacement key"), onPage("secret"))
		secret := get(t, ctx, chromedp.Value(css(`#secret`)))
		if st, body := e.apiCall(secret, "GET", "/v1/api-keys", ""); st != 200 {
			t.Errorf("replacement key: %d %s", st, body)
		}
		if st, body := e.apiCall(only.Secret, "GET", "/v1/account", ""); st != 401 || !strings.Contains(body, "exposed") {
			t.Errorf("leaked key: %d %s", st, body)
		}
	})

	t.Run("CSRFRefusal", func(t *testing.T) {
		ctx, _, first := signedInTab(t)
		run(t, ctx, chromedp.Navigate(e.srv.URL+"/keys/"+first.Key.ID+"/revoke"), onPage("revoke"),
			chromedp.SetAttributeValue(css(`form[action$="/revoke"] input[name=csrf]`), "value", "forged"),
			clickButton("Revoke key"), onPage("error"))
		body := text(t, ctx, "main")
		if !strings.Contains(body, "Request refused") || !strings.Contains(body, "CSRF") {
			t.Errorf("forged CSRF: %s", body)
		}
		if st, _ := e.apiCall(first.Secret, "GET", "/v1/account", ""); st != 200 {
			t.Errorf("key revoked despite the forged token: %d", st)
		}
	})

	t.Run("PagesAndSignOut", func(t *testing.T) {
		ctx, _, _ := signedInTab(t)
		for _, p := range []struct{ link, page, h1 string }{{"API logs", "logs", "API logs"}, {"Leaks", "leaks", "Leaks"}, {"API keys", "keys", "API keys"}} {
			run(t, ctx, clickLink(p.link), onPage(p.page))
			if h := heading(t, ctx); h != p.h1 {
				t.Errorf("%s: heading %q", p.link, h)
			}
			noPlaintext(t, ctx, p.h1)
		}
		run(t, ctx, clickLink("Live mode"), poll(`location.search.includes("mode=live")`), onPage("keys"))
		empty := text(t, ctx, ".empty h2")
		if !strings.Contains(empty, "No keys in Live mode") {
			t.Errorf("live mode of a test account: %q", empty)
		}
		run(t, ctx, clickButton("Sign out"), onPage("signin"))
		run(t, ctx, chromedp.Navigate(e.srv.URL+"/keys"), onPage("signin"))
		u := get(t, ctx, chromedp.Location())
		if !strings.Contains(u, "/signin") {
			t.Errorf("after sign-out /keys is at %s", u)
		}
	})

	if d := time.Since(start); d > 3*time.Minute {
		t.Errorf("browser suite took %v, want under 3 minutes", d)
	}
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// waitStatus waits until key gets status from GET /v1/account (the API's
// cache drops a revoked key within its poll interval).
func waitStatus(t *testing.T, e *env, key string, status int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := e.apiCall(key, "GET", "/v1/account", "")
		if st == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key gets %d, want %d", st, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitLogs(t *testing.T, e *env, accountID string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		logs, _, err := e.svc.ListAPILogs(context.Background(), accountID, keystore.LogFilter{})
		if err == nil && len(logs) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d log entries, want %d", len(logs), n)
		}
		time.Sleep(30 * time.Millisecond)
	}
}
