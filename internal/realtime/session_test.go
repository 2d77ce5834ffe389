package realtime

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/rest"
)

type harness struct {
	t     *testing.T
	svc   *Service
	chat  *fakeChat
	ver   *fakeVerifier
	clock *fakeClock
	bus   *bus.Memory
}

func newHarness(t *testing.T, tweak ...func(*Options)) *harness {
	t.Helper()
	b := bus.NewMemory(0)
	t.Cleanup(func() { b.Close() })
	h := &harness{t: t, chat: newFakeChat(b), ver: &fakeVerifier{tokens: map[string]*rest.Principal{}},
		clock: &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, bus: b}
	opts := Options{Now: h.clock.Now, AfterFunc: h.clock.AfterFunc, Heartbeat: 30 * time.Second}
	for _, f := range tweak {
		f(&opts)
	}
	svc, err := New(h.chat, h.ver, fakeOrigins{allowed: map[string]bool{"https://shop.example": true}}, b, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	h.svc = svc
	return h
}

func (h *harness) principal(identity string) rest.Principal {
	return rest.Principal{AccountSID: testAccount, CredentialSID: testKey, Identity: identity,
		ChatServiceSID: testService, ExpiresAt: h.clock.Now().Add(time.Hour)}
}

// client is one fake socket with its session.
type client struct {
	h    *harness
	sess *session
	rec  *recorder
	pos  int // events read so far
	rpos int // replies read so far (a separate cursor, so do skips no event)
	seq  int
}

func (h *harness) open(origin string, capacity int) *client {
	rec := newRecorder(capacity)
	return &client{h: h, sess: h.svc.newSession(rec, origin), rec: rec}
}

// connect opens a socket authenticated as identity.
func (h *harness) connect(identity string) *client {
	h.t.Helper()
	h.ver.add("tok-"+identity, h.principal(identity))
	c := h.open("", 0)
	if r := c.do(map[string]any{"type": "auth", "token": "tok-" + identity}); r["type"] != TypeReply {
		h.t.Fatalf("auth: %v", r)
	}
	return c
}

func (c *client) raw(frame map[string]any) {
	if _, ok := frame["v"]; !ok {
		frame["v"] = 1
	}
	b, _ := json.Marshal(frame)
	c.sess.handle(b)
}

// do sends a frame with a fresh id and returns its reply or error.
func (c *client) do(frame map[string]any) map[string]any {
	c.h.t.Helper()
	c.seq++
	id := fmt.Sprint(c.seq)
	frame["id"] = id
	c.raw(frame)
	return c.rec.waitFor(c.h.t, &c.rpos, isReply(id))
}

func (c *client) next(match func(map[string]any) bool) map[string]any {
	c.h.t.Helper()
	return c.rec.waitFor(c.h.t, &c.pos, match)
}

func (c *client) subscribe(ch string, last *int64) map[string]any {
	c.h.t.Helper()
	f := map[string]any{"type": "subscribe", "channel_sid": ch}
	if last != nil {
		f["last_index"] = *last
	}
	r := c.do(f)
	if r["type"] != TypeReply {
		c.h.t.Fatalf("subscribe: %v", r)
	}
	return r["data"].(map[string]any)
}

func errCode(f map[string]any) int {
	if f["type"] != TypeError {
		return 0
	}
	return int(f["error"].(map[string]any)["code"].(float64))
}

func ptr(n int64) *int64 { return &n }

func TestAuthListsChannels(t *testing.T) {
	h := newHarness(t)
	h.chat.addChannel(chanA, "guest")
	h.chat.addChannel(chanB, "agent")
	c := h.connect("guest")
	r := c.rec.all()[0]["data"].(map[string]any)
	if r["identity"] != "guest" || fmt.Sprint(r["channels"]) != "["+chanA+"]" || r["heartbeat_ms"].(float64) != 30000 {
		t.Fatalf("auth reply: %v", r)
	}
}

func TestAuthRefusals(t *testing.T) {
	h := newHarness(t)
	h.ver.add("good", h.principal("guest"))
	cases := []struct {
		name   string
		origin string
		frames []string
		code   int
	}{
		{"first frame not auth", "", []string{`{"v":1,"type":"channels","id":"1"}`}, CloseAuthFailed},
		{"bad token", "", []string{`{"v":1,"type":"auth","token":"nope"}`}, CloseAuthFailed},
		{"not JSON", "", []string{`hello`}, CloseBadFrame},
		{"wrong version", "", []string{`{"v":2,"type":"auth","token":"good"}`}, CloseBadFrame},
		{"origin refused", "https://evil.example", []string{`{"v":1,"type":"auth","token":"good"}`}, CloseOriginRefused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := h.open(tc.origin, 0)
			for _, f := range tc.frames {
				c.sess.handle([]byte(f))
			}
			if code, reason := c.rec.waitClosed(t); code != tc.code || reason == "" {
				t.Fatalf("closed %d %q, want %d with a reason", code, reason, tc.code)
			}
		})
	}
	t.Run("allowed origin", func(t *testing.T) {
		c := h.open("https://shop.example", 0)
		if r := c.do(map[string]any{"type": "auth", "token": "good"}); r["type"] != TypeReply {
			t.Fatalf("auth from an allowed origin: %v", r)
		}
	})
	t.Run("auth timeout", func(t *testing.T) {
		c := h.open("", 0)
		h.clock.Advance(11 * time.Second)
		if code, _ := c.rec.waitClosed(t); code != CloseAuthTimeout {
			t.Fatalf("closed %d, want %d", code, CloseAuthTimeout)
		}
	})
}

func TestSendOrderAndIdempotency(t *testing.T) {
	h := newHarness(t)
	h.chat.addChannel(chanA, "guest", "agent")
	guest, agent := h.connect("guest"), h.connect("agent")
	agent.subscribe(chanA, nil)
	guest.subscribe(chanA, nil)
	for i := range 5 {
		r := guest.do(map[string]any{"type": "send", "channel_sid": chanA, "body": fmt.Sprint("m", i), "client_message_id": fmt.Sprint("c", i)})
		if d := r["data"].(map[string]any); d["index"].(float64) != float64(i) {
			t.Fatalf("send %d: %v", i, r)
		}
	}
	again := guest.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "m2", "client_message_id": "c2"})
	if d := again["data"].(map[string]any); d["index"].(float64) != 2 {
		t.Fatalf("retried client message id got a new message: %v", again)
	}
	for i := range 5 {
		f := agent.next(isType(TypeMessageAdded))
		if index(f) != int64(i) {
			t.Fatalf("agent got index %d, want %d", index(f), i)
		}
	}
	h.chat.mu.Lock()
	n := len(h.chat.channels[chanA].messages)
	h.chat.mu.Unlock()
	if n != 5 {
		t.Fatalf("%d messages stored, want 5", n)
	}
}

func TestResumeReplaysMissedThenState(t *testing.T) {
	h := newHarness(t)
	h.chat.addChannel(chanA, "guest", "agent")
	agent := h.connect("agent")
	for i := range 250 {
		agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "x", "client_message_id": fmt.Sprint(i)})
	}
	h.chat.setStatus(chanA, "INACTIVE")
	guest := h.connect("guest")
	guest.raw(map[string]any{"type": "subscribe", "channel_sid": chanA, "last_index": 41, "id": "s"})
	for want := int64(42); want < 250; want++ {
		f := guest.next(func(f map[string]any) bool { return f["type"] == TypeMessageAdded || f["re"] == "s" })
		if f["type"] != TypeMessageAdded || index(f) != want {
			t.Fatalf("replay: got %v, want message %d", f, want)
		}
	}
	r := guest.next(isReply("s"))["data"].(map[string]any)
	if r["last_index"].(float64) != 249 || r["replayed"].(float64) != 208 ||
		!strings.Contains(r["channel"].(map[string]any)["attributes"].(string), "INACTIVE") {
		t.Fatalf("subscribe reply: %v", r)
	}
	agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "live", "client_message_id": "live"})
	if f := guest.next(isType(TypeMessageAdded)); index(f) != 250 {
		t.Fatalf("live after resume: %v", f)
	}
}

func TestGapFilledFromStore(t *testing.T) {
	h := newHarness(t)
	h.chat.addChannel(chanA, "guest", "agent")
	guest, agent := h.connect("guest"), h.connect("agent")
	guest.subscribe(chanA, nil)
	agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "0", "client_message_id": "0"})
	h.chat.publish = false // the bus drops 1 and 2
	agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "1", "client_message_id": "1"})
	agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "2", "client_message_id": "2"})
	h.chat.publish = true
	agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "3", "client_message_id": "3"})
	agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "4", "client_message_id": "4"})
	for want := int64(0); want <= 4; want++ {
		if f := guest.next(isType(TypeMessageAdded)); index(f) != want {
			t.Fatalf("got %d, want %d", index(f), want)
		}
	}
	if h.svc.Stats().GapFills.Load() == 0 {
		t.Fatal("no gap fill counted")
	}
	// A deleted message leaves a hole that is not a gap to wait for forever.
	h.chat.publish = false
	agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "5", "client_message_id": "5"})
	h.chat.publish = true
	h.chat.removeMessage(chanA, 5)
	agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "6", "client_message_id": "6"})
	if f := guest.next(isType(TypeMessageAdded)); index(f) != 6 {
		t.Fatalf("after a deleted message: %v", f)
	}
	for _, f := range guest.rec.all() {
		if f["type"] == TypeMessageAdded && index(f) == 5 {
			t.Fatalf("a deleted message that was never delivered appeared: %v", f)
		}
	}
}

func TestMemberLeftStopsDelivery(t *testing.T) {
	h := newHarness(t)
	h.chat.addChannel(chanA, "guest", "agent")
	guest, agent := h.connect("guest"), h.connect("agent")
	guest.subscribe(chanA, nil)
	h.chat.removeMember(chanA, "guest")
	if f := guest.next(isType(TypeUnsubscribed)); f["channel_sid"] != chanA {
		t.Fatalf("unsubscribed: %v", f)
	}
	agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "secret", "client_message_id": "s"})
	agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "secret", "client_message_id": "t"})
	if r := guest.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "x", "client_message_id": "g"}); errCode(r) != rest.CodeForbidden {
		t.Fatalf("a removed member could send: %v", r)
	}
	for _, f := range guest.rec.all() {
		if f["type"] == TypeMessageAdded {
			t.Fatalf("a removed member received %v", f)
		}
	}
	// Added back, the client learns of it without a subscription.
	h.chat.addMember(chanA, "guest")
	if f := guest.next(isType(TypeMemberJoined)); f["channel_sid"] != chanA {
		t.Fatalf("own join: %v", f)
	}
}

func TestAuthorizationOnFrames(t *testing.T) {
	h := newHarness(t)
	h.chat.addChannel(chanA, "guest")
	h.chat.addChannel(chanB, "other")
	guest := h.connect("guest")
	for name, f := range map[string]map[string]any{
		"another guest's channel":  {"type": "subscribe", "channel_sid": chanB},
		"history of another's":     {"type": "history", "channel_sid": chanB},
		"send into another's":      {"type": "send", "channel_sid": chanB, "body": "x", "client_message_id": "1"},
		"read horizon elsewhere":   {"type": "read", "channel_sid": chanB, "index": 0},
		"conflicting from":         {"type": "send", "channel_sid": chanA, "body": "x", "client_message_id": "2", "from": "agent"},
		"conflicting service":      {"type": "subscribe", "channel_sid": chanA, "service_sid": "IS00000000000000000000000000000002"},
		"conflicting account":      {"type": "history", "channel_sid": chanA, "account_sid": "AC00000000000000000000000000000002"},
		"typing without subscribe": {"type": "typing", "channel_sid": chanA},
	} {
		if r := guest.do(f); errCode(r) != rest.CodeForbidden {
			t.Errorf("%s: got %v, want error %d", name, r, rest.CodeForbidden)
		}
	}
	if len(h.chat.channels[chanB].messages)+len(h.chat.channels[chanA].messages) != 0 {
		t.Fatal("a refused send was stored")
	}
}

func TestTypingAndReadHorizon(t *testing.T) {
	h := newHarness(t)
	h.chat.addChannel(chanA, "guest", "agent")
	guest, agent := h.connect("guest"), h.connect("agent")
	guest.subscribe(chanA, nil)
	agent.subscribe(chanA, nil)
	guest.do(map[string]any{"type": "typing", "channel_sid": chanA})
	guest.do(map[string]any{"type": "typing", "channel_sid": chanA}) // coalesced
	if f := agent.next(isType(TypeTypingStarted)); f["data"].(map[string]any)["identity"] != "guest" {
		t.Fatalf("typing: %v", f)
	}
	guest.do(map[string]any{"type": "typing", "channel_sid": chanA, "state": "ended"})
	agent.next(isType(TypeTypingEnded))
	agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "hi", "client_message_id": "1"})
	guest.do(map[string]any{"type": "read", "channel_sid": chanA, "index": 0})
	f := agent.next(isType(TypeMemberUpdated))
	if d := f["data"].(map[string]any); d["identity"] != "guest" || d["last_consumed_message_index"].(float64) != 0 {
		t.Fatalf("read horizon: %v", f)
	}
	started := 0
	for _, f := range agent.rec.all() {
		if f["type"] == TypeTypingStarted {
			started++
		}
	}
	for _, f := range guest.rec.all() {
		if f["type"] == TypeTypingStarted {
			t.Fatalf("own typing echoed: %v", f)
		}
	}
	if started != 1 {
		t.Fatalf("%d typing.started, want 1 (coalesced)", started)
	}
}

func TestHistoryPages(t *testing.T) {
	h := newHarness(t)
	h.chat.addChannel(chanA, "guest")
	guest := h.connect("guest")
	for i := range 10 {
		guest.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "x", "client_message_id": fmt.Sprint(i)})
	}
	page := func(f map[string]any) []int64 {
		r := guest.do(f)
		var out []int64
		for _, m := range r["data"].(map[string]any)["messages"].([]any) {
			out = append(out, int64(m.(map[string]any)["index"].(float64)))
		}
		return out
	}
	if got := fmt.Sprint(page(map[string]any{"type": "history", "channel_sid": chanA, "limit": 3})); got != "[7 8 9]" {
		t.Fatalf("latest page %s", got)
	}
	if got := fmt.Sprint(page(map[string]any{"type": "history", "channel_sid": chanA, "limit": 3, "before": 7})); got != "[4 5 6]" {
		t.Fatalf("before 7: %s", got)
	}
	if got := fmt.Sprint(page(map[string]any{"type": "history", "channel_sid": chanA, "limit": 2, "after": 1})); got != "[2 3]" {
		t.Fatalf("after 1: %s", got)
	}
}

func TestTokenExpiryAndRenewal(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.TokenWarning, o.Heartbeat = time.Minute, 10*time.Hour })
	guest := h.connect("guest")
	h.clock.Advance(59*time.Minute + time.Second)
	guest.next(isType(TypeTokenAboutToExpire))
	p := h.principal("guest")
	p.ExpiresAt = h.clock.Now().Add(time.Hour)
	h.ver.add("renewed", p)
	if r := guest.do(map[string]any{"type": "updateToken", "token": "renewed"}); r["type"] != TypeReply {
		t.Fatalf("updateToken: %v", r)
	}
	other := h.principal("someone-else")
	h.ver.add("other", other)
	if r := guest.do(map[string]any{"type": "updateToken", "token": "other"}); errCode(r) != rest.CodeForbidden {
		t.Fatalf("updateToken to another identity: %v", r)
	}
	h.clock.Advance(2 * time.Minute) // past the first token's expiry
	select {
	case <-guest.rec.closed:
		t.Fatal("closed although the token was renewed")
	default:
	}
	h.clock.Advance(time.Hour)
	if code, _ := guest.rec.waitClosed(t); code != CloseTokenExpired {
		t.Fatalf("closed %d, want %d", code, CloseTokenExpired)
	}
}

func TestKeyDeletedCloses(t *testing.T) {
	h := newHarness(t)
	guest := h.connect("guest")
	_ = h.bus.Publish(t.Context(), "keys.deleted", []byte("SK00000000000000000000000000000099"))
	_ = h.bus.Publish(t.Context(), "keys.deleted", []byte(testKey))
	if code, _ := guest.rec.waitClosed(t); code != CloseKeyDeleted {
		t.Fatalf("closed %d, want %d", code, CloseKeyDeleted)
	}
}

func TestHeartbeat(t *testing.T) {
	h := newHarness(t)
	guest := h.connect("guest")
	h.clock.Advance(30 * time.Second)
	guest.next(isType(TypePing))
	guest.raw(map[string]any{"type": "pong"})
	h.clock.Advance(30 * time.Second)
	h.clock.Advance(30 * time.Second)
	select {
	case <-guest.rec.closed:
		t.Fatal("closed although the client answered")
	default:
	}
	h.clock.Advance(30 * time.Second)
	if code, _ := guest.rec.waitClosed(t); code != CloseHeartbeat {
		t.Fatalf("closed %d, want %d", code, CloseHeartbeat)
	}
}

func TestSlowConsumerClosedOthersUnaffected(t *testing.T) {
	h := newHarness(t)
	h.chat.addChannel(chanA, "guest", "agent")
	h.ver.add("tok-slow", h.principal("guest"))
	slow := h.open("", 8)
	slow.do(map[string]any{"type": "auth", "token": "tok-slow"})
	slow.subscribe(chanA, nil)
	agent := h.connect("agent")
	agent.subscribe(chanA, nil)
	for i := range 20 {
		agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "x", "client_message_id": fmt.Sprint(i)})
	}
	if code, reason := slow.rec.waitClosed(t); code != CloseSlowConsumer || !strings.Contains(reason, "slow consumer") {
		t.Fatalf("closed %d %q", code, reason)
	}
	for want := int64(0); want < 20; want++ {
		if f := agent.next(isType(TypeMessageAdded)); index(f) != want {
			t.Fatalf("agent got %v", f)
		}
	}
}

func TestRateLimits(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.IdentitySendRate, o.IdentitySendBurst = 1, 3
		o.ChannelSendRate, o.ChannelSendBurst = 100, 100
	})
	h.chat.addChannel(chanA, "flood", "agent")
	h.chat.addChannel(chanB, "calm")
	flood, agent, calm := h.connect("flood"), h.connect("agent"), h.connect("calm")
	limited := 0
	for i := range 10 {
		r := flood.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "x", "client_message_id": fmt.Sprint(i)})
		if errCode(r) == rest.CodeTooManyRequests {
			limited++
			if !strings.Contains(r["error"].(map[string]any)["message"].(string), "retry in") {
				t.Fatalf("rate limit error without a retry hint: %v", r)
			}
		}
	}
	if limited != 7 {
		t.Fatalf("%d of 10 sends limited, want 7 (burst 3)", limited)
	}
	for _, c := range []*client{agent, calm} {
		ch := chanA
		if c == calm {
			ch = chanB
		}
		if r := c.do(map[string]any{"type": "send", "channel_sid": ch, "body": "x", "client_message_id": "ok"}); r["type"] != TypeReply {
			t.Fatalf("another identity was limited: %v", r)
		}
	}
	h.clock.Advance(time.Second)
	if r := flood.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "x", "client_message_id": "later"}); r["type"] != TypeReply {
		t.Fatalf("after a second: %v", r)
	}
}

func TestWorkerEvents(t *testing.T) {
	h := newHarness(t)
	p := h.principal("alice")
	p.WorkerSID, p.WorkspaceSID = "WK00000000000000000000000000000001", "WS00000000000000000000000000000001"
	h.ver.add("tok-w", p)
	w := h.open("", 0)
	w.do(map[string]any{"type": "auth", "token": "tok-w"})
	ev := func(worker string) []byte {
		return []byte(fmt.Sprintf(`{"v":1,"type":"reservation.created","account_sid":%q,"workspace_sid":%q,"worker_sid":%q,"data":{"sid":"WR1"}}`,
			testAccount, p.WorkspaceSID, worker))
	}
	_ = h.bus.Publish(t.Context(), "worker.WK00000000000000000000000000000002", ev("WK00000000000000000000000000000002"))
	_ = h.bus.Publish(t.Context(), "worker."+p.WorkerSID, ev(p.WorkerSID))
	f := w.next(isType("reservation.created"))
	if f["worker_sid"] != p.WorkerSID {
		t.Fatalf("another worker's event: %v", f)
	}
}

// A member.left the bus dropped is caught by the membership re-read: at
// the first heartbeat after a gap fill, or else every recheckEvery beats.
func TestDroppedMemberLeftCaughtByRecheck(t *testing.T) {
	h := newHarness(t)
	h.chat.addChannel(chanA, "guest", "agent")
	h.chat.addChannel(chanB, "guest", "agent")
	guest, agent := h.connect("guest"), h.connect("agent")
	guest.subscribe(chanA, nil)
	guest.subscribe(chanB, nil)
	h.chat.publish = false // the bus drops the member.left of A and message 0
	h.chat.removeMember(chanA, "guest")
	agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "0", "client_message_id": "0"})
	h.chat.publish = true
	agent.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "1", "client_message_id": "1"})
	guest.next(func(f map[string]any) bool { return f["type"] == TypeMessageAdded && index(f) == 1 })
	h.clock.Advance(30 * time.Second)
	if f := guest.next(isType(TypeUnsubscribed)); f["channel_sid"] != chanA {
		t.Fatalf("unsubscribed: %v", f)
	}
	// No gap on B: its lost member.left is caught within recheckEvery beats.
	h.chat.publish = false
	h.chat.removeMember(chanB, "guest")
	h.chat.publish = true
	for range recheckEvery {
		guest.raw(map[string]any{"type": "pong"})
		h.clock.Advance(30 * time.Second)
	}
	if f := guest.next(isType(TypeUnsubscribed)); f["channel_sid"] != chanB {
		t.Fatalf("unsubscribed: %v", f)
	}
}
