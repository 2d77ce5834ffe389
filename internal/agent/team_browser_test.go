package agent_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp/kb"

	"github.com/parleychat/parley/internal/browsertest"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rtclient"
)

// widget is a visitor's browser on the demo site, chatting through the
// real web chat widget.
type widget struct{ *page }

// js evaluates expr with the widget's shadow root at hand ($, $$, text).
func (w widget) js(expr string, out any) {
	w.t.Helper()
	w.page.js("(async () => { "+browsertest.WidgetPrelude+" return ("+expr+"); })()", out)
}

func (w widget) until(what, expr string) {
	w.t.Helper()
	w.page.until(what, "(() => { "+browsertest.WidgetPrelude+" return ("+expr+"); })()")
}

// startWidgetChat opens the demo site, fills the pre-engagement form as
// name and sends question as the first message.
func startWidgetChat(t *testing.T, browser context.Context, srv *parleytest.Server, name, question string) widget {
	t.Helper()
	w := widget{openDesktop(t, browser, srv.URL+"/")}
	w.until("the launcher", `$(".launcher")`)
	w.js(`$(".launcher").click(), true`, nil)
	w.until("the pre-engagement form", `$("form.pre")`)
	values, _ := json.Marshal(map[string]any{"friendlyName": name, "email": "eve@example.com", "topic": "repair",
		"question": question, "consent": true})
	w.js(`(Object.entries(`+string(values)+`).forEach(([name, v]) => {
		const el = $("[name=" + JSON.stringify(name) + "]");
		if (el.type === "checkbox") el.checked = v; else el.value = v;
		el.dispatchEvent(new Event("input", { bubbles: true }));
	}), $("form.pre button[type=submit]").click(), true)`, nil)
	w.until("the question sent", `$$(".msg.own").some((m) => m.textContent.includes(`+quote(question)+`) && m.textContent.includes("Sent"))`)
	return w
}

// offerFrom is the selector of the request card for a visitor.
func offerFrom(visitor string) string {
	return `.offer[aria-label=` + quote("Incoming chat from "+visitor) + `]`
}

// reject rejects the request from visitor with the keyboard.
func (p *page) reject(visitor string) {
	p.t.Helper()
	p.until("the request from "+visitor, `document.querySelector(`+quote(offerFrom(visitor))+`)`)
	p.tabTo(offerFrom(visitor) + " button.reject")
	p.keys("\r")
	p.until("the request gone", `!document.querySelector(`+quote(offerFrom(visitor))+`)`)
}

// tabOf is an expression: the chat list's tab for visitor.
func tabOf(visitor string) string {
	return `[...document.querySelectorAll("#tabs [role=tab]")].find((t) => t.querySelector(".tab-name").textContent === ` + quote(visitor) + `)`
}

// open selects the chat with visitor in the list with the keyboard.
func (p *page) open(visitor string) {
	p.t.Helper()
	p.until("the chat with "+visitor+" in the list", tabOf(visitor))
	p.tabUntil("the tab of "+visitor, `document.activeElement === `+tabOf(visitor))
	p.keys("\r")
	p.until("the chat with "+visitor+" open", tabOf(visitor)+`.getAttribute("aria-selected") === "true"`)
}

// reply types a message in the open chat and sends it with Enter.
func (p *page) reply(body string) {
	p.t.Helper()
	p.tabTo("#chat textarea")
	p.keys(body + "\r")
	p.until("the reply in the log", `[...document.querySelectorAll("#chat .msg.mine .body")].some((e) => e.textContent === `+quote(body)+`)`)
}

// press moves the keyboard focus to selector and presses Enter.
func (p *page) press(selector string) {
	p.t.Helper()
	p.until(selector, `document.querySelector(`+quote(selector)+`) && !document.querySelector(`+quote(selector)+`).disabled`)
	p.tabTo(selector)
	p.keys("\r")
}

// finish wraps up and completes the open chat with the keyboard.
func (p *page) finish() {
	p.t.Helper()
	p.press("#chat .wrapup")
	p.press("#chat .complete")
}

// countOffers is how many requests the desk shows.
func (p *page) countOffers() int {
	p.t.Helper()
	var n int
	p.js(`document.querySelectorAll(".offer").length`, &n)
	return n
}

// TestTwoAgentsThreeVisitorsInChromium is the desk's day in small: two
// agents (capacities 1 and 2) and a supervisor in three browsers, three
// visitors at once (one through the real widget with a hostile name and
// message, two on the SDK's socket). Every agent step is done with the
// keyboard. A request nobody is available for waits (the supervisor sees
// the queue's count move); a rejected request goes to the other agent;
// capacity decides who gets the next ones; a chat is transferred to the
// other agent, who sees its history and carries on; every chat is wrapped
// up and completed and ends for its visitor, the transferred one only
// when its new owner completes it.
func TestTwoAgentsThreeVisitorsInChromium(t *testing.T) {
	browser := browsertest.Chromium(t)
	srv := parleytest.Start(t)
	createAgentAs(t, srv, "Ada Lovelace", "ada@example.com", "agent", 1)
	createAgentAs(t, srv, "Ben Okri", "ben@example.com", "agent", 2)
	createAgentAs(t, srv, "Sue Pervisor", "sue@example.com", "supervisor", 1)

	ada := openDesktop(t, browser, srv.URL+"/agent")
	ben := openDesktop(t, browser, srv.URL+"/agent")
	sue := openDesktop(t, browser, srv.URL+"/agent")
	ada.signIn("ada@example.com")
	ben.signIn("ben@example.com")
	sue.signIn("sue@example.com")
	var switches []string
	for _, p := range []*page{ada, ben} {
		var display string
		p.js(`getComputedStyle(document.getElementById("views")).display`, &display)
		switches = append(switches, display)
	}
	if switches[0] != "none" || switches[1] != "none" {
		t.Fatalf("agents who are not supervisors see the supervisor switch: display %v", switches)
	}
	sup := openSupervisor(sue)
	sup.waitQueue("waiting", 0)

	// Eve comes through the widget while nobody is available: her
	// request waits, and the supervisor sees it.
	const eve = `Eve <img src=x onerror="window.__xss=1">`
	hostile := `<script>window.__xss=2</script><b>bold</b> & <i>more</i>`
	ew := startWidgetChat(t, browser, srv, eve, hostile)
	sup.waitQueue("waiting", 1)
	sue.screenshot("team-1-supervisor-waiting.png")

	// Ada goes available and gets Eve's request; Ben goes available;
	// Ada rejects, and the request goes to Ben, who accepts.
	ada.setActivity("Available")
	ada.until("Eve's request at Ada", `document.querySelector(`+quote(offerFrom(eve))+`)`)
	ben.setActivity("Available")
	ada.reject(eve)
	ben.accept(eve)
	sup.waitQueue("waiting", 0)
	ben.until("Eve's hostile message as text", hasMessage(hostile))
	ew.until("Ben's name at the visitor", `text(".msg, .system").join(" ").includes("Ben Okri")`)
	if n := ada.countOffers(); n != 0 {
		t.Fatalf("Eve's request came back to Ada, who rejected it (%d offers)", n)
	}

	// Grace and Hal come over the SDK: Ada (idle longest, 0 of 1) gets
	// Grace; Ada is then full, so Hal goes to Ben (1 of 2).
	grace, graceCh := startVisitor(t, srv, "Grace", "Hi, I need help")
	ada.accept("Grace")
	hal, halCh := startVisitor(t, srv, "Hal", "Is my order on its way?")
	ben.accept("Hal")
	if n := ada.countOffers(); n != 0 {
		t.Fatalf("Ada, at her capacity of 1, was offered another chat (%d offers)", n)
	}
	sup.waitAgentChats("Ben Okri", 2)
	sup.waitAgentChats("Ada Lovelace", 1)

	// Conversations: typing shows, replies arrive.
	ada.reply("Hello Grace, let me look")
	grace.wait(t, "Ada's reply", func(f rtclient.Frame) bool {
		return f.Type == "message.added" && strings.Contains(string(f.Data), "Hello Grace, let me look")
	})
	grace.request(t, map[string]any{"type": "typing", "channel_sid": graceCh, "state": "started"})
	ada.until("Grace typing", `document.querySelector("#chat .typing").textContent.includes("is typing")`)
	ben.open(eve)
	ben.reply("Hello Eve, what can I do?")
	ew.until("Ben's reply in the widget", `text(".msg").join(" ").includes("Hello Eve, what can I do?")`)
	var inert struct {
		Tags int
		XSS  any
	}
	ben.js(`({tags: document.querySelectorAll("#chat img, #chat b, #chat i, #tabs img, #visitor img, #chat script").length, xss: window.__xss ?? null})`, &inert)
	if inert.Tags != 0 || inert.XSS != nil {
		t.Fatalf("visitor-supplied text became markup or ran in Ben's desk: %+v", inert)
	}
	sup.monitor(eve, hostile)
	sue.js(`({tags: document.querySelectorAll("#supervisor img, #supervisor b, #supervisor i").length, xss: window.__xss ?? null})`, &inert)
	if inert.Tags != 0 || inert.XSS != nil {
		t.Fatalf("visitor-supplied text became markup or ran in the supervisor view: %+v", inert)
	}
	ben.screenshot("team-2-ben-two-chats.png")
	sue.screenshot("team-3-supervisor-busy.png")

	// Ada finishes with Grace; Grace's chat ends.
	ada.finish()
	grace.wait(t, "the end of Grace's chat", func(f rtclient.Frame) bool {
		return f.Type == "channel.updated" && strings.Contains(string(f.Data), "INACTIVE")
	})

	// Ben transfers Hal to Ada with the keyboard; Ada sees the history.
	ben.open("Hal")
	ben.press("#chat .transfer")
	ben.until("the transfer dialog", `document.getElementById("transfer-dialog").open`)
	for i := 0; i < 10; i++ {
		var label string
		ben.js(`document.activeElement.closest("label") ? document.activeElement.closest("label").textContent : ""`, &label)
		if strings.HasPrefix(label, "Ada Lovelace") {
			break
		}
		ben.keys(kb.ArrowDown)
	}
	ben.screenshot("team-4-transfer-dialog.png")
	ben.tabTo("#transfer-form .do-transfer")
	ben.keys("\r")
	ben.until("Hal shown as transferred", `document.querySelector("#chat .transferred")`)
	ada.accept("Hal")
	ada.until("Hal's history at Ada", hasMessage("Is my order on its way?"))
	hal.say(t, halCh, "Thanks for taking over")
	ada.until("Hal's new message at Ada", hasMessage("Thanks for taking over"))
	ada.reply("You're welcome, Hal")
	hal.wait(t, "Ada's reply to Hal", func(f rtclient.Frame) bool {
		return f.Type == "message.added" && strings.Contains(string(f.Data), "You're welcome, Hal")
	})
	ada.screenshot("team-5-ada-after-transfer.png")

	// Ben completes his part of Hal's chat (a transfer wraps it up): it
	// stays open for Hal.
	ben.open("Hal")
	ben.press("#chat .complete")
	ben.until("Hal's chat gone from Ben's list", `!`+tabOf("Hal"))
	hal.say(t, halCh, "Still there?")
	ada.until("Hal's chat alive after Ben completed", hasMessage("Still there?"))

	// Everyone finishes; every chat ends for its visitor.
	ben.open(eve)
	ben.finish()
	ew.until("the end of Eve's chat in the widget", `$(".ended") && !$(".ended").hidden`)
	ada.open("Hal")
	ada.finish()
	hal.wait(t, "the end of Hal's chat", func(f rtclient.Frame) bool {
		return f.Type == "channel.updated" && strings.Contains(string(f.Data), "INACTIVE")
	})
	sup.waitAgentChats("Ben Okri", 0)
	sup.waitAgentChats("Ada Lovelace", 0)
	sue.screenshot("team-6-supervisor-done.png")
}
