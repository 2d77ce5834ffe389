package agent_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/browsertest"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rtclient"
)

// supervisorView is the supervisor view of a supervisor's desktop.
type supervisorView struct{ *page }

// openSupervisor switches a signed-in supervisor's desktop to the
// supervisor view with the keyboard.
func openSupervisor(p *page) *supervisorView {
	p.t.Helper()
	p.until("the view switch", `!document.getElementById("views").hidden`)
	p.tabTo("#view-supervisor")
	p.keys("\r")
	p.until("the supervisor view", `!document.getElementById("supervisor").hidden && document.querySelector(".work").hidden &&
		document.querySelector("#sv-queue-rows tr[data-queue]")`)
	return &supervisorView{p}
}

// waitQueue waits until the first queue's figure (waiting, active,
// available, busy, eligible) reads n.
func (s *supervisorView) waitQueue(figure string, n int) {
	s.t.Helper()
	s.until("the queue's "+figure+" at "+strconv.Itoa(n),
		`document.querySelector("#sv-queue-rows tr[data-queue] td.`+figure+`").textContent === `+quote(strconv.Itoa(n)))
}

// waitAgentChats waits until the named agent's row lists n chats.
func (s *supervisorView) waitAgentChats(name string, n int) {
	s.t.Helper()
	s.until(name+" with "+strconv.Itoa(n)+" chats", `[...document.querySelectorAll("#sv-agent-rows tr")].some((tr) =>
		tr.querySelector(".name").textContent === `+quote(name)+` && tr.querySelectorAll(".sv-chats li").length === `+strconv.Itoa(n)+`)`)
}

// monitor opens the chat with visitor in the monitor with the keyboard
// and waits until it shows a message with body text.
func (s *supervisorView) monitor(visitor, text string) {
	s.t.Helper()
	find := `[...document.querySelectorAll("#sv-agent-rows button[data-channel]")].find((b) => b.querySelector(".visitor").textContent === ` +
		quote(visitor) + `)`
	s.until("a chat with "+visitor+" in the agents' list", find)
	var ch string
	s.js(find+`.dataset.channel`, &ch)
	s.tabTo(`#sv-agent-rows button[data-channel="` + ch + `"]`)
	s.keys("\r")
	s.until("the monitored message "+text, `[...document.querySelectorAll("#sv-monitor .msg .body")].some((e) => e.textContent === `+quote(text)+`)`)
}

// TestSupervisorViewInChromium: a supervisor signs in and opens the
// supervisor view with the keyboard; the waiting count goes up when a
// visitor (with a hostile name) starts a chat and down when an agent
// accepts it; the supervisor monitors the chat read-only (no compose, the
// visitor's messages live, a hostile one as text, unseen by the visitor);
// the chart is drawn; the switch goes back to "My chats".
func TestSupervisorViewInChromium(t *testing.T) {
	browser := browsertest.Chromium(t)
	srv := parleytest.Start(t)
	createAgent(t, srv, "sam@example.com", "supervisor") // named "Ada sam@example.com"
	createAgent(t, srv, "ann@example.com", "agent")

	p := openWithScript(t, browser, srv.URL+"/agent", "")
	p.until("the sign-in form", `!document.getElementById("signin").hidden && document.activeElement.id === "email"`)
	p.keys("sam@example.com\tcorrect horse battery\r") // keyboard only
	p.until("the desk", `!document.getElementById("desk").hidden`)
	sup := openSupervisor(p)
	sup.waitQueue("waiting", 0)
	sup.waitQueue("eligible", 2)
	sup.waitAgentChats("Ada ann@example.com", 0)
	p.until("the chart", `document.querySelector("#sv-chart svg polyline.waiting")`)
	p.screenshot("supervisor-1-quiet.png")

	// A visitor with a hostile name waits: nobody is available.
	const eve = `Eve <img src=x onerror="window.__xss=1">`
	visitor, ch := startVisitor(t, srv, eve, "Hello? Anyone?")
	sup.waitQueue("waiting", 1)
	p.until("the longest wait counting", `/^\d+s$/.test(document.querySelector("#sv-queue-rows td.longest").textContent)`)
	p.screenshot("supervisor-2-waiting.png")

	// Ann goes available and accepts (over the API: this test watches the supervisor).
	ann := signInLive(t, srv, "ann@example.com")
	ann.available()
	offer := ann.offer(ch)
	sup.waitQueue("busy", 1)
	ann.accept(offer, ch)
	sup.waitQueue("waiting", 0)
	sup.waitAgentChats("Ada ann@example.com", 1)
	p.until("the chat shown as talking", `document.querySelector("#sv-agent-rows .sv-chats .state").textContent.startsWith("talking")`)

	// The supervisor monitors the chat, read-only, and the visitor's
	// messages arrive live, a hostile one as text.
	sup.monitor(eve, "Hello? Anyone?")
	visitor.say(t, ch, xss)
	p.until("the hostile message as text", `[...document.querySelectorAll("#sv-monitor .msg .body")].some((e) => e.textContent === `+quote(xss)+`)`)
	var view struct {
		Tags, Compose int
		XSS           any
		Head, Agents  string
	}
	p.js(`({tags: document.querySelectorAll("#supervisor img, #supervisor b, #supervisor script").length,
		compose: document.querySelectorAll("#sv-monitor textarea, #sv-monitor input, #sv-monitor .send").length,
		xss: window.__xss ?? null, head: document.querySelector("#sv-monitor .head").textContent,
		agents: document.getElementById("sv-agent-rows").textContent})`, &view)
	if view.Tags != 0 || view.XSS != nil {
		t.Fatalf("visitor-supplied text became markup or ran in the supervisor view: %+v", view)
	}
	if view.Compose != 0 || !strings.Contains(view.Head, eve) || !strings.Contains(view.Head, "Ada ann@example.com") || !strings.Contains(view.Agents, eve) {
		t.Fatalf("the monitor has a compose box or lacks who is talking: %+v", view)
	}
	for _, f := range visitor.snapshot() {
		if f.Type == "member.joined" && strings.Contains(string(f.Data), "sam@example.com") {
			t.Fatal("the visitor saw the supervisor join")
		}
	}
	var points int
	p.js(`document.querySelectorAll("#sv-chart svg circle.dot").length`, &points)
	if points < 1 {
		t.Fatal("the chart has no point")
	}
	p.screenshot("supervisor-3-monitor.png")

	// Ann ends the chat: the figures go back; the monitor says so.
	ann.must("POST", "/agent/desk/reservations/"+offer.SID+"/wrapup", url.Values{}, nil)
	ann.must("POST", "/agent/desk/reservations/"+offer.SID+"/complete", url.Values{}, nil)
	sup.waitAgentChats("Ada ann@example.com", 0)
	visitor.wait(t, "the chat's end at the visitor", func(f rtclient.Frame) bool {
		return f.Type == "channel.updated" && strings.Contains(string(f.Data), "INACTIVE")
	})
	p.until("the monitor noting the end", `document.querySelector("#sv-monitor .sv-note").textContent.includes("ended") &&
		document.querySelector("#sv-monitor .head").textContent.includes(`+quote(eve)+`)`)
	p.screenshot("supervisor-4-ended.png")

	// Back to "My chats" with the keyboard.
	p.tabTo("#view-desk")
	p.keys("\r")
	p.until("the desk's chats", `!document.querySelector(".work").hidden && document.getElementById("supervisor").hidden &&
		document.getElementById("view-desk").getAttribute("aria-pressed") === "true"`)
}
