package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leakguard/leakguard/internal/truncate"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// maxErrLen bounds a notice's stored last error.
const maxErrLen = 1000

var _ keystore.ExposureBatcher = (*Store)(nil)

// recordExposureSQL calls leakguard_record_exposure (migration 00002): it
// locks the key row by hash, then revokes, records the incident, the
// sighting and the notices.
const recordExposureSQL = `SELECT outcome, coalesce(key_id, ''), coalesce(account_id, ''),
		coalesce(incident_id, '')
	FROM leakguard_record_exposure($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`

// exposureArgs are recordExposureSQL's arguments for hit, with fresh ids.
func exposureArgs(hit leakguard.Hit, at time.Time) []any {
	foundAt := hit.FoundAt
	if foundAt.IsZero() {
		foundAt = at
	}
	msgID := hit.MsgID() // of the hit as reported, before cleaning
	hit = cleanHit(hit)
	l := hit.Location
	return []any{hit.SecretSHA256, at, foundAt, keystore.NewID("inc", at), keystore.NewID("ntc", at),
		keystore.NewID("ntc", at), msgID, hit.Rule, hit.Source, l.URL, l.Repository, l.Commit, l.Path,
		int32(l.Line), l.Layer}
}

func scanExposure(row pgx.Row) (keystore.Exposure, error) {
	var exp keystore.Exposure
	var outcome string
	if err := row.Scan(&outcome, &exp.KeyID, &exp.AccountID, &exp.IncidentID); err != nil {
		return keystore.Exposure{}, err
	}
	exp.Outcome = keystore.ExposureOutcome(outcome)
	return exp, nil
}

// RecordExposure applies a hit in one round trip and one transaction (the
// function call is one statement).
func (s *Store) RecordExposure(ctx context.Context, hit leakguard.Hit, at time.Time) (keystore.Exposure, error) {
	if err := s.check(); err != nil {
		return keystore.Exposure{}, fmt.Errorf("record exposure of %s: %w", hit.Redacted, err)
	}
	exp, err := scanExposure(s.pool.QueryRow(ctx, recordExposureSQL, exposureArgs(hit, at)...))
	if err != nil {
		return keystore.Exposure{}, fmt.Errorf("record exposure of %s: %w", hit.Redacted, classify(err))
	}
	return exp, nil
}

// maxBatchAttempts bounds the runs of a batch that lost a serialization or
// deadlock race (which the lock order below should make rare).
const maxBatchAttempts = 3

// RecordExposures applies hits in one transaction: BEGIN, every function
// call pipelined in one round trip, COMMIT, so one commit (one WAL flush)
// serves the whole batch. Key rows are locked in hash order, so revokers
// with overlapping batches cannot deadlock; hits of one key keep their
// order, so the first revokes and the rest are sightings, as if sequential.
func (s *Store) RecordExposures(ctx context.Context, hits []leakguard.Hit, at time.Time) ([]keystore.Exposure, error) {
	if len(hits) == 0 {
		return []keystore.Exposure{}, nil
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("record %d exposures: %w", len(hits), err)
	}
	order := make([]int, len(hits))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(hits[a].SecretSHA256, hits[b].SecretSHA256) })
	args := make([][]any, len(hits))
	for i, h := range hits {
		args[i] = exposureArgs(h, at)
	}
	out := make([]keystore.Exposure, len(hits))
	var err error
	for attempt := 1; ; attempt++ {
		err = s.tx(ctx, func(tx pgx.Tx) error {
			var b pgx.Batch
			for _, i := range order {
				b.Queue(recordExposureSQL, args[i]...)
			}
			br := tx.SendBatch(ctx, &b)
			for _, i := range order {
				exp, err := scanExposure(br.QueryRow())
				if err != nil {
					_ = br.Close()
					return fmt.Errorf("hit %s: %w", hits[i].Redacted, classify(err))
				}
				out[i] = exp
			}
			return classify(br.Close())
		})
		if err == nil || attempt == maxBatchAttempts || !retryable(err) || ctx.Err() != nil {
			break
		}
		s.logger.Debug("exposure batch lost a race, retrying", "hits", len(hits), "attempt", attempt, "err", err)
	}
	if err != nil {
		return nil, fmt.Errorf("record %d exposures: %w", len(hits), err)
	}
	return out, nil
}

// retryable reports a transaction that failed only because of another one
// (serialization failure, deadlock): running it again may succeed.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

const incidentCols = `i.id, i.account_id, i.key_id, i.redacted, i.rule, i.source, i.url, i.repository,
	i.commit_sha, i.path, i.line, i.layer, i.action, i.first_seen_at, i.revoked_at, i.notified_at, i.sightings`

// incidentRow receives a row of incidentCols.
type incidentRow struct {
	in                keystore.Incident
	action            string
	line, sightings   int32
	revoked, notified *time.Time
}

func (r *incidentRow) dest() []any {
	in, l := &r.in, &r.in.Location
	return []any{&in.ID, &in.AccountID, &in.KeyID, &in.Redacted, &in.Rule, &in.Source, &l.URL,
		&l.Repository, &l.Commit, &l.Path, &r.line, &l.Layer, &r.action, &in.FirstSeenAt, &r.revoked,
		&r.notified, &r.sightings}
}

func (r *incidentRow) incident() keystore.Incident {
	in := r.in
	in.Location.Line = int(r.line)
	in.Sightings = int(r.sightings)
	in.Action = keystore.ExposureOutcome(r.action)
	in.FirstSeenAt = in.FirstSeenAt.UTC()
	in.RevokedAt, in.NotifiedAt = utc(r.revoked), utc(r.notified)
	return in
}

// ListIncidents lists an account's incidents, newest first.
func (s *Store) ListIncidents(ctx context.Context, accountID string, p keystore.Page) ([]keystore.Incident, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("list incidents of %s: %w", accountID, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+incidentCols+` FROM incidents i
		WHERE i.account_id = $1 AND ($2 = '' OR i.id < $2) ORDER BY i.id DESC LIMIT $3`,
		accountID, p.StartingAfter, p.Size())
	if err != nil {
		return nil, fmt.Errorf("list incidents of %s: %w", accountID, classify(err))
	}
	defer rows.Close()
	out := []keystore.Incident{}
	for rows.Next() {
		var r incidentRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("list incidents of %s: %w", accountID, classify(err))
		}
		out = append(out, r.incident())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list incidents of %s: %w", accountID, classify(err))
	}
	return out, nil
}

// ClaimNotices leases up to limit due notices until leaseUntil in one
// statement; rows another notifier is claiming are skipped (SKIP LOCKED).
func (s *Store) ClaimNotices(ctx context.Context, limit int, now, leaseUntil time.Time) ([]keystore.Notice, error) {
	if limit <= 0 {
		return []keystore.Notice{}, nil
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("claim notices: %w", err)
	}
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT id FROM notices WHERE sent_at IS NULL AND next_attempt_at <= $1
			ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED
		), n AS (
			UPDATE notices SET next_attempt_at = $3, attempts = notices.attempts + 1
			FROM due WHERE notices.id = due.id
			RETURNING notices.id, notices.channel, notices.attempts, notices.incident_id
		)
		SELECT n.id, n.channel, n.attempts, `+incidentCols+`,
			a.id, a.email, a.mode, a.webhook_url, a.webhook_secret, a.created_at, `+keyCols+`
		FROM n JOIN incidents i ON i.id = n.incident_id JOIN accounts a ON a.id = i.account_id
			JOIN api_keys k ON k.id = i.key_id
		ORDER BY n.id`, now, limit, leaseUntil)
	if err != nil {
		return nil, fmt.Errorf("claim notices: %w", classify(err))
	}
	defer rows.Close()
	out := []keystore.Notice{}
	for rows.Next() {
		var n keystore.Notice
		var ch, mode string
		var attempts int32
		var ir incidentRow
		var kr keyRow
		dest := []any{&n.ID, &ch, &attempts}
		dest = append(dest, ir.dest()...)
		dest = append(dest, &n.Account.ID, &n.Account.Email, &mode, &n.Account.WebhookURL,
			&n.Account.WebhookSecret, &n.Account.CreatedAt)
		dest = append(dest, kr.dest()...)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("claim notices: %w", classify(err))
		}
		n.Channel = keystore.Channel(ch)
		n.Attempts = int(attempts)
		n.Incident = ir.incident()
		n.Account.Mode = keyformat.Mode(mode)
		n.Account.CreatedAt = n.Account.CreatedAt.UTC()
		if n.Key, err = kr.key(); err != nil {
			return nil, fmt.Errorf("claim notices: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim notices: %w", classify(err))
	}
	return out, nil
}

// MarkNoticeSent marks the notice sent and its incident notified; marking
// it again changes nothing.
func (s *Store) MarkNoticeSent(ctx context.Context, id string, at time.Time) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("mark notice %s sent: %w", id, err)
	}
	var n int
	err := s.pool.QueryRow(ctx, `WITH n AS (
			UPDATE notices SET sent_at = coalesce(sent_at, $2) WHERE id = $1 RETURNING incident_id
		), i AS (
			UPDATE incidents SET notified_at = $2
			WHERE id IN (SELECT incident_id FROM n) AND notified_at IS NULL
		)
		SELECT count(*) FROM n`, id, at).Scan(&n)
	if err == nil && n == 0 {
		err = keystore.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("mark notice %s sent: %w", id, classify(err))
	}
	return nil
}

// RetryNotice keeps an unsent notice pending until nextAttempt.
func (s *Store) RetryNotice(ctx context.Context, id string, nextAttempt time.Time, lastErr string) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("retry notice %s: %w", id, err)
	}
	var n int
	err := s.pool.QueryRow(ctx, `WITH u AS (
			UPDATE notices SET next_attempt_at = $2, last_error = $3 WHERE id = $1 AND sent_at IS NULL
		)
		SELECT count(*) FROM notices WHERE id = $1`, id, nextAttempt, truncate.String(text(lastErr), maxErrLen)).Scan(&n)
	if err == nil && n == 0 {
		err = keystore.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("retry notice %s: %w", id, classify(err))
	}
	return nil
}

// isText reports whether s is storable as PostgreSQL text as it is.
func isText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// text makes s storable as PostgreSQL text (and the same in SQLite, so both
// stores hold the same): no NUL bytes, valid UTF-8. Paths found in git
// trees or HTTP headers are bytes, and one bad byte must not turn a hit or
// a log batch into a poison message.
func text(s string) string {
	if isText(s) {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

// cleanHit applies text to every stored field of a hit.
func cleanHit(h leakguard.Hit) leakguard.Hit {
	h.Rule, h.Source = text(h.Rule), text(h.Source)
	l := &h.Location
	l.URL, l.Repository, l.Commit, l.Path, l.Layer = text(l.URL), text(l.Repository), text(l.Commit), text(l.Path), text(l.Layer)
	return h
}
