package keystore

import (
	"context"
	"strings"
	"time"
)

// WebhookEndpoint is a URL an account asked leak events to be POSTed to
// (docs/api.md, "Webhooks"). Secret signs every delivery; it is shown once,
// in the answer that creates the endpoint, and kept as it is in the store
// because signing needs it (see docs/api.md for why it is not hashed).
type WebhookEndpoint struct {
	ID          string // we_…
	AccountID   string
	URL         string
	Description string
	Secret      string // whsec_…
	CreatedAt   time.Time
}

// Delivery states.
const (
	DeliveryPending   = "pending"   // not yet accepted; retried
	DeliveryDelivered = "delivered" // the endpoint answered 2xx
	DeliveryFailed    = "failed"    // retried for WebhookRetryWindow, then given up
)

// WebhookRetryWindow is how long a delivery is retried before it is given
// up: at least 24 hours (docs/api.md).
const WebhookRetryWindow = 72 * time.Hour

// WebhookDelivery is one event for one endpoint, with the outcome of its
// latest attempt: the endpoint's delivery log.
type WebhookDelivery struct {
	ID             string     `json:"id"` // whd_…
	EndpointID     string     `json:"endpoint_id"`
	EventID        string     `json:"event_id"` // evt_…, the same for every endpoint
	EventType      string     `json:"event_type"`
	IncidentID     string     `json:"incident_id"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	CreatedAt      time.Time  `json:"created_at"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"` // nil once delivered or failed
	DeliveredAt    *time.Time `json:"delivered_at"`
	ResponseStatus int        `json:"response_status"` // of the latest attempt, 0 if none answered
	LastError      string     `json:"last_error"`
	// AttemptLog is every recorded attempt, oldest first (at most
	// MaxAttemptLog, the latest ones).
	AttemptLog []WebhookAttempt `json:"attempt_log"`
}

// WebhookAttempt is one POST of a delivery.
type WebhookAttempt struct {
	Attempt        int       `json:"attempt"`
	At             time.Time `json:"at"`
	ResponseStatus int       `json:"response_status"` // 0: nothing answered
	Error          string    `json:"error"`
	DurationMS     int64     `json:"duration_ms"`
}

// MaxAttemptLog bounds the attempts a listed delivery carries.
const MaxAttemptLog = 20

// WebhookJob is a claimed delivery with what sending it needs.
type WebhookJob struct {
	Delivery WebhookDelivery
	Endpoint WebhookEndpoint
	Incident Incident
	Key      Key
}

// WebhookResult is the outcome of one attempt.
type WebhookResult struct {
	At             time.Time
	Delivered      bool
	ResponseStatus int
	Error          string
	// Attempt is the attempt's number (the claimed delivery's Attempts)
	// and Duration how long it took, for the attempt log.
	Attempt  int
	Duration time.Duration
	// NextAttempt is when to try again; ignored when Delivered or GiveUp.
	NextAttempt time.Time
	GiveUp      bool
}

// WebhookStore keeps webhook endpoints and their deliveries. Both stores
// implement it; a delivery is created for every endpoint of the account in
// the transaction that opens an incident (a trigger on incidents), so a
// leak is never without its events, and never has them twice.
type WebhookStore interface {
	CreateWebhookEndpoint(ctx context.Context, e WebhookEndpoint) error
	// ListWebhookEndpoints lists an account's endpoints, newest first: up
	// to p.Size()+1 of them, so the caller can tell whether there are more.
	ListWebhookEndpoints(ctx context.Context, accountID string, p Page) ([]WebhookEndpoint, error)
	GetWebhookEndpoint(ctx context.Context, accountID, id string) (WebhookEndpoint, error)
	// DeleteWebhookEndpoint removes an endpoint; its pending deliveries
	// are dropped with it. ErrNotFound if the account has no such endpoint.
	DeleteWebhookEndpoint(ctx context.Context, accountID, id string) error
	// ListWebhookDeliveries is an endpoint's delivery log, newest first,
	// up to p.Size()+1 entries (as ListWebhookEndpoints).
	ListWebhookDeliveries(ctx context.Context, accountID, endpointID string, p Page) ([]WebhookDelivery, error)
	// ClaimWebhookDeliveries leases up to limit due deliveries until
	// leaseUntil and counts an attempt for each.
	ClaimWebhookDeliveries(ctx context.Context, limit int, now, leaseUntil time.Time) ([]WebhookJob, error)
	// FinishWebhookAttempt records an attempt's outcome.
	FinishWebhookAttempt(ctx context.Context, deliveryID string, r WebhookResult) error
	// PurgeWebhookDeliveries deletes delivered and failed deliveries
	// created before before; pending ones are kept.
	PurgeWebhookDeliveries(ctx context.Context, before time.Time) (int64, error)
}

// EventKeyExposed is the type of the event a leak sends.
const EventKeyExposed = "key.exposed"

// EventID is the id of the event of an incident: evt_ and the incident
// id's own part, the same for every endpoint and every retry, so a
// receiver can drop a duplicate.
func EventID(incidentID string) string {
	_, rest, ok := strings.Cut(incidentID, "_")
	if !ok {
		rest = incidentID
	}
	return "evt_" + rest
}
