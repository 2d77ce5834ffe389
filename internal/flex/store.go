package flex

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/parleychat/parley/internal/store"
)

// flexStore is Flex's SQL. It reads and writes only flex_* tables.
type flexStore struct{ db *store.DB }

type scanner = store.Scanner

const flowCols = "seq, sid, account_sid, friendly_name, chat_service_sid, channel_type, contact_identity, enabled, " +
	"integration_type, integration, long_lived, janitor_enabled, date_created, date_updated"

func scanFlow(row scanner) (Flow, error) {
	var f Flow
	var contact, itype sql.NullString
	var integration string
	err := row.Scan(&f.Seq, &f.SID, &f.AccountSID, &f.FriendlyName, &f.ChatServiceSID, &f.ChannelType, &contact,
		&f.Enabled, &itype, &integration, &f.LongLived, &f.JanitorEnabled, &f.Created, &f.Updated)
	if err != nil {
		return f, store.NoRows(err)
	}
	f.ContactIdentity, f.IntegrationType = contact.String, itype.String
	if err := json.Unmarshal([]byte(integration), &f.Integration); err != nil {
		return f, fmt.Errorf("flex: flow %s integration: %w", f.SID, err)
	}
	return f, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *flexStore) insertFlow(ctx context.Context, q store.Querier, f Flow, defaultFor string) error {
	integration, _ := json.Marshal(f.Integration)
	_, err := q.ExecContext(ctx, "INSERT INTO flex_flows (sid, account_sid, friendly_name, chat_service_sid, channel_type, "+
		"contact_identity, enabled, integration_type, integration, long_lived, janitor_enabled, default_for, date_created, date_updated) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		f.SID, f.AccountSID, f.FriendlyName, f.ChatServiceSID, f.ChannelType, nullable(f.ContactIdentity), f.Enabled,
		nullable(f.IntegrationType), string(integration), f.LongLived, f.JanitorEnabled, nullable(defaultFor), f.Created, f.Updated)
	if err != nil {
		return fmt.Errorf("flex: insert flow: %w", err)
	}
	return nil
}

func (s *flexStore) updateFlow(ctx context.Context, f Flow) error {
	integration, _ := json.Marshal(f.Integration)
	return store.Affected(s.db.ExecContext(ctx, "UPDATE flex_flows SET friendly_name = ?, chat_service_sid = ?, channel_type = ?, "+
		"contact_identity = ?, enabled = ?, integration_type = ?, integration = ?, long_lived = ?, janitor_enabled = ?, date_updated = ? "+
		"WHERE sid = ? AND account_sid = ?",
		f.FriendlyName, f.ChatServiceSID, f.ChannelType, nullable(f.ContactIdentity), f.Enabled, nullable(f.IntegrationType),
		string(integration), f.LongLived, f.JanitorEnabled, f.Updated, f.SID, f.AccountSID))
}

func (s *flexStore) flow(ctx context.Context, accountSID, sid string) (Flow, error) {
	return scanFlow(s.db.QueryRowContext(ctx, "SELECT "+flowCols+" FROM flex_flows WHERE sid = ? AND account_sid = ?", sid, accountSID))
}

func (s *flexStore) defaultFlow(ctx context.Context, q store.Querier, accountSID string) (Flow, error) {
	return scanFlow(q.QueryRowContext(ctx, "SELECT "+flowCols+" FROM flex_flows WHERE default_for = ?", accountSID))
}

// flows reads one keyset page of an account's flows, optionally only
// those with the friendly name.
func (s *flexStore) flows(ctx context.Context, accountSID, friendlyName string, after, before int64, limit int) ([]Flow, error) {
	cond, tail := store.Keyset("seq", after, before, limit)
	args := []any{accountSID}
	if friendlyName != "" {
		cond = " AND friendly_name = ?" + cond
		args = append(args, friendlyName)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+flowCols+" FROM flex_flows WHERE account_sid = ?"+cond+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("flex: list flows: %w", err)
	}
	return store.Collect(rows, scanFlow)
}

func (s *flexStore) deleteFlow(ctx context.Context, accountSID, sid string) error {
	return store.Affected(s.db.ExecContext(ctx, "DELETE FROM flex_flows WHERE sid = ? AND account_sid = ?", sid, accountSID))
}

const channelCols = "seq, sid, account_sid, flex_flow_sid, chat_service_sid, identity, status, long_lived, task_sid, " +
	"webhook_sid, forwarded_index, pre_engagement_data, post_engagement_data, last_activity, date_created, date_updated"

func scanChannel(row scanner) (Channel, error) {
	var c Channel
	var task, hook, pre, post sql.NullString
	err := row.Scan(&c.Seq, &c.SID, &c.AccountSID, &c.FlexFlowSID, &c.ChatServiceSID, &c.Identity, &c.Status, &c.LongLived,
		&task, &hook, &c.ForwardedIndex, &pre, &post, &c.LastActivity, &c.Created, &c.Updated)
	c.TaskSID, c.WebhookSID, c.PreEngagementData, c.PostEngagementData = task.String, hook.String, pre.String, post.String
	return c, store.NoRows(err)
}

func (s *flexStore) insertChannel(ctx context.Context, c Channel) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO flex_channels (sid, account_sid, flex_flow_sid, chat_service_sid, identity, "+
		"status, long_lived, task_sid, webhook_sid, pre_engagement_data, last_activity, date_created, date_updated) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		c.SID, c.AccountSID, c.FlexFlowSID, c.ChatServiceSID, c.Identity, c.Status, c.LongLived, nullable(c.TaskSID),
		nullable(c.WebhookSID), nullable(c.PreEngagementData), c.LastActivity, c.Created, c.Updated)
	if err != nil {
		return fmt.Errorf("flex: insert channel: %w", err)
	}
	return nil
}

// channel reads a channel; accountSID "" reads it in any account (for
// events, which carry the channel SID only).
func (s *flexStore) channel(ctx context.Context, accountSID, sid string) (Channel, error) {
	if accountSID == "" {
		return scanChannel(s.db.QueryRowContext(ctx, "SELECT "+channelCols+" FROM flex_channels WHERE sid = ?", sid))
	}
	return scanChannel(s.db.QueryRowContext(ctx, "SELECT "+channelCols+" FROM flex_channels WHERE sid = ? AND account_sid = ?", sid, accountSID))
}

// latestChannel is the visitor's newest channel on the flow; with
// activeOnly, only an active one.
func (s *flexStore) latestChannel(ctx context.Context, flowSID, identity string, activeOnly bool) (Channel, error) {
	q := "SELECT " + channelCols + " FROM flex_channels WHERE flex_flow_sid = ? AND identity = ?"
	if activeOnly {
		q += " AND status = 'active'"
	}
	return scanChannel(s.db.QueryRowContext(ctx, q+" ORDER BY seq DESC LIMIT 1", flowSID, identity))
}

func (s *flexStore) channels(ctx context.Context, accountSID string, after, before int64, limit int) ([]Channel, error) {
	cond, tail := store.Keyset("seq", after, before, limit)
	return s.queryChannels(ctx, "SELECT "+channelCols+" FROM flex_channels WHERE account_sid = ?"+cond+tail, accountSID)
}

// idleChannels lists active channels with no activity since cutoff and
// no task Flex knows of: the janitor's abandoned candidates.
func (s *flexStore) idleChannels(ctx context.Context, cutoff int64, limit int) ([]Channel, error) {
	return s.queryChannels(ctx, "SELECT "+channelCols+" FROM flex_channels WHERE status = 'active' AND last_activity < ? "+
		"AND task_sid IS NULL ORDER BY last_activity LIMIT ?", cutoff, limit)
}

func (s *flexStore) queryChannels(ctx context.Context, q string, args ...any) ([]Channel, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("flex: list channels: %w", err)
	}
	return store.Collect(rows, scanChannel)
}

// claim runs a guarded UPDATE and reports whether it changed the row: the
// caller that gets true is the one node that performs the action.
func (s *flexStore) claim(ctx context.Context, q string, args ...any) (bool, error) {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("flex: update channel: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// deactivate marks an active channel inactive; true for the one caller that did it.
func (s *flexStore) deactivate(ctx context.Context, sid string, now int64) (bool, error) {
	return s.claim(ctx, "UPDATE flex_channels SET status = 'inactive', closed_at = ?, date_updated = ? WHERE sid = ? AND status = 'active'",
		now, now, sid)
}

// reactivate marks an inactive long-lived channel active again, as a new
// engagement (no task, no webhook yet).
func (s *flexStore) reactivate(ctx context.Context, sid string, now int64) (bool, error) {
	return s.claim(ctx, "UPDATE flex_channels SET status = 'active', closed_at = NULL, task_sid = NULL, webhook_sid = NULL, "+
		"last_activity = ?, date_updated = ? WHERE sid = ? AND status = 'inactive'", now, now, sid)
}

// taskPending is a channel's task_sid while its task is being created.
const taskPending = "pending"

// claimTask reserves the right to create the engagement's task.
func (s *flexStore) claimTask(ctx context.Context, sid string) (bool, error) {
	return s.claim(ctx, "UPDATE flex_channels SET task_sid = ? WHERE sid = ? AND status = 'active' AND task_sid IS NULL", taskPending, sid)
}

// setTask records the created task (taskSID "" releases a failed claim).
func (s *flexStore) setTask(ctx context.Context, sid, taskSID string) error {
	_, err := s.db.ExecContext(ctx, "UPDATE flex_channels SET task_sid = ?, date_updated = ? WHERE sid = ? AND task_sid = ?",
		nullable(taskSID), store.Now(), sid, taskPending)
	return err
}

func (s *flexStore) setWebhook(ctx context.Context, sid, webhookSID string) error {
	_, err := s.db.ExecContext(ctx, "UPDATE flex_channels SET webhook_sid = ? WHERE sid = ?", nullable(webhookSID), sid)
	return err
}

// claimForward reserves message index for the external integration.
func (s *flexStore) claimForward(ctx context.Context, sid string, index int64) (bool, error) {
	return s.claim(ctx, "UPDATE flex_channels SET forwarded_index = ? WHERE sid = ? AND forwarded_index < ?", index, sid, index)
}

// touch records activity, at most once per step so that a busy
// conversation does not write on every message.
func (s *flexStore) touch(ctx context.Context, sid string, now, step int64) error {
	_, err := s.db.ExecContext(ctx, "UPDATE flex_channels SET last_activity = ? WHERE sid = ? AND last_activity < ?", now, sid, now-step)
	return err
}

func (s *flexStore) setPostEngagement(ctx context.Context, accountSID, sid, data string, now int64) error {
	return store.Affected(s.db.ExecContext(ctx, "UPDATE flex_channels SET post_engagement_data = ?, date_updated = ? WHERE sid = ? AND account_sid = ?",
		data, now, sid, accountSID))
}

func (s *flexStore) deleteChannel(ctx context.Context, accountSID, sid string) error {
	return store.Affected(s.db.ExecContext(ctx, "DELETE FROM flex_channels WHERE sid = ? AND account_sid = ?", sid, accountSID))
}
