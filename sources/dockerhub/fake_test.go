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
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/fakeupstream"
	"github.com/leakguard/leakguard/internal/testenv"
	"github.com/leakguard/leakguard/keyformat"

	"github.com/klauspost/compress/zstd"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
)

// fakeHub is the shared fake of Docker Hub (internal/fakeupstream) with
// the builders these tests use: blobs, images, indexes and tags made piece
// by piece.
type fakeHub struct {
	*fakeupstream.DockerHub
	t                       testing.TB
	hubURL, regURL, authURL string
}

func newFakeHub(t testing.TB) *fakeHub {
	d := fakeupstream.NewDockerHub(t)
	return &fakeHub{DockerHub: d, t: t, hubURL: strings.TrimSuffix(d.HubURL(), "/"),
		regURL: strings.TrimSuffix(d.RegistryURL(), "/"), authURL: d.AuthURL()}
}

func (f *fakeHub) count(key string) int { return f.RequestsFor(key) }

func (f *fakeHub) total(prefix string) int { return f.RequestsWithPrefix(prefix) }

// manifestsPulled counts authorized manifest GETs (Docker Hub's "pulls").
func (f *fakeHub) manifestsPulled() int {
	n := 0
	for k, v := range f.RequestCounts() {
		if strings.HasPrefix(k, "GET /v2/") && strings.Contains(k, "/manifests/") {
			n += v
		}
	}
	return n
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func registryError(w http.ResponseWriter, code int, ecode, msg string) {
	writeJSON(w, code, map[string]any{"errors": []map[string]any{{"code": ecode, "message": msg, "detail": nil}}})
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// addBlob stores bytes under their digest and returns a descriptor.
func (f *fakeHub) addBlob(mediaType string, b []byte) descriptor {
	return descriptor{MediaType: mediaType, Digest: f.AddBlob(b), Size: int64(len(b))}
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
	return descriptor{MediaType: mediaType, Digest: f.AddManifest(mediaType, b), Size: int64(len(b))}
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
	f.Tag(ns, repo, tag, d.Digest, when)
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
	cfg.HubURL = f.hubURL
	cfg.RegistryURL = f.regURL
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
