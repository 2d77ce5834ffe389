-- +goose Up
-- Server-managed signing keys for anonymous guest tokens, one current key
-- per account (retired_at IS NULL); a rotated-out key keeps verifying for
-- one guest-token lifetime after retired_at.
CREATE TABLE token_guest_keys (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid          TEXT NOT NULL UNIQUE,
    account_sid  TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    secret       TEXT NOT NULL,
    retired_at   BIGINT,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);
CREATE UNIQUE INDEX token_guest_keys_current ON token_guest_keys(account_sid) WHERE retired_at IS NULL;

-- Website origins allowed to use an account's guest endpoints, web
-- channels and realtime socket. No rows for an account: any origin.
CREATE TABLE token_allowed_origins (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid          TEXT NOT NULL UNIQUE,
    account_sid  TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    origin       TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL,
    UNIQUE (account_sid, origin)
);

-- +goose Down
DROP TABLE token_allowed_origins;
DROP TABLE token_guest_keys;
