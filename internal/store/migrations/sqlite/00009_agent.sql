-- +goose Up
-- Agents: sign-ins for the agent desktop, each linked to a TaskRouter
-- worker. Email is unique across the node because it is what an agent
-- types to sign in. password_hash is an argon2id PHC string.
CREATE TABLE agents (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    sid           TEXT NOT NULL UNIQUE,
    account_sid   TEXT NOT NULL,
    workspace_sid TEXT NOT NULL,
    worker_sid    TEXT NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    friendly_name TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL
);
CREATE INDEX agents_account ON agents (account_sid, seq);

-- Desktop sessions: only a SHA-256 of the cookie value is stored.
CREATE TABLE agent_sessions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    sid          TEXT NOT NULL UNIQUE,
    account_sid  TEXT NOT NULL,
    agent_sid    TEXT NOT NULL REFERENCES agents(sid) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    expires      BIGINT NOT NULL,
    date_created BIGINT NOT NULL
);
CREATE INDEX agent_sessions_agent ON agent_sessions (agent_sid);

-- +goose Down
DROP TABLE agent_sessions;
DROP TABLE agents;
