package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// Tokens are 32 random bytes, base64url: sign-in links and session cookies
// alike. The store sees only their SHA-256.
const tokenBytes = 32

func newToken() string {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(s[:])
}

// wellFormedToken rejects anything that could not be one of our tokens
// before it costs a store call.
func wellFormedToken(tok string) bool {
	if len(tok) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(tok)
	return err == nil
}

// IssueLink creates a one-time sign-in link for an account, valid for ttl,
// and returns its URL under base. next, if given, is the console path the
// owner lands on (a path of this console only).
func IssueLink(ctx context.Context, store keystore.SessionStore, base *url.URL, accountID, next string, now time.Time, ttl time.Duration) (string, error) {
	tok := newToken()
	now = now.UTC()
	if err := store.CreateLoginLink(ctx, keystore.LoginLink{Hash: tokenHash(tok), AccountID: accountID, CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		if errors.Is(err, keystore.ErrNotFound) {
			return "", fmt.Errorf("no such account %q", accountID)
		}
		return "", err
	}
	q := url.Values{"account": {accountID}, "token": {tok}}
	if next = safeNext(next); next != "" {
		q.Set("next", next)
	}
	u := *base
	u.Path = strings.TrimRight(u.Path, "/") + "/signin/link"
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// safeNext keeps a post-sign-in destination only if it is one of the
// console's own pages (no open redirect).
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	switch u.Path {
	case "/keys", "/logs", "/leaks":
	default:
		return ""
	}
	v := url.Values{}
	if m := keyformat.Mode(u.Query().Get("mode")); m.Valid() {
		v.Set("mode", string(m))
	}
	if len(v) == 0 {
		return u.Path
	}
	return u.Path + "?" + v.Encode()
}

// session is a signed-in request's state.
type session struct {
	token   string // the cookie's value, for the CSRF token
	account keystore.Account
}

// csrf is the session's CSRF token: an HMAC of the session token, so it
// needs no storage, works across API processes, and cannot be computed
// without the cookie a cross-site page cannot read.
func (s *session) csrf() string {
	m := hmac.New(sha256.New, []byte(s.token))
	m.Write([]byte("leakguard console csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (c *Console) sessionCookieName() string {
	if c.secure {
		return "__Host-lg_session" // the browser enforces Secure, Path=/, no Domain
	}
	return "lg_session"
}

func (c *Console) csrfCookieName() string {
	if c.secure {
		return "__Host-lg_csrf"
	}
	return "lg_csrf"
}

func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// currentSession finds the request's live session (and marks it used).
func (c *Console) currentSession(r *http.Request) (*session, error) {
	ck, err := r.Cookie(c.sessionCookieName())
	if err != nil || !wellFormedToken(ck.Value) {
		return nil, errNoSession
	}
	ss, err := c.store.TouchSession(r.Context(), tokenHash(ck.Value), c.svc.Now().UTC(), c.cfg.IdleTimeout)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	a, err := c.svc.GetAccount(r.Context(), ss.AccountID)
	if err != nil {
		return nil, err
	}
	return &session{token: ck.Value, account: a}, nil
}

// preCSRF returns the pre-session CSRF token (double-submit cookie) for the
// forms a signed-out visitor fills, setting the cookie if needed.
func (c *Console) preCSRF(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(c.csrfCookieName()); err == nil && wellFormedToken(ck.Value) {
		return ck.Value
	}
	tok := newToken()
	c.setCookie(w, c.csrfCookieName(), tok, 0)
	return tok
}

func (c *Console) checkPreCSRF(r *http.Request) bool {
	ck, err := r.Cookie(c.csrfCookieName())
	if err != nil || !wellFormedToken(ck.Value) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue("csrf"))) == 1
}

// parseForm reads a bounded form body; false means an answer was sent.
func (c *Console) parseForm(w http.ResponseWriter, r *http.Request, s *session) bool {
	r.Body = http.MaxBytesReader(w, r.Body, c.cfg.MaxForm)
	if err := r.ParseForm(); err != nil {
		var me *http.MaxBytesError
		if errors.As(err, &me) {
			c.errorPage(w, r, s, http.StatusRequestEntityTooLarge, "Form too large",
				fmt.Sprintf("The form you sent is larger than %d KiB, so nothing was done. Go back, shorten it and try again.", c.cfg.MaxForm>>10))
			return false
		}
		c.errorPage(w, r, s, http.StatusBadRequest, "Unreadable form", "The form could not be read, so nothing was done. Go back and try again.")
		return false
	}
	return true
}

func (c *Console) csrfRefused(w http.ResponseWriter, r *http.Request, s *session) {
	c.errorPage(w, r, s, http.StatusForbidden, "Request refused",
		"This form did not come from a page of your console, or it is too old (missing or invalid CSRF token), so nothing was done. Reload the page and try again.")
}

// authed wraps a handler that needs a session: GET without one goes to the
// sign-in page; a POST without one, or without its CSRF token, is 403.
func (c *Console) authed(fn func(w http.ResponseWriter, r *http.Request, s *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		s, err := c.currentSession(r)
		if err != nil && !errors.Is(err, errNoSession) {
			c.fail(w, r, nil, err)
			return
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if s == nil {
				c.clearStaleSession(w, r)
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			fn(w, r, s)
			return
		}
		if !c.parseForm(w, r, s) {
			return
		}
		if s == nil {
			c.clearStaleSession(w, r)
			c.errorPage(w, r, nil, http.StatusForbidden, "Signed out",
				"Your session has ended (signed out, expired or idle), so nothing was done. Sign in again to continue.")
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf())) != 1 {
			c.csrfRefused(w, r, s)
			return
		}
		fn(w, r, s)
	}
}

func (c *Console) clearStaleSession(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(c.sessionCookieName()); err == nil {
		c.setCookie(w, c.sessionCookieName(), "", -1)
	}
}

// ---- sign-in pages ----

type signinData struct {
	Next   string
	Email  string
	Sent   bool
	Notice string
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	if s, err := c.currentSession(r); err == nil && s != nil {
		next := safeNext(r.URL.Query().Get("next"))
		if next == "" {
			next = "/keys"
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	d := signinData{Next: safeNext(r.URL.Query().Get("next"))}
	if r.URL.Query().Has("signed_out") {
		d.Notice = "You are signed out."
	}
	c.render(w, r, http.StatusOK, "signin", page{Title: "Sign in", CSRF: c.preCSRF(w, r), Data: d})
}

// signinSubmit mails a sign-in link to each account of the address. The
// answer is the same page whether or not the address is known, and the
// mail is sent after answering so the timing does not tell either.
func (c *Console) signinSubmit(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	if !c.parseForm(w, r, nil) {
		return
	}
	if !c.checkPreCSRF(r) {
		c.csrfRefused(w, r, nil)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	email := strings.TrimSpace(r.PostFormValue("email"))
	a, err := mail.ParseAddress(email)
	if email == "" || len(email) > 254 || err != nil || a.Address != email {
		c.render(w, r, http.StatusBadRequest, "signin", page{Title: "Sign in", CSRF: c.preCSRF(w, r),
			Error: "Enter the email address of your account, like name@example.com.", Data: signinData{Next: next, Email: email}})
		return
	}
	now := c.svc.Now()
	if !c.ipLimits.allow(c.clientIP(r), now) {
		c.render(w, r, http.StatusTooManyRequests, "signin", page{Title: "Sign in", CSRF: c.preCSRF(w, r),
			Error: "Too many sign-in emails were asked for from your network. Wait a few minutes and try again.", Data: signinData{Next: next, Email: email}})
		return
	}
	if c.addrLimits.allow(strings.ToLower(email), now) {
		// Looked up and sent by Run, after this answer: the answer and
		// its timing are the same whether or not the address is known.
		select {
		case c.signins <- signinJob{email: email, next: next}:
		default:
			c.log.Warn("sign-in email dropped: the queue is full")
		}
	}
	c.render(w, r, http.StatusOK, "signin", page{Title: "Check your email", CSRF: c.preCSRF(w, r), Data: signinData{Sent: true, Email: email}})
}

// signinJob is an email address that asked for a sign-in link.
type signinJob struct{ email, next string }

// sendLinks issues a link per account of the address (at most 5) and
// mails them.
func (c *Console) sendLinks(ctx context.Context, job signinJob) {
	email, next, now := job.email, job.next, c.svc.Now()
	accts, err := c.store.AccountsByEmail(ctx, email, 5)
	if err != nil {
		c.log.Warn("find accounts for a sign-in email", "err", err)
		return
	}
	for _, a := range accts {
		link, err := IssueLink(ctx, c.store, c.base, a.ID, next, now, c.cfg.LinkTTL)
		if err != nil {
			c.log.Warn("issue sign-in link", "account_id", a.ID, "err", err)
			continue
		}
		m, err := c.views.signinMail(a, link, c.cfg.LinkTTL)
		if err != nil {
			c.log.Error("render sign-in email", "err", err)
			return
		}
		c.sendMail(ctx, m)
	}
}

type linkData struct {
	Account string
	Token   string
	Next    string
}

// linkPage is where a sign-in link lands. It signs no one in by itself: a
// GET must not spend the link (mail scanners follow links), so the owner
// confirms with a button.
func (c *Console) linkPage(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	q := r.URL.Query()
	d := linkData{Account: q.Get("account"), Token: q.Get("token"), Next: safeNext(q.Get("next"))}
	if !wellFormedToken(d.Token) || !validID(d.Account) {
		c.badLink(w, r)
		return
	}
	c.render(w, r, http.StatusOK, "link", page{Title: "Sign in", CSRF: c.preCSRF(w, r), Data: d})
}

func (c *Console) badLink(w http.ResponseWriter, r *http.Request) {
	c.errorPage(w, r, nil, http.StatusBadRequest, "Sign-in link not valid",
		"This sign-in link has expired, was already used, or is not a link for this account, so no one was signed in. A link works once, for 15 minutes. Ask for a new one on the sign-in page.")
}

func (c *Console) linkSubmit(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	if !c.parseForm(w, r, nil) {
		return
	}
	if !c.checkPreCSRF(r) {
		c.csrfRefused(w, r, nil)
		return
	}
	tok, acct := r.PostFormValue("token"), r.PostFormValue("account")
	if !wellFormedToken(tok) || !validID(acct) {
		c.badLink(w, r)
		return
	}
	now := c.svc.Now().UTC()
	if _, err := c.store.UseLoginLink(r.Context(), tokenHash(tok), acct, now); err != nil {
		if errors.Is(err, keystore.ErrNotFound) {
			c.badLink(w, r)
			return
		}
		c.fail(w, r, nil, err)
		return
	}
	// A session already in this browser (maybe another account's) ends.
	if ck, err := r.Cookie(c.sessionCookieName()); err == nil && wellFormedToken(ck.Value) {
		_ = c.store.DeleteSession(r.Context(), tokenHash(ck.Value))
	}
	sess := newToken()
	if err := c.store.CreateSession(r.Context(), keystore.Session{Hash: tokenHash(sess), AccountID: acct,
		CreatedAt: now, ExpiresAt: now.Add(c.cfg.SessionTTL), LastSeenAt: now}); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	c.setCookie(w, c.sessionCookieName(), sess, int(c.cfg.SessionTTL/time.Second))
	next := safeNext(r.PostFormValue("next"))
	if next == "" {
		next = "/keys"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.store.DeleteSession(r.Context(), tokenHash(s.token)); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.setCookie(w, c.sessionCookieName(), "", -1)
	http.Redirect(w, r, "/signin?signed_out=1", http.StatusSeeOther)
}

// ---- rate limits ----

// limiter is a bounded table of token buckets: n events per window per
// key. When full it starts over, which can only let a few more emails out.
type limiter struct {
	mu    sync.Mutex
	every rate.Limit
	burst int
	max   int
	m     map[string]*rate.Limiter
}

func newLimiter(n int, window time.Duration, maxKeys int) *limiter {
	return &limiter{every: rate.Every(window / time.Duration(n)), burst: n, max: maxKeys, m: map[string]*rate.Limiter{}}
}

func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[key]
	if !ok {
		if len(l.m) >= l.max {
			clear(l.m)
		}
		b = rate.NewLimiter(l.every, l.burst)
		l.m[key] = b
	}
	return b.AllowN(now, 1)
}
