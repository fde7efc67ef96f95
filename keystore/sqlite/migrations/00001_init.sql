-- Times are UTC unix nanoseconds (INTEGER): exact, and they sort.

-- +goose Up
CREATE TABLE accounts (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    mode           TEXT NOT NULL,
    webhook_url    TEXT NOT NULL DEFAULT '',
    webhook_secret TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL
);

-- No plaintext column: the hash, the prefix and the last 4 characters only.
CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    name           TEXT NOT NULL DEFAULT '',
    type           TEXT NOT NULL,
    mode           TEXT NOT NULL,
    scopes         TEXT NOT NULL DEFAULT '[]',
    allowed_ips    TEXT NOT NULL DEFAULT '[]',
    hash           TEXT NOT NULL UNIQUE,
    prefix         TEXT NOT NULL,
    last4          TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    revoked_at     INTEGER,
    revoked_reason TEXT NOT NULL DEFAULT '',
    last_used_at   INTEGER,
    last_used_ip   TEXT NOT NULL DEFAULT '',
    rotated_from   TEXT NOT NULL DEFAULT '',
    -- when revoked_at or expires_at last changed (or the key was created)
    updated_at     INTEGER NOT NULL
);
CREATE INDEX api_keys_account ON api_keys (account_id, id);
CREATE INDEX api_keys_updated ON api_keys (updated_at);

CREATE TABLE api_logs (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    method     TEXT NOT NULL DEFAULT '',
    path       TEXT NOT NULL DEFAULT '',
    status     INTEGER NOT NULL DEFAULT 0,
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX api_logs_account ON api_logs (account_id, id);
CREATE INDEX api_logs_key ON api_logs (key_id, at);
CREATE INDEX api_logs_at ON api_logs (at);

CREATE TABLE incidents (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    key_id        TEXT NOT NULL UNIQUE REFERENCES api_keys (id),
    redacted      TEXT NOT NULL,
    rule          TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL DEFAULT '',
    url           TEXT NOT NULL DEFAULT '',
    repository    TEXT NOT NULL DEFAULT '',
    commit_sha    TEXT NOT NULL DEFAULT '',
    path          TEXT NOT NULL DEFAULT '',
    line          INTEGER NOT NULL DEFAULT 0,
    layer         TEXT NOT NULL DEFAULT '',
    action        TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    revoked_at    INTEGER,
    notified_at   INTEGER,
    sightings     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX incidents_account ON incidents (account_id, id);

-- One row per distinct hit: id is hit.MsgID().
CREATE TABLE sightings (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    rule        TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL DEFAULT '',
    url         TEXT NOT NULL DEFAULT '',
    repository  TEXT NOT NULL DEFAULT '',
    commit_sha  TEXT NOT NULL DEFAULT '',
    path        TEXT NOT NULL DEFAULT '',
    line        INTEGER NOT NULL DEFAULT 0,
    layer       TEXT NOT NULL DEFAULT '',
    found_at    INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX sightings_incident ON sightings (incident_id);

CREATE TABLE notices (
    id              TEXT PRIMARY KEY,
    incident_id     TEXT NOT NULL REFERENCES incidents (id),
    channel         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    sent_at         INTEGER,
    last_error      TEXT NOT NULL DEFAULT '',
    UNIQUE (incident_id, channel)
);
CREATE INDEX notices_due ON notices (next_attempt_at) WHERE sent_at IS NULL;

CREATE TABLE source_cursors (
    source     TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE seen_content (
    source     TEXT NOT NULL,
    content_id TEXT NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (source, content_id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE seen_content;
DROP TABLE source_cursors;
DROP TABLE notices;
DROP TABLE sightings;
DROP TABLE incidents;
DROP TABLE api_logs;
DROP TABLE api_keys;
DROP TABLE accounts;
