package agent_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/browsertest"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rtclient"
)

// signIn signs in with the keyboard only: the email field has the focus
// when the form shows.
func (p *page) signIn(email string) {
	p.t.Helper()
	p.until("the sign-in form", `!document.getElementById("signin").hidden && document.activeElement.id === "email"`)
	p.keys(email)
	p.keys("\t")
	p.keys("correct horse battery\r")
	p.until("the desk", `!document.getElementById("desk").hidden && document.getElementById("activity").options.length > 0`)
}

// setActivity chooses an activity in the status switch with the keyboard.
func (p *page) setActivity(name string) {
	p.t.Helper()
	p.tabTo("#activity")
	var index int
	p.js(`[...document.getElementById("activity").options].findIndex((o) => o.textContent === `+quote(name)+`)`, &index)
	if index < 0 {
		p.t.Fatalf("no activity %q", name)
	}
	// A select takes the first letters of an option's text as a choice.
	p.keys(name)
	p.until("the activity "+name, `document.getElementById("activity-now").textContent === `+quote(name))
}

// accept accepts the incoming request from the named visitor with the keyboard.
func (p *page) accept(visitor string) {
	p.t.Helper()
	sel := `.offer[aria-label=` + quote("Incoming chat from "+visitor) + `]`
	p.until("the request from "+visitor, `document.querySelector(`+quote(sel)+`)`)
	p.tabTo(sel + " button.accept")
	p.keys("\r")
	p.until("the chat with "+visitor, `[...document.querySelectorAll("#tabs .tab-name")].some((e) => e.textContent === `+quote(visitor)+`)`)
}

// hasMessage is an expression: the open chat shows a message with body.
func hasMessage(body string) string {
	return `[...document.querySelectorAll("#chat .msg .body")].some((e) => e.textContent === ` + quote(body) + `)`
}

// TestDesktopReconnectsInChromium: the network goes away under an agent
// in a chat and comes back. The desktop says it is offline, reconnects by
// itself, still holds the chat it accepted (the reservation stays
// accepted on the server), shows what the visitor wrote meanwhile, and
// its next reply reaches the visitor.
func TestDesktopReconnectsInChromium(t *testing.T) {
	browser := browsertest.Chromium(t)
	srv := parleytest.Start(t)
	createAgent(t, srv, "ada@example.com", "agent")
	p := openDesktop(t, browser, srv.URL+"/agent")
	p.signIn("ada@example.com")
	p.setActivity("Available")
	v, ch := startVisitor(t, srv, "Grace", "Hi, I need help")
	p.accept("Grace")
	p.until("the first message", hasMessage("Hi, I need help"))

	browsertest.Offline(t, p.ctx, true)
	p.until("the connection state shown", `document.getElementById("conn").textContent !== ""`)
	v.say(t, ch, "Are you still there?")
	time.Sleep(500 * time.Millisecond) // let the message be stored while the desk is away
	p.screenshot("reconnect-1-offline.png")
	browsertest.Offline(t, p.ctx, false)

	p.until("the reconnection", `document.getElementById("conn").textContent === ""`)
	p.until("the message sent while offline", hasMessage("Are you still there?"))
	var tabs int
	p.js(`document.querySelectorAll("#tabs [role=tab]").length`, &tabs)
	if tabs != 1 {
		t.Fatalf("after the reconnection the desk shows %d chats, want the accepted one", tabs)
	}
	d := newDesk(t, srv)
	d.must("POST", "/agent", url.Values{"Email": {"ada@example.com"}, "Password": {"correct horse battery"}}, nil)
	var list struct {
		Reservations []struct {
			Status string `json:"reservation_status"`
		}
	}
	d.must("GET", "/agent/desk/reservations", nil, &list)
	if len(list.Reservations) != 1 || list.Reservations[0].Status != "accepted" {
		t.Fatalf("the accepted reservation did not survive the network loss: %+v", list)
	}
	p.js(`document.querySelector("#chat textarea").focus(), true`, nil)
	p.keys("Yes, back again\r")
	v.wait(t, "the reply after the reconnection", func(f rtclient.Frame) bool {
		return f.Type == "message.added" && strings.Contains(string(f.Data), "Yes, back again")
	})
	p.screenshot("reconnect-2-back.png")
}
