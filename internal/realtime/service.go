// Package realtime is Parley's WebSocket protocol (docs/realtime-protocol.md):
// sessions authenticated by access tokens, channel subscriptions with
// gap-free resume, sends acknowledged after commit, typing, read
// horizons, TaskRouter worker events, supervisors' workspace signals and
// read-only monitoring, and the fan-out of bus events to sockets.
//
// The parts: protocol.go is the frame codec (pure, fuzzed); session.go is
// one client's state machine, driven by its frames, bus events and timers
// and writing to a transport, so tests drive it without a socket
// (delivery.go: subscriptions, replay, gap fills and event ordering;
// frames.go: send, typing, history); outbox.go is a socket's bounded
// queue; socket.go adapts a WebSocket to the session; this file is the
// hub that routes bus events to sessions.
//
// Lock order: session.mu before Service.mu. The hub copies the sessions
// it delivers to under Service.mu and calls them after releasing it.
package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/rest"
)

// Chat is what realtime needs from the chat domain (internal/app passes
// *chat.Service). Errors that are *rest.Error are the client's fault and
// become error frames with their code.
type Chat interface {
	MemberChannels(ctx context.Context, accountSID, serviceSID, identity string) ([]string, error)
	// ChannelSnapshot returns the channel's REST JSON, its members as a JSON
	// array and the index of its last message (-1 if none).
	ChannelSnapshot(ctx context.Context, accountSID, serviceSID, channelSID string) (channel json.RawMessage, members json.RawMessage, lastIndex int64, err error)
	IsMember(ctx context.Context, accountSID, serviceSID, channelSID, identity string) (bool, error)
	// MessagesAfter and MessagesBefore return messages in ascending index order.
	MessagesAfter(ctx context.Context, accountSID, serviceSID, channelSID string, after int64, limit int) ([]json.RawMessage, error)
	MessagesBefore(ctx context.Context, accountSID, serviceSID, channelSID string, before int64, limit int) ([]json.RawMessage, error)
	// SendMessage commits a message; a repeated clientMessageID returns the original.
	SendMessage(ctx context.Context, accountSID, serviceSID, channelSID, from, body, attributes, clientMessageID string) (msg json.RawMessage, index int64, err error)
	UpdateReadHorizon(ctx context.Context, accountSID, serviceSID, channelSID, identity string, index int64) error
}

// Verifier checks an access token (internal/app passes *token.Service).
type Verifier interface {
	Verify(ctx context.Context, raw string) (*rest.Principal, error)
}

// Origins says whether a browser page's origin may use an account's
// tokens (internal/app passes *token.Service).
type Origins interface {
	OriginAllowed(ctx context.Context, accountSID, origin string) bool
}

// Bus subjects realtime reads and writes.
const (
	subjectChat       = "chat.>"
	subjectWorker     = "worker.>"
	subjectWorkspace  = "workspace.>"
	subjectKeyDeleted = "keys.deleted"
)

// Options are the service's knobs. Zero values take the defaults.
type Options struct {
	// Heartbeat is how often the server pings; a client that sends nothing
	// for two heartbeats is closed as dead (default 25s).
	Heartbeat time.Duration
	// AuthTimeout is how long a new socket may wait before its auth frame (10s).
	AuthTimeout time.Duration
	// TokenWarning is how long before expiry tokenAboutToExpire is sent (3m).
	TokenWarning time.Duration
	// OutboxFrames and OutboxBytes bound a socket's outbound queue (256
	// frames, 4 MiB); overflowing it closes the socket as a slow consumer.
	OutboxFrames int
	OutboxBytes  int
	// WriteTimeout bounds one frame's write and a replay's wait for queue space (10s).
	WriteTimeout time.Duration
	// MaxFrameBytes is the largest client frame accepted (128 KiB).
	MaxFrameBytes int64
	// IdentitySendRate (messages per second) and IdentitySendBurst limit
	// each identity's sends on this node; ChannelSendRate and
	// ChannelSendBurst each channel's. A rate of 0 is no limit.
	IdentitySendRate  float64
	IdentitySendBurst int
	ChannelSendRate   float64
	ChannelSendBurst  int
	// TypingInterval is the least time between two typing.started events
	// one socket publishes for one channel (1s); more are coalesced.
	TypingInterval time.Duration
	// WorkspaceInterval is the least time between two workspace signals
	// (statistics.changed) a supervisor's socket receives (500ms); those
	// in between are merged into one.
	WorkspaceInterval time.Duration

	Logger *slog.Logger
	// Now and AfterFunc are the clock (tests drive them).
	Now       func() time.Time
	AfterFunc func(d time.Duration, f func()) Timer
}

// Timer is a scheduled call that can be cancelled.
type Timer interface{ Stop() bool }

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Heartbeat, 25*time.Second)
	def(&o.AuthTimeout, 10*time.Second)
	def(&o.TokenWarning, 3*time.Minute)
	def(&o.WriteTimeout, 10*time.Second)
	def(&o.TypingInterval, time.Second)
	def(&o.WorkspaceInterval, 500*time.Millisecond)
	if o.OutboxFrames <= 0 {
		o.OutboxFrames = 256
	}
	if o.OutboxBytes <= 0 {
		o.OutboxBytes = 4 << 20
	}
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = 128 << 10
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AfterFunc == nil {
		o.AfterFunc = func(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
	}
}

// Service is the realtime hub of one node.
type Service struct {
	chat     Chat
	verifier Verifier
	origins  Origins
	bus      bus.Bus
	opts     Options
	log      *slog.Logger

	identityLimit *limiter
	channelLimit  *limiter

	mu         sync.RWMutex
	closed     bool
	sessions   map[*session]struct{}
	channels   map[string]map[*session]struct{} // channel SID -> subscribed sessions
	identities map[string]map[*session]struct{} // account|service|identity -> sessions
	workers    map[string]map[*session]struct{} // worker SID -> sessions
	watchers   map[string]map[*session]struct{} // account|workspace -> supervisors' sessions
	creds      map[string]map[*session]struct{} // signing key SID -> sessions
	subs       []bus.Subscription

	stats Stats
}

// Stats counts what happened on this node, for tests and metrics.
type Stats struct {
	Connected     atomic.Int64
	SlowConsumers atomic.Int64
	GapFills      atomic.Int64
	BadEvents     atomic.Int64
}

// New builds the hub and subscribes to the bus subjects it routes.
func New(chat Chat, verifier Verifier, origins Origins, b bus.Bus, opts Options) (*Service, error) {
	opts.defaults()
	s := &Service{chat: chat, verifier: verifier, origins: origins, bus: b, opts: opts,
		log:           opts.Logger.With("component", "realtime"),
		identityLimit: newLimiter(opts.IdentitySendRate, opts.IdentitySendBurst, opts.Now),
		channelLimit:  newLimiter(opts.ChannelSendRate, opts.ChannelSendBurst, opts.Now),
		sessions:      map[*session]struct{}{}, channels: map[string]map[*session]struct{}{},
		identities: map[string]map[*session]struct{}{}, workers: map[string]map[*session]struct{}{},
		watchers: map[string]map[*session]struct{}{}, creds: map[string]map[*session]struct{}{}}
	for subject, fn := range map[string]func(bus.Msg){
		subjectChat: s.onChat, subjectWorker: s.onWorker, subjectWorkspace: s.onWorkspace, subjectKeyDeleted: s.onKeyDeleted} {
		sub, err := b.Subscribe(subject, fn)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("realtime: subscribe %s: %w", subject, err)
		}
		s.subs = append(s.subs, sub)
	}
	return s, nil
}

// Stats returns the node's counters.
func (s *Service) Stats() *Stats { return &s.stats }

// Close unsubscribes from the bus and closes every socket as going away.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	subs := s.subs
	s.subs = nil
	all := s.snapshot(s.sessions)
	s.mu.Unlock()
	for _, sub := range subs {
		_ = sub.Unsubscribe()
	}
	for _, sess := range all {
		sess.close(CloseServerShutdown, "server shutting down: reconnect")
	}
}

func (s *Service) snapshot(set map[*session]struct{}) []*session {
	out := make([]*session, 0, len(set))
	for sess := range set {
		out = append(out, sess)
	}
	return out
}

func (s *Service) sessionsIn(index map[string]map[*session]struct{}, key string) []*session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	set := index[key]
	if len(set) == 0 {
		return nil
	}
	return s.snapshot(set)
}

func add(index map[string]map[*session]struct{}, key string, sess *session) {
	set := index[key]
	if set == nil {
		set = map[*session]struct{}{}
		index[key] = set
	}
	set[sess] = struct{}{}
}

func remove(index map[string]map[*session]struct{}, key string, sess *session) {
	if set := index[key]; set != nil {
		delete(set, sess)
		if len(set) == 0 {
			delete(index, key)
		}
	}
}

func identityKey(p *rest.Principal) string {
	return p.AccountSID + "|" + p.ChatServiceSID + "|" + p.Identity
}

// RoleSupervisor is the TaskRouter grant role of a supervisor: its socket
// receives its workspace's signals and may monitor any channel of its
// chat service (read-only).
const RoleSupervisor = "supervisor"

func isSupervisor(p *rest.Principal) bool {
	return p != nil && !p.Guest && p.TaskRouterRole == RoleSupervisor && p.WorkspaceSID != ""
}

func workspaceKey(accountSID, wsSID string) string { return accountSID + "|" + wsSID }

// register records a connected socket; it fails once the node is closing.
func (s *Service) register(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sessions[sess] = struct{}{}
	s.stats.Connected.Add(1)
	return true
}

// authenticated indexes a session by who it is (or swaps the old
// principal's entries for a renewed token's).
func (s *Service) authenticated(sess *session, old, p *rest.Principal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old != nil {
		s.unindex(sess, old)
	}
	add(s.creds, p.CredentialSID, sess)
	if p.ChatServiceSID != "" {
		add(s.identities, identityKey(p), sess)
	}
	if p.WorkerSID != "" {
		add(s.workers, p.WorkerSID, sess)
	}
	if isSupervisor(p) {
		add(s.watchers, workspaceKey(p.AccountSID, p.WorkspaceSID), sess)
	}
}

func (s *Service) unindex(sess *session, p *rest.Principal) {
	remove(s.creds, p.CredentialSID, sess)
	remove(s.identities, identityKey(p), sess)
	remove(s.workers, p.WorkerSID, sess)
	remove(s.watchers, workspaceKey(p.AccountSID, p.WorkspaceSID), sess)
}

// unregister forgets a closed session everywhere.
func (s *Service) unregister(sess *session, p *rest.Principal, channels []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[sess]; ok {
		delete(s.sessions, sess)
		s.stats.Connected.Add(-1)
	}
	if p != nil {
		s.unindex(sess, p)
	}
	for _, ch := range channels {
		remove(s.channels, ch, sess)
	}
}

func (s *Service) subscribeChannel(ch string, sess *session) {
	s.mu.Lock()
	add(s.channels, ch, sess)
	s.mu.Unlock()
}

func (s *Service) unsubscribeChannel(ch string, sess *session) {
	s.mu.Lock()
	remove(s.channels, ch, sess)
	s.mu.Unlock()
}

// onChat routes a chat.<ChannelSid> event to the channel's subscribers,
// and a member's own join or leave to that member's other sockets too, so
// that a client learns of channels it was added to.
func (s *Service) onChat(m bus.Msg) {
	ev, err := DecodeEvent(m.Data)
	if err != nil || ev.ChannelSID == "" || "chat."+ev.ChannelSID != m.Subject {
		s.stats.BadEvents.Add(1)
		s.log.Warn("bad chat event", slog.String("subject", m.Subject), slog.Any("error", err))
		return
	}
	for _, sess := range s.sessionsIn(s.channels, ev.ChannelSID) {
		sess.onChannelEvent(ev)
	}
	if ev.Type == TypeMemberJoined || ev.Type == TypeMemberLeft {
		key := ev.AccountSID + "|" + ev.ServiceSID + "|" + ev.Identity
		for _, sess := range s.sessionsIn(s.identities, key) {
			sess.onOwnMembership(ev)
		}
	}
}

// onWorker forwards a worker.<WorkerSid> event to that worker's sockets.
func (s *Service) onWorker(m bus.Msg) {
	ev, ok := s.decodeOn(m, "worker", func(ev Event) string { return ev.WorkerSID })
	if !ok {
		return
	}
	for _, sess := range s.sessionsIn(s.workers, ev.WorkerSID) {
		sess.onWorkerEvent(ev)
	}
}

// onWorkspace forwards a workspace.<WorkspaceSid> signal to the
// supervisors of that account's workspace.
func (s *Service) onWorkspace(m bus.Msg) {
	ev, ok := s.decodeOn(m, "workspace", func(ev Event) string { return ev.WorkspaceSID })
	if !ok {
		return
	}
	for _, sess := range s.sessionsIn(s.watchers, workspaceKey(ev.AccountSID, ev.WorkspaceSID)) {
		sess.onWorkspaceEvent(ev)
	}
}

// decodeOn decodes an event published on kind.<SID>, whose SID (sid(ev))
// must be the subject's; another is counted and logged as bad.
func (s *Service) decodeOn(m bus.Msg, kind string, sid func(Event) string) (Event, bool) {
	ev, err := DecodeEvent(m.Data)
	if err != nil || sid(ev) == "" || kind+"."+sid(ev) != m.Subject {
		s.stats.BadEvents.Add(1)
		s.log.Warn("bad "+kind+" event", slog.String("subject", m.Subject), slog.Any("error", err))
		return ev, false
	}
	return ev, true
}

// onKeyDeleted closes every socket whose token that key signed.
func (s *Service) onKeyDeleted(m bus.Msg) {
	for _, sess := range s.sessionsIn(s.creds, string(m.Data)) {
		sess.close(CloseKeyDeleted, "the key that signed this token was deleted")
	}
}

// publishTyping announces a typing change on the channel's subject.
func (s *Service) publishTyping(ctx context.Context, p *rest.Principal, ch, typ string) error {
	data, _ := json.Marshal(map[string]string{"identity": p.Identity})
	ev := encodeEvent(Event{Type: typ, AccountSID: p.AccountSID, ServiceSID: p.ChatServiceSID, ChannelSID: ch, Data: data})
	return s.bus.Publish(ctx, "chat."+ch, ev)
}

// Collectors are the node's realtime metrics, for the app's registry.
func (s *Service) Collectors() []prometheus.Collector {
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "parley_realtime_sockets", Help: "Open realtime WebSockets on this node."},
			func() float64 { return float64(s.stats.Connected.Load()) }),
		counter("parley_realtime_slow_consumers_total", "Sockets closed because their outbound queue overflowed.", &s.stats.SlowConsumers),
		counter("parley_realtime_gap_fills_total", "Times a socket read missed messages from the store (the bus dropped or reordered).", &s.stats.GapFills),
		counter("parley_realtime_bad_events_total", "Bus events realtime could not route.", &s.stats.BadEvents),
	}
}
