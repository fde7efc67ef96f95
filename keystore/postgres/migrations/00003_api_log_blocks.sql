-- API log entries are stored in blocks (package keystore/logblock): one row
-- per key and flush instead of one row per request, so that logging every
-- call costs the database little. api_key_ips keeps each key's addresses
-- with their first and last use, which leak notices ask for ("new IPs").
-- Rows of the old api_logs table are moved by the Go migration 4.

-- +goose Up
CREATE TABLE api_log_blocks (
    id         text COLLATE "C" PRIMARY KEY, -- the first entry's id
    account_id text COLLATE "C" NOT NULL,
    key_id     text COLLATE "C" NOT NULL,
    last_id    text COLLATE "C" NOT NULL,
    first_at   timestamptz NOT NULL,
    last_at    timestamptz NOT NULL,
    entries    integer NOT NULL,
    data       bytea NOT NULL
);
-- The codec compresses; PostgreSQL need not try again.
ALTER TABLE api_log_blocks ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX api_log_blocks_account ON api_log_blocks (account_id, last_id);
CREATE INDEX api_log_blocks_key ON api_log_blocks (key_id, last_id);
CREATE INDEX api_log_blocks_key_at ON api_log_blocks (key_id, last_at);
CREATE INDEX api_log_blocks_at ON api_log_blocks (last_at);

CREATE TABLE api_key_ips (
    key_id   text COLLATE "C" NOT NULL,
    ip       text COLLATE "C" NOT NULL,
    first_at timestamptz NOT NULL,
    last_at  timestamptz NOT NULL,
    PRIMARY KEY (key_id, ip)
);
CREATE INDEX api_key_ips_last ON api_key_ips (last_at);

-- +goose Down
DROP TABLE api_key_ips;
DROP TABLE api_log_blocks;
