-- +goose Up
CREATE TABLE studio_flows (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    sid            TEXT NOT NULL UNIQUE,
    account_sid    TEXT NOT NULL,
    author_sid     TEXT NOT NULL DEFAULT '',
    friendly_name  TEXT NOT NULL,
    status         TEXT NOT NULL,
    revision       INTEGER NOT NULL,
    commit_message TEXT NOT NULL DEFAULT '',
    definition     TEXT NOT NULL,
    warnings       TEXT NOT NULL DEFAULT '[]',
    test_users     TEXT NOT NULL DEFAULT '[]',
    date_created   INTEGER NOT NULL,
    date_updated   INTEGER NOT NULL
);
CREATE INDEX studio_flows_account ON studio_flows(account_sid, seq);

-- One row per saved revision; sid is "<flow sid>/<revision>".
CREATE TABLE studio_flow_revisions (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    sid            TEXT NOT NULL UNIQUE,
    flow_sid       TEXT NOT NULL REFERENCES studio_flows(sid) ON DELETE CASCADE,
    account_sid    TEXT NOT NULL,
    author_sid     TEXT NOT NULL DEFAULT '',
    friendly_name  TEXT NOT NULL,
    status         TEXT NOT NULL,
    revision       INTEGER NOT NULL,
    commit_message TEXT NOT NULL DEFAULT '',
    definition     TEXT NOT NULL,
    warnings       TEXT NOT NULL DEFAULT '[]',
    date_created   INTEGER NOT NULL,
    date_updated   INTEGER NOT NULL,
    UNIQUE (flow_sid, revision)
);

-- An execution's position (state, wait) and context; lease_token and
-- lease_until say which node runs it now (a conditional UPDATE claims it).
CREATE TABLE studio_executions (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    sid              TEXT NOT NULL UNIQUE,
    account_sid      TEXT NOT NULL,
    flow_sid         TEXT NOT NULL REFERENCES studio_flows(sid) ON DELETE CASCADE,
    flow_revision    INTEGER NOT NULL,
    contact_address  TEXT NOT NULL DEFAULT '',
    contact_sid      TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    trigger_event    TEXT NOT NULL,
    initiated_by     TEXT NOT NULL DEFAULT '',
    channel_sid      TEXT NOT NULL DEFAULT '',
    context          TEXT NOT NULL,
    state            TEXT NOT NULL,
    step_count       INTEGER NOT NULL DEFAULT 0,
    last_step_sid    TEXT NOT NULL DEFAULT '',
    wait_kind        TEXT NOT NULL DEFAULT '',
    wait_deadline    INTEGER NOT NULL DEFAULT 0,
    wait_after_index INTEGER NOT NULL DEFAULT -1,
    lease_token      TEXT NOT NULL DEFAULT '',
    lease_until      INTEGER NOT NULL DEFAULT 0,
    date_created     INTEGER NOT NULL,
    date_updated     INTEGER NOT NULL
);
CREATE INDEX studio_executions_flow ON studio_executions(flow_sid, seq);
CREATE INDEX studio_executions_due ON studio_executions(status, lease_until);
-- At most one active execution per chat channel of a flow.
CREATE UNIQUE INDEX studio_executions_channel ON studio_executions(flow_sid, channel_sid)
    WHERE status = 'active' AND channel_sid <> '';

CREATE TABLE studio_steps (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    sid               TEXT NOT NULL UNIQUE,
    account_sid       TEXT NOT NULL,
    flow_sid          TEXT NOT NULL,
    execution_sid     TEXT NOT NULL REFERENCES studio_executions(sid) ON DELETE CASCADE,
    parent_step_sid   TEXT NOT NULL DEFAULT '',
    name              TEXT NOT NULL,
    transitioned_from TEXT NOT NULL,
    transitioned_to   TEXT NOT NULL,
    type              TEXT NOT NULL,
    context           TEXT NOT NULL,
    date_created      INTEGER NOT NULL,
    date_updated      INTEGER NOT NULL
);
CREATE INDEX studio_steps_execution ON studio_steps(execution_sid, seq);
CREATE INDEX studio_steps_flow ON studio_steps(flow_sid);

-- Messages for an active execution, taken by whoever holds its lease;
-- sid is "<execution sid>/<message sid>", so a redelivery is one row.
CREATE TABLE studio_inbox (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    sid           TEXT NOT NULL UNIQUE,
    account_sid   TEXT NOT NULL,
    execution_sid TEXT NOT NULL REFERENCES studio_executions(sid) ON DELETE CASCADE,
    msg_index     INTEGER NOT NULL,
    message       TEXT NOT NULL,
    date_created  INTEGER NOT NULL
);
CREATE INDEX studio_inbox_execution ON studio_inbox(execution_sid, seq);

-- +goose Down
DROP TABLE studio_inbox;
DROP TABLE studio_steps;
DROP TABLE studio_executions;
DROP TABLE studio_flow_revisions;
DROP TABLE studio_flows;
