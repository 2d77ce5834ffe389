-- +goose Up
CREATE TABLE accounts (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    sid           TEXT NOT NULL UNIQUE,
    friendly_name TEXT NOT NULL,
    auth_token    TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'active',
    is_main       INTEGER NOT NULL DEFAULT 0,
    date_created  INTEGER NOT NULL,
    date_updated  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    sid           TEXT NOT NULL UNIQUE,
    account_sid   TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    friendly_name TEXT NOT NULL,
    secret        TEXT NOT NULL,
    date_created  INTEGER NOT NULL,
    date_updated  INTEGER NOT NULL
);
CREATE INDEX api_keys_account ON api_keys(account_sid, seq);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE accounts;
