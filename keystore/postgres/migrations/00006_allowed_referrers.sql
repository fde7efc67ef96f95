-- Publishable keys may be limited to some origins. (API log reasons and
-- summary counts live inside the blocks: see keystore/logblock.)

-- +goose Up
ALTER TABLE api_keys ADD COLUMN allowed_referrers text[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE api_keys DROP COLUMN allowed_referrers;
