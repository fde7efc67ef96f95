package httpx_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/leakguard/leakguard/internal/httpx"
)

func TestIsInternal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", true}, {"127.9.9.9", true}, {"::1", true}, {"10.1.2.3", true}, {"172.16.0.1", true},
		{"192.168.1.1", true}, {"169.254.169.254", true}, {"fe80::1", true}, {"fd00:ec2::254", true},
		{"fc00::1", true}, {"0.0.0.0", true}, {"::", true}, {"100.64.0.1", true}, {"::ffff:127.0.0.1", true},
		{"::ffff:169.254.169.254", true}, {"64:ff9b::a9fe:a9fe", true}, {"2002:7f00:1::", true}, {"224.0.0.1", true},
		{"255.255.255.255", true},
		{"93.184.216.34", false}, {"8.8.8.8", false}, {"2606:4700:4700::1111", false}, {"::ffff:8.8.8.8", false},
	} {
		if got := httpx.IsInternal(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("IsInternal(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

// A redirect from an allowed upstream to another loopback address is not
// followed: the connection is refused before a byte is sent.
func TestGuardRefusesARedirectToAnInternalAddress(t *testing.T) {
	t.Parallel()
	var metadataHits atomic.Int64
	metadata := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metadataHits.Add(1)
		_, _ = w.Write([]byte("iam credentials"))
	}))
	defer metadata.Close()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, metadata.URL+"/latest/meta-data/", http.StatusFound)
	}))
	defer upstream.Close()
	var g httpx.Guard
	g.AllowURL(upstream.URL + "/")
	client := &http.Client{Transport: g.Transport()}
	_, err := client.Get(upstream.URL + "/item")
	if !errors.Is(err, httpx.ErrPrivateAddress) {
		t.Fatalf("err = %v, want ErrPrivateAddress", err)
	}
	if metadataHits.Load() != 0 {
		t.Fatal("the redirect target was reached")
	}
	// The allowed upstream itself works.
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer ok.Close()
	g.AllowURL(ok.URL)
	resp, err := (&http.Client{Transport: g.Transport()}).Get(ok.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// A name that resolved to a public address when it was checked and
// resolves to loopback when used (DNS rebinding) is refused at connect.
func TestGuardCoversDNSRebinding(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	var g httpx.Guard
	public := func(context.Context, string, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	}
	if err := g.CheckURL(context.Background(), u, public); err != nil {
		t.Fatalf("check with a public answer: %v", err)
	}
	if err := g.CheckURL(context.Background(), u, nil); !errors.Is(err, httpx.ErrPrivateAddress) {
		t.Fatalf("check with the real answer: %v, want ErrPrivateAddress", err)
	}
	_, err := (&http.Client{Transport: g.Transport()}).Post(u, "application/json", strings.NewReader("{}"))
	if !errors.Is(err, httpx.ErrPrivateAddress) {
		t.Fatalf("POST after rebinding: %v, want ErrPrivateAddress", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the rebound address was reached")
	}
	allow := httpx.Guard{AllowPrivate: true}
	if err := allow.CheckURL(context.Background(), u, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: allow.Transport()}).Post(u, "application/json", strings.NewReader("{}"))
	if err != nil || hits.Load() != 1 {
		t.Fatalf("AllowPrivate: %v, hits %d", err, hits.Load())
	}
	resp.Body.Close()
}

func TestCheckURLRefusesBadURLs(t *testing.T) {
	t.Parallel()
	var g httpx.Guard
	for _, u := range []string{"ftp://example.com/x", "https:///x", "https://user:pw@example.com/", "http://10.0.0.1/hook",
		"http://[::1]:8080/", "http://169.254.169.254/latest/meta-data/", "not a url\x00"} {
		if err := g.CheckURL(context.Background(), u, nil); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}
