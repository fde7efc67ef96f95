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
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/fakeupstream"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
)

// fakeNPM is the shared fake of npm (internal/fakeupstream) with the
// builders these tests use: packages with chosen versions, integrity and
// shasum, and raw feed entries.
type fakeNPM struct {
	*fakeupstream.NPM
	t testing.TB
}

func newFakeNPM(t testing.TB) *fakeNPM {
	f := &fakeNPM{NPM: fakeupstream.NewNPM(t), t: t}
	f.SetDBInfo(false) // the tests that want GET /registry/ turn it on
	return f
}

func (f *fakeNPM) url() string { return f.URL() }

func (f *fakeNPM) count(path string) int { return f.RequestsFor(path) }

// abbreviatedOf is the abbreviated document addPackage made for name.
func abbreviatedOf(t testing.TB, f *fakeNPM, name string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.URL()+url.PathEscape(name), nil)
	req.Header.Set("Accept", "application/vnd.npm.install-v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
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
		vers[v.version] = ver{Name: name, Version: v.version, Dist: dist{Tarball: strings.TrimSuffix(f.URL(), "/") + p, Shasum: shasum, Integrity: integ, FileCount: 1}}
		times[v.version] = v.published.UTC().Format("2006-01-02T15:04:05.000Z")
		if created.IsZero() || v.published.Before(created) {
			created = v.published
		}
		if v.published.After(modified) {
			modified = v.published
		}
		f.SetTarball(p, fakeupstream.TarballBytes(v.tgz))
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
	f.SetDocument(name, b, ab)
}

// addPackageDoc publishes one version whose tarball is body, with the
// integrity and shasum given ("" computes them, "-" leaves integrity out).
func (f *fakeNPM) addPackageDoc(t testing.TB, name, version string, body []byte, integrity, shasum string) {
	t.Helper()
	f.addPackage(name, version, fakeVersion{version: version, published: t0, tgz: body, integrity: integrity, shasum: shasum})
}

func (f *fakeNPM) addChange(seq any, id string, deleted bool) {
	if n, ok := seq.(int); ok {
		seq = int64(n) // as the feed's own integers
	}
	f.AddChange(seq, id, deleted)
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
	env := sources.Env{Scanner: eng, Publisher: h.pub, Seen: h.seen, HTTP: &http.Client{Timeout: 30 * time.Second},
		Logger: slogJSON(h.logs)}
	h.src = newSource(cfg, env)
	return h
}
