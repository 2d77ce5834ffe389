package chat

import (
	"context"
	"errors"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// errDuplicate rolls back a send whose client message id is already taken.
var errDuplicate = errors.New("chat: duplicate client message id")

// sendMessage adds a message to a channel. A draft with a ClientMessageID
// that the channel already has returns that message (created false), and
// fires nothing again.
func (s *Service) sendMessage(ctx context.Context, c caller, serviceSID, channelRef string, m Message) (Message, bool, error) {
	in, ch, err := s.channel(ctx, c, serviceSID, channelRef)
	if err != nil {
		return m, false, err
	}
	if !c.admin {
		m.From, m.LastUpdatedBy = c.identity, ""
	}
	if m.From == "" {
		m.From = "system"
	}
	if m.Attributes == "" {
		m.Attributes = "{}"
	}
	if m.ClientMessageID != "" {
		if orig, err := messageByClientID(ctx, s.db, ch.SID, m.From, m.ClientMessageID); err == nil {
			return orig, false, nil
		}
	}
	mod, err := s.pre(ctx, c, in, "onMessageSend", draftParams(ch.SID, m.From, m.Body, m.Attributes))
	if err != nil {
		return m, false, err
	}
	if err := applyPre(&m, mod); err != nil {
		return m, false, err
	}
	m, created, err := s.insertMessage(ctx, ch, m)
	if err != nil || !created {
		return m, created, err
	}
	ch.MessagesCount++
	s.publish(ctx, "message.added", ch, &m.Index, s.messageJSON(m))
	s.post(c, in, s.channelWebhooks(ctx, c, ch), "onMessageSent", messageParams(m), &m, &ch)
	return m, true, nil
}

// insertMessage takes the channel's next index and inserts m in one
// transaction (see the package comment for why that is gap-free).
func (s *Service) insertMessage(ctx context.Context, ch Channel, m Message) (Message, bool, error) {
	m.SID, m.AccountSID, m.ServiceSID, m.ChannelSID = rest.NewSID("IM"), ch.AccountSID, ch.ServiceSID, ch.SID
	stamp(&m.Created, &m.Updated)
	err := s.db.InTx(ctx, func(q store.Querier) error {
		idx, err := takeIndex(ctx, q, ch.SID)
		if err != nil {
			return err
		}
		m.Index = idx
		if m.ClientMessageID != "" {
			// Read after takeIndex: the channel row is locked now, so a
			// concurrent retry that committed first is visible here.
			if _, err := messageByClientID(ctx, q, ch.SID, m.From, m.ClientMessageID); err == nil {
				return errDuplicate
			}
		}
		return insertMessage(ctx, q, m)
	})
	if m.ClientMessageID != "" && (errors.Is(err, errDuplicate) || errors.Is(err, store.ErrConflict)) {
		orig, err := messageByClientID(ctx, s.db, ch.SID, m.From, m.ClientMessageID)
		return orig, false, wrap("send message", err)
	}
	if err != nil {
		return m, false, wrap("send message", notFound(err, "Channel", ch.SID))
	}
	return m, true, nil
}

// applyPre applies what a pre-event webhook answered, within the limits.
func applyPre(m *Message, r preResult) error {
	if r.Body != nil {
		if err := validBody(*r.Body); err != nil {
			return err
		}
		m.Body = *r.Body
	}
	if r.Attributes != nil {
		if err := validAttributes("Attributes", *r.Attributes); err != nil {
			return err
		}
		m.Attributes = *r.Attributes
	}
	return nil
}

// message loads a message of a channel the caller sees.
func (s *Service) message(ctx context.Context, c caller, serviceSID, channelRef, sid string) (Instance, Channel, Message, error) {
	in, ch, err := s.channel(ctx, c, serviceSID, channelRef)
	if err != nil {
		return in, ch, Message{}, err
	}
	if !isSID("IM", sid) {
		return in, ch, Message{}, rest.NotFound("The requested resource Message %s was not found", sid)
	}
	m, err := getMessage(ctx, s.db, ch.SID, sid)
	return in, ch, m, notFound(err, "Message", sid)
}

func (s *Service) listMessages(ctx context.Context, c caller, serviceSID, channelRef string, desc bool, p rest.Page) (string, []Message, error) {
	_, ch, err := s.channel(ctx, c, serviceSID, channelRef)
	if err != nil {
		return "", nil, err
	}
	out, err := listMessages(ctx, s.db, ch.SID, desc, p.After, p.Before, p.Fetch())
	return ch.SID, out, wrap("list messages", err)
}

// messagePatch holds the optional fields of a message update.
type messagePatch struct {
	Body, Attributes, From, LastUpdatedBy *string
	DateCreated, DateUpdated              *int64
}

func (s *Service) updateMessage(ctx context.Context, c caller, serviceSID, channelRef, sid string, p messagePatch) (Message, error) {
	in, ch, m, err := s.message(ctx, c, serviceSID, channelRef, sid)
	if err != nil {
		return m, err
	}
	if !c.admin {
		if m.From != c.identity || p.From != nil || p.DateCreated != nil || p.DateUpdated != nil {
			return m, rest.Forbidden("An access token may change only the body and attributes of its own messages")
		}
		p.LastUpdatedBy = &c.identity
	}
	if p.Body != nil && *p.Body != m.Body {
		m.WasEdited = true
	}
	set(&m.Body, p.Body)
	set(&m.Attributes, p.Attributes)
	set(&m.From, p.From)
	set(&m.LastUpdatedBy, p.LastUpdatedBy)
	set(&m.Created, p.DateCreated)
	mod, err := s.pre(ctx, c, in, "onMessageUpdate", messageParams(m))
	if err != nil {
		return m, err
	}
	if err := applyPre(&m, mod); err != nil {
		return m, err
	}
	m.Updated = store.Now()
	set(&m.Updated, p.DateUpdated)
	if err := updateMessage(ctx, s.db, m); err != nil {
		return m, wrap("update message", notFound(err, "Message", sid))
	}
	s.publish(ctx, "message.updated", ch, &m.Index, s.messageJSON(m))
	s.post(c, in, s.channelWebhooks(ctx, c, ch), "onMessageUpdated", messageParams(m), &m, &ch)
	return m, nil
}

func (s *Service) deleteMessage(ctx context.Context, c caller, serviceSID, channelRef, sid string) error {
	in, ch, m, err := s.message(ctx, c, serviceSID, channelRef, sid)
	if err != nil {
		return err
	}
	if !c.admin && m.From != c.identity {
		return rest.Forbidden("An access token may delete only its own messages")
	}
	if _, err := s.pre(ctx, c, in, "onMessageRemove", messageParams(m)); err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(q store.Querier) error {
		if err := deleteMessage(ctx, q, ch.SID, m.SID); err != nil {
			return err
		}
		return addCount(ctx, q, ch.SID, "messages_count", -1)
	})
	if err != nil {
		return wrap("delete message", notFound(err, "Message", sid))
	}
	ch.MessagesCount--
	s.publish(ctx, "message.removed", ch, &m.Index, s.messageJSON(m))
	s.post(c, in, s.channelWebhooks(ctx, c, ch), "onMessageRemoved", messageParams(m), &m, &ch)
	return nil
}
