package webchattest_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/parleytest"
)

func base64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// payloads are what an attacker types, as a visitor or as an agent.
var payloads = []string{
	`<script>alert("script")</script>`,
	`<img src=x onerror="alert('img')">`,
	`<svg onload="alert('svg')"><circle r="40"/></svg>`,
	`<a href="javascript:alert('link')">click me</a>`,
	`javascript:alert('bare scheme')`,
	`"><iframe src="javascript:alert('iframe')"></iframe>`,
	`https://example.com/"><img src=x onerror=alert('url')>`,
	`<style>*{display:none!important}</style>`,
	`<math><mi xlink:href="javascript:alert('math')">m</mi></math>`,
	`{{constructor.constructor('alert("template")')()}}`,
}

// siteWithWidget serves a customer's page, on an origin of its own, that
// embeds the widget with the one-tag snippet and starts at once.
func siteWithWidget(t *testing.T, srv *parleytest.Server) string {
	setup := srv.App.FlexSetup
	page := fmt.Sprintf(`<!doctype html><html lang="en"><meta charset="utf-8"><title>Customer site</title>
<script>window.pwned = []; for (const k of ["alert", "confirm", "prompt"]) window[k] = (...a) => window.pwned.push(a.join());</script>
<h1>A customer's website</h1>
<script src="%s/webchat.js" data-account-sid="%s" data-flex-flow-sid="%s" data-start-engagement-on-init="true" data-open="true" async></script>`,
		srv.URL, setup.AccountSID, setup.FlexFlowSID)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	}))
	t.Cleanup(site.Close)
	return site.URL
}

// hostileInput sends markup, script and broken text both ways, and checks
// that all of it is shown as text and none of it runs.
func hostileInput(t *testing.T, browser context.Context, srv *parleytest.Server) {
	b := newTab(t, browser, 2*time.Minute)
	b.navigate(siteWithWidget(t, srv))
	b.until("the chat starts without a form", `$(".composer") && !$(".panel").hidden`)
	var ch string
	for deadline := time.Now().Add(10 * time.Second); !strings.HasPrefix(ch, "CH") && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ch = b.str(`(JSON.parse(localStorage.getItem(` + jsString(storageKey(srv)) + `) || "{}").channelSid || "")`)
	}
	if ch == "" {
		t.Fatal("no channel started")
	}
	ag := newAgent(t, srv, "mallory", `<img src=x onerror="alert('name')">Mallory`)
	ag.join(ch)

	// The visitor types them (and a lone surrogate, the browser's broken UTF-16).
	visitor := make([]string, 0, len(payloads)+1)
	for _, p := range payloads {
		visitor = append(visitor, jsString(p))
	}
	visitor = append(visitor, `"\uD800<b>broken</b>"`) // a lone surrogate: Go strings cannot hold one
	for _, p := range visitor {
		b.do(`$("#pw-input").value = ` + p + `; $(".composer").requestSubmit()`)
	}
	// The agent sends them; raw broken UTF-8 is refused by the API, never stored.
	for _, p := range payloads {
		ag.send(ch, p)
	}
	form := url.Values{"Body": {"\xff\xfe<b>bad bytes</b>"}, "From": {"mallory"}}
	status, body := srv.Request(t, "POST", "/chat/v2/Services/"+srv.App.FlexSetup.ChatServiceSID+"/Channels/"+ch+"/Messages", form, srv.AccountSID, srv.AuthToken)
	if status < 400 || status >= 500 {
		t.Errorf("a message body of broken UTF-8: %d %s, want a 4xx", status, body)
	}
	ag.send(ch, "\xff\xfe<b>bad bytes</b>") // JSON carries it as U+FFFD

	want := len(visitor) + len(payloads) + 1
	b.until("every message is shown", fmt.Sprintf(`$$(".msg.own .bubble, .msg.agent .bubble").length === %d && !$$(".msg.own .status").some((s) => s.textContent === "Sending…")`, want))
	time.Sleep(300 * time.Millisecond) // time for anything injected to run

	var shown []string
	b.js(`$$(".msg .bubble").map((e) => e.textContent)`, &shown)
	expected := append(append(append([]string(nil), payloads...), "\uFFFD<b>broken</b>"), payloads...)
	expected = append(expected, "\uFFFD\uFFFD<b>bad bytes</b>")
	for i, w := range expected {
		if i >= len(shown) || shown[i] != w {
			t.Errorf("message %d shown as %q, want the text %q", i, at(shown, i), w)
		}
	}
	var injected []string
	b.js(`[...R.querySelectorAll("*")].filter((e) => {
		const tag = e.tagName.toLowerCase();
		if (["script", "img", "iframe", "object", "embed", "math", "mi", "b", "circle", "form"].includes(tag) && !(tag === "form" && (e.className === "composer" || e.className === "survey"))) return true;
		if (tag === "style" && R.querySelectorAll("style").length > 2) return true;
		if ((tag === "svg" || tag === "path") && !e.closest(".launcher")) return true;
		if ([...e.attributes].some((a) => a.name.startsWith("on") || /javascript:/i.test(a.value))) return true;
		return tag === "a" && !/^https?:$/.test(new URL(e.href).protocol);
	}).map((e) => e.outerHTML)`, &injected)
	if len(injected) > 0 {
		t.Errorf("elements that came from messages: %v", injected)
	}
	var pwned []string
	b.js(`window.pwned`, &pwned)
	if d := b.dialogsSeen(); len(d) > 0 || len(pwned) > 0 {
		t.Errorf("script ran: dialogs %v, alert calls %v", d, pwned)
	}
	if name := b.str(`$(".msg.agent .author").textContent`); name != `<img src=x onerror="alert('name')">Mallory` {
		t.Errorf("the agent's name is shown as %q", name)
	}
	var links []string
	b.js(`$$(".bubble a").map((a) => a.href)`, &links)
	if strings.Join(links, " ") != "https://example.com/ https://example.com/" {
		t.Errorf("links made from the messages: %v", links)
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(nothing)"
}
