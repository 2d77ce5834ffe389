-- +goose Up
-- Canned responses an admin defines for the agent desktop (per account).
CREATE TABLE agent_canned_responses (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid           TEXT NOT NULL UNIQUE,
    account_sid   TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    category      TEXT NOT NULL,
    body          TEXT NOT NULL,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL
);
CREATE INDEX agent_canned_responses_account ON agent_canned_responses (account_sid, seq);

-- Transfers: an agent handed the chat of from_task_sid (its reservation
-- from_reservation_sid) to a queue or another agent as to_task_sid.
CREATE TABLE agent_transfers (
    seq                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid                  TEXT NOT NULL UNIQUE,
    account_sid          TEXT NOT NULL,
    workspace_sid        TEXT NOT NULL,
    channel_sid          TEXT NOT NULL,
    from_task_sid        TEXT NOT NULL,
    from_reservation_sid TEXT NOT NULL UNIQUE,
    from_worker_sid      TEXT NOT NULL,
    to_task_sid          TEXT NOT NULL,
    target_type          TEXT NOT NULL,
    target_sid           TEXT NOT NULL,
    target_name          TEXT NOT NULL,
    date_created         BIGINT NOT NULL
);
CREATE INDEX agent_transfers_worker ON agent_transfers (from_worker_sid);

-- +goose Down
DROP TABLE agent_transfers;
DROP TABLE agent_canned_responses;
