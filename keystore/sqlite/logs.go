package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/leakguard/leakguard/keystore"
)

// logChunk rows per INSERT keeps a statement well under SQLite's 32766
// bound parameters.
const logChunk = 500

const logCols = `id, account_id, key_id, at, method, path, status, ip, user_agent, request_id, reason, count`

// InsertAPILogs stores entries in one transaction; an entry whose id is
// already stored is skipped, so a retried batch is harmless.
func (s *Store) InsertAPILogs(ctx context.Context, entries []keystore.APILogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(entries); start += logChunk {
			chunk := entries[start:min(start+logChunk, len(entries))]
			var b strings.Builder
			b.WriteString(`INSERT INTO api_logs (` + logCols + `) VALUES `)
			args := make([]any, 0, len(chunk)*12)
			for i, e := range chunk {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?)")
				args = append(args, e.ID, e.AccountID, e.KeyID, tn(e.Time), text(e.Method), text(e.Path),
					e.Status, text(e.IP), text(e.UserAgent), text(e.RequestID), text(e.Reason), e.Count)
			}
			b.WriteString(` ON CONFLICT (id) DO NOTHING`)
			if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
				return classify(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("insert %d api logs: %w", len(entries), err)
	}
	return nil
}

// ListAPILogs lists an account's API calls, newest first.
func (s *Store) ListAPILogs(ctx context.Context, accountID string, f keystore.LogFilter) ([]keystore.APILogEntry, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("list api logs of %s: %w", accountID, err)
	}
	q := `SELECT ` + logCols + ` FROM api_logs WHERE account_id = ?`
	args := []any{accountID}
	if f.Mode != "" {
		q += ` AND key_id IN (SELECT id FROM api_keys WHERE account_id = ? AND mode = ?)`
		args = append(args, accountID, string(f.Mode))
	}
	if f.KeyID != "" {
		q += ` AND key_id = ?`
		args = append(args, f.KeyID)
	}
	if !f.Since.IsZero() {
		q += ` AND at >= ?`
		args = append(args, tn(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND at < ?`
		args = append(args, tn(f.Until))
	}
	if f.IP != "" {
		q += ` AND ip = ?`
		args = append(args, f.IP)
	}
	if f.Status != 0 {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.Page.StartingAfter != "" {
		q += ` AND id < ?`
		args = append(args, f.Page.StartingAfter)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Page.Size())
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list api logs of %s: %w", accountID, classify(err))
	}
	defer rows.Close()
	out := []keystore.APILogEntry{}
	for rows.Next() {
		var e keystore.APILogEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.AccountID, &e.KeyID, &at, &e.Method, &e.Path, &e.Status, &e.IP,
			&e.UserAgent, &e.RequestID, &e.Reason, &e.Count); err != nil {
			return nil, fmt.Errorf("list api logs of %s: %w", accountID, classify(err))
		}
		e.Time = ft(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api logs of %s: %w", accountID, classify(err))
	}
	return out, nil
}

// purgeChunk rows are deleted per transaction, so a big purge never holds
// the write lock long enough to stall the API's log and key writes.
const purgeChunk = 1000

// PurgeAPILogs deletes entries older than before and reports how many.
func (s *Store) PurgeAPILogs(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.tx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM api_logs WHERE rowid IN (
				SELECT rowid FROM api_logs WHERE at < ? LIMIT ?)`, tn(before), purgeChunk)
			if err != nil {
				return classify(err)
			}
			n, err = res.RowsAffected()
			return classify(err)
		})
		if err != nil {
			return total, fmt.Errorf("purge api logs before %s: %w", before.Format(time.RFC3339), err)
		}
		total += n
		if n < purgeChunk {
			return total, nil
		}
	}
}

// endNanos is the query's end as stored times (no end: the largest).
func endNanos(q keystore.ActivityQuery) int64 {
	if q.Until.IsZero() {
		return math.MaxInt64
	}
	return tn(q.Until)
}

// KeyActivity reads the key's entries in the query's window (newest
// first, bounded) and its addresses into a keystore.ActivityBuilder. The
// addresses' first use comes from the log itself, which goes back as far
// as it is kept.
func (s *Store) KeyActivity(ctx context.Context, keyID string, q keystore.ActivityQuery) (keystore.Activity, error) {
	b := keystore.NewActivityBuilder(q)
	fail := func(err error) (keystore.Activity, error) {
		return keystore.Activity{}, fmt.Errorf("key activity of %s: %w", keyID, classify(err))
	}
	if err := s.check(); err != nil {
		return fail(err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT at, method, path, status, reason, count FROM api_logs
		WHERE key_id = ? AND at >= ? AND at <= ? ORDER BY at DESC LIMIT ?`,
		keyID, tn(q.From()), endNanos(q), keystore.MaxActivityEntries+1)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var e keystore.APILogEntry
		var at int64
		if err := rows.Scan(&at, &e.Method, &e.Path, &e.Status, &e.Reason, &e.Count); err != nil {
			return fail(err)
		}
		e.Time = ft(at)
		if !b.Add(&e) {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	rows.Close()
	var ips []string
	ipRows, err := s.r.QueryContext(ctx, `SELECT ip FROM api_logs WHERE key_id = ? AND ip <> ''
		GROUP BY ip HAVING min(at) >= ? ORDER BY ip LIMIT ?`, keyID, tn(q.From()), keystore.MaxNewIPs)
	if err != nil {
		return fail(err)
	}
	defer ipRows.Close()
	for ipRows.Next() {
		var ip string
		if err := ipRows.Scan(&ip); err != nil {
			return fail(err)
		}
		ips = append(ips, ip)
	}
	if err := ipRows.Err(); err != nil {
		return fail(err)
	}
	var first sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT min(at) FROM api_logs WHERE key_id = ?`, keyID).Scan(&first); err != nil {
		return fail(err)
	}
	b.SetAddresses(ips, fnt(first))
	return b.Activity(), nil
}

// GetCursor returns the source's cursor, "" if none was set.
func (s *Store) GetCursor(ctx context.Context, source string) (string, error) {
	if err := s.check(); err != nil {
		return "", fmt.Errorf("get cursor of %s: %w", source, err)
	}
	var c string
	err := s.r.QueryRowContext(ctx, `SELECT cursor FROM source_cursors WHERE source = ?`, source).Scan(&c)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get cursor of %s: %w", source, classify(err))
	}
	return c, nil
}

// SetCursor stores the source's cursor.
func (s *Store) SetCursor(ctx context.Context, source, cursor string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO source_cursors (source, cursor, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
			source, cursor, tn(time.Now()))
		return classify(err)
	})
	if err != nil {
		return fmt.Errorf("set cursor of %s: %w", source, err)
	}
	return nil
}

// MarkSeen records contentID for source and reports whether it was new.
func (s *Store) MarkSeen(ctx context.Context, source, contentID string) (bool, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO seen_content (source, content_id, seen_at) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, source, contentID, tn(time.Now()))
		if err != nil {
			return classify(err)
		}
		n, err = res.RowsAffected()
		return classify(err)
	})
	if err != nil {
		return false, fmt.Errorf("mark %s %s seen: %w", source, contentID, err)
	}
	return n == 1, nil
}

// purgeSeenBatch bounds the rows one DELETE of PurgeSeen removes, so the
// single writer is not held for long.
const purgeSeenBatch = 10_000

// PurgeSeen implements keystore.SeenPurger.
func (s *Store) PurgeSeen(ctx context.Context, source string, before time.Time, keep int) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.tx(ctx, func(tx *sql.Tx) error {
			q := `DELETE FROM seen_content WHERE source = ? AND content_id IN (
				SELECT content_id FROM seen_content WHERE source = ? AND seen_at < ? LIMIT ?)`
			args := []any{source, source, tn(before), purgeSeenBatch}
			if keep > 0 {
				q = `DELETE FROM seen_content WHERE source = ? AND content_id IN (
					SELECT content_id FROM seen_content WHERE source = ? AND seen_at < ?
					UNION
					SELECT content_id FROM (SELECT content_id FROM seen_content WHERE source = ?
						ORDER BY seen_at DESC, content_id LIMIT -1 OFFSET ?)
					LIMIT ?)`
				args = []any{source, source, tn(before), source, keep, purgeSeenBatch}
			}
			res, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return classify(err)
			}
			n, err = res.RowsAffected()
			return classify(err)
		})
		if err != nil {
			return total, fmt.Errorf("purge seen content of %s: %w", source, err)
		}
		total += n
		if n < purgeSeenBatch {
			return total, nil
		}
	}
}
