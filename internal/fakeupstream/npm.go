package fakeupstream

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// NPM is a fake of npm's replication feed and registry, on one server:
//
//   - GET /registry/_changes?since=&limit=: {"results":[{"seq","id",
//     "changes":[{"rev"}]}],"last_seq"}, seq an integer, in order; since=0
//     is the start, since=now the current end (CouchDB's meaning), a
//     malformed since is 400; limit at most 10000.
//   - GET /registry/: CouchDB's database information, with update_seq.
//   - GET /<name> (scoped: /@scope%2fname): the full package document
//     (_id, _rev, name, dist-tags, versions with dist.tarball, dist.shasum,
//     dist.integrity, time), or the abbreviated one for
//     Accept: application/vnd.npm.install-v1+json; 404 {"error":"Not found"}.
//   - GET /<name>/-/<basename>-<version>.tgz: the gzip'd tar, files under
//     package/, whose sha512 is dist.integrity.
//
// Beyond PlantPackage, a test can shape every answer: AddChange (any seq,
// deletions), SetDocument (a document as raw bytes, malformed or odd),
// SetDocumentStatus/Header (a 429 with Retry-After), SetTarball (any
// handler: slow, truncated, huge), SetFeedBody, SetDBInfo.
type NPM struct {
	fault
	t   testing.TB
	srv *httptest.Server

	mu        sync.Mutex
	seq       int64
	changes   []npmChange
	packages  map[string]*npmPackage
	tarballs  map[string]http.HandlerFunc // path → answer
	docs      map[string]rawDoc           // documents set as bytes
	docStatus map[string]int
	docHeader map[string]http.Header
	feedBody  []byte
	noDBInfo  bool
	requests  int
	paths     map[string]int    // escaped path → count
	accepts   map[string]string // escaped path → last Accept
}

type npmChange struct {
	seq     any // int64 from PlantPackage; whatever AddChange was given
	id      string
	rev     string
	deleted bool
}

type rawDoc struct{ full, abbreviated []byte }

type npmPackage struct {
	name     string
	rev      int
	latest   string
	versions map[string]map[string]any
	times    map[string]string
}

// Package is what PlantPackage published.
type Package struct {
	Name, Version string
	Tarball       string // URL on the fake
	Integrity     string // sha512-<base64>
	Shasum        string // sha1 hex
	PageURL       string // https://www.npmjs.com/package/<name>/v/<version>
}

// NewNPM starts the fake; it stops when the test ends.
func NewNPM(t testing.TB) *NPM {
	n := &NPM{t: t, packages: map[string]*npmPackage{}, tarballs: map[string]http.HandlerFunc{},
		docs: map[string]rawDoc{}, docStatus: map[string]int{}, docHeader: map[string]http.Header{},
		paths: map[string]int{}, accepts: map[string]string{}}
	n.srv = httptest.NewServer(http.HandlerFunc(n.serve))
	t.Cleanup(n.srv.Close)
	return n
}

// URL is the base of both the replication feed (LEAKGUARD_NPM_REPLICATE_URL)
// and the registry (LEAKGUARD_NPM_REGISTRY_URL), with a trailing slash.
func (n *NPM) URL() string { return n.srv.URL + "/" }

// Requests counts requests served, broken ones included.
func (n *NPM) Requests() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.requests
}

// RequestsFor counts requests for exactly the escaped path ("/@scope%2fname").
func (n *NPM) RequestsFor(path string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paths[path]
}

// LastAccept is the Accept header of the last request for path.
func (n *NPM) LastAccept(path string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.accepts[path]
}

// AddChange appends a raw entry to the feed: seq as given (npm's feed
// sends integers; CouchDB's older one strings), deleted for an unpublished
// document. It does not create a document.
func (n *NPM) AddChange(seq any, id string, deleted bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.changes = append(n.changes, npmChange{seq: seq, id: id, rev: "3-a1b2c3d4e5f60718293a4b5c6d7e8f90", deleted: deleted})
}

// SetDocument makes GET /<name> answer full, or abbreviated for the
// install Accept header (nil: full for both), whatever was planted.
func (n *NPM) SetDocument(name string, full, abbreviated []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.docs[name] = rawDoc{full: full, abbreviated: abbreviated}
}

// Document is the raw document set for name, or nil.
func (n *NPM) Document(name string) []byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.docs[name].full
}

// SetDocumentStatus makes GET /<name> answer status (0 restores it), with
// header added.
func (n *NPM) SetDocumentStatus(name string, status int, header http.Header) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.docStatus[name] = status
	n.docHeader[name] = header
}

// SetTarball makes the tarball at path (as in dist.tarball, without the
// host) answer with h.
func (n *NPM) SetTarball(path string, h http.HandlerFunc) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tarballs[path] = h
}

// TarballBytes is a SetTarball handler serving body as npm does.
func TarballBytes(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}
}

// SetFeedBody makes the changes feed answer body, whatever is asked (nil
// restores it).
func (n *NPM) SetFeedBody(body []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.feedBody = body
}

// SetDBInfo turns GET /registry/ (CouchDB's database information) on or
// off (404), for a client that must do without it.
func (n *NPM) SetDBInfo(on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.noDBInfo = !on
}

// PlantPackage publishes version of package name with files (path inside
// package/ → content); it becomes dist-tags.latest and a change appears in
// the feed.
func (n *NPM) PlantPackage(name, version string, files map[string]string) Package {
	tgz := Tgz(n.t, "package/", files)
	sum := sha512.Sum512(tgz)
	integ := "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
	s1 := sha1.Sum(tgz)
	shasum := hex.EncodeToString(s1[:])
	base := name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		base = name[i+1:]
	}
	path := "/" + name + "/-/" + base + "-" + version + ".tgz"
	tarball := n.srv.URL + path
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")

	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.packages[name]
	if p == nil {
		p = &npmPackage{name: name, versions: map[string]map[string]any{}, times: map[string]string{"created": now}}
		n.packages[name] = p
	}
	p.rev++
	p.latest = version
	p.versions[version] = map[string]any{
		"name": name, "version": version, "description": "", "main": "index.js",
		"_id": name + "@" + version, "_npmVersion": "10.9.0", "_nodeVersion": "22.11.0",
		"dist": map[string]any{"tarball": tarball, "shasum": shasum, "integrity": integ,
			"fileCount": len(files), "unpackedSize": unpackedSize(files)},
	}
	p.times[version] = now
	p.times["modified"] = now
	n.tarballs[path] = TarballBytes(tgz)
	n.seq++
	n.changes = append(n.changes, npmChange{seq: n.seq, id: name, rev: p.revString()})
	return Package{Name: name, Version: version, Tarball: tarball, Integrity: integ, Shasum: shasum,
		PageURL: "https://www.npmjs.com/package/" + name + "/v/" + version}
}

func (p *npmPackage) revString() string {
	sum := sha1.Sum([]byte(p.name + strconv.Itoa(p.rev)))
	return strconv.Itoa(p.rev) + "-" + hex.EncodeToString(sum[:16])
}

func unpackedSize(files map[string]string) int {
	n := 0
	for _, c := range files {
		n += len(c)
	}
	return n
}

// Tgz builds a gzip'd tar of files (path → content) under prefix, in
// path order, the way npm pack lays out a tarball.
func Tgz(t testing.TB, prefix string, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	writeTar(t, gz, prefix, files)
	if err := gz.Close(); err != nil {
		t.Fatalf("fakeupstream: gzip: %v", err)
	}
	return buf.Bytes()
}

func writeTar(t testing.TB, w io.Writer, prefix string, files map[string]string) {
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, name := range names {
		c := files[name]
		hdr := &tar.Header{Name: prefix + name, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg,
			ModTime: time.Date(1985, 10, 26, 8, 15, 0, 0, time.UTC)}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("fakeupstream: tar: %v", err)
		}
		if _, err := io.WriteString(tw, c); err != nil {
			t.Fatalf("fakeupstream: tar: %v", err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("fakeupstream: tar: %v", err)
	}
}

func npmError(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (n *NPM) serve(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	n.requests++
	n.paths[r.URL.EscapedPath()]++
	n.accepts[r.URL.EscapedPath()] = r.Header.Get("Accept")
	noDB := n.noDBInfo
	n.mu.Unlock()
	if n.intercept(w, r) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		npmError(w, http.StatusMethodNotAllowed, `{"error":"method not allowed"}`)
		return
	}
	switch {
	case (r.URL.Path == "/registry/" || r.URL.Path == "/registry") && !noDB:
		n.serveDBInfo(w)
	case r.URL.Path == "/registry/_changes":
		n.serveChanges(w, r)
	case strings.Contains(r.URL.Path, "/-/"):
		n.mu.Lock()
		h := n.tarballs[r.URL.Path]
		n.mu.Unlock()
		if h == nil {
			npmError(w, http.StatusNotFound, `{"error":"Not found"}`)
			return
		}
		h(w, r)
	default:
		n.serveDoc(w, r)
	}
}

func (n *NPM) serveChanges(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.feedBody != nil {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(n.feedBody)
		return
	}
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 1000
	}
	limit = min(limit, 10000)
	// since names the position after one change (its seq, whatever its
	// type), 0 the start, now the current end (CouchDB's meaning); an
	// integer names the position after the changes up to it.
	start := 0
	switch since := q.Get("since"); since {
	case "", "0":
	case "now":
		start = len(n.changes)
	default:
		start = -1
		for i, c := range n.changes {
			if fmt.Sprint(c.seq) == since {
				start = i + 1
			}
		}
		if v, err := strconv.ParseInt(since, 10, 64); start < 0 && err == nil && v >= 0 {
			start = len(n.changes)
			for i, c := range n.changes {
				if s, ok := c.seq.(int64); ok && s > v {
					start = i
					break
				}
			}
		}
		if start < 0 {
			npmError(w, http.StatusBadRequest, `{"error":"bad_request","reason":"Malformed sequence supplied in 'since' parameter."}`)
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
	}{Results: []res{}, LastSeq: 0}
	end := min(start+limit, len(n.changes))
	for _, c := range n.changes[start:end] {
		out.Results = append(out.Results, res{Seq: c.seq, ID: c.id, Deleted: c.deleted, Changes: []map[string]any{{"rev": c.rev}}})
	}
	switch {
	case end > start:
		out.LastSeq = n.changes[end-1].seq
	case start > 0:
		out.LastSeq = n.changes[start-1].seq
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// serveDBInfo answers GET /registry/, CouchDB's database information:
// update_seq is where a follower that wants only new changes starts.
func (n *NPM) serveDBInfo(w http.ResponseWriter) {
	n.mu.Lock()
	var head any = 0
	if k := len(n.changes); k > 0 {
		head = n.changes[k-1].seq
	}
	info := map[string]any{"db_name": "registry", "doc_count": len(n.packages), "doc_del_count": 0,
		"update_seq": head, "purge_seq": 0, "compact_running": false, "instance_start_time": "0",
		"disk_format_version": 8}
	n.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(info)
}

func (n *NPM) serveDoc(w http.ResponseWriter, r *http.Request) {
	// A scoped package is /@scope%2fname; /@scope/name is another route.
	raw := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	if raw == "" || strings.Contains(raw, "/") {
		npmError(w, http.StatusNotFound, `{"error":"Not found"}`)
		return
	}
	name := strings.Replace(strings.Replace(raw, "%2f", "/", 1), "%2F", "/", 1)
	n.mu.Lock()
	p := n.packages[name]
	var doc []byte
	abbreviated := strings.Contains(r.Header.Get("Accept"), "application/vnd.npm.install-v1+json")
	status, header := n.docStatus[name], n.docHeader[name]
	rd, isRaw := n.docs[name]
	switch {
	case isRaw && abbreviated && rd.abbreviated != nil:
		doc = rd.abbreviated
	case isRaw:
		doc, abbreviated = rd.full, false
	case p != nil:
		versions := map[string]any{}
		for v, m := range p.versions {
			versions[v] = m
		}
		if abbreviated {
			doc, _ = json.Marshal(map[string]any{"name": p.name, "modified": p.times["modified"],
				"dist-tags": map[string]string{"latest": p.latest}, "versions": versions})
		} else {
			doc, _ = json.Marshal(map[string]any{"_id": p.name, "_rev": p.revString(), "name": p.name,
				"dist-tags": map[string]string{"latest": p.latest}, "versions": versions, "time": p.times,
				"readme": "", "readmeFilename": ""})
		}
	}
	n.mu.Unlock()
	for k, v := range header {
		w.Header()[k] = v
	}
	if status != 0 {
		npmError(w, status, `{"error":"forced"}`)
		return
	}
	if doc == nil {
		npmError(w, http.StatusNotFound, `{"error":"Not found"}`)
		return
	}
	if abbreviated {
		w.Header().Set("Content-Type", "application/vnd.npm.install-v1+json")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	_, _ = w.Write(doc)
}
