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
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

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

func newSMTPServer(t testing.TB, tc *tls.Config) *SMTPServer {
	t.Helper()
	s := &SMTPServer{t: t, changed: make(chan struct{}), tls: tc}
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
		return &session{s: s, tls: isTLS}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.MaxRecipients = 10
	srv.TLSConfig = s.tls
	s.mu.Lock()
	s.srv, s.l = srv, l
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// Addr is host:port, for LEAKGUARD_SMTP_ADDR.
func (s *SMTPServer) Addr() string { return s.addr }

// Down closes the listener and every connection: the relay is unreachable.
func (s *SMTPServer) Down() {
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
	s    *SMTPServer
	tls  bool
	from string
	to   []string
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error { x.from = from; return nil }
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error   { x.to = append(x.to, to); return nil }
func (x *session) Reset()                                      { x.from, x.to = "", nil }
func (x *session) Logout() error                               { return nil }

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
