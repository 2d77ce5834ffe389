-- +goose Up
-- Chat v2: services, roles, users, channels, members, messages and channel
-- webhooks. Every child row carries account_sid and service_sid so that a
-- lookup is always scoped by both; children go with their parent.
CREATE TABLE chat_services (
    seq                              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid                              TEXT NOT NULL UNIQUE,
    account_sid                      TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    friendly_name                    TEXT NOT NULL,
    -- default_for is the account's SID on its one default ("Flex Chat
    -- Service") service and NULL elsewhere; UNIQUE makes find-or-create safe.
    default_for                      TEXT UNIQUE,
    default_service_role_sid         TEXT,
    default_channel_role_sid         TEXT,
    default_channel_creator_role_sid TEXT,
    read_status_enabled              BOOLEAN NOT NULL,
    reachability_enabled             BOOLEAN NOT NULL,
    typing_indicator_timeout         BIGINT NOT NULL,
    consumption_report_interval      BIGINT NOT NULL,
    limit_channel_members            BIGINT NOT NULL,
    limit_user_channels              BIGINT NOT NULL,
    pre_webhook_url                  TEXT,
    post_webhook_url                 TEXT,
    webhook_method                   TEXT NOT NULL,
    webhook_filters                  TEXT NOT NULL,
    pre_webhook_retry_count          BIGINT NOT NULL,
    post_webhook_retry_count         BIGINT NOT NULL,
    notifications                    TEXT NOT NULL,
    media_compatibility_message      TEXT NOT NULL,
    date_created                     BIGINT NOT NULL,
    date_updated                     BIGINT NOT NULL
);
CREATE INDEX chat_services_account ON chat_services(account_sid, seq);

CREATE TABLE chat_roles (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid           TEXT NOT NULL UNIQUE,
    account_sid   TEXT NOT NULL,
    service_sid   TEXT NOT NULL REFERENCES chat_services(sid) ON DELETE CASCADE,
    friendly_name TEXT NOT NULL,
    type          TEXT NOT NULL,
    permissions   TEXT NOT NULL,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL
);
CREATE INDEX chat_roles_service ON chat_roles(service_sid, seq);

CREATE TABLE chat_users (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid           TEXT NOT NULL UNIQUE,
    account_sid   TEXT NOT NULL,
    service_sid   TEXT NOT NULL REFERENCES chat_services(sid) ON DELETE CASCADE,
    identity      TEXT NOT NULL,
    friendly_name TEXT,
    attributes    TEXT NOT NULL,
    role_sid      TEXT,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL,
    UNIQUE (service_sid, identity)
);
CREATE INDEX chat_users_service ON chat_users(service_sid, seq);

CREATE TABLE chat_channels (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid            TEXT NOT NULL UNIQUE,
    account_sid    TEXT NOT NULL,
    service_sid    TEXT NOT NULL REFERENCES chat_services(sid) ON DELETE CASCADE,
    friendly_name  TEXT,
    unique_name    TEXT,
    attributes     TEXT NOT NULL,
    type           TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    members_count  BIGINT NOT NULL DEFAULT 0,
    messages_count BIGINT NOT NULL DEFAULT 0,
    -- next_index is the index the next message gets. It is read and bumped
    -- in the transaction that inserts the message, so indexes are gap-free.
    next_index     BIGINT NOT NULL DEFAULT 0,
    date_created   BIGINT NOT NULL,
    date_updated   BIGINT NOT NULL,
    UNIQUE (service_sid, unique_name)
);
CREATE INDEX chat_channels_service ON chat_channels(service_sid, seq);

CREATE TABLE chat_members (
    seq                         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid                         TEXT NOT NULL UNIQUE,
    account_sid                 TEXT NOT NULL,
    service_sid                 TEXT NOT NULL,
    channel_sid                 TEXT NOT NULL REFERENCES chat_channels(sid) ON DELETE CASCADE,
    identity                    TEXT NOT NULL,
    role_sid                    TEXT,
    last_consumed_message_index BIGINT,
    last_consumption_timestamp  BIGINT,
    attributes                  TEXT NOT NULL,
    date_created                BIGINT NOT NULL,
    date_updated                BIGINT NOT NULL,
    UNIQUE (channel_sid, identity)
);
CREATE INDEX chat_members_channel ON chat_members(channel_sid, seq);
CREATE INDEX chat_members_identity ON chat_members(service_sid, identity);

CREATE TABLE chat_messages (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid               TEXT NOT NULL UNIQUE,
    account_sid       TEXT NOT NULL,
    service_sid       TEXT NOT NULL,
    channel_sid       TEXT NOT NULL REFERENCES chat_channels(sid) ON DELETE CASCADE,
    msg_index         BIGINT NOT NULL,
    from_identity     TEXT NOT NULL,
    body              TEXT NOT NULL,
    attributes        TEXT NOT NULL,
    last_updated_by   TEXT,
    was_edited        BOOLEAN NOT NULL DEFAULT FALSE,
    -- client_message_id makes a retried send return the original message.
    client_message_id TEXT,
    date_created      BIGINT NOT NULL,
    date_updated      BIGINT NOT NULL,
    UNIQUE (channel_sid, msg_index),
    UNIQUE (channel_sid, from_identity, client_message_id)
);

CREATE TABLE chat_channel_webhooks (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid          TEXT NOT NULL UNIQUE,
    account_sid  TEXT NOT NULL,
    service_sid  TEXT NOT NULL,
    channel_sid  TEXT NOT NULL REFERENCES chat_channels(sid) ON DELETE CASCADE,
    type         TEXT NOT NULL,
    url          TEXT,
    method       TEXT NOT NULL,
    filters      TEXT NOT NULL,
    triggers     TEXT NOT NULL,
    flow_sid     TEXT,
    retry_count  BIGINT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);
CREATE INDEX chat_channel_webhooks_channel ON chat_channel_webhooks(channel_sid, seq);

-- +goose Down
DROP TABLE chat_channel_webhooks;
DROP TABLE chat_messages;
DROP TABLE chat_members;
DROP TABLE chat_channels;
DROP TABLE chat_users;
DROP TABLE chat_roles;
DROP TABLE chat_services;
