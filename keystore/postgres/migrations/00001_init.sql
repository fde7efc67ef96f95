-- Ids are compared byte-wise (COLLATE "C"): they sort by creation time only
-- under a binary collation.

-- +goose Up
CREATE TABLE accounts (
    id             text COLLATE "C" PRIMARY KEY,
    email          text NOT NULL,
    mode           text NOT NULL,
    webhook_url    text NOT NULL DEFAULT '',
    webhook_secret text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL
);

-- No plaintext column: the hash, the prefix and the last 4 characters only.
CREATE TABLE api_keys (
    id             text COLLATE "C" PRIMARY KEY,
    account_id     text COLLATE "C" NOT NULL REFERENCES accounts (id),
    name           text NOT NULL DEFAULT '',
    type           text NOT NULL,
    mode           text NOT NULL,
    scopes         text[] NOT NULL DEFAULT '{}',
    allowed_ips    text[] NOT NULL DEFAULT '{}',
    hash           text COLLATE "C" NOT NULL UNIQUE,
    prefix         text NOT NULL,
    last4          text NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz,
    revoked_at     timestamptz,
    revoked_reason text NOT NULL DEFAULT '',
    last_used_at   timestamptz,
    last_used_ip   text NOT NULL DEFAULT '',
    rotated_from   text NOT NULL DEFAULT '',
    -- when revoked_at or expires_at last changed (or the key was created)
    updated_at     timestamptz NOT NULL
);
CREATE INDEX api_keys_account ON api_keys (account_id, id);
CREATE INDEX api_keys_updated ON api_keys (updated_at);

CREATE TABLE api_logs (
    id         text COLLATE "C" PRIMARY KEY,
    account_id text COLLATE "C" NOT NULL,
    key_id     text COLLATE "C" NOT NULL,
    at         timestamptz NOT NULL,
    method     text NOT NULL DEFAULT '',
    path       text NOT NULL DEFAULT '',
    status     integer NOT NULL DEFAULT 0,
    ip         text NOT NULL DEFAULT '',
    user_agent text NOT NULL DEFAULT '',
    request_id text NOT NULL DEFAULT ''
);
CREATE INDEX api_logs_account ON api_logs (account_id, id);
CREATE INDEX api_logs_key ON api_logs (key_id, at);
CREATE INDEX api_logs_at ON api_logs (at);

CREATE TABLE incidents (
    id            text COLLATE "C" PRIMARY KEY,
    account_id    text COLLATE "C" NOT NULL REFERENCES accounts (id),
    key_id        text COLLATE "C" NOT NULL UNIQUE REFERENCES api_keys (id),
    redacted      text NOT NULL,
    rule          text NOT NULL DEFAULT '',
    source        text NOT NULL DEFAULT '',
    url           text NOT NULL DEFAULT '',
    repository    text NOT NULL DEFAULT '',
    commit_sha    text NOT NULL DEFAULT '',
    path          text NOT NULL DEFAULT '',
    line          integer NOT NULL DEFAULT 0,
    layer         text NOT NULL DEFAULT '',
    action        text NOT NULL,
    first_seen_at timestamptz NOT NULL,
    revoked_at    timestamptz,
    notified_at   timestamptz,
    sightings     integer NOT NULL DEFAULT 0
);
CREATE INDEX incidents_account ON incidents (account_id, id);

-- One row per distinct hit: id is hit.MsgID().
CREATE TABLE sightings (
    id          text COLLATE "C" PRIMARY KEY,
    incident_id text COLLATE "C" NOT NULL REFERENCES incidents (id),
    rule        text NOT NULL DEFAULT '',
    source      text NOT NULL DEFAULT '',
    url         text NOT NULL DEFAULT '',
    repository  text NOT NULL DEFAULT '',
    commit_sha  text NOT NULL DEFAULT '',
    path        text NOT NULL DEFAULT '',
    line        integer NOT NULL DEFAULT 0,
    layer       text NOT NULL DEFAULT '',
    found_at    timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX sightings_incident ON sightings (incident_id);

CREATE TABLE notices (
    id              text COLLATE "C" PRIMARY KEY,
    incident_id     text COLLATE "C" NOT NULL REFERENCES incidents (id),
    channel         text NOT NULL,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    sent_at         timestamptz,
    last_error      text NOT NULL DEFAULT '',
    UNIQUE (incident_id, channel)
);
CREATE INDEX notices_due ON notices (next_attempt_at) WHERE sent_at IS NULL;

CREATE TABLE source_cursors (
    source     text PRIMARY KEY,
    cursor     text NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE seen_content (
    source     text NOT NULL,
    content_id text NOT NULL,
    seen_at    timestamptz NOT NULL,
    PRIMARY KEY (source, content_id)
);

-- +goose Down
DROP TABLE seen_content;
DROP TABLE source_cursors;
DROP TABLE notices;
DROP TABLE sightings;
DROP TABLE incidents;
DROP TABLE api_logs;
DROP TABLE api_keys;
DROP TABLE accounts;
