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

// RecordExposure applies a hit in one transaction: a batch of one.
func (s *Store) RecordExposure(ctx context.Context, hit leakguard.Hit, at time.Time) (keystore.Exposure, error) {
	out, err := s.recordExposures(ctx, []leakguard.Hit{hit}, at)
	if err != nil {
		return keystore.Exposure{}, fmt.Errorf("record exposure of %s: %w", hit.Redacted, err)
	}
	return out[0], nil
}

// maxBatchAttempts bounds the runs of a batch that lost a serialization or
// deadlock race (which the lock order below should make rare).
const maxBatchAttempts = 3

// RecordExposures applies hits in one transaction, so one commit (one WAL
// flush) serves the whole batch.
func (s *Store) RecordExposures(ctx context.Context, hits []leakguard.Hit, at time.Time) ([]keystore.Exposure, error) {
	if len(hits) == 0 {
		return []keystore.Exposure{}, nil
	}
	out, err := s.recordExposures(ctx, hits, at)
	if err != nil {
		return nil, fmt.Errorf("record %d exposures: %w", len(hits), err)
	}
	return out, nil
}

// Statements of recordExposures. The key rows are locked in hash order, so
// revokers with overlapping batches cannot deadlock. The incidents are read
// by a second statement: under READ COMMITTED each statement takes a fresh
// snapshot, so after a lock wait it sees the incident the lock's previous
// holder committed.
const (
	lockExposedKeysSQL = `SELECT ` + keyCols + `, a.webhook_url FROM api_keys k
		JOIN accounts a ON a.id = k.account_id WHERE k.hash = ANY($1) ORDER BY k.hash FOR UPDATE OF k`
	exposedIncidentsSQL = `SELECT i.key_id, i.id FROM incidents i JOIN api_keys k ON k.id = i.key_id
		WHERE k.hash = ANY($1)`
	insertIncidentSQL = `INSERT INTO incidents (id, account_id, key_id, redacted, rule, source, url, repository,
		commit_sha, path, line, layer, action, first_seen_at, revoked_at, sightings)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0)`
	// A sighting counts once: a replayed hit (same id) changes nothing.
	addSightingSQL = `WITH s AS (INSERT INTO sightings (id, incident_id, rule, source, url, repository,
			commit_sha, path, line, layer, found_at, recorded_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING
		RETURNING incident_id)
	UPDATE incidents SET sightings = sightings + 1 WHERE id IN (SELECT incident_id FROM s)`
	insertNoticeSQL = `INSERT INTO notices (id, incident_id, channel, created_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $4)`
)

// exposedKey is a locked key row and what the batch has done to it so far.
type exposedKey struct {
	key        keystore.Key
	webhook    string
	incidentID string
}

// recordExposures locks the hits' keys and reads their incidents in one
// round trip, lets keystore.DecideExposure decide each hit in order (as if
// they came one by one: the first hit of a key revokes, the next are
// sightings), then sends every write in a second round trip and commits.
func (s *Store) recordExposures(ctx context.Context, hits []leakguard.Hit, at time.Time) ([]keystore.Exposure, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	order := make([]int, len(hits))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(hits[a].SecretSHA256, hits[b].SecretSHA256) })
	hashes := make([]string, 0, len(hits))
	for _, i := range order {
		if h := hits[i].SecretSHA256; len(hashes) == 0 || hashes[len(hashes)-1] != h {
			hashes = append(hashes, h)
		}
	}
	out := make([]keystore.Exposure, len(hits))
	var err error
	for attempt := 1; ; attempt++ {
		err = s.tx(ctx, func(tx pgx.Tx) error {
			keys, err := lockExposedKeys(ctx, tx, hashes)
			if err != nil {
				return err
			}
			var w pgx.Batch
			for _, i := range order {
				out[i] = queueExposure(&w, keys[hits[i].SecretSHA256], hits[i], at)
			}
			if w.Len() == 0 {
				return nil
			}
			return classify(tx.SendBatch(ctx, &w).Close())
		})
		if err == nil || attempt == maxBatchAttempts || !retryable(err) || ctx.Err() != nil {
			break
		}
		s.logger.Debug("exposure batch lost a race, retrying", "hits", len(hits), "attempt", attempt, "err", err)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// lockExposedKeys locks the keys with these hashes and reads their
// incidents (one round trip), by hash.
func lockExposedKeys(ctx context.Context, tx pgx.Tx, hashes []string) (map[string]*exposedKey, error) {
	var b pgx.Batch
	b.Queue(lockExposedKeysSQL, hashes)
	b.Queue(exposedIncidentsSQL, hashes)
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	keys := make(map[string]*exposedKey, len(hashes))
	byID := make(map[string]*exposedKey, len(hashes))
	rows, err := br.Query()
	if err != nil {
		return nil, classify(err)
	}
	for rows.Next() {
		var e exposedKey
		if e.key, err = scanKey(rows, &e.webhook); err != nil {
			rows.Close()
			return nil, classify(err)
		}
		keys[e.key.Hash], byID[e.key.ID] = &e, &e
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	if rows, err = br.Query(); err != nil {
		return nil, classify(err)
	}
	for rows.Next() {
		var keyID, incID string
		if err := rows.Scan(&keyID, &incID); err != nil {
			rows.Close()
			return nil, classify(err)
		}
		if e := byID[keyID]; e != nil {
			e.incidentID = incID
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return keys, classify(br.Close())
}

// queueExposure decides one hit on e (nil: unknown key), queues its writes
// on w and updates e to what the batch will have stored.
func queueExposure(w *pgx.Batch, e *exposedKey, hit leakguard.Hit, at time.Time) keystore.Exposure {
	if e == nil {
		return keystore.Exposure{Outcome: keystore.OutcomeUnknown}
	}
	d := keystore.DecideExposure(&e.key, e.incidentID != "", at)
	exp := keystore.Exposure{Outcome: d.Outcome, KeyID: e.key.ID, AccountID: e.key.AccountID, IncidentID: e.incidentID}
	foundAt := hit.FoundAt
	if foundAt.IsZero() {
		foundAt = at
	}
	msgID := hit.MsgID() // of the hit as reported, before cleaning
	hit = cleanHit(hit)
	l := hit.Location
	if d.Revoke {
		w.Queue(storeKeyStateSQL, storeKeyStateArgs(d.Key, at)...)
		e.key = d.Key
	}
	if d.NewIncident {
		exp.IncidentID = keystore.NewID("inc", at)
		e.incidentID = exp.IncidentID
		w.Queue(insertIncidentSQL, exp.IncidentID, e.key.AccountID, e.key.ID, e.key.Redacted(), hit.Rule,
			hit.Source, l.URL, l.Repository, l.Commit, l.Path, int32(l.Line), l.Layer, string(d.Outcome), foundAt,
			d.IncidentRevokedAt)
	}
	w.Queue(addSightingSQL, msgID, exp.IncidentID, hit.Rule, hit.Source, l.URL, l.Repository, l.Commit, l.Path,
		int32(l.Line), l.Layer, foundAt, at)
	if d.Notify {
		w.Queue(insertNoticeSQL, keystore.NewID("ntc", at), exp.IncidentID, string(keystore.ChannelEmail), at)
		if e.webhook != "" {
			w.Queue(insertNoticeSQL, keystore.NewID("ntc", at), exp.IncidentID, string(keystore.ChannelWebhook), at)
		}
	}
	return exp
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
func (s *Store) ListIncidents(ctx context.Context, accountID string, mode keyformat.Mode, p keystore.Page) ([]keystore.Incident, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("list incidents of %s: %w", accountID, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+incidentCols+` FROM incidents i
		WHERE i.account_id = $1 AND ($2 = '' OR i.id < $2)
			AND ($4 = '' OR i.key_id IN (SELECT id FROM api_keys WHERE account_id = $1 AND mode = $4))
		ORDER BY i.id DESC LIMIT $3`,
		accountID, p.StartingAfter, p.Size(), string(mode))
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
