CREATE TABLE users (
  id bigserial PRIMARY KEY,
  email text NOT NULL,
  password_hash text NOT NULL,
  api_key_prefix text,
  token_digest bytea
);
-- password_hash: bcrypt, token_digest: sha256 of the token
