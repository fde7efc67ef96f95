package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/leakguard/leakguard/internal/httpx"
)

// The sources' client reaches the configured upstreams wherever they are,
// but not an internal address an upstream redirects to.
func TestUpstreamClientRefusesRedirectsToInternalAddresses(t *testing.T) {
	t.Parallel()
	var internalHits atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { internalHits.Add(1) }))
	defer internal.Close()
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			return
		}
		http.Redirect(w, r, internal.URL+"/latest/meta-data/", http.StatusFound)
	}))
	defer hostile.Close()
	cfg, err := loadConfig(func(k string) string {
		if k == "LEAKGUARD_PASTEBIN_URL" {
			return hostile.URL + "/"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	c := upstreamClient(cfg)
	resp, err := c.Get(hostile.URL + "/ok")
	if err != nil {
		t.Fatalf("the configured upstream: %v", err)
	}
	resp.Body.Close()
	if _, err := c.Get(hostile.URL + "/api_scrape_item.php?i=x"); !errors.Is(err, httpx.ErrPrivateAddress) {
		t.Fatalf("redirect to loopback: %v, want ErrPrivateAddress", err)
	}
	if internalHits.Load() != 0 {
		t.Fatal("the redirect was followed")
	}
}
