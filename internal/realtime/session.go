package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// ws holds the workspace signals merged while the workspace timer
	// runs (a supervisor gets at most one per WorkspaceInterval).
	ws workspaceHold
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
	// monitor: a supervisor follows the channel without being a member
	// (read-only; the membership re-read leaves it alone).
	monitor bool
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
		p.WorkerSID != old.WorkerSID || isSupervisor(p) != isSupervisor(old) || p.WorkspaceSID != old.WorkspaceSID {
		return nil, rest.Forbidden("updateToken needs a token for the same account, identity, chat service, workspace, worker and role")
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
	for ch, sub := range sess.subs {
		if !sub.monitor && !slices.Contains(chs, ch) {
			sess.dropSubLocked(ch, "not a member")
		}
	}
}

// requireReader lets a member read a channel, and a supervisor any
// channel of its chat service without being a member: monitoring, which
// is read-only (send, read and typing still need membership).
func (sess *session) requireReader(p *rest.Principal, ch string) (monitor bool, err error) {
	ok, err := sess.svc.chat.IsMember(sess.ctx, p.AccountSID, p.ChatServiceSID, ch, p.Identity)
	switch {
	case err != nil:
		return false, err
	case ok:
		return false, nil
	case isSupervisor(p):
		return true, nil
	}
	return false, rest.Forbidden("%s is not a member of channel %s", p.Identity, ch)
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
