package dockerhub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/sources"
)

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 123456000, time.UTC)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func poll(t *testing.T, h *harness, cursor string) sources.Batch {
	t.Helper()
	b, err := h.src.Poll(context.Background(), cursor)
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	return b
}

func assertNoPlaintext(t *testing.T, h *harness, keys ...string) {
	t.Helper()
	b, _ := json.Marshal(h.pub.all())
	for _, k := range keys {
		if strings.Contains(string(b), k) || strings.Contains(h.logs.String(), k) {
			t.Error("the plaintext key reached a hit or the log")
		}
	}
}

func TestTokenChallengeConfigAndGzipLayer(t *testing.T) {
	h := newHarness(t, Config{})
	kEnv, kLayer, kHist := newKey(t), newKey(t), newKey(t)
	layer := h.fake.addBlob("application/vnd.docker.image.rootfs.diff.tar.gzip",
		gzipOf(t, tarOf(t, "app/", "", "app/.env", "DEBUG=1\nSTRIPE_KEY="+kLayer+"\n", "app/main.py", "print(1)\n")))
	cfg := configJSON([]string{"PATH=/usr/bin", "API_KEY=" + kEnv}, "/bin/sh -c #(nop) ADD file:abc in /", "RUN curl -H 'Authorization: Bearer "+kHist+"' https://x")
	img := h.fake.image(mediaDockerManifest, cfg, layer)
	h.fake.tag("acme", "web", "v1", img, t0)

	b := poll(t, h, "")
	hits := h.pub.all()
	if len(hits) != 3 {
		t.Fatalf("%d hits, want 3: %+v", len(hits), hits)
	}
	// The exact blob at the configured registry, never hub.docker.com.
	blobs := h.fake.regURL + "/v2/acme/web/blobs/"
	base := leakguard.Location{URL: blobs + digestOf(cfg), Repository: "acme/web:v1", Commit: img.Digest}
	want := map[string]leakguard.Location{}
	l := base
	l.URL, l.Path, l.Line, l.Layer = blobs+layer.Digest, "app/.env", 2, layer.Digest
	want[sha(kLayer)] = l
	l = base
	l.Path, l.Line = "config:Env", 2
	want[sha(kEnv)] = l
	l = base
	l.Path, l.Line = "config:history[1].created_by", 1
	want[sha(kHist)] = l
	for _, hit := range hits {
		w, ok := want[hit.SecretSHA256]
		if !ok {
			t.Errorf("unexpected hit %+v", hit)
			continue
		}
		if hit.Location != w {
			t.Errorf("location = %+v, want %+v", hit.Location, w)
		}
		if hit.Source != "dockerhub" || hit.Rule != "leakguard-restricted-key" || !strings.HasPrefix(hit.Redacted, "rk_test_") {
			t.Errorf("hit = %+v", hit)
		}
	}
	assertNoPlaintext(t, h, kEnv, kLayer, kHist)

	// The token dance: one 401 per repository, one token request with the
	// challenge's service and the repository pull scope.
	if len(h.fake.TokenQueries()) != 1 {
		t.Fatalf("token requests: %v", h.fake.TokenQueries())
	}
	q, _ := url.ParseQuery(h.fake.TokenQueries()[0])
	if q.Get("service") != "registry.docker.io" || q.Get("scope") != "repository:acme/web:pull" {
		t.Errorf("token request %v", q)
	}
	var st cursorState
	if err := json.Unmarshal([]byte(b.Cursor), &st); err != nil || !st.Repos["acme/web"].Equal(t0) {
		t.Fatalf("cursor %s", b.Cursor)
	}

	// Nothing new: no manifest is pulled again.
	before := h.fake.total("GET /v2/")
	if b2 := poll(t, h, b.Cursor); b2.Cursor != "" {
		t.Errorf("idle poll moved the cursor to %s", b2.Cursor)
	}
	if h.fake.total("GET /v2/") != before {
		t.Error("an unchanged repository was pulled again")
	}
	if h.fake.count("HUB /v2/namespaces/acme/repositories/web/tags") != 1 {
		t.Error("tags of an unchanged repository were listed again")
	}
}

func TestChallengeWithoutRealmUsesAuthURL(t *testing.T) {
	h := newHarness(t, Config{})
	h.fake.SetRealm(false)
	h.src = newSource(Config{HubURL: h.fake.hubURL, RegistryURL: h.fake.regURL, AuthURL: h.fake.authURL,
		Namespaces: []string{"acme"}}, h.src.env)
	k := newKey(t)
	img := h.fake.image(mediaOCIManifest, configJSON([]string{"K=" + k}))
	h.fake.tag("acme", "app", "latest", img, t0)
	poll(t, h, "")
	if len(h.pub.all()) != 1 || h.fake.count("AUTH /token") != 1 {
		t.Fatalf("hits %d, token requests %d", len(h.pub.all()), h.fake.count("AUTH /token"))
	}
}

func TestManifestListAndOCIIndexFanOut(t *testing.T) {
	for _, tc := range []struct{ name, indexType, imageType string }{
		{"docker manifest list", mediaDockerList, mediaDockerManifest},
		{"oci index", mediaOCIIndex, mediaOCIManifest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			kAmd, kArm := newKey(t), newKey(t)
			amdLayer := h.fake.addBlob("application/vnd.oci.image.layer.v1.tar+gzip", gzipOf(t, tarOf(t, "etc/app.conf", "key="+kAmd+"\n")))
			armLayer := h.fake.addBlob("application/vnd.oci.image.layer.v1.tar+zstd", zstdOf(t, tarOf(t, "srv/a", "x\n", "srv/secret.txt", "\n\n"+kArm)))
			amd := h.fake.image(tc.imageType, configJSON(nil), amdLayer)
			arm := h.fake.image(tc.imageType, configJSON([]string{"A=1"}), armLayer)
			att := h.fake.image(mediaOCIManifest, []byte(`{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":[]}}`),
				h.fake.addBlob("application/vnd.in-toto+json", []byte(`{"predicateType":"https://slsa.dev/provenance/v0.2"}`)))
			idx := h.fake.index(tc.indexType,
				platformImage{os: "linux", arch: "amd64", desc: amd},
				platformImage{os: "linux", arch: "arm64", desc: arm},
				platformImage{os: "unknown", arch: "unknown", desc: att, attest: true})
			h.fake.tag("acme", "multi", "1.0", idx, t0)
			poll(t, h, "")
			hits := h.pub.all()
			if len(hits) != 2 {
				t.Fatalf("%d hits, want 2: %+v", len(hits), hits)
			}
			got := map[string]leakguard.Location{}
			for _, hit := range hits {
				got[hit.SecretSHA256] = hit.Location
			}
			blobs := h.fake.regURL + "/v2/acme/multi/blobs/"
			wantAmd := leakguard.Location{URL: blobs + amdLayer.Digest, Repository: "acme/multi:1.0",
				Commit: amd.Digest, Layer: amdLayer.Digest, Path: "etc/app.conf", Line: 1}
			wantArm := leakguard.Location{URL: blobs + armLayer.Digest, Repository: "acme/multi:1.0",
				Commit: arm.Digest, Layer: armLayer.Digest, Path: "srv/secret.txt", Line: 3}
			if got[sha(kAmd)] != wantAmd || got[sha(kArm)] != wantArm {
				t.Errorf("locations = %+v\nwant %+v and %+v", got, wantAmd, wantArm)
			}
			if h.fake.count("GET /v2/acme/multi/manifests/"+att.Digest) != 0 {
				t.Error("the attestation manifest was pulled")
			}
		})
	}
}

func TestLayerDedupeAcrossTagsAndRepos(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	shared := h.fake.addBlob("application/vnd.oci.image.layer.v1.tar+gzip", gzipOf(t, tarOf(t, "opt/creds", k)))
	own := h.fake.addBlob("application/vnd.oci.image.layer.v1.tar", tarOf(t, "opt/other", "nothing"))
	img1 := h.fake.image(mediaOCIManifest, configJSON([]string{"V=1"}), shared)
	img2 := h.fake.image(mediaOCIManifest, configJSON([]string{"V=2"}), shared, own)
	h.fake.tag("acme", "api", "v1", img1, t0)
	h.fake.tag("acme", "api", "v2", img2, t0.Add(time.Minute))
	h.fake.tag("acme", "worker", "latest", img2, t0.Add(2*time.Minute))
	poll(t, h, "")
	if n := h.fake.count("GET /v2/acme/api/blobs/"+shared.Digest) + h.fake.count("GET /v2/acme/worker/blobs/"+shared.Digest); n != 1 {
		t.Fatalf("shared layer fetched %d times, want 1", n)
	}
	if n := h.fake.count("GET /v2/acme/worker/blobs/" + own.Digest); n != 0 {
		t.Errorf("a layer seen under acme/api was fetched again for acme/worker")
	}
	if hits := h.pub.all(); len(hits) != 1 || hits[0].Location.Repository != "acme/api:v1" {
		t.Fatalf("hits = %+v, want one, at its first sighting", hits)
	}
}

func TestRateLimited429(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	first := h.fake.image(mediaOCIManifest, configJSON([]string{"K=" + k}))
	second := h.fake.image(mediaOCIManifest, configJSON([]string{"K=2"}))
	h.fake.tag("acme", "a", "one", first, t0)
	h.fake.tag("acme", "b", "two", second, t0)
	h.fake.SetManifestHook(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasPrefix(r.URL.Path, "/v2/acme/b/") {
			w.Header().Set("Retry-After", "30")
			w.Header().Set("ratelimit-remaining", "0;w=21600")
			registryError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "You have reached your pull rate limit.")
			return true
		}
		return false
	})
	before := time.Now()
	b, err := h.src.Poll(context.Background(), "")
	var rl *httpx.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want RateLimitedError", err)
	}
	if d := rl.Until.Sub(before); d < 29*time.Second || d > 35*time.Second {
		t.Errorf("Until is %v away, want Retry-After's 30s", d)
	}
	var st cursorState
	json.Unmarshal([]byte(b.Cursor), &st)
	if !st.Repos["acme/a"].Equal(t0) || !st.Repos["acme/b"].IsZero() {
		t.Errorf("cursor %s: want acme/a done and acme/b not", b.Cursor)
	}
	if len(h.pub.all()) != 1 {
		t.Errorf("hits of the tag pulled before the limit: %d", len(h.pub.all()))
	}
}

func TestRateLimitRemainingZeroStopsPulls(t *testing.T) {
	h := newHarness(t, Config{})
	h.fake.SetRateRemaining("0;w=21600")
	a := h.fake.image(mediaOCIManifest, configJSON([]string{"A=1"}))
	b := h.fake.image(mediaOCIManifest, configJSON([]string{"B=1"}))
	h.fake.tag("acme", "a", "x", a, t0)
	h.fake.tag("acme", "b", "y", b, t0)
	start := time.Now()
	batch, err := h.src.Poll(context.Background(), "")
	var rl *httpx.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want RateLimitedError", err)
	}
	if d := rl.Until.Sub(start); d < 6*time.Hour-time.Minute || d > 6*time.Hour+time.Minute {
		t.Errorf("Until is %v away, want the 6h window", d)
	}
	if h.fake.count("GET /v2/acme/b/manifests/"+b.Digest) != 0 {
		t.Error("a manifest was pulled after ratelimit-remaining: 0")
	}
	// The image whose pull used the last unit is still scanned.
	if h.fake.count("GET /v2/acme/a/blobs/"+mustConfig(t, h, a)) != 1 || !strings.Contains(batch.Cursor, "acme/a") {
		t.Errorf("the image pulled with the last unit was not finished: cursor %s", batch.Cursor)
	}
}

func mustConfig(t *testing.T, h *harness, d descriptor) string {
	t.Helper()
	var m manifest
	if err := json.Unmarshal(h.fake.Manifest(d.Digest), &m); err != nil {
		t.Fatal(err)
	}
	return m.Config.Digest
}

func TestLayerDigestMismatchPublishesNothing(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	layer := h.fake.addBlob("application/vnd.oci.image.layer.v1.tar+gzip", gzipOf(t, tarOf(t, "x", k)))
	evil := gzipOf(t, tarOf(t, "x", k+" "))
	h.fake.SetBlob(layer.Digest, func(w http.ResponseWriter, _ *http.Request) { w.Write(evil) })
	img := h.fake.image(mediaOCIManifest, configJSON(nil), layer)
	h.fake.tag("acme", "bad", "v", img, t0)
	b := poll(t, h, "")
	if len(h.pub.all()) != 0 {
		t.Fatalf("hits from a layer whose digest did not match: %+v", h.pub.all())
	}
	if !strings.Contains(h.logs.String(), "digest mismatch") || !strings.Contains(b.Cursor, "acme/bad") {
		t.Errorf("mismatch not reported or cursor stuck: %s", b.Cursor)
	}
	assertNoPlaintext(t, h, k)
}

func TestTransientLayerFailureIsRetried(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	body := gzipOf(t, tarOf(t, "f", k))
	layer := h.fake.addBlob("application/vnd.oci.image.layer.v1.tar+gzip", body)
	fail := true
	h.fake.SetBlob(layer.Digest, func(w http.ResponseWriter, _ *http.Request) {
		if fail {
			registryError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "try later")
			return
		}
		w.Write(body)
	})
	img := h.fake.image(mediaOCIManifest, configJSON(nil), layer)
	h.fake.tag("acme", "flaky", "v", img, t0)
	b, err := h.src.Poll(context.Background(), "")
	if err == nil || strings.Contains(b.Cursor, "acme/flaky") {
		t.Fatalf("Poll = %+v, %v; want an error and the tag not passed", b, err)
	}
	fail = false
	poll(t, h, b.Cursor)
	if len(h.pub.all()) != 1 {
		t.Fatal("the layer's hit was lost after a transient failure")
	}
}

func TestHubPaginationAndTagCursor(t *testing.T) {
	h := newHarness(t, Config{})
	h.fake.SetPageLimit(2)
	img := h.fake.image(mediaOCIManifest, configJSON(nil))
	for i, r := range []string{"r1", "r2", "r3", "r4", "r5"} {
		h.fake.tag("acme", r, "latest", img, t0.Add(time.Duration(i)*time.Second))
	}
	for i := 0; i < 5; i++ {
		h.fake.tag("acme", "r1", "t"+string(rune('a'+i)), img, t0.Add(time.Duration(i)*time.Minute))
	}
	b := poll(t, h, "")
	var st cursorState
	json.Unmarshal([]byte(b.Cursor), &st)
	if len(st.Repos) != 5 {
		t.Fatalf("cursor covers %d repositories, want all 5 across Hub pages: %s", len(st.Repos), b.Cursor)
	}
	if !st.Repos["acme/r1"].Equal(t0.Add(4 * time.Minute)) {
		t.Errorf("acme/r1 cursor = %v", st.Repos["acme/r1"])
	}
	// A new tag on r3 only: only it is pulled.
	newer := h.fake.image(mediaOCIManifest, configJSON([]string{"N=1"}))
	h.fake.tag("acme", "r3", "new", newer, t0.Add(time.Hour))
	before := h.fake.manifestsPulled()
	poll(t, h, b.Cursor)
	if n, all := h.fake.count("GET /v2/acme/r3/manifests/"+newer.Digest), h.fake.manifestsPulled()-before; n != 1 || all != 1 {
		t.Errorf("the second poll did not pull exactly the new tag: new %d, all %d", n, all)
	}
	// The same image under five repositories was pulled once.
	if before != 1 {
		t.Errorf("one image under several tags was pulled %d times", before)
	}
}

func TestMaxTagsPerPoll(t *testing.T) {
	h := newHarness(t, Config{MaxTagsPerPoll: 2})
	for i := 0; i < 5; i++ {
		img := h.fake.image(mediaOCIManifest, configJSON([]string{"I=" + string(rune('0'+i))}))
		h.fake.tag("acme", "r", "t"+string(rune('0'+i)), img, t0.Add(time.Duration(i)*time.Minute))
	}
	cursor := ""
	for i := 0; i < 3; i++ {
		b := poll(t, h, cursor)
		if b.Items > 2 {
			t.Fatalf("poll %d pulled %d tags, limit 2", i, b.Items)
		}
		cursor = b.Cursor
	}
	var st cursorState
	json.Unmarshal([]byte(cursor), &st)
	if !st.Repos["acme/r"].Equal(t0.Add(4 * time.Minute)) {
		t.Errorf("after three polls the cursor is %s", cursor)
	}
}

func TestCursorErrors(t *testing.T) {
	h := newHarness(t, Config{})
	if _, err := h.src.Poll(context.Background(), "not json"); err == nil {
		t.Error("a corrupt cursor was accepted")
	}
	st := cursorState{Repos: map[string]time.Time{}}
	for i := 0; i < maxCursorRepos+10; i++ {
		st.Repos[strings.Repeat("x", 3)+string(rune(i))] = t0.Add(time.Duration(i) * time.Second)
	}
	back, err := parseCursor(st.encode())
	if err != nil || len(back.Repos) != maxCursorRepos {
		t.Fatalf("bounded cursor: %d entries, %v", len(back.Repos), err)
	}
}

func TestParseChallenge(t *testing.T) {
	ch := parseChallenge([]string{`Basic realm="x"`, `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull",error="insufficient_scope"`})
	if ch.params["realm"] != "https://auth.docker.io/token" || ch.params["service"] != "registry.docker.io" ||
		ch.params["scope"] != "repository:library/ubuntu:pull" || ch.params["error"] != "insufficient_scope" {
		t.Errorf("params = %v", ch.params)
	}
	ch = parseChallenge([]string{`bearer realm=https://a/t, service="s\"q"`})
	if ch.params["realm"] != "https://a/t" || ch.params["service"] != `s"q` {
		t.Errorf("params = %v", ch.params)
	}
}

func TestParseRateLimit(t *testing.T) {
	for in, want := range map[string][2]int{"100;w=21600": {100, 21600}, "0;w=21600": {0, 21600}, " 7 ": {7, 0}} {
		n, w, ok := parseRateLimit(in)
		if !ok || n != want[0] || w != time.Duration(want[1])*time.Second {
			t.Errorf("parseRateLimit(%q) = %d, %v, %v", in, n, w, ok)
		}
	}
	if _, _, ok := parseRateLimit("lots"); ok {
		t.Error("garbage accepted")
	}
}

func FuzzParseChallenge(f *testing.F) {
	f.Add(`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull"`)
	f.Add(`Bearer realm="\`)
	f.Add(`Bearer ,,,=,"`)
	f.Fuzz(func(t *testing.T, v string) {
		parseChallenge([]string{v})
	})
}

func FuzzParseManifest(f *testing.F) {
	f.Add(mediaOCIManifest, []byte(`{"schemaVersion":2,"config":{"digest":"sha256:`+strings.Repeat("a", 64)+`"},"layers":[]}`))
	f.Add(mediaDockerList, []byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:x"}]}`))
	f.Add("", []byte(`{"schemaVersion":1}`))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		m, err := parseManifest(ct, body)
		if err == nil && !m.isIndex() && (m.Config == nil || !validDigest(m.Config.Digest)) {
			t.Fatal("an image manifest without a valid config was accepted")
		}
	})
}

func FuzzParseCursor(f *testing.F) {
	f.Add(`{"repos":{"a/b":"2026-11-01T10:00:00Z"}}`)
	f.Add(`{"repos":null}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, c string) {
		st, err := parseCursor(c)
		if err == nil {
			if _, err := parseCursor(st.encode()); err != nil {
				t.Fatalf("a cursor this source wrote does not parse: %v", err)
			}
		}
	})
}

func TestHubRateLimitAndMissingNamespace(t *testing.T) {
	h := newHarness(t, Config{Namespaces: []string{"nobody", "acme"}})
	img := h.fake.image(mediaOCIManifest, configJSON(nil))
	h.fake.tag("acme", "r", "v", img, t0)
	// A namespace that does not exist is skipped without failing the poll.
	b := poll(t, h, "")
	if !strings.Contains(b.Cursor, "acme/r") || !strings.Contains(h.logs.String(), "nobody") {
		t.Fatalf("cursor %s; logs %s", b.Cursor, h.logs.String())
	}
	// Hub's own API answering 429 parks the source.
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "90")
		w.Header().Set("X-RateLimit-Remaining", "0")
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "Too Many Requests"})
	}))
	defer hub.Close()
	src := newSource(Config{HubURL: hub.URL, RegistryURL: h.fake.regURL, Namespaces: []string{"acme"}}, h.src.env)
	_, err := src.Poll(context.Background(), "")
	var rl *httpx.RateLimitedError
	if !errors.As(err, &rl) || time.Until(rl.Until) < 80*time.Second {
		t.Fatalf("err = %v, want a RateLimitedError about 90s away", err)
	}
}

func TestBlobRedirectToCDN(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	body := gzipOf(t, tarOf(t, "root/.npmrc", "//registry.npmjs.org/:_authToken="+k+"\n"))
	var cdnAuth []string
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cdnAuth = append(cdnAuth, r.Header.Get("Authorization"))
		w.Write(body)
	}))
	defer cdn.Close()
	layer := h.fake.addBlob("application/vnd.docker.image.rootfs.diff.tar.gzip", body)
	h.fake.SetBlob(layer.Digest, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", strings.Replace(cdn.URL, "127.0.0.1", "localhost", 1)+"/blobs/"+layer.Digest+"?sig=abc")
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	img := h.fake.image(mediaDockerManifest, configJSON(nil), layer)
	h.fake.tag("acme", "cdn", "v", img, t0)
	poll(t, h, "")
	if len(h.pub.all()) != 1 || h.pub.all()[0].Location.Path != "root/.npmrc" {
		t.Fatalf("hits = %+v", h.pub.all())
	}
	if len(cdnAuth) != 1 || cdnAuth[0] != "" {
		t.Errorf("the registry token was sent to the CDN: %q", cdnAuth)
	}
}

func TestRepositoryChangeWithoutNewTags(t *testing.T) {
	h := newHarness(t, Config{})
	img := h.fake.image(mediaOCIManifest, configJSON(nil))
	h.fake.tag("acme", "r", "v", img, t0)
	b := poll(t, h, "")
	// The repository's last_updated moves (a new description) while its
	// tags stay put: one look at the tags, then no more.
	h.fake.SetRepoUpdated("acme/r", t0.Add(time.Hour))
	b2 := poll(t, h, b.Cursor)
	listed := h.fake.count("HUB /v2/namespaces/acme/repositories/r/tags")
	if listed != 2 || h.fake.manifestsPulled() != 1 {
		t.Fatalf("tags listed %d times, %d pulls", listed, h.fake.manifestsPulled())
	}
	poll(t, h, b2.Cursor)
	if h.fake.count("HUB /v2/namespaces/acme/repositories/r/tags") != listed {
		t.Error("tags of a repository with nothing new were listed again")
	}
}

func TestNonFilesystemAndForeignLayersAreSkipped(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	chart := h.fake.addBlob("application/vnd.cncf.helm.chart.content.v1.tar+gzip", gzipOf(t, tarOf(t, "values.yaml", "k: "+k)))
	foreign := descriptor{MediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
		Digest: "sha256:" + strings.Repeat("f", 64), Size: 1000, URLs: []string{"https://mcr.microsoft.com/blob"}}
	img := h.fake.image(mediaOCIManifest, configJSON(nil), chart, foreign)
	h.fake.tag("acme", "mixed", "v", img, t0)
	b := poll(t, h, "")
	if h.fake.count("GET /v2/acme/mixed/blobs/"+chart.Digest) != 0 || h.fake.count("GET /v2/acme/mixed/blobs/"+foreign.Digest) != 0 {
		t.Error("a non-filesystem or foreign layer was downloaded")
	}
	if !strings.Contains(b.Cursor, "acme/mixed") {
		t.Errorf("cursor %s", b.Cursor)
	}
}

func TestManifestDigestMismatchIsSkipped(t *testing.T) {
	h := newHarness(t, Config{})
	k := newKey(t)
	good := h.fake.image(mediaOCIManifest, configJSON([]string{"K=" + k}))
	other := h.fake.image(mediaOCIManifest, configJSON([]string{"K=other"}))
	// The tag claims good's digest, the registry serves other's bytes.
	h.fake.SetManifest(good.Digest, good.MediaType, h.fake.Manifest(other.Digest))
	h.fake.tag("acme", "swap", "v", good, t0)
	b := poll(t, h, "")
	if len(h.pub.all()) != 0 || !strings.Contains(h.logs.String(), "digest mismatch") || !strings.Contains(b.Cursor, "acme/swap") {
		t.Fatalf("hits %d, cursor %s", len(h.pub.all()), b.Cursor)
	}
}

func TestPoisonedTagIsGivenUpOn(t *testing.T) {
	h := newHarness(t, Config{})
	layer := h.fake.addBlob("application/vnd.oci.image.layer.v1.tar", tarOf(t, "a", "b"))
	h.fake.SetBlob(layer.Digest, func(w http.ResponseWriter, _ *http.Request) {
		registryError(w, http.StatusInternalServerError, "UNKNOWN", "boom")
	})
	h.fake.tag("acme", "p", "v", h.fake.image(mediaOCIManifest, configJSON(nil), layer), t0)
	cursor := ""
	for i := 0; i < maxTagAttempts; i++ {
		b, err := h.src.Poll(context.Background(), cursor)
		if b.Cursor != "" {
			cursor = b.Cursor
		}
		if i < maxTagAttempts-1 && (err == nil || strings.Contains(cursor, "acme/p")) {
			t.Fatalf("poll %d: %v, cursor %s: gave up too early", i, err, cursor)
		}
	}
	if !strings.Contains(cursor, "acme/p") || !strings.Contains(h.logs.String(), "giving up") {
		t.Fatalf("after %d failed polls the tag still blocks: cursor %s", maxTagAttempts, cursor)
	}
}
