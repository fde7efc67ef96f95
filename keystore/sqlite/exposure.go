package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leakguard/leakguard/internal/truncate"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/keystore"
)

// maxErrLen bounds a notice's stored last error.
const maxErrLen = 1000

var _ keystore.ExposureBatcher = (*Store)(nil)

// RecordExposure applies a hit in one write transaction (BEGIN IMMEDIATE
// holds the database's write lock, so the key cannot change underneath).
func (s *Store) RecordExposure(ctx context.Context, hit leakguard.Hit, at time.Time) (keystore.Exposure, error) {
	var exp keystore.Exposure
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		exp, err = recordExposure(ctx, tx, hit, at)
		return err
	})
	if err != nil {
		return keystore.Exposure{}, fmt.Errorf("record exposure of %s: %w", hit.Redacted, err)
	}
	return exp, nil
}

// RecordExposures applies hits in order in one write transaction: one
// commit for the batch. The write lock is the database's, so there is no
// lock order to keep.
func (s *Store) RecordExposures(ctx context.Context, hits []leakguard.Hit, at time.Time) ([]keystore.Exposure, error) {
	if len(hits) == 0 {
		return []keystore.Exposure{}, nil
	}
	out := make([]keystore.Exposure, len(hits))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i, hit := range hits {
			exp, err := recordExposure(ctx, tx, hit, at)
			if err != nil {
				return fmt.Errorf("hit %s: %w", hit.Redacted, err)
			}
			out[i] = exp
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record %d exposures: %w", len(hits), err)
	}
	return out, nil
}

// recordExposure is one hit's effect inside the write transaction tx.
func recordExposure(ctx context.Context, tx *sql.Tx, hit leakguard.Hit, at time.Time) (keystore.Exposure, error) {
	msgID := hit.MsgID() // of the hit as reported, before cleaning
	hit = cleanHit(hit)
	var exp keystore.Exposure
	var webhook string
	var incidentID sql.NullString
	k, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+keyCols+`, a.webhook_url,
		(SELECT i.id FROM incidents i WHERE i.key_id = k.id)
		FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.hash = ?`, hit.SecretSHA256),
		&webhook, &incidentID)
	if err == sql.ErrNoRows {
		exp.Outcome = keystore.OutcomeUnknown
		return exp, nil
	}
	if err != nil {
		return keystore.Exposure{}, classify(err)
	}
	exp.KeyID, exp.AccountID = k.ID, k.AccountID
	foundAt := hit.FoundAt
	if foundAt.IsZero() {
		foundAt = at
	}
	if incidentID.Valid {
		exp.IncidentID = incidentID.String
		exp.Outcome = keystore.DecideExposure(&k, true, at).Outcome
		if err := addSighting(ctx, tx, incidentID.String, msgID, hit, foundAt, at); err != nil {
			return keystore.Exposure{}, err
		}
		return exp, nil
	}

	d := keystore.DecideExposure(&k, false, at)
	exp.Outcome = d.Outcome
	if d.Revoke {
		if err := storeKeyState(ctx, tx, d.Key, at); err != nil {
			return keystore.Exposure{}, err
		}
	}
	revokedAt := d.IncidentRevokedAt
	exp.IncidentID = keystore.NewID("inc", at)
	l := hit.Location
	if _, err := tx.ExecContext(ctx, `INSERT INTO incidents (id, account_id, key_id, redacted, rule, source,
		url, repository, commit_sha, path, line, layer, action, first_seen_at, revoked_at, sightings)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
		exp.IncidentID, k.AccountID, k.ID, k.Redacted(), hit.Rule, hit.Source, l.URL, l.Repository, l.Commit,
		l.Path, l.Line, l.Layer, string(exp.Outcome), tn(foundAt), tnp(revokedAt)); err != nil {
		return keystore.Exposure{}, classify(err)
	}
	if err := addSighting(ctx, tx, exp.IncidentID, msgID, hit, foundAt, at); err != nil {
		return keystore.Exposure{}, err
	}
	if !d.Notify {
		return exp, nil
	}
	channels := []keystore.Channel{keystore.ChannelEmail}
	if webhook != "" {
		channels = append(channels, keystore.ChannelWebhook)
	}
	for _, ch := range channels {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notices (id, incident_id, channel, created_at,
			next_attempt_at) VALUES (?, ?, ?, ?, ?)`,
			keystore.NewID("ntc", at), exp.IncidentID, string(ch), tn(at), tn(at)); err != nil {
			return keystore.Exposure{}, classify(err)
		}
	}
	return exp, nil
}

func addSighting(ctx context.Context, tx *sql.Tx, incidentID, msgID string, hit leakguard.Hit, foundAt, at time.Time) error {
	l := hit.Location
	res, err := tx.ExecContext(ctx, `INSERT INTO sightings (id, incident_id, rule, source, url, repository,
		commit_sha, path, line, layer, found_at, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, msgID, incidentID, hit.Rule, hit.Source, l.URL, l.Repository,
		l.Commit, l.Path, l.Line, l.Layer, tn(foundAt), tn(at))
	if err != nil {
		return classify(err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return classify(err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE incidents SET sightings = sightings + 1 WHERE id = ?`, incidentID)
	return classify(err)
}

const incidentCols = `i.id, i.account_id, i.key_id, i.redacted, i.rule, i.source, i.url, i.repository,
	i.commit_sha, i.path, i.line, i.layer, i.action, i.first_seen_at, i.revoked_at, i.notified_at, i.sightings`

// incidentRow receives a row of incidentCols.
type incidentRow struct {
	in                keystore.Incident
	action            string
	first             int64
	revoked, notified sql.NullInt64
}

func (r *incidentRow) dest() []any {
	in, l := &r.in, &r.in.Location
	return []any{&in.ID, &in.AccountID, &in.KeyID, &in.Redacted, &in.Rule, &in.Source, &l.URL,
		&l.Repository, &l.Commit, &l.Path, &l.Line, &l.Layer, &r.action, &r.first, &r.revoked, &r.notified,
		&in.Sightings}
}

func (r *incidentRow) incident() keystore.Incident {
	in := r.in
	in.Action = keystore.ExposureOutcome(r.action)
	in.FirstSeenAt = ft(r.first)
	in.RevokedAt = fnt(r.revoked)
	in.NotifiedAt = fnt(r.notified)
	return in
}

func scanIncident(row scanner) (keystore.Incident, error) {
	var r incidentRow
	if err := row.Scan(r.dest()...); err != nil {
		return keystore.Incident{}, err
	}
	return r.incident(), nil
}

// ListIncidents lists an account's incidents, newest first.
func (s *Store) ListIncidents(ctx context.Context, accountID string, mode keyformat.Mode, p keystore.Page) ([]keystore.Incident, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("list incidents of %s: %w", accountID, err)
	}
	q := `SELECT ` + incidentCols + ` FROM incidents i WHERE i.account_id = ?`
	args := []any{accountID}
	if mode != "" {
		q += ` AND i.key_id IN (SELECT id FROM api_keys WHERE account_id = ? AND mode = ?)`
		args = append(args, accountID, string(mode))
	}
	if p.StartingAfter != "" {
		q += ` AND i.id < ?`
		args = append(args, p.StartingAfter)
	}
	q += ` ORDER BY i.id DESC LIMIT ?`
	args = append(args, p.Size())
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents of %s: %w", accountID, classify(err))
	}
	defer rows.Close()
	out := []keystore.Incident{}
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("list incidents of %s: %w", accountID, classify(err))
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list incidents of %s: %w", accountID, classify(err))
	}
	return out, nil
}

// ClaimNotices leases up to limit due notices until leaseUntil. The write
// transaction is the lock: no other claimer runs at the same time.
func (s *Store) ClaimNotices(ctx context.Context, limit int, now, leaseUntil time.Time) ([]keystore.Notice, error) {
	if limit <= 0 {
		return []keystore.Notice{}, nil
	}
	out := []keystore.Notice{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ids, err := leaseIDs(ctx, tx, `UPDATE notices SET next_attempt_at = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM notices WHERE sent_at IS NULL AND next_attempt_at <= ?
				ORDER BY next_attempt_at, id LIMIT ?)
			RETURNING id`, tn(leaseUntil), tn(now), limit)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		rows, err := tx.QueryContext(ctx, `SELECT n.id, n.channel, n.attempts, `+incidentCols+`,
			a.id, a.email, a.mode, a.webhook_url, a.webhook_secret, a.created_at, `+keyCols+`
			FROM notices n JOIN incidents i ON i.id = n.incident_id JOIN accounts a ON a.id = i.account_id
			JOIN api_keys k ON k.id = i.key_id
			WHERE n.id IN (?`+strings.Repeat(",?", len(ids)-1)+`) ORDER BY n.next_attempt_at, n.id`, anys(ids)...)
		if err != nil {
			return classify(err)
		}
		defer rows.Close()
		for rows.Next() {
			var n keystore.Notice
			var ch, mode string
			var created int64
			var ir incidentRow
			var kr keyRow
			dest := []any{&n.ID, &ch, &n.Attempts}
			dest = append(dest, ir.dest()...)
			dest = append(dest, &n.Account.ID, &n.Account.Email, &mode, &n.Account.WebhookURL,
				&n.Account.WebhookSecret, &created)
			dest = append(dest, kr.dest()...)
			if err := rows.Scan(dest...); err != nil {
				return classify(err)
			}
			n.Channel = keystore.Channel(ch)
			n.Incident = ir.incident()
			n.Account.Mode = keyformat.Mode(mode)
			n.Account.CreatedAt = ft(created)
			if n.Key, err = kr.key(); err != nil {
				return err
			}
			out = append(out, n)
		}
		return classify(rows.Err())
	})
	if err != nil {
		return nil, fmt.Errorf("claim notices: %w", err)
	}
	return out, nil
}

// MarkNoticeSent marks the notice sent and its incident notified; marking
// it again changes nothing.
func (s *Store) MarkNoticeSent(ctx context.Context, id string, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var incidentID string
		if err := tx.QueryRowContext(ctx, `SELECT incident_id FROM notices WHERE id = ?`, id).Scan(&incidentID); err != nil {
			return classify(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notices SET sent_at = ? WHERE id = ? AND sent_at IS NULL`,
			tn(at), id); err != nil {
			return classify(err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE incidents SET notified_at = ? WHERE id = ? AND notified_at IS NULL`,
			tn(at), incidentID)
		return classify(err)
	})
	if err != nil {
		return fmt.Errorf("mark notice %s sent: %w", id, err)
	}
	return nil
}

// RetryNotice keeps an unsent notice pending until nextAttempt.
func (s *Store) RetryNotice(ctx context.Context, id string, nextAttempt time.Time, lastErr string) error {
	lastErr = truncate.String(text(lastErr), maxErrLen)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM notices WHERE id = ?`, id).Scan(&one); err != nil {
			return classify(err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE notices SET next_attempt_at = ?, last_error = ?
			WHERE id = ? AND sent_at IS NULL`, tn(nextAttempt), lastErr, id)
		return classify(err)
	})
	if err != nil {
		return fmt.Errorf("retry notice %s: %w", id, err)
	}
	return nil
}

// text makes s storable as PostgreSQL text (and the same in SQLite, so both
// stores hold the same): no NUL bytes, valid UTF-8. Paths found in git
// trees or HTTP headers are bytes, and one bad byte must not turn a hit or
// a log batch into a poison message.
func text(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
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

// leaseIDs runs an UPDATE … RETURNING id that leases outbox rows (notices,
// webhook deliveries) and returns the ids it leased.
func leaseIDs(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, classify(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return ids, nil
}

// anys is ids as query arguments.
func anys(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
