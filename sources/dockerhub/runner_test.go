package dockerhub

import (
	"context"
	"testing"

	"github.com/leakguard/leakguard/sources"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

// TestWithRunnerAndStore runs the source the way serve does: under the
// shared runner, with the store's cursor and SeenSet.
func TestWithRunnerAndStore(t *testing.T) {
	f := newFakeHub(t)
	kit := sourcetest.NewKit(t, "dockerhub", nil)
	k := newKey(t)
	layer := f.addBlob("application/vnd.oci.image.layer.v1.tar+gzip", gzipOf(t, tarOf(t, "app/key.txt", k)))
	f.tag("acme", "app", "v1", f.image(mediaOCIManifest, configJSON(nil), layer), t0)
	f.tag("acme", "app", "v2", f.image(mediaOCIManifest, configJSON([]string{"V=2"}), layer), t0.Add(1))
	src := New(Config{HubURL: f.hubURL, RegistryURL: f.regURL, Namespaces: []string{"acme"}}, kit.Env)
	r := sources.NewRunner(src, sources.RunnerConfig{}, kit.Store, nil, kit.Metrics, nil)
	for i := 0; i < 2; i++ {
		if _, err := r.PollOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	c, err := kit.Store.GetCursor(context.Background(), "dockerhub")
	st, perr := parseCursor(c)
	if err != nil || perr != nil || !st.Repos["acme/app"].Equal(t0.Add(1)) {
		t.Fatalf("stored cursor %q (%v, %v)", c, err, perr)
	}
	if len(kit.Pub.Hits()) != 1 || f.count("GET /v2/acme/app/blobs/"+layer.Digest) != 1 {
		t.Fatalf("%d hits, layer fetched %d times", len(kit.Pub.Hits()), f.count("GET /v2/acme/app/blobs/"+layer.Digest))
	}
	if f.manifestsPulled() != 2 {
		t.Errorf("%d manifest pulls over two polls, want 2", f.manifestsPulled())
	}
}
