-- Webhook endpoints and their deliveries (docs/api.md, "Webhooks"). A
-- trigger on incidents creates one delivery per endpoint of the account in
-- the transaction that opens the incident: no leak goes without its events
-- and none gets them twice. The secret is kept as it is: signing needs it.

-- +goose Up
CREATE TABLE webhook_endpoints (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    url         TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    secret      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id, id);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    incident_id     TEXT NOT NULL REFERENCES incidents (id),
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL DEFAULT 'pending',
    last_attempt_at INTEGER,
    delivered_at    INTEGER,
    response_status INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    UNIQUE (endpoint_id, incident_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);

-- +goose StatementBegin
CREATE TRIGGER webhook_fanout AFTER INSERT ON incidents WHEN NEW.action <> 'publishable'
BEGIN
    INSERT INTO webhook_deliveries (id, endpoint_id, incident_id, created_at, next_attempt_at)
    SELECT 'whd_' || lower(hex(randomblob(10))), e.id, NEW.id,
           CAST(unixepoch('subsec') * 1000000000 AS INTEGER),
           CAST(unixepoch('subsec') * 1000000000 AS INTEGER)
      FROM webhook_endpoints e WHERE e.account_id = NEW.account_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER webhook_fanout;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
