package notifier

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/wneessen/go-mail"
)

// DefaultFrom is the sender address when LEAKGUARD_SMTP_FROM is unset.
const DefaultFrom = "leakguard@localhost"

// SMTPSender mails notices through a relay.
type SMTPSender struct {
	host string
	port int
	from string
	// Timeout bounds dialling and each SMTP command.
	Timeout time.Duration
}

// NewSMTPSender returns a sender relaying through addr ("host:port") from
// the address from (DefaultFrom if empty).
func NewSMTPSender(addr, from string) (*SMTPSender, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("SMTP relay %q: want host:port: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("SMTP relay %q: bad port %q", addr, p)
	}
	if host == "" {
		return nil, fmt.Errorf("SMTP relay %q: no host", addr)
	}
	if from == "" {
		from = DefaultFrom
	}
	// Check the sender address once, here, rather than on every notice.
	if err := mail.NewMsg().From(from); err != nil {
		return nil, fmt.Errorf("SMTP sender address %q: %w", from, err)
	}
	return &SMTPSender{host: host, port: port, from: from, Timeout: 20 * time.Second}, nil
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

	c, err := mail.NewClient(s.host,
		mail.WithPort(s.port),
		// STARTTLS when the relay offers it, plain otherwise.
		mail.WithTLSPolicy(mail.TLSOpportunistic),
		mail.WithTLSConfig(s.tlsConfig()),
		mail.WithTimeout(s.Timeout),
	)
	if err != nil {
		return fmt.Errorf("mail notice %s: relay client: %w", n.ID, err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("mail notice %s via %s: %w", n.ID, net.JoinHostPort(s.host, strconv.Itoa(s.port)), err)
	}
	return nil
}

// tlsConfig verifies the relay's certificate, except for a relay on this
// machine: such a relay usually offers STARTTLS with a self-signed
// certificate, and the mail never crosses a network on the way to it.
func (s *SMTPSender) tlsConfig() *tls.Config {
	cfg := &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
	if isLoopback(s.host) {
		cfg.InsecureSkipVerify = true
	}
	return cfg
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
