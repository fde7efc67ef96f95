// Package notifiertest has a real SMTP server for tests (go-smtp) that records
// every message it accepts and can be taken down, brought back on the same
// address, or made to refuse mail, to test delivery faults.
package notifiertest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one message the server accepted.
type Mail struct {
	From string
	To   []string
	// Raw is the message exactly as received after DATA.
	Raw []byte
}

// SMTPServer is an SMTP relay on 127.0.0.1 for one test.
type SMTPServer struct {
	t    testing.TB
	addr string

	mu       sync.Mutex
	srv      *smtp.Server
	l        net.Listener
	mails    []Mail
	refuse   bool
	attempts int // DATA commands seen, accepted or not
	changed  chan struct{}
	tls      *tls.Config // offers STARTTLS when set
	tlsSeen  int         // messages received over TLS
	opts     Options
	hang     bool          // accept connections and never answer
	held     []net.Conn    // connections held by hang
	authSeen []string      // mechanisms of successful AUTHs
	stall    chan struct{} // non-nil: MAIL FROM waits until it is closed
	stalled  int           // MAIL FROM commands held by Stall
}

// SMTPTLS is how a test relay protects its connections.
type SMTPTLS int

const (
	// NoTLS offers no STARTTLS.
	NoTLS SMTPTLS = iota
	// StartTLS offers STARTTLS.
	StartTLS
	// ImplicitTLS speaks TLS from the first byte (SMTPS).
	ImplicitTLS
)

// Options configure NewSMTPServerWith.
type Options struct {
	TLS SMTPTLS
	// Cert is the server's certificate for TLS; nil means a self-signed
	// one for "mail.local".
	Cert *tls.Certificate
	// Username and Password, when Username is set, make the relay require
	// AUTH (offered only over TLS, as real relays do) with Mechanisms
	// (default PLAIN and LOGIN).
	Username, Password string
	Mechanisms         []string
}

// NewSMTPServer starts a server on a free loopback port; it stops when the
// test ends.
func NewSMTPServer(t testing.TB) *SMTPServer { return newSMTPServer(t, nil) }

// NewSMTPServerTLS starts a server that offers STARTTLS with a self-signed
// certificate, as a default local Postfix does.
func NewSMTPServerTLS(t testing.TB) *SMTPServer {
	t.Helper()
	return newSMTPServer(t, selfSigned(t))
}

// NewSMTPServerWith starts a server with opts.
func NewSMTPServerWith(t testing.TB, opts Options) *SMTPServer {
	t.Helper()
	var tc *tls.Config
	if opts.TLS != NoTLS {
		if opts.Cert != nil {
			tc = &tls.Config{Certificates: []tls.Certificate{*opts.Cert}, MinVersion: tls.VersionTLS12}
		} else {
			tc = selfSigned(t)
		}
	}
	if opts.Username != "" && len(opts.Mechanisms) == 0 {
		opts.Mechanisms = []string{sasl.Plain, sasl.Login}
	}
	return newSMTPServerOpts(t, tc, opts)
}

func newSMTPServer(t testing.TB, tc *tls.Config) *SMTPServer {
	t.Helper()
	opts := Options{}
	if tc != nil {
		opts.TLS = StartTLS
	}
	return newSMTPServerOpts(t, tc, opts)
}

func newSMTPServerOpts(t testing.TB, tc *tls.Config, opts Options) *SMTPServer {
	t.Helper()
	s := &SMTPServer{t: t, changed: make(chan struct{}), tls: tc, opts: opts}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtp test server: listen: %v", err)
	}
	s.addr = l.Addr().String()
	s.serve(l)
	t.Cleanup(s.Down)
	return s
}

func (s *SMTPServer) serve(l net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &session{s: s, tls: isTLS, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.MaxRecipients = 10
	if s.opts.TLS == StartTLS {
		srv.TLSConfig = s.tls
	}
	s.mu.Lock()
	s.srv, s.l = srv, l
	s.mu.Unlock()
	var sl net.Listener = &hangListener{Listener: l, s: s}
	if s.opts.TLS == ImplicitTLS {
		sl = tls.NewListener(sl, s.tls)
	}
	go func() { _ = srv.Serve(sl) }()
}

// hangListener holds every connection it accepts while the server hangs:
// the relay took the connection and then says nothing.
type hangListener struct {
	net.Listener
	s *SMTPServer
}

func (l *hangListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.s.mu.Lock()
		hang := l.s.hang
		if hang {
			l.s.held = append(l.s.held, c)
		}
		l.s.mu.Unlock()
		if !hang {
			return c, nil
		}
	}
}

// Hang makes the relay accept connections and then never answer (not
// even the greeting) while on is true; turning it off closes them.
func (s *SMTPServer) Hang(on bool) {
	s.mu.Lock()
	s.hang = on
	held := s.held
	if !on {
		s.held = nil
	}
	s.mu.Unlock()
	if !on {
		for _, c := range held {
			_ = c.Close()
		}
	}
}

// Stall makes the relay greet, answer EHLO and then never answer MAIL FROM
// while on is true (a relay stuck mid-session); turning it off lets the
// held commands go on (their clients have usually given up by then).
func (s *SMTPServer) Stall(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.stall == nil:
		s.stall = make(chan struct{})
	case !on && s.stall != nil:
		close(s.stall)
		s.stall = nil
	}
}

// Stalled is the number of MAIL FROM commands held by Stall.
func (s *SMTPServer) Stalled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stalled
}

// Held is the number of connections the relay accepted while hanging.
func (s *SMTPServer) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// AuthMechanisms lists the mechanisms of the successful AUTHs, in order.
func (s *SMTPServer) AuthMechanisms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.authSeen...)
}

// Addr is host:port, for LEAKGUARD_SMTP_ADDR.
func (s *SMTPServer) Addr() string { return s.addr }

// Down closes the listener and every connection: the relay is unreachable.
func (s *SMTPServer) Down() {
	s.Hang(false)
	s.Stall(false)
	s.mu.Lock()
	srv, l := s.srv, s.l
	s.srv, s.l = nil, nil
	s.mu.Unlock()
	if l != nil {
		// Closed here too: Serve may not have taken the listener over yet.
		_ = l.Close()
	}
	if srv != nil {
		_ = srv.Close()
	}
}

// Up listens again on the same address after Down.
func (s *SMTPServer) Up() {
	s.t.Helper()
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket may linger a moment
		if l, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("smtp test server: listen again on %s: %v", s.addr, err)
	}
	s.serve(l)
}

// Refuse makes the server answer DATA with a temporary failure (451) while
// on is true, as a relay with a full queue would.
func (s *SMTPServer) Refuse(on bool) {
	s.mu.Lock()
	s.refuse = on
	s.mu.Unlock()
}

// Attempts is the number of DATA commands seen, accepted or refused.
func (s *SMTPServer) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Mails returns the messages accepted so far.
func (s *SMTPServer) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// WaitMails waits until at least n messages were accepted and returns them.
func (s *SMTPServer) WaitMails(n int, timeout time.Duration) []Mail {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, ch := len(s.mails), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Mails()
		}
		select {
		case <-ch:
		case <-deadline:
			s.t.Fatalf("smtp test server: %d messages after %v, want %d", got, timeout, n)
			return nil
		}
	}
}

type session struct {
	s      *SMTPServer
	tls    bool
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

// AuthMechanisms offers AUTH only when the relay requires it.
func (x *session) AuthMechanisms() []string { return x.s.opts.Mechanisms }

// Auth checks the relay's one user name and password.
func (x *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != x.s.opts.Username || pass != x.s.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}
		}
		x.authed = true
		x.s.mu.Lock()
		x.s.authSeen = append(x.s.authSeen, mech)
		x.s.mu.Unlock()
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// loginServer is the server side of AUTH LOGIN, which go-sasl lacks:
// "Username:", then "Password:", each answered in base64 (go-smtp
// decodes it).
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(response) == 0 { // no initial response
			return []byte("Username:"), false, nil
		}
		l.user = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 1:
		l.user = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(response))
	}
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.opts.Username != "" && !x.authed {
		return smtp.ErrAuthRequired
	}
	x.s.mu.Lock()
	stall := x.s.stall
	if stall != nil {
		x.s.stalled++
	}
	x.s.mu.Unlock()
	if stall != nil {
		<-stall
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "stalled"}
	}
	x.from = from
	return nil
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error { x.to = append(x.to, to); return nil }
func (x *session) Reset()                                    { x.from, x.to = "", nil }
func (x *session) Logout() error                             { return nil }

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := x.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.refuse {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.mails = append(s.mails, Mail{From: x.from, To: append([]string(nil), x.to...), Raw: raw})
	if x.tls {
		s.tlsSeen++
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// Parsed is a message split into its headers and decoded text parts.
type Parsed struct {
	Header mail.Header
	// Parts maps a content type ("text/plain", "text/html") to its
	// decoded body.
	Parts map[string]string
}

// Parse decodes a message: headers, and every text part with its transfer
// encoding undone, so tests can read what a mail client would show.
func Parse(raw []byte) (Parsed, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Parsed{}, err
	}
	p := Parsed{Header: m.Header, Parts: map[string]string{}}
	err = walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body, p.Parts)
	return p, err
}

func walk(ctype, cte string, body io.Reader, out map[string]string) error {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part, out); err != nil {
				return err
			}
		}
	}
	var r io.Reader = body
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body) // skips line breaks
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	out[mt] += string(b)
	return nil
}

// selfSigned is a TLS config with a fresh self-signed certificate for a
// host name nobody would verify ("mail.local").
func selfSigned(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.local"}, DNSNames: []string{"mail.local"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

// TLSMails is how many accepted messages came over a TLS connection.
func (s *SMTPServer) TLSMails() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tlsSeen
}

// CA is a certificate authority for one test: it signs server
// certificates, and a client told to trust CertPEM (LEAKGUARD_SMTP_CA_FILE)
// verifies them.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// CertPEM is the CA's certificate.
	CertPEM []byte
}

// NewCA makes a fresh CA.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "leakguard test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{cert: cert, key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// WriteFile writes CertPEM to a file in the test's temporary directory
// and returns its path.
func (ca *CA) WriteFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, ca.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue signs a server certificate for hosts (names or IP addresses).
func (ca *CA) Issue(t testing.TB, hosts ...string) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
