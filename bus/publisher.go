package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/metrics"
)

// ErrPlaintext is returned for a hit whose JSON holds what looks like a
// whole platform key: such a hit is refused rather than put on the bus.
var ErrPlaintext = errors.New("hit carries a plaintext platform key")

// Publisher puts hits on the hit stream and waits for JetStream to store
// them. It implements leakguard.HitPublisher and is safe for concurrent use.
type Publisher struct {
	js     jetstream.JetStream
	subj   Subjects
	m      *metrics.Metrics
	logger *slog.Logger
	// MaxWait bounds how long PublishHit keeps retrying while the bus is
	// unreachable (a NATS restart, a leader election). The caller's context
	// can cut it shorter.
	MaxWait time.Duration
	// AttemptTimeout bounds one publish attempt.
	AttemptTimeout time.Duration
}

var _ leakguard.HitPublisher = (*Publisher)(nil)

// NewPublisher returns a publisher on js for the subjects of subj. m and
// logger may be nil.
func NewPublisher(js jetstream.JetStream, subj Subjects, m *metrics.Metrics, logger *slog.Logger) *Publisher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{js: js, subj: subj, m: m, logger: logger, MaxWait: 30 * time.Second, AttemptTimeout: 2 * time.Second}
}

// PublishHit validates hit and publishes it as JSON on leaks.hits.<source>
// with Nats-Msg-Id = hit.MsgID(), so a re-published hit is dropped as a
// duplicate. It returns once the stream acknowledged the hit; transient
// failures are retried (with the same id, so retrying is safe) for up to
// MaxWait.
func (p *Publisher) PublishHit(ctx context.Context, hit leakguard.Hit) error {
	if err := hit.Validate(); err != nil {
		return fmt.Errorf("publish hit: %w", err)
	}
	data, err := json.Marshal(hit)
	if err != nil {
		return fmt.Errorf("publish hit: encode: %w", err)
	}
	// The last line of defence of docs/bus.md's rule: whatever a source put in
	// the location, a whole key never goes on the bus.
	if keyformat.ContainsKey(data) {
		return fmt.Errorf("publish %s hit %s: %w", hit.Source, hit.MsgID(), ErrPlaintext)
	}
	msg := &nats.Msg{
		Subject: p.subj.Hit(hit.Source),
		Data:    data,
		Header:  nats.Header{jetstream.MsgIDHeader: []string{hit.MsgID()}},
	}
	ack, err := p.publish(ctx, msg)
	if err != nil {
		return fmt.Errorf("publish %s hit %s: %w", hit.Source, hit.MsgID(), err)
	}
	if ack.Duplicate {
		p.logger.Debug("hit already on the bus", "source", hit.Source, "redacted", hit.Redacted, "seq", ack.Sequence)
		return nil
	}
	if p.m != nil {
		p.m.HitsPublished.WithLabelValues(hit.Source, hit.Rule).Inc()
	}
	return nil
}

func (p *Publisher) publish(ctx context.Context, msg *nats.Msg) (*jetstream.PubAck, error) {
	deadline := time.Now().Add(p.MaxWait)
	wait := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		// While reconnecting, a publish would sit in the client's buffer
		// and its ack request would likely go unanswered (the restarted
		// server has not set up JetStream yet): wait for the connection.
		p.awaitConnected(ctx, deadline)
		actx, cancel := context.WithTimeout(ctx, p.AttemptTimeout)
		ack, err := p.js.PublishMsg(actx, msg)
		cancel()
		if err == nil {
			return ack, nil
		}
		if !transient(err) || ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("after %d attempts: %w", attempt, err)
		}
		p.logger.Warn("publish hit: bus unavailable, retrying", "subject", msg.Subject, "attempt", attempt, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("after %d attempts: %w (%w)", attempt, ctx.Err(), err)
		case <-t.C:
		}
		wait = min(wait*2, 2*time.Second)
	}
}

func (p *Publisher) awaitConnected(ctx context.Context, deadline time.Time) {
	nc := p.js.Conn()
	for !nc.IsConnected() && !nc.IsClosed() && ctx.Err() == nil && time.Now().Before(deadline) {
		t := time.NewTimer(25 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// transient reports whether a publish error may go away by itself: the
// server is restarting, electing a leader or unreachable. A JetStream API
// error (a message too large, a wrong stream) will not.
func transient(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == 503 || apiErr.Code == 408
	}
	return !errors.Is(err, nats.ErrMaxPayload) && !errors.Is(err, nats.ErrBadSubject) &&
		!errors.Is(err, nats.ErrConnectionClosed)
}
