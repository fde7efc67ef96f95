package notifier

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/wneessen/go-mail"
)

// Mail is an email other than a leak notice: the owner console's sign-in
// link. Its text may hold a one-time credential, so no sender logs it.
type Mail struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// MailSender sends a Mail. The email senders of NewSenders (SMTP, or the
// log when no relay is set) implement it.
type MailSender interface {
	SendMail(ctx context.Context, m Mail) error
}

var (
	_ MailSender = (*SMTPSender)(nil)
	_ MailSender = (*LogSender)(nil)
)

// SendMail mails m through the relay with the settings Send uses.
func (s *SMTPSender) SendMail(ctx context.Context, m Mail) error {
	msg := mail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail %q: from: %w", m.Subject, err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail %q: recipient: %w", m.Subject, err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageID()
	msg.SetDate()
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	c, err := mail.NewClient(s.host, s.options()...) // the relay settings of Send (auth, TLS)
	if err != nil {
		return fmt.Errorf("mail %q: relay client: %w", m.Subject, err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail %q via %s (tls %s): %w", m.Subject, net.JoinHostPort(s.host, strconv.Itoa(s.port)), s.mode, err)
	}
	return nil
}

// SendMail logs that a mail could not go out for lack of a relay. It does
// not log the body: a sign-in link in the operator's logs would let anyone
// who reads them into the account (the operator has
// `leakguard accounts login-link` for that).
func (s *LogSender) SendMail(ctx context.Context, m Mail) error {
	s.logger.WarnContext(ctx, "email not sent: no SMTP relay configured (LEAKGUARD_SMTP_ADDR); for a console sign-in link use `leakguard accounts login-link`",
		"subject", m.Subject)
	return nil
}
