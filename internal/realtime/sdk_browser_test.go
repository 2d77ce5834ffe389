package realtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/browsertest"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/token"
)

func js(t *testing.T, ctx context.Context, expr string, out any) { browsertest.Eval(t, ctx, expr, out) }

func until(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	browsertest.Until(t, ctx, what, expr, "JSON.stringify(window.log)")
}

const testPage = `<!doctype html><meta charset="utf-8"><title>SDK test</title>
<script type="module">
window.log = [];
window.offline = false;
const { ParleyClient } = await import(%q);
// A socket that cannot connect while the test says the network is down.
class FlakyWebSocket extends WebSocket {
  constructor(url, proto) { super(window.offline ? "ws://127.0.0.1:9/" : url, proto); }
}
const client = new ParleyClient({ url: %q, token: %q, WebSocket: FlakyWebSocket, minBackoffMs: 50, maxBackoffMs: 300,
  getToken: () => fetch("/token").then((r) => r.text()) });
window.client = client;
for (const ev of ["messageAdded", "channelUpdated", "typingStarted", "memberUpdated", "tokenAboutToExpire",
  "connectionStateChanged", "unsubscribed", "error"]) {
  client.on(ev, (...args) => window.log.push([ev, ...args.map((a) => (a instanceof Error ? a.message : a))]));
}
window.ready = client.connect()
  .then((s) => Promise.all(s.channels.map((c) => client.subscribe(c))))
  .then(() => "ok", (e) => "failed: " + e.message);
</script>`

func TestSDKInChromium(t *testing.T) {
	ctx := browsertest.Chromium(t)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	srv := parleytest.Start(t, noLimits, func(c *config.Config) { c.RealtimeTokenWarning = 3 * time.Second })
	fx := newFixture(t, srv)
	ch := fx.channel(t, "visitor", "agent")
	start := time.Now()
	short := srv.Token(t, token.Grant{Identity: "visitor", ChatServiceSID: fx.service, TTL: 5 * time.Second})

	// The page comes from another origin, as a customer's site does.
	sdk := srv.URL + srv.App.Static.Prefix() + "sdk/parley.js"
	site := http.NewServeMux()
	site.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, testPage, sdk, srv.URL, short)
	})
	site.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, srv.Token(t, token.Grant{Identity: "visitor", ChatServiceSID: fx.service}))
	})
	page := httptest.NewServer(site)
	t.Cleanup(page.Close)

	if err := chromedp.Do(ctx, chromedp.Navigate(page.URL)); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	until(t, ctx, "the module loaded", "typeof window.ready === 'object'")
	var ready string
	js(t, ctx, "window.ready", &ready)
	if ready != "ok" {
		t.Fatalf("connect and subscribe in the browser: %s", ready)
	}

	agent := connect(t, srv, fx.token(t, "agent"))
	agent.subscribe(ch, nil)
	for i := range 5 {
		agent.send(ch, fmt.Sprint("agent ", i), fmt.Sprint("a", i))
	}
	until(t, ctx, "5 messages arrived", "window.log.filter((e) => e[0] === 'messageAdded').length === 5")

	var sent struct{ Index int64 }
	js(t, ctx, fmt.Sprintf("client.send(%q, 'from the browser')", ch), &sent)
	f := agent.wait(&agent.pos, func(f map[string]any) bool { return f["type"] == "message.added" && num(f["index"]) == 5 })
	if d := f["data"].(map[string]any); sent.Index != 5 || d["from"] != "visitor" || d["body"] != "from the browser" {
		t.Fatalf("browser send: ack index %d, agent got %v", sent.Index, f)
	}
	js(t, ctx, fmt.Sprintf("client.typing(%q)", ch), nil)
	if f := agent.next("typing.started"); f["data"].(map[string]any)["identity"] != "visitor" {
		t.Fatalf("typing from the browser: %v", f)
	}
	js(t, ctx, fmt.Sprintf("client.read(%q, 5).then(() => true)", ch), new(bool))
	if f := agent.next("member.updated"); num(f["data"].(map[string]any)["last_consumed_message_index"]) != 5 {
		t.Fatalf("read horizon from the browser: %v", f)
	}

	// The network goes down. Meanwhile the agent writes, the chat is
	// closed, and the visitor sends a message that must go out once.
	js(t, ctx, "window.offline = true, client.ws.close(), true", new(bool))
	until(t, ctx, "the client noticed the disconnect", "client.state !== 'connected'")
	for i := range 10 {
		agent.send(ch, fmt.Sprint("while you were away ", i), fmt.Sprint("o", i))
	}
	if _, err := srv.Admin().ChatV2.UpdateChannel(fx.service, ch, chatAttributes(`{"status":"INACTIVE","channel_type":"web"}`)); err != nil {
		t.Fatal(err)
	}
	js(t, ctx, fmt.Sprintf("window.pending = client.send(%q, 'sent while offline'), true", ch), new(bool))
	js(t, ctx, "window.offline = false, true", new(bool))
	until(t, ctx, "the client resumed", "window.log.filter((e) => e[0] === 'messageAdded').length >= 17")
	var pending struct{ Index int64 }
	js(t, ctx, "window.pending", &pending)

	var indexes []int64
	js(t, ctx, "window.log.filter((e) => e[0] === 'messageAdded').map((e) => e[1].index)", &indexes)
	want := make([]int64, 17)
	for i := range want {
		want[i] = int64(i)
	}
	if !slices.Equal(indexes, want) || pending.Index != 16 {
		t.Fatalf("the browser saw indexes %v (want each of 0..16 once, in order); the offline send got %d", indexes, pending.Index)
	}
	var attrs string
	js(t, ctx, fmt.Sprintf("client.channels.get(%q).channel.attributes", ch), &attrs)
	if !strings.Contains(attrs, "INACTIVE") {
		t.Fatalf("after resuming, the channel's attributes are %s", attrs)
	}
	bodies := 0
	for _, m := range fx.messages(t, ch) {
		if *m.Body == "sent while offline" {
			bodies++
		}
	}
	if bodies != 1 {
		t.Fatalf("the message sent while offline is stored %d times", bodies)
	}

	// The first token lived 5 seconds: the SDK renewed it through getToken
	// on tokenAboutToExpire, so the socket outlives it.
	time.Sleep(time.Until(start.Add(6 * time.Second)))
	var states []string
	js(t, ctx, "window.log.filter((e) => e[0] === 'connectionStateChanged').map((e) => e[1])", &states)
	var warned bool
	js(t, ctx, "window.log.some((e) => e[0] === 'tokenAboutToExpire') && client.state === 'connected'", &warned)
	if connected := slices.Index(states, "connected"); !warned || connected < 0 || countOf(states, "connected") != 2 {
		var log any
		js(t, ctx, "JSON.stringify(window.log)", &log)
		t.Fatalf("token renewal: warned and connected %v, states %v; log %v", warned, states, log)
	}
	var alive json.RawMessage
	js(t, ctx, "client.request({type: 'ping'})", &alive)
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
