package chat_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	chatv2 "github.com/twilio/twilio-go/rest/chat/v2"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/webhook"
)

// hookServer is a local webhook endpoint that checks each request's
// X-Twilio-Signature and records it.
type hookServer struct {
	*httptest.Server
	t      *testing.T
	token  string
	mu     sync.Mutex
	got    []url.Values
	notify chan url.Values
	// answer decides the reply to each request (default 200, empty).
	answer func(p url.Values, attempt int) (int, string)
	tries  map[string]int
}

func newHookServer(t *testing.T, authToken string) *hookServer {
	h := &hookServer{t: t, token: authToken, notify: make(chan url.Values, 100), tries: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.t.Errorf("webhook body: %v", err)
	}
	full := "http://" + r.Host + r.URL.String()
	if !webhook.Valid(h.token, full, r.PostForm, r.Header.Get("X-Twilio-Signature")) {
		h.t.Errorf("bad signature on %s %v", full, r.PostForm)
		w.WriteHeader(http.StatusForbidden)
		return
	}
	p := r.Form // POST body, or the query of a GET
	h.mu.Lock()
	key := p.Get("EventType") + "|" + p.Get("Body")
	h.tries[key]++
	attempt := h.tries[key]
	h.got = append(h.got, p)
	h.mu.Unlock()
	status, body := 200, ""
	if h.answer != nil {
		status, body = h.answer(p, attempt)
	}
	if strings.HasPrefix(body, "{") {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	w.Write([]byte(body))
	h.notify <- p
}

// next waits for the next delivered webhook matching event.
func (h *hookServer) next(event string) url.Values {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case p := <-h.notify:
			if p.Get("EventType") == event {
				return p
			}
		case <-deadline:
			h.t.Fatalf("no %s webhook arrived", event)
			return nil
		}
	}
}

func (h *hookServer) count(match func(url.Values) bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, p := range h.got {
		if match(p) {
			n++
		}
	}
	return n
}

type chatSetup struct {
	srv      *parleytest.Server
	tw       *chatv2.ApiService
	is, ch   string
	hooks    *hookServer
	preHook  string
	postHook string
}

func setupHooks(t *testing.T, srv *parleytest.Server) *chatSetup {
	tw := srv.Admin().ChatV2
	h := newHookServer(t, srv.AuthToken)
	svc, err := tw.CreateService(&chatv2.CreateServiceParams{FriendlyName: ptr("Hooks")})
	if err != nil {
		t.Fatal(err)
	}
	s := &chatSetup{srv: srv, tw: tw, is: *svc.Sid, hooks: h, preHook: h.URL + "/pre", postHook: h.URL + "/post?x=1"}
	_, err = tw.UpdateService(s.is, &chatv2.UpdateServiceParams{PreWebhookUrl: &s.preHook, PostWebhookUrl: &s.postHook,
		WebhookFilters: &[]string{"onMessageSend", "onMessageSent", "onMemberAdded"}, PreWebhookRetryCount: ptr(1),
		PostWebhookRetryCount: ptr(1)})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := tw.CreateChannel(s.is, &chatv2.CreateChannelParams{Attributes: ptr(`{"from":"Visitor","channel_type":"web"}`)})
	if err != nil {
		t.Fatal(err)
	}
	s.ch = *ch.Sid
	return s
}

// Service Pre/Post webhooks: signed, filtered, REST only with the header,
// pre-events refusing, rewriting and retried.
func TestServiceWebhooks(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		s := setupHooks(t, srv)
		s.hooks.answer = func(p url.Values, attempt int) (int, string) {
			switch {
			case p.Get("EventType") == "onMessageSent" && p.Get("Body") == "loud" && attempt == 1:
				return 503, "" // retried: PostWebhookRetryCount is 1
			case p.Get("EventType") != "onMessageSend":
				return 200, ""
			case strings.Contains(p.Get("Body"), "spam"):
				return 403, ""
			case p.Get("Body") == "secret":
				return 200, `{"body":"[redacted]"}`
			case p.Get("Body") == "flaky" && attempt == 1:
				return 503, ""
			}
			return 200, ""
		}

		// REST without X-Twilio-Webhook-Enabled fires nothing, with it
		// fires the post-event (never the pre-event: REST is not the SDK).
		if _, err := s.tw.CreateMessage(s.is, s.ch, &chatv2.CreateMessageParams{Body: ptr("quiet")}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.tw.CreateMessage(s.is, s.ch, &chatv2.CreateMessageParams{Body: ptr("loud"), From: ptr("agent"),
			XTwilioWebhookEnabled: ptr("true")}); err != nil {
			t.Fatal(err)
		}
		s.hooks.next("onMessageSent") // the attempt answered 503
		p := s.hooks.next("onMessageSent")
		if p.Get("Body") != "loud" || p.Get("Index") != "1" || p.Get("ChannelSid") != s.ch || p.Get("InstanceSid") != s.is ||
			p.Get("AccountSid") != srv.AccountSID || p.Get("Source") != "API" || p.Get("From") != "agent" || !rest.IsSID("IM", p.Get("MessageSid")) {
			t.Fatalf("onMessageSent %v", p)
		}

		ctx := context.Background()
		chatSvc := srv.App.Chat
		// The SDK path: a refused pre-event refuses the send.
		_, _, err := chatSvc.SendMessage(ctx, srv.AccountSID, s.is, s.ch, "visitor", "buy spam", "", "")
		if e, ok := rest.AsError(err); !ok || e.Status != 403 || !strings.Contains(e.Message, "onMessageSend") {
			t.Fatalf("refused send: %v", err)
		}
		// A pre-event answer may rewrite the body.
		raw, idx, err := chatSvc.SendMessage(ctx, srv.AccountSID, s.is, s.ch, "visitor", "secret", "", "")
		if err != nil || idx != 2 || !strings.Contains(string(raw), `"body":"[redacted]"`) {
			t.Fatalf("rewritten send: %s %d %v", raw, idx, err)
		}
		// A 503 is retried (PreWebhookRetryCount 1), then the send goes through.
		if _, idx, err := chatSvc.SendMessage(ctx, srv.AccountSID, s.is, s.ch, "visitor", "flaky", "", ""); err != nil || idx != 3 {
			t.Fatalf("retried send: %d %v", idx, err)
		}
		if n := s.hooks.count(func(p url.Values) bool { return p.Get("EventType") == "onMessageSend" && p.Get("Body") == "flaky" }); n != 2 {
			t.Fatalf("flaky pre-event called %d times, want 2", n)
		}
		for _, want := range []string{"[redacted]", "flaky"} {
			if p := s.hooks.next("onMessageSent"); p.Get("Body") != want || p.Get("Source") != "SDK" || p.Get("RetryCount") != "0" {
				t.Fatalf("post-event %v, want body %q", p, want)
			}
		}
		msgs, _ := s.tw.ListMessage(s.is, s.ch, nil)
		if len(msgs) != 4 {
			t.Fatalf("%d messages stored, want 4 (the refused one is not)", len(msgs))
		}
		if n := s.hooks.count(func(p url.Values) bool { return p.Get("EventType") == "onMessageSent" && p.Get("Body") == "loud" }); n != 2 {
			t.Fatalf("post-event delivered %d times, want 2 (one retry after a 503)", n)
		}
		if n := s.hooks.count(func(p url.Values) bool { return p.Get("Body") == "quiet" }); n != 0 {
			t.Fatalf("a REST send without the header fired %d webhooks", n)
		}

		// An unreachable pre-event webhook refuses too, clearly.
		dead := "http://127.0.0.1:1/pre"
		if _, err := s.tw.UpdateService(s.is, &chatv2.UpdateServiceParams{PreWebhookUrl: &dead, PreWebhookRetryCount: ptr(0)}); err != nil {
			t.Fatal(err)
		}
		_, _, err = chatSvc.SendMessage(ctx, srv.AccountSID, s.is, s.ch, "visitor", "hello?", "", "")
		if e, ok := rest.AsError(err); !ok || e.Status != 503 {
			t.Fatalf("unreachable pre-event webhook: %v", err)
		}
	})
}

type fakeStudio struct{ got chan chat.StudioMessage }

func (f *fakeStudio) DispatchMessage(ctx context.Context, ev chat.StudioMessage) error {
	f.got <- ev
	return nil
}

// Channel webhooks: webhook (filters), trigger (words) and studio
// (in-process, in order).
func TestChannelWebhooks(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		s := setupHooks(t, srv)
		studio := &fakeStudio{got: make(chan chat.StudioMessage, 10)}
		srv.App.Chat.SetStudio(studio)
		flow := rest.NewSID("FW")
		for _, p := range []*chatv2.CreateChannelWebhookParams{
			{Type: ptr("webhook"), ConfigurationUrl: ptr(s.hooks.URL + "/channel"), ConfigurationFilters: &[]string{"onMemberAdded", "onChannelUpdated"}},
			{Type: ptr("trigger"), ConfigurationUrl: ptr(s.hooks.URL + "/trigger"), ConfigurationTriggers: &[]string{"Help"}, ConfigurationMethod: ptr("GET")},
			{Type: ptr("studio"), ConfigurationFlowSid: &flow},
		} {
			if _, err := s.tw.CreateChannelWebhook(s.is, s.ch, p); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.tw.CreateMember(s.is, s.ch, &chatv2.CreateMemberParams{Identity: ptr("visitor"), XTwilioWebhookEnabled: ptr("true")}); err != nil {
			t.Fatal(err)
		}
		// onMemberAdded goes to the service's post URL and to the channel's webhook.
		a, b := s.hooks.next("onMemberAdded"), s.hooks.next("onMemberAdded")
		if a.Get("Identity") != "visitor" || b.Get("Identity") != "visitor" || (a.Get("WebhookSid") == "") == (b.Get("WebhookSid") == "") {
			t.Fatalf("member added %v / %v", a, b)
		}
		ctx := context.Background()
		for _, body := range []string{"hello", "I need help!", "third"} {
			if _, _, err := srv.App.Chat.SendMessage(ctx, srv.AccountSID, s.is, s.ch, "visitor", body, `{"k":"v"}`, ""); err != nil {
				t.Fatal(err)
			}
		}
		for i, body := range []string{"hello", "I need help!", "third"} {
			select {
			case ev := <-studio.got:
				if ev.Body != body || ev.Index != int64(i) || ev.FlowSID != flow || ev.ChannelSID != s.ch || ev.ServiceSID != s.is ||
					ev.AccountSID != srv.AccountSID || ev.From != "visitor" || ev.Source != "SDK" || ev.Attributes != `{"k":"v"}` ||
					!rest.IsSID("IM", ev.MessageSID) || ev.DateCreated.IsZero() {
					t.Fatalf("studio message %d: %+v", i, ev)
				}
				var attrs map[string]string
				if err := json.Unmarshal(ev.ChannelAttributes, &attrs); err != nil || attrs["channel_type"] != "web" {
					t.Fatalf("channel attributes %s", ev.ChannelAttributes)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("studio got nothing")
			}
		}
		// The trigger webhook fires on its word only (whole word, any case).
		deadline := time.Now().Add(10 * time.Second)
		for s.hooks.count(func(p url.Values) bool { return p.Get("WebhookType") == "trigger" }) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		triggered := s.hooks.count(func(p url.Values) bool { return p.Get("WebhookType") == "trigger" })
		wrong := s.hooks.count(func(p url.Values) bool { return p.Get("WebhookType") == "trigger" && p.Get("Body") != "I need help!" })
		if triggered != 1 || wrong != 0 {
			t.Fatalf("trigger webhook fired %d times (%d for the wrong body)", triggered, wrong)
		}
	})
}

// blockingStudio holds each dispatch until released, so a test can change
// the channel while messages wait their turn.
type blockingStudio struct {
	got     chan chat.StudioMessage
	release chan struct{}
}

func (b *blockingStudio) DispatchMessage(ctx context.Context, ev chat.StudioMessage) error {
	b.got <- ev
	<-b.release
	return nil
}

// A message still waiting for its turn when the chat's studio webhook is
// removed (the janitor ending the chat) is not delivered: it would start a
// second engagement on a closed chat.
func TestStudioDispatchSkipsRemovedWebhook(t *testing.T) {
	srv := parleytest.Start(t)
	s := setupHooks(t, srv)
	studio := &blockingStudio{got: make(chan chat.StudioMessage, 10), release: make(chan struct{})}
	srv.App.Chat.SetStudio(studio)
	flow := rest.NewSID("FW")
	wh, err := s.tw.CreateChannelWebhook(s.is, s.ch, &chatv2.CreateChannelWebhookParams{Type: ptr("studio"), ConfigurationFlowSid: &flow})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, body := range []string{"first", "second"} {
		if _, _, err := srv.App.Chat.SendMessage(ctx, srv.AccountSID, s.is, s.ch, "visitor", body, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case ev := <-studio.got:
		if ev.Body != "first" {
			t.Fatalf("first dispatch %q", ev.Body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("studio got nothing")
	}
	// "second" is queued behind "first"; the chat ends meanwhile.
	if err := s.tw.DeleteChannelWebhook(s.is, s.ch, *wh.Sid); err != nil {
		t.Fatal(err)
	}
	close(studio.release)
	// A third message after the removal goes nowhere either; once chat is
	// closed, every queued dispatch has run, so nothing more can arrive.
	if _, _, err := srv.App.Chat.SendMessage(ctx, srv.AccountSID, s.is, s.ch, "visitor", "third", "", ""); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	select {
	case ev := <-studio.got:
		t.Fatalf("message %q dispatched after its studio webhook was removed", ev.Body)
	default:
	}
}
