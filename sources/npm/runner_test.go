package npm

import (
	"context"
	"testing"

	"github.com/leakguard/leakguard/sources"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

// TestWithRunnerAndStore runs the source the way serve does: under the
// shared runner, with the store's cursor and SeenSet.
func TestWithRunnerAndStore(t *testing.T) {
	f := newFakeNPM(t)
	kit := sourcetest.NewKit(t, "npm", nil)
	k := newKey(t)
	f.addPackage("leaky", "1.0.0", fakeVersion{version: "1.0.0", published: t0, tgz: tgz(t, "package/i.js", "x='"+k+"'")})
	f.addChange(7, "leaky", false)
	f.addChange(8, "leaky", false)
	src := New(Config{ReplicateURL: f.url(), RegistryURL: f.url()}, kit.Env)
	r := sources.NewRunner(src, sources.RunnerConfig{}, kit.Store, nil, kit.Metrics, nil)
	if _, err := r.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := kit.Store.GetCursor(context.Background(), "npm")
	if err != nil || c != "8" {
		t.Fatalf("stored cursor %q, %v; want 8", c, err)
	}
	if len(kit.Pub.Hits()) != 1 || f.count(tarballPath("leaky", "1.0.0")) != 1 {
		t.Fatalf("%d hits, %d downloads", len(kit.Pub.Hits()), f.count(tarballPath("leaky", "1.0.0")))
	}
	if sourcetest.Count(kit.Metrics.BytesScanned.WithLabelValues("npm")) <= 0 {
		t.Error("scanned bytes not counted")
	}
	// The next poll starts after the stored cursor: nothing to do.
	f.addChange(9, "leaky", false)
	if _, err := r.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.count(tarballPath("leaky", "1.0.0")) != 1 {
		t.Error("a tarball already scanned was downloaded again")
	}
	if c, _ := kit.Store.GetCursor(context.Background(), "npm"); c != "9" {
		t.Errorf("stored cursor %q, want 9", c)
	}
}
