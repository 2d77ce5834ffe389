-- +goose Up
-- TaskRouter. Times are unix milliseconds. Counters (assigned, active_tasks)
-- are kept by the same transactions that reserve and release, under the row
-- locks of conditional UPDATEs, so two nodes never overfill a worker.
CREATE TABLE tr_workspaces (
    seq                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid                    TEXT NOT NULL UNIQUE,
    account_sid            TEXT NOT NULL,
    friendly_name          TEXT NOT NULL,
    event_callback_url     TEXT NOT NULL DEFAULT '',
    events_filter          TEXT NOT NULL DEFAULT '',
    multi_task_enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    prioritize_queue_order TEXT NOT NULL DEFAULT 'FIFO',
    default_activity_sid   TEXT NOT NULL DEFAULT '',
    timeout_activity_sid   TEXT NOT NULL DEFAULT '',
    date_created           BIGINT NOT NULL,
    date_updated           BIGINT NOT NULL
);
CREATE INDEX tr_workspaces_account ON tr_workspaces(account_sid, seq);

CREATE TABLE tr_activities (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid           TEXT NOT NULL UNIQUE,
    account_sid   TEXT NOT NULL,
    workspace_sid TEXT NOT NULL REFERENCES tr_workspaces(sid) ON DELETE CASCADE,
    friendly_name TEXT NOT NULL,
    available     BOOLEAN NOT NULL,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL,
    UNIQUE (workspace_sid, friendly_name)
);

CREATE TABLE tr_task_channels (
    seq                       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid                       TEXT NOT NULL UNIQUE,
    account_sid               TEXT NOT NULL,
    workspace_sid             TEXT NOT NULL REFERENCES tr_workspaces(sid) ON DELETE CASCADE,
    unique_name               TEXT NOT NULL,
    friendly_name             TEXT NOT NULL,
    channel_optimized_routing BOOLEAN NOT NULL DEFAULT FALSE,
    date_created              BIGINT NOT NULL,
    date_updated              BIGINT NOT NULL,
    UNIQUE (workspace_sid, unique_name)
);

CREATE TABLE tr_workers (
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid                 TEXT NOT NULL UNIQUE,
    account_sid         TEXT NOT NULL,
    workspace_sid       TEXT NOT NULL REFERENCES tr_workspaces(sid) ON DELETE CASCADE,
    friendly_name       TEXT NOT NULL,
    attributes          TEXT NOT NULL,
    activity_sid        TEXT NOT NULL,
    available           BOOLEAN NOT NULL,
    revision            BIGINT NOT NULL DEFAULT 1,
    active_tasks        INTEGER NOT NULL DEFAULT 0,
    idle_since          BIGINT NOT NULL,
    date_status_changed BIGINT NOT NULL,
    date_created        BIGINT NOT NULL,
    date_updated        BIGINT NOT NULL,
    UNIQUE (workspace_sid, friendly_name)
);
CREATE INDEX tr_workers_workspace ON tr_workers(workspace_sid, seq);

CREATE TABLE tr_worker_channels (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid              TEXT NOT NULL UNIQUE,
    account_sid      TEXT NOT NULL,
    workspace_sid    TEXT NOT NULL,
    worker_sid       TEXT NOT NULL REFERENCES tr_workers(sid) ON DELETE CASCADE,
    task_channel_sid TEXT NOT NULL REFERENCES tr_task_channels(sid) ON DELETE CASCADE,
    capacity         INTEGER NOT NULL,
    available        BOOLEAN NOT NULL DEFAULT TRUE,
    assigned         INTEGER NOT NULL DEFAULT 0,
    date_created     BIGINT NOT NULL,
    date_updated     BIGINT NOT NULL,
    UNIQUE (worker_sid, task_channel_sid),
    CHECK (assigned >= 0)
);
CREATE INDEX tr_worker_channels_workspace ON tr_worker_channels(workspace_sid);

CREATE TABLE tr_task_queues (
    seq                      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid                      TEXT NOT NULL UNIQUE,
    account_sid              TEXT NOT NULL,
    workspace_sid            TEXT NOT NULL REFERENCES tr_workspaces(sid) ON DELETE CASCADE,
    friendly_name            TEXT NOT NULL,
    target_workers           TEXT NOT NULL,
    max_reserved_workers     INTEGER NOT NULL DEFAULT 1,
    task_order               TEXT NOT NULL DEFAULT 'FIFO',
    reservation_activity_sid TEXT NOT NULL DEFAULT '',
    assignment_activity_sid  TEXT NOT NULL DEFAULT '',
    date_created             BIGINT NOT NULL,
    date_updated             BIGINT NOT NULL,
    UNIQUE (workspace_sid, friendly_name)
);

CREATE TABLE tr_workflows (
    seq                              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid                              TEXT NOT NULL UNIQUE,
    account_sid                      TEXT NOT NULL,
    workspace_sid                    TEXT NOT NULL REFERENCES tr_workspaces(sid) ON DELETE CASCADE,
    friendly_name                    TEXT NOT NULL,
    configuration                    TEXT NOT NULL,
    assignment_callback_url          TEXT NOT NULL DEFAULT '',
    fallback_assignment_callback_url TEXT NOT NULL DEFAULT '',
    task_reservation_timeout         INTEGER NOT NULL DEFAULT 120,
    date_created                     BIGINT NOT NULL,
    date_updated                     BIGINT NOT NULL
);

-- Routing state lives on the task (filter_idx/target_idx/step_deadline) so
-- a restart resumes every pending task where it was.
CREATE TABLE tr_tasks (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid                TEXT NOT NULL UNIQUE,
    account_sid        TEXT NOT NULL,
    workspace_sid      TEXT NOT NULL REFERENCES tr_workspaces(sid) ON DELETE CASCADE,
    workflow_sid       TEXT NOT NULL DEFAULT '',
    task_queue_sid     TEXT NOT NULL DEFAULT '',
    task_channel_sid   TEXT NOT NULL,
    attributes         TEXT NOT NULL,
    priority           INTEGER NOT NULL DEFAULT 0,
    timeout            INTEGER NOT NULL,
    assignment_status  TEXT NOT NULL,
    reason             TEXT NOT NULL DEFAULT '',
    filter_idx         INTEGER NOT NULL DEFAULT -1,
    target_idx         INTEGER NOT NULL DEFAULT 0,
    step_priority      INTEGER NOT NULL DEFAULT 0,
    step_deadline      BIGINT NOT NULL DEFAULT 0,
    queue_entered      BIGINT NOT NULL DEFAULT 0,
    expires_at         BIGINT NOT NULL,
    virtual_start_time BIGINT NOT NULL,
    routing_target     TEXT NOT NULL DEFAULT '',
    ignore_capacity    BOOLEAN NOT NULL DEFAULT FALSE,
    revision           BIGINT NOT NULL DEFAULT 1,
    date_created       BIGINT NOT NULL,
    date_updated       BIGINT NOT NULL
);
CREATE INDEX tr_tasks_workspace ON tr_tasks(workspace_sid, seq);
CREATE INDEX tr_tasks_status ON tr_tasks(assignment_status, workspace_sid);
CREATE INDEX tr_tasks_step ON tr_tasks(step_deadline) WHERE assignment_status = 'pending' AND step_deadline > 0;
CREATE INDEX tr_tasks_expiry ON tr_tasks(expires_at) WHERE assignment_status IN ('pending', 'reserved');

CREATE TABLE tr_reservations (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid           TEXT NOT NULL UNIQUE,
    account_sid   TEXT NOT NULL,
    workspace_sid TEXT NOT NULL,
    task_sid      TEXT NOT NULL REFERENCES tr_tasks(sid) ON DELETE CASCADE,
    worker_sid    TEXT NOT NULL,
    worker_name   TEXT NOT NULL,
    task_channel_sid TEXT NOT NULL,
    status        TEXT NOT NULL,
    timeout_at    BIGINT NOT NULL,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL
);
CREATE INDEX tr_reservations_task ON tr_reservations(task_sid, seq);
CREATE INDEX tr_reservations_worker ON tr_reservations(worker_sid, seq);
CREATE INDEX tr_reservations_due ON tr_reservations(timeout_at) WHERE status = 'pending';
-- The database itself refuses a second live reservation for one task.
CREATE UNIQUE INDEX tr_reservations_one_live ON tr_reservations(task_sid)
    WHERE status IN ('pending', 'accepted', 'wrapping');

CREATE TABLE tr_events (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid             TEXT NOT NULL UNIQUE,
    account_sid     TEXT NOT NULL,
    workspace_sid   TEXT NOT NULL REFERENCES tr_workspaces(sid) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    resource_type   TEXT NOT NULL,
    resource_sid    TEXT NOT NULL,
    description     TEXT NOT NULL,
    event_data      TEXT NOT NULL,
    task_sid        TEXT NOT NULL DEFAULT '',
    worker_sid      TEXT NOT NULL DEFAULT '',
    reservation_sid TEXT NOT NULL DEFAULT '',
    task_queue_sid  TEXT NOT NULL DEFAULT '',
    workflow_sid    TEXT NOT NULL DEFAULT '',
    task_channel    TEXT NOT NULL DEFAULT '',
    wait_ms         BIGINT NOT NULL DEFAULT 0,
    event_date      BIGINT NOT NULL
);
CREATE INDEX tr_events_workspace ON tr_events(workspace_sid, seq);
CREATE INDEX tr_events_date ON tr_events(workspace_sid, event_date);

-- +goose Down
DROP TABLE tr_events;
DROP TABLE tr_reservations;
DROP TABLE tr_tasks;
DROP TABLE tr_workflows;
DROP TABLE tr_task_queues;
DROP TABLE tr_worker_channels;
DROP TABLE tr_workers;
DROP TABLE tr_task_channels;
DROP TABLE tr_activities;
DROP TABLE tr_workspaces;
