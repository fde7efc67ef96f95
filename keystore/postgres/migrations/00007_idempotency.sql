-- Idempotent POSTs: the Idempotency-Key value is kept only as a hash, the
-- answer only sealed under a key derived from the value.

-- +goose Up
CREATE TABLE idempotency_keys (
    key_hash   text COLLATE "C" PRIMARY KEY,
    account_id text COLLATE "C" NOT NULL,
    method     text NOT NULL,
    path       text NOT NULL,
    body_hash  text NOT NULL,
    created_at timestamptz NOT NULL,
    status     integer NOT NULL DEFAULT 0, -- 0 while in progress
    answer     bytea
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
