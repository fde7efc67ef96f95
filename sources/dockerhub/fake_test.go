package dockerhub

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"

	"github.com/klauspost/compress/zstd"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
)

// fakeHub is Docker Hub as seen from outside: the Hub API (namespaces,
// repositories, tags, paginated with absolute next links), the Registry v2
// API that answers 401 with a Bearer challenge until given a token for the
// repository, and the token service.
type fakeHub struct {
	t     testing.TB
	hub   *httptest.Server
	reg   *httptest.Server
	auth  *httptest.Server
	realm string // "" leaves realm out of the challenge

	mu        sync.Mutex
	pageLimit int                            // Hub page size cap, to force pagination
	repos     map[string]map[string][]tagRow // ns → repo → tags
	blobs     map[string]func(w http.ResponseWriter)
	manifests map[string]manifestRow // digest → manifest
	tagRefs   map[string]string      // "ns/repo:tag" → digest
	requests  map[string]int         // "METHOD path" → count
	tokenReqs []string               // raw queries of token requests
	// manifestHook, when set, may answer a manifest request itself.
	manifestHook func(w http.ResponseWriter, r *http.Request, n int) bool
	rateHeader   string               // ratelimit-remaining value on manifest answers
	repoUpdated  map[string]time.Time // "ns/repo" → last_updated, overriding the newest tag's
}

type tagRow struct {
	Name        string    `json:"name"`
	Digest      string    `json:"digest"`
	LastUpdated time.Time `json:"last_updated"`
	MediaType   string    `json:"media_type"`
}

type manifestRow struct {
	mediaType string
	body      []byte
}

func newFakeHub(t testing.TB) *fakeHub {
	f := &fakeHub{t: t, pageLimit: 100, repos: map[string]map[string][]tagRow{},
		blobs: map[string]func(http.ResponseWriter){}, manifests: map[string]manifestRow{},
		tagRefs: map[string]string{}, requests: map[string]int{}}
	f.hub = httptest.NewServer(http.HandlerFunc(f.serveHub))
	f.reg = httptest.NewServer(http.HandlerFunc(f.serveRegistry))
	f.auth = httptest.NewServer(http.HandlerFunc(f.serveToken))
	f.realm = f.auth.URL + "/token"
	t.Cleanup(func() { f.hub.Close(); f.reg.Close(); f.auth.Close() })
	return f
}

func (f *fakeHub) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[key]
}

func (f *fakeHub) total(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, v := range f.requests {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

// manifestsPulled counts authorized manifest GETs (Docker Hub's "pulls").
func (f *fakeHub) manifestsPulled() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, v := range f.requests {
		if strings.HasPrefix(k, "GET /v2/") && strings.Contains(k, "/manifests/") {
			n += v
		}
	}
	return n
}

func (f *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests["HUB "+r.URL.Path]++
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// v2/namespaces/{ns}/repositories[/{repo}/tags]
	if len(parts) < 4 || parts[0] != "v2" || parts[1] != "namespaces" || parts[3] != "repositories" {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "page not found", "errinfo": map[string]any{}})
		return
	}
	ns := parts[2]
	repos, ok := f.repos[ns]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "namespace not found", "errinfo": map[string]any{}})
		return
	}
	q := r.URL.Query()
	size, _ := strconv.Atoi(q.Get("page_size"))
	if size <= 0 {
		size = 10
	}
	size = min(size, 100, f.pageLimit)
	page, _ := strconv.Atoi(q.Get("page"))
	if page <= 0 {
		page = 1
	}
	var rows []any
	switch {
	case len(parts) == 4:
		names := make([]string, 0, len(repos))
		for n := range repos {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			var last *time.Time
			for _, t := range repos[n] {
				if last == nil || t.LastUpdated.After(*last) {
					tt := t.LastUpdated
					last = &tt
				}
			}
			if u, ok := f.repoUpdated[ns+"/"+n]; ok {
				last = &u
			}
			rows = append(rows, map[string]any{"name": n, "namespace": ns, "repository_type": "image",
				"status": 1, "is_private": false, "star_count": 0, "pull_count": 7, "last_updated": last,
				"date_registered": "2024-01-01T00:00:00Z", "content_types": []string{"image"}})
		}
	case len(parts) == 6 && parts[5] == "tags":
		tags, ok := repos[parts[4]]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": "object not found", "errinfo": map[string]any{}})
			return
		}
		sorted := append([]tagRow(nil), tags...)
		if q.Get("ordering") == "last_updated" { // newest first, as Hub does
			sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].LastUpdated.After(sorted[j].LastUpdated) })
		}
		for _, t := range sorted {
			rows = append(rows, map[string]any{"name": t.Name, "digest": t.Digest, "last_updated": t.LastUpdated,
				"tag_last_pushed": t.LastUpdated, "media_type": t.MediaType, "content_type": "image",
				"full_size": 1234, "id": 1, "repository": 1, "tag_status": "active", "v2": true, "images": []any{}})
		}
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "page not found"})
		return
	}
	start := (page - 1) * size
	end := min(start+size, len(rows))
	if start > len(rows) {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Invalid page."})
		return
	}
	var next, prev any
	if end < len(rows) {
		nq := r.URL.Query()
		nq.Set("page", strconv.Itoa(page+1))
		next = "https://hub.docker.com" + r.URL.Path + "?" + nq.Encode() // Hub writes its own host
	}
	if page > 1 {
		pq := r.URL.Query()
		pq.Set("page", strconv.Itoa(page-1))
		prev = "https://hub.docker.com" + r.URL.Path + "?" + pq.Encode()
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(rows), "next": next, "previous": prev, "results": rows[start:end]})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func registryError(w http.ResponseWriter, code int, ecode, msg string) {
	writeJSON(w, code, map[string]any{"errors": []map[string]any{{"code": ecode, "message": msg, "detail": nil}}})
}

func (f *fakeHub) serveToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests["AUTH "+r.URL.Path]++
	f.tokenReqs = append(f.tokenReqs, r.URL.RawQuery)
	f.mu.Unlock()
	q := r.URL.Query()
	if q.Get("service") != "registry.docker.io" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"details": "unknown service"})
		return
	}
	scope := q.Get("scope")
	if !strings.HasPrefix(scope, "repository:") || !strings.HasSuffix(scope, ":pull") {
		writeJSON(w, http.StatusBadRequest, map[string]any{"details": "bad scope"})
		return
	}
	tok := "tok-" + scope
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "access_token": tok, "expires_in": 300,
		"issued_at": time.Now().UTC().Format(time.RFC3339)})
}

func (f *fakeHub) serveRegistry(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	var repo, kind, ref string
	for _, k := range []string{"/manifests/", "/blobs/"} {
		if i := strings.LastIndex(path, k); i > 0 && strings.HasPrefix(path, "/v2/") {
			repo, kind, ref = path[len("/v2/"):i], strings.Trim(k, "/"), path[i+len(k):]
		}
	}
	authorized := repo != "" && r.Header.Get("Authorization") == "Bearer tok-repository:"+repo+":pull"
	// Requests are counted as "GET path" once authorized, "401 path" before.
	key := r.Method + " " + path
	if !authorized {
		key = "401 " + path
	}
	f.mu.Lock()
	f.requests[key]++
	n := f.requests[key]
	hook := f.manifestHook
	rate := f.rateHeader
	f.mu.Unlock()
	if repo == "" {
		registryError(w, http.StatusNotFound, "NOT_FOUND", "not found")
		return
	}
	if !authorized {
		ch := `Bearer service="registry.docker.io",scope="repository:` + repo + `:pull"`
		if f.realm != "" {
			ch = `Bearer realm="` + f.realm + `",service="registry.docker.io",scope="repository:` + repo + `:pull"`
		}
		w.Header().Set("WWW-Authenticate", ch)
		registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	switch kind {
	case "manifests":
		if hook != nil && hook(w, r, n) {
			return
		}
		f.mu.Lock()
		digest := ref
		if !strings.HasPrefix(ref, "sha256:") {
			digest = f.tagRefs[repo+":"+ref]
		}
		m, ok := f.manifests[digest]
		f.mu.Unlock()
		if !ok {
			registryError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
			return
		}
		if !strings.Contains(r.Header.Get("Accept"), m.mediaType) {
			registryError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "no manifest of an accepted type")
			return
		}
		if rate != "" {
			w.Header().Set("ratelimit-limit", "100;w=21600")
			w.Header().Set("ratelimit-remaining", rate)
		}
		w.Header().Set("Content-Type", m.mediaType)
		w.Header().Set("Docker-Content-Digest", digest)
		w.Header().Set("Content-Length", strconv.Itoa(len(m.body)))
		w.Write(m.body)
	case "blobs":
		f.mu.Lock()
		b, ok := f.blobs[ref]
		f.mu.Unlock()
		if !ok {
			registryError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")
			return
		}
		w.Header().Set("Docker-Content-Digest", ref)
		b(w)
	}
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// addBlob stores bytes under their digest and returns a descriptor.
func (f *fakeHub) addBlob(mediaType string, b []byte) descriptor {
	d := digestOf(b)
	f.mu.Lock()
	f.blobs[d] = func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	}
	f.mu.Unlock()
	return descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}
}

// image stores a config and a manifest of the given type over layers and
// returns the manifest's descriptor.
func (f *fakeHub) image(manifestType string, config []byte, layers ...descriptor) descriptor {
	cfgType := "application/vnd.oci.image.config.v1+json"
	if manifestType == mediaDockerManifest {
		cfgType = "application/vnd.docker.container.image.v1+json"
	}
	cd := f.addBlob(cfgType, config)
	m := map[string]any{"schemaVersion": 2, "mediaType": manifestType, "config": cd, "layers": layers}
	return f.addManifest(manifestType, m)
}

func (f *fakeHub) addManifest(mediaType string, m any) descriptor {
	b, err := json.Marshal(m)
	if err != nil {
		f.t.Fatal(err)
	}
	d := digestOf(b)
	f.mu.Lock()
	f.manifests[d] = manifestRow{mediaType: mediaType, body: b}
	f.mu.Unlock()
	return descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}
}

type platformImage struct {
	os, arch string
	desc     descriptor
	attest   bool
}

func (f *fakeHub) index(mediaType string, imgs ...platformImage) descriptor {
	var ms []map[string]any
	for _, p := range imgs {
		e := map[string]any{"mediaType": p.desc.MediaType, "digest": p.desc.Digest, "size": p.desc.Size,
			"platform": map[string]string{"os": p.os, "architecture": p.arch}}
		if p.attest {
			e["annotations"] = map[string]string{"vnd.docker.reference.digest": imgs[0].desc.Digest, "vnd.docker.reference.type": "attestation-manifest"}
		}
		ms = append(ms, e)
	}
	return f.addManifest(mediaType, map[string]any{"schemaVersion": 2, "mediaType": mediaType, "manifests": ms})
}

// tag points ns/repo:tag at a manifest, updated at when.
func (f *fakeHub) tag(ns, repo, tag string, d descriptor, when time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.repos[ns] == nil {
		f.repos[ns] = map[string][]tagRow{}
	}
	rows := f.repos[ns][repo]
	for i := range rows {
		if rows[i].Name == tag {
			rows = append(rows[:i], rows[i+1:]...)
			break
		}
	}
	f.repos[ns][repo] = append(rows, tagRow{Name: tag, Digest: d.Digest, LastUpdated: when, MediaType: d.MediaType})
	f.tagRefs[ns+"/"+repo+":"+tag] = d.Digest
}

// tarOf builds an uncompressed tar of name → content pairs.
func tarOf(t testing.TB, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		hdr := &tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg}
		if strings.HasSuffix(files[i], "/") {
			hdr = &tar.Header{Name: files[i], Mode: 0o755, Typeflag: tar.TypeDir}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, files[i+1])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipOf(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	gz.Write(b)
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdOf(t testing.TB, b []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

func configJSON(env []string, history ...string) []byte {
	var h []map[string]any
	for _, c := range history {
		h = append(h, map[string]any{"created": "2026-11-01T10:00:00Z", "created_by": c})
	}
	b, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"config":  map[string]any{"Env": env, "Cmd": []string{"/bin/sh"}, "Labels": map[string]string{"maintainer": "ops@example.com"}},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{}},
		"history": h})
	return b
}

func newKey(t testing.TB) string {
	t.Helper()
	k, err := keyformat.GenerateKey(keyformat.Restricted, keyformat.Test)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type capture struct {
	mu   sync.Mutex
	hits []leakguard.Hit
}

func (c *capture) PublishHit(ctx context.Context, h leakguard.Hit) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hits = append(c.hits, h)
	return nil
}

func (c *capture) all() []leakguard.Hit {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]leakguard.Hit(nil), c.hits...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Location, out[j].Location
		return fmt.Sprint(a.Repository, a.Commit, a.Path) < fmt.Sprint(b.Repository, b.Commit, b.Path)
	})
	return out
}

type memSeen struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (m *memSeen) FirstSeen(ctx context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ids == nil {
		m.ids = map[string]bool{}
	}
	if m.ids[id] {
		return false, nil
	}
	m.ids[id] = true
	return true, nil
}

func (m *memSeen) Has(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ids[id]
}

type logBuffer = testenv.LogBuffer

type harness struct {
	fake *fakeHub
	pub  *capture
	seen *memSeen
	logs *logBuffer
	src  *Source
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	f := newFakeHub(t)
	eng, err := scanner.New(scanner.Options{RuleIDs: []string{"platform"}})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{fake: f, pub: &capture{}, seen: &memSeen{}, logs: &logBuffer{}}
	cfg.HubURL = f.hub.URL
	cfg.RegistryURL = f.reg.URL
	if cfg.AuthURL == "" {
		cfg.AuthURL = "http://127.0.0.1:1/unused"
	}
	if cfg.Namespaces == nil {
		cfg.Namespaces = []string{"acme"}
	}
	env := sources.Env{Scanner: eng, Publisher: h.pub, Seen: h.seen, HTTP: &http.Client{Timeout: time.Second},
		Logger: slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	h.src = newSource(cfg, env)
	return h
}
