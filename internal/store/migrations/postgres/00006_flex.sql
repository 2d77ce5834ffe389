-- +goose Up
-- Flex v1: Flex Flows, and the Flex side of every web channel (the chat
-- channel itself belongs to chat; this row is what the janitor and the
-- integrations need to know about it).
CREATE TABLE flex_flows (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid              TEXT NOT NULL UNIQUE,
    account_sid      TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    friendly_name    TEXT NOT NULL,
    chat_service_sid TEXT NOT NULL,
    channel_type     TEXT NOT NULL,
    contact_identity TEXT,
    enabled          BOOLEAN NOT NULL,
    integration_type TEXT,
    -- integration is the JSON object Twilio returns (snake_case keys).
    integration      TEXT NOT NULL,
    long_lived       BOOLEAN NOT NULL,
    janitor_enabled  BOOLEAN NOT NULL,
    -- default_for is the account's SID on the default "Flex Web Channel
    -- Flow" and NULL elsewhere; UNIQUE makes find-or-create safe on many nodes.
    default_for      TEXT UNIQUE,
    date_created     BIGINT NOT NULL,
    date_updated     BIGINT NOT NULL
);
CREATE INDEX flex_flows_account ON flex_flows(account_sid, seq);

CREATE TABLE flex_channels (
    seq                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- sid is the chat channel's SID (CH), as Twilio's WebChannel is.
    sid                  TEXT NOT NULL UNIQUE,
    account_sid          TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    flex_flow_sid        TEXT NOT NULL,
    chat_service_sid     TEXT NOT NULL,
    identity             TEXT NOT NULL,
    -- status is active or inactive. Every janitor action is an UPDATE
    -- guarded by the old status, so exactly one node performs it.
    status               TEXT NOT NULL,
    long_lived           BOOLEAN NOT NULL,
    -- task_sid: the TaskRouter task of the current engagement when Flex
    -- knows it; 'pending' while one node is creating it.
    task_sid             TEXT,
    -- webhook_sid: the studio channel webhook attached to the chat channel.
    webhook_sid          TEXT,
    -- forwarded_index: the highest message index already posted to the
    -- external integration (-1: none), so each is posted once.
    forwarded_index      BIGINT NOT NULL DEFAULT -1,
    pre_engagement_data  TEXT,
    post_engagement_data TEXT,
    last_activity        BIGINT NOT NULL,
    closed_at            BIGINT,
    date_created         BIGINT NOT NULL,
    date_updated         BIGINT NOT NULL
);
CREATE INDEX flex_channels_account ON flex_channels(account_sid, seq);
CREATE INDEX flex_channels_identity ON flex_channels(flex_flow_sid, identity, seq);
CREATE INDEX flex_channels_idle ON flex_channels(status, last_activity);
-- One active engagement per visitor and flow: a reloaded page that
-- re-creates its web channel gets the same one, even when two requests race.
CREATE UNIQUE INDEX flex_channels_one_active ON flex_channels(flex_flow_sid, identity) WHERE status = 'active';

-- +goose Down
DROP TABLE flex_channels;
DROP TABLE flex_flows;
