package notifier

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// DefaultFrom is the sender address when LEAKGUARD_SMTP_FROM is unset.
const DefaultFrom = "leakguard@localhost"

// DefaultSMTPTimeout bounds dialling and each SMTP command.
const DefaultSMTPTimeout = 20 * time.Second

// SMTPTLS is how the connection to the relay is protected
// (LEAKGUARD_SMTP_TLS, docs/configuration.md).
type SMTPTLS string

const (
	// SMTPTLSOpportunistic uses STARTTLS when the relay offers it and
	// plain text otherwise (the default).
	SMTPTLSOpportunistic SMTPTLS = "opportunistic"
	// SMTPTLSStartTLS requires STARTTLS: a relay that does not offer it is
	// refused and nothing is sent.
	SMTPTLSStartTLS SMTPTLS = "starttls"
	// SMTPTLSImplicit speaks TLS from the first byte (SMTPS, port 465).
	SMTPTLSImplicit SMTPTLS = "implicit"
	// SMTPTLSNone never encrypts.
	SMTPTLSNone SMTPTLS = "none"
)

// ParseSMTPTLS reads LEAKGUARD_SMTP_TLS; "" is the default.
func ParseSMTPTLS(v string) (SMTPTLS, error) {
	switch m := SMTPTLS(strings.ToLower(strings.TrimSpace(v))); m {
	case "":
		return SMTPTLSOpportunistic, nil
	case SMTPTLSOpportunistic, SMTPTLSStartTLS, SMTPTLSImplicit, SMTPTLSNone:
		return m, nil
	}
	return "", fmt.Errorf("LEAKGUARD_SMTP_TLS %q: want starttls, implicit, opportunistic or none", v)
}

// SMTPConfig is the mail relay (docs/configuration.md).
type SMTPConfig struct {
	Addr string // host:port (LEAKGUARD_SMTP_ADDR)
	From string // LEAKGUARD_SMTP_FROM; DefaultFrom if empty
	// Username and Password, when Username is set, authenticate with SMTP
	// AUTH, PLAIN or LOGIN, whichever the relay offers. They are only ever
	// sent over TLS (or to a relay on this machine).
	Username string
	Password string
	TLS      SMTPTLS // "" is opportunistic
	// CAFile is a PEM file of extra roots to trust for the relay's
	// certificate (LEAKGUARD_SMTP_CA_FILE), on top of the system's. When
	// set, a relay on this machine is verified too.
	CAFile string
	// Timeout bounds dialling and each SMTP command; default
	// DefaultSMTPTimeout.
	Timeout time.Duration
}

// SMTPSender mails notices through a relay.
type SMTPSender struct {
	host     string
	port     int
	from     string
	user     string
	pass     string
	mode     SMTPTLS
	roots    *x509.CertPool // nil: the system's
	insecure bool           // loopback relay, no CA configured
	// Timeout bounds dialling and each SMTP command.
	Timeout time.Duration
}

// NewSMTPSender returns a sender relaying through addr ("host:port") from
// the address from (DefaultFrom if empty), STARTTLS when offered, no AUTH.
func NewSMTPSender(addr, from string) (*SMTPSender, error) {
	return NewSMTPSenderConfig(SMTPConfig{Addr: addr, From: from})
}

// NewSMTPSenderConfig returns a sender for cfg.
func NewSMTPSenderConfig(cfg SMTPConfig) (*SMTPSender, error) {
	host, p, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("SMTP relay %q: want host:port: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("SMTP relay %q: bad port %q", cfg.Addr, p)
	}
	if host == "" {
		return nil, fmt.Errorf("SMTP relay %q: no host", cfg.Addr)
	}
	from := cfg.From
	if from == "" {
		from = DefaultFrom
	}
	// Check the sender address once, here, rather than on every notice.
	if err := mail.NewMsg().From(from); err != nil {
		return nil, fmt.Errorf("SMTP sender address %q: %w", from, err)
	}
	mode, err := ParseSMTPTLS(string(cfg.TLS))
	if err != nil {
		return nil, err
	}
	if cfg.Username == "" && cfg.Password != "" {
		return nil, errors.New("LEAKGUARD_SMTP_PASSWORD is set without LEAKGUARD_SMTP_USERNAME")
	}
	s := &SMTPSender{host: host, port: port, from: from, user: cfg.Username, pass: cfg.Password, mode: mode,
		Timeout: cfg.Timeout}
	if s.Timeout <= 0 {
		s.Timeout = DefaultSMTPTimeout
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("LEAKGUARD_SMTP_CA_FILE: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("LEAKGUARD_SMTP_CA_FILE %s: no PEM certificate in it", cfg.CAFile)
		}
		s.roots = pool
	} else {
		s.insecure = isLoopback(host)
	}
	return s, nil
}

// Send mails msg to the account's address: plain text with an HTML
// alternative, Message-ID <notice-id@leakguard> so that a retry after a
// crash between send and mark can be recognised as the same message.
func (s *SMTPSender) Send(ctx context.Context, msg Message) error {
	n := msg.Notice
	e, err := Render(msg)
	if err != nil {
		return err
	}
	m := mail.NewMsg()
	if err := m.From(s.from); err != nil {
		return fmt.Errorf("mail notice %s: from: %w", n.ID, err)
	}
	if err := m.To(n.Account.Email); err != nil {
		return fmt.Errorf("mail notice %s: account %s address: %w", n.ID, n.Account.ID, err)
	}
	m.Subject(e.Subject)
	m.SetMessageIDWithValue(n.ID + "@leakguard")
	m.SetDate()
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader("X-Leakguard-Incident", n.Incident.ID)
	m.SetBodyString(mail.TypeTextPlain, e.Text)
	m.AddAlternativeString(mail.TypeTextHTML, e.HTML)

	c, err := mail.NewClient(s.host, s.options()...)
	if err != nil {
		return fmt.Errorf("mail notice %s: relay client: %w", n.ID, err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		// go-mail's errors name the relay's answer, never the password.
		return fmt.Errorf("mail notice %s via %s (tls %s): %w", n.ID, net.JoinHostPort(s.host, strconv.Itoa(s.port)), s.mode, err)
	}
	return nil
}

func (s *SMTPSender) options() []mail.Option {
	opts := []mail.Option{
		mail.WithPort(s.port),
		mail.WithTLSConfig(s.tlsConfig()),
		mail.WithTimeout(s.Timeout),
	}
	switch s.mode {
	case SMTPTLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case SMTPTLSImplicit:
		opts = append(opts, mail.WithSSL())
	case SMTPTLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	}
	if s.user != "" {
		// go-mail's PLAIN and LOGIN refuse to send credentials over a
		// connection without TLS (unless the relay is on this machine).
		opts = append(opts, mail.WithOpportunisticSMTPAuth(mail.SMTPAuthPlain, mail.SMTPAuthLogin),
			mail.WithUsername(s.user), mail.WithPassword(s.pass))
	}
	return opts
}

// tlsConfig verifies the relay's certificate against the system's roots
// and LEAKGUARD_SMTP_CA_FILE, except for a relay on this machine with no
// CA file configured: such a relay usually offers STARTTLS with a
// self-signed certificate, and the mail never crosses a network on the way
// to it.
func (s *SMTPSender) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12, RootCAs: s.roots, InsecureSkipVerify: s.insecure}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
