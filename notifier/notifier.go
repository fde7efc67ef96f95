// Package notifier drains the outbox: every notice the revoker queued becomes
// one email or one signed webhook. A notice is marked sent only after the
// relay or endpoint accepted it; a failure is retried with capped exponential
// backoff, forever and visibly, never dropped.
package notifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/truncate"

	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/metrics"
)

// Sender delivers one notice. It returns nil only once the message was
// accepted (the SMTP relay answered 250 to DATA, the webhook endpoint 2xx).
type Sender interface {
	Send(ctx context.Context, msg Message) error
}

// Message is what a Sender delivers: the outbox row with its incident,
// account and key, and the key's use since it was exposed.
type Message struct {
	Notice keystore.Notice
	// Activity is nil when it could not be loaded; the notice goes out
	// anyway, saying so, since the owner must hear of the leak first.
	Activity *keystore.Activity
	// Attempt is 1 on the first try.
	Attempt int
	// ConsoleURL is the owner console's base URL (LEAKGUARD_CONSOLE_URL);
	// the email links to its Leaks page. Empty: no link.
	ConsoleURL string
}

// Defaults of Config.
const (
	DefaultInterval     = 500 * time.Millisecond
	DefaultBatch        = 16
	DefaultSendTimeout  = 30 * time.Second
	DefaultRetryBase    = 15 * time.Second
	DefaultRetryMax     = time.Hour
	DefaultLoudAttempts = 5
)

// Config tunes a Notifier; the zero value uses the defaults.
type Config struct {
	// Interval between polls of the outbox; Kick wakes it sooner.
	Interval time.Duration
	// Batch is how many notices one poll claims and sends at once.
	Batch int
	// SendTimeout bounds one delivery.
	SendTimeout time.Duration
	// Lease is how long a claimed notice is hidden from other notifiers
	// (default 4 × SendTimeout: a claimed batch is sent in parallel, so it
	// finishes well within it).
	Lease time.Duration
	// RetryBase and RetryMax shape the backoff after a failed attempt n:
	// RetryBase·2^(n-1) capped at RetryMax, with ±25% jitter.
	RetryBase time.Duration
	RetryMax  time.Duration
	// LoudAttempts is the attempt from which failures are logged as errors
	// instead of warnings.
	LoudAttempts int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ConsoleURL is the owner console's base URL, linked from emails.
	ConsoleURL string
}

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = DefaultSendTimeout
	}
	if c.Lease <= 0 {
		c.Lease = 4 * c.SendTimeout
	}
	if c.RetryBase <= 0 {
		c.RetryBase = DefaultRetryBase
	}
	if c.RetryMax <= 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.LoudAttempts <= 0 {
		c.LoudAttempts = DefaultLoudAttempts
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Notifier drains the outbox of a store.
type Notifier struct {
	cfg     Config
	store   Store
	senders map[keystore.Channel]Sender
	m       *metrics.Metrics
	logger  *slog.Logger
	kick    chan struct{}
}

// Store is what the notifier needs of the key store: the outbox, and the
// key's activity for the message.
type Store interface {
	ClaimNotices(ctx context.Context, limit int, now, leaseUntil time.Time) ([]keystore.Notice, error)
	MarkNoticeSent(ctx context.Context, id string, at time.Time) error
	RetryNotice(ctx context.Context, id string, nextAttempt time.Time, lastErr string) error
	KeyActivity(ctx context.Context, keyID string, q keystore.ActivityQuery) (keystore.Activity, error)
}

// New returns a notifier delivering the store's notices through senders,
// one per channel. m and logger may be nil.
func New(cfg Config, store Store, senders map[keystore.Channel]Sender, m *metrics.Metrics, logger *slog.Logger) *Notifier {
	cfg.defaults()
	if m == nil {
		m = metrics.New()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{cfg: cfg, store: store, senders: senders, m: m,
		logger: logger.With("component", "notifier"), kick: make(chan struct{}, 1)}
}

// Kick makes the notifier look at the outbox now rather than at the next
// poll, e.g. right after the revoker opened an incident. It never blocks.
func (n *Notifier) Kick() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Run drains the outbox until ctx is done. Deliveries under way when ctx
// ends are finished and recorded (a notice must not be sent and left
// unmarked); no new ones start.
func (n *Notifier) Run(ctx context.Context) error {
	t := time.NewTicker(n.cfg.Interval)
	defer t.Stop()
	for {
		n.drain(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-n.kick:
		}
	}
}

// drain claims and sends batches until the outbox has nothing due.
func (n *Notifier) drain(ctx context.Context) {
	for ctx.Err() == nil {
		now := n.cfg.Now()
		leaseUntil := now.Add(n.cfg.Lease)
		notices, err := n.store.ClaimNotices(ctx, n.cfg.Batch, now, leaseUntil)
		if err != nil {
			if ctx.Err() == nil {
				n.logger.Warn("claim notices", "err", err)
			}
			return
		}
		if len(notices) == 0 {
			return
		}
		// The batch goes out in parallel so that all of it is done well
		// within the lease; the context outlives ctx for the same reason
		// as in Run.
		dctx := context.WithoutCancel(ctx)
		var wg sync.WaitGroup
		for _, nt := range notices {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.deliver(dctx, nt, leaseUntil)
			}()
		}
		wg.Wait()
		if len(notices) < n.cfg.Batch {
			return
		}
	}
}

// deliver sends one claimed notice and records the result.
func (n *Notifier) deliver(ctx context.Context, nt keystore.Notice, leaseUntil time.Time) {
	attempt := max(nt.Attempts, 1)
	log := n.logger.With("notice_id", nt.ID, "channel", nt.Channel, "incident_id", nt.Incident.ID,
		"account_id", nt.Account.ID, "key_id", nt.Key.ID, "redacted", nt.Incident.Redacted, "attempt", attempt)
	sender, ok := n.senders[nt.Channel]
	if !ok || sender == nil {
		n.fail(ctx, log, nt, attempt, fmt.Errorf("no sender configured for channel %q", nt.Channel))
		return
	}
	if n.cfg.Now().Add(n.cfg.SendTimeout).After(leaseUntil) {
		// Another notifier may claim it once the lease ends: give it back
		// rather than race it.
		if err := n.store.RetryNotice(ctx, nt.ID, n.cfg.Now(), "lease too short to send"); err != nil {
			log.Warn("release notice", "err", err)
		}
		return
	}
	msg := Message{Notice: nt, Attempt: attempt, ConsoleURL: n.cfg.ConsoleURL}
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	revokedAt := nt.Incident.RevokedAt
	if revokedAt == nil {
		revokedAt = nt.Key.RevokedAt
	}
	act, err := n.store.KeyActivity(actx, nt.Key.ID, keystore.ActivityQuery{Detected: nt.Incident.FirstSeenAt,
		RevokedAt: revokedAt})
	cancel()
	if err != nil {
		log.Warn("key activity unavailable; the notice goes out without it", "err", err)
	} else {
		msg.Activity = &act
	}
	sctx, cancel := context.WithTimeout(ctx, n.cfg.SendTimeout)
	err = sender.Send(sctx, msg)
	cancel()
	if err != nil {
		n.fail(ctx, log, nt, attempt, err)
		return
	}
	// The relay has the message: from here every moment until the mark
	// is a window for a duplicate, so the mark is retried briefly.
	if err := n.markSent(ctx, nt.ID); err != nil {
		log.Error("notice delivered but not marked sent; it may be delivered again once its lease ends", "err", err)
		return
	}
	n.m.NoticesSent.WithLabelValues(string(nt.Channel)).Inc()
	n.m.NoticeAttempts.Observe(float64(attempt))
	log.Info("notice delivered", "to", recipient(nt))
}

func (n *Notifier) markSent(ctx context.Context, id string) error {
	var err error
	wait := 50 * time.Millisecond
	for range 6 {
		mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = n.store.MarkNoticeSent(mctx, id, n.cfg.Now())
		cancel()
		if err == nil || errors.Is(err, keystore.ErrNotFound) {
			return err
		}
		time.Sleep(wait)
		wait *= 2
	}
	return err
}

// fail schedules the next attempt of a notice that was not delivered.
func (n *Notifier) fail(ctx context.Context, log *slog.Logger, nt keystore.Notice, attempt int, cause error) {
	n.m.NoticesFailed.WithLabelValues(string(nt.Channel)).Inc()
	delay := n.Backoff(attempt)
	next := n.cfg.Now().Add(delay)
	level := slog.LevelWarn
	if attempt >= n.cfg.LoudAttempts {
		level = slog.LevelError
	}
	log.Log(ctx, level, "notice not delivered; will retry", "retry_in", delay.Round(time.Millisecond), "err", cause)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := n.store.RetryNotice(rctx, nt.ID, next, truncate.String(cause.Error(), 500)); err != nil {
		// The lease still ends; the notice is claimed again then.
		log.Warn("record notice retry", "err", err)
	}
}

// Backoff is the wait after the attempt-th failed attempt.
func (n *Notifier) Backoff(attempt int) time.Duration {
	d := n.cfg.RetryBase
	for i := 1; i < attempt && d < n.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, n.cfg.RetryMax)
	// ±25% so that notices failing together do not retry together.
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return min(d+jitter, n.cfg.RetryMax)
}

func recipient(nt keystore.Notice) string {
	if nt.Channel == keystore.ChannelWebhook {
		return nt.Account.WebhookURL
	}
	return nt.Account.Email
}
