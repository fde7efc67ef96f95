// Package console is the owner console (docs/console.md): the account
// owner's "API keys", "API logs" and "Leaks" pages in the browser, served
// by the api role next to the key API at "/".
//
// Every page is rendered on the server with html/template and every action
// is a plain HTML form, so the console works without JavaScript; one small
// embedded script makes the permission preview follow the new-key form as
// it changes and wires the "Copy" button. Actions go through the same
// keystore.Service the key API uses, in the mode the page shows, and the
// preview is computed from the API's own route → scope table
// (api.Endpoints), so it says exactly what the API will answer.
//
// Sign-in is by one-time link only: `leakguard accounts login-link` prints
// one, and the sign-in page mails one to the owner's address. An owner
// whose only key was revoked needs nothing but the mailbox.
package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/notifier"
)

// Store is the store the console runs on: a keystore.Store (for the
// activity summary of a leaked key) that keeps console sessions too. Both
// stores are. It is the whole Store rather than the one method used, so
// that the console's calls follow the Store's own signatures (see
// service.go) instead of a copy of them.
type Store interface {
	keystore.Store
	keystore.SessionStore
}

// Defaults of Config.
const (
	DefaultLinkTTL     = 15 * time.Minute
	DefaultSessionTTL  = 12 * time.Hour
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxForm     = 64 << 10
	// KeysPerPage and LogsPerPage are the page sizes of the lists.
	KeysPerPage  = 25
	LogsPerPage  = 50
	leaksPerPage = 20
)

// Config configures the console. BaseURL is required; zero fields take the
// defaults above.
type Config struct {
	// BaseURL is where owners reach the console (LEAKGUARD_CONSOLE_URL,
	// default http:// + LEAKGUARD_HTTP_ADDR); sign-in links point there,
	// and cookies are Secure unless it is plain HTTP on loopback.
	BaseURL string
	// Mailer sends the sign-in links the sign-in page asks for; nil: the
	// page still answers the same, and the request is logged.
	Mailer notifier.MailSender

	LinkTTL     time.Duration // a sign-in link works once, this long
	SessionTTL  time.Duration // a session ends this long after sign-in
	IdleTimeout time.Duration // ... or this long after its last use
	MaxForm     int64         // bytes of a form body

	// EmailsPerIP is how many sign-in emails one client address may ask
	// for per 10 minutes (5); EmailsPerAddress how many one address
	// receives per 15 minutes (3). Past either, the page answers the
	// same, but nothing more is sent (per IP it says to wait).
	EmailsPerIP      int
	EmailsPerAddress int

	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// (LEAKGUARD_TRUSTED_PROXIES, as for the key API).
	TrustedProxies []netip.Prefix

	Logger *slog.Logger
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.LinkTTL, DefaultLinkTTL)
	def(&c.SessionTTL, DefaultSessionTTL)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	if c.MaxForm <= 0 {
		c.MaxForm = DefaultMaxForm
	}
	if c.EmailsPerIP <= 0 {
		c.EmailsPerIP = 5
	}
	if c.EmailsPerAddress <= 0 {
		c.EmailsPerAddress = 3
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Console is the owner console's HTTP handler.
type Console struct {
	cfg    Config
	base   *url.URL
	secure bool // cookies carry Secure
	svc    *keystore.Service
	store  Store
	log    *slog.Logger
	mux    *http.ServeMux
	views  *views

	ipLimits   *limiter
	addrLimits *limiter
	signins    chan signinJob
}

// New returns the console over svc and store.
func New(cfg Config, svc *keystore.Service, store Store) (*Console, error) {
	cfg.defaults()
	base, err := ParseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	vs, err := loadViews()
	if err != nil {
		return nil, err
	}
	c := &Console{
		cfg:        cfg,
		base:       base,
		secure:     SecureCookies(base),
		svc:        svc,
		store:      store,
		log:        cfg.Logger.With("component", "console"),
		views:      vs,
		ipLimits:   newLimiter(cfg.EmailsPerIP, 10*time.Minute, 100_000),
		addrLimits: newLimiter(cfg.EmailsPerAddress, 15*time.Minute, 100_000),
		signins:    make(chan signinJob, 64),
	}
	c.routes()
	return c, nil
}

// ParseBaseURL checks a console base URL: http or https, a host, no query.
func ParseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(s), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("console URL %q: want http(s)://host[:port][/path]", s)
	}
	return u, nil
}

// SecureCookies reports whether cookies for a console at base must be
// Secure: always, except over plain HTTP on loopback, where the browser
// would otherwise never send them back.
func SecureCookies(base *url.URL) bool {
	if base.Scheme == "https" {
		return true
	}
	h := base.Hostname()
	if h == "localhost" {
		return false
	}
	ip, err := netip.ParseAddr(h)
	return err != nil || !ip.IsLoopback()
}

// Run sends queued sign-in emails and purges ended sessions until ctx
// ends. Without Run no sign-in email goes out.
func (c *Console) Run(ctx context.Context) error {
	purge := time.NewTicker(10 * time.Minute)
	defer purge.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case job := <-c.signins:
			c.sendLinks(ctx, job)
		case <-purge.C:
			now := c.svc.Now()
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if _, err := c.store.PurgeSessions(pctx, now, now.Add(-c.cfg.IdleTimeout)); err != nil && ctx.Err() == nil {
				c.log.Warn("purge console sessions", "err", err)
			}
			cancel()
		}
	}
}

func (c *Console) sendMail(ctx context.Context, m notifier.Mail) {
	if c.cfg.Mailer == nil {
		c.log.Warn("sign-in email not sent: no mail sender; use `leakguard accounts login-link`")
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.cfg.Mailer.SendMail(sctx, m); err != nil {
		// The error names the relay, never the link.
		c.log.Warn("send sign-in email", "err", err)
	}
}

// ServeHTTP serves the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// Sign-in links carry their token in the URL: no page sends it on.
	h.Set("Referrer-Policy", "no-referrer")
	if c.base.Scheme == "https" {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			c.log.Error("console handler panicked", "path", r.URL.Path, "panic", fmt.Sprint(v))
			c.errorPage(w, r, nil, http.StatusInternalServerError, "Something went wrong", "Something went wrong on our side. Please try again.")
		}
	}()
	c.mux.ServeHTTP(w, r)
}

// clientIP is the request's address, or behind a trusted proxy the
// right-most untrusted X-Forwarded-For address.
func (c *Console) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	trusted := func(a netip.Addr) bool {
		for _, p := range c.cfg.TrustedProxies {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if !trusted(ip) {
		return bucket(ip)
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return bucket(ip)
			}
			a = a.Unmap()
			if !trusted(a) {
				return bucket(a)
			}
			ip = a
		}
	}
	return bucket(ip)
}

// bucket is what a client address is counted as: IPv6 by its /64, which
// one host usually holds whole.
func bucket(ip netip.Addr) string {
	if ip.Is6() {
		return netip.PrefixFrom(ip, 64).Masked().String()
	}
	return ip.String()
}

var errNoSession = errors.New("no session")
