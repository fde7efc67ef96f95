package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/logblock"
)

// InsertAPILogs stores entries as blocks: one row per key (and at most
// logblock.MaxEntries entries) in api_log_blocks, plus the first and last
// use of each key from each address in api_key_ips. A batch is cut into
// blocks the same way whatever its order, and a block's id is its first
// entry's, so a batch retried unchanged after an unclear failure stores
// nothing twice. One statement, so one transaction.
func (s *Store) InsertAPILogs(ctx context.Context, entries []keystore.APILogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("insert %d api logs: %w", len(entries), err)
	}
	clean := entries
	for i := range entries {
		if e := &entries[i]; !isText(e.Method) || !isText(e.Path) || !isText(e.IP) || !isText(e.UserAgent) ||
			!isText(e.RequestID) || !isText(e.Reason) {
			clean = sanitized(entries)
			break
		}
	}
	args := insertLogsArgs(s.codec, clean)
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		_, err = s.pool.Exec(ctx, insertLogsSQL, args...)
		if !isRetryable(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("insert %d api logs: %w", len(entries), classify(err))
	}
	return nil
}

// insertLogsSQL stores blocks and upserts the key addresses they show.
const insertLogsSQL = `WITH blocks AS (
	INSERT INTO api_log_blocks (id, account_id, key_id, last_id, first_at, last_at, entries, data)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
		$6::timestamptz[], $7::int[], $8::bytea[])
	ON CONFLICT (id) DO NOTHING)
INSERT INTO api_key_ips AS k (key_id, ip, first_at, last_at)
SELECT * FROM unnest($9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[])
ON CONFLICT (key_id, ip) DO UPDATE SET first_at = least(k.first_at, excluded.first_at),
	last_at = greatest(k.last_at, excluded.last_at)
WHERE excluded.first_at < k.first_at OR excluded.last_at > k.last_at`

// insertLogsArgs are insertLogsSQL's arguments for entries (with IDs).
func insertLogsArgs(codec *logblock.Codec, entries []keystore.APILogEntry) []any {
	blocks := codec.Split(entries)
	n := len(blocks)
	ids, accts, keys, lastIDs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	firstAts, lastAts := make([]time.Time, n), make([]time.Time, n)
	counts := make([]int32, n)
	data := make([][]byte, n)
	for i, b := range blocks {
		ids[i], accts[i], keys[i], lastIDs[i] = b.FirstID, b.AccountID, b.KeyID, b.LastID
		firstAts[i], lastAts[i], counts[i], data[i] = b.FirstAt, b.LastAt, int32(b.Entries), b.Data
	}
	ips := keyIPs(entries)
	return []any{ids, accts, keys, lastIDs, firstAts, lastAts, counts, data, ips.keys, ips.ips, ips.first, ips.last}
}

// sanitized is entries with their text fields made valid UTF-8 without NUL,
// as the rest of the store keeps text.
func sanitized(entries []keystore.APILogEntry) []keystore.APILogEntry {
	out := make([]keystore.APILogEntry, len(entries))
	for i, e := range entries {
		e.Method, e.Path, e.IP, e.UserAgent, e.RequestID, e.Reason = text(e.Method), text(e.Path), text(e.IP),
			text(e.UserAgent), text(e.RequestID), text(e.Reason)
		out[i] = e
	}
	return out
}

// keyIPColumns are the distinct (key, address) pairs of a batch with their
// first and last use, sorted so concurrent batches lock rows in one order.
type keyIPColumns struct {
	keys, ips   []string
	first, last []time.Time
}

func keyIPs(entries []keystore.APILogEntry) keyIPColumns {
	type pair struct{ key, ip string }
	type span struct{ first, last time.Time }
	seen := make(map[pair]span, 4)
	for _, e := range entries {
		p := pair{e.KeyID, e.IP}
		sp, ok := seen[p]
		if !ok {
			seen[p] = span{e.Time, e.Time}
			continue
		}
		if e.Time.Before(sp.first) {
			sp.first = e.Time
		}
		if e.Time.After(sp.last) {
			sp.last = e.Time
		}
		seen[p] = sp
	}
	pairs := make([]pair, 0, len(seen))
	for p := range seen {
		pairs = append(pairs, p)
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		return cmp.Or(strings.Compare(a.key, b.key), strings.Compare(a.ip, b.ip))
	})
	var c keyIPColumns
	for _, p := range pairs {
		c.keys, c.ips = append(c.keys, p.key), append(c.ips, p.ip)
		c.first, c.last = append(c.first, seen[p].first), append(c.last, seen[p].last)
	}
	return c
}

// blockPage is how many blocks one query of ListAPILogs reads.
const blockPage = 16

// ListAPILogs lists an account's API calls, newest first. Blocks are read
// newest last entry first; one block may hold entries older than the next
// block's, so reading stops only when the next block's newest entry is older
// than the page's oldest.
func (s *Store) ListAPILogs(ctx context.Context, accountID string, f keystore.LogFilter) ([]keystore.APILogEntry, error) {
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("list api logs of %s: %w", accountID, err)
	}
	size := f.Page.Size()
	var since, until *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	if !f.Until.IsZero() {
		until = &f.Until
	}
	out := []keystore.APILogEntry{}
	var afterLast, afterID string // keyset cursor over blocks
	for {
		rows, err := s.pool.Query(ctx, `SELECT id, key_id, last_id, data FROM api_log_blocks
			WHERE account_id = $1 AND ($2 = '' OR key_id = $2) AND ($3::timestamptz IS NULL OR last_at >= $3)
				AND ($4 = '' OR id < $4) AND ($5 = '' OR (last_id, id) < ($5, $6))
				AND ($8::timestamptz IS NULL OR first_at < $8)
				AND ($9 = '' OR key_id IN (SELECT id FROM api_keys WHERE account_id = $1 AND mode = $9))
			ORDER BY last_id DESC, id DESC LIMIT $7`,
			accountID, f.KeyID, since, f.Page.StartingAfter, afterLast, afterID, blockPage, until, string(f.Mode))
		if err != nil {
			return nil, fmt.Errorf("list api logs of %s: %w", accountID, classify(err))
		}
		n, done := 0, false
		for rows.Next() {
			var id, keyID, lastID string
			var data []byte
			if err := rows.Scan(&id, &keyID, &lastID, &data); err != nil {
				rows.Close()
				return nil, fmt.Errorf("list api logs of %s: %w", accountID, classify(err))
			}
			n++
			afterLast, afterID = lastID, id
			if len(out) >= size && lastID < out[size-1].ID {
				done = true
				break
			}
			entries, err := s.codec.Decode(data, accountID, keyID)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("list api logs of %s: block %s: %w", accountID, id, err)
			}
			for _, e := range entries {
				if f.Match(&e) {
					out = append(out, e)
				}
			}
			slices.SortFunc(out, func(a, b keystore.APILogEntry) int { return strings.Compare(b.ID, a.ID) })
			out = out[:min(len(out), size)]
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("list api logs of %s: %w", accountID, classify(err))
		}
		if done || n < blockPage {
			return out, nil
		}
	}
}

// purgeChunk blocks are deleted per statement: short transactions, no long
// row locks, and vacuum keeps up.
const purgeChunk = 1000

// PurgeAPILogs deletes entries older than before and reports how many:
// whole blocks where every entry is older, and the old entries of a block
// that straddles before (rewritten in place).
func (s *Store) PurgeAPILogs(ctx context.Context, before time.Time) (int64, error) {
	if err := s.check(); err != nil {
		return 0, fmt.Errorf("purge api logs before %s: %w", before.Format(time.RFC3339), err)
	}
	fail := func(err error) error {
		return fmt.Errorf("purge api logs before %s: %w", before.Format(time.RFC3339), classify(err))
	}
	var total int64
	for {
		var n, entries int64
		err := s.pool.QueryRow(ctx, `WITH gone AS (DELETE FROM api_log_blocks WHERE id IN (
				SELECT id FROM api_log_blocks WHERE last_at < $1 LIMIT $2) RETURNING entries)
			SELECT count(*), coalesce(sum(entries), 0) FROM gone`, before, purgeChunk).Scan(&n, &entries)
		if err != nil {
			return total, fail(err)
		}
		total += entries
		if n < purgeChunk {
			break
		}
	}
	for {
		n, err := s.trimBlock(ctx, before)
		if err != nil {
			return total, fail(err)
		}
		if n < 0 {
			break
		}
		total += n
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM api_key_ips WHERE last_at < $1`, before); err != nil {
		return total, fail(err)
	}
	return total, nil
}

// trimBlock drops the entries older than before from one block that also
// holds newer ones, and reports how many it dropped; -1 when no such block
// is left.
func (s *Store) trimBlock(ctx context.Context, before time.Time) (int64, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var id, accountID, keyID string
	var data []byte
	err = tx.QueryRow(ctx, `SELECT id, account_id, key_id, data FROM api_log_blocks
		WHERE first_at < $1 AND last_at >= $1 LIMIT 1 FOR UPDATE SKIP LOCKED`, before).Scan(&id, &accountID, &keyID, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return -1, nil
	}
	if err != nil {
		return 0, err
	}
	entries, err := s.codec.Decode(data, accountID, keyID)
	if err != nil {
		return 0, fmt.Errorf("block %s: %w", id, err)
	}
	keep := slices.DeleteFunc(entries, func(e keystore.APILogEntry) bool { return e.Time.Before(before) })
	dropped := int64(len(entries) - len(keep))
	if _, err := tx.Exec(ctx, `DELETE FROM api_log_blocks WHERE id = $1`, id); err != nil {
		return 0, err
	}
	if len(keep) > 0 {
		if _, err := tx.Exec(ctx, insertLogsSQL, insertLogsArgs(s.codec, keep)...); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return dropped, nil
}

// KeyActivity reads the key's blocks in the query's window (newest first,
// bounded) into a keystore.ActivityBuilder, and its addresses from
// api_key_ips, which keeps each address's first use while the address
// keeps using the key.
func (s *Store) KeyActivity(ctx context.Context, keyID string, q keystore.ActivityQuery) (keystore.Activity, error) {
	b := keystore.NewActivityBuilder(q)
	fail := func(err error) (keystore.Activity, error) {
		return keystore.Activity{}, fmt.Errorf("key activity of %s: %w", keyID, classify(err))
	}
	if err := s.check(); err != nil {
		return fail(err)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, account_id, data FROM api_log_blocks
		WHERE key_id = $1 AND last_at >= $2 AND first_at <= $3 ORDER BY last_id DESC`, keyID, q.From(), q.End())
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for more := true; more && rows.Next(); {
		var id, accountID string
		var data []byte
		if err := rows.Scan(&id, &accountID, &data); err != nil {
			return fail(err)
		}
		entries, err := s.codec.Decode(data, accountID, keyID)
		if err != nil {
			return keystore.Activity{}, fmt.Errorf("key activity of %s: block %s: %w", keyID, id, err)
		}
		for i := len(entries) - 1; i >= 0 && more; i-- {
			more = b.Add(&entries[i])
		}
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	rows.Close()
	var ips []string
	var first *time.Time
	err = s.pool.QueryRow(ctx, `SELECT
			coalesce((SELECT array_agg(ip ORDER BY ip) FROM (
				SELECT ip FROM api_key_ips WHERE key_id = $1 AND ip <> '' AND first_at >= $2
				ORDER BY ip LIMIT $3) n), '{}'),
			(SELECT min(first_at) FROM api_key_ips WHERE key_id = $1)`,
		keyID, q.From(), keystore.MaxNewIPs).Scan(&ips, &first)
	if err != nil {
		return fail(err)
	}
	b.SetAddresses(ips, utc(first))
	return b.Activity(), nil
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

// purgeSeenBatch bounds the rows one DELETE of PurgeSeen removes, so a
// large purge is many short transactions, not one long lock.
const purgeSeenBatch = 10_000

// PurgeSeen implements keystore.SeenPurger.
func (s *Store) PurgeSeen(ctx context.Context, source string, before time.Time, keep int) (int64, error) {
	if err := s.check(); err != nil {
		return 0, fmt.Errorf("purge seen content of %s: %w", source, err)
	}
	offset := any(nil) // no count bound: OFFSET NULL selects nothing extra
	if keep > 0 {
		offset = keep
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM seen_content s USING (
				(SELECT content_id FROM seen_content WHERE source = $1 AND seen_at < $2 LIMIT $4)
				UNION
				(SELECT content_id FROM seen_content WHERE source = $1 AND $3::bigint IS NOT NULL
					ORDER BY seen_at DESC, content_id OFFSET coalesce($3::bigint, 0) LIMIT $4)
			) d
			WHERE s.source = $1 AND s.content_id = d.content_id`, source, before, offset, purgeSeenBatch)
		if err != nil {
			return total, fmt.Errorf("purge seen content of %s: %w", source, classify(err))
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < purgeSeenBatch {
			return total, nil
		}
	}
}
