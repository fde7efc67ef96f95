package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/leakguard/leakguard/internal/truncate"
	"github.com/leakguard/leakguard/keystore"
)

var _ keystore.WebhookStore = (*Store)(nil)

const endpointCols = `e.id, e.account_id, e.url, e.description, e.secret, e.created_at`

func endpointDest(e *keystore.WebhookEndpoint) []any {
	return []any{&e.ID, &e.AccountID, &e.URL, &e.Description, &e.Secret, &e.CreatedAt}
}

// CreateWebhookEndpoint stores a new endpoint.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e keystore.WebhookEndpoint) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("create webhook endpoint %s: %w", e.ID, err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO webhook_endpoints (id, account_id, url, description, secret, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, e.ID, e.AccountID, e.URL, e.Description, e.Secret, e.CreatedAt)
	if err != nil {
		return fmt.Errorf("create webhook endpoint %s: %w", e.ID, classify(err))
	}
	return nil
}

// ListWebhookEndpoints lists an account's endpoints, newest first.
func (s *Store) ListWebhookEndpoints(ctx context.Context, accountID string, p keystore.Page) ([]keystore.WebhookEndpoint, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("list webhook endpoints of %s: %w", accountID, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints e
		WHERE e.account_id = $1 AND ($2 = '' OR e.id < $2) ORDER BY e.id DESC LIMIT $3`,
		accountID, p.StartingAfter, p.Size()+1)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints of %s: %w", accountID, classify(err))
	}
	defer rows.Close()
	out := []keystore.WebhookEndpoint{}
	for rows.Next() {
		var e keystore.WebhookEndpoint
		if err := rows.Scan(endpointDest(&e)...); err != nil {
			return nil, fmt.Errorf("list webhook endpoints of %s: %w", accountID, classify(err))
		}
		e.CreatedAt = e.CreatedAt.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list webhook endpoints of %s: %w", accountID, classify(err))
	}
	return out, nil
}

// GetWebhookEndpoint returns one of an account's endpoints.
func (s *Store) GetWebhookEndpoint(ctx context.Context, accountID, id string) (keystore.WebhookEndpoint, error) {
	var e keystore.WebhookEndpoint
	if err := s.check(); err != nil {
		return e, fmt.Errorf("get webhook endpoint %s: %w", id, err)
	}
	err := s.pool.QueryRow(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints e WHERE e.id = $1 AND e.account_id = $2`,
		id, accountID).Scan(endpointDest(&e)...)
	if err != nil {
		return e, fmt.Errorf("get webhook endpoint %s: %w", id, classify(err))
	}
	e.CreatedAt = e.CreatedAt.UTC()
	return e, nil
}

// DeleteWebhookEndpoint deletes the endpoint and its deliveries.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, accountID, id string) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("delete webhook endpoint %s: %w", id, err)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 AND account_id = $2`, id, accountID)
	if err != nil {
		return fmt.Errorf("delete webhook endpoint %s: %w", id, classify(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete webhook endpoint %s: %w", id, keystore.ErrNotFound)
	}
	return nil
}

const deliveryCols = `d.id, d.endpoint_id, d.incident_id, d.status, d.attempts, d.created_at, d.last_attempt_at,
	d.next_attempt_at, d.delivered_at, d.response_status, d.last_error`

type deliveryRow struct {
	d                   keystore.WebhookDelivery
	attempts, status    int32
	next                time.Time
	lastAttempt, doneAt *time.Time
}

func (r *deliveryRow) dest() []any {
	d := &r.d
	return []any{&d.ID, &d.EndpointID, &d.IncidentID, &d.Status, &r.attempts, &d.CreatedAt, &r.lastAttempt,
		&r.next, &r.doneAt, &r.status, &d.LastError}
}

func (r *deliveryRow) delivery() keystore.WebhookDelivery {
	d := r.d
	d.Attempts, d.ResponseStatus = int(r.attempts), int(r.status)
	d.CreatedAt = d.CreatedAt.UTC()
	d.LastAttemptAt, d.DeliveredAt = utc(r.lastAttempt), utc(r.doneAt)
	if d.Status == keystore.DeliveryPending {
		n := r.next.UTC()
		d.NextAttemptAt = &n
	}
	d.EventID = keystore.EventID(d.IncidentID)
	d.EventType = keystore.EventKeyExposed
	return d
}

// ListWebhookDeliveries is an endpoint's delivery log, newest first.
func (s *Store) ListWebhookDeliveries(ctx context.Context, accountID, endpointID string, p keystore.Page) ([]keystore.WebhookDelivery, error) {
	if _, err := s.GetWebhookEndpoint(ctx, accountID, endpointID); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries d
		WHERE d.endpoint_id = $1 AND ($2 = '' OR (d.created_at, d.id) < (SELECT created_at, id FROM webhook_deliveries WHERE id = $2))
		ORDER BY d.created_at DESC, d.id DESC LIMIT $3`, endpointID, p.StartingAfter, p.Size()+1)
	if err != nil {
		return nil, fmt.Errorf("list deliveries of %s: %w", endpointID, classify(err))
	}
	defer rows.Close()
	out := []keystore.WebhookDelivery{}
	for rows.Next() {
		var r deliveryRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("list deliveries of %s: %w", endpointID, classify(err))
		}
		out = append(out, r.delivery())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list deliveries of %s: %w", endpointID, classify(err))
	}
	rows.Close()
	if err := s.attachAttempts(ctx, out); err != nil {
		return nil, fmt.Errorf("list deliveries of %s: %w", endpointID, err)
	}
	return out, nil
}

// attachAttempts loads the latest attempts of ds in one query.
func (s *Store) attachAttempts(ctx context.Context, ds []keystore.WebhookDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	ids := make([]string, len(ds))
	at := make(map[string]int, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
		at[d.ID] = i
		ds[i].AttemptLog = []keystore.WebhookAttempt{}
	}
	rows, err := s.pool.Query(ctx, `SELECT delivery_id, attempt, at, response_status, error, duration_ms FROM (
			SELECT a.*, row_number() OVER (PARTITION BY delivery_id ORDER BY attempt DESC) AS n FROM webhook_attempts a
			WHERE delivery_id = ANY($1)
		) x WHERE n <= $2 ORDER BY delivery_id, attempt`, ids, keystore.MaxAttemptLog)
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var attempt, status int32
		var a keystore.WebhookAttempt
		if err := rows.Scan(&id, &attempt, &a.At, &status, &a.Error, &a.DurationMS); err != nil {
			return classify(err)
		}
		a.Attempt, a.ResponseStatus, a.At = int(attempt), int(status), a.At.UTC()
		i := at[id]
		ds[i].AttemptLog = append(ds[i].AttemptLog, a)
	}
	return classify(rows.Err())
}

// ClaimWebhookDeliveries leases up to limit due deliveries in one
// statement; rows another notifier is claiming are skipped.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, limit int, now, leaseUntil time.Time) ([]keystore.WebhookJob, error) {
	out := []keystore.WebhookJob{}
	if limit <= 0 {
		return out, nil
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1
			ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED
		), d AS (
			UPDATE webhook_deliveries w SET next_attempt_at = $3, attempts = w.attempts + 1
			FROM due WHERE w.id = due.id
			RETURNING w.*
		)
		SELECT `+deliveryCols+`, `+endpointCols+`, `+incidentCols+`, `+keyCols+`
		FROM d JOIN webhook_endpoints e ON e.id = d.endpoint_id
			JOIN incidents i ON i.id = d.incident_id JOIN api_keys k ON k.id = i.key_id
		ORDER BY d.created_at, d.id`, now, limit, leaseUntil)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var dr deliveryRow
		var ir incidentRow
		var kr keyRow
		var j keystore.WebhookJob
		dest := append(dr.dest(), endpointDest(&j.Endpoint)...)
		dest = append(dest, ir.dest()...)
		dest = append(dest, kr.dest()...)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("claim webhook deliveries: %w", classify(err))
		}
		j.Delivery = dr.delivery()
		j.Endpoint.CreatedAt = j.Endpoint.CreatedAt.UTC()
		j.Incident = ir.incident()
		if j.Key, err = kr.key(); err != nil {
			return nil, fmt.Errorf("claim webhook deliveries: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", classify(err))
	}
	return out, nil
}

// FinishWebhookAttempt records an attempt's outcome. A delivery already
// delivered stays so.
func (s *Store) FinishWebhookAttempt(ctx context.Context, id string, r keystore.WebhookResult) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("record webhook attempt %s: %w", id, err)
	}
	status, next := keystore.DeliveryPending, r.NextAttempt
	var delivered *time.Time
	switch {
	case r.Delivered:
		status, next, delivered = keystore.DeliveryDelivered, r.At, &r.At
	case r.GiveUp:
		status, next = keystore.DeliveryFailed, r.At
	}
	msg := truncate.String(text(r.Error), maxErrLen)
	var found bool
	err := s.pool.QueryRow(ctx, `WITH u AS (
			UPDATE webhook_deliveries SET status = $2, next_attempt_at = $3, delivered_at = coalesce(delivered_at, $4),
				last_attempt_at = $5, response_status = $6, last_error = $7
			WHERE id = $1 AND status = 'pending' RETURNING id
		), a AS (
			INSERT INTO webhook_attempts (delivery_id, attempt, at, response_status, error, duration_ms)
			SELECT u.id, $8, $5, $6, $7, $9 FROM u WHERE $8 > 0
			ON CONFLICT (delivery_id, attempt) DO NOTHING
		)
		SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1)`,
		id, status, next, delivered, r.At, int32(r.ResponseStatus), msg, int32(r.Attempt), r.Duration.Milliseconds()).Scan(&found)
	if err == nil && !found {
		err = keystore.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("record webhook attempt %s: %w", id, classify(err))
	}
	return nil
}

// PurgeWebhookDeliveries deletes finished deliveries created before before.
func (s *Store) PurgeWebhookDeliveries(ctx context.Context, before time.Time) (int64, error) {
	if err := s.check(); err != nil {
		return 0, fmt.Errorf("purge webhook deliveries: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge webhook deliveries: %w", classify(err))
	}
	return tag.RowsAffected(), nil
}
