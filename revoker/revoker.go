// Package revoker consumes hits from the bus and records each exposure in the
// store: one transaction revokes the key, opens the incident and queues the
// notices. When the store can (keystore.ExposureBatcher), the hits that have
// piled up are recorded together, one commit for up to Config.MaxBatch hits.
// Every revoker process shares one durable pull consumer, so the work is
// split and each hit is handled once; a hit is acknowledged only after its
// transaction committed, and one that keeps failing is dead-lettered, visibly.
package revoker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/bus"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/metrics"
)

// Defaults of Config.
const (
	DefaultDurable       = "revoker"
	DefaultWorkers       = 32
	DefaultMaxDeliver    = 12
	DefaultMaxAckPending = 2048
	DefaultLagInterval   = 5 * time.Second
	DefaultMaxBatch      = 64
)

// DefaultBackOff is the redelivery schedule: the n-th element is how long
// the n-th delivery may stay unacknowledged (a crashed revoker) and how long
// a hit waits after its n-th failed attempt; the last one repeats. With
// DefaultMaxDeliver a hit gets about 1.6 hours of attempts before it is
// dead-lettered.
var DefaultBackOff = []time.Duration{
	10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute,
	2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
}

// Dead-letter headers, set on every message of the dead-letter stream.
const (
	HeaderReason     = "Leakguard-Dead-Reason"
	HeaderSubject    = "Leakguard-Subject"
	HeaderStream     = "Leakguard-Stream"
	HeaderStreamSeq  = "Leakguard-Stream-Seq"
	HeaderDeliveries = "Leakguard-Deliveries"
)

// Config tunes a Revoker. Stream is required; the rest have defaults.
type Config struct {
	// Stream is the hit stream (bus.Bus.StreamName()).
	Stream string
	// Subjects are the bus's subjects (bus.Bus.Subjects()): where dead
	// letters go.
	Subjects bus.Subjects
	// Durable is the consumer every revoker process shares.
	Durable string
	// Workers is how many hits are handled at once by this process.
	Workers int
	// MaxDeliver bounds the deliveries of one hit; after the last one
	// fails, the hit is dead-lettered.
	MaxDeliver int
	// BackOff is the redelivery schedule (see DefaultBackOff). Its first
	// element is the ack wait of a first delivery.
	BackOff []time.Duration
	// MaxAckPending bounds the hits in flight across all revokers. Every
	// process should use the same value, since the consumer is shared.
	MaxAckPending int
	// HandleTimeout bounds one store transaction (default BackOff[0]/2).
	HandleTimeout time.Duration
	// MaxHold bounds how long a hit is held while the store is down (it
	// answers neither the hit nor a ping) before it is nak'ed on the
	// redelivery schedule. Held hits spend no delivery. Default 1h.
	MaxHold time.Duration
	// MaxBatch bounds the hits a worker records in one transaction when
	// the store is a keystore.ExposureBatcher (group commit; default
	// DefaultMaxBatch, 1 turns batching off). A worker takes the hits
	// already received and never waits to fill a batch, so at low rates
	// batches are small and latency stays that of one hit.
	MaxBatch int
	// LagInterval is how often the consumer lag gauge is refreshed.
	LagInterval time.Duration
	// OnRecorded, if set, is called after a hit was recorded and
	// acknowledged, e.g. to wake the notifier of this process.
	OnRecorded func(leakguard.Hit, keystore.Exposure)
	// Now is the clock (default time.Now).
	Now func() time.Time

	// beforeAck lets tests act between the commit and the ack; returning
	// false skips the ack, as a revoker that died right there would.
	beforeAck func(leakguard.Hit, keystore.Exposure) bool
}

func (c *Config) defaults() {
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if len(c.BackOff) == 0 {
		c.BackOff = DefaultBackOff
	}
	if len(c.BackOff) > c.MaxDeliver {
		// The server refuses a schedule longer than the deliveries.
		c.BackOff = c.BackOff[:c.MaxDeliver]
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.HandleTimeout <= 0 {
		c.HandleTimeout = c.BackOff[0] / 2
	}
	if c.MaxHold <= 0 {
		c.MaxHold = time.Hour
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.LagInterval <= 0 {
		c.LagInterval = DefaultLagInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Revoker turns hits into revocations. Build it with New, run it with Run.
type Revoker struct {
	cfg    Config
	js     jetstream.JetStream
	store  Store
	m      *metrics.Metrics
	logger *slog.Logger
}

// Store is what the revoker needs of the key store: recording a hit's
// effect. A store that is also a keystore.ExposureBatcher gets the hits in
// batches (group commit).
type Store interface {
	RecordExposure(ctx context.Context, hit leakguard.Hit, at time.Time) (keystore.Exposure, error)
	// Ping tells a store outage from a bad hit (hits are held meanwhile).
	Ping(ctx context.Context) error
}

// New returns a revoker consuming cfg.Stream on js into store. m and logger
// may be nil.
func New(cfg Config, js jetstream.JetStream, store Store, m *metrics.Metrics, logger *slog.Logger) *Revoker {
	cfg.defaults()
	if m == nil {
		m = metrics.New()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Revoker{cfg: cfg, js: js, store: store, m: m, logger: logger.With("component", "revoker")}
}

// ConsumerConfig is the durable consumer the revokers share.
func (r *Revoker) ConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       r.cfg.Durable,
		Description:   "leakguard revokers: every hit is recorded once, acked after commit",
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: r.cfg.Subjects.Hits(),
		MaxDeliver:    r.cfg.MaxDeliver,
		BackOff:       r.cfg.BackOff,
		AckWait:       r.cfg.BackOff[0],
		MaxAckPending: r.cfg.MaxAckPending,
	}
}

// Run consumes hits until ctx is done, then stops pulling, finishes the hits
// already received and returns. It survives NATS restarts; it returns an
// error only if the consumer cannot exist (no such stream, subjects that
// are not the stream's) or the connection was closed.
func (r *Revoker) Run(ctx context.Context) error {
	if r.cfg.Stream == "" {
		return errors.New("revoker: no stream configured")
	}
	var wg sync.WaitGroup
	defer wg.Wait()

	// Backstop for a hit whose last delivery was never answered (its
	// revoker died): the server announces it, one revoker dead-letters it.
	advisory := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", r.cfg.Stream, r.cfg.Durable)
	sub, err := r.js.Conn().QueueSubscribe(advisory, "leakguard-revoker-"+r.cfg.Durable, func(m *nats.Msg) {
		r.onMaxDeliveries(context.WithoutCancel(ctx), m.Data)
	})
	if err != nil {
		return fmt.Errorf("revoker: subscribe to %s: %w", advisory, err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	wait := 100 * time.Millisecond
	lagStarted := false
	for ctx.Err() == nil {
		if r.js.Conn().IsClosed() {
			return errors.New("revoker: NATS connection closed")
		}
		cons, err := r.consumer(ctx)
		if err != nil {
			var apiErr *jetstream.APIError
			if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, errWrongSubjects) ||
				errors.As(err, &apiErr) && apiErr.Code == 400 {
				// A wrong stream or subjects: retrying will not help.
				return fmt.Errorf("revoker: consumer %s on stream %s: %w", r.cfg.Durable, r.cfg.Stream, err)
			}
			if ctx.Err() != nil {
				break
			}
			r.logger.Warn("create consumer, retrying", "stream", r.cfg.Stream, "durable", r.cfg.Durable, "err", err, "in", wait)
			sleep(ctx, wait)
			wait = min(wait*2, 5*time.Second)
			continue
		}
		if !lagStarted {
			lagStarted = true
			wg.Add(1)
			go func() { defer wg.Done(); r.watchLag(ctx) }()
		}
		began := time.Now()
		if err := r.consume(ctx, cons); err != nil {
			if time.Since(began) > time.Minute {
				wait = 100 * time.Millisecond // it had been working: no storm to damp
			}
			r.logger.Warn("consumer stopped, starting again", "durable", r.cfg.Durable, "err", err, "in", wait)
			sleep(ctx, wait)
			wait = min(wait*2, 5*time.Second)
		}
	}
	return nil
}

var errWrongSubjects = errors.New("the stream does not hold the hit subjects")

// consumer checks that the stream holds the hit subjects (a consumer
// filtering on subjects the stream does not hold would wait for ever,
// silently) and creates or updates the shared consumer.
func (r *Revoker) consumer(ctx context.Context) (jetstream.Consumer, error) {
	stream, err := r.js.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return nil, err
	}
	want := r.cfg.Subjects.Hits()
	if subjects := stream.CachedInfo().Config.Subjects; !slices.Contains(subjects, want) {
		return nil, fmt.Errorf("%w: it holds %v, not %s", errWrongSubjects, subjects, want)
	}
	return r.js.CreateOrUpdateConsumer(ctx, r.cfg.Stream, r.ConsumerConfig())
}

// consume pulls from cons and hands hits to the workers until ctx is done
// (nil) or the subscription ended by itself (the error).
func (r *Revoker) consume(ctx context.Context, cons jetstream.Consumer) error {
	batcher, _ := r.store.(keystore.ExposureBatcher)
	if r.cfg.MaxBatch < 2 {
		batcher = nil
	}
	// A small client-side buffer: a hit waiting there uses up its ack wait.
	// Batching workers take what has piled up while they committed, so the
	// buffers hold about one batch more.
	pull, queue := 2*r.cfg.Workers, 0
	if batcher != nil {
		pull, queue = max(pull, 2*r.cfg.MaxBatch), r.cfg.MaxBatch
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(pull))
	if err != nil {
		return fmt.Errorf("pull from %s: %w", r.cfg.Durable, err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			// Stop pulling; Next still returns what is buffered.
			it.Drain()
		case <-stop:
		}
	}()

	// Work is handled with a context that outlives ctx: a hit being
	// recorded when shutdown starts is finished and acked, not abandoned.
	hctx := context.WithoutCancel(ctx)
	work := make(chan jetstream.Msg, queue)
	var wg sync.WaitGroup
	for range r.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]jetstream.Msg, 0, r.cfg.MaxBatch)
			for msg := range work {
				if batcher == nil {
					r.handle(hctx, msg)
					continue
				}
				batch = append(batch[:0], msg)
				r.handleBatch(hctx, batcher, takeReady(work, batch, r.cfg.MaxBatch))
			}
		}()
	}
	defer func() {
		close(work)
		wg.Wait()
	}()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
				errors.Is(err, jetstream.ErrConsumerNotFound) {
				it.Stop()
				return err
			}
			// Missed heartbeats and the like: the iterator re-pulls.
			r.logger.Debug("pull", "err", err)
			continue
		}
		work <- msg
	}
}

// takeReady appends to batch the messages already waiting in work, up to
// limit in all, without waiting for more.
func takeReady(work <-chan jetstream.Msg, batch []jetstream.Msg, limit int) []jetstream.Msg {
	for len(batch) < limit {
		select {
		case msg, ok := <-work:
			if !ok {
				return batch
			}
			batch = append(batch, msg)
		default:
			return batch
		}
	}
	return batch
}

// delivery is a decoded, valid hit and the message that carried it.
type delivery struct {
	msg  jetstream.Msg
	meta *jetstream.MsgMetadata
	hit  leakguard.Hit
}

// handle records one hit and acks it only after the store committed.
func (r *Revoker) handle(ctx context.Context, msg jetstream.Msg) {
	if d, ok := r.decode(ctx, msg); ok {
		r.record(ctx, d)
	}
}

// handleBatch records msgs' valid hits in one transaction and acks each
// after the commit. If the batch fails, its hits are recorded one by one,
// so a hit that cannot be recorded gets its own retries and dead letter
// and does not hold the others back.
func (r *Revoker) handleBatch(ctx context.Context, b keystore.ExposureBatcher, msgs []jetstream.Msg) {
	ds := make([]delivery, 0, len(msgs))
	for _, msg := range msgs {
		if d, ok := r.decode(ctx, msg); ok {
			ds = append(ds, d)
		}
	}
	if len(ds) < 2 {
		// One hit: one statement beats BEGIN, batch, COMMIT.
		for _, d := range ds {
			r.record(ctx, d)
		}
		return
	}
	hits := make([]leakguard.Hit, len(ds))
	for i, d := range ds {
		hits[i] = d.hit
	}
	now := r.cfg.Now()
	sctx, cancel := context.WithTimeout(ctx, r.cfg.HandleTimeout)
	exps, err := b.RecordExposures(sctx, hits, now)
	cancel()
	if err != nil {
		r.logger.Warn("hit batch failed; recording its hits one by one", "hits", len(ds), "err", err)
		for _, d := range ds {
			r.record(ctx, d)
		}
		return
	}
	for i, d := range ds {
		r.done(d, exps[i], now)
	}
}

// decode reads and validates msg's hit; a message that can never succeed
// is dead-lettered and reported not ok.
func (r *Revoker) decode(ctx context.Context, msg jetstream.Msg) (delivery, bool) {
	meta, err := msg.Metadata()
	if err != nil {
		// Not a JetStream message: nothing to ack.
		r.logger.Error("message without JetStream metadata", "subject", msg.Subject(), "err", err)
		return delivery{}, false
	}
	var hit leakguard.Hit
	if err := json.Unmarshal(msg.Data(), &hit); err != nil {
		r.reject(ctx, msg, meta, fmt.Sprintf("malformed hit: %v", err))
		return delivery{}, false
	}
	if err := hit.Validate(); err != nil {
		r.reject(ctx, msg, meta, fmt.Sprintf("invalid hit: %v", err))
		return delivery{}, false
	}
	if keyformat.ContainsKey(msg.Data()) {
		// A producer broke docs/bus.md's rule. The hit still revokes its key, but
		// the plaintext goes no further: not into the store, the logs or
		// the email.
		hit = scrubHit(hit)
		r.logger.Warn("hit carried a plaintext key; scrubbed before use", "subject", msg.Subject(),
			"stream_seq", meta.Sequence.Stream)
	}
	return delivery{msg: msg, meta: meta, hit: hit}, true
}

// record records one hit in its own transaction, then acks it, or
// schedules a retry.
func (r *Revoker) record(ctx context.Context, d delivery) {
	holdUntil := time.Now().Add(r.cfg.MaxHold)
	for {
		now := r.cfg.Now()
		sctx, cancel := context.WithTimeout(ctx, r.cfg.HandleTimeout)
		exp, err := r.store.RecordExposure(sctx, d.hit, now)
		cancel()
		if err == nil {
			r.done(d, exp, now)
			return
		}
		if errors.Is(err, keystore.ErrUnavailable) && r.holdWhileDown(ctx, d.msg, holdUntil) {
			continue // the store is back: try again on this delivery
		}
		r.retry(ctx, d.msg, d.meta, &d.hit, fmt.Errorf("record exposure: %w", err))
		return
	}
}

// holdWhileDown keeps msg (InProgress, so it is not redelivered and spends
// no delivery) while the store is down, pinging it with a growing pause,
// and reports true once it answers again. It reports false at once when
// the store answers the ping (the failure was about this hit, not the
// store: the usual retry schedule applies) or when until has passed.
func (r *Revoker) holdWhileDown(ctx context.Context, msg jetstream.Msg, until time.Time) bool {
	// Each step (a ping, a pause) stays well inside the ack wait, which
	// InProgress restarts before and after it.
	step := min(2*time.Second, r.cfg.BackOff[0]/3)
	wait := min(250*time.Millisecond, step)
	for i := 0; ; i++ {
		if i > 0 {
			if err := msg.InProgress(); err != nil {
				r.logger.Debug("extend ack wait", "err", err)
			}
		}
		pctx, cancel := context.WithTimeout(ctx, step)
		err := r.store.Ping(pctx)
		cancel()
		if err == nil {
			return i > 0
		}
		if ctx.Err() != nil || time.Now().After(until) {
			return false
		}
		if i == 0 {
			r.logger.Warn("store unavailable; holding hits until it answers", "err", err, "max_hold", r.cfg.MaxHold)
		}
		if err := msg.InProgress(); err != nil {
			r.logger.Debug("extend ack wait", "err", err)
		}
		sleep(ctx, wait)
		wait = min(wait*2, step)
	}
}

// done acks a committed hit and counts, logs and announces it.
func (r *Revoker) done(d delivery, exp keystore.Exposure, now time.Time) {
	hit := d.hit
	if r.cfg.beforeAck != nil && !r.cfg.beforeAck(hit, exp) {
		return
	}
	// A lost ack means one redelivery, which the store answers with
	// "sighting" and no change: safe, so no round trip is waited for.
	if err := d.msg.Ack(); err != nil {
		r.logger.Warn("ack hit", "source", hit.Source, "redacted", hit.Redacted, "err", err)
	}
	r.m.HitsConsumed.WithLabelValues(string(exp.Outcome)).Inc()
	log := r.logger.Debug
	switch exp.Outcome {
	case keystore.OutcomeRevoked:
		r.m.Revocations.WithLabelValues(hit.Source).Inc()
		if !hit.FoundAt.IsZero() && !now.Before(hit.FoundAt) {
			r.m.RevokeLatency.Observe(now.Sub(hit.FoundAt).Seconds())
		}
		log = r.logger.Info
	case keystore.OutcomeInactive:
		log = r.logger.Info
	}
	log("hit recorded", "outcome", exp.Outcome, "source", hit.Source, "rule", hit.Rule,
		"redacted", hit.Redacted, "key_id", exp.KeyID, "account_id", exp.AccountID,
		"incident_id", exp.IncidentID, "url", hit.Location.URL, "deliveries", d.meta.NumDelivered)
	if r.cfg.OnRecorded != nil {
		r.cfg.OnRecorded(hit, exp)
	}
}

// retry schedules another attempt, or dead-letters the hit after the last.
func (r *Revoker) retry(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, hit *leakguard.Hit, cause error) {
	n := int(meta.NumDelivered)
	if n >= r.cfg.MaxDeliver {
		r.deadLetter(ctx, msg, meta, hit, fmt.Sprintf("gave up after %d deliveries: %v", n, cause))
		return
	}
	delay := r.backoff(n)
	r.logger.Warn("hit failed, will retry", "source", hit.Source, "redacted", hit.Redacted,
		"delivery", n, "max_deliver", r.cfg.MaxDeliver, "retry_in", delay, "err", cause)
	if err := msg.NakWithDelay(delay); err != nil {
		r.logger.Warn("nak hit", "source", hit.Source, "redacted", hit.Redacted, "err", err)
	}
}

// reject dead-letters a message that can never succeed.
func (r *Revoker) reject(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, reason string) {
	r.m.HitsConsumed.WithLabelValues("invalid").Inc()
	r.deadLetter(ctx, msg, meta, nil, reason)
}

// deadLetter copies msg to leaks.dead.<source> and terminates it. If the
// copy cannot be stored, the hit is not terminated but retried later (and,
// after its last delivery, caught by the max-deliveries backstop).
func (r *Revoker) deadLetter(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, hit *leakguard.Hit, reason string) {
	if err := r.publishDead(ctx, msg.Subject(), msg.Data(), meta.Stream, meta.Sequence.Stream, meta.NumDelivered, hit, reason); err != nil {
		r.logger.Error("dead-letter hit failed; will retry", "subject", msg.Subject(), "stream_seq", meta.Sequence.Stream, "err", err)
		if err := msg.NakWithDelay(r.backoff(int(meta.NumDelivered))); err != nil {
			r.logger.Warn("nak hit", "subject", msg.Subject(), "err", err)
		}
		return
	}
	if err := msg.Term(); err != nil {
		r.logger.Warn("terminate dead-lettered hit", "subject", msg.Subject(), "err", err)
	}
}

func (r *Revoker) publishDead(ctx context.Context, subject string, data []byte, stream string, seq, deliveries uint64, hit *leakguard.Hit, reason string) error {
	source := r.cfg.Subjects.SourceOf(subject)
	if hit != nil {
		source = hit.Source
	}
	dm := &nats.Msg{
		Subject: r.cfg.Subjects.Dead(source),
		Data:    []byte(keyformat.Scrub(string(data))),
		Header: nats.Header{
			// One dead letter per hit, however many paths report it.
			jetstream.MsgIDHeader: []string{"dead:" + stream + ":" + strconv.FormatUint(seq, 10)},
			HeaderReason:          []string{keyformat.Scrub(reason)},
			HeaderSubject:         []string{subject},
			HeaderStream:          []string{stream},
			HeaderStreamSeq:       []string{strconv.FormatUint(seq, 10)},
			HeaderDeliveries:      []string{strconv.FormatUint(deliveries, 10)},
		},
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ack, err := r.js.PublishMsg(pctx, dm)
	if err != nil {
		return fmt.Errorf("publish dead letter to %s: %w", dm.Subject, err)
	}
	if ack.Duplicate {
		return nil
	}
	r.m.DeadLetters.Inc()
	attrs := []any{"dead_subject", dm.Subject, "stream_seq", seq, "deliveries", deliveries, "reason", keyformat.Scrub(reason)}
	if hit != nil {
		attrs = append(attrs, "source", hit.Source, "rule", hit.Rule, "redacted", hit.Redacted, "url", hit.Location.URL)
	}
	r.logger.Error("hit dead-lettered", attrs...)
	return nil
}

// onMaxDeliveries dead-letters a hit whose deliveries ran out without any
// revoker answering the last one.
func (r *Revoker) onMaxDeliveries(ctx context.Context, data []byte) {
	var adv struct {
		Stream     string `json:"stream"`
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries uint64 `json:"deliveries"`
	}
	if err := json.Unmarshal(data, &adv); err != nil || adv.StreamSeq == 0 {
		r.logger.Error("unreadable max-deliveries advisory", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	stream, err := r.js.Stream(ctx, r.cfg.Stream)
	var raw *jetstream.RawStreamMsg
	if err == nil {
		raw, err = stream.GetMsg(ctx, adv.StreamSeq)
	}
	if err != nil {
		r.m.DeadLetters.Inc()
		r.logger.Error("hit ran out of deliveries and could not be read back to dead-letter it",
			"stream", r.cfg.Stream, "stream_seq", adv.StreamSeq, "deliveries", adv.Deliveries, "err", err)
		return
	}
	var hit *leakguard.Hit
	var h leakguard.Hit
	if json.Unmarshal(raw.Data, &h) == nil && h.Validate() == nil {
		hit = &h
	}
	reason := fmt.Sprintf("no answer to the last of %d deliveries", adv.Deliveries)
	if err := r.publishDead(ctx, raw.Subject, raw.Data, r.cfg.Stream, adv.StreamSeq, adv.Deliveries, hit, reason); err != nil {
		r.m.DeadLetters.Inc()
		r.logger.Error("hit ran out of deliveries and could not be dead-lettered",
			"stream", r.cfg.Stream, "stream_seq", adv.StreamSeq, "err", err)
	}
}

// backoff is the wait after the n-th failed delivery.
func (r *Revoker) backoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > len(r.cfg.BackOff) {
		n = len(r.cfg.BackOff)
	}
	return r.cfg.BackOff[n-1]
}

// watchLag keeps the consumer lag gauge current: hits waiting plus hits
// delivered but not yet acknowledged.
func (r *Revoker) watchLag(ctx context.Context) {
	t := time.NewTicker(r.cfg.LagInterval)
	defer t.Stop()
	for {
		if lag, err := r.Lag(ctx); err == nil {
			r.m.ConsumerLag.Set(float64(lag))
		} else if ctx.Err() == nil {
			r.logger.Debug("consumer lag", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Lag is the number of hits not yet handled by any revoker.
func (r *Revoker) Lag(ctx context.Context) (uint64, error) {
	cons, err := r.js.Consumer(ctx, r.cfg.Stream, r.cfg.Durable)
	if err != nil {
		return 0, fmt.Errorf("consumer %s: %w", r.cfg.Durable, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer %s info: %w", r.cfg.Durable, err)
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// scrubHit scrubs every text field of a hit (keyformat.Scrub): a
// malformed message must not carry a plaintext further.
func scrubHit(h leakguard.Hit) leakguard.Hit {
	h.Redacted, h.Rule = keyformat.Scrub(h.Redacted), keyformat.Scrub(h.Rule)
	h.Location = h.Location.Scrubbed()
	return h
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
