-- The revoke decision moved to Go (keystore.DecideExposure), which both
-- stores share; the store only locks and writes. The stored function that
-- decided in SQL is gone.

-- +goose Up
DROP FUNCTION IF EXISTS leakguard_record_exposure;

-- +goose Down
-- Migration 00002 created the function; going back below 00005 needs it
-- again, which this migration does not restore.
SELECT 1;
