package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/logblock"
)

// moveBatch rows of api_logs are read, packed and written at a time.
const moveBatch = 10_000

// logBlocksMigration (version 4) moves the rows of the old per-request
// api_logs table into api_log_blocks and api_key_ips (created by version 3)
// and drops it; down does the reverse. Go, because blocks are packed by
// package logblock.
func logBlocksMigration() *goose.Migration {
	return goose.NewGoMigration(4,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error { return moveLogsToBlocks(ctx, tx) }},
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error { return moveBlocksToLogs(ctx, tx) }})
}

func moveLogsToBlocks(ctx context.Context, tx *sql.Tx) error {
	codec, err := logblock.NewCodec()
	if err != nil {
		return err
	}
	defer codec.Close()
	after := ""
	for {
		rows, err := tx.QueryContext(ctx, `SELECT id, account_id, key_id, at, method, path, status, ip,
			user_agent, request_id FROM api_logs WHERE id > $1 ORDER BY id LIMIT $2`, after, moveBatch)
		if err != nil {
			return fmt.Errorf("read api_logs: %w", err)
		}
		var batch []keystore.APILogEntry
		for rows.Next() {
			var e keystore.APILogEntry
			if err := rows.Scan(&e.ID, &e.AccountID, &e.KeyID, &e.Time, &e.Method, &e.Path, &e.Status, &e.IP,
				&e.UserAgent, &e.RequestID); err != nil {
				rows.Close()
				return fmt.Errorf("read api_logs: %w", err)
			}
			e.Time = e.Time.UTC()
			batch = append(batch, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read api_logs: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		if _, err := tx.ExecContext(ctx, insertLogsSQL, insertLogsArgs(codec, batch)...); err != nil {
			return fmt.Errorf("write %d api log entries as blocks: %w", len(batch), err)
		}
		after = batch[len(batch)-1].ID
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE api_logs`); err != nil {
		return fmt.Errorf("drop api_logs: %w", err)
	}
	return nil
}

func moveBlocksToLogs(ctx context.Context, tx *sql.Tx) error {
	codec, err := logblock.NewCodec()
	if err != nil {
		return err
	}
	defer codec.Close()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE api_logs (
			id         text COLLATE "C" PRIMARY KEY,
			account_id text COLLATE "C" NOT NULL,
			key_id     text COLLATE "C" NOT NULL,
			at         timestamptz NOT NULL,
			method     text NOT NULL DEFAULT '',
			path       text NOT NULL DEFAULT '',
			status     integer NOT NULL DEFAULT 0,
			ip         text NOT NULL DEFAULT '',
			user_agent text NOT NULL DEFAULT '',
			request_id text NOT NULL DEFAULT '');
		CREATE INDEX api_logs_account ON api_logs (account_id, id);
		CREATE INDEX api_logs_key ON api_logs (key_id, at);
		CREATE INDEX api_logs_at ON api_logs (at)`); err != nil {
		return fmt.Errorf("create api_logs: %w", err)
	}
	after := ""
	for {
		var ids, accounts, keys []string
		var blobs [][]byte
		rows, err := tx.QueryContext(ctx, `SELECT id, account_id, key_id, data FROM api_log_blocks
			WHERE id > $1 ORDER BY id LIMIT 100`, after)
		if err != nil {
			return fmt.Errorf("read api_log_blocks: %w", err)
		}
		for rows.Next() {
			var id, account, key string
			var data []byte
			if err := rows.Scan(&id, &account, &key, &data); err != nil {
				rows.Close()
				return fmt.Errorf("read api_log_blocks: %w", err)
			}
			ids, accounts, keys, blobs = append(ids, id), append(accounts, account), append(keys, key), append(blobs, data)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read api_log_blocks: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		for i := range ids {
			entries, err := codec.Decode(blobs[i], accounts[i], keys[i])
			if err != nil {
				return fmt.Errorf("block %s: %w", ids[i], err)
			}
			if err := insertLogRows(ctx, tx, entries); err != nil {
				return fmt.Errorf("block %s: %w", ids[i], err)
			}
		}
		after = ids[len(ids)-1]
	}
}

func insertLogRows(ctx context.Context, tx *sql.Tx, entries []keystore.APILogEntry) error {
	n := len(entries)
	ids, accts, keys, methods, paths, ips, uas, reqs := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ats := make([]time.Time, n)
	statuses := make([]int32, n)
	for i, e := range entries {
		ids[i], accts[i], keys[i], ats[i], methods[i], paths[i], statuses[i], ips[i], uas[i], reqs[i] =
			e.ID, e.AccountID, e.KeyID, e.Time, e.Method, e.Path, int32(e.Status), e.IP, e.UserAgent, e.RequestID
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO api_logs (id, account_id, key_id, at, method, path, status, ip,
		user_agent, request_id)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
			$7::int[], $8::text[], $9::text[], $10::text[])
		ON CONFLICT (id) DO NOTHING`, ids, accts, keys, ats, methods, paths, statuses, ips, uas, reqs)
	return err
}
