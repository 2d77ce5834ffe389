package chat

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// Methods for other parts of Parley (realtime, flex, studio), with stdlib
// types only so that internal/app can pass *Service into the interfaces
// those packages declare. They act for the account (no access token
// here: the caller has checked its own client's rights), and their
// errors are *rest.Error when the caller asked for something wrong.

// MemberChannels lists the channels identity is a member of, oldest
// membership first.
func (s *Service) MemberChannels(ctx context.Context, accountSID, serviceSID, identity string) ([]string, error) {
	out, err := memberChannelSIDs(ctx, s.db, accountSID, serviceSID, identity)
	return out, wrap("member channels", err)
}

// ChannelSnapshot returns a channel's REST JSON, its members' (a JSON
// array) and its last message index (-1 before the first message): what
// a client resuming after a disconnect needs besides the messages.
func (s *Service) ChannelSnapshot(ctx context.Context, accountSID, serviceSID, channelSID string) (json.RawMessage, json.RawMessage, int64, error) {
	_, ch, err := s.channel(ctx, system(accountSID), serviceSID, channelSID)
	if err != nil {
		return nil, nil, 0, err
	}
	members, err := listMembers(ctx, s.db, ch.SID, nil, 0, 0, ch.MembersCount+1000)
	if err != nil {
		return nil, nil, 0, wrap("snapshot", err)
	}
	rows := make([]memberJSON, len(members))
	for i, m := range members {
		rows[i] = s.memberJSON(m)
	}
	chJSON, _ := json.Marshal(s.channelJSON(ch))
	mJSON, _ := json.Marshal(rows)
	return chJSON, mJSON, ch.NextIndex - 1, nil
}

// IsMember reports whether identity is a member of the channel.
func (s *Service) IsMember(ctx context.Context, accountSID, serviceSID, channelSID string, identity string) (bool, error) {
	_, ch, err := s.channel(ctx, system(accountSID), serviceSID, channelSID)
	if err != nil {
		return false, err
	}
	ok, err := isMember(ctx, s.db, ch.SID, identity)
	return ok, wrap("is member", err)
}

// maxHistory bounds one history read.
const maxHistory = 1000

func clampLimit(limit int) int {
	if limit <= 0 || limit > maxHistory {
		return maxHistory
	}
	return limit
}

// MessagesAfter returns up to limit messages with index > after, ascending.
func (s *Service) MessagesAfter(ctx context.Context, accountSID, serviceSID, channelSID string, after int64, limit int) ([]json.RawMessage, error) {
	_, ch, err := s.channel(ctx, system(accountSID), serviceSID, channelSID)
	if err != nil {
		return nil, err
	}
	msgs, err := messagesAfter(ctx, s.db, ch.SID, after, clampLimit(limit))
	if err != nil {
		return nil, wrap("messages after", err)
	}
	return s.rawMessages(msgs), nil
}

// MessagesBefore returns the up to limit messages with index < before
// nearest to it, in ascending order.
func (s *Service) MessagesBefore(ctx context.Context, accountSID, serviceSID, channelSID string, before int64, limit int) ([]json.RawMessage, error) {
	_, ch, err := s.channel(ctx, system(accountSID), serviceSID, channelSID)
	if err != nil {
		return nil, err
	}
	msgs, err := messagesBefore(ctx, s.db, ch.SID, before, clampLimit(limit))
	if err != nil {
		return nil, wrap("messages before", err)
	}
	slices.Reverse(msgs)
	return s.rawMessages(msgs), nil
}

func (s *Service) rawMessages(msgs []Message) []json.RawMessage {
	out := make([]json.RawMessage, len(msgs))
	for i, m := range msgs {
		out[i], _ = json.Marshal(s.messageJSON(m))
	}
	return out
}

// SendMessage sends a message as a client would (webhook Source "SDK"):
// the same limits, pre-event webhooks (which may refuse it), events and
// post-event webhooks as REST. A clientMessageID the channel has seen
// returns the original message and index. It does not check that from is
// a member; the realtime layer checks its client's membership itself.
func (s *Service) SendMessage(ctx context.Context, accountSID, serviceSID, channelSID, from, body, attributes, clientMessageID string) (json.RawMessage, int64, error) {
	return s.send(ctx, system(accountSID), serviceSID, channelSID, from, body, attributes, clientMessageID)
}

func (s *Service) send(ctx context.Context, c caller, serviceSID, channelSID, from, body, attributes, clientMessageID string) (json.RawMessage, int64, error) {
	if err := validDraft(from, body, attributes, clientMessageID); err != nil {
		return nil, 0, err
	}
	m, _, err := s.sendMessage(ctx, c, serviceSID, channelSID, Message{From: from, Body: body,
		Attributes: attributes, ClientMessageID: clientMessageID})
	if err != nil {
		return nil, 0, err
	}
	raw, err := json.Marshal(s.messageJSON(m))
	return raw, m.Index, err
}

// validDraft applies the REST limits to a message sent in-process.
func validDraft(from, body, attributes, clientMessageID string) error {
	if from != "" {
		if err := validIdentity("From", from, ""); err != nil {
			return err
		}
	}
	if err := validBody(body); err != nil {
		return err
	}
	if attributes != "" {
		if err := validAttributes("Attributes", attributes); err != nil {
			return err
		}
	}
	if err := validName("ClientMessageId", clientMessageID, MaxClientMessageID); err != nil {
		return err
	}
	return nil
}

// UpdateReadHorizon moves identity's read horizon (last consumed message
// index) forward to index, clamped to the channel's last message. Moving
// it backwards is ignored: a late, reordered report must not mark read
// messages unread. It fires member.updated like a REST update.
func (s *Service) UpdateReadHorizon(ctx context.Context, accountSID, serviceSID, channelSID, identity string, index int64) error {
	c := system(accountSID)
	c.identity = identity
	in, ch, err := s.channel(ctx, c, serviceSID, channelSID)
	if err != nil {
		return err
	}
	m, err := memberByIdentity(ctx, s.db, ch.SID, identity)
	if errors.Is(err, store.ErrNotFound) {
		return notMember(identity, ch.SID)
	}
	if err != nil {
		return wrap("read horizon", err)
	}
	if index < 0 {
		return rest.InvalidParam("index", "must be 0 or more")
	}
	index = min(index, ch.NextIndex-1)
	if index < 0 || (m.LastConsumedMessageIndex != nil && *m.LastConsumedMessageIndex >= index) {
		return nil
	}
	now := store.Now()
	err = advanceHorizon(ctx, s.db, ch.SID, m.SID, index, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil // another report moved it at least as far, or the member left
	}
	if err != nil {
		return wrap("read horizon", err)
	}
	m.LastConsumedMessageIndex, m.LastConsumptionTimestamp, m.Updated = &index, now, now
	s.memberUpdated(ctx, c, in, ch, m)
	return nil
}
