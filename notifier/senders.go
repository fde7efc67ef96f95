package notifier

import (
	"net/http"
	"time"

	"context"
	"log/slog"

	"github.com/leakguard/leakguard/internal/httpx"

	"github.com/leakguard/leakguard/keystore"
)

// LogSender "delivers" a notice by logging it, for a daemon with no mail
// relay: the owner's notice is at least in the operator's logs. It logs the
// redacted key only (nothing else of a key ever reaches the store).
type LogSender struct {
	logger *slog.Logger
}

// NewLogSender returns a sender logging to logger.
func NewLogSender(logger *slog.Logger) *LogSender {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &LogSender{logger: logger}
}

// Send logs the notice at warning level, with what the email would say.
func (s *LogSender) Send(ctx context.Context, msg Message) error {
	n := msg.Notice
	l := n.Incident.Location
	attrs := []any{
		"notice_id", n.ID, "channel", n.Channel, "to", n.Account.Email, "subject", Subject(msg),
		"incident_id", n.Incident.ID, "account_id", n.Account.ID, "key_id", n.Key.ID,
		"redacted", n.Incident.Redacted, "key_name", oneLine(n.Key.Name), "action", n.Incident.Action,
		"source", n.Incident.Source, "rule", n.Incident.Rule, "url", l.URL, "repository", l.Repository,
		"commit", l.Commit, "path", l.Path, "line", l.Line, "found_at", n.Incident.FirstSeenAt,
	}
	if msg.Activity != nil {
		attrs = append(attrs, "requests_since", msg.Activity.Requests, "new_ips", msg.Activity.NewIPs)
	}
	s.logger.WarnContext(ctx, "leak notice (no SMTP relay configured: LEAKGUARD_SMTP_ADDR)", attrs...)
	return nil
}

// SendersConfig is what the senders of `leakguard serve` take from its
// configuration (docs/configuration.md).
type SendersConfig struct {
	SMTPAddr string // host:port of the relay; "": notices are logged
	SMTPFrom string // sender address; "": DefaultFrom
	// SMTPUsername and SMTPPassword: SMTP AUTH, PLAIN or LOGIN.
	SMTPUsername string
	SMTPPassword string
	SMTPTLS      SMTPTLS // "": opportunistic
	// SMTPCAFile: extra roots for the relay's certificate.
	SMTPCAFile string
	// WebhookAllowPrivate lets the account webhook reach loopback and
	// private addresses (LEAKGUARD_WEBHOOK_ALLOW_PRIVATE); otherwise each
	// connection is checked where it really goes (httpx.Guard).
	WebhookAllowPrivate bool
}

// NewSenders builds the senders of `leakguard serve`: email through the
// relay, or logged when there is none; webhooks signed with each
// endpoint's secret.
func NewSenders(cfg SendersConfig, logger *slog.Logger) (map[keystore.Channel]Sender, error) {
	g := httpx.Guard{AllowPrivate: cfg.WebhookAllowPrivate}
	hook := NewWebhookSender(&http.Client{Transport: g.Transport(), Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }})
	senders := map[keystore.Channel]Sender{keystore.ChannelWebhook: hook}
	if cfg.SMTPAddr != "" {
		s, err := NewSMTPSenderConfig(SMTPConfig{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, Username: cfg.SMTPUsername,
			Password: cfg.SMTPPassword, TLS: cfg.SMTPTLS, CAFile: cfg.SMTPCAFile})
		if err != nil {
			return nil, err
		}
		senders[keystore.ChannelEmail] = s
	} else {
		senders[keystore.ChannelEmail] = NewLogSender(logger)
	}
	return senders, nil
}
