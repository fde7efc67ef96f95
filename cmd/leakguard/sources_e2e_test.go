package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/fakeupstream"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/notifier/notifiertest"
)

// These tests run the whole daemon against fakes that speak each
// upstream's real API (internal/fakeupstream): a key published in public
// must be revoked and its owner told once, exactly where it leaked.

const e2ePoll = 300 * time.Millisecond

// upstreams are the fakes of every source and the env pointing serve at them.
type upstreams struct {
	gh   *fakeupstream.GitHub
	npm  *fakeupstream.NPM
	hub  *fakeupstream.DockerHub
	pb   *fakeupstream.Pastebin
	vars map[string]string
}

func newUpstreams(t *testing.T, sources string) *upstreams {
	t.Helper()
	u := &upstreams{gh: fakeupstream.NewGitHub(t), npm: fakeupstream.NewNPM(t),
		hub: fakeupstream.NewDockerHub(t), pb: fakeupstream.NewPastebin(t)}
	// GitHub sends X-Poll-Interval: 60, which the source honours; a test
	// can't wait a minute per poll, so the fake asks for GitHub's least.
	u.gh.SetPollInterval(1)
	u.hub.AddNamespace("acme-e2e")
	nats := testenv.NATSServer(t)
	u.vars = map[string]string{
		"LEAKGUARD_DATA_DIR":             t.TempDir(),
		"LEAKGUARD_NATS_URL":             nats.ClientURL(),
		"LEAKGUARD_HTTP_ADDR":            "127.0.0.1:0",
		"LEAKGUARD_SOURCES":              sources,
		"LEAKGUARD_POLL_INTERVAL":        e2ePoll.String(),
		"LEAKGUARD_GITHUB_API_URL":       u.gh.URL(),
		"LEAKGUARD_NPM_REPLICATE_URL":    u.npm.URL(),
		"LEAKGUARD_NPM_REGISTRY_URL":     u.npm.URL(),
		"LEAKGUARD_DOCKERHUB_URL":        u.hub.HubURL(),
		"LEAKGUARD_DOCKER_REGISTRY_URL":  u.hub.RegistryURL(),
		"LEAKGUARD_DOCKER_AUTH_URL":      u.hub.AuthURL(),
		"LEAKGUARD_DOCKERHUB_NAMESPACES": "acme-e2e",
		"LEAKGUARD_PASTEBIN_URL":         u.pb.URL(),
	}
	return u
}

// daemon is a serve the test can stop and start again.
type daemon struct {
	info   serveInfo
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startDaemon runs serve with every role; stop ends it (also at cleanup).
func startDaemon(t *testing.T, getenv func(string) string, logs *syncBuffer) *daemon {
	t.Helper()
	cfg, err := loadConfig(getenv)
	if err != nil {
		t.Fatal(err)
	}
	roles, _ := parseRoles("api,sources,revoker,notifier")
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{cancel: cancel, done: make(chan error, 1)}
	infoc := make(chan serveInfo, 1)
	logger := slog.New(slog.NewTextHandler(logs, nil))
	go func() { d.done <- serve(ctx, cfg, roles, logger, func(i serveInfo) { infoc <- i }) }()
	t.Cleanup(func() { d.stop(t) })
	select {
	case d.info = <-infoc:
	case err := <-d.done:
		t.Fatalf("serve stopped at start: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start\n%s", logs)
	}
	return d
}

func (d *daemon) stop(t *testing.T) {
	d.once.Do(func() {
		d.cancel()
		select {
		case err := <-d.done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("serve did not stop within 20s of cancellation")
		}
	})
}

// revocations polls GET /v1/account for every key until each answers 401
// invalid_api_key for exposure, and returns when each did. A key still
// working at the deadline fails the test.
func revocations(t *testing.T, addr string, keys map[string]string, timeout time.Duration) map[string]time.Time {
	t.Helper()
	at := map[string]time.Time{}
	deadline := time.Now().Add(timeout)
	for len(at) < len(keys) {
		for name, key := range keys {
			if _, ok := at[name]; ok {
				continue
			}
			code, body := getAccount(t, addr, key)
			if code == http.StatusUnauthorized {
				if !strings.Contains(body, "invalid_api_key") || !strings.Contains(strings.ToLower(body), "exposed") {
					t.Fatalf("%s: revoked key answered %s, want invalid_api_key saying it was exposed", name, body)
				}
				at[name] = time.Now()
				continue
			}
			if code != http.StatusOK && code != http.StatusTooManyRequests {
				t.Fatalf("%s: GET /v1/account answered %d %s", name, code, body)
			}
		}
		if len(at) == len(keys) {
			break
		}
		if time.Now().After(deadline) {
			var missing []string
			for name := range keys {
				if _, ok := at[name]; !ok {
					missing = append(missing, name)
				}
			}
			t.Fatalf("keys still working %v after planting: %v", timeout, missing)
		}
		time.Sleep(25 * time.Millisecond)
	}
	return at
}

// mailsByOwner waits for want emails, gives a duplicate time to show up,
// and returns the parsed emails per recipient, failing on any owner with
// other than one.
func mailsByOwner(t *testing.T, mail *notifiertest.SMTPServer, owners []string, timeout time.Duration) map[string]notifiertest.Parsed {
	t.Helper()
	mail.WaitMails(len(owners), timeout)
	time.Sleep(1500 * time.Millisecond) // a duplicate would come by now
	got := map[string][]notifiertest.Mail{}
	for _, m := range mail.Mails() {
		if len(m.To) != 1 {
			t.Errorf("an email went to %v, want one owner", m.To)
		}
		for _, to := range m.To {
			got[to] = append(got[to], m)
		}
	}
	out := map[string]notifiertest.Parsed{}
	for _, o := range owners {
		if n := len(got[o]); n != 1 {
			t.Errorf("%s got %d emails, want exactly 1", o, n)
			continue
		}
		msg, err := notifiertest.Parse(got[o][0].Raw)
		if err != nil {
			t.Fatalf("parse email to %s: %v", o, err)
		}
		out[o] = msg
	}
	if n := len(mail.Mails()); n != len(owners) {
		t.Errorf("%d emails sent, want %d (one per owner)", n, len(owners))
	}
	return out
}

// createKey makes another key on an account with the CLI.
func createKey(t *testing.T, getenv func(string) string, account string, args ...string) string {
	t.Helper()
	e, out, errb := cliEnv(getenv)
	if code := run(context.Background(), e, append([]string{"keys", "create", "--account", account, "--json"}, args...)); code != 0 {
		t.Fatalf("keys create %v: exit %d: %s", args, code, errb)
	}
	var c created
	if err := json.Unmarshal(out.Bytes(), &c); err != nil || c.Secret == "" {
		t.Fatalf("keys create --json printed %q: %v", out, err)
	}
	return c.Secret
}

func lineOf(content, needle string) int {
	i := strings.Index(content, needle)
	return strings.Count(content[:i], "\n") + 1
}

func TestSourcesEverySourceOneDaemon(t *testing.T) {
	t.Parallel()
	up := newUpstreams(t, "github,gists,npm,dockerhub,pastebin")
	mail := notifiertest.NewSMTPServer(t)
	up.vars["LEAKGUARD_SMTP_ADDR"] = mail.Addr()
	getenv := envFrom(up.vars)

	names := []string{"github", "gists", "npm", "dockerhub", "pastebin"}
	accts := map[string]created{}
	keys := map[string]string{}
	owner := map[string]string{}
	for _, n := range names {
		owner[n] = n + "-owner@example.com"
		accts[n] = createAccount(t, getenv, owner[n])
		keys[n] = accts[n].Secret
	}
	// A restricted key is revoked like a secret one; it leaks through an
	// image's config (ENV), not a layer. A publishable key is meant to be
	// public: found next to the pastebin owner's secret key, it must keep
	// working and cost its owner no second email.
	names = append(names, "restricted")
	owner["restricted"] = "restricted-owner@example.com"
	accts["restricted"] = createAccount(t, getenv, owner["restricted"])
	keys["restricted"] = createKey(t, getenv, accts["restricted"].AccountID, "--type", "restricted", "--scope", "account:read")
	publishable := createKey(t, getenv, accts["pastebin"].AccountID, "--type", "publishable")
	// Most images are pushed by buildx today: an OCI index over one
	// manifest per platform plus provenance attestations.
	names = append(names, "multiarch")
	owner["multiarch"] = "multiarch-owner@example.com"
	accts["multiarch"] = createAccount(t, getenv, owner["multiarch"])
	keys["multiarch"] = accts["multiarch"].Secret

	// The upstreams aren't empty when leakguard starts: what was there is
	// scanned (clean), and the leaks arrive on top of it, so GitHub's is
	// read through the compare API and npm's is a package's second version.
	up.gh.PlantPush("acme-e2e/shop", "README.md", "# shop\n")
	up.gh.PlantGist("octo-e2e", map[string]string{"hello.txt": "hello\n"})
	up.npm.PlantPackage("leaky-e2e-widget", "1.4.1", map[string]string{"package.json": `{"name":"leaky-e2e-widget","version":"1.4.1"}`})
	up.hub.PlantImage("acme-e2e", "billing-api", "v2.2.0", map[string]string{"app/main.py": "print('hello')\n"}, nil)
	up.pb.PlantPaste("Cl34nOld", "nothing to see\n")

	logs := &syncBuffer{}
	d := startDaemon(t, getenv, logs)
	for _, n := range names {
		if code, body := getAccount(t, d.info.Addr, keys[n]); code != http.StatusOK {
			t.Fatalf("%s key before planting: %d %s", n, code, body)
		}
	}
	// Let every source make its first poll (of the clean content): the
	// keys then arrive the way real publishes do, after the watch began.
	time.Sleep(2 * e2ePoll)

	planted := map[string]time.Time{}
	ghContent := "# production settings\nDATABASE_URL=postgres://db/shop\nLEAKGUARD_API_KEY=" + keys["github"] + "\nDEBUG=false\n"
	push := up.gh.PlantPush("acme-e2e/shop", "config/prod.env", ghContent)
	planted["github"] = time.Now()
	ghLine := lineOf(ghContent, keys["github"])

	gistContent := "# notes\nexport LEAKGUARD_KEY=\"" + keys["gists"] + "\"\n"
	gist := up.gh.PlantGist("octo-e2e", map[string]string{"deploy settings.env": gistContent, "README.md": "nothing here\n"})
	planted["gists"] = time.Now()

	pkg := up.npm.PlantPackage("leaky-e2e-widget", "1.4.2", map[string]string{
		"package.json":  `{"name":"leaky-e2e-widget","version":"1.4.2","main":"lib/client.js"}`,
		"lib/client.js": "'use strict';\n\nconst KEY = '" + keys["npm"] + "';\nmodule.exports = { KEY };\n",
	})
	planted["npm"] = time.Now()

	img := up.hub.PlantImage("acme-e2e", "billing-api", "v2.3.0", map[string]string{
		"app/main.py":     "print('hello')\n",
		"app/config/.env": "MODE=prod\nLEAKGUARD_SECRET=" + keys["dockerhub"] + "\n",
		"etc/motd":        "welcome\n",
	}, []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONUNBUFFERED=1",
		"BILLING_KEY=" + keys["restricted"]})
	planted["dockerhub"] = time.Now()
	planted["restricted"] = planted["dockerhub"]

	_, platforms := up.hub.PlantMultiPlatformImage("acme-e2e", "web", "2.0", []string{"amd64", "arm64"},
		map[string]string{"srv/settings.toml": "[api]\nkey = \"" + keys["multiarch"] + "\"\n"}, nil)
	planted["multiarch"] = time.Now()

	paste := up.pb.PlantPaste("E2eP4st3", "my staging config, don't share:\npublishable = "+publishable+"\nkey = "+keys["pastebin"]+"\n")
	planted["pastebin"] = time.Now()

	revoked := revocations(t, d.info.Addr, keys, 30*time.Second)
	for _, n := range names {
		interval := e2ePoll
		if n == "github" {
			interval = time.Second // the fake's X-Poll-Interval wins
		}
		t.Logf("%-10s planted → revoked in %v (target: one poll interval + 2s = %v)", n,
			revoked[n].Sub(planted[n]).Round(time.Millisecond), interval+2*time.Second)
	}

	if up.gh.RequestsTo("/repos/acme-e2e/shop/compare/"+push.Before+"...") == 0 {
		t.Errorf("the second push to acme-e2e/shop was not read through the compare API")
	}
	if code, body := getAccount(t, d.info.Addr, publishable); code != http.StatusOK {
		t.Errorf("a publishable key found in public answers %d %s; it must keep working", code, body)
	}

	ownerOf := map[string]string{}
	var owners []string
	for _, n := range names {
		owners = append(owners, owner[n])
		ownerOf[owner[n]] = n
	}
	msgs := mailsByOwner(t, mail, owners, 30*time.Second)
	want := map[string][]string{
		"github": {push.BlobURL + "#L" + strconv.Itoa(ghLine), "acme-e2e/shop", push.Commit, "config/prod.env",
			"Line:        " + strconv.Itoa(ghLine)},
		"gists": {gist.HTMLURL + "#file-deploy-settings-env", "deploy settings.env", "Line:        2"},
		// The exact artifact at the configured (fake) registries; no page
		// on npmjs.com, hub.docker.com or pastebin.com, where none of it is.
		"npm": {"Package:     leaky-e2e-widget@1.4.2", "Tarball:     " + pkg.Tarball, "package/lib/client.js", "Line:        3"},
		"dockerhub": {"acme-e2e/billing-api:v2.3.0", img.ManifestDigest, img.LayerDigest, "app/config/.env",
			up.hub.RegistryURL() + "v2/acme-e2e/billing-api/blobs/" + img.LayerDigest, "Line:        2"},
		"pastebin": {up.pb.URL() + "api_scrape_item.php?i=" + paste.Key, "Line:        3"},
		"multiarch": {"acme-e2e/web:2.0", platforms[0].LayerDigest, "srv/settings.toml", "Line:        2",
			up.hub.RegistryURL() + "v2/acme-e2e/web/blobs/"},
		"restricted": {"restricted key", "acme-e2e/billing-api:v2.3.0", img.ManifestDigest, "config:Env",
			up.hub.RegistryURL() + "v2/acme-e2e/billing-api/blobs/" + img.ConfigDigest},
	}
	notWant := []string{"npmjs.com", "hub.docker.com", "pastebin.com/", "Web page"}
	for o, msg := range msgs {
		n := ownerOf[o]
		text := msg.Parts["text/plain"]
		for _, w := range want[n] {
			if !strings.Contains(text, w) {
				t.Errorf("%s email lacks %q:\n%s", n, w, text)
			}
		}
		for _, w := range notWant {
			if strings.Contains(text, w) {
				t.Errorf("%s email names %q, a place the key was not found:\n%s", n, w, text)
			}
		}
		if n == "multiarch" && !strings.Contains(text, platforms[0].ManifestDigest) && !strings.Contains(text, platforms[1].ManifestDigest) {
			t.Errorf("the multi-platform image's email names neither platform manifest:\n%s", text)
		}
		for other, k := range keys {
			if testenv.Contains(k, msg.Header.Get("Subject"), text, msg.Parts["text/html"]) {
				t.Errorf("%s email holds the plaintext of the %s key", n, other)
			}
		}
	}
	for _, m := range mail.Mails() {
		for n, k := range keys {
			if testenv.Contains(k, string(m.Raw)) {
				t.Errorf("a raw email holds the plaintext of the %s key", n)
			}
		}
	}
	keys["publishable"] = publishable
	for n, k := range keys {
		if testenv.Contains(k, logs.String()) {
			t.Errorf("the plaintext of the %s key reached the logs", n)
		}
	}
}

func TestSourcesRestartMidBatchSkipsNothingAndEmailsNobodyTwice(t *testing.T) {
	t.Parallel()
	up := newUpstreams(t, "npm,pastebin")
	mail := notifiertest.NewSMTPServer(t)
	up.vars["LEAKGUARD_SMTP_ADDR"] = mail.Addr()
	getenv := envFrom(up.vars)

	keys := map[string]string{}
	var owners []string
	for i := range 8 {
		name := "npm-" + strconv.Itoa(i)
		if i >= 5 {
			name = "paste-" + strconv.Itoa(i-5)
		}
		o := name + "@example.com"
		owners = append(owners, o)
		keys[name] = createAccount(t, getenv, o).Secret
	}
	logs := &syncBuffer{}
	d := startDaemon(t, getenv, logs)
	time.Sleep(2 * e2ePoll)
	// A slow registry (a second per request) keeps npm's batch in flight
	// when the first paste's key is revoked: the stop lands mid-batch,
	// with tarball downloads cancelled half-way. Pastes trickle in too.
	up.npm.SetDelay(time.Second)
	up.pb.SetDelay(100 * time.Millisecond)
	for i := range 5 {
		name := "npm-" + strconv.Itoa(i)
		up.npm.PlantPackage("restart-e2e-"+strconv.Itoa(i), "0.0."+strconv.Itoa(i+1),
			map[string]string{"index.js": "exports.key = '" + keys[name] + "';\n"})
	}
	for i := range 3 {
		name := "paste-" + strconv.Itoa(i)
		up.pb.PlantPaste("R3start"+strconv.Itoa(i), "token: "+keys[name]+"\n")
	}

	// Stop as soon as the first key is revoked.
	deadline := time.Now().Add(30 * time.Second)
	first := ""
	for first == "" {
		for name, k := range keys {
			if code, _ := getAccount(t, d.info.Addr, k); code == http.StatusUnauthorized {
				first = name
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no key revoked 30s after planting\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	still := 0
	for _, k := range keys {
		if code, _ := getAccount(t, d.info.Addr, k); code == http.StatusOK {
			still++
		}
	}
	// The first owner's email may be on its way: let it land, so the
	// restart must also not send it again.
	mail.WaitMails(1, 5*time.Second)
	d.stop(t)
	if still == 0 {
		t.Fatal("every key was revoked before the stop: the restart tests nothing")
	}
	t.Logf("stopped after %s was revoked: %d of %d keys still active, %d emails sent", first, still, len(keys), len(mail.Mails()))
	up.npm.SetDelay(0)
	up.pb.SetDelay(0)

	d2 := startDaemon(t, getenv, logs)
	revocations(t, d2.info.Addr, keys, 30*time.Second)
	mailsByOwner(t, mail, owners, 30*time.Second)
	for n, k := range keys {
		if testenv.Contains(k, logs.String()) {
			t.Errorf("the plaintext of the %s key reached the logs", n)
		}
	}
}

func TestSourcesMisbehavingUpstreamSlowsOnlyItself(t *testing.T) {
	t.Parallel()
	up := newUpstreams(t, "npm,pastebin")
	mail := notifiertest.NewSMTPServer(t)
	up.vars["LEAKGUARD_SMTP_ADDR"] = mail.Addr()
	getenv := envFrom(up.vars)
	npmKey := createAccount(t, getenv, "npm-victim@example.com").Secret
	pasteKey := createAccount(t, getenv, "paste-victim@example.com").Secret
	pasteKey2 := createAccount(t, getenv, "paste-victim2@example.com").Secret
	logs := &syncBuffer{}

	// npm is down behind its CDN from the start.
	up.npm.Break(http.StatusInternalServerError, "text/html", "<html><body><h1>500 Internal Server Error</h1></body></html>")
	d := startDaemon(t, getenv, logs)
	time.Sleep(2 * e2ePoll)
	up.npm.PlantPackage("stuck-e2e", "1.0.0", map[string]string{"index.js": "module.exports='" + npmKey + "'\n"})

	planted := time.Now()
	up.pb.PlantPaste("Sl0wN0t", "key="+pasteKey+"\n")
	at := revocations(t, d.info.Addr, map[string]string{"pastebin": pasteKey}, 10*time.Second)
	t.Logf("pastebin key revoked %v after planting while npm answered 500", at["pastebin"].Sub(planted).Round(time.Millisecond))
	if code, body := getAccount(t, d.info.Addr, npmKey); code != http.StatusOK {
		t.Fatalf("npm key answered %d %s while npm was down: it can't have been found", code, body)
	}

	// Then it answers 200 with garbage for a while.
	broken := up.npm.BrokenAnswers()
	up.npm.Break(http.StatusOK, "application/json", `{"results":[{"seq":`)
	planted = time.Now()
	up.pb.PlantPaste("Sl0wN0t2", "again="+pasteKey2+"\n")
	at = revocations(t, d.info.Addr, map[string]string{"pastebin-2": pasteKey2}, 10*time.Second)
	t.Logf("second pastebin key revoked %v after planting while npm answered garbage", at["pastebin-2"].Sub(planted).Round(time.Millisecond))
	testenv.WaitFor(t, 20*time.Second, "npm to be polled while it answers garbage", func() bool { return up.npm.BrokenAnswers() > broken })
	if !strings.Contains(logs.String(), "source=npm") {
		t.Errorf("the npm failures left no log line naming the source")
	}

	healed := time.Now()
	up.npm.Heal()
	at = revocations(t, d.info.Addr, map[string]string{"npm": npmKey}, 30*time.Second)
	t.Logf("npm key revoked %v after npm healed (its backoff decides)", at["npm"].Sub(healed).Round(time.Millisecond))
	mailsByOwner(t, mail, []string{"npm-victim@example.com", "paste-victim@example.com", "paste-victim2@example.com"}, 30*time.Second)
	for _, k := range []string{npmKey, pasteKey, pasteKey2} {
		if testenv.Contains(k, logs.String()) {
			t.Errorf("a plaintext key reached the logs")
		}
	}
}
