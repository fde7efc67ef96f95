package fakeupstream

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func getBody(t *testing.T, u string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func untar(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = string(b)
	}
}

func TestNPMFeedDocumentAndTarball(t *testing.T) {
	n := NewNPM(t)
	n.PlantPackage("left-pad", "1.0.0", map[string]string{"index.js": "v1"})
	pkg := n.PlantPackage("@acme/widget", "2.1.0", map[string]string{"lib/a.js": "secret here\n"})
	n.PlantPackage("left-pad", "1.0.1", map[string]string{"index.js": "v2"})

	var feed struct {
		Results []struct {
			Seq     json.Number `json:"seq"`
			ID      string      `json:"id"`
			Changes []struct {
				Rev string `json:"rev"`
			} `json:"changes"`
		} `json:"results"`
		LastSeq json.Number `json:"last_seq"`
	}
	_, b := getBody(t, n.URL()+"registry/_changes?since=0&limit=2", nil)
	if err := json.Unmarshal(b, &feed); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if len(feed.Results) != 2 || feed.Results[1].ID != "@acme/widget" || feed.LastSeq != "2" || feed.Results[0].Changes[0].Rev == "" {
		t.Fatalf("feed page: %s", b)
	}
	_, b = getBody(t, n.URL()+"registry/_changes?since="+feed.LastSeq.String()+"&limit=2", nil)
	if !strings.Contains(string(b), `"id":"left-pad"`) || !strings.Contains(string(b), `"last_seq":3`) {
		t.Fatalf("second page: %s", b)
	}
	if resp, _ := getBody(t, n.URL()+"registry/_changes?since=abc", nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed since: %d, want 400", resp.StatusCode)
	}

	resp, b := getBody(t, n.URL()+url.PathEscape("@acme/widget"), nil)
	var doc struct {
		Name     string            `json:"name"`
		DistTags map[string]string `json:"dist-tags"`
		Versions map[string]struct {
			Dist struct{ Tarball, Shasum, Integrity string } `json:"dist"`
		} `json:"versions"`
		Time map[string]string `json:"time"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("document %d %s: %v", resp.StatusCode, b, err)
	}
	dist := doc.Versions["2.1.0"].Dist
	if doc.DistTags["latest"] != "2.1.0" || dist.Tarball != pkg.Tarball || doc.Time["2.1.0"] == "" ||
		!strings.HasSuffix(dist.Tarball, "/@acme/widget/-/widget-2.1.0.tgz") {
		t.Fatalf("document: %s", b)
	}
	_, tgz := getBody(t, dist.Tarball, nil)
	sum := sha512.Sum512(tgz)
	if dist.Integrity != "sha512-"+base64.StdEncoding.EncodeToString(sum[:]) {
		t.Fatal("dist.integrity is not the tarball's sha512")
	}
	gz, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	if files := untar(t, gz); files["package/lib/a.js"] != "secret here\n" {
		t.Fatalf("tarball holds %v", files)
	}
	resp, b = getBody(t, n.URL()+"left-pad", map[string]string{"Accept": "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"})
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.npm.install-v1+json" || !strings.Contains(string(b), `"latest":"1.0.1"`) || strings.Contains(string(b), `"time"`) {
		t.Fatalf("abbreviated document %s: %s", ct, b)
	}
	if resp, _ := getBody(t, n.URL()+"no-such-package", nil); resp.StatusCode != 404 {
		t.Fatalf("unknown package: %d", resp.StatusCode)
	}
}

func TestDockerHubPullWithTokenDance(t *testing.T) {
	d := NewDockerHub(t)
	for i := range 12 {
		d.PlantImage("acme", "repo"+string(rune('a'+i)), "latest", map[string]string{"x": "y"}, nil)
	}
	img := d.PlantImage("acme", "api", "v1", map[string]string{"app/.env": "K=1\n", "bin/run": "#!/bin/sh\n"}, []string{"A=B"})

	var page struct {
		Count   int     `json:"count"`
		Next    *string `json:"next"`
		Results []struct {
			Name        string `json:"name"`
			LastUpdated string `json:"last_updated"`
		} `json:"results"`
	}
	_, b := getBody(t, d.HubURL()+"v2/namespaces/acme/repositories?page_size=10", nil)
	if err := json.Unmarshal(b, &page); err != nil || page.Count != 13 || len(page.Results) != 10 || page.Next == nil ||
		!strings.HasPrefix(*page.Next, "https://hub.docker.com/v2/namespaces/acme/repositories?") {
		t.Fatalf("repositories page: %s (%v)", b, err)
	}
	_, b = getBody(t, d.HubURL()+"v2/namespaces/acme/repositories/api/tags?page_size=100&ordering=last_updated", nil)
	if !strings.Contains(string(b), `"name":"v1"`) || !strings.Contains(string(b), `"digest":"`+img.ManifestDigest+`"`) {
		t.Fatalf("tags: %s", b)
	}
	if resp, _ := getBody(t, d.HubURL()+"v2/namespaces/nobody/repositories", nil); resp.StatusCode != 404 {
		t.Fatalf("unknown namespace: %d", resp.StatusCode)
	}

	mURL := d.RegistryURL() + "v2/acme/api/manifests/v1"
	resp, _ := getBody(t, mURL, nil)
	ch := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != 401 || ch != `Bearer realm="`+d.AuthURL()+`",service="registry.docker.io",scope="repository:acme/api:pull"` {
		t.Fatalf("anonymous manifest: %d %q", resp.StatusCode, ch)
	}
	_, b = getBody(t, d.AuthURL()+"?service=registry.docker.io&scope="+url.QueryEscape("repository:acme/api:pull"), nil)
	var tok struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.Token == "" || tok.ExpiresIn != 300 {
		t.Fatalf("token: %s", b)
	}
	auth := map[string]string{"Authorization": "Bearer " + tok.Token, "Accept": MediaDockerManifest}
	if resp, _ := getBody(t, d.RegistryURL()+"v2/acme/repoa/manifests/latest", auth); resp.StatusCode != 401 {
		t.Fatalf("a token for acme/api opened acme/repoa: %d", resp.StatusCode)
	}
	resp, mb := getBody(t, mURL, auth)
	if resp.StatusCode != 200 || resp.Header.Get("Docker-Content-Digest") != img.ManifestDigest || digestOf(mb) != img.ManifestDigest {
		t.Fatalf("manifest: %d %s", resp.StatusCode, resp.Header.Get("Docker-Content-Digest"))
	}
	var m struct {
		Config struct{ Digest string } `json:"config"`
		Layers []struct {
			MediaType, Digest string
			Size              int
		} `json:"layers"`
	}
	if err := json.Unmarshal(mb, &m); err != nil || m.Config.Digest != img.ConfigDigest || len(m.Layers) != 1 || m.Layers[0].Digest != img.LayerDigest {
		t.Fatalf("manifest body: %s", mb)
	}
	resp, layer := getBody(t, d.RegistryURL()+"v2/acme/api/blobs/"+img.LayerDigest, auth) // follows the 307
	if resp.StatusCode != 200 || digestOf(layer) != img.LayerDigest || len(layer) != m.Layers[0].Size {
		t.Fatalf("layer: %d, digest %s", resp.StatusCode, digestOf(layer))
	}
	gz, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(gz)
	if files := untar(t, bytes.NewReader(raw)); files["app/.env"] != "K=1\n" {
		t.Fatalf("layer holds %v", files)
	}
	_, cfg := getBody(t, d.RegistryURL()+"v2/acme/api/blobs/"+img.ConfigDigest, auth)
	var c struct {
		Config struct{ Env []string } `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(cfg, &c); err != nil || digestOf(cfg) != img.ConfigDigest || len(c.RootFS.DiffIDs) != 1 ||
		c.RootFS.DiffIDs[0] != digestOf(raw) || len(c.Config.Env) != 1 {
		t.Fatalf("config: %s", cfg)
	}
	if resp, _ := getBody(t, mURL, map[string]string{"Authorization": auth["Authorization"], "Accept": "application/vnd.oci.image.index.v1+json"}); resp.StatusCode != 404 {
		t.Fatalf("manifest for an Accept it can't satisfy: %d, want 404", resp.StatusCode)
	}
}

func TestPastebinScrapingAPI(t *testing.T) {
	p := NewPastebin(t)
	p.PlantPaste("AAAA1111", "first")
	p.PlantPaste("BBBB2222", "second")
	_, b := getBody(t, p.URL()+"api_scraping.php?limit=1", nil)
	var list []map[string]any
	if err := json.Unmarshal(b, &list); err != nil || len(list) != 1 {
		t.Fatalf("list: %s", b)
	}
	for _, k := range []string{"scrape_url", "full_url", "date", "key", "size", "expire", "title", "syntax", "user", "hits"} {
		if _, ok := list[0][k].(string); !ok {
			t.Errorf("field %s is %T, want a string", k, list[0][k])
		}
	}
	if list[0]["key"] != "BBBB2222" || list[0]["full_url"] != "https://pastebin.com/BBBB2222" {
		t.Fatalf("newest first: %s", b)
	}
	if _, b := getBody(t, p.URL()+"api_scrape_item.php?i=AAAA1111", nil); string(b) != "first" {
		t.Fatalf("item: %q", b)
	}
	if _, b := getBody(t, p.URL()+"api_scrape_item.php?i=nope", nil); string(b) != "Error, we cannot find this paste." {
		t.Fatalf("unknown item: %q", b)
	}
	p.SetWhitelisted(false)
	if resp, b := getBody(t, p.URL()+"api_scraping.php", nil); resp.StatusCode != 200 || !strings.Contains(string(b), "DOES NOT HAVE ACCESS") {
		t.Fatalf("off the list: %d %q", resp.StatusCode, b)
	}
}

func TestNPMFeedStartsAtTheEndOnRequest(t *testing.T) {
	n := NewNPM(t)
	for i := range 3 {
		n.PlantPackage("old-"+string(rune('a'+i)), "1.0.0", map[string]string{"index.js": "x"})
	}
	_, b := getBody(t, n.URL()+"registry/", nil)
	var info struct {
		DBName    string `json:"db_name"`
		UpdateSeq int64  `json:"update_seq"`
	}
	if err := json.Unmarshal(b, &info); err != nil || info.DBName != "registry" || info.UpdateSeq != 3 {
		t.Fatalf("db info: %s", b)
	}
	_, b = getBody(t, n.URL()+"registry/_changes?since=now", nil)
	if string(b) != "{\"results\":[],\"last_seq\":3}\n" {
		t.Fatalf("since=now: %s", b)
	}
	n.PlantPackage("fresh", "1.0.0", map[string]string{"index.js": "y"})
	_, b = getBody(t, n.URL()+"registry/_changes?since=3", nil)
	if !strings.Contains(string(b), `"id":"fresh"`) || strings.Contains(string(b), "old-") {
		t.Fatalf("since the end: %s", b)
	}
}

func TestDockerHubMultiPlatformIndex(t *testing.T) {
	d := NewDockerHub(t)
	idx, imgs := d.PlantMultiPlatformImage("acme", "web", "1.0", []string{"amd64", "arm64"}, map[string]string{"srv/.env": "K=1\n"}, nil)
	_, b := getBody(t, d.AuthURL()+"?service=registry.docker.io&scope="+url.QueryEscape("repository:acme/web:pull"), nil)
	var tok struct{ Token string }
	if err := json.Unmarshal(b, &tok); err != nil {
		t.Fatal(err)
	}
	auth := map[string]string{"Authorization": "Bearer " + tok.Token, "Accept": MediaOCIIndex + ", " + MediaOCIManifest}
	resp, body := getBody(t, d.RegistryURL()+"v2/acme/web/manifests/1.0", auth)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != MediaOCIIndex || digestOf(body) != idx {
		t.Fatalf("index: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var index struct {
		Manifests []struct {
			Digest   string
			Platform struct{ Architecture, OS string }
		}
	}
	if err := json.Unmarshal(body, &index); err != nil || len(index.Manifests) != 4 ||
		index.Manifests[1].Digest != imgs[1].ManifestDigest || index.Manifests[1].Platform.Architecture != "arm64" ||
		index.Manifests[3].Platform.OS != "unknown" {
		t.Fatalf("index body: %s", body)
	}
	resp, body = getBody(t, d.RegistryURL()+"v2/acme/web/manifests/"+imgs[1].ManifestDigest, auth)
	if resp.StatusCode != 200 || digestOf(body) != imgs[1].ManifestDigest || !strings.Contains(string(body), imgs[1].LayerDigest) {
		t.Fatalf("arm64 manifest: %d %s", resp.StatusCode, body)
	}
	if resp, _ := getBody(t, d.RegistryURL()+"v2/acme/web/manifests/1.0", map[string]string{"Authorization": auth["Authorization"], "Accept": MediaDockerManifest}); resp.StatusCode != 404 {
		t.Fatalf("an index for a client that accepts only Docker manifests: %d, want 404", resp.StatusCode)
	}
	_, b = getBody(t, d.HubURL()+"v2/namespaces/acme/repositories/web/tags", nil)
	if !strings.Contains(string(b), `"media_type":"`+MediaOCIIndex+`"`) {
		t.Fatalf("tags: %s", b)
	}
}
