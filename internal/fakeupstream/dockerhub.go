package fakeupstream

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Media types of a `docker push` with the classic builder.
const (
	MediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaDockerConfig   = "application/vnd.docker.container.image.v1+json"
	MediaDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// DockerHub is a fake of Docker Hub on three servers, as on the real thing:
//
//   - Hub API (hub.docker.com): GET /v2/namespaces/{ns}/repositories and
//     GET /v2/namespaces/{ns}/repositories/{repo}/tags (page_size at most
//     100, page, ordering=last_updated newest first), answering
//     {"count","next","previous","results"} with absolute next/previous
//     links on https://hub.docker.com, as Hub writes them; 404 for an
//     unknown namespace or repository.
//   - Registry v2 (registry-1.docker.io): every request without a pull
//     token for its repository gets 401 UNAUTHORIZED and
//     WWW-Authenticate: Bearer realm="<auth>/token",service="registry.docker.io",scope="repository:<ns>/<repo>:pull".
//     GET|HEAD /v2/<ns>/<repo>/manifests/<tag|digest> (404 MANIFEST_UNKNOWN
//     when no accepted media type matches), GET /v2/<ns>/<repo>/blobs/<digest>
//     answered with a 307 to a CDN path, as Docker Hub does.
//   - Token service (auth.docker.io): GET /token?service=registry.docker.io&scope=repository:<ns>/<repo>:pull
//     → {"token","access_token","expires_in":300,"issued_at"}.
//
// Digests are real: the manifest's sha256 is Docker-Content-Digest, the
// layer is a gzip'd tar whose sha256 is its digest, and the config's
// rootfs.diff_ids hold the uncompressed tar's sha256.
//
// Beyond PlantImage, a test can build images piece by piece (AddBlob,
// AddManifest, Tag) and shape answers: SetBlob and SetManifest (bytes that
// do not match their digest), SetManifestHook (a 429 for one repository),
// SetRateRemaining (the ratelimit-* headers of pulls), SetPageLimit,
// SetRepoUpdated, SetRealm(false) (a challenge without realm).
type DockerHub struct {
	fault
	t    testing.TB
	hub  *httptest.Server
	reg  *httptest.Server
	auth *httptest.Server

	mu        sync.Mutex
	repos     map[string]map[string][]hubTag // ns → repo → tags
	manifests map[string]storedManifest      // digest → manifest
	inRepo    map[string]map[string]bool     // "ns/repo" → manifest digests pushed there
	tagRefs   map[string]string              // "ns/repo:tag" → digest
	blobs     map[string][]byte              // digest → bytes
	tokens    map[string]string              // token → scope
	requests  int
	reqs      map[string]int              // "HUB path", "AUTH path", "GET path" (authorized), "401 path"
	tokenQs   []string                    // raw queries of token requests
	blobFns   map[string]http.HandlerFunc // digest → answer overriding the bytes
	hook      func(w http.ResponseWriter, r *http.Request, n int) bool
	rateLeft  string               // ratelimit-remaining on manifest answers ("": none)
	updated   map[string]time.Time // "ns/repo" → last_updated overriding the newest tag's
	pageLimit int                  // page size cap (0: 100)
	noRealm   bool
}

type storedManifest struct {
	mediaType string
	body      []byte
}

type hubTag struct {
	name, digest, mediaType string
	updated                 time.Time
	size                    int
}

// Image is what PlantImage pushed.
type Image struct {
	Namespace, Repo, Tag string
	ManifestDigest       string
	ConfigDigest         string
	LayerDigest          string
	HubURL               string // https://hub.docker.com/r/<ns>/<repo>/tags
}

// NewDockerHub starts the three servers; they stop when the test ends.
func NewDockerHub(t testing.TB) *DockerHub {
	d := &DockerHub{t: t, repos: map[string]map[string][]hubTag{}, manifests: map[string]storedManifest{}, inRepo: map[string]map[string]bool{},
		tagRefs: map[string]string{}, blobs: map[string][]byte{}, tokens: map[string]string{}, reqs: map[string]int{},
		blobFns: map[string]http.HandlerFunc{}, updated: map[string]time.Time{}}
	d.hub = httptest.NewServer(http.HandlerFunc(d.serveHub))
	d.reg = httptest.NewServer(http.HandlerFunc(d.serveRegistry))
	d.auth = httptest.NewServer(http.HandlerFunc(d.serveToken))
	t.Cleanup(func() { d.hub.Close(); d.reg.Close(); d.auth.Close() })
	return d
}

// HubURL is the Hub API base (LEAKGUARD_DOCKERHUB_URL).
func (d *DockerHub) HubURL() string { return d.hub.URL + "/" }

// RegistryURL is the registry v2 base (LEAKGUARD_DOCKER_REGISTRY_URL).
func (d *DockerHub) RegistryURL() string { return d.reg.URL + "/" }

// AuthURL is the token endpoint (LEAKGUARD_DOCKER_AUTH_URL); the
// registry's challenge names it as its realm too.
func (d *DockerHub) AuthURL() string { return d.auth.URL + "/token" }

// Requests counts requests served on the three servers, broken ones included.
func (d *DockerHub) Requests() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.requests
}

// RequestsFor counts requests by key: "HUB <path>" on the Hub API, "AUTH
// <path>" on the token service, "<METHOD> <path>" on the registry once
// authorized, "401 <path>" before.
func (d *DockerHub) RequestsFor(key string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reqs[key]
}

// RequestCounts copies every RequestsFor key and count.
func (d *DockerHub) RequestCounts() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int, len(d.reqs))
	for k, v := range d.reqs {
		out[k] = v
	}
	return out
}

// RequestsWithPrefix sums RequestsFor over the keys starting with prefix.
func (d *DockerHub) RequestsWithPrefix(prefix string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for k, v := range d.reqs {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

// TokenQueries are the raw queries of the token requests so far.
func (d *DockerHub) TokenQueries() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.tokenQs...)
}

// AddBlob stores b under its digest and returns the digest.
func (d *DockerHub) AddBlob(b []byte) string {
	dg := digestOf(b)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.blobs[dg] = b
	return dg
}

// SetBlob makes the blob digest answer with h (bytes that don't match the
// digest, a stream that never ends…).
func (d *DockerHub) SetBlob(digest string, h http.HandlerFunc) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.blobs[digest]; !ok {
		d.blobs[digest] = nil
	}
	d.blobFns[digest] = h
}

// AddManifest stores a manifest (or index) body of mediaType and returns
// its digest; Tag pushes it to a repository.
func (d *DockerHub) AddManifest(mediaType string, body []byte) string {
	dg := digestOf(body)
	d.SetManifest(dg, mediaType, body)
	return dg
}

// SetManifest serves body under digest, whether it matches or not.
func (d *DockerHub) SetManifest(digest, mediaType string, body []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.manifests[digest] = storedManifest{mediaType: mediaType, body: body}
}

// Manifest is the body served under digest.
func (d *DockerHub) Manifest(digest string) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.manifests[digest].body
}

// Tag points ns/repo:tag at the manifest digest (stored with AddManifest),
// updated at when; the manifest, and the images of an index, now belong
// to the repository.
func (d *DockerHub) Tag(ns, repo, tag, digest string, when time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.manifests[digest]
	if d.inRepo[ns+"/"+repo] == nil {
		d.inRepo[ns+"/"+repo] = map[string]bool{}
	}
	d.inRepo[ns+"/"+repo][digest] = true
	var idx struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if json.Unmarshal(m.body, &idx) == nil {
		for _, c := range idx.Manifests {
			d.inRepo[ns+"/"+repo][c.Digest] = true
		}
	}
	d.tagLocked(ns, repo, tag, digest, m.mediaType, when, len(m.body))
}

// SetManifestHook lets hook answer a manifest request itself (returning
// true); n counts that request's key so far.
func (d *DockerHub) SetManifestHook(hook func(w http.ResponseWriter, r *http.Request, n int) bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hook = hook
}

// SetRateRemaining makes manifest answers carry Docker Hub's pull limit
// headers, ratelimit-limit 100;w=21600 and ratelimit-remaining v.
func (d *DockerHub) SetRateRemaining(v string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rateLeft = v
}

// SetRepoUpdated makes the repository listing say ns/repo was last
// updated at when, whatever its tags say.
func (d *DockerHub) SetRepoUpdated(nsRepo string, when time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.updated[nsRepo] = when
}

// SetPageLimit caps the Hub API's page size below 100, to force pages.
func (d *DockerHub) SetPageLimit(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pageLimit = n
}

// SetRealm(false) leaves realm out of the registry's challenge, so the
// client must know the token service itself.
func (d *DockerHub) SetRealm(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.noRealm = !on
}

// AddNamespace creates an (empty) namespace, as signing up does.
func (d *DockerHub) AddNamespace(ns string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.repos[ns] == nil {
		d.repos[ns] = map[string][]hubTag{}
	}
}

// PlantImage pushes ns/repo:tag as `docker push` of a classic build does:
// a Docker v2 manifest over one gzip'd layer holding files (path →
// content) and a config whose Env is env.
func (d *DockerHub) PlantImage(ns, repo, tag string, files map[string]string, env []string) Image {
	now := time.Now().UTC()
	m := d.buildManifest(MediaDockerManifest, MediaDockerConfig, MediaDockerLayer, "amd64", files, env, now)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.storeLocked(ns, repo, m)
	d.tagLocked(ns, repo, tag, m.digest, m.mediaType, now, m.size)
	return Image{Namespace: ns, Repo: repo, Tag: tag, ManifestDigest: m.digest, ConfigDigest: m.configDigest,
		LayerDigest: m.layerDigest, HubURL: "https://hub.docker.com/r/" + ns + "/" + repo + "/tags"}
}

// OCI media types of `docker buildx build --push`.
const (
	MediaOCIIndex    = "application/vnd.oci.image.index.v1+json"
	MediaOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaOCIConfig   = "application/vnd.oci.image.config.v1+json"
	MediaOCILayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
	MediaInToto      = "application/vnd.in-toto+json"
)

// PlantMultiPlatformImage pushes ns/repo:tag as `docker buildx build
// --platform linux/amd64,linux/arm64 --push` does: an OCI index over one
// OCI manifest per architecture (each with its own layer holding files)
// and, for each, a provenance attestation manifest (platform
// unknown/unknown, an in-toto layer). The returned images are the
// per-architecture manifests, in the order of archs.
func (d *DockerHub) PlantMultiPlatformImage(ns, repo, tag string, archs []string, files map[string]string, env []string) (index string, images []Image) {
	now := time.Now().UTC()
	var entries []map[string]any
	var built []builtManifest
	for _, arch := range archs {
		m := d.buildManifest(MediaOCIManifest, MediaOCIConfig, MediaOCILayer, arch, files, env, now)
		built = append(built, m)
		entries = append(entries, map[string]any{"mediaType": MediaOCIManifest, "digest": m.digest, "size": len(m.body),
			"platform": map[string]string{"architecture": arch, "os": "linux"}})
	}
	for _, m := range built {
		att := d.buildAttestation(m.digest)
		built = append(built, att)
		entries = append(entries, map[string]any{"mediaType": MediaOCIManifest, "digest": att.digest, "size": len(att.body),
			"annotations": map[string]string{"vnd.docker.reference.digest": m.digest, "vnd.docker.reference.type": "attestation-manifest"},
			"platform":    map[string]string{"architecture": "unknown", "os": "unknown"}})
	}
	body, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": MediaOCIIndex, "manifests": entries})
	if err != nil {
		d.t.Fatalf("fakeupstream: index: %v", err)
	}
	idx := builtManifest{mediaType: MediaOCIIndex, body: body, digest: digestOf(body)}
	d.mu.Lock()
	defer d.mu.Unlock()
	size := 0
	for _, m := range built {
		d.storeLocked(ns, repo, m)
		size += m.size
	}
	d.storeLocked(ns, repo, idx)
	d.tagLocked(ns, repo, tag, idx.digest, MediaOCIIndex, now, size)
	for i := range archs {
		m := built[i]
		images = append(images, Image{Namespace: ns, Repo: repo, Tag: tag, ManifestDigest: m.digest, ConfigDigest: m.configDigest,
			LayerDigest: m.layerDigest, HubURL: "https://hub.docker.com/r/" + ns + "/" + repo + "/tags"})
	}
	return idx.digest, images
}

// builtManifest is a manifest with the blobs it references.
type builtManifest struct {
	mediaType, digest         string
	body                      []byte
	blobs                     map[string][]byte
	configDigest, layerDigest string
	size                      int
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatalf("fakeupstream: gzip: %v", err)
	}
	return gz.Bytes()
}

func (d *DockerHub) buildManifest(manifestType, configType, layerType, arch string, files map[string]string, env []string, now time.Time) builtManifest {
	var tarBuf bytes.Buffer
	writeTar(d.t, &tarBuf, "", files)
	diffID := digestOf(tarBuf.Bytes())
	layer := gzipBytes(d.t, tarBuf.Bytes())
	layerDigest := digestOf(layer)
	cfg, err := json.Marshal(map[string]any{
		"architecture": arch, "os": "linux", "created": now.Format(time.RFC3339Nano),
		"config": map[string]any{"Env": env, "Cmd": []string{"/bin/sh"}, "WorkingDir": "/"},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history": []map[string]any{{"created": now.Format(time.RFC3339Nano),
			"created_by": "COPY . / # buildkit", "comment": "buildkit.dockerfile.v0"}},
	})
	if err != nil {
		d.t.Fatalf("fakeupstream: config: %v", err)
	}
	cfgDigest := digestOf(cfg)
	body, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": manifestType,
		"config": map[string]any{"mediaType": configType, "size": len(cfg), "digest": cfgDigest},
		"layers": []map[string]any{{"mediaType": layerType, "size": len(layer), "digest": layerDigest}},
	})
	if err != nil {
		d.t.Fatalf("fakeupstream: manifest: %v", err)
	}
	return builtManifest{mediaType: manifestType, body: body, digest: digestOf(body),
		blobs:        map[string][]byte{layerDigest: layer, cfgDigest: cfg},
		configDigest: cfgDigest, layerDigest: layerDigest, size: len(layer) + len(cfg)}
}

// buildAttestation is buildx's provenance manifest for subject.
func (d *DockerHub) buildAttestation(subject string) builtManifest {
	stmt, _ := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v0.1",
		"predicateType": "https://slsa.dev/provenance/v0.2",
		"subject":       []map[string]any{{"name": "_", "digest": map[string]string{"sha256": strings.TrimPrefix(subject, "sha256:")}}},
		"predicate":     map[string]any{"builder": map[string]string{"id": ""}, "buildType": "https://mobyproject.org/buildkit@v1"}})
	cfg := []byte(`{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":["` + digestOf(stmt) + `"]}}`)
	body, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": MediaOCIManifest,
		"config": map[string]any{"mediaType": MediaOCIConfig, "digest": digestOf(cfg), "size": len(cfg)},
		"layers": []map[string]any{{"mediaType": MediaInToto, "digest": digestOf(stmt), "size": len(stmt),
			"annotations": map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}}})
	return builtManifest{mediaType: MediaOCIManifest, body: body, digest: digestOf(body),
		blobs: map[string][]byte{digestOf(stmt): stmt, digestOf(cfg): cfg}, size: len(stmt) + len(cfg)}
}

func (d *DockerHub) storeLocked(ns, repo string, m builtManifest) {
	for k, v := range m.blobs {
		d.blobs[k] = v
	}
	d.manifests[m.digest] = storedManifest{mediaType: m.mediaType, body: m.body}
	if d.inRepo[ns+"/"+repo] == nil {
		d.inRepo[ns+"/"+repo] = map[string]bool{}
	}
	d.inRepo[ns+"/"+repo][m.digest] = true
}

func (d *DockerHub) tagLocked(ns, repo, tag, digest, mediaType string, now time.Time, size int) {
	d.tagRefs[ns+"/"+repo+":"+tag] = digest
	if d.repos[ns] == nil {
		d.repos[ns] = map[string][]hubTag{}
	}
	rows := d.repos[ns][repo]
	for i := range rows {
		if rows[i].name == tag {
			rows = append(rows[:i], rows[i+1:]...)
			break
		}
	}
	d.repos[ns][repo] = append(rows, hubTag{name: tag, digest: digest, mediaType: mediaType, updated: now, size: size})
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func hubJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (d *DockerHub) count() {
	d.mu.Lock()
	d.requests++
	d.mu.Unlock()
}

func (d *DockerHub) serveHub(w http.ResponseWriter, r *http.Request) {
	d.count()
	d.mu.Lock()
	d.reqs["HUB "+r.URL.Path]++
	limit := d.pageLimit
	d.mu.Unlock()
	if d.intercept(w, r) {
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 4 || parts[0] != "v2" || parts[1] != "namespaces" || parts[3] != "repositories" || (len(parts) != 4 && (len(parts) != 6 || parts[5] != "tags")) {
		hubJSON(w, http.StatusNotFound, map[string]any{"message": "page not found", "errinfo": map[string]any{}})
		return
	}
	ns := parts[2]
	q := r.URL.Query()
	size, _ := strconv.Atoi(q.Get("page_size"))
	if size <= 0 {
		size = 10
	}
	if size > 100 {
		hubJSON(w, http.StatusBadRequest, map[string]any{"message": "page_size: ensure this value is less than or equal to 100", "errinfo": map[string]any{}})
		return
	}
	if limit > 0 {
		size = min(size, limit)
	}
	pg, _ := strconv.Atoi(q.Get("page"))
	if pg <= 0 {
		pg = 1
	}
	d.mu.Lock()
	repos, ok := d.repos[ns]
	var rows []any
	status, msg := http.StatusOK, ""
	switch {
	case !ok:
		status, msg = http.StatusNotFound, "namespace not found"
	case len(parts) == 4:
		names := make([]string, 0, len(repos))
		for n := range repos {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			var last time.Time
			for _, t := range repos[n] {
				if t.updated.After(last) {
					last = t.updated
				}
			}
			if u, ok := d.updated[ns+"/"+n]; ok {
				last = u
			}
			rows = append(rows, map[string]any{"name": n, "namespace": ns, "repository_type": "image",
				"status": 1, "status_description": "active", "description": "", "is_private": false,
				"star_count": 0, "pull_count": 0, "last_updated": last.Format(time.RFC3339Nano),
				"date_registered": "2024-01-01T00:00:00Z", "affiliation": "", "media_types": []string{MediaDockerManifest},
				"content_types": []string{"image"}, "categories": []any{}, "storage_size": 0})
		}
	default:
		tags, ok := repos[parts[4]]
		if !ok {
			status, msg = http.StatusNotFound, "object not found"
			break
		}
		sorted := append([]hubTag(nil), tags...)
		if q.Get("ordering") == "last_updated" {
			sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].updated.After(sorted[j].updated) })
		}
		for i, t := range sorted {
			ts := t.updated.Format(time.RFC3339Nano)
			rows = append(rows, map[string]any{"creator": 1, "id": i + 1, "last_updated": ts, "last_updater": 1,
				"last_updater_username": ns, "name": t.name, "repository": 1, "full_size": t.size, "v2": true,
				"tag_status": "active", "tag_last_pulled": nil, "tag_last_pushed": ts,
				"media_type": t.mediaType, "content_type": "image", "digest": t.digest,
				"images": []map[string]any{{"architecture": "amd64", "os": "linux", "digest": t.digest,
					"size": t.size, "status": "active", "last_pulled": nil, "last_pushed": ts}}})
		}
	}
	d.mu.Unlock()
	if status != http.StatusOK {
		hubJSON(w, status, map[string]any{"message": msg, "errinfo": map[string]any{}})
		return
	}
	start := (pg - 1) * size
	if start > 0 && start >= len(rows) {
		hubJSON(w, http.StatusNotFound, map[string]any{"message": "Invalid page.", "errinfo": map[string]any{}})
		return
	}
	end := min(start+size, len(rows))
	var next, prev any
	link := func(p int) string {
		nq := r.URL.Query()
		nq.Set("page", strconv.Itoa(p))
		nq.Set("page_size", strconv.Itoa(size))
		return "https://hub.docker.com" + r.URL.Path + "?" + nq.Encode()
	}
	if end < len(rows) {
		next = link(pg + 1)
	}
	if pg > 1 {
		prev = link(pg - 1)
	}
	res := rows[start:end]
	if res == nil {
		res = []any{}
	}
	hubJSON(w, http.StatusOK, map[string]any{"count": len(rows), "next": next, "previous": prev, "results": res})
}

func (d *DockerHub) serveToken(w http.ResponseWriter, r *http.Request) {
	d.count()
	d.mu.Lock()
	d.reqs["AUTH "+r.URL.Path]++
	d.tokenQs = append(d.tokenQs, r.URL.RawQuery)
	d.mu.Unlock()
	if d.intercept(w, r) {
		return
	}
	if r.URL.Path != "/token" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	if q.Get("service") != "registry.docker.io" {
		hubJSON(w, http.StatusBadRequest, map[string]any{"details": "invalid service"})
		return
	}
	scope := q.Get("scope")
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := "dckr_jwt_" + hex.EncodeToString(b[:])
	d.mu.Lock()
	d.tokens[tok] = scope
	d.mu.Unlock()
	hubJSON(w, http.StatusOK, map[string]any{"token": tok, "access_token": tok, "expires_in": 300,
		"issued_at": time.Now().UTC().Format(time.RFC3339Nano)})
}

func registryError(w http.ResponseWriter, status int, code, msg string) {
	hubJSON(w, status, map[string]any{"errors": []map[string]any{{"code": code, "message": msg, "detail": nil}}})
}

func (d *DockerHub) serveRegistry(w http.ResponseWriter, r *http.Request) {
	d.count()
	if d.intercept(w, r) {
		return
	}
	p := r.URL.Path
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	if strings.HasPrefix(p, "/cdn/") {
		// The CDN a blob redirect points at: no token needed.
		dg, _ := url.PathUnescape(strings.TrimPrefix(p, "/cdn/"))
		d.mu.Lock()
		b, ok := d.blobs[dg]
		fn := d.blobFns[dg]
		d.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if fn != nil {
			fn(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
		return
	}
	var repo, kind, ref string
	for _, k := range []string{"/manifests/", "/blobs/"} {
		if i := strings.LastIndex(p, k); i > len("/v2/") && strings.HasPrefix(p, "/v2/") {
			repo, kind, ref = p[len("/v2/"):i], strings.Trim(k, "/"), p[i+len(k):]
		}
	}
	realm := `Bearer realm="` + d.AuthURL() + `",service="registry.docker.io"`
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	d.mu.Lock()
	scope, tokOK := d.tokens[tok]
	if d.noRealm {
		realm = `Bearer service="registry.docker.io"`
	}
	key := r.Method + " " + p
	if repo == "" || !tokOK || !scopeAllows(scope, "repository:"+repo+":pull") {
		key = "401 " + p
	}
	d.reqs[key]++
	n, hook, rate := d.reqs[key], d.hook, d.rateLeft
	d.mu.Unlock()
	if repo == "" {
		if p == "/v2/" || p == "/v2" {
			if !tokOK {
				w.Header().Set("WWW-Authenticate", realm)
				registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
				return
			}
			hubJSON(w, http.StatusOK, map[string]any{})
			return
		}
		registryError(w, http.StatusNotFound, "NOT_FOUND", "not found")
		return
	}
	want := "repository:" + repo + ":pull"
	if !tokOK || !scopeAllows(scope, want) {
		w.Header().Set("WWW-Authenticate", realm+`,scope="`+want+`"`)
		if tokOK {
			w.Header().Set("WWW-Authenticate", realm+`,scope="`+want+`",error="insufficient_scope"`)
		}
		registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	switch kind {
	case "manifests":
		if hook != nil && hook(w, r, n) {
			return
		}
		d.mu.Lock()
		digest := ref
		if !strings.HasPrefix(ref, "sha256:") {
			digest = d.tagRefs[repo+":"+ref]
		}
		m, ok := d.manifests[digest]
		ok = ok && d.inRepo[repo][digest] // a digest belongs to the repositories it was pushed to
		d.mu.Unlock()
		if !ok {
			registryError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
			return
		}
		if acc := r.Header.Get("Accept"); acc != "" && !strings.Contains(acc, m.mediaType) && !strings.Contains(acc, "*/*") {
			registryError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest of type "+m.mediaType+" is not among the accepted types")
			return
		}
		if rate != "" {
			w.Header().Set("ratelimit-limit", "100;w=21600")
			w.Header().Set("ratelimit-remaining", rate)
		}
		w.Header().Set("Content-Type", m.mediaType)
		w.Header().Set("Docker-Content-Digest", digest)
		w.Header().Set("Content-Length", strconv.Itoa(len(m.body)))
		w.Header().Set("Etag", `"`+digest+`"`)
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(m.body)
	case "blobs":
		d.mu.Lock()
		_, ok := d.blobs[ref]
		d.mu.Unlock()
		if !ok {
			registryError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")
			return
		}
		w.Header().Set("Docker-Content-Digest", ref)
		w.Header().Set("Location", d.reg.URL+"/cdn/"+url.PathEscape(ref))
		w.WriteHeader(http.StatusTemporaryRedirect)
	}
}

// scopeAllows reports whether a token's scope (space-separated) grants want.
func scopeAllows(scope, want string) bool {
	for _, s := range strings.Fields(scope) {
		if s == want {
			return true
		}
	}
	return false
}
