package chat

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// StudioDispatcher runs a Studio flow for a chat message: what a channel
// webhook of Type studio delivers, in-process. internal/app plugs Studio
// in with SetStudio.
type StudioDispatcher interface {
	DispatchMessage(ctx context.Context, ev StudioMessage) error
}

// StudioMessage is what Studio's trigger needs from an onMessageSent event
// (trigger.message.* in a flow).
type StudioMessage struct {
	AccountSID string
	ServiceSID string // InstanceSid
	ChannelSID string
	FlowSID    string
	WebhookSID string
	MessageSID string
	Index      int64
	From       string
	Body       string
	Attributes string
	// ChannelAttributes is the channel's attributes JSON (from, channel_type,
	// status, pre_engagement_data for Flex web chats).
	ChannelAttributes json.RawMessage
	// Source is "SDK" (a client or SendMessage) or "API" (REST); a flow
	// ignores messages it sent itself by From.
	Source      string
	DateCreated time.Time
}

// studioTimeout bounds one dispatch, so a stuck flow cannot stall the
// channel's queue for ever.
const studioTimeout = 30 * time.Second

// SetStudio plugs in the Studio engine. Until it is set, studio webhooks
// are recorded but deliver nothing.
func (s *Service) SetStudio(d StudioDispatcher) {
	s.studioMu.Lock()
	s.studio = d
	s.studioMu.Unlock()
}

func (s *Service) studioDispatcher() StudioDispatcher {
	s.studioMu.RLock()
	defer s.studioMu.RUnlock()
	return s.studio
}

func (s *Service) dispatchStudio(c caller, h Webhook, m Message, ch Channel) {
	d := s.studioDispatcher()
	if d == nil || h.FlowSID == "" {
		return
	}
	ev := StudioMessage{AccountSID: m.AccountSID, ServiceSID: m.ServiceSID, ChannelSID: m.ChannelSID,
		FlowSID: h.FlowSID, WebhookSID: h.SID, MessageSID: m.SID, Index: m.Index, From: m.From, Body: m.Body,
		Attributes: m.Attributes, ChannelAttributes: json.RawMessage(ch.Attributes), Source: c.source,
		DateCreated: time.UnixMilli(m.Created).UTC()}
	s.serial.run(m.ChannelSID, func() {
		ctx, cancel := context.WithTimeout(context.Background(), studioTimeout)
		defer cancel()
		// Dispatch is asynchronous: by the time this message's turn comes,
		// the chat may have ended and its studio webhook been removed (the
		// janitor does that). Delivering it then would start a second
		// engagement on a closed chat, so a message whose webhook is gone
		// is dropped here.
		if _, err := getWebhook(ctx, s.db, m.ChannelSID, h.SID); errors.Is(err, store.ErrNotFound) {
			s.logger.Debug("studio webhook removed before dispatch; message not delivered",
				slog.String("channel_sid", ev.ChannelSID), slog.String("message_sid", ev.MessageSID))
			return
		}
		if err := d.DispatchMessage(ctx, ev); err != nil {
			s.logger.Warn("studio dispatch failed", slog.String("channel_sid", ev.ChannelSID),
				slog.String("flow_sid", ev.FlowSID), slog.String("message_sid", ev.MessageSID), slog.Any("error", err))
		}
	})
}

// serial runs functions one at a time per key, in the order queued, each
// key on its own goroutine that ends when its queue is empty. A channel's
// messages reach Studio in index order; channels never wait on each other.
type serial struct {
	mu     sync.Mutex
	queues map[string][]func()
	wg     sync.WaitGroup
}

func (q *serial) run(key string, fn func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queues == nil {
		q.queues = map[string][]func(){}
	}
	pending, busy := q.queues[key]
	q.queues[key] = append(pending, fn)
	if busy {
		return
	}
	q.wg.Add(1)
	go q.drain(key)
}

func (q *serial) drain(key string) {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		fns := q.queues[key]
		if len(fns) == 0 {
			delete(q.queues, key)
			q.mu.Unlock()
			return
		}
		fn := fns[0]
		q.queues[key] = fns[1:]
		q.mu.Unlock()
		fn()
	}
}

// wait blocks until every queued function has run.
func (q *serial) wait() { q.wg.Wait() }
