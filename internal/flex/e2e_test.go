package flex_test

// End-to-end tests of a web chat over real sockets, with no browser: a
// guest token, a WebChannel, the visitor's and the agent's realtime
// sockets, the integration at work, the task's end, the janitor, and the
// next engagement.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	chatv2 "github.com/twilio/twilio-go/rest/chat/v2"
	flexv1 "github.com/twilio/twilio-go/rest/flex/v1"
	trv1 "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/store/storetest"
	"github.com/parleychat/parley/internal/token"
	"github.com/parleychat/parley/internal/webhook"
)

// frame is any server frame, decoded loosely.
type frame struct {
	Type       string          `json:"type"`
	Re         string          `json:"re"`
	ChannelSID string          `json:"channel_sid"`
	Data       json.RawMessage `json:"data"`
	Error      json.RawMessage `json:"error"`
	raw        string
}

// socket is one realtime client: frames it receives queue in order.
type socket struct {
	t      testing.TB
	conn   *websocket.Conn
	mu     sync.Mutex
	frames []frame
	seen   int
	wake   chan struct{}
	nextID int
}

func dial(t testing.TB, srv *parleytest.Server, tok string) *socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/realtime/v1"
	conn, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	conn.SetReadLimit(1 << 20)
	s := &socket{t: t, conn: conn, wake: make(chan struct{}, 1)}
	t.Cleanup(func() { conn.Close(websocket.StatusNormalClosure, "") })
	go s.read()
	s.call(map[string]any{"type": "auth", "token": tok})
	return s
}

func (s *socket) read() {
	for {
		_, b, err := s.conn.Read(context.Background())
		if err != nil {
			return
		}
		var f frame
		_ = json.Unmarshal(b, &f)
		f.raw = string(b)
		s.mu.Lock()
		s.frames = append(s.frames, f)
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// call sends a frame and waits for its reply (failing on an error frame).
func (s *socket) call(f map[string]any) frame {
	s.t.Helper()
	s.nextID++
	id := "f" + strings.Repeat("x", 0) + itoa(s.nextID)
	f["v"], f["id"] = 1, id
	b, _ := json.Marshal(f)
	if err := s.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		s.t.Fatalf("write: %v", err)
	}
	got := s.await("reply to "+id, func(f frame) bool { return f.Re == id })
	if got.Type == "error" {
		s.t.Fatalf("frame %s refused: %s", b, got.raw)
	}
	return got
}

// await returns the first frame not yet awaited that matches.
func (s *socket) await(what string, match func(frame) bool) frame {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		for i := s.seen; i < len(s.frames); i++ {
			if match(s.frames[i]) {
				f := s.frames[i]
				s.frames = append(s.frames[:i], s.frames[i+1:]...)
				s.mu.Unlock()
				return f
			}
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-deadline:
			s.mu.Lock()
			defer s.mu.Unlock()
			var got []string
			for _, f := range s.frames {
				got = append(got, f.raw)
			}
			s.t.Fatalf("timed out waiting for %s; frames: %s", what, strings.Join(got, "\n"))
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func (s *socket) subscribe(ch string) {
	s.call(map[string]any{"type": "subscribe", "channel_sid": ch})
}

var sendSeq atomic.Int64

// say sends a message. Client message ids are unique across the test:
// chat scopes them per channel, not per sender.
func (s *socket) say(ch, body string) frame {
	return s.call(map[string]any{"type": "send", "channel_sid": ch, "body": body, "client_message_id": "c" + itoa(int(sendSeq.Add(1)))})
}

// heard waits for a message on ch with body from identity.
func (s *socket) heard(ch, from, body string) {
	s.t.Helper()
	s.await(from+" saying "+body, func(f frame) bool {
		var m struct{ From, Body string }
		_ = json.Unmarshal(f.Data, &m)
		return f.Type == "message.added" && f.ChannelSID == ch && m.From == from && m.Body == body
	})
}

// ended waits for the janitor's channel update (status INACTIVE).
func (s *socket) ended(ch string) {
	s.t.Helper()
	s.await("the chat on "+ch+" to end", func(f frame) bool {
		var c struct{ Attributes string }
		_ = json.Unmarshal(f.Data, &c)
		return f.Type == "channel.updated" && f.ChannelSID == ch && strings.Contains(c.Attributes, `"status":"INACTIVE"`)
	})
}

// reservation waits for a reservation.created push for a task on
// channel ch and returns it.
func (s *socket) reservation(ch string) (resSID, taskSID, taskAttrs string) {
	s.t.Helper()
	var r struct {
		Sid  string `json:"sid"`
		Task struct {
			Sid        string `json:"sid"`
			Attributes string `json:"attributes"`
		} `json:"task"`
	}
	s.await("a reservation for "+ch, func(f frame) bool {
		if f.Type != "reservation.created" || json.Unmarshal(f.Data, &r) != nil {
			return false
		}
		return strings.Contains(r.Task.Attributes, ch)
	})
	return r.Sid, r.Task.Sid, r.Task.Attributes
}

// guest asks for a guest token as the widget does.
func guest(t testing.TB, srv *parleytest.Server) (tok, identity string) {
	t.Helper()
	res, err := http.Post(srv.URL+"/iam/v1/Accounts/"+srv.AccountSID+"/Tokens", "application/json", strings.NewReader(`{"products":["flex"]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Token, Identity string }
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &out); err != nil || res.StatusCode != 200 || out.Token == "" {
		t.Fatalf("guest token: %d %s", res.StatusCode, b)
	}
	return out.Token, out.Identity
}

// webChannel starts a chat as the widget does: Basic token:<jwt>.
func webChannel(t testing.TB, srv *parleytest.Server, tok, identity, flowSID, pre string) string {
	t.Helper()
	form := url.Values{"FlexFlowSid": {flowSID}, "Identity": {identity}, "CustomerFriendlyName": {visitorName},
		"ChatFriendlyName": {"Flex WebChat"}, "PreEngagementData": {pre}}
	req, _ := http.NewRequest("POST", srv.URL+"/flex-api/v1/WebChannels", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("token", tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out struct{ Sid string }
	if json.Unmarshal(b, &out); res.StatusCode != 201 || out.Sid == "" {
		t.Fatalf("web channel: %d %s", res.StatusCode, b)
	}
	return out.Sid
}

// agent is an available worker with its realtime socket.
type agent struct {
	identity, worker string
	sock             *socket
}

func newAgent(t testing.TB, srv *parleytest.Server, ws, chatService, identity string) agent {
	t.Helper()
	tr := srv.Admin().TaskrouterV1
	acts, err := tr.ListActivity(ws, &trv1.ListActivityParams{FriendlyName: ptr("Available")})
	if err != nil || len(acts) != 1 {
		t.Fatalf("activity Available: %v %v", acts, err)
	}
	w, err := tr.CreateWorker(ws, (&trv1.CreateWorkerParams{}).SetFriendlyName(identity).SetActivitySid(*acts[0].Sid).
		SetAttributes(`{"contact_uri":"client:`+identity+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	tok := srv.Token(t, token.Grant{Identity: identity, ChatServiceSID: chatService, WorkspaceSID: ws, WorkerSID: *w.Sid, TaskRouterRole: "worker"})
	return agent{identity: identity, worker: *w.Sid, sock: dial(t, srv, tok)}
}

// accept accepts the reservation and joins the chat, as the desktop does.
func (a agent) accept(t testing.TB, srv *parleytest.Server, ws, task, res, chatService, ch string) {
	t.Helper()
	tr := srv.Admin().TaskrouterV1
	if _, err := tr.UpdateTaskReservation(ws, task, res, (&trv1.UpdateTaskReservationParams{}).SetReservationStatus("accepted")); err != nil {
		t.Fatalf("accept: %v", err)
	}
	if _, err := srv.Admin().ChatV2.CreateMember(chatService, ch, (&chatv2.CreateMemberParams{}).SetIdentity(a.identity)); err != nil {
		t.Fatalf("join: %v", err)
	}
	a.sock.subscribe(ch)
}

func complete(t testing.TB, srv *parleytest.Server, ws, task string) {
	t.Helper()
	tr := srv.Admin().TaskrouterV1
	if _, err := tr.UpdateTask(ws, task, (&trv1.UpdateTaskParams{}).SetAssignmentStatus("wrapping")); err != nil {
		t.Fatalf("wrap up: %v", err)
	}
	if _, err := tr.UpdateTask(ws, task, (&trv1.UpdateTaskParams{}).SetAssignmentStatus("completed").SetReason("resolved")); err != nil {
		t.Fatalf("complete: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func attrsOf(t testing.TB, raw string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("attributes %q: %v", raw, err)
	}
	return m
}

// converse runs one engagement from the visitor's first message to the
// janitor closing the chat, and checks the task carried the pre-engagement data.
func converse(t *testing.T, srv *parleytest.Server, visitor *socket, identity string, ag agent, ws, chatService, ch, first string) {
	t.Helper()
	visitor.subscribe(ch)
	visitor.say(ch, first)
	res, task, taskAttrs := ag.sock.reservation(ch)
	a := attrsOf(t, taskAttrs)
	pre, _ := a["pre_engagement_data"].(map[string]any)
	if a["channelSid"] != ch || pre["question"] != "Where is my parcel?" || a["name"] != visitorName {
		t.Fatalf("task attributes %v", a)
	}
	ag.accept(t, srv, ws, task, res, chatService, ch)
	ag.sock.say(ch, "Hello Grace, let me look.")
	visitor.heard(ch, ag.identity, "Hello Grace, let me look.")
	visitor.say(ch, "Thanks!")
	ag.sock.heard(ch, identity, "Thanks!")
	complete(t, srv, ws, task)
	visitor.ended(ch)
}

// visitorName holds quotes, a backslash and markup: the default flow's
// attribute template must carry it into the task as it is, not break on it.
const visitorName = `Grace "G." O'Neil \ <script>alert(1)</script>`

var preEngagement = func() string {
	b, _ := json.Marshal(map[string]string{"friendlyName": visitorName, "question": "Where is my parcel?", "location": "https://shop.example/track"})
	return string(b)
}()

func TestEndToEndStudio(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			setup := srv.App.FlexSetup
			if setup.FlexFlowSID == "" {
				t.Fatal("no default Flex setup")
			}
			ag := newAgent(t, srv, setup.WorkspaceSID, setup.ChatServiceSID, "agent_ada")
			tok, identity := guest(t, srv)
			visitor := dial(t, srv, tok)

			ch := webChannel(t, srv, tok, identity, setup.FlexFlowSID, preEngagement)
			if again := webChannel(t, srv, tok, identity, setup.FlexFlowSID, preEngagement); again != ch {
				t.Fatalf("a reloaded page got a second channel %s (first %s)", again, ch)
			}
			converse(t, srv, visitor, identity, ag, setup.WorkspaceSID, setup.ChatServiceSID, ch, "Hi, I need help")

			// The widget sees the end and starts anew: a new engagement.
			next := webChannel(t, srv, tok, identity, setup.FlexFlowSID, preEngagement)
			if next == ch {
				t.Fatal("the next engagement reused the closed channel")
			}
			converse(t, srv, visitor, identity, ag, setup.WorkspaceSID, setup.ChatServiceSID, next, "Me again")
		})
	}
}

func TestEndToEndTask(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			setup := srv.App.FlexSetup
			p := (&flexv1.CreateFlexFlowParams{}).SetFriendlyName("Web chat to tasks").SetChatServiceSid(setup.ChatServiceSID).
				SetChannelType("web").SetEnabled(true).SetIntegrationType("task").SetIntegrationWorkspaceSid(setup.WorkspaceSID).
				SetIntegrationWorkflowSid(setup.WorkflowSID).SetIntegrationChannel("chat").SetIntegrationCreationOnMessage(true).
				SetIntegrationPriority(3).SetIntegrationTimeout(3600).SetJanitorEnabled(true)
			flow, err := srv.Admin().FlexV1.CreateFlexFlow(p)
			if err != nil {
				t.Fatal(err)
			}
			ag := newAgent(t, srv, setup.WorkspaceSID, setup.ChatServiceSID, "agent_bo")
			tok, identity := guest(t, srv)
			visitor := dial(t, srv, tok)
			ch := webChannel(t, srv, tok, identity, *flow.Sid, preEngagement)
			converse(t, srv, visitor, identity, ag, setup.WorkspaceSID, setup.ChatServiceSID, ch, "Hi, I need help")
			next := webChannel(t, srv, tok, identity, *flow.Sid, preEngagement)
			if next == ch {
				t.Fatal("the next engagement reused the closed channel")
			}
			converse(t, srv, visitor, identity, ag, setup.WorkspaceSID, setup.ChatServiceSID, next, "Me again")
		})
	}
}

// TestEndToEndExternal: a bot behind Integration.Url receives each visitor
// message, signed, and answers through the Chat REST API; it ends the
// chat with ChatStatus=inactive, and the visitor's next chat is new.
func TestEndToEndExternal(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			setup := srv.App.FlexSetup
			bot := newBot(t, srv)
			p := (&flexv1.CreateFlexFlowParams{}).SetFriendlyName("Web chat to a bot").SetChatServiceSid(setup.ChatServiceSID).
				SetChannelType("web").SetEnabled(true).SetIntegrationType("external").SetIntegrationUrl(bot.url + "/inbound").
				SetIntegrationRetryCount(1)
			flow, err := srv.Admin().FlexV1.CreateFlexFlow(p)
			if err != nil {
				t.Fatal(err)
			}
			tok, identity := guest(t, srv)
			visitor := dial(t, srv, tok)
			for round, first := range []string{"Hi bot", "Me again"} {
				ch := webChannel(t, srv, tok, identity, *flow.Sid, preEngagement)
				visitor.subscribe(ch)
				visitor.say(ch, first)
				visitor.heard(ch, "bot", "You said: "+first)
				visitor.say(ch, "bye")
				visitor.ended(ch)
				if round == 1 && ch == bot.firstChannel() {
					t.Fatal("the next engagement reused the closed channel")
				}
			}
		})
	}
}

type bot struct {
	url   string
	mu    sync.Mutex
	chans []string
}

func (b *bot) firstChannel() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.chans[0]
}

// newBot answers each visitor message through chat's REST API and ends
// the chat when the visitor says bye.
func newBot(t testing.TB, srv *parleytest.Server) *bot {
	b := &bot{}
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if !webhook.Valid(srv.AuthToken, "http://"+r.Host+r.URL.RequestURI(), r.PostForm, r.Header.Get("X-Twilio-Signature")) {
			t.Errorf("unsigned or badly signed webhook")
			w.WriteHeader(403)
			return
		}
		w.WriteHeader(200)
		from, body, ch, svc := r.PostForm.Get("From"), r.PostForm.Get("Body"), r.PostForm.Get("ChannelSid"), r.PostForm.Get("InstanceSid")
		if from == "bot" {
			return
		}
		b.mu.Lock()
		b.chans = append(b.chans, ch)
		b.mu.Unlock()
		go func() {
			admin := srv.Admin()
			if body == "bye" {
				if _, err := admin.FlexV1.UpdateWebChannel(ch, (&flexv1.UpdateWebChannelParams{}).SetChatStatus("inactive")); err != nil {
					t.Errorf("end chat: %v", err)
				}
				return
			}
			if _, err := admin.ChatV2.CreateMessage(svc, ch, (&chatv2.CreateMessageParams{}).SetFrom("bot").SetBody("You said: "+body)); err != nil {
				t.Errorf("bot reply: %v", err)
			}
		}()
	}))
	t.Cleanup(h.Close)
	b.url = h.URL
	return b
}
