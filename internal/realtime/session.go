package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/rest"
)

// transport is what a session writes to: the socket adapter in
// production, a recorder in tests.
type transport interface {
	// send queues a frame without waiting; errOutboxFull means the client
	// is a slow consumer.
	send(frame []byte) error
	// sendWait queues a frame, waiting (bounded) for room.
	sendWait(ctx context.Context, frame []byte) error
	// close sends a close frame with code and reason, then drops the socket.
	close(code int, reason string)
}

// fillPage is how many messages one store read of a gap fill or replay takes.
const fillPage = 100

// maxPending bounds the live events held back while a channel's gap is filled.
const maxPending = 1024

// session is one client's protocol state. Frames arrive one at a time
// from the socket's reader (handle); bus events arrive from the hub
// (onChannelEvent, ...); timers fire on their own goroutines. mu guards
// everything below it.
type session struct {
	svc    *Service
	t      transport
	origin string
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	p        *rest.Principal // nil until the auth frame is accepted
	subs     map[string]*channelSub
	typingAt map[string]time.Time
	lastSeen time.Time
	timers   map[string]Timer
	// beats counts heartbeats; suspect says a gap was filled since the
	// last membership check (the bus that dropped a message may have
	// dropped a member.left too).
	beats   int
	suspect bool
}

// recheckEvery is how many heartbeats pass between membership re-reads
// when the bus has not been seen dropping.
const recheckEvery = 8

// channelSub is one subscribed channel. last is the highest message index
// delivered; while filling, one goroutine reads the store and live events
// wait in pending, so that the client sees indexes in order, each once.
type channelSub struct {
	last    int64
	filling bool
	pending []Event
}

func (s *Service) newSession(t transport, origin string) *session {
	ctx, cancel := context.WithCancel(context.Background())
	sess := &session{svc: s, t: t, origin: origin, ctx: ctx, cancel: cancel,
		subs: map[string]*channelSub{}, typingAt: map[string]time.Time{}, timers: map[string]Timer{},
		lastSeen: s.opts.Now()}
	if !s.register(sess) {
		sess.close(CloseServerShutdown, "server shutting down: reconnect")
		return sess
	}
	sess.mu.Lock()
	sess.scheduleLocked("auth", s.opts.AuthTimeout, func() {
		sess.mu.Lock()
		authed := sess.p != nil
		sess.mu.Unlock()
		if !authed {
			sess.close(CloseAuthTimeout, "no auth frame in time")
		}
	})
	sess.mu.Unlock()
	return sess
}

func (sess *session) scheduleLocked(name string, d time.Duration, f func()) {
	if t := sess.timers[name]; t != nil {
		t.Stop()
	}
	if sess.closed {
		return
	}
	sess.timers[name] = sess.svc.opts.AfterFunc(max(d, 0), f)
}

func (sess *session) principal() *rest.Principal {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.p
}

// close ends the session once: timers stop, the hub forgets it, pending
// store calls are cancelled and the socket gets code and reason.
func (sess *session) close(code int, reason string) {
	sess.mu.Lock()
	if sess.closed {
		sess.mu.Unlock()
		return
	}
	sess.closeLocked(code, reason)
	sess.mu.Unlock()
}

func (sess *session) closeLocked(code int, reason string) {
	sess.closed = true
	for _, t := range sess.timers {
		t.Stop()
	}
	channels := make([]string, 0, len(sess.subs))
	for ch := range sess.subs {
		channels = append(channels, ch)
	}
	p := sess.p
	sess.cancel()
	if code == CloseSlowConsumer {
		sess.svc.stats.SlowConsumers.Add(1)
	}
	// The hub's lock comes after ours (see the package comment), and the
	// transport's close may block on a write: neither holds mu up.
	go func() {
		sess.svc.unregister(sess, p, channels)
		sess.t.close(code, reason)
	}()
}

// sendLocked queues a frame; a full queue closes the session.
func (sess *session) sendLocked(frame []byte) {
	if sess.closed {
		return
	}
	if err := sess.t.send(frame); errors.Is(err, errOutboxFull) {
		sess.closeLocked(CloseSlowConsumer, "slow consumer: the outbound queue is full")
	}
}

func (sess *session) send(frame []byte) {
	sess.mu.Lock()
	sess.sendLocked(frame)
	sess.mu.Unlock()
}

// handle runs one client frame to completion.
func (sess *session) handle(data []byte) {
	sess.mu.Lock()
	sess.lastSeen = sess.svc.opts.Now()
	authed, closed := sess.p != nil, sess.closed
	sess.mu.Unlock()
	if closed {
		return
	}
	f, err := DecodeClientFrame(data)
	if err != nil {
		var fe *FrameError
		errors.As(err, &fe)
		sess.send(encodeError(fe.ID, fe.Err))
		if !authed {
			sess.close(CloseBadFrame, fe.Err.Message)
		}
		return
	}
	if !authed && f.Type != TypeAuth {
		sess.send(encodeError(f.ID, rest.Unauthorized("The first frame must be auth")))
		sess.close(CloseAuthFailed, "the first frame must be auth")
		return
	}
	data2, err := sess.dispatch(&f)
	sess.answer(&f, data2, err)
}

// answer sends the reply (when the frame had an id, or for auth) or the error.
func (sess *session) answer(f *ClientFrame, data any, err error) {
	if err != nil {
		e, ok := rest.AsError(err)
		if !ok {
			if sess.ctx.Err() != nil {
				return // closing: nobody reads the answer
			}
			sess.svc.log.Error("frame failed", slog.String("type", f.Type), slog.Any("error", err))
			e = rest.NewError(http.StatusInternalServerError, rest.CodeInternal, "Internal error handling %s", f.Type)
		}
		retryMS := 0
		if rl, ok := err.(*rateLimitError); ok {
			retryMS = rl.ms
		}
		sess.send(encodeErrorRetry(f.ID, e, retryMS))
		return
	}
	if data == nil {
		return
	}
	if f.ID != "" || f.Type == TypeAuth {
		sess.send(encodeReply(f.ID, data))
	}
}

type empty struct{}

// noReply tells answer not to send anything (a frame without an id that
// needs no answer, or one already answered in order).
var noReply any

func (sess *session) dispatch(f *ClientFrame) (any, error) {
	if f.Type == TypeAuth {
		return sess.auth(f)
	}
	p := sess.principal()
	if err := checkScope(f, p); err != nil {
		return nil, err
	}
	switch f.Type {
	case TypeUpdateToken:
		return sess.updateToken(f, p)
	case TypePing:
		sess.send(encodeSimple(TypePong, map[string]any{"re": f.ID}))
		return noReply, nil
	case TypePong:
		return noReply, nil
	}
	if p.ChatServiceSID == "" {
		return nil, rest.Forbidden("This token has no chat grant (chat service SID); it may only receive worker events")
	}
	switch f.Type {
	case TypeChannels:
		chs, err := sess.svc.chat.MemberChannels(sess.ctx, p.AccountSID, p.ChatServiceSID, p.Identity)
		return map[string]any{"channels": nonNil(chs)}, err
	case TypeSubscribe:
		return sess.subscribe(f, p)
	case TypeUnsubscribe:
		sess.dropSub(f.ChannelSID)
		return empty{}, nil
	case TypeSend:
		return sess.sendMessage(f, p)
	case TypeRead:
		if err := sess.requireMember(p, f.ChannelSID); err != nil {
			return nil, err
		}
		return empty{}, sess.svc.chat.UpdateReadHorizon(sess.ctx, p.AccountSID, p.ChatServiceSID, f.ChannelSID, p.Identity, *f.Index)
	case TypeTyping:
		return sess.typing(f, p)
	case TypeHistory:
		return sess.history(f, p)
	}
	return nil, rest.BadRequest("Invalid frame: unknown type %q", f.Type)
}

// checkScope refuses a frame whose account, service or identity differ
// from the token's: the token decides, and a conflicting id loses.
func checkScope(f *ClientFrame, p *rest.Principal) error {
	conflict := func(name, got, want string) error {
		if got != "" && got != want {
			return rest.Forbidden("The frame's %s %s is not the token's", name, got)
		}
		return nil
	}
	return errors.Join(conflict("account_sid", f.AccountSID, p.AccountSID),
		conflict("service_sid", f.ServiceSID, p.ChatServiceSID),
		conflict("identity", f.Identity, p.Identity), conflict("from", f.From, p.Identity))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type authReply struct {
	Identity     string    `json:"identity"`
	AccountSID   string    `json:"account_sid"`
	ServiceSID   string    `json:"service_sid,omitempty"`
	WorkspaceSID string    `json:"workspace_sid,omitempty"`
	WorkerSID    string    `json:"worker_sid,omitempty"`
	ExpiresAt    rest.Time `json:"expires_at"`
	Channels     []string  `json:"channels"`
	HeartbeatMS  int64     `json:"heartbeat_ms"`
}

// auth accepts the first frame's token, checks the page's origin and
// tells the client who it is and which channels it is a member of.
func (sess *session) auth(f *ClientFrame) (any, error) {
	if sess.principal() != nil {
		return nil, rest.BadRequest("Already authenticated: renew the token with updateToken")
	}
	refuse := func(code int, e *rest.Error) (any, error) {
		sess.send(encodeError(f.ID, e))
		sess.close(code, e.Message)
		return noReply, nil
	}
	p, err := sess.svc.verifier.Verify(sess.ctx, f.Token)
	if err != nil {
		if e, ok := rest.AsError(err); ok {
			return refuse(CloseAuthFailed, e)
		}
		return nil, err
	}
	if p.Identity == "" {
		return refuse(CloseAuthFailed, rest.Unauthorized("The access token has no identity"))
	}
	if sess.origin != "" && !sess.svc.origins.OriginAllowed(sess.ctx, p.AccountSID, sess.origin) {
		return refuse(CloseOriginRefused, rest.Forbidden("Origin %s is not allowed for account %s", sess.origin, p.AccountSID))
	}
	channels := []string{}
	if p.ChatServiceSID != "" {
		if channels, err = sess.svc.chat.MemberChannels(sess.ctx, p.AccountSID, p.ChatServiceSID, p.Identity); err != nil {
			return nil, err
		}
	}
	sess.mu.Lock()
	if sess.closed {
		sess.mu.Unlock()
		return noReply, nil
	}
	sess.p = p
	sess.timers["auth"].Stop()
	sess.scheduleTokenLocked()
	sess.scheduleLocked("heartbeat", sess.svc.opts.Heartbeat, sess.heartbeat)
	sess.mu.Unlock()
	sess.svc.authenticated(sess, nil, p)
	return authReply{Identity: p.Identity, AccountSID: p.AccountSID, ServiceSID: p.ChatServiceSID,
		WorkspaceSID: p.WorkspaceSID, WorkerSID: p.WorkerSID, ExpiresAt: rest.Time(p.ExpiresAt),
		Channels: nonNil(channels), HeartbeatMS: sess.svc.opts.Heartbeat.Milliseconds()}, nil
}

// scheduleTokenLocked arms tokenAboutToExpire and the expiry close for
// the current token.
func (sess *session) scheduleTokenLocked() {
	now, exp := sess.svc.opts.Now(), sess.p.ExpiresAt
	sess.scheduleLocked("warn", exp.Sub(now)-sess.svc.opts.TokenWarning, func() {
		sess.send(encodeSimple(TypeTokenAboutToExpire, map[string]any{"expires_at": rest.Time(exp)}))
	})
	sess.scheduleLocked("expire", exp.Sub(now), func() {
		sess.close(CloseTokenExpired, "the access token expired; connect again with a new one")
	})
}

// updateToken swaps in a renewed token of the same account, identity and grants.
func (sess *session) updateToken(f *ClientFrame, old *rest.Principal) (any, error) {
	p, err := sess.svc.verifier.Verify(sess.ctx, f.Token)
	if err != nil {
		return nil, err
	}
	if p.AccountSID != old.AccountSID || p.Identity != old.Identity || p.ChatServiceSID != old.ChatServiceSID ||
		p.WorkerSID != old.WorkerSID {
		return nil, rest.Forbidden("updateToken needs a token for the same account, identity, chat service and worker")
	}
	sess.mu.Lock()
	if sess.closed {
		sess.mu.Unlock()
		return noReply, nil
	}
	sess.p = p
	sess.scheduleTokenLocked()
	sess.mu.Unlock()
	sess.svc.authenticated(sess, old, p)
	return map[string]any{"expires_at": rest.Time(p.ExpiresAt)}, nil
}

// heartbeat pings the client, closes it if it has been silent for two
// heartbeats, and now and then re-reads its memberships (in case the bus
// dropped a member.left): at the first heartbeat after a gap fill, else
// every recheckEvery heartbeats.
func (sess *session) heartbeat() {
	hb := sess.svc.opts.Heartbeat
	sess.mu.Lock()
	if sess.closed {
		sess.mu.Unlock()
		return
	}
	if silent := sess.svc.opts.Now().Sub(sess.lastSeen); silent > 2*hb {
		sess.closeLocked(CloseHeartbeat, fmt.Sprintf("no frame from the client for %s", silent.Round(time.Second)))
		sess.mu.Unlock()
		return
	}
	sess.sendLocked(encodeSimple(TypePing, nil))
	sess.scheduleLocked("heartbeat", hb, sess.heartbeat)
	sess.beats++
	recheck := len(sess.subs) > 0 && (sess.suspect || sess.beats%recheckEvery == 0)
	sess.suspect = sess.suspect && !recheck
	p := sess.p
	sess.mu.Unlock()
	if recheck && p.ChatServiceSID != "" {
		sess.recheckMembership(p)
	}
}

func (sess *session) recheckMembership(p *rest.Principal) {
	chs, err := sess.svc.chat.MemberChannels(sess.ctx, p.AccountSID, p.ChatServiceSID, p.Identity)
	if err != nil {
		return
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	for ch := range sess.subs {
		if !slices.Contains(chs, ch) {
			sess.dropSubLocked(ch, "not a member")
		}
	}
}

func (sess *session) requireMember(p *rest.Principal, ch string) error {
	ok, err := sess.svc.chat.IsMember(sess.ctx, p.AccountSID, p.ChatServiceSID, ch, p.Identity)
	if err != nil {
		return err
	}
	if !ok {
		return rest.Forbidden("%s is not a member of channel %s", p.Identity, ch)
	}
	return nil
}

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
	if err := sess.requireMember(p, ch); err != nil {
		return nil, err
	}
	sub := &channelSub{filling: true}
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

type sendReply struct {
	ChannelSID string          `json:"channel_sid"`
	Index      int64           `json:"index"`
	Message    json.RawMessage `json:"message"`
}

// sendMessage commits a message as the token's identity, after the rate
// limits and the membership check; the reply carries the assigned index.
func (sess *session) sendMessage(f *ClientFrame, p *rest.Principal) (any, error) {
	if ok, wait := sess.svc.identityLimit.allow(identityKey(p)); !ok {
		return nil, rateLimited("you are sending messages too fast", wait)
	}
	if ok, wait := sess.svc.channelLimit.allow(f.ChannelSID); !ok {
		return nil, rateLimited("this channel receives messages too fast", wait)
	}
	if err := sess.requireMember(p, f.ChannelSID); err != nil {
		return nil, err
	}
	msg, idx, err := sess.svc.chat.SendMessage(sess.ctx, p.AccountSID, p.ChatServiceSID, f.ChannelSID, p.Identity,
		f.Body, f.Attributes, f.ClientMessageID)
	if err != nil {
		return nil, err
	}
	return sendReply{ChannelSID: f.ChannelSID, Index: idx, Message: msg}, nil
}

// rateLimitError is a 20429 with the exact wait, for the frame's retry_after_ms.
type rateLimitError struct {
	err *rest.Error
	ms  int
}

func (e *rateLimitError) Error() string { return e.err.Error() }
func (e *rateLimitError) Unwrap() error { return e.err }

func rateLimited(why string, wait time.Duration) error {
	ms := max(int(math.Ceil(float64(wait)/float64(time.Millisecond))), 1)
	e := rest.NewError(http.StatusTooManyRequests, rest.CodeTooManyRequests, "Too many messages: %s; retry in %d ms", why, ms)
	e.RetryAfter = (ms + 999) / 1000
	return &rateLimitError{err: e, ms: ms}
}

// typing publishes typing.started or typing.ended for a subscribed (so
// member) channel; started is sent at most once per TypingInterval.
func (sess *session) typing(f *ClientFrame, p *rest.Principal) (any, error) {
	ch := f.ChannelSID
	sess.mu.Lock()
	_, subscribed := sess.subs[ch]
	now := sess.svc.opts.Now()
	coalesce := f.State == "started" && now.Sub(sess.typingAt[ch]) < sess.svc.opts.TypingInterval
	if f.State == "started" && !coalesce {
		sess.typingAt[ch] = now
	} else if f.State == "ended" {
		delete(sess.typingAt, ch)
	}
	sess.mu.Unlock()
	if !subscribed {
		return nil, rest.Forbidden("Subscribe to channel %s before signalling typing in it", ch)
	}
	if !coalesce {
		typ := TypeTypingStarted
		if f.State == "ended" {
			typ = TypeTypingEnded
		}
		if err := sess.svc.publishTyping(sess.ctx, p, ch, typ); err != nil {
			return nil, err
		}
	}
	return empty{}, nil
}

// history reads a page of messages before or after an index (the latest
// page when neither is given), ascending.
func (sess *session) history(f *ClientFrame, p *rest.Principal) (any, error) {
	if err := sess.requireMember(p, f.ChannelSID); err != nil {
		return nil, err
	}
	var msgs []json.RawMessage
	var err error
	if f.After != nil {
		msgs, err = sess.svc.chat.MessagesAfter(sess.ctx, p.AccountSID, p.ChatServiceSID, f.ChannelSID, *f.After, f.Limit)
	} else {
		before := int64(math.MaxInt64)
		if f.Before != nil {
			before = *f.Before
		}
		msgs, err = sess.svc.chat.MessagesBefore(sess.ctx, p.AccountSID, p.ChatServiceSID, f.ChannelSID, before, f.Limit)
	}
	if msgs == nil {
		msgs = []json.RawMessage{}
	}
	return map[string]any{"channel_sid": f.ChannelSID, "messages": msgs}, err
}
