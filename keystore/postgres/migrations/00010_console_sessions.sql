-- The owner console's sign-in links and sessions: hashes of their tokens only.

-- +goose Up
CREATE TABLE console_login_links (
    hash       text COLLATE "C" PRIMARY KEY,
    account_id text COLLATE "C" NOT NULL REFERENCES accounts (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX console_login_links_expires ON console_login_links (expires_at);

CREATE TABLE console_sessions (
    hash         text COLLATE "C" PRIMARY KEY,
    account_id   text COLLATE "C" NOT NULL REFERENCES accounts (id),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

CREATE INDEX accounts_email ON accounts (lower(email));

-- +goose Down
DROP INDEX accounts_email;
DROP TABLE console_sessions;
DROP TABLE console_login_links;
