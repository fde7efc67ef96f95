package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/truncate"
	"github.com/leakguard/leakguard/keystore"
)

var _ keystore.WebhookStore = (*Store)(nil)

const endpointCols = `e.id, e.account_id, e.url, e.description, e.secret, e.created_at`

func scanEndpoint(row scanner) (keystore.WebhookEndpoint, error) {
	var e keystore.WebhookEndpoint
	var created int64
	if err := row.Scan(&e.ID, &e.AccountID, &e.URL, &e.Description, &e.Secret, &created); err != nil {
		return e, classify(err)
	}
	e.CreatedAt = ft(created)
	return e, nil
}

// CreateWebhookEndpoint stores a new endpoint.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e keystore.WebhookEndpoint) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_endpoints (id, account_id, url, description, secret, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, e.ID, e.AccountID, e.URL, e.Description, e.Secret, tn(e.CreatedAt))
		return classify(err)
	})
	if err != nil {
		return fmt.Errorf("create webhook endpoint %s: %w", e.ID, err)
	}
	return nil
}

// ListWebhookEndpoints lists an account's endpoints, newest first.
func (s *Store) ListWebhookEndpoints(ctx context.Context, accountID string, p keystore.Page) ([]keystore.WebhookEndpoint, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("list webhook endpoints of %s: %w", accountID, err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints e
		WHERE e.account_id = ? AND (? = '' OR e.id < ?) ORDER BY e.id DESC LIMIT ?`,
		accountID, p.StartingAfter, p.StartingAfter, p.Size()+1)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints of %s: %w", accountID, classify(err))
	}
	defer rows.Close()
	out := []keystore.WebhookEndpoint{}
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("list webhook endpoints of %s: %w", accountID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list webhook endpoints of %s: %w", accountID, classify(err))
	}
	return out, nil
}

// GetWebhookEndpoint returns one of an account's endpoints.
func (s *Store) GetWebhookEndpoint(ctx context.Context, accountID, id string) (keystore.WebhookEndpoint, error) {
	if err := s.check(); err != nil {
		return keystore.WebhookEndpoint{}, fmt.Errorf("get webhook endpoint %s: %w", id, err)
	}
	e, err := scanEndpoint(s.r.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints e
		WHERE e.id = ? AND e.account_id = ?`, id, accountID))
	if err != nil {
		return e, fmt.Errorf("get webhook endpoint %s: %w", id, err)
	}
	return e, nil
}

// DeleteWebhookEndpoint deletes the endpoint and its deliveries.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, accountID, id string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = ? AND account_id = ?`, id, accountID)
		if err != nil {
			return classify(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return keystore.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete webhook endpoint %s: %w", id, err)
	}
	return nil
}

const deliveryCols = `d.id, d.endpoint_id, d.incident_id, d.status, d.attempts, d.created_at, d.last_attempt_at,
	d.next_attempt_at, d.delivered_at, d.response_status, d.last_error`

type deliveryRow struct {
	d                   keystore.WebhookDelivery
	created, next       int64
	lastAttempt, doneAt sql.NullInt64
}

func (r *deliveryRow) dest() []any {
	d := &r.d
	return []any{&d.ID, &d.EndpointID, &d.IncidentID, &d.Status, &d.Attempts, &r.created, &r.lastAttempt,
		&r.next, &r.doneAt, &d.ResponseStatus, &d.LastError}
}

func (r *deliveryRow) delivery() keystore.WebhookDelivery {
	d := r.d
	d.CreatedAt = ft(r.created)
	d.LastAttemptAt = fnt(r.lastAttempt)
	d.DeliveredAt = fnt(r.doneAt)
	if d.Status == keystore.DeliveryPending {
		n := ft(r.next)
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries d
		WHERE d.endpoint_id = ? AND (? = '' OR (d.created_at, d.id) < (SELECT created_at, id FROM webhook_deliveries WHERE id = ?))
		ORDER BY d.created_at DESC, d.id DESC LIMIT ?`, endpointID, p.StartingAfter, p.StartingAfter, p.Size()+1)
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
	ids := make([]any, 0, len(ds)+1)
	at := make(map[string]int, len(ds))
	for i, d := range ds {
		ids = append(ids, d.ID)
		at[d.ID] = i
		ds[i].AttemptLog = []keystore.WebhookAttempt{}
	}
	ids = append(ids, keystore.MaxAttemptLog)
	rows, err := s.r.QueryContext(ctx, `SELECT delivery_id, attempt, at, response_status, error, duration_ms FROM (
			SELECT a.*, row_number() OVER (PARTITION BY delivery_id ORDER BY attempt DESC) AS n FROM webhook_attempts a
			WHERE delivery_id IN (?`+strings.Repeat(",?", len(ds)-1)+`)
		) WHERE n <= ? ORDER BY delivery_id, attempt`, ids...)
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var a keystore.WebhookAttempt
		var when int64
		if err := rows.Scan(&id, &a.Attempt, &when, &a.ResponseStatus, &a.Error, &a.DurationMS); err != nil {
			return classify(err)
		}
		a.At = ft(when)
		i := at[id]
		ds[i].AttemptLog = append(ds[i].AttemptLog, a)
	}
	return classify(rows.Err())
}

// ClaimWebhookDeliveries leases up to limit due deliveries.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, limit int, now, leaseUntil time.Time) ([]keystore.WebhookJob, error) {
	out := []keystore.WebhookJob{}
	if limit <= 0 {
		return out, nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ids, err := leaseIDs(ctx, tx, `UPDATE webhook_deliveries SET next_attempt_at = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?
				ORDER BY next_attempt_at, id LIMIT ?)
			RETURNING id`, tn(leaseUntil), tn(now), limit)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+deliveryCols+`, `+endpointCols+`, `+incidentCols+`, `+keyCols+`
			FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
			JOIN incidents i ON i.id = d.incident_id JOIN api_keys k ON k.id = i.key_id
			WHERE d.id IN (?`+strings.Repeat(",?", len(ids)-1)+`) ORDER BY d.created_at, d.id`, anys(ids)...)
		if err != nil {
			return classify(err)
		}
		defer rows.Close()
		for rows.Next() {
			var dr deliveryRow
			var ecreated int64
			var ir incidentRow
			var kr keyRow
			var j keystore.WebhookJob
			ep := &j.Endpoint
			dest := append(dr.dest(), &ep.ID, &ep.AccountID, &ep.URL, &ep.Description, &ep.Secret, &ecreated)
			dest = append(dest, ir.dest()...)
			dest = append(dest, kr.dest()...)
			if err := rows.Scan(dest...); err != nil {
				return classify(err)
			}
			j.Delivery = dr.delivery()
			ep.CreatedAt = ft(ecreated)
			j.Incident = ir.incident()
			if j.Key, err = kr.key(); err != nil {
				return err
			}
			out = append(out, j)
		}
		return classify(rows.Err())
	})
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	return out, nil
}

// FinishWebhookAttempt records an attempt's outcome. A delivery already
// delivered stays so.
func (s *Store) FinishWebhookAttempt(ctx context.Context, id string, r keystore.WebhookResult) error {
	status, next, delivered := keystore.DeliveryPending, tn(r.NextAttempt), any(nil)
	switch {
	case r.Delivered:
		status, next, delivered = keystore.DeliveryDelivered, tn(r.At), tn(r.At)
	case r.GiveUp:
		status, next = keystore.DeliveryFailed, tn(r.At)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?,
			delivered_at = coalesce(delivered_at, ?), last_attempt_at = ?, response_status = ?, last_error = ?
			WHERE id = ? AND status = 'pending'`, status, next, delivered, tn(r.At), r.ResponseStatus,
			truncate.String(text(r.Error), maxErrLen), id)
		if err != nil {
			return classify(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM webhook_deliveries WHERE id = ?`, id).Scan(&one); err != nil {
				return classify(err)
			}
			return nil // finished before: a late report changes nothing
		}
		if r.Attempt > 0 {
			_, err = tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, attempt, at, response_status, error, duration_ms)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id, attempt) DO NOTHING`,
				id, r.Attempt, tn(r.At), r.ResponseStatus, truncate.String(text(r.Error), maxErrLen), r.Duration.Milliseconds())
		}
		return classify(err)
	})
	if err != nil {
		return fmt.Errorf("record webhook attempt %s: %w", id, err)
	}
	return nil
}

// PurgeWebhookDeliveries deletes finished deliveries created before before.
func (s *Store) PurgeWebhookDeliveries(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < ?`, tn(before))
		if err != nil {
			return classify(err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge webhook deliveries: %w", err)
	}
	return n, nil
}
