package npm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
)

// fakeNPM speaks the replication feed (/registry/_changes), the registry's
// package documents (/<name>, scoped /@scope%2fname) and tarballs
// (/<name>/-/<base>-<version>.tgz), the way npm does.
type fakeNPM struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	changes  []fakeChange
	docs     map[string][]byte // by package name: full document JSON
	abbrev   map[string][]byte // abbreviated documents, when set
	tarballs map[string]func(w http.ResponseWriter, r *http.Request)
	hits     map[string]int // request path → count
	accepts  map[string]string
	// docStatus forces a status for a package document.
	docStatus map[string]int
	docHeader map[string]http.Header
	feedBody  []byte // when set, the feed answers this instead
	// dbInfo makes GET /registry/ answer CouchDB's database information
	// with update_seq = the newest change's seq, as the real feed does.
	dbInfo bool
}

type fakeChange struct {
	seq     any // int or string
	id      string
	deleted bool
}

func newFakeNPM(t testing.TB) *fakeNPM {
	f := &fakeNPM{t: t, docs: map[string][]byte{}, abbrev: map[string][]byte{},
		tarballs: map[string]func(http.ResponseWriter, *http.Request){}, hits: map[string]int{},
		accepts: map[string]string{}, docStatus: map[string]int{}, docHeader: map[string]http.Header{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeNPM) url() string { return f.srv.URL + "/" }

func (f *fakeNPM) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

func (f *fakeNPM) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hits[r.URL.EscapedPath()]++
	f.accepts[r.URL.EscapedPath()] = r.Header.Get("Accept")
	f.mu.Unlock()
	if r.Method != http.MethodGet {
		http.Error(w, "method", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case r.URL.Path == "/registry/" && f.dbInfo:
		f.mu.Lock()
		var head any = 0
		if n := len(f.changes); n > 0 {
			head = f.changes[n-1].seq
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"db_name": "registry", "update_seq": head})
	case r.URL.Path == "/registry/_changes":
		f.serveChanges(w, r)
	case strings.Contains(r.URL.Path, "/-/"):
		f.mu.Lock()
		h := f.tarballs[r.URL.Path]
		f.mu.Unlock()
		if h == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"Not found"}`)
			return
		}
		h(w, r)
	default:
		f.serveDoc(w, r)
	}
}

func (f *fakeNPM) serveChanges(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.feedBody != nil {
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.feedBody)
		return
	}
	q := r.URL.Query()
	since := q.Get("since")
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 1000
	}
	// The feed orders changes; since names the position of one of them
	// (or 0), whatever its type.
	start := 0
	if since != "0" && since != "" {
		start = -1
		for i, c := range f.changes {
			if fmt.Sprint(c.seq) == since {
				start = i + 1
			}
		}
		if start < 0 {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"bad_request","reason":"Malformed sequence supplied in 'since' parameter."}`)
			return
		}
	}
	type res struct {
		Seq     any              `json:"seq"`
		ID      string           `json:"id"`
		Changes []map[string]any `json:"changes"`
		Deleted bool             `json:"deleted,omitempty"`
	}
	out := struct {
		Results []res `json:"results"`
		LastSeq any   `json:"last_seq"`
	}{Results: []res{}}
	end := min(start+limit, len(f.changes))
	for _, c := range f.changes[start:end] {
		out.Results = append(out.Results, res{Seq: c.seq, ID: c.id, Deleted: c.deleted,
			Changes: []map[string]any{{"rev": "3-a1b2c3d4e5f60718293a4b5c6d7e8f90"}}})
	}
	switch {
	case end > start:
		out.LastSeq = f.changes[end-1].seq
	case len(f.changes) > 0:
		out.LastSeq = f.changes[len(f.changes)-1].seq
	default:
		out.LastSeq = 0
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func (f *fakeNPM) serveDoc(w http.ResponseWriter, r *http.Request) {
	// The registry addresses a scoped package as /@scope%2fname; a raw
	// /@scope/name is a different route (a version lookup).
	raw := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	if strings.Contains(raw, "/") {
		http.Error(w, `{"error":"Not found"}`, http.StatusNotFound)
		return
	}
	name := strings.Replace(raw, "%2f", "/", 1)
	name = strings.Replace(name, "%2F", "/", 1)
	f.mu.Lock()
	doc, ok := f.docs[name]
	ab, abOK := f.abbrev[name]
	st := f.docStatus[name]
	hdr := f.docHeader[name]
	f.mu.Unlock()
	for k, v := range hdr {
		w.Header()[k] = v
	}
	if st != 0 {
		w.WriteHeader(st)
		io.WriteString(w, `{"error":"forced"}`)
		return
	}
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":"Not found"}`)
		return
	}
	if strings.HasPrefix(r.Header.Get("Accept"), "application/vnd.npm.install-v1+json") && abOK {
		w.Header().Set("Content-Type", "application/vnd.npm.install-v1+json")
		w.Write(ab)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(doc)
}

// fakeVersion is one version of a package in the fake.
type fakeVersion struct {
	version   string
	published time.Time
	tgz       []byte // served as the tarball
	integrity string // "" computes sha512 of tgz; "-" leaves it out
	shasum    string // "" computes sha1 of tgz
}

// tarballPath is the registry's layout: /<name>/-/<basename>-<version>.tgz.
func tarballPath(name, version string) string {
	base := name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		base = name[i+1:]
	}
	return "/" + name + "/-/" + base + "-" + version + ".tgz"
}

// addPackage publishes a package document and its tarballs; latest is the
// dist-tags.latest version.
func (f *fakeNPM) addPackage(name, latest string, versions ...fakeVersion) {
	type dist struct {
		Tarball   string `json:"tarball"`
		Shasum    string `json:"shasum"`
		Integrity string `json:"integrity,omitempty"`
		FileCount int    `json:"fileCount"`
	}
	type ver struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Dist    dist   `json:"dist"`
	}
	doc := map[string]any{"_id": name, "_rev": "3-a1b2c3d4e5f60718293a4b5c6d7e8f90", "name": name,
		"dist-tags": map[string]string{"latest": latest}, "readme": "# " + name}
	vers := map[string]ver{}
	times := map[string]string{}
	var created, modified time.Time
	for _, v := range versions {
		integ := v.integrity
		if integ == "" {
			sum := sha512.Sum512(v.tgz)
			integ = "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
		}
		if integ == "-" {
			integ = ""
		}
		shasum := v.shasum
		if shasum == "" {
			sum := sha1.Sum(v.tgz)
			shasum = hex.EncodeToString(sum[:])
		}
		p := tarballPath(name, v.version)
		vers[v.version] = ver{Name: name, Version: v.version, Dist: dist{Tarball: f.srv.URL + p, Shasum: shasum, Integrity: integ, FileCount: 1}}
		times[v.version] = v.published.UTC().Format("2006-01-02T15:04:05.000Z")
		if created.IsZero() || v.published.Before(created) {
			created = v.published
		}
		if v.published.After(modified) {
			modified = v.published
		}
		body := v.tgz
		f.mu.Lock()
		f.tarballs[p] = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		}
		f.mu.Unlock()
	}
	times["created"] = created.UTC().Format("2006-01-02T15:04:05.000Z")
	times["modified"] = modified.UTC().Format("2006-01-02T15:04:05.000Z")
	doc["versions"] = vers
	doc["time"] = times
	b, err := json.Marshal(doc)
	if err != nil {
		f.t.Fatal(err)
	}
	ab, _ := json.Marshal(map[string]any{"name": name, "modified": times["modified"],
		"dist-tags": map[string]string{"latest": latest}, "versions": vers})
	f.mu.Lock()
	f.docs[name] = b
	f.abbrev[name] = ab
	f.mu.Unlock()
}

// addPackageDoc publishes one version whose tarball is body, with the
// integrity and shasum given ("" computes them, "-" leaves integrity out).
func (f *fakeNPM) addPackageDoc(t testing.TB, name, version string, body []byte, integrity, shasum string) {
	t.Helper()
	f.addPackage(name, version, fakeVersion{version: version, published: t0, tgz: body, integrity: integrity, shasum: shasum})
}

func (f *fakeNPM) addChange(seq any, id string, deleted bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, fakeChange{seq: seq, id: id, deleted: deleted})
}

// tgz builds a gzip-compressed tar of name → content, in order.
func tgz(t testing.TB, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for i := 0; i+1 < len(files); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, files[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarOnly builds an uncompressed tar of name → content pairs.
func tarOnly(t testing.TB, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, files[i+1])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func envWith(eng *scanner.Engine) sources.Env {
	return sources.Env{Scanner: eng, Publisher: &capture{}, Seen: &memSeen{}}
}

func newKey(t testing.TB) string {
	t.Helper()
	k, err := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// capture is a HitPublisher that keeps what it was given.
type capture struct {
	mu   sync.Mutex
	hits []leakguard.Hit
	fail error
}

func (c *capture) PublishHit(ctx context.Context, h leakguard.Hit) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	c.hits = append(c.hits, h)
	return nil
}

func (c *capture) all() []leakguard.Hit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]leakguard.Hit(nil), c.hits...)
}

// memSeen is an in-memory SeenSet with sources.Seen's Has.
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

// logBuffer collects slog output so tests can assert warnings and that no
// plaintext reaches the log.
type logBuffer = testenv.LogBuffer

type harness struct {
	fake *fakeNPM
	pub  *capture
	seen *memSeen
	logs *logBuffer
	src  *Source
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	f := newFakeNPM(t)
	eng, err := scanner.New(scanner.Options{RuleIDs: []string{"platform"}})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{fake: f, pub: &capture{}, seen: &memSeen{}, logs: &logBuffer{}}
	cfg.ReplicateURL = f.url()
	cfg.RegistryURL = f.url()
	env := sources.Env{Scanner: eng, Publisher: h.pub, Seen: h.seen, HTTP: f.srv.Client(),
		Logger: slogJSON(h.logs)}
	h.src = newSource(cfg, env)
	return h
}
