-- +goose Up
-- The web chat widget's configuration for a Flex Flow (pre-engagement form,
-- survey, colours, texts), served to the widget. One row per flow; sid is
-- the flow's SID and the row goes with the flow.
CREATE TABLE flex_webchat_configs (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    sid          TEXT NOT NULL UNIQUE REFERENCES flex_flows(sid) ON DELETE CASCADE,
    account_sid  TEXT NOT NULL,
    config       TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);

-- +goose Down
DROP TABLE flex_webchat_configs;
