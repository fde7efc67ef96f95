-- Webhook endpoints and their deliveries (docs/api.md, "Webhooks"). A
-- trigger on incidents creates one delivery per endpoint of the account in
-- the transaction that opens the incident: no leak goes without its events
-- and none gets them twice. The secret is kept as it is: signing needs it.

-- +goose Up
CREATE TABLE webhook_endpoints (
    id          text COLLATE "C" PRIMARY KEY,
    account_id  text COLLATE "C" NOT NULL REFERENCES accounts (id),
    url         text NOT NULL,
    description text NOT NULL DEFAULT '',
    secret      text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id, id);

CREATE TABLE webhook_deliveries (
    id              text COLLATE "C" PRIMARY KEY,
    endpoint_id     text COLLATE "C" NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    incident_id     text COLLATE "C" NOT NULL REFERENCES incidents (id),
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    status          text NOT NULL DEFAULT 'pending',
    last_attempt_at timestamptz,
    delivered_at    timestamptz,
    response_status integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    UNIQUE (endpoint_id, incident_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);

-- +goose StatementBegin
CREATE FUNCTION leakguard_webhook_fanout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.action <> 'publishable' THEN
        INSERT INTO webhook_deliveries (id, endpoint_id, incident_id, created_at, next_attempt_at)
        SELECT 'whd_' || replace(gen_random_uuid()::text, '-', ''), e.id, NEW.id, now(), now()
          FROM webhook_endpoints e WHERE e.account_id = NEW.account_id;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER webhook_fanout AFTER INSERT ON incidents
    FOR EACH ROW EXECUTE FUNCTION leakguard_webhook_fanout();

-- +goose Down
DROP TRIGGER webhook_fanout ON incidents;
DROP FUNCTION leakguard_webhook_fanout;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
