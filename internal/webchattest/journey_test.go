package webchattest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	chatv2 "github.com/twilio/twilio-go/rest/chat/v2"
	trv1 "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/parleychat/parley/internal/browsertest"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rtclient"
	"github.com/parleychat/parley/internal/token"
)

// TestWebchat runs the widget in one Chromium against one Parley: the
// visitor's whole journey, hostile input both ways, and the accessibility
// audit, each in a browser context of its own (so each is a new visitor),
// side by side.
func TestWebchat(t *testing.T) {
	browser := chromium(t)
	srv := parleytest.Start(t, func(c *config.Config) {
		c.GuestTokenTTL = time.Minute // the shortest allowed: the widget renews it after 48 s
		// The server's tokenAboutToExpire (3 min before expiry by default)
		// comes at once for such a token: the widget must not renew in a loop.
		c.GuestTokenRate = 0
		c.RealtimeIdentityRate, c.RealtimeChannelRate = 0, 0 // the tests' agents send in bursts
	})
	if srv.App.FlexSetup.FlexFlowSID == "" {
		t.Fatal("the server has no default Flex setup, so the demo page has no widget")
	}
	t.Run("Journey", func(t *testing.T) { t.Parallel(); journey(t, browser, srv) })
	t.Run("HostileInput", func(t *testing.T) { t.Parallel(); hostileInput(t, browser, srv) })
	t.Run("Accessibility", func(t *testing.T) { t.Parallel(); accessibility(t, browser, srv) })
	t.Run("ServerConfig", func(t *testing.T) { t.Parallel(); serverConfig(t, browser, srv) })
	t.Run("RenewalFailure", func(t *testing.T) { t.Parallel(); renewalFailure(t, browser, srv) })
}

// storageKey is where the widget keeps the conversation in localStorage.
func storageKey(srv *parleytest.Server) string {
	return "parley-webchat:" + srv.AccountSID + ":" + srv.App.FlexSetup.FlexFlowSID
}

func (b *tab) channelSid(srv *parleytest.Server) string {
	b.t.Helper()
	return b.str(`(JSON.parse(localStorage.getItem(` + jsString(storageKey(srv)) + `) || "{}").channelSid || "")`)
}

// fill sets form fields by name (checkboxes take true/false) and fires input events.
func (b *tab) fill(values map[string]any) {
	b.t.Helper()
	v, _ := json.Marshal(values)
	b.do(`Object.entries(` + string(v) + `).forEach(([name, v]) => {
		const el = $("[name=" + JSON.stringify(name) + "]");
		if (!el) throw new Error("no field " + name);
		if (el.type === "checkbox") el.checked = v; else el.value = v;
		el.dispatchEvent(new Event("input", { bubbles: true }));
	})`)
}

// errorFor is the validation message shown next to a field.
func (b *tab) errorFor(name string) string {
	b.t.Helper()
	return b.str(`(() => { const el = $("[name=` + name + `]"); const e = R.getElementById(el.getAttribute("aria-describedby"));
		return e.hidden ? "" : (el.getAttribute("aria-invalid") === "true" ? "" : "NOT MARKED INVALID: ") + e.textContent; })()`)
}

func journey(t *testing.T, browser context.Context, srv *parleytest.Server) {
	b := newTab(t, browser, 3*time.Minute)
	setup := srv.App.FlexSetup

	// The demo page: a launcher, and no global name but Parley.
	b.navigate(srv.URL + "/")
	b.until("the launcher is drawn", `$(".launcher")`)
	var globals []string
	b.js(`(() => { const f = document.createElement("iframe"); document.body.appendChild(f);
		const base = new Set(Object.getOwnPropertyNames(f.contentWindow)); f.remove();
		return Object.getOwnPropertyNames(window).filter((k) => !base.has(k)); })()`, &globals)
	if strings.Join(globals, ",") != "Parley" {
		t.Errorf("the widget's globals: %v, want only Parley", globals)
	}
	if label := b.str(`$(".launcher").getAttribute("aria-label")`); label != "Open chat" {
		t.Errorf("launcher label %q", label)
	}
	var panelLoaded bool
	b.js(`!!$(".panel")`, &panelLoaded)
	if panelLoaded {
		t.Error("the panel loaded before the visitor opened the chat")
	}
	b.screenshot("1-launcher-closed.png")

	// Open with the keyboard: focus lands in the form's first field.
	b.do(`$(".launcher").focus()`)
	b.keys("\r")
	b.until("the form is shown", `$("form.pre")`)
	b.until("focus is in the first field", `R.activeElement && R.activeElement.name === "friendlyName"`)

	// Validation: nothing filled in, then wrong values.
	b.do(`$("form.pre button[type=submit]").click()`)
	b.until("the form complains", `$("form.pre .form-status").textContent.includes("4 highlighted")`)
	for name, want := range map[string]string{"friendlyName": "Your name is required.", "email": "Email is required.",
		"topic": "Topic is required.", "consent": "Please tick this box to continue.", "phone": "", "order": ""} {
		if got := b.errorFor(name); got != want {
			t.Errorf("empty form, field %s: message %q, want %q", name, got, want)
		}
	}
	b.fill(map[string]any{"friendlyName": "V", "email": "vera@", "phone": "call me", "order": "12345"})
	b.do(`$("form.pre button[type=submit]").click()`)
	for name, want := range map[string]string{"friendlyName": "Your name must be between 2 and 60 characters.",
		"email": "Enter an email address such as name@example.com.", "phone": "Enter a phone number, digits only, optionally starting with +.",
		"order": "An order number looks like NW-12345."} {
		if got := b.errorFor(name); got != want {
			t.Errorf("bad values, field %s: message %q, want %q", name, got, want)
		}
	}
	if focused := b.str(`R.activeElement.name`); focused != "friendlyName" {
		t.Errorf("after a failed submit focus is on %q, want the first bad field", focused)
	}
	b.screenshot("2-form-validation.png")

	b.fill(map[string]any{"friendlyName": "Vera Visitor", "email": "vera@example.com", "phone": "+44 20 7946 0958",
		"order": "NW-12345", "topic": "repair", "question": "My brakes squeak", "consent": true})
	b.do(`$("form.pre button[type=submit]").click()`)
	b.until("the question is sent as the first message", `$$(".msg.own").some((m) => m.textContent.includes("My brakes squeak") && m.textContent.includes("Sent"))`)
	ch := b.channelSid(srv)
	if !strings.HasPrefix(ch, "CH") {
		t.Fatalf("no channel saved: %q", ch)
	}
	attrs := channelAttributes(t, srv, ch)
	pre, _ := attrs["pre_engagement_data"].(map[string]any)
	if attrs["from"] != "Vera Visitor" || pre["email"] != "vera@example.com" || pre["topic"] != "repair" || pre["consent"] != true ||
		pre["site"] != "demo" || pre["plan"] != "free" || !strings.HasPrefix(fmt.Sprint(pre["location"]), srv.URL) {
		t.Errorf("the channel's attributes: %v", attrs)
	}

	// An agent becomes available, gets the task and accepts it.
	ag := newAgent(t, srv, "alice", "Alice Agent")
	task := ag.acceptTask(ch)
	ag.join(ch)
	b.until("the visitor sees who joined", `$("#pw-sub").textContent === "You are chatting with Alice Agent" && text(".msg.system").includes("Alice Agent joined the chat")`)
	ag.typing(ch)
	b.until("the typing indicator", `$(".typing").textContent === "Alice Agent is typing…"`)
	ag.send(ch, "Hi Vera! See https://example.com/brakes?x=1&y=2.")
	b.until("the reply", `$$(".msg.agent").some((m) => m.querySelector(".author").textContent === "Alice Agent" && m.querySelector(".bubble").textContent === "Hi Vera! See https://example.com/brakes?x=1&y=2.")`)
	if link := b.str(`(() => { const a = $(".msg.agent .bubble a"); return a.href + " " + a.rel + " " + a.target + " " + a.textContent; })()`); link != "https://example.com/brakes?x=1&y=2 noopener noreferrer nofollow _blank https://example.com/brakes?x=1&y=2" {
		t.Errorf("the link in the reply: %q", link)
	}
	b.until("the typing indicator went away", `$(".typing").textContent === ""`)
	b.until("a timestamp", `$(".msg.agent time").dateTime.endsWith("Z") && /\d\d:\d\d/.test($(".msg.agent time").textContent)`)
	ag.read(ch, 0)
	b.until("the read receipt", `$$(".msg.own .status").map((s) => s.textContent).join() === "Read"`)
	ag.waitReadBy(ch, 1) // the widget marks the agent's message read while it is open
	b.screenshot("3-conversation.png")

	// Closed panel: a message raises the unread badge.
	b.do(`Parley.Webchat.close()`)
	ag.send(ch, "Are you still there?")
	b.until("the unread badge", `!$(".badge").hidden && $(".badge").textContent === "1" && $(".launcher").getAttribute("aria-label") === "Open chat, 1 unread messages"`)
	b.screenshot("4-unread-badge.png")

	// A reload resumes the conversation with its history, unread badge included.
	b.reload()
	b.until("history restored", `$$(".msg .bubble").map((e) => e.textContent).join("|") === "My brakes squeak|Hi Vera! See https://example.com/brakes?x=1&y=2.|Are you still there?"`)
	b.until("the badge after reload", `$(".badge").textContent === "1" && !$(".badge").hidden`)
	b.do(`Parley.Webchat.open()`)
	b.until("the agent's name after reload", `$("#pw-sub").textContent === "You are chatting with Alice Agent" && $(".badge").hidden`)

	// A second tab shows the same conversation.
	second, closeSecond := chromedp.NewContext(b.ctx)
	must(t, chromedp.Do(second, chromedp.Navigate(srv.URL+"/")), "second tab")
	tab2 := &tab{t: t, ctx: second}
	tab2.do(`Parley.Webchat.open()`)
	tab2.until("the second tab resumes", `$$(".msg .bubble").length === 3`)
	closeSecond()

	// Token renewal: the token lives a minute; the widget renews it at 80%
	// on the same socket while messages flow both ways, and the socket
	// outlives the first token.
	b.do(`window.states = []; Parley.Webchat.on("connectionStateChanged", (s) => window.states.push(s));
		window.renewed = []; Parley.Webchat.on("tokenRenewed", (exp) => window.renewed.push(exp))`)
	firstToken := b.str(`JSON.parse(localStorage.getItem(` + jsString(storageKey(srv)) + `)).token.token`)
	firstExpiry := tokenExpiry(t, firstToken)
	stop := ag.tick(ch, 700*time.Millisecond)
	b.untilWithin(time.Until(firstExpiry), "the token was renewed", `window.renewed.length >= 1`)
	b.do(`$("#pw-input").focus()`)
	b.keys("after renewal\r")
	time.Sleep(time.Until(firstExpiry.Add(2 * time.Second)))
	ticks := stop()
	b.until("every tick arrived", fmt.Sprintf(`$$(".msg.agent .bubble").filter((e) => e.textContent.startsWith("tick ")).length === %d`, ticks))
	var bodies []string
	b.js(`$$(".msg.agent .bubble").map((e) => e.textContent).filter((s) => s.startsWith("tick "))`, &bodies)
	for i, body := range bodies {
		if body != fmt.Sprint("tick ", i) {
			t.Fatalf("ticks as shown: %v (want tick 0..%d, each once, in order)", bodies, ticks-1)
		}
	}
	var states, renewed []string
	b.js(`window.states`, &states)
	b.js(`window.renewed`, &renewed)
	if len(states) != 0 || len(renewed) != 1 {
		t.Errorf("around the renewal the socket went %v and the token was renewed %d times (want once: no renewal loop)", states, len(renewed))
	}
	newToken := b.str(`JSON.parse(localStorage.getItem(` + jsString(storageKey(srv)) + `)).token.token`)
	if newToken == firstToken || !tokenExpiry(t, newToken).After(firstExpiry) {
		t.Errorf("the saved token was not renewed")
	}
	ag.waitMessage(ch, "after renewal")

	// The network goes away and comes back (DevTools network emulation):
	// what the visitor typed meanwhile is sent once, and what the agent
	// wrote meanwhile arrives.
	b.offline(true)
	b.until("the visitor is told", `!$(".banner").hidden && $(".banner").textContent.includes("Connection lost")`)
	b.do(`$("#pw-input").focus()`)
	b.keys("typed while offline\r")
	b.until("the message waits", `$$(".msg.own").some((m) => m.textContent.includes("typed while offline") && m.textContent.includes("Sending…"))`)
	ag.send(ch, "agent wrote while you were offline")
	time.Sleep(500 * time.Millisecond)
	b.offline(false)
	b.until("back online", `$(".banner").hidden`)
	b.until("the queued message is sent", `$$(".msg.own").some((m) => m.textContent.includes("typed while offline") && !m.textContent.includes("Sending…"))`)
	b.until("the agent's message arrived", `text(".msg.agent .bubble").includes("agent wrote while you were offline")`)
	for _, body := range []string{"typed while offline", "agent wrote while you were offline"} {
		var shown int
		b.js(`text(".msg .bubble").filter((s) => s === `+jsString(body)+`).length`, &shown)
		if stored := countMessages(t, srv, ch, body); stored != 1 || shown != 1 {
			t.Errorf("%q: stored %d times, shown %d times, want once", body, stored, shown)
		}
	}

	// The agent completes the task: the chat ends; survey and transcript.
	_, err := srv.Admin().TaskrouterV1.UpdateTask(setup.WorkspaceSID, task, (&trv1.UpdateTaskParams{}).SetAssignmentStatus("completed").SetReason("resolved"))
	must(t, err, "complete the task")
	b.until("chat ended", `!$(".ended").hidden && text(".msg.system").includes("The chat has ended.") && $(".composer").hidden`)
	b.until("focus moves to the news", `R.activeElement && R.activeElement.textContent === "The chat has ended."`)
	b.do(`window.blobs = []; const create = URL.createObjectURL; URL.createObjectURL = (x) => (window.blobs.push(x), create.call(URL, x));
		[...$$(".ended button")].find((e) => e.textContent === "Download transcript").click()`)
	transcript := b.str(`window.blobs[0].text()`)
	for _, want := range []string{"] You: My brakes squeak", "] Alice Agent: Hi Vera!", "] You: typed while offline"} {
		if !strings.Contains(transcript, want) {
			t.Errorf("the transcript lacks %q:\n%s", want, transcript)
		}
	}
	b.do(`$(".survey input[value='4']").click(); $("#pw-comment").value = "Quick and kind"; $(".survey button[type=submit]").click()`)
	b.until("the survey is thanked", `$(".ended").textContent.includes("Thank you for your feedback.")`)
	post, _ := channelAttributes(t, srv, ch)["post_engagement_data"].(map[string]any)
	if post["rating"] != float64(4) || post["comment"] != "Quick and kind" {
		t.Errorf("post-engagement data: %v", post)
	}
	b.screenshot("5-chat-ended.png")

	// A new chat starts on a new channel.
	b.do(`[...$$(".ended button")].find((e) => e.textContent === "Start a new chat").click()`)
	b.until("the form again", `$("form.pre")`)
	b.fill(map[string]any{"friendlyName": "Vera Visitor", "email": "vera@example.com", "topic": "order", "question": "Second question", "consent": true})
	b.do(`$("form.pre button[type=submit]").click()`)
	b.until("the new chat", `text(".msg.own .bubble").join() === "Second question"`)
	if next := b.channelSid(srv); next == ch || !strings.HasPrefix(next, "CH") || countMessages(t, srv, next, "Second question") != 1 {
		t.Errorf("the new chat's channel: %q (the first was %s)", next, ch)
	}
	if logs := b.logs(); strings.Contains(logs, "exception") {
		t.Errorf("the page threw:\n%s", logs)
	}
}

// offline cuts the page's network (and says so to navigator.onLine), or restores it.
func (b *tab) offline(off bool) { b.t.Helper(); browsertest.Offline(b.t, b.ctx, off) }

func tokenExpiry(t *testing.T, jwt string) time.Time {
	t.Helper()
	var c struct{ Exp int64 }
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.20q", jwt)
	}
	raw, err := base64URL(parts[1])
	must(t, err, "decode JWT")
	must(t, json.Unmarshal(raw, &c), "JWT claims")
	return time.Unix(c.Exp, 0)
}

func channelAttributes(t *testing.T, srv *parleytest.Server, ch string) map[string]any {
	t.Helper()
	c, err := srv.Admin().ChatV2.FetchChannel(srv.App.FlexSetup.ChatServiceSID, ch)
	must(t, err, "fetch channel %s", ch)
	var attrs map[string]any
	must(t, json.Unmarshal([]byte(*c.Attributes), &attrs), "channel attributes")
	return attrs
}

func countMessages(t *testing.T, srv *parleytest.Server, ch, body string) int {
	t.Helper()
	msgs, err := srv.Admin().ChatV2.ListMessage(srv.App.FlexSetup.ChatServiceSID, ch, &chatv2.ListMessageParams{})
	must(t, err, "list messages")
	n := 0
	for _, m := range msgs {
		if m.Body != nil && *m.Body == body {
			n++
		}
	}
	return n
}

// agent is a TaskRouter worker answering chats over the realtime socket,
// as the agent desktop does.
type agent struct {
	t        *testing.T
	srv      *parleytest.Server
	identity string
	name     string
	worker   string
	conn     *rtclient.Conn

	mu     sync.Mutex
	frames []rtclient.Frame
	sent   int
}

func newAgent(t *testing.T, srv *parleytest.Server, identity, name string) *agent {
	t.Helper()
	ws := srv.App.FlexSetup.WorkspaceSID
	tr := srv.Admin().TaskrouterV1
	acts, err := tr.ListActivity(ws, (&trv1.ListActivityParams{}).SetFriendlyName("Available"))
	must(t, err, "list activities")
	if len(acts) != 1 {
		t.Fatalf("activities named Available: %d", len(acts))
	}
	attrs, _ := json.Marshal(map[string]any{"contact_uri": "client:" + identity, "full_name": name})
	w, err := tr.CreateWorker(ws, (&trv1.CreateWorkerParams{}).SetFriendlyName(identity).SetActivitySid(*acts[0].Sid).SetAttributes(string(attrs)))
	must(t, err, "create worker")
	a := &agent{t: t, srv: srv, identity: identity, name: name, worker: *w.Sid}
	tok := srv.Token(t, token.Grant{Identity: identity, ChatServiceSID: srv.App.FlexSetup.ChatServiceSID})
	a.conn, err = rtclient.Dial(context.Background(), srv.URL, tok, func(f rtclient.Frame) {
		a.mu.Lock()
		a.frames = append(a.frames, f)
		a.mu.Unlock()
	})
	must(t, err, "agent socket")
	t.Cleanup(func() { a.conn.Close() })
	return a
}

// acceptTask waits for the worker's reservation for the channel's task,
// accepts it and returns the task's SID.
func (a *agent) acceptTask(ch string) string {
	a.t.Helper()
	ws := a.srv.App.FlexSetup.WorkspaceSID
	tr := a.srv.Admin().TaskrouterV1
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		res, err := tr.ListWorkerReservation(ws, a.worker, (&trv1.ListWorkerReservationParams{}).SetReservationStatus("pending"))
		must(a.t, err, "list reservations")
		if len(res) > 0 {
			task, err := tr.FetchTask(ws, *res[0].TaskSid)
			must(a.t, err, "fetch task")
			var attrs struct {
				ChannelSID string `json:"channelSid"`
			}
			_ = json.Unmarshal([]byte(*task.Attributes), &attrs)
			if attrs.ChannelSID != ch {
				a.t.Fatalf("the reservation's task is for channel %q, not the visitor's %s (attributes %s)", attrs.ChannelSID, ch, *task.Attributes)
			}
			_, err = tr.UpdateWorkerReservation(ws, a.worker, *res[0].Sid, (&trv1.UpdateWorkerReservationParams{}).SetReservationStatus("accepted"))
			must(a.t, err, "accept the reservation")
			return *res[0].TaskSid
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.t.Fatal("no reservation reached the worker within 30 s")
	return ""
}

// join adds the agent to the channel with its name in the member's
// attributes (where the widget reads it), and follows the channel.
func (a *agent) join(ch string) {
	a.t.Helper()
	attrs, _ := json.Marshal(map[string]string{"friendly_name": a.name})
	_, err := a.srv.Admin().ChatV2.CreateMember(a.srv.App.FlexSetup.ChatServiceSID, ch,
		(&chatv2.CreateMemberParams{}).SetIdentity(a.identity).SetAttributes(string(attrs)))
	must(a.t, err, "add the agent to the channel")
	last := int64(-1)
	_, err = a.conn.Subscribe(context.Background(), ch, &last)
	must(a.t, err, "agent subscribes")
}

func (a *agent) typing(ch string) {
	a.t.Helper()
	_, err := a.conn.Request(context.Background(), map[string]any{"type": "typing", "channel_sid": ch, "state": "started"})
	must(a.t, err, "agent typing")
}

func (a *agent) send(ch, body string) {
	a.t.Helper()
	a.sent++
	_, err := a.conn.Send(context.Background(), ch, body, fmt.Sprintf("%s-%d-%d", a.identity, time.Now().UnixNano(), a.sent))
	must(a.t, err, "agent sends %q", body)
}

func (a *agent) read(ch string, index int64) {
	a.t.Helper()
	_, err := a.conn.Request(context.Background(), map[string]any{"type": "read", "channel_sid": ch, "index": index})
	must(a.t, err, "agent reads")
}

// tick sends "tick N" every interval until the returned stop is called,
// which returns how many were sent.
func (a *agent) tick(ch string, every time.Duration) func() int {
	done := make(chan struct{})
	count := make(chan int, 1)
	var once sync.Once
	stop := func() int {
		n := -1
		once.Do(func() { close(done); n = <-count })
		return n
	}
	a.t.Cleanup(func() { stop() })
	go func() {
		n := 0
		defer func() { count <- n }()
		for {
			select {
			case <-done:
				return
			case <-time.After(every):
			}
			if _, err := a.conn.Send(context.Background(), ch, fmt.Sprint("tick ", n), fmt.Sprint("tick-", n)); err != nil {
				return // the test ends, or fails on the missing ticks
			}
			n++
		}
	}()
	return stop
}

// waitFrame waits for a frame the agent's socket received.
func (a *agent) waitFrame(what string, ok func(rtclient.Frame) bool) {
	a.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		a.mu.Lock()
		for _, f := range a.frames {
			if ok(f) {
				a.mu.Unlock()
				return
			}
		}
		a.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	a.t.Fatalf("the agent never saw %s", what)
}

func (a *agent) waitMessage(ch, body string) {
	a.t.Helper()
	a.waitFrame(fmt.Sprintf("the message %q", body), func(f rtclient.Frame) bool {
		m, err := rtclient.DecodeMessage(f)
		return f.Type == "message.added" && f.ChannelSID == ch && err == nil && m.Body == body
	})
}

// waitReadBy waits until the visitor's read horizon reaches index.
func (a *agent) waitReadBy(ch string, index int64) {
	a.t.Helper()
	a.waitFrame(fmt.Sprintf("the visitor read up to %d", index), func(f rtclient.Frame) bool {
		var m struct {
			Identity string `json:"identity"`
			Last     *int64 `json:"last_consumed_message_index"`
		}
		return f.Type == "member.updated" && f.ChannelSID == ch && json.Unmarshal(f.Data, &m) == nil &&
			m.Identity != a.identity && m.Last != nil && *m.Last >= index
	})
}
