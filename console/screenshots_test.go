package console_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// TestScreenshots saves PNGs of the real pages, served by a running
// console with sample data, to $LEAKGUARD_SCREENSHOTS (scripts/screenshots.sh
// sets it to docs/img). Without the variable it does nothing.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("LEAKGUARD_SCREENSHOTS")
	if dir == "" {
		t.Skip("set LEAKGUARD_SCREENSHOTS=DIR to save screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	e := newEnv(t, envOpts{resources: []string{"orders", "customers"}})
	ctx := context.Background()
	a, first := e.account("ada@shop.example.com")
	mk := func(r keystore.KeyRequest) keystore.NewKey {
		nk, err := e.svc.CreateKey(ctx, nil, a.ID, r)
		if err != nil {
			t.Fatal(err)
		}
		return nk
	}
	checkout := mk(keystore.KeyRequest{Name: "Checkout server", Type: keyformat.Restricted, Scopes: []string{"orders:write", "customers:read"}, AllowedIPs: []string{"203.0.113.0/24"}})
	mk(keystore.KeyRequest{Name: "Storefront (browser)", Type: keyformat.Publishable})
	audit := mk(keystore.KeyRequest{Name: "Audit export", Type: keyformat.Restricted, Scopes: []string{"api_logs:read", "leaks:read"}})
	ci := mk(keystore.KeyRequest{Name: "CI deploy", Type: keyformat.Secret})
	d := 24 * time.Hour
	if _, _, err := e.svc.RotateKey(ctx, nil, a.ID, ci.Key.ID, &d); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.apiCall(first.Secret, "GET", "/v1/account", "")
	}
	e.apiCall(audit.Secret, "GET", "/v1/api-logs", "")
	e.apiCall(audit.Secret, "GET", "/v1/leaks", "")
	e.apiCall(audit.Secret, "POST", "/v1/api-keys", `{"name":"x"}`)
	e.apiCall(checkout.Secret, "GET", "/v1/api-keys", "")
	e.apiCall(first.Secret, "GET", "/v1/api-keys", "")
	leaked := mk(keystore.KeyRequest{Name: "Old laptop script", Type: keyformat.Secret})
	e.apiCall(leaked.Secret, "GET", "/v1/api-keys", "")
	waitLogs(t, e, a.ID, 8)
	if _, err := e.store.RecordExposure(ctx, leakguard.Hit{
		SecretSHA256: keyformat.Fingerprint([]byte(leaked.Secret)), Redacted: leaked.Key.Redacted(), Rule: "leakguard-secret-key",
		Source: leakguard.SourceGitHub, FoundAt: time.Now().Add(-3 * time.Minute),
		Location: leakguard.Location{URL: "https://github.com/ada/tools/blob/9f1c2e7/scripts/sync.sh#L12", Repository: "ada/tools", Commit: "9f1c2e7", Path: "scripts/sync.sh", Line: 12},
	}, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, e, leaked.Secret, 401)
	e.apiCall(leaked.Secret, "GET", "/v1/api-keys", "") // the finder tries it: refused

	for _, scheme := range []string{"light", "dark"} {
		tb := tab(t, b)
		run(t, tb, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
			return chromedp.Void{}, err
		}, chromedp.EmulateViewport(1280, 800))
		shot := func(name string) {
			png := get(t, tb, chromedp.FullScreenshot(100))
			if err := os.WriteFile(filepath.Join(dir, "console-"+name+"-"+scheme+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		run(t, tb, chromedp.Navigate(e.srv.URL+"/signin"), onPage("signin"))
		if scheme == "light" {
			shot("signin")
		}
		signInTab(t, tb, e.link(a.ID, ""))
		run(t, tb, onPage("keys"))
		shot("keys")
		run(t, tb, chromedp.Navigate(e.srv.URL+"/keys/new?mode=test&type=restricted&name=Reporting+job&perm_api_logs=read&perm_orders=read&allowed_ips=198.51.100.7"), onPage("newkey"))
		shot("newkey")
		if scheme == "light" {
			run(t, tb, clickButton("Create key"), onPage("secret"))
			shot("secret")
			run(t, tb, chromedp.Navigate(e.srv.URL+"/keys/"+checkout.Key.ID+"/rotate"), onPage("rotate"))
			shot("rotate")
		}
		run(t, tb, chromedp.Navigate(e.srv.URL+"/logs?mode=test"), onPage("logs"))
		shot("logs")
		run(t, tb, chromedp.Navigate(e.srv.URL+"/leaks?mode=test"), onPage("leaks"))
		shot("leaks")
	}
}
