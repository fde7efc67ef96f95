package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" driver, for a connection of its own

	"github.com/leakguard/leakguard/keystore/logblock"
)

// DumpSQLite renders every row of every table of the SQLite database at
// path, read through a connection of its own.
func DumpSQLite(ctx context.Context, path string) (map[string][]string, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		return nil, err
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string][]string{}
	for _, tbl := range tables {
		rs, err := db.QueryContext(ctx, `SELECT * FROM "`+tbl+`"`)
		if err != nil {
			return nil, err
		}
		cols, _ := rs.Columns()
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				rs.Close()
				return nil, err
			}
			var b strings.Builder
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%s=%v ", cols[i], v)
			}
			out[tbl] = append(out[tbl], b.String())
		}
		rs.Close()
	}
	return out, nil
}

// DumpPostgres renders every row of every table of the schema url selects,
// with API log blocks decoded, read through a connection of its own.
func DumpPostgres(ctx context.Context, url string) (map[string][]string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		return nil, err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	codec, err := logblock.NewCodec()
	if err != nil {
		return nil, err
	}
	defer codec.Close()
	for _, tbl := range tables {
		if tbl == "api_log_blocks" {
			// Blocks are compressed: look at what they hold.
			rows, err := conn.Query(ctx, `SELECT account_id, key_id, data FROM api_log_blocks`)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var account, key string
				var data []byte
				if err := rows.Scan(&account, &key, &data); err != nil {
					return nil, err
				}
				entries, err := codec.Decode(data, account, key)
				if err != nil {
					return nil, err
				}
				for _, e := range entries {
					out[tbl] = append(out[tbl], fmt.Sprintf("%+v", e))
				}
			}
			if err := rows.Err(); err != nil {
				return nil, err
			}
			continue
		}
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{tbl}.Sanitize()+` t`)
		if err != nil {
			return nil, err
		}
		rs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		out[tbl] = rs
	}
	return out, nil
}
