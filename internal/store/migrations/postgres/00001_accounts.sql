-- +goose Up
CREATE TABLE accounts (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid           TEXT NOT NULL UNIQUE,
    friendly_name TEXT NOT NULL,
    auth_token    TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'active',
    is_main       BOOLEAN NOT NULL DEFAULT FALSE,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid           TEXT NOT NULL UNIQUE,
    account_sid   TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    friendly_name TEXT NOT NULL,
    secret        TEXT NOT NULL,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL
);
CREATE INDEX api_keys_account ON api_keys(account_sid, seq);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE accounts;
