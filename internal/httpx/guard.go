package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrPrivateAddress is returned when a connection would reach a loopback,
// private, link-local (cloud metadata included) or otherwise internal
// address that the Guard does not allow.
var ErrPrivateAddress = errors.New("refused to connect to a loopback, private, link-local or metadata address")

// Guard checks, when a connection is made, the address it actually goes
// to (after DNS resolution, in a net.Dialer Control hook), so a name that
// resolves to a public address when checked and to 127.0.0.1 when used
// (DNS rebinding) is refused too, and so is a redirect to such an address.
// The zero value refuses every internal address.
type Guard struct {
	// AllowPrivate lets every address through (LEAKGUARD_WEBHOOK_ALLOW_PRIVATE=1
	// for webhooks; private deployments).
	AllowPrivate bool
	// AllowHosts are host:port pairs dialled without the check: the
	// configured upstream base URLs (a test's fake on 127.0.0.1, a
	// registry mirror on a private network). A redirect to any other
	// internal address is still refused.
	AllowHosts []string
}

// AllowURL adds the host:port of a configured base URL to AllowHosts.
func (g *Guard) AllowURL(raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return
	}
	g.AllowHosts = append(g.AllowHosts, hostPort(u))
}

func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// IsInternal reports whether ip is an address a request from the internet
// must not be steered to: unspecified, loopback, private (RFC 1918, ULA),
// link-local (169.254/16 holds the cloud metadata service), CGNAT
// 100.64/10, multicast, and the IPv4 ones inside IPv6 forms.
func IsInternal(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.Is6() {
		// NAT64 and 6to4 embed an IPv4 address.
		b := ip.As16()
		if netip.MustParsePrefix("64:ff9b::/96").Contains(ip) {
			return IsInternal(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		}
		if netip.MustParsePrefix("2002::/16").Contains(ip) {
			return IsInternal(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsLoopback(), ip.IsPrivate(), ip.IsLinkLocalUnicast(),
		ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast(), ip.IsMulticast():
		return true
	}
	for _, p := range internalPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

var internalPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // CGNAT
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, broadcast
	netip.MustParsePrefix("fd00:ec2::254/128"),
}

// control is the net.Dialer Control hook: address is the IP and port the
// socket is about to connect to.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
	}
	if IsInternal(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, ap.Addr())
	}
	return nil
}

func (g *Guard) allowed(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	hp := net.JoinHostPort(strings.ToLower(host), port)
	for _, a := range g.AllowHosts {
		if a == hp {
			return true
		}
	}
	return false
}

// DialContext dials addr, checking the connected address unless addr is
// one of AllowHosts.
func (g *Guard) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	plain := *d
	checked := *d
	checked.Control = g.control
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if g.allowed(addr) {
			return plain.DialContext(ctx, network, addr)
		}
		return checked.DialContext(ctx, network, addr)
	}
}

// Transport is an http.Transport for upstream calls whose every
// connection goes through the guard. It uses no proxy: a proxy would make
// the connected address the proxy's, and the check meaningless.
func (g *Guard) Transport() *http.Transport {
	return &http.Transport{
		DialContext:           g.DialContext(&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}),
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
}

// Resolver looks a host name up (net.DefaultResolver.LookupNetIP).
type Resolver func(ctx context.Context, network, host string) ([]netip.Addr, error)

// CheckURL is the check made when a URL is configured (a webhook endpoint
// is created): an http(s) URL with a host, none of whose addresses is
// internal unless the guard allows it. lookup nil means the system
// resolver. The connect-time check still runs on every delivery.
func (g *Guard) CheckURL(ctx context.Context, raw string, lookup Resolver) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return errors.New("the URL must be http or https")
	}
	if u.Hostname() == "" {
		return errors.New("the URL has no host")
	}
	if u.User != nil {
		return errors.New("the URL must not hold credentials")
	}
	if g.AllowPrivate || g.allowed(hostPort(u)) {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if IsInternal(ip) {
			return fmt.Errorf("%w: %s", ErrPrivateAddress, ip)
		}
		return nil
	}
	if lookup == nil {
		lookup = net.DefaultResolver.LookupNetIP
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := lookup(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("cannot resolve %s: %w", host, err)
	}
	for _, ip := range ips {
		if IsInternal(ip) {
			return fmt.Errorf("%w: %s resolves to %s", ErrPrivateAddress, host, ip.Unmap())
		}
	}
	return nil
}
