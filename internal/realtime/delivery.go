package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"

	"github.com/parleychat/parley/internal/rest"
)

// Delivery of a channel's events to one session: subscribe (with the
// replay of missed messages), gap fills from the store, and the ordering
// rules every live event goes through.

type subscribeReply struct {
	ChannelSID string          `json:"channel_sid"`
	Channel    json.RawMessage `json:"channel"`
	Members    json.RawMessage `json:"members"`
	LastIndex  int64           `json:"last_index"`
	Replayed   int             `json:"replayed"`
}

// subscribe starts delivery of a channel's events. With last_index, the
// messages after it are sent first, in order; the reply then carries the
// channel's current state; live events follow it, none twice.
func (sess *session) subscribe(f *ClientFrame, p *rest.Principal) (any, error) {
	ch := f.ChannelSID
	monitor, err := sess.requireReader(p, ch)
	if err != nil {
		return nil, err
	}
	sub := &channelSub{filling: true, monitor: monitor}
	sess.mu.Lock()
	sess.subs[ch] = sub
	sess.mu.Unlock()
	// Subscribed before the snapshot is read: whatever happens after the
	// read is held in pending and applied after the reply.
	sess.svc.subscribeChannel(ch, sess)
	channel, members, last, err := sess.svc.chat.ChannelSnapshot(sess.ctx, p.AccountSID, p.ChatServiceSID, ch)
	if err != nil {
		sess.dropSub(ch)
		return nil, err
	}
	if f.LastIndex != nil {
		last = min(last, *f.LastIndex)
	}
	sess.mu.Lock()
	sub.last = last
	sess.mu.Unlock()
	err = sess.fill(ch, sub, true, func(last int64, replayed int) []byte {
		return encodeReply(f.ID, subscribeReply{ChannelSID: ch, Channel: channel, Members: members,
			LastIndex: last, Replayed: replayed})
	})
	if err != nil {
		sess.dropSub(ch)
		return nil, err
	}
	return noReply, nil
}

// fill reads the messages after sub.last from the store and sends them,
// page by page, then applies the events that arrived meanwhile. replay
// (a subscribe) waits for room in the queue; a gap fill does not. reply,
// when set, builds a frame sent between the messages and the held events.
func (sess *session) fill(ch string, sub *channelSub, replay bool, reply func(last int64, replayed int) []byte) error {
	p := sess.principal()
	sent := 0
	for {
		sess.mu.Lock()
		if sess.closed || sess.subs[ch] != sub {
			sess.mu.Unlock()
			return nil
		}
		after, covered := sub.last, len(sub.pending)
		sess.mu.Unlock()
		msgs, err := sess.svc.chat.MessagesAfter(sess.ctx, p.AccountSID, p.ChatServiceSID, ch, after, fillPage)
		if err != nil {
			return err
		}
		frames, last, err := messageFrames(p, ch, after, msgs)
		if err != nil {
			return err
		}
		if err := sess.deliver(frames, replay); err != nil {
			return err
		}
		sent += len(frames)
		sess.mu.Lock()
		if sess.closed || sess.subs[ch] != sub {
			sess.mu.Unlock()
			return nil
		}
		sub.last = last
		if len(msgs) == fillPage {
			sess.mu.Unlock()
			continue
		}
		if reply != nil {
			sess.sendLocked(reply(last, sent))
		}
		sess.drainLocked(ch, sub, covered)
		sess.mu.Unlock()
		return nil
	}
}

// messageFrames turns store messages into message.added frames, skipping
// any at or below after.
func messageFrames(p *rest.Principal, ch string, after int64, msgs []json.RawMessage) ([][]byte, int64, error) {
	frames := make([][]byte, 0, len(msgs))
	last := after
	for _, m := range msgs {
		idx, err := messageIndex(m)
		if err != nil {
			return nil, last, err
		}
		if idx <= last {
			continue
		}
		last = idx
		frames = append(frames, encodeEvent(Event{Type: TypeMessageAdded, AccountSID: p.AccountSID,
			ServiceSID: p.ChatServiceSID, ChannelSID: ch, Index: &idx, Data: m}))
	}
	return frames, last, nil
}

// deliver sends store-read frames: while a channel fills, this goroutine
// is the only one sending for it, so the frames stay in order.
func (sess *session) deliver(frames [][]byte, wait bool) error {
	if !wait {
		sess.mu.Lock()
		for _, f := range frames {
			sess.sendLocked(f)
		}
		sess.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithTimeout(sess.ctx, sess.svc.opts.WriteTimeout)
	defer cancel()
	for _, f := range frames {
		if err := sess.t.sendWait(ctx, f); err != nil {
			if errors.Is(err, errOutboxFull) {
				sess.close(CloseSlowConsumer, "slow consumer: the replay could not be delivered in time")
			}
			return context.Canceled
		}
	}
	return nil
}

// drainLocked ends a fill: held events are applied in arrival order. The
// first covered of them arrived before the last store read, so an index
// the store did not return was deleted, not missed: it is applied as is.
func (sess *session) drainLocked(ch string, sub *channelSub, covered int) {
	pending := sub.pending
	sub.pending, sub.filling = nil, false
	for i, ev := range pending {
		if sess.closed || sess.subs[ch] != sub {
			return
		}
		if sub.filling { // an event started another fill: the rest wait for it
			sub.pending = append(sub.pending, pending[i:]...)
			return
		}
		sess.applyLocked(ch, sub, ev, i < covered)
	}
}

// onChannelEvent is a chat event for a channel this session subscribed to.
func (sess *session) onChannelEvent(ev Event) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sub := sess.subs[ev.ChannelSID]
	if sess.closed || sub == nil || sess.p == nil || ev.AccountSID != sess.p.AccountSID || ev.ServiceSID != sess.p.ChatServiceSID {
		return
	}
	sess.applyLocked(ev.ChannelSID, sub, ev, false)
}

// applyLocked delivers one live event in index order: an old index is a
// duplicate, a jump starts a fill from the store.
func (sess *session) applyLocked(ch string, sub *channelSub, ev Event, deleted bool) {
	if sub.filling {
		if len(sub.pending) >= maxPending {
			sess.closeLocked(CloseSlowConsumer, "slow consumer: too many events behind a gap")
			return
		}
		sub.pending = append(sub.pending, ev)
		return
	}
	switch ev.Type {
	case TypeMessageAdded:
		idx := *ev.Index
		if idx <= sub.last {
			return
		}
		if idx > sub.last+1 && !deleted {
			sess.startFillLocked(ch, sub, ev)
			return
		}
		sub.last = idx
	case TypeMessageUpdated, TypeMessageRemoved:
		if *ev.Index > sub.last && !deleted {
			sess.startFillLocked(ch, sub, ev)
			return
		}
	case TypeTypingStarted, TypeTypingEnded:
		if ev.Identity == sess.p.Identity {
			return
		}
	}
	sess.sendLocked(ev.Raw)
	switch {
	case ev.Type == TypeMemberLeft && ev.Identity == sess.p.Identity:
		sess.dropSubLocked(ch, "removed from the channel")
	case ev.Type == TypeChannelRemoved:
		sess.dropSubLocked(ch, "channel removed")
	}
}

func (sess *session) startFillLocked(ch string, sub *channelSub, ev Event) {
	sess.svc.stats.GapFills.Add(1)
	sess.suspect = true
	sub.filling = true
	sub.pending = append(sub.pending, ev)
	go func() {
		if err := sess.fill(ch, sub, false, nil); err != nil && sess.ctx.Err() == nil {
			sess.svc.log.Error("gap fill failed", slog.String("channel_sid", ch), slog.Any("error", err))
			sess.close(CloseInternal, "could not read missed messages: reconnect and resume")
		}
	}()
}

// onOwnMembership is the session's identity joining or leaving a channel
// it has not subscribed to: the client learns of it and may subscribe.
func (sess *session) onOwnMembership(ev Event) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.closed || sess.p == nil || sess.subs[ev.ChannelSID] != nil {
		return // a subscribed channel's events come through onChannelEvent
	}
	sess.sendLocked(ev.Raw)
}

// onWorkerEvent forwards a TaskRouter event for the session's worker.
func (sess *session) onWorkerEvent(ev Event) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.closed || sess.p == nil || ev.AccountSID != sess.p.AccountSID || ev.WorkerSID != sess.p.WorkerSID {
		return
	}
	sess.sendLocked(ev.Raw)
}

// workspaceHold is what a supervisor's session keeps between two
// workspace signals: the timer runs after a signal is sent; signals
// arriving meanwhile are merged and sent when it fires.
type workspaceHold struct {
	armed bool
	held  bool
	types []string
	frame Event // the last held signal, for its account and workspace
}

// onWorkspaceEvent forwards a workspace signal to a supervisor's session,
// at most one per WorkspaceInterval: the first at once, the ones in
// between merged into one (the union of their event types).
func (sess *session) onWorkspaceEvent(ev Event) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	p := sess.p
	if sess.closed || !isSupervisor(p) || ev.AccountSID != p.AccountSID || ev.WorkspaceSID != p.WorkspaceSID {
		return
	}
	if !sess.ws.armed {
		sess.sendLocked(ev.Raw)
		sess.armWorkspaceLocked()
		return
	}
	var d struct {
		Events []string `json:"events"`
	}
	_ = json.Unmarshal(ev.Data, &d)
	for _, t := range d.Events {
		if !slices.Contains(sess.ws.types, t) {
			sess.ws.types = append(sess.ws.types, t)
		}
	}
	sess.ws.held, sess.ws.frame = true, ev
}

func (sess *session) armWorkspaceLocked() {
	sess.ws.armed = true
	sess.scheduleLocked("workspace", sess.svc.opts.WorkspaceInterval, func() {
		sess.mu.Lock()
		defer sess.mu.Unlock()
		if !sess.ws.held {
			sess.ws.armed = false
			return
		}
		ev := sess.ws.frame
		data, _ := json.Marshal(map[string]any{"events": nonNil(sess.ws.types)})
		sess.ws = workspaceHold{}
		sess.sendLocked(encodeEvent(Event{Type: ev.Type, AccountSID: ev.AccountSID, WorkspaceSID: ev.WorkspaceSID, Data: data}))
		sess.armWorkspaceLocked()
	})
}

func (sess *session) dropSub(ch string) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.subs[ch] != nil {
		delete(sess.subs, ch)
		sess.svc.unsubscribeChannel(ch, sess)
	}
}

// dropSubLocked stops a channel's delivery at once and tells the client why.
func (sess *session) dropSubLocked(ch, reason string) {
	if sess.subs[ch] == nil {
		return
	}
	delete(sess.subs, ch)
	sess.svc.unsubscribeChannel(ch, sess)
	sess.sendLocked(encodeSimple(TypeUnsubscribed, map[string]any{"channel_sid": ch, "reason": reason}))
}
