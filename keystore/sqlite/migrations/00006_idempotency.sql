-- Idempotent POSTs: the Idempotency-Key value is kept only as a hash, the
-- answer only sealed under a key derived from the value.

-- +goose Up
CREATE TABLE idempotency_keys (
    key_hash   TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    body_hash  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    status     INTEGER NOT NULL DEFAULT 0, -- 0 while in progress
    answer     BLOB
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
