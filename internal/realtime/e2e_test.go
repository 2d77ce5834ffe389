package realtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	chatv2 "github.com/twilio/twilio-go/rest/chat/v2"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/realtime"
	"github.com/parleychat/parley/internal/store/storetest"
	"github.com/parleychat/parley/internal/token"
)

// eachBackend runs fn against a whole server on SQLite and on
// PostgreSQL, with send limits out of the way unless opts set them.
func eachBackend(t *testing.T, fn func(t *testing.T, srv *parleytest.Server), opts ...parleytest.Option) {
	for _, name := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(name, func(t *testing.T) {
			base := []parleytest.Option{parleytest.Backend(t, name), noLimits}
			fn(t, parleytest.Start(t, append(base, opts...)...))
		})
	}
}

func noLimits(c *config.Config) { c.RealtimeIdentityRate, c.RealtimeChannelRate = 0, 0 }

// wsClient is a protocol client over a real socket: a goroutine reads
// frames into a list that next and do search.
type wsClient struct {
	t    testing.TB
	conn *websocket.Conn

	mu       sync.Mutex
	frames   []map[string]any
	closeErr error
	notify   chan struct{}
	pos      int
	rpos     int
	seq      int
}

func dial(t testing.TB, srv *parleytest.Server, header http.Header) *wsClient {
	t.Helper()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/realtime/v1"
	conn, _, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{HTTPHeader: header, Subprotocols: []string{realtime.Subprotocol}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(1 << 20)
	c := &wsClient{t: t, conn: conn, notify: make(chan struct{}, 1)}
	t.Cleanup(func() { conn.CloseNow() })
	return c
}

// start reads frames until the socket closes.
func (c *wsClient) start() *wsClient {
	go func() {
		for {
			_, data, err := c.conn.Read(context.Background())
			c.mu.Lock()
			if err != nil {
				c.closeErr = err
			} else {
				var f map[string]any
				if json.Unmarshal(data, &f) != nil {
					f = map[string]any{"type": "NOT JSON", "raw": string(data)}
				}
				c.frames = append(c.frames, f)
			}
			c.mu.Unlock()
			select {
			case c.notify <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return c
}

// connect dials, authenticates with tok and starts reading.
func connect(t testing.TB, srv *parleytest.Server, tok string) *wsClient {
	t.Helper()
	c := dial(t, srv, nil).start()
	if r := c.do(map[string]any{"type": "auth", "token": tok}); r["type"] != "reply" {
		t.Fatalf("auth: %v", r)
	}
	return c
}

func (c *wsClient) write(frame map[string]any) {
	c.t.Helper()
	frame["v"] = 1
	b, _ := json.Marshal(frame)
	if err := c.conn.Write(c.t.Context(), websocket.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *wsClient) wait(cursor *int, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		c.mu.Lock()
		for ; *cursor < len(c.frames); *cursor++ {
			if f := c.frames[*cursor]; match(f) {
				*cursor++
				c.mu.Unlock()
				return f
			}
		}
		closed := c.closeErr
		c.mu.Unlock()
		if closed != nil {
			c.t.Fatalf("socket closed while waiting: %v", closed)
		}
		select {
		case <-c.notify:
		case <-deadline:
			c.t.Fatalf("no matching frame in 15s")
		}
	}
}

func (c *wsClient) do(frame map[string]any) map[string]any {
	c.t.Helper()
	c.seq++
	id := fmt.Sprint(c.seq)
	frame["id"] = id
	c.write(frame)
	return c.wait(&c.rpos, func(f map[string]any) bool { return f["re"] == id })
}

func (c *wsClient) next(typ string) map[string]any {
	c.t.Helper()
	return c.wait(&c.pos, func(f map[string]any) bool { return f["type"] == typ })
}

// closed waits for the socket to close and returns its close status.
func (c *wsClient) closed() (websocket.StatusCode, string) {
	c.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		c.mu.Lock()
		err := c.closeErr
		c.mu.Unlock()
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Reason
			}
			return websocket.CloseStatus(err), err.Error()
		}
		select {
		case <-c.notify:
		case <-deadline:
			c.t.Fatalf("socket not closed in 15s")
		}
	}
}

func (c *wsClient) count(typ string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, f := range c.frames {
		if f["type"] == typ {
			n++
		}
	}
	return n
}

func (c *wsClient) subscribe(ch string, last *int64) map[string]any {
	c.t.Helper()
	f := map[string]any{"type": "subscribe", "channel_sid": ch}
	if last != nil {
		f["last_index"] = *last
	}
	r := c.do(f)
	if r["type"] != "reply" {
		c.t.Fatalf("subscribe %s: %v", ch, r)
	}
	return r["data"].(map[string]any)
}

func (c *wsClient) send(ch, body, cmid string) map[string]any {
	c.t.Helper()
	return c.do(map[string]any{"type": "send", "channel_sid": ch, "body": body, "client_message_id": cmid})
}

func errCode(f map[string]any) int {
	if f["type"] != "error" {
		return 0
	}
	return int(f["error"].(map[string]any)["code"].(float64))
}

func num(v any) int64 { return int64(v.(float64)) }

// fixture is a chat service with one channel and its members, made over REST.
type fixture struct {
	srv     *parleytest.Server
	service string
}

func newFixture(t testing.TB, srv *parleytest.Server) *fixture {
	t.Helper()
	svc, err := srv.Admin().ChatV2.CreateService(&chatv2.CreateServiceParams{FriendlyName: ptr("support")})
	if err != nil {
		t.Fatalf("create service: %v", err)
	}
	return &fixture{srv: srv, service: *svc.Sid}
}

func (fx *fixture) channel(t testing.TB, members ...string) string {
	t.Helper()
	ch, err := fx.srv.Admin().ChatV2.CreateChannel(fx.service, (&chatv2.CreateChannelParams{}).
		SetAttributes(`{"status":"ACTIVE","channel_type":"web"}`).SetType("private"))
	if err != nil {
		t.Fatalf("create channel: %v", err)
	}
	for _, m := range members {
		if _, err := fx.srv.Admin().ChatV2.CreateMember(fx.service, *ch.Sid, (&chatv2.CreateMemberParams{}).SetIdentity(m)); err != nil {
			t.Fatalf("add member %s: %v", m, err)
		}
	}
	return *ch.Sid
}

func (fx *fixture) token(t testing.TB, identity string) string {
	return fx.srv.Token(t, token.Grant{Identity: identity, ChatServiceSID: fx.service})
}

func (fx *fixture) messages(t testing.TB, ch string) []chatv2.ChatV2Message {
	t.Helper()
	msgs, err := fx.srv.Admin().ChatV2.ListMessage(fx.service, ch, &chatv2.ListMessageParams{})
	if err != nil {
		t.Fatalf("list messages: %v", err)
	}
	return msgs
}

func ptr[T any](v T) *T { return &v }

func chatAttributes(attrs string) *chatv2.UpdateChannelParams {
	return (&chatv2.UpdateChannelParams{}).SetAttributes(attrs)
}

func TestRealtimeConversation(t *testing.T) {
	eachBackend(t, func(t *testing.T, srv *parleytest.Server) {
		fx := newFixture(t, srv)
		ch := fx.channel(t, "guest", "agent")
		guest, agent := connect(t, srv, fx.token(t, "guest")), connect(t, srv, fx.token(t, "agent"))
		if chs := guest.frames[0]["data"].(map[string]any)["channels"].([]any); len(chs) != 1 || chs[0] != ch {
			t.Fatalf("guest's channels: %v", chs)
		}
		guest.subscribe(ch, nil)
		agent.subscribe(ch, nil)

		for i := range 20 {
			r := agent.send(ch, fmt.Sprint("message ", i), fmt.Sprint("a-", i))
			if r["type"] != "reply" {
				t.Fatalf("send %d: %v", i, r)
			}
			if d := r["data"].(map[string]any); num(d["index"]) != int64(i) || d["message"].(map[string]any)["body"] != fmt.Sprint("message ", i) {
				t.Fatalf("ack %d: %v", i, r)
			}
		}
		for i := range 20 {
			if f := guest.next("message.added"); num(f["index"]) != int64(i) {
				t.Fatalf("guest got index %v, want %d", f["index"], i)
			}
		}

		// A retried client message id gets the original back, not a copy.
		first := guest.send(ch, "once", "g-1")["data"].(map[string]any)
		again := guest.send(ch, "once", "g-1")["data"].(map[string]any)
		if num(first["index"]) != 20 || num(again["index"]) != 20 {
			t.Fatalf("retry: first %v, again %v", first, again)
		}
		if n := len(fx.messages(t, ch)); n != 21 {
			t.Fatalf("%d messages stored, want 21", n)
		}

		guest.do(map[string]any{"type": "typing", "channel_sid": ch})
		if f := agent.next("typing.started"); f["data"].(map[string]any)["identity"] != "guest" {
			t.Fatalf("typing: %v", f)
		}
		guest.do(map[string]any{"type": "read", "channel_sid": ch, "index": 20})
		f := agent.next("member.updated")
		if d := f["data"].(map[string]any); d["identity"] != "guest" || num(d["last_consumed_message_index"]) != 20 {
			t.Fatalf("read horizon: %v", f)
		}
		page := guest.do(map[string]any{"type": "history", "channel_sid": ch, "before": 20, "limit": 5})["data"].(map[string]any)["messages"].([]any)
		if len(page) != 5 || num(page[0].(map[string]any)["index"]) != 15 {
			t.Fatalf("history page: %v", page)
		}
		if guest.count("typing.started") != 0 {
			t.Fatal("own typing echoed")
		}
	})
}

func TestRealtimeResumeAfterDisconnect(t *testing.T) {
	eachBackend(t, func(t *testing.T, srv *parleytest.Server) {
		fx := newFixture(t, srv)
		ch := fx.channel(t, "guest", "agent")
		agent := connect(t, srv, fx.token(t, "agent"))
		agent.subscribe(ch, nil)
		guest := connect(t, srv, fx.token(t, "guest"))
		guest.subscribe(ch, nil)
		for i := range 3 {
			agent.send(ch, "before", fmt.Sprint("b", i))
		}
		var last int64
		for range 3 {
			last = num(guest.next("message.added")["index"])
		}
		guest.conn.CloseNow() // the network goes away, no close handshake

		for i := range 150 {
			agent.send(ch, fmt.Sprint("offline ", i), fmt.Sprint("o", i))
		}
		agent.do(map[string]any{"type": "read", "channel_sid": ch, "index": 100})
		if _, err := srv.Admin().ChatV2.UpdateChannel(fx.service, ch, chatAttributes(`{"status":"INACTIVE","channel_type":"web"}`)); err != nil {
			t.Fatalf("close the chat: %v", err)
		}

		back := connect(t, srv, fx.token(t, "guest"))
		state := back.subscribe(ch, &last)
		for want := last + 1; want <= last+150; want++ {
			if f := back.next("message.added"); num(f["index"]) != want {
				t.Fatalf("resumed index %v, want %d", f["index"], want)
			}
		}
		if n := back.count("message.added"); n != 150 {
			t.Fatalf("%d messages replayed, want exactly 150", n)
		}
		if num(state["last_index"]) != last+150 || num(state["replayed"]) != 150 {
			t.Fatalf("state: last_index %v replayed %v", state["last_index"], state["replayed"])
		}
		if attrs := state["channel"].(map[string]any)["attributes"].(string); !strings.Contains(attrs, "INACTIVE") {
			t.Fatalf("a chat closed while offline shows %s", attrs)
		}
		horizon := map[string]any{}
		for _, m := range state["members"].([]any) {
			m := m.(map[string]any)
			horizon[m["identity"].(string)] = m["last_consumed_message_index"]
		}
		if horizon["agent"] != float64(100) || len(horizon) != 2 {
			t.Fatalf("members' read horizons: %v", horizon)
		}
		agent.send(ch, "live", "live")
		if f := back.next("message.added"); num(f["index"]) != last+151 {
			t.Fatalf("live after resume: %v", f)
		}
	})
}

func TestRealtimeAuthorization(t *testing.T) {
	eachBackend(t, func(t *testing.T, srv *parleytest.Server) {
		fx := newFixture(t, srv)
		mine := fx.channel(t, "guest-a", "agent")
		theirs := fx.channel(t, "guest-b")
		a := connect(t, srv, fx.token(t, "guest-a"))
		for name, f := range map[string]map[string]any{
			"subscribe to another guest's channel": {"type": "subscribe", "channel_sid": theirs},
			"send into it":                         {"type": "send", "channel_sid": theirs, "body": "x", "client_message_id": "x"},
			"read its history":                     {"type": "history", "channel_sid": theirs},
			"send as someone else":                 {"type": "send", "channel_sid": mine, "body": "x", "client_message_id": "y", "from": "agent"},
			"another chat service":                 {"type": "subscribe", "channel_sid": mine, "service_sid": "IS" + strings.Repeat("0", 32)},
		} {
			if r := a.do(f); errCode(r) != 20403 {
				t.Errorf("%s: %v, want error 20403", name, r)
			}
		}
		if n := len(fx.messages(t, theirs)) + len(fx.messages(t, mine)); n != 0 {
			t.Fatalf("%d refused messages were stored", n)
		}
		if r := a.do(map[string]any{"type": "subscribe", "channel_sid": "CH" + strings.Repeat("f", 32)}); errCode(r) == 0 {
			t.Fatalf("subscribe to a channel that does not exist: %v", r)
		}

		// Removed from the channel, the guest stops receiving at once.
		a.subscribe(mine, nil)
		agent := connect(t, srv, fx.token(t, "agent"))
		agent.send(mine, "hello", "1")
		a.next("message.added")
		if err := srv.Admin().ChatV2.DeleteMember(fx.service, mine, "guest-a", &chatv2.DeleteMemberParams{}); err != nil {
			t.Fatalf("remove member: %v", err)
		}
		if f := a.next("unsubscribed"); f["channel_sid"] != mine {
			t.Fatalf("unsubscribed: %v", f)
		}
		agent.send(mine, "not for you", "2")
		if r := a.send(mine, "still here?", "3"); errCode(r) != 20403 {
			t.Fatalf("a removed member sent: %v", r)
		}
		if n := a.count("message.added"); n != 1 {
			t.Fatalf("the removed member got %d messages, want 1", n)
		}
	}, func(c *config.Config) { c.AllowedOrigins = "https://shop.example" })
}

func TestRealtimeOrigin(t *testing.T) {
	srv := parleytest.Start(t, func(c *config.Config) { c.AllowedOrigins = "https://shop.example" })
	fx := newFixture(t, srv)
	tok := fx.token(t, "guest")
	evil := dial(t, srv, http.Header{"Origin": {"https://evil.example"}}).start()
	evil.write(map[string]any{"type": "auth", "token": tok})
	if code, reason := evil.closed(); code != realtime.CloseOriginRefused || !strings.Contains(reason, "evil.example") {
		t.Fatalf("closed %d %q", code, reason)
	}
	shop := dial(t, srv, http.Header{"Origin": {"https://shop.example"}}).start()
	if r := shop.do(map[string]any{"type": "auth", "token": tok}); r["type"] != "reply" {
		t.Fatalf("allowed origin: %v", r)
	}
	bad := dial(t, srv, nil).start()
	bad.write(map[string]any{"type": "auth", "token": tok + "x"})
	if code, _ := bad.closed(); code != realtime.CloseAuthFailed {
		t.Fatalf("bad token closed %d", code)
	}
}

func TestRealtimeTokenLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, srv *parleytest.Server) {
		fx := newFixture(t, srv)
		short := func(id string) string {
			return srv.Token(t, token.Grant{Identity: id, ChatServiceSID: fx.service, TTL: 3 * time.Second})
		}
		expiring := connect(t, srv, short("guest"))
		renewed := connect(t, srv, short("guest"))
		renewed.next("tokenAboutToExpire")
		if r := renewed.do(map[string]any{"type": "updateToken", "token": fx.token(t, "guest")}); r["type"] != "reply" {
			t.Fatalf("updateToken: %v", r)
		}
		if r := renewed.do(map[string]any{"type": "updateToken", "token": fx.token(t, "someone-else")}); errCode(r) != 20403 {
			t.Fatalf("updateToken to another identity: %v", r)
		}
		expiring.next("tokenAboutToExpire")
		if code, reason := expiring.closed(); code != realtime.CloseTokenExpired || !strings.Contains(reason, "expired") {
			t.Fatalf("expiring socket closed %d %q", code, reason)
		}
		// The renewed socket outlived its first token.
		if r := renewed.do(map[string]any{"type": "ping"}); r["type"] != "pong" {
			t.Fatalf("renewed socket: %v", r)
		}

		// Deleting the key that signed a token closes its sockets.
		key, err := srv.App.Accounts.CreateKey(t.Context(), srv.AccountSID, "short-lived")
		if err != nil {
			t.Fatal(err)
		}
		keyed := connect(t, srv, srv.Token(t, token.Grant{Identity: "agent", ChatServiceSID: fx.service, KeySID: key.SID}))
		if err := srv.App.Accounts.DeleteKey(t.Context(), srv.AccountSID, key.SID); err != nil {
			t.Fatal(err)
		}
		if code, _ := keyed.closed(); code != realtime.CloseKeyDeleted {
			t.Fatalf("closed %d, want %d", code, realtime.CloseKeyDeleted)
		}
	}, func(c *config.Config) { c.RealtimeTokenWarning = 2 * time.Second })
}

func TestRealtimeSlowConsumer(t *testing.T) {
	eachBackend(t, func(t *testing.T, srv *parleytest.Server) {
		fx := newFixture(t, srv)
		ch := fx.channel(t, "slow", "agent")
		slow := dial(t, srv, nil) // not reading yet
		slow.write(map[string]any{"type": "auth", "token": fx.token(t, "slow"), "id": "a"})
		slow.write(map[string]any{"type": "subscribe", "channel_sid": ch, "id": "s"})
		agent := connect(t, srv, fx.token(t, "agent"))
		agent.subscribe(ch, nil)
		body := strings.Repeat("x", 30<<10)
		sent := 0
		for ; srv.App.Realtime.Stats().SlowConsumers.Load() == 0; sent++ {
			if sent == 3000 {
				t.Fatal("3000 messages of 30 KiB and the socket that reads nothing is not a slow consumer")
			}
			if _, _, err := srv.App.Chat.SendMessage(t.Context(), srv.AccountSID, fx.service, ch, "agent", body, "", fmt.Sprint(sent)); err != nil {
				t.Fatal(err)
			}
			// The agent keeps up, message by message, while the other lags.
			if f := agent.next("message.added"); num(f["index"]) != int64(sent) {
				t.Fatalf("the reading socket got %v, want %d", f["index"], sent)
			}
		}
		slow.start()
		if code, reason := slow.closed(); code != realtime.CloseSlowConsumer || !strings.Contains(reason, "slow consumer") {
			t.Fatalf("slow socket closed %d %q", code, reason)
		}
	}, func(c *config.Config) { c.RealtimeOutbox = 8; c.MaxBodyBytes = 1 << 20 })
}

func TestRealtimeFlooding(t *testing.T) {
	eachBackend(t, func(t *testing.T, srv *parleytest.Server) {
		fx := newFixture(t, srv)
		ch := fx.channel(t, "flooder", "agent")
		other := fx.channel(t, "calm")
		flooder, agent, calm := connect(t, srv, fx.token(t, "flooder")), connect(t, srv, fx.token(t, "agent")), connect(t, srv, fx.token(t, "calm"))
		limited := 0
		for i := range 30 {
			r := flooder.send(ch, "spam", fmt.Sprint(i))
			if errCode(r) == 20429 {
				limited++
				if e := r["error"].(map[string]any); e["retry_after_ms"] == nil || !strings.Contains(e["message"].(string), "too fast") {
					t.Fatalf("rate limit frame: %v", r)
				}
			}
		}
		if limited == 0 {
			t.Fatal("30 sends in a row were never limited")
		}
		if r := agent.send(ch, "I am here", "a"); r["type"] != "reply" {
			t.Fatalf("the agent in the flooded channel was limited: %v", r)
		}
		if r := calm.send(other, "hello", "c"); r["type"] != "reply" {
			t.Fatalf("a guest elsewhere was limited: %v", r)
		}
		if n := len(fx.messages(t, ch)); n != 30-limited+1 {
			t.Fatalf("%d messages stored, want %d", n, 30-limited+1)
		}
	}, func(c *config.Config) { c.RealtimeIdentityRate, c.RealtimeIdentityBurst = 1, 5 })
}

func TestRealtimeWorkerEvents(t *testing.T) {
	srv := parleytest.Start(t)
	worker := "WK" + strings.Repeat("1", 32)
	tok := srv.Token(t, token.Grant{Identity: "alice", WorkspaceSID: "WS" + strings.Repeat("2", 32), WorkerSID: worker})
	c := connect(t, srv, tok)
	if r := c.do(map[string]any{"type": "channels"}); errCode(r) != 20403 {
		t.Fatalf("a token without a chat grant listed channels: %v", r)
	}
	ev := fmt.Sprintf(`{"v":1,"type":"reservation.created","account_sid":%q,"workspace_sid":"WS%s","worker_sid":%q,"data":{"sid":"WR1"}}`,
		srv.AccountSID, strings.Repeat("2", 32), worker)
	other := strings.Replace(ev, worker, "WK"+strings.Repeat("3", 32), 1)
	_ = srv.App.Bus.Publish(t.Context(), "worker.WK"+strings.Repeat("3", 32), []byte(other))
	_ = srv.App.Bus.Publish(t.Context(), "worker."+worker, []byte(ev))
	if f := c.next("reservation.created"); f["worker_sid"] != worker || f["data"].(map[string]any)["sid"] != "WR1" {
		t.Fatalf("worker event: %v", f)
	}
	if n := c.count("reservation.created"); n != 1 {
		t.Fatalf("%d reservation events, want only this worker's", n)
	}
	if _, metrics := srv.Request(t, "GET", "/metrics", nil, "", ""); !strings.Contains(metrics, "parley_realtime_sockets 1") {
		t.Fatal("/metrics does not count the open socket")
	}
}

func TestRealtimeDeadPeerAndHostileFrames(t *testing.T) {
	srv := parleytest.Start(t, func(c *config.Config) { c.RealtimeHeartbeat = time.Second })
	fx := newFixture(t, srv)
	tok := fx.token(t, "guest")

	// A peer that stops answering is closed after two silent heartbeats.
	silent := connect(t, srv, tok)
	silent.next("ping")
	if code, reason := silent.closed(); code != realtime.CloseHeartbeat || !strings.Contains(reason, "no frame") {
		t.Fatalf("silent peer closed %d %q", code, reason)
	}

	cases := []struct {
		name string
		send func(c *wsClient) error
		code websocket.StatusCode
	}{
		{"binary frame", func(c *wsClient) error { return c.conn.Write(t.Context(), websocket.MessageBinary, []byte("{}")) }, websocket.StatusUnsupportedData},
		{"garbage before auth", func(c *wsClient) error {
			return c.conn.Write(t.Context(), websocket.MessageText, []byte("GET / HTTP/1.1"))
		}, realtime.CloseBadFrame},
		{"frame over the limit", func(c *wsClient) error {
			return c.conn.Write(t.Context(), websocket.MessageText, []byte(`{"v":1,"type":"auth","token":"`+strings.Repeat("x", 200<<10)+`"}`))
		}, websocket.StatusMessageTooBig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, srv, nil).start()
			if err := tc.send(c); err != nil {
				t.Fatal(err)
			}
			if code, _ := c.closed(); code != tc.code {
				t.Fatalf("closed %d, want %d", code, tc.code)
			}
		})
	}
	// After auth, a bad frame is an error frame that names the field, and the socket stays.
	c := connect(t, srv, tok)
	if r := c.do(map[string]any{"type": "read", "channel_sid": "CH1", "index": 0}); errCode(r) != 20001 ||
		!strings.Contains(r["error"].(map[string]any)["message"].(string), "channel_sid") {
		t.Fatalf("bad frame after auth: %v", r)
	}
	if r := c.do(map[string]any{"type": "ping"}); r["type"] != "pong" {
		t.Fatalf("after a bad frame: %v", r)
	}
}
