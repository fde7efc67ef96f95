-- The owner console's sign-in links and sessions: hashes of their tokens only.

-- +goose Up
CREATE TABLE console_login_links (
    hash       TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX console_login_links_expires ON console_login_links (expires_at);

CREATE TABLE console_sessions (
    hash         TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

CREATE INDEX accounts_email ON accounts (lower(email));

-- +goose Down
DROP INDEX accounts_email;
DROP TABLE console_sessions;
DROP TABLE console_login_links;
