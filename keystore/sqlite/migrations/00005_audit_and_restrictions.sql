-- API log entries say why a request was refused, and a summary entry
-- counts the refusals past a per-key rate; publishable keys may be limited
-- to some origins.

-- +goose Up
ALTER TABLE api_logs ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE api_logs ADD COLUMN count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN allowed_referrers TEXT NOT NULL DEFAULT '[]';
CREATE INDEX api_logs_account_at ON api_logs (account_id, at);

-- +goose Down
DROP INDEX api_logs_account_at;
ALTER TABLE api_keys DROP COLUMN allowed_referrers;
ALTER TABLE api_logs DROP COLUMN count;
ALTER TABLE api_logs DROP COLUMN reason;
