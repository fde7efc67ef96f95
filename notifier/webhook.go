package notifier

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/leakguard/leakguard"
)

// Webhook event details.
const (
	EventExposureCreated = "api_key_exposure.created"
	SignatureHeader      = "X-Leakguard-Signature"
	EventIDHeader        = "X-Leakguard-Event-Id"
	EventTypeHeader      = "X-Leakguard-Event-Type"
	// DefaultSignatureTolerance is how old a signed timestamp VerifySignature accepts.
	DefaultSignatureTolerance = 5 * time.Minute
)

// Event is the JSON body of a webhook (Stripe-style envelope).
type Event struct {
	ID      string    `json:"id"` // evt_<notice id>: stable across retries
	Object  string    `json:"object"`
	Type    string    `json:"type"`
	Created int64     `json:"created"`
	Data    EventData `json:"data"`
}

// EventData wraps the event's object.
type EventData struct {
	Object Exposure `json:"object"`
}

// Exposure is the incident as a webhook reports it.
type Exposure struct {
	Object      string             `json:"object"` // "api_key_exposure"
	ID          string             `json:"id"`     // incident id
	AccountID   string             `json:"account_id"`
	Action      string             `json:"action"` // revoked or inactive
	Rule        string             `json:"rule"`
	Source      string             `json:"source"`
	Location    leakguard.Location `json:"location"`
	FirstSeenAt time.Time          `json:"first_seen_at"`
	RevokedAt   *time.Time         `json:"revoked_at"`
	Key         EventKey           `json:"key"`
	Activity    *EventActivity     `json:"activity"` // null when unavailable
}

// EventKey is the exposed key, never its secret.
type EventKey struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Type          string     `json:"type"`
	Mode          string     `json:"mode"`
	Redacted      string     `json:"redacted"`
	Status        string     `json:"status"`
	RevokedAt     *time.Time `json:"revoked_at"`
	RevokedReason string     `json:"revoked_reason,omitempty"`
}

// EventActivity is the key's use since the exposure.
type EventActivity struct {
	Since    time.Time `json:"since"`
	Requests int64     `json:"requests"`
	NewIPs   []string  `json:"new_ips"`
}

// NewEvent builds the webhook event of a notice.
func NewEvent(msg Message, now time.Time) Event {
	n := msg.Notice
	in, k := n.Incident, n.Key
	redacted := in.Redacted
	if redacted == "" {
		redacted = k.Redacted()
	}
	ex := Exposure{
		Object: "api_key_exposure", ID: in.ID, AccountID: in.AccountID, Action: string(in.Action),
		Rule: in.Rule, Source: in.Source, Location: in.Location, FirstSeenAt: in.FirstSeenAt.UTC(),
		RevokedAt: utcPtr(in.RevokedAt),
		Key: EventKey{ID: k.ID, Name: k.Name, Type: string(k.Type), Mode: string(k.Mode), Redacted: redacted,
			Status: string(k.Status(now)), RevokedAt: utcPtr(k.RevokedAt), RevokedReason: string(k.RevokedReason)},
	}
	if msg.Activity != nil {
		ips := msg.Activity.NewIPs
		if ips == nil {
			ips = []string{}
		}
		ex.Activity = &EventActivity{Since: in.FirstSeenAt.UTC(), Requests: msg.Activity.Requests, NewIPs: ips}
	}
	return Event{ID: "evt_" + n.ID, Object: "event", Type: EventExposureCreated, Created: in.FirstSeenAt.Unix(),
		Data: EventData{Object: ex}}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Sign returns the signature header value for body sent at t:
// "t=<unix>,v1=<hex HMAC-SHA256(secret, "<unix>.<body>")>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Errors of VerifySignature.
var (
	ErrSignatureFormat  = errors.New("webhook signature header is malformed")
	ErrSignatureExpired = errors.New("webhook signature timestamp is outside the tolerance")
	ErrSignatureInvalid = errors.New("webhook signature does not match")
)

// VerifySignature checks a signature header against body the way a
// receiver should: any v1 signature may match (secrets can be rolled), in
// constant time, and the timestamp must be within tolerance of now.
func VerifySignature(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts int64
	var haveTS bool
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrSignatureFormat
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return ErrSignatureFormat
			}
			ts, haveTS = n, true
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil {
				return ErrSignatureFormat
			}
			sigs = append(sigs, b)
		}
	}
	if !haveTS || len(sigs) == 0 {
		return ErrSignatureFormat
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrSignatureExpired
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrSignatureInvalid
}

// WebhookSender POSTs signed events to the account's webhook URL.
type WebhookSender struct {
	client *http.Client
	// Now is the clock of the signature timestamp (default time.Now).
	Now func() time.Time
}

// NewWebhookSender returns a sender using client, or a client with a 15 s
// timeout that does not follow redirects when client is nil.
func NewWebhookSender(client *http.Client) *WebhookSender {
	if client == nil {
		client = &http.Client{
			Timeout: 15 * time.Second,
			// A redirect is not an acceptance: the endpoint must answer 2xx itself.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &WebhookSender{client: client, Now: time.Now}
}

// Send posts the event; any answer but 2xx is an error (and a retry).
func (w *WebhookSender) Send(ctx context.Context, msg Message) error {
	n := msg.Notice
	if n.Account.WebhookURL == "" {
		return fmt.Errorf("webhook notice %s: account %s has no webhook URL", n.ID, n.Account.ID)
	}
	if n.Account.WebhookSecret == "" {
		return fmt.Errorf("webhook notice %s: account %s has no webhook signing secret", n.ID, n.Account.ID)
	}
	now := w.Now()
	ev := NewEvent(msg, now)
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("webhook notice %s: encode: %w", n.ID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.Account.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook notice %s: account %s webhook URL: %w", n.ID, n.Account.ID, err)
	}
	if req.URL.Scheme != "https" && req.URL.Scheme != "http" {
		return fmt.Errorf("webhook notice %s: account %s webhook URL scheme %q is not http(s)", n.ID, n.Account.ID, req.URL.Scheme)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "leakguard-webhook/1")
	req.Header.Set(SignatureHeader, Sign(n.Account.WebhookSecret, now, body))
	req.Header.Set(EventIDHeader, ev.ID)
	req.Header.Set(EventTypeHeader, ev.Type)
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook notice %s: %w", n.ID, err)
	}
	defer resp.Body.Close()
	// Read a little so the connection can be reused; never all of it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook notice %s: endpoint answered %s", n.ID, resp.Status)
	}
	return nil
}
