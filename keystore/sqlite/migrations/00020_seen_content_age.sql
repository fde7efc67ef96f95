-- seen_content is bounded by age and count per source (PurgeSeen, run by
-- each source's runner): this index makes both cuts an index scan.

-- +goose Up
CREATE INDEX seen_content_source_seen_at ON seen_content (source, seen_at);

-- +goose Down
DROP INDEX seen_content_source_seen_at;
