package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leakguard/leakguard/keystore"
)

var logCols = []string{"id", "account_id", "key_id", "at", "method", "path", "status", "ip", "user_agent", "request_id"}

// InsertAPILogs stores entries with COPY. If some were already stored (a
// retried batch), it falls back to an INSERT that skips them.
func (s *Store) InsertAPILogs(ctx context.Context, entries []keystore.APILogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("insert %d api logs: %w", len(entries), err)
	}
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"api_logs"}, logCols,
		pgx.CopyFromSlice(len(entries), func(i int) ([]any, error) {
			e := entries[i]
			return []any{e.ID, e.AccountID, e.KeyID, e.Time, text(e.Method), text(e.Path), int32(e.Status),
				text(e.IP), text(e.UserAgent), text(e.RequestID)}, nil
		}))
	if errors.Is(classify(err), keystore.ErrConflict) {
		err = s.insertAPILogsSkippingDuplicates(ctx, entries)
	}
	if err != nil {
		return fmt.Errorf("insert %d api logs: %w", len(entries), classify(err))
	}
	return nil
}

func (s *Store) insertAPILogsSkippingDuplicates(ctx context.Context, entries []keystore.APILogEntry) error {
	n := len(entries)
	ids, accts, keys, methods, paths, ips, uas, reqs := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ats := make([]time.Time, n)
	statuses := make([]int32, n)
	for i, e := range entries {
		ids[i], accts[i], keys[i], ats[i], methods[i], paths[i], statuses[i], ips[i], uas[i], reqs[i] =
			e.ID, e.AccountID, e.KeyID, e.Time, text(e.Method), text(e.Path), int32(e.Status), text(e.IP),
			text(e.UserAgent), text(e.RequestID)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO api_logs (id, account_id, key_id, at, method, path, status, ip,
		user_agent, request_id)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
			$7::int[], $8::text[], $9::text[], $10::text[])
		ON CONFLICT (id) DO NOTHING`, ids, accts, keys, ats, methods, paths, statuses, ips, uas, reqs)
	return err
}

// ListAPILogs lists an account's API calls, newest first.
func (s *Store) ListAPILogs(ctx context.Context, accountID string, f keystore.LogFilter) ([]keystore.APILogEntry, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("list api logs of %s: %w", accountID, err)
	}
	var since *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	rows, err := s.pool.Query(ctx, `SELECT id, account_id, key_id, at, method, path, status, ip, user_agent,
		request_id FROM api_logs
		WHERE account_id = $1 AND ($2 = '' OR key_id = $2) AND ($3::timestamptz IS NULL OR at >= $3)
			AND ($4 = '' OR id < $4)
		ORDER BY id DESC LIMIT $5`, accountID, f.KeyID, since, f.Page.StartingAfter, f.Page.Size())
	if err != nil {
		return nil, fmt.Errorf("list api logs of %s: %w", accountID, classify(err))
	}
	defer rows.Close()
	out := []keystore.APILogEntry{}
	for rows.Next() {
		var e keystore.APILogEntry
		var status int32
		if err := rows.Scan(&e.ID, &e.AccountID, &e.KeyID, &e.Time, &e.Method, &e.Path, &status, &e.IP,
			&e.UserAgent, &e.RequestID); err != nil {
			return nil, fmt.Errorf("list api logs of %s: %w", accountID, classify(err))
		}
		e.Status = int(status)
		e.Time = e.Time.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api logs of %s: %w", accountID, classify(err))
	}
	return out, nil
}

// purgeChunk rows are deleted per statement: short transactions, no long
// row locks, and vacuum keeps up.
const purgeChunk = 1000

// PurgeAPILogs deletes entries older than before and reports how many.
func (s *Store) PurgeAPILogs(ctx context.Context, before time.Time) (int64, error) {
	if err := s.check(); err != nil {
		return 0, fmt.Errorf("purge api logs before %s: %w", before.Format(time.RFC3339), err)
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM api_logs WHERE id IN (
			SELECT id FROM api_logs WHERE at < $1 LIMIT $2)`, before, purgeChunk)
		if err != nil {
			return total, fmt.Errorf("purge api logs before %s: %w", before.Format(time.RFC3339), classify(err))
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < purgeChunk {
			return total, nil
		}
	}
}

// maxNewIPs bounds Activity.NewIPs (a notice lists them).
const maxNewIPs = 100

// KeyActivity counts the key's requests since since and the addresses that
// first used it then.
func (s *Store) KeyActivity(ctx context.Context, keyID string, since time.Time) (keystore.Activity, error) {
	a := keystore.Activity{NewIPs: []string{}}
	if err := s.check(); err != nil {
		return a, fmt.Errorf("key activity of %s: %w", keyID, err)
	}
	err := s.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM api_logs WHERE key_id = $1 AND at >= $2),
			coalesce((SELECT array_agg(ip ORDER BY ip) FROM (
				SELECT ip FROM api_logs WHERE key_id = $1 AND ip <> ''
				GROUP BY ip HAVING min(at) >= $2 ORDER BY ip LIMIT $3) n), '{}')`,
		keyID, since, maxNewIPs).Scan(&a.Requests, &a.NewIPs)
	if err != nil {
		return a, fmt.Errorf("key activity of %s: %w", keyID, classify(err))
	}
	return a, nil
}

// GetCursor returns the source's cursor, "" if none was set.
func (s *Store) GetCursor(ctx context.Context, source string) (string, error) {
	if err := s.check(); err != nil {
		return "", fmt.Errorf("get cursor of %s: %w", source, err)
	}
	var c string
	err := s.pool.QueryRow(ctx, `SELECT cursor FROM source_cursors WHERE source = $1`, source).Scan(&c)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get cursor of %s: %w", source, classify(err))
	}
	return c, nil
}

// SetCursor stores the source's cursor.
func (s *Store) SetCursor(ctx context.Context, source, cursor string) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("set cursor of %s: %w", source, err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO source_cursors (source, cursor, updated_at) VALUES ($1, $2, now())
		ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
		source, cursor)
	if err != nil {
		return fmt.Errorf("set cursor of %s: %w", source, classify(err))
	}
	return nil
}

// MarkSeen records contentID for source and reports whether it was new.
func (s *Store) MarkSeen(ctx context.Context, source, contentID string) (bool, error) {
	if err := s.check(); err != nil {
		return false, fmt.Errorf("mark %s %s seen: %w", source, contentID, err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO seen_content (source, content_id, seen_at) VALUES ($1, $2, now())
		ON CONFLICT DO NOTHING`, source, contentID)
	if err != nil {
		return false, fmt.Errorf("mark %s %s seen: %w", source, contentID, classify(err))
	}
	return tag.RowsAffected() == 1, nil
}
