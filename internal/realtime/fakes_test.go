package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/rest"
)

const (
	testAccount = "AC00000000000000000000000000000001"
	testService = "IS00000000000000000000000000000001"
	testKey     = "SK00000000000000000000000000000001"
	chanA       = "CH0000000000000000000000000000000a"
	chanB       = "CH0000000000000000000000000000000b"
)

// fakeChat is an in-memory chat domain that commits, then publishes, as
// the real one does. publish=false simulates the bus dropping events.
type fakeChat struct {
	mu       sync.Mutex
	bus      bus.Bus
	publish  bool
	channels map[string]*fakeChannel
	calls    int
}

type fakeChannel struct {
	attributes string
	members    map[string]int64 // identity -> read horizon (-1: none)
	messages   []fakeMessage
	next       int64
	byClientID map[string]fakeMessage
}

type fakeMessage struct {
	Index int64  `json:"index"`
	From  string `json:"from"`
	Body  string `json:"body"`
}

func newFakeChat(b bus.Bus) *fakeChat {
	return &fakeChat{bus: b, publish: true, channels: map[string]*fakeChannel{}}
}

func (c *fakeChat) addChannel(sid string, members ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := &fakeChannel{attributes: `{"status":"ACTIVE"}`, members: map[string]int64{}, byClientID: map[string]fakeMessage{}}
	for _, m := range members {
		ch.members[m] = -1
	}
	c.channels[sid] = ch
}

func (c *fakeChat) event(typ, ch string, index *int64, data any) {
	if !c.publish {
		return
	}
	raw, _ := json.Marshal(data)
	ev := encodeEvent(Event{Type: typ, AccountSID: testAccount, ServiceSID: testService, ChannelSID: ch, Index: index, Data: raw})
	_ = c.bus.Publish(context.Background(), "chat."+ch, ev)
}

func (c *fakeChat) addMember(ch, identity string) {
	c.mu.Lock()
	c.channels[ch].members[identity] = -1
	c.mu.Unlock()
	c.event(TypeMemberJoined, ch, nil, map[string]any{"identity": identity})
}

func (c *fakeChat) removeMember(ch, identity string) {
	c.mu.Lock()
	delete(c.channels[ch].members, identity)
	c.mu.Unlock()
	c.event(TypeMemberLeft, ch, nil, map[string]any{"identity": identity})
}

func (c *fakeChat) setStatus(ch, status string) {
	c.mu.Lock()
	c.channels[ch].attributes = fmt.Sprintf(`{"status":%q}`, status)
	c.mu.Unlock()
	c.event(TypeChannelUpdated, ch, nil, map[string]any{"sid": ch, "attributes": fmt.Sprintf(`{"status":%q}`, status)})
}

func (c *fakeChat) removeMessage(ch string, idx int64) {
	c.mu.Lock()
	fc := c.channels[ch]
	fc.messages = slices.DeleteFunc(fc.messages, func(m fakeMessage) bool { return m.Index == idx })
	c.mu.Unlock()
	c.event(TypeMessageRemoved, ch, &idx, map[string]any{"index": idx})
}

func (c *fakeChat) channel(ch string) (*fakeChannel, error) {
	fc := c.channels[ch]
	if fc == nil {
		return nil, rest.NotFound("The requested resource /Channels/%s was not found", ch)
	}
	return fc, nil
}

func (c *fakeChat) MemberChannels(ctx context.Context, account, service, identity string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for sid, ch := range c.channels {
		if _, ok := ch.members[identity]; ok {
			out = append(out, sid)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (c *fakeChat) ChannelSnapshot(ctx context.Context, account, service, ch string) (json.RawMessage, json.RawMessage, int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fc, err := c.channel(ch)
	if err != nil {
		return nil, nil, 0, err
	}
	channel, _ := json.Marshal(map[string]any{"sid": ch, "attributes": fc.attributes})
	var members []map[string]any
	for id, h := range fc.members {
		m := map[string]any{"identity": id, "last_consumed_message_index": nil}
		if h >= 0 {
			m["last_consumed_message_index"] = h
		}
		members = append(members, m)
	}
	mj, _ := json.Marshal(members)
	last := int64(-1)
	if n := len(fc.messages); n > 0 {
		last = fc.messages[n-1].Index
	}
	return channel, mj, last, nil
}

func (c *fakeChat) IsMember(ctx context.Context, account, service, ch, identity string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fc, err := c.channel(ch)
	if err != nil {
		return false, err
	}
	_, ok := fc.members[identity]
	return ok, nil
}

func (c *fakeChat) page(ch string, keep func(fakeMessage) bool, limit int, fromEnd bool) ([]json.RawMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	fc, err := c.channel(ch)
	if err != nil {
		return nil, err
	}
	var sel []fakeMessage
	for _, m := range fc.messages {
		if keep(m) {
			sel = append(sel, m)
		}
	}
	if len(sel) > limit {
		if fromEnd {
			sel = sel[len(sel)-limit:]
		} else {
			sel = sel[:limit]
		}
	}
	out := make([]json.RawMessage, len(sel))
	for i, m := range sel {
		out[i], _ = json.Marshal(m)
	}
	return out, nil
}

func (c *fakeChat) MessagesAfter(ctx context.Context, account, service, ch string, after int64, limit int) ([]json.RawMessage, error) {
	return c.page(ch, func(m fakeMessage) bool { return m.Index > after }, limit, false)
}

func (c *fakeChat) MessagesBefore(ctx context.Context, account, service, ch string, before int64, limit int) ([]json.RawMessage, error) {
	return c.page(ch, func(m fakeMessage) bool { return m.Index < before }, limit, true)
}

func (c *fakeChat) SendMessage(ctx context.Context, account, service, ch, from, body, attributes, clientID string) (json.RawMessage, int64, error) {
	c.mu.Lock()
	fc, err := c.channel(ch)
	if err != nil {
		c.mu.Unlock()
		return nil, 0, err
	}
	if m, ok := fc.byClientID[clientID]; ok && clientID != "" {
		c.mu.Unlock()
		raw, _ := json.Marshal(m)
		return raw, m.Index, nil
	}
	m := fakeMessage{Index: fc.next, From: from, Body: body}
	fc.next++
	fc.messages = append(fc.messages, m)
	fc.byClientID[clientID] = m
	c.mu.Unlock()
	c.event(TypeMessageAdded, ch, &m.Index, m)
	raw, _ := json.Marshal(m)
	return raw, m.Index, nil
}

func (c *fakeChat) UpdateReadHorizon(ctx context.Context, account, service, ch, identity string, index int64) error {
	c.mu.Lock()
	fc, err := c.channel(ch)
	if err == nil {
		fc.members[identity] = index
	}
	c.mu.Unlock()
	if err == nil {
		c.event(TypeMemberUpdated, ch, nil, map[string]any{"identity": identity, "last_consumed_message_index": index})
	}
	return err
}

// fakeVerifier knows tokens by their raw text.
type fakeVerifier struct {
	mu     sync.Mutex
	tokens map[string]*rest.Principal
}

func (v *fakeVerifier) Verify(ctx context.Context, raw string) (*rest.Principal, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if p := v.tokens[raw]; p != nil {
		cp := *p
		return &cp, nil
	}
	return nil, rest.Unauthorized("Invalid Access Token")
}

func (v *fakeVerifier) add(raw string, p rest.Principal) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.tokens[raw] = &p
}

type fakeOrigins struct{ allowed map[string]bool }

func (o fakeOrigins) OriginAllowed(ctx context.Context, account, origin string) bool {
	return o.allowed[origin]
}

// fakeClock runs timers when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock by d, running each timer that comes due at its
// own time, in order (timers scheduled meanwhile included).
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	for {
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.stopped && !t.at.After(target) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			break
		}
		next.stopped = true
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
	}
	c.now = target
	c.mu.Unlock()
}

// recorder is a transport that keeps what it is sent.
type recorder struct {
	mu     sync.Mutex
	frames []map[string]any
	cap    int
	code   int
	reason string
	closed chan struct{}
	notify chan struct{}
}

func newRecorder(capacity int) *recorder {
	return &recorder{cap: capacity, closed: make(chan struct{}), notify: make(chan struct{}, 1)}
}

func (r *recorder) send(frame []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.code != 0 {
		return errOutboxClosed
	}
	if r.cap > 0 && len(r.frames) >= r.cap {
		return errOutboxFull
	}
	var m map[string]any
	if err := json.Unmarshal(frame, &m); err != nil {
		panic(fmt.Sprintf("server sent a frame that is not JSON: %s", frame))
	}
	r.frames = append(r.frames, m)
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) sendWait(ctx context.Context, frame []byte) error { return r.send(frame) }

func (r *recorder) close(code int, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.code == 0 {
		r.code, r.reason = code, reason
		close(r.closed)
	}
}

// next waits for the next frame after *pos that matches.
func (r *recorder) waitFor(t *testing.T, pos *int, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		for ; *pos < len(r.frames); *pos++ {
			if f := r.frames[*pos]; match(f) {
				*pos++
				r.mu.Unlock()
				return f
			}
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-r.closed:
			r.mu.Lock()
			n := len(r.frames)
			r.mu.Unlock()
			if *pos >= n {
				t.Fatalf("closed (%d %s) while waiting for a frame", r.code, r.reason)
			}
		case <-deadline:
			t.Fatalf("no matching frame in 5s; got %v", r.all())
		}
	}
}

func (r *recorder) all() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.frames)
}

func (r *recorder) waitClosed(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-r.closed:
	case <-time.After(5 * time.Second):
		t.Fatalf("not closed in 5s")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.code, r.reason
}

func isType(typ string) func(map[string]any) bool {
	return func(f map[string]any) bool { return f["type"] == typ }
}

func isReply(id string) func(map[string]any) bool {
	return func(f map[string]any) bool {
		return (f["type"] == TypeReply || f["type"] == TypeError) && f["re"] == id
	}
}

func index(f map[string]any) int64 { return int64(f["index"].(float64)) }
