-- RecordExposure in one round trip: the revoker's whole effect for a hit,
-- run as one statement (so one transaction). Ids are made by the caller.
-- Each statement of a VOLATILE plpgsql function takes a fresh snapshot, so
-- after the row lock is granted the incident lookup sees what the previous
-- holder of the lock committed.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION leakguard_record_exposure(
    p_hash text, p_at timestamptz, p_found_at timestamptz,
    p_incident_id text, p_email_notice_id text, p_webhook_notice_id text, p_sighting_id text,
    p_rule text, p_source text, p_url text, p_repository text, p_commit text, p_path text,
    p_line integer, p_layer text,
    OUT outcome text, OUT key_id text, OUT account_id text, OUT incident_id text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    k record;
    v_revoked timestamptz;
    n integer;
BEGIN
    SELECT ak.id, ak.account_id, ak.type, ak.prefix, ak.last4, ak.expires_at, ak.revoked_at, a.webhook_url
      INTO k
      FROM api_keys ak JOIN accounts a ON a.id = ak.account_id
     WHERE ak.hash = p_hash
       FOR UPDATE OF ak;
    IF NOT FOUND THEN
        outcome := 'unknown';
        RETURN;
    END IF;
    key_id := k.id;
    account_id := k.account_id;

    SELECT i.id INTO incident_id FROM incidents i WHERE i.key_id = k.id;
    IF FOUND THEN
        outcome := CASE WHEN k.type = 'publishable' THEN 'publishable' ELSE 'sighting' END;
        INSERT INTO sightings (id, incident_id, rule, source, url, repository, commit_sha, path, line, layer,
                               found_at, recorded_at)
        VALUES (p_sighting_id, incident_id, p_rule, p_source, p_url, p_repository, p_commit, p_path, p_line,
                p_layer, p_found_at, p_at)
        ON CONFLICT (id) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n > 0 THEN
            UPDATE incidents SET sightings = sightings + 1 WHERE id = incident_id;
        END IF;
        RETURN;
    END IF;

    IF k.type = 'publishable' THEN
        outcome := 'publishable';
    ELSIF k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > p_at) THEN
        outcome := 'revoked';
        v_revoked := p_at;
        UPDATE api_keys SET revoked_at = p_at, revoked_reason = 'exposed', updated_at = p_at WHERE id = k.id;
    ELSE
        outcome := 'inactive';
        v_revoked := k.revoked_at;
    END IF;
    incident_id := p_incident_id;
    INSERT INTO incidents (id, account_id, key_id, redacted, rule, source, url, repository, commit_sha, path,
                           line, layer, action, first_seen_at, revoked_at, sightings)
    VALUES (p_incident_id, k.account_id, k.id, k.prefix || '…' || k.last4, p_rule, p_source, p_url,
            p_repository, p_commit, p_path, p_line, p_layer, outcome, p_found_at, v_revoked, 1);
    INSERT INTO sightings (id, incident_id, rule, source, url, repository, commit_sha, path, line, layer,
                           found_at, recorded_at)
    VALUES (p_sighting_id, p_incident_id, p_rule, p_source, p_url, p_repository, p_commit, p_path, p_line,
            p_layer, p_found_at, p_at);
    IF outcome <> 'publishable' THEN
        INSERT INTO notices (id, incident_id, channel, created_at, next_attempt_at)
        VALUES (p_email_notice_id, p_incident_id, 'email', p_at, p_at);
        IF k.webhook_url <> '' THEN
            INSERT INTO notices (id, incident_id, channel, created_at, next_attempt_at)
            VALUES (p_webhook_notice_id, p_incident_id, 'webhook', p_at, p_at);
        END IF;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION leakguard_record_exposure;
