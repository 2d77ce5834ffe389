package chat

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/parleychat/parley/internal/store"
)

// The chat domain's SQL. Every function takes a store.Querier so that the
// service can run several of them in one transaction. Every lookup is
// scoped by account and service, so a SID from elsewhere finds nothing.

type scanner = store.Scanner

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func parseList(s string) []string {
	var v []string
	_ = json.Unmarshal([]byte(s), &v)
	return v
}

func nullStr(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// --- services ---

const instanceCols = "seq, sid, account_sid, friendly_name, default_service_role_sid, default_channel_role_sid, " +
	"default_channel_creator_role_sid, read_status_enabled, reachability_enabled, typing_indicator_timeout, " +
	"consumption_report_interval, limit_channel_members, limit_user_channels, pre_webhook_url, post_webhook_url, " +
	"webhook_method, webhook_filters, pre_webhook_retry_count, post_webhook_retry_count, notifications, " +
	"media_compatibility_message, date_created, date_updated"

func scanInstance(row scanner) (Instance, error) {
	var in Instance
	var sr, cr, ccr, pre, post sql.NullString
	var filters, notes string
	err := row.Scan(&in.Seq, &in.SID, &in.AccountSID, &in.FriendlyName, &sr, &cr, &ccr, &in.ReadStatusEnabled,
		&in.ReachabilityEnabled, &in.TypingIndicatorTimeout, &in.ConsumptionReportInterval, &in.LimitChannelMembers,
		&in.LimitUserChannels, &pre, &post, &in.WebhookMethod, &filters, &in.PreWebhookRetryCount,
		&in.PostWebhookRetryCount, &notes, &in.MediaCompatibilityMessage, &in.Created, &in.Updated)
	if err != nil {
		return in, store.NoRows(err)
	}
	in.DefaultServiceRoleSID, in.DefaultChannelRoleSID, in.DefaultChannelCreatorRoleSID = sr.String, cr.String, ccr.String
	in.PreWebhookURL, in.PostWebhookURL = pre.String, post.String
	in.WebhookFilters = parseList(filters)
	_ = json.Unmarshal([]byte(notes), &in.Notifications)
	return in, nil
}

func insertInstance(ctx context.Context, q store.Querier, in Instance, defaultFor string) error {
	notes, _ := json.Marshal(in.Notifications)
	_, err := q.ExecContext(ctx, "INSERT INTO chat_services (sid, account_sid, friendly_name, default_for, "+
		"default_service_role_sid, default_channel_role_sid, default_channel_creator_role_sid, read_status_enabled, "+
		"reachability_enabled, typing_indicator_timeout, consumption_report_interval, limit_channel_members, "+
		"limit_user_channels, pre_webhook_url, post_webhook_url, webhook_method, webhook_filters, "+
		"pre_webhook_retry_count, post_webhook_retry_count, notifications, media_compatibility_message, "+
		"date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		in.SID, in.AccountSID, in.FriendlyName, nullStr(defaultFor), nullStr(in.DefaultServiceRoleSID),
		nullStr(in.DefaultChannelRoleSID), nullStr(in.DefaultChannelCreatorRoleSID), in.ReadStatusEnabled,
		in.ReachabilityEnabled, in.TypingIndicatorTimeout, in.ConsumptionReportInterval, in.LimitChannelMembers,
		in.LimitUserChannels, nullStr(in.PreWebhookURL), nullStr(in.PostWebhookURL), in.WebhookMethod,
		jsonList(in.WebhookFilters), in.PreWebhookRetryCount, in.PostWebhookRetryCount, string(notes),
		in.MediaCompatibilityMessage, in.Created, in.Updated)
	return err
}

func updateInstance(ctx context.Context, q store.Querier, in Instance) error {
	notes, _ := json.Marshal(in.Notifications)
	return store.Affected(q.ExecContext(ctx, "UPDATE chat_services SET friendly_name = ?, default_service_role_sid = ?, "+
		"default_channel_role_sid = ?, default_channel_creator_role_sid = ?, read_status_enabled = ?, "+
		"reachability_enabled = ?, typing_indicator_timeout = ?, consumption_report_interval = ?, "+
		"limit_channel_members = ?, limit_user_channels = ?, pre_webhook_url = ?, post_webhook_url = ?, "+
		"webhook_method = ?, webhook_filters = ?, pre_webhook_retry_count = ?, post_webhook_retry_count = ?, "+
		"notifications = ?, media_compatibility_message = ?, date_updated = ? WHERE sid = ? AND account_sid = ?",
		in.FriendlyName, nullStr(in.DefaultServiceRoleSID), nullStr(in.DefaultChannelRoleSID),
		nullStr(in.DefaultChannelCreatorRoleSID), in.ReadStatusEnabled, in.ReachabilityEnabled,
		in.TypingIndicatorTimeout, in.ConsumptionReportInterval, in.LimitChannelMembers, in.LimitUserChannels,
		nullStr(in.PreWebhookURL), nullStr(in.PostWebhookURL), in.WebhookMethod, jsonList(in.WebhookFilters),
		in.PreWebhookRetryCount, in.PostWebhookRetryCount, string(notes), in.MediaCompatibilityMessage,
		in.Updated, in.SID, in.AccountSID))
}

func getInstance(ctx context.Context, q store.Querier, accountSID, sid string) (Instance, error) {
	return scanInstance(q.QueryRowContext(ctx, "SELECT "+instanceCols+" FROM chat_services WHERE sid = ? AND account_sid = ?", sid, accountSID))
}

func defaultInstance(ctx context.Context, q store.Querier, accountSID string) (Instance, error) {
	return scanInstance(q.QueryRowContext(ctx, "SELECT "+instanceCols+" FROM chat_services WHERE default_for = ?", accountSID))
}

func listInstances(ctx context.Context, q store.Querier, accountSID string, after, before int64, limit int) ([]Instance, error) {
	cond, tail := store.Keyset("seq", after, before, limit)
	return store.QueryAll(ctx, q, "SELECT "+instanceCols+" FROM chat_services WHERE account_sid = ?"+cond+tail, scanInstance, accountSID)
}

func deleteInstance(ctx context.Context, q store.Querier, accountSID, sid string) error {
	return store.Affected(q.ExecContext(ctx, "DELETE FROM chat_services WHERE sid = ? AND account_sid = ?", sid, accountSID))
}

// --- roles ---

const roleCols = "seq, sid, account_sid, service_sid, friendly_name, type, permissions, date_created, date_updated"

func scanRole(row scanner) (Role, error) {
	var r Role
	var perms string
	err := row.Scan(&r.Seq, &r.SID, &r.AccountSID, &r.ServiceSID, &r.FriendlyName, &r.Type, &perms, &r.Created, &r.Updated)
	r.Permissions = parseList(perms)
	return r, store.NoRows(err)
}

func insertRole(ctx context.Context, q store.Querier, r Role) error {
	_, err := q.ExecContext(ctx, "INSERT INTO chat_roles (sid, account_sid, service_sid, friendly_name, type, permissions, "+
		"date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		r.SID, r.AccountSID, r.ServiceSID, r.FriendlyName, r.Type, jsonList(r.Permissions), r.Created, r.Updated)
	return err
}

func getRole(ctx context.Context, q store.Querier, serviceSID, sid string) (Role, error) {
	return scanRole(q.QueryRowContext(ctx, "SELECT "+roleCols+" FROM chat_roles WHERE sid = ? AND service_sid = ?", sid, serviceSID))
}

func listRoles(ctx context.Context, q store.Querier, serviceSID string, after, before int64, limit int) ([]Role, error) {
	cond, tail := store.Keyset("seq", after, before, limit)
	return store.QueryAll(ctx, q, "SELECT "+roleCols+" FROM chat_roles WHERE service_sid = ?"+cond+tail, scanRole, serviceSID)
}

func updateRole(ctx context.Context, q store.Querier, r Role) error {
	return store.Affected(q.ExecContext(ctx, "UPDATE chat_roles SET permissions = ?, date_updated = ? WHERE sid = ? AND service_sid = ?",
		jsonList(r.Permissions), r.Updated, r.SID, r.ServiceSID))
}

func deleteRole(ctx context.Context, q store.Querier, serviceSID, sid string) error {
	return store.Affected(q.ExecContext(ctx, "DELETE FROM chat_roles WHERE sid = ? AND service_sid = ?", sid, serviceSID))
}

// --- users ---

const userCols = "u.seq, u.sid, u.account_sid, u.service_sid, u.identity, u.friendly_name, u.attributes, u.role_sid, " +
	"(SELECT COUNT(*) FROM chat_members m WHERE m.service_sid = u.service_sid AND m.identity = u.identity), " +
	"u.date_created, u.date_updated"

func scanUser(row scanner) (User, error) {
	var u User
	var name, role sql.NullString
	err := row.Scan(&u.Seq, &u.SID, &u.AccountSID, &u.ServiceSID, &u.Identity, &name, &u.Attributes, &role,
		&u.JoinedChannels, &u.Created, &u.Updated)
	u.FriendlyName, u.RoleSID = name.String, role.String
	return u, store.NoRows(err)
}

func insertUser(ctx context.Context, q store.Querier, u User) error {
	_, err := q.ExecContext(ctx, "INSERT INTO chat_users (sid, account_sid, service_sid, identity, friendly_name, "+
		"attributes, role_sid, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		u.SID, u.AccountSID, u.ServiceSID, u.Identity, nullStr(u.FriendlyName), u.Attributes, nullStr(u.RoleSID),
		u.Created, u.Updated)
	return err
}

// ensureUser creates the service's user for identity unless it exists:
// Twilio makes a user the first time an identity joins a channel.
func ensureUser(ctx context.Context, q store.Querier, u User) error {
	_, err := q.ExecContext(ctx, "INSERT INTO chat_users (sid, account_sid, service_sid, identity, attributes, role_sid, "+
		"date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (service_sid, identity) DO NOTHING",
		u.SID, u.AccountSID, u.ServiceSID, u.Identity, u.Attributes, nullStr(u.RoleSID), u.Created, u.Updated)
	return err
}

// getUser finds a user by SID or, failing the SID shape, by identity.
func getUser(ctx context.Context, q store.Querier, serviceSID, ref string) (User, error) {
	col := "u.identity"
	if isSID("US", ref) {
		col = "u.sid"
	}
	return scanUser(q.QueryRowContext(ctx, "SELECT "+userCols+" FROM chat_users u WHERE "+col+" = ? AND u.service_sid = ?", ref, serviceSID))
}

func listUsers(ctx context.Context, q store.Querier, serviceSID string, after, before int64, limit int) ([]User, error) {
	cond, tail := store.Keyset("u.seq", after, before, limit)
	return store.QueryAll(ctx, q, "SELECT "+userCols+" FROM chat_users u WHERE u.service_sid = ?"+cond+tail, scanUser, serviceSID)
}

func updateUser(ctx context.Context, q store.Querier, u User) error {
	return store.Affected(q.ExecContext(ctx, "UPDATE chat_users SET friendly_name = ?, attributes = ?, role_sid = ?, date_updated = ? "+
		"WHERE sid = ? AND service_sid = ?", nullStr(u.FriendlyName), u.Attributes, nullStr(u.RoleSID), u.Updated, u.SID, u.ServiceSID))
}

func deleteUser(ctx context.Context, q store.Querier, serviceSID, sid string) error {
	return store.Affected(q.ExecContext(ctx, "DELETE FROM chat_users WHERE sid = ? AND service_sid = ?", sid, serviceSID))
}

// --- channels ---

const channelCols = "c.seq, c.sid, c.account_sid, c.service_sid, c.friendly_name, c.unique_name, c.attributes, c.type, " +
	"c.created_by, c.members_count, c.messages_count, c.next_index, c.date_created, c.date_updated"

func scanChannel(row scanner) (Channel, error) {
	var c Channel
	var name, unique sql.NullString
	err := row.Scan(&c.Seq, &c.SID, &c.AccountSID, &c.ServiceSID, &name, &unique, &c.Attributes, &c.Type,
		&c.CreatedBy, &c.MembersCount, &c.MessagesCount, &c.NextIndex, &c.Created, &c.Updated)
	c.FriendlyName, c.UniqueName = name.String, unique.String
	return c, store.NoRows(err)
}

func insertChannel(ctx context.Context, q store.Querier, c Channel) error {
	_, err := q.ExecContext(ctx, "INSERT INTO chat_channels (sid, account_sid, service_sid, friendly_name, unique_name, "+
		"attributes, type, created_by, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		c.SID, c.AccountSID, c.ServiceSID, nullStr(c.FriendlyName), nullStr(c.UniqueName), c.Attributes, c.Type,
		c.CreatedBy, c.Created, c.Updated)
	return err
}

// getChannel finds a channel by SID or, failing the SID shape, by unique name.
func getChannel(ctx context.Context, q store.Querier, serviceSID, ref string) (Channel, error) {
	col := "c.unique_name"
	if isSID("CH", ref) {
		col = "c.sid"
	}
	return scanChannel(q.QueryRowContext(ctx, "SELECT "+channelCols+" FROM chat_channels c WHERE "+col+" = ? AND c.service_sid = ?", ref, serviceSID))
}

// listChannels reads a page of a service's channels, optionally only some
// types and only those where identity is a member.
func listChannels(ctx context.Context, q store.Querier, serviceSID string, types []string, memberIdentity string, after, before int64, limit int) ([]Channel, error) {
	query := "SELECT " + channelCols + " FROM chat_channels c WHERE c.service_sid = ?"
	args := []any{serviceSID}
	if len(types) > 0 {
		query += " AND c.type IN (?" + strings.Repeat(", ?", len(types)-1) + ")"
		for _, t := range types {
			args = append(args, t)
		}
	}
	if memberIdentity != "" {
		query += " AND EXISTS (SELECT 1 FROM chat_members m WHERE m.channel_sid = c.sid AND m.identity = ?)"
		args = append(args, memberIdentity)
	}
	cond, tail := store.Keyset("c.seq", after, before, limit)
	return store.QueryAll(ctx, q, query+cond+tail, scanChannel, args...)
}

func updateChannel(ctx context.Context, q store.Querier, c Channel) error {
	return store.Affected(q.ExecContext(ctx, "UPDATE chat_channels SET friendly_name = ?, unique_name = ?, attributes = ?, "+
		"created_by = ?, date_created = ?, date_updated = ? WHERE sid = ? AND service_sid = ?",
		nullStr(c.FriendlyName), nullStr(c.UniqueName), c.Attributes, c.CreatedBy, c.Created, c.Updated, c.SID, c.ServiceSID))
}

func deleteChannel(ctx context.Context, q store.Querier, serviceSID, sid string) error {
	return store.Affected(q.ExecContext(ctx, "DELETE FROM chat_channels WHERE sid = ? AND service_sid = ?", sid, serviceSID))
}

// takeIndex bumps the channel's next index and returns the one it had.
// The UPDATE locks the channel row until the transaction ends, so
// concurrent sends to one channel queue here, and a rolled-back send
// gives its index back: indexes are gap-free and strictly increasing.
func takeIndex(ctx context.Context, q store.Querier, channelSID string) (int64, error) {
	var next int64
	err := q.QueryRowContext(ctx, "UPDATE chat_channels SET next_index = next_index + 1, messages_count = messages_count + 1 "+
		"WHERE sid = ? RETURNING next_index", channelSID).Scan(&next)
	return next - 1, store.NoRows(err)
}

func addCount(ctx context.Context, q store.Querier, channelSID, column string, delta int) error {
	_, err := q.ExecContext(ctx, "UPDATE chat_channels SET "+column+" = "+column+" + ? WHERE sid = ?", delta, channelSID)
	return err
}

// --- members ---

const memberCols = "seq, sid, account_sid, service_sid, channel_sid, identity, role_sid, last_consumed_message_index, " +
	"last_consumption_timestamp, attributes, date_created, date_updated"

func scanMember(row scanner) (Member, error) {
	var m Member
	var role sql.NullString
	var lcmi, lct sql.NullInt64
	err := row.Scan(&m.Seq, &m.SID, &m.AccountSID, &m.ServiceSID, &m.ChannelSID, &m.Identity, &role, &lcmi, &lct,
		&m.Attributes, &m.Created, &m.Updated)
	m.RoleSID, m.LastConsumptionTimestamp = role.String, lct.Int64
	if lcmi.Valid {
		m.LastConsumedMessageIndex = &lcmi.Int64
	}
	return m, store.NoRows(err)
}

func nullIndex(p *int64) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *p, Valid: true}
}

func insertMember(ctx context.Context, q store.Querier, m Member) error {
	_, err := q.ExecContext(ctx, "INSERT INTO chat_members (sid, account_sid, service_sid, channel_sid, identity, role_sid, "+
		"last_consumed_message_index, last_consumption_timestamp, attributes, date_created, date_updated) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		m.SID, m.AccountSID, m.ServiceSID, m.ChannelSID, m.Identity, nullStr(m.RoleSID), nullIndex(m.LastConsumedMessageIndex),
		sql.NullInt64{Int64: m.LastConsumptionTimestamp, Valid: m.LastConsumptionTimestamp != 0}, m.Attributes, m.Created, m.Updated)
	return err
}

// getMember finds a member by SID or, failing the SID shape, by identity.
func getMember(ctx context.Context, q store.Querier, channelSID, ref string) (Member, error) {
	col := "identity"
	if isSID("MB", ref) {
		col = "sid"
	}
	return scanMember(q.QueryRowContext(ctx, "SELECT "+memberCols+" FROM chat_members WHERE "+col+" = ? AND channel_sid = ?", ref, channelSID))
}

// memberByIdentity finds a member by identity only (never by SID): for
// identities that come from tokens and in-process callers, not paths.
func memberByIdentity(ctx context.Context, q store.Querier, channelSID, identity string) (Member, error) {
	return scanMember(q.QueryRowContext(ctx, "SELECT "+memberCols+" FROM chat_members WHERE identity = ? AND channel_sid = ?", identity, channelSID))
}

func listMembers(ctx context.Context, q store.Querier, channelSID string, identities []string, after, before int64, limit int) ([]Member, error) {
	query := "SELECT " + memberCols + " FROM chat_members WHERE channel_sid = ?"
	args := []any{channelSID}
	if len(identities) > 0 {
		query += " AND identity IN (?" + strings.Repeat(", ?", len(identities)-1) + ")"
		for _, id := range identities {
			args = append(args, id)
		}
	}
	cond, tail := store.Keyset("seq", after, before, limit)
	return store.QueryAll(ctx, q, query+cond+tail, scanMember, args...)
}

func updateMember(ctx context.Context, q store.Querier, m Member) error {
	return store.Affected(q.ExecContext(ctx, "UPDATE chat_members SET role_sid = ?, last_consumed_message_index = ?, "+
		"last_consumption_timestamp = ?, attributes = ?, date_created = ?, date_updated = ? WHERE sid = ? AND channel_sid = ?",
		nullStr(m.RoleSID), nullIndex(m.LastConsumedMessageIndex),
		sql.NullInt64{Int64: m.LastConsumptionTimestamp, Valid: m.LastConsumptionTimestamp != 0},
		m.Attributes, m.Created, m.Updated, m.SID, m.ChannelSID))
}

// advanceHorizon sets a member's read horizon to index only if that moves
// it forward, in one statement, so concurrent reports never move it back.
func advanceHorizon(ctx context.Context, q store.Querier, channelSID, memberSID string, index, now int64) error {
	return store.Affected(q.ExecContext(ctx, "UPDATE chat_members SET last_consumed_message_index = ?, last_consumption_timestamp = ?, "+
		"date_updated = ? WHERE sid = ? AND channel_sid = ? AND (last_consumed_message_index IS NULL OR last_consumed_message_index < ?)",
		index, now, now, memberSID, channelSID, index))
}

func deleteMember(ctx context.Context, q store.Querier, channelSID, sid string) error {
	return store.Affected(q.ExecContext(ctx, "DELETE FROM chat_members WHERE sid = ? AND channel_sid = ?", sid, channelSID))
}

func countUserChannels(ctx context.Context, q store.Querier, serviceSID, identity string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM chat_members WHERE service_sid = ? AND identity = ?", serviceSID, identity).Scan(&n)
	return n, err
}

func memberChannelSIDs(ctx context.Context, q store.Querier, accountSID, serviceSID, identity string) ([]string, error) {
	return store.QueryAll(ctx, q, "SELECT channel_sid FROM chat_members WHERE account_sid = ? AND service_sid = ? AND identity = ? ORDER BY seq", func(r scanner) (string, error) {
		var s string
		return s, r.Scan(&s)
	}, accountSID, serviceSID, identity)
}

// --- messages ---

const messageCols = "seq, sid, account_sid, service_sid, channel_sid, msg_index, from_identity, body, attributes, " +
	"last_updated_by, was_edited, client_message_id, date_created, date_updated"

func scanMessage(row scanner) (Message, error) {
	var m Message
	var by, cid sql.NullString
	err := row.Scan(&m.Seq, &m.SID, &m.AccountSID, &m.ServiceSID, &m.ChannelSID, &m.Index, &m.From, &m.Body,
		&m.Attributes, &by, &m.WasEdited, &cid, &m.Created, &m.Updated)
	m.LastUpdatedBy, m.ClientMessageID = by.String, cid.String
	return m, store.NoRows(err)
}

func insertMessage(ctx context.Context, q store.Querier, m Message) error {
	_, err := q.ExecContext(ctx, "INSERT INTO chat_messages (sid, account_sid, service_sid, channel_sid, msg_index, "+
		"from_identity, body, attributes, last_updated_by, was_edited, client_message_id, date_created, date_updated) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		m.SID, m.AccountSID, m.ServiceSID, m.ChannelSID, m.Index, m.From, m.Body, m.Attributes, nullStr(m.LastUpdatedBy),
		m.WasEdited, nullStr(m.ClientMessageID), m.Created, m.Updated)
	return err
}

func getMessage(ctx context.Context, q store.Querier, channelSID, sid string) (Message, error) {
	return scanMessage(q.QueryRowContext(ctx, "SELECT "+messageCols+" FROM chat_messages WHERE sid = ? AND channel_sid = ?", sid, channelSID))
}

// messageByClientID finds a sender's earlier send with the same client
// message id. The id is the sender's own: two members that happen to pick
// the same id each keep their message.
func messageByClientID(ctx context.Context, q store.Querier, channelSID, from, clientID string) (Message, error) {
	return scanMessage(q.QueryRowContext(ctx, "SELECT "+messageCols+" FROM chat_messages WHERE channel_sid = ? AND from_identity = ? AND client_message_id = ?", channelSID, from, clientID))
}

// descBase turns descending seq order into the ascending keys the paging
// envelope works with: key = descBase - seq.
const descBase = int64(1) << 52

// listMessages reads one page in index order (seq follows index within a
// channel because the index is taken under the channel's row lock before
// the insert). desc pages use keys descBase - seq.
func listMessages(ctx context.Context, q store.Querier, channelSID string, desc bool, after, before int64, limit int) ([]Message, error) {
	query := "SELECT " + messageCols + " FROM chat_messages WHERE channel_sid = ?"
	if !desc {
		cond, tail := store.Keyset("seq", after, before, limit)
		return store.QueryAll(ctx, q, query+cond+tail, scanMessage, channelSID)
	}
	switch {
	case before > 0:
		query += fmt.Sprintf(" AND seq > %d ORDER BY seq ASC LIMIT %d", descBase-before, limit)
	case after > 0:
		query += fmt.Sprintf(" AND seq < %d ORDER BY seq DESC LIMIT %d", descBase-after, limit)
	default:
		query += fmt.Sprintf(" ORDER BY seq DESC LIMIT %d", limit)
	}
	return store.QueryAll(ctx, q, query, scanMessage, channelSID)
}

// messagesAfter reads messages with index > after, ascending.
func messagesAfter(ctx context.Context, q store.Querier, channelSID string, after int64, limit int) ([]Message, error) {
	return store.QueryAll(ctx, q, "SELECT "+messageCols+" FROM chat_messages WHERE channel_sid = ? AND msg_index > ? "+
		"ORDER BY msg_index ASC LIMIT ?", scanMessage, channelSID, after, limit)
}

// messagesBefore reads the limit messages with index < before nearest to
// it, descending (the caller reverses them).
func messagesBefore(ctx context.Context, q store.Querier, channelSID string, before int64, limit int) ([]Message, error) {
	return store.QueryAll(ctx, q, "SELECT "+messageCols+" FROM chat_messages WHERE channel_sid = ? AND msg_index < ? "+
		"ORDER BY msg_index DESC LIMIT ?", scanMessage, channelSID, before, limit)
}

func updateMessage(ctx context.Context, q store.Querier, m Message) error {
	return store.Affected(q.ExecContext(ctx, "UPDATE chat_messages SET from_identity = ?, body = ?, attributes = ?, last_updated_by = ?, "+
		"was_edited = ?, date_created = ?, date_updated = ? WHERE sid = ? AND channel_sid = ?",
		m.From, m.Body, m.Attributes, nullStr(m.LastUpdatedBy), m.WasEdited, m.Created, m.Updated, m.SID, m.ChannelSID))
}

func deleteMessage(ctx context.Context, q store.Querier, channelSID, sid string) error {
	return store.Affected(q.ExecContext(ctx, "DELETE FROM chat_messages WHERE sid = ? AND channel_sid = ?", sid, channelSID))
}

// --- channel webhooks ---

const webhookCols = "seq, sid, account_sid, service_sid, channel_sid, type, url, method, filters, triggers, flow_sid, " +
	"retry_count, date_created, date_updated"

func scanWebhook(row scanner) (Webhook, error) {
	var w Webhook
	var u, flow sql.NullString
	var filters, triggers string
	err := row.Scan(&w.Seq, &w.SID, &w.AccountSID, &w.ServiceSID, &w.ChannelSID, &w.Type, &u, &w.Method, &filters,
		&triggers, &flow, &w.RetryCount, &w.Created, &w.Updated)
	w.URL, w.FlowSID = u.String, flow.String
	w.Filters, w.Triggers = parseList(filters), parseList(triggers)
	return w, store.NoRows(err)
}

func insertWebhook(ctx context.Context, q store.Querier, w Webhook) error {
	_, err := q.ExecContext(ctx, "INSERT INTO chat_channel_webhooks (sid, account_sid, service_sid, channel_sid, type, url, "+
		"method, filters, triggers, flow_sid, retry_count, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		w.SID, w.AccountSID, w.ServiceSID, w.ChannelSID, w.Type, nullStr(w.URL), w.Method, jsonList(w.Filters),
		jsonList(w.Triggers), nullStr(w.FlowSID), w.RetryCount, w.Created, w.Updated)
	return err
}

func getWebhook(ctx context.Context, q store.Querier, channelSID, sid string) (Webhook, error) {
	return scanWebhook(q.QueryRowContext(ctx, "SELECT "+webhookCols+" FROM chat_channel_webhooks WHERE sid = ? AND channel_sid = ?", sid, channelSID))
}

func listWebhooks(ctx context.Context, q store.Querier, channelSID string, after, before int64, limit int) ([]Webhook, error) {
	cond, tail := store.Keyset("seq", after, before, limit)
	return store.QueryAll(ctx, q, "SELECT "+webhookCols+" FROM chat_channel_webhooks WHERE channel_sid = ?"+cond+tail, scanWebhook, channelSID)
}

func countWebhooks(ctx context.Context, q store.Querier, channelSID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM chat_channel_webhooks WHERE channel_sid = ?", channelSID).Scan(&n)
	return n, err
}

func updateWebhook(ctx context.Context, q store.Querier, w Webhook) error {
	return store.Affected(q.ExecContext(ctx, "UPDATE chat_channel_webhooks SET url = ?, method = ?, filters = ?, triggers = ?, "+
		"flow_sid = ?, retry_count = ?, date_updated = ? WHERE sid = ? AND channel_sid = ?",
		nullStr(w.URL), w.Method, jsonList(w.Filters), jsonList(w.Triggers), nullStr(w.FlowSID), w.RetryCount, w.Updated,
		w.SID, w.ChannelSID))
}

func deleteWebhook(ctx context.Context, q store.Querier, channelSID, sid string) error {
	return store.Affected(q.ExecContext(ctx, "DELETE FROM chat_channel_webhooks WHERE sid = ? AND channel_sid = ?", sid, channelSID))
}
