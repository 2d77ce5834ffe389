package chat

import (
	"context"
	"database/sql"
	"net/http"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// User Channels (Users/{US}/Channels) are a read-only view of a user's
// memberships with their unread counts. Parley keeps no invitations or
// per-channel notification levels, so status is always "joined" and
// notification_level "default".

type userChannel struct {
	Seq        int64
	MemberSID  string
	ChannelSID string
	Horizon    *int64
	Unread     int64
}

type userChannelJSON struct {
	AccountSID               string            `json:"account_sid"`
	ServiceSID               string            `json:"service_sid"`
	ChannelSID               string            `json:"channel_sid"`
	UserSID                  string            `json:"user_sid"`
	MemberSID                string            `json:"member_sid"`
	Status                   string            `json:"status"`
	LastConsumedMessageIndex *int64            `json:"last_consumed_message_index"`
	UnreadMessagesCount      *int64            `json:"unread_messages_count"`
	Links                    map[string]string `json:"links"`
	URL                      string            `json:"url"`
	NotificationLevel        string            `json:"notification_level"`
	seq                      int64
}

func (s *Service) userChannelJSON(u User, uc userChannel) userChannelJSON {
	j := userChannelJSON{AccountSID: u.AccountSID, ServiceSID: u.ServiceSID, ChannelSID: uc.ChannelSID, UserSID: u.SID,
		MemberSID: uc.MemberSID, Status: "joined", LastConsumedMessageIndex: uc.Horizon, NotificationLevel: "default",
		URL: s.url(userPath(u.ServiceSID, u.SID) + "/Channels/" + uc.ChannelSID), seq: uc.Seq,
		Links: map[string]string{"channel": s.url(channelPath(u.ServiceSID, uc.ChannelSID)),
			"member": s.url(memberPath(u.ServiceSID, uc.ChannelSID, uc.MemberSID))}}
	if uc.Horizon != nil {
		j.UnreadMessagesCount = &uc.Unread
	}
	return j
}

// userChannelRows reads a user's memberships; unread counts the stored
// messages after the read horizon.
func userChannelRows(ctx context.Context, q store.Querier, serviceSID, identity, channelSID string, after, before int64, limit int) ([]userChannel, error) {
	query := "SELECT m.seq, m.sid, m.channel_sid, m.last_consumed_message_index, " +
		"(SELECT COUNT(*) FROM chat_messages x WHERE x.channel_sid = m.channel_sid AND x.msg_index > m.last_consumed_message_index) " +
		"FROM chat_members m WHERE m.service_sid = ? AND m.identity = ?"
	args := []any{serviceSID, identity}
	if channelSID != "" {
		query += " AND m.channel_sid = ?"
		args = append(args, channelSID)
	}
	cond, tail := store.Keyset("m.seq", after, before, limit)
	return store.QueryAll(ctx, q, query+cond+tail, func(r scanner) (userChannel, error) {
		var uc userChannel
		var horizon sql.NullInt64
		err := r.Scan(&uc.Seq, &uc.MemberSID, &uc.ChannelSID, &horizon, &uc.Unread)
		if horizon.Valid {
			uc.Horizon = &horizon.Int64
		}
		return uc, err
	}, args...)
}

func (h *handlers) listUserChannels(w http.ResponseWriter, r *http.Request) error {
	c, f, is, err := h.request(r, true)
	if err != nil {
		return err
	}
	ref, err := pathRef(r, "UserSid")
	if err != nil {
		return err
	}
	p, err := page(f, 50)
	if err != nil {
		return err
	}
	_, u, err := h.s.user(r.Context(), c, is, ref)
	if err != nil {
		return err
	}
	rows, err := userChannelRows(r.Context(), h.s.db, is, u.Identity, "", p.After, p.Before, p.Fetch())
	if err != nil {
		return wrap("user channels", err)
	}
	return writeList(w, r, h, "channels", userPath(is, u.SID)+"/Channels",
		mapRows(rows, func(uc userChannel) userChannelJSON { return h.s.userChannelJSON(u, uc) }),
		func(j userChannelJSON) int64 { return j.seq }, p)
}

func (h *handlers) fetchUserChannel(w http.ResponseWriter, r *http.Request) error {
	c, _, is, err := h.request(r, true)
	if err != nil {
		return err
	}
	userRef, err := pathRef(r, "UserSid")
	if err != nil {
		return err
	}
	channelRef, err := pathRef(r, "ChannelSid")
	if err != nil {
		return err
	}
	_, u, err := h.s.user(r.Context(), c, is, userRef)
	if err != nil {
		return err
	}
	ch, err := getChannel(r.Context(), h.s.db, is, channelRef)
	if err != nil {
		return notFound(err, "Channel", channelRef)
	}
	rows, err := userChannelRows(r.Context(), h.s.db, is, u.Identity, ch.SID, 0, 0, 1)
	if err != nil {
		return wrap("user channel", err)
	}
	if len(rows) == 0 {
		return rest.NotFound("User %s is not a member of channel %s", u.Identity, ch.SID)
	}
	return ok(w, h.s.userChannelJSON(u, rows[0]))
}
