package notifier

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/metrics"
)

// Webhook endpoint deliveries (docs/api.md, "Webhooks").
const (
	// EndpointSignatureHeader carries "t=UNIX,v1=HEX": HMAC-SHA256 with the
	// endpoint's secret over t + "." + body, as Stripe signs.
	EndpointSignatureHeader = "Leakguard-Signature"
	// EndpointEventIDHeader repeats the event id, for receivers that
	// drop duplicates before parsing.
	EndpointEventIDHeader = "Leakguard-Event-Id"
)

// EndpointEvent is the body POSTed to a webhook endpoint.
type EndpointEvent struct {
	ID        string            `json:"id"` // evt_…, the same for every endpoint and retry
	Object    string            `json:"object"`
	Type      string            `json:"type"` // key.exposed
	CreatedAt time.Time         `json:"created_at"`
	Data      EndpointEventData `json:"data"`
}

// EndpointEventData is what happened: which key, where it was found and
// what was done about it.
type EndpointEventData struct {
	IncidentID string             `json:"incident_id"`
	Key        EventKey           `json:"key"`
	Source     string             `json:"source"`
	Rule       string             `json:"rule"`
	Location   leakguard.Location `json:"location"`
	// Action is what was done: "revoked" (the key was revoked now) or
	// "inactive" (it was already revoked or expired; nothing to do).
	Action    string     `json:"action"`
	FoundAt   time.Time  `json:"found_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// NewEndpointEvent is the event of a claimed delivery.
func NewEndpointEvent(j keystore.WebhookJob, now time.Time) EndpointEvent {
	in, k := j.Incident, j.Key
	redacted := in.Redacted
	if redacted == "" {
		redacted = k.Redacted()
	}
	return EndpointEvent{ID: keystore.EventID(in.ID), Object: "event", Type: keystore.EventKeyExposed,
		CreatedAt: in.FirstSeenAt.UTC(),
		Data: EndpointEventData{IncidentID: in.ID, Source: in.Source, Rule: in.Rule, Location: in.Location,
			Action: string(in.Action), FoundAt: in.FirstSeenAt.UTC(), RevokedAt: utcPtr(in.RevokedAt),
			Key: EventKey{ID: k.ID, Name: k.Name, Type: string(k.Type), Mode: string(k.Mode), Redacted: redacted,
				Status: string(k.Status(now)), RevokedAt: utcPtr(k.RevokedAt), RevokedReason: string(k.RevokedReason)}}}
}

// DispatcherConfig tunes an EndpointDispatcher; zero fields take defaults.
type DispatcherConfig struct {
	Interval    time.Duration // between polls (1s); Kick wakes it sooner
	Batch       int           // deliveries claimed at once (16)
	SendTimeout time.Duration // one POST, answer included (15s)
	RetryBase   time.Duration // first retry delay (30s), doubling...
	RetryMax    time.Duration // ...up to (1h)
	// Window is how long a delivery is retried before it is given up
	// (keystore.WebhookRetryWindow, 72h; never less than 24h).
	Window time.Duration
	// Keep is how long finished deliveries stay in the log (30 days).
	Keep time.Duration
	Now  func() time.Time
	// Metrics counts deliveries and failed attempts in notices_sent_total
	// and notices_failed_total, channel "webhook_endpoint"; nil: none.
	Metrics *metrics.Metrics
}

func (c *DispatcherConfig) defaults() {
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 16
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = 15 * time.Second
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 30 * time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = time.Hour
	}
	if c.Window <= 0 {
		c.Window = keystore.WebhookRetryWindow
	}
	if c.Keep <= 0 {
		c.Keep = 30 * 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New()
	}
}

// channelEndpoint labels the dispatcher's metrics.
const channelEndpoint = "webhook_endpoint"

// EndpointDispatcher delivers the webhook endpoints' events: claims due
// deliveries, POSTs each signed event through a client whose connections
// are checked where they really go (httpx.Guard), and records the outcome.
type EndpointDispatcher struct {
	cfg    DispatcherConfig
	store  keystore.WebhookStore
	client *http.Client
	log    *slog.Logger
	kick   chan struct{}
}

// NewEndpointDispatcher returns a dispatcher for store. guard decides
// which addresses endpoints may reach (LEAKGUARD_WEBHOOK_ALLOW_PRIVATE).
func NewEndpointDispatcher(cfg DispatcherConfig, store keystore.WebhookStore, guard httpx.Guard, logger *slog.Logger) *EndpointDispatcher {
	cfg.defaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client := &http.Client{
		Transport: guard.Transport(),
		Timeout:   cfg.SendTimeout,
		// A redirect is not an acceptance: the endpoint must answer 2xx itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &EndpointDispatcher{cfg: cfg, store: store, client: client,
		log: logger.With("component", "webhooks"), kick: make(chan struct{}, 1)}
}

// Kick makes the dispatcher look for due deliveries now. It never blocks.
func (d *EndpointDispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends; attempts under way are finished and
// recorded.
func (d *EndpointDispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	nextPurge := d.cfg.Now()
	for {
		d.drain(ctx)
		if now := d.cfg.Now(); !now.Before(nextPurge) {
			nextPurge = now.Add(time.Hour)
			if n, err := d.store.PurgeWebhookDeliveries(ctx, now.Add(-d.cfg.Keep)); err != nil {
				d.log.Warn("purge webhook deliveries", "err", err)
			} else if n > 0 {
				d.log.Info("purged old webhook deliveries", "deleted", n)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.kick:
		}
	}
}

func (d *EndpointDispatcher) drain(ctx context.Context) {
	for ctx.Err() == nil {
		now := d.cfg.Now()
		// The lease outlives one attempt by far, so no other dispatcher
		// takes a delivery that is still being sent.
		jobs, err := d.store.ClaimWebhookDeliveries(ctx, d.cfg.Batch, now, now.Add(4*d.cfg.SendTimeout))
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("claim webhook deliveries", "err", err)
			}
			return
		}
		if len(jobs) == 0 {
			return
		}
		dctx := context.WithoutCancel(ctx)
		var wg sync.WaitGroup
		for _, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.deliver(dctx, j)
			}()
		}
		wg.Wait()
		if len(jobs) < d.cfg.Batch {
			return
		}
	}
}

func (d *EndpointDispatcher) deliver(ctx context.Context, j keystore.WebhookJob) {
	log := d.log.With("delivery_id", j.Delivery.ID, "endpoint_id", j.Endpoint.ID, "event_id", j.Delivery.EventID,
		"attempt", j.Delivery.Attempts, "redacted", j.Incident.Redacted)
	began := d.cfg.Now()
	status, err := d.post(ctx, j)
	now := d.cfg.Now()
	r := keystore.WebhookResult{At: now, ResponseStatus: status, Attempt: j.Delivery.Attempts, Duration: now.Sub(began)}
	if err != nil {
		d.cfg.Metrics.NoticesFailed.WithLabelValues(channelEndpoint).Inc()
	}
	switch {
	case err == nil:
		r.Delivered = true
		d.cfg.Metrics.NoticesSent.WithLabelValues(channelEndpoint).Inc()
		log.Info("webhook delivered", "status", status)
	case now.Sub(j.Delivery.CreatedAt) >= d.cfg.Window:
		r.GiveUp, r.Error = true, err.Error()
		log.Error("webhook given up after retrying", "window", d.cfg.Window, "err", err)
	default:
		delay := d.Backoff(j.Delivery.Attempts)
		r.NextAttempt, r.Error = now.Add(delay), err.Error()
		log.Warn("webhook not delivered; will retry", "retry_in", delay.Round(time.Millisecond), "err", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.store.FinishWebhookAttempt(rctx, j.Delivery.ID, r); err != nil {
		// The lease ends and the delivery is claimed again.
		log.Warn("record webhook attempt", "err", err)
	}
}

// post sends the signed event; the status is 0 when nothing answered.
func (d *EndpointDispatcher) post(ctx context.Context, j keystore.WebhookJob) (int, error) {
	now := d.cfg.Now()
	body, err := json.Marshal(NewEndpointEvent(j, now))
	if err != nil {
		return 0, fmt.Errorf("encode event: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.Endpoint.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("endpoint URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "leakguard-webhook/1")
	req.Header.Set(EndpointSignatureHeader, Sign(j.Endpoint.Secret, now, body))
	req.Header.Set(EndpointEventIDHeader, keystore.EventID(j.Incident.ID))
	resp, err := d.client.Do(req)
	if err != nil {
		// The URL holds no secret of ours, but may hold the owner's: not logged whole.
		return 0, fmt.Errorf("POST %s: %w", httpx.RedactURL(j.Endpoint.URL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("endpoint answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// unwrapURLError drops *url.Error's copy of the URL (which may hold a
// token of the owner's) and keeps the cause.
func unwrapURLError(err error) error {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && u.Unwrap() != nil {
		return u.Unwrap()
	}
	return err
}

// Backoff is the wait after the attempt-th failed attempt: RetryBase
// doubling up to RetryMax, ±25% jitter.
func (d *EndpointDispatcher) Backoff(attempt int) time.Duration {
	b := d.cfg.RetryBase
	for i := 1; i < attempt && b < d.cfg.RetryMax; i++ {
		b *= 2
	}
	b = min(b, d.cfg.RetryMax)
	jitter := time.Duration(rand.Int64N(int64(b)/2+1)) - b/4
	return min(b+jitter, d.cfg.RetryMax)
}
