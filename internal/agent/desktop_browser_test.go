package agent_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/browsertest"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rtclient"
)

// page is one browser tab on the agent desktop.
type page struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []string
}

// listen keeps the page's console messages and exceptions for failures.
func (p *page) listen() {
	_ = chromedp.Listen(p.ctx, func(ev any) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			for _, a := range e.Args {
				p.console = append(p.console, string(e.Type)+": "+string(a.Value)+a.Description)
			}
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			p.console = append(p.console, "exception: "+msg)
		}
	})
}

func (p *page) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.console, "\n")
}

func (p *page) js(expr string, out any) { p.t.Helper(); browsertest.Eval(p.t, p.ctx, expr, out) }

// until polls a boolean expression for up to 60 s (the machine may be slow).
func (p *page) until(what, expr string) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var ok bool
		p.js("!!("+expr+")", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var html string
			p.js(`(() => { const of = (id) => (document.getElementById(id) || {}).outerHTML || "";
				return "active=" + (document.activeElement && document.activeElement.id) + "\nheader: " + (document.querySelector(".bar") || document.body).textContent.replace(/\s+/g, " ").slice(0, 300) +
					"\nincoming: " + of("incoming").slice(0, 1500) + "\ntabs: " + of("tabs").slice(0, 1000) + "\nchat: " + of("chat").slice(0, 1500); })()`, &html)
			p.t.Fatalf("in the desktop, %s never happened.\npage: %s\nconsole:\n%s", what, html, p.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *page) keys(text string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.KeyEvent(text)); err != nil {
		p.t.Fatalf("type %q: %v", text, err)
	}
}

// tabTo presses Tab until the focused element matches selector.
func (p *page) tabTo(selector string) {
	p.t.Helper()
	p.tabUntil(selector, `document.activeElement && document.activeElement.matches(`+quote(selector)+`)`)
}

// tabUntil presses Tab until the expression is true.
func (p *page) tabUntil(what, expr string) {
	p.t.Helper()
	for i := 0; i < 60; i++ {
		var ok bool
		p.js(`!!(`+expr+`)`, &ok)
		if ok {
			return
		}
		p.keys("\t")
	}
	p.t.Fatalf("Tab never reached %s", what)
}

func (p *page) screenshot(name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("PARLEY_TEST_OUTPUT")
	if dir == "" {
		dir = p.t.TempDir()
	}
	dir = filepath.Join(dir, "agent")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
}

// openDesktop opens url in a fresh browser context (its own cookies) for
// at most five minutes.
func openDesktop(t *testing.T, browser context.Context, url string) *page {
	t.Helper()
	return openWithScript(t, browser, url, "")
}

// quote is s as a JavaScript (and CSS) string literal: JSON without
// the \u003c escapes of <, > and &, which CSS would read differently.
func quote(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

const xss = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>`

// TestDesktopInChromium: an agent signs in with the keyboard (a wrong
// password first; the cookie is not readable from script), goes
// available, sees a visitor's request at once, accepts it with the
// keyboard, chats both ways (typing, read receipt, a hostile message
// rendered as text), wraps up and completes; the visitor's chat ends.
func TestDesktopInChromium(t *testing.T) {
	browser := browsertest.Chromium(t)
	srv := parleytest.Start(t)
	createAgent(t, srv, "ada@example.com", "agent")

	p := openDesktop(t, browser, srv.URL+"/agent")

	// Keyboard-only sign-in: the email field has the focus.
	p.until("the sign-in form", `!document.getElementById("signin").hidden && document.activeElement.id === "email"`)
	p.keys("ada@example.com")
	p.keys("\t")
	p.keys("not the password\r")
	p.until("the refusal", `document.getElementById("signin-error").textContent.includes("not correct")`)
	p.js(`document.getElementById("password").focus(), true`, nil)
	p.keys("correct horse battery\r")
	p.until("the desk", `!document.getElementById("desk").hidden && document.getElementById("activity").options.length > 0`)
	var cookieVisible bool
	p.js(`document.cookie.includes("parley_agent")`, &cookieVisible)
	if cookieVisible {
		t.Fatal("the session cookie is readable from JavaScript (not HttpOnly)")
	}
	p.screenshot("1-signed-in.png")

	// Availability: choose Available in the switch.
	p.js(`(() => { const s = document.getElementById("activity");
		s.value = [...s.options].find((o) => o.textContent === "Available").value;
		s.dispatchEvent(new Event("change")); return true; })()`, nil)
	p.until("the Available pill", `document.getElementById("activity-now").textContent === "Available" &&
		document.getElementById("activity-now").classList.contains("available")`)

	p.screenshot("2-available.png")

	// A visitor asks for help: the request shows at once with its queue,
	// countdown and pre-engagement data, and the title signals it.
	v, ch := startVisitor(t, srv, "Grace", "Hi, I need help")
	p.until("the incoming request", `document.querySelector(".offer .visitor-name")`)
	p.until("the countdown", `document.querySelector(".offer .countdown").textContent.endsWith("s")`)
	var offer struct{ Name, Queue, Title, Text string }
	p.js(`({name: document.querySelector(".offer .visitor-name").textContent, queue: document.querySelector(".offer .queue").textContent,
		title: document.title, text: document.querySelector(".offer").textContent})`, &offer)
	if offer.Name != "Grace" || offer.Queue == "" || offer.Queue == "—" || !strings.HasPrefix(offer.Title, "(1)") ||
		!strings.Contains(offer.Text, "Where is my parcel?") {
		t.Fatalf("the request lacks the visitor, queue, pre-engagement data or title signal: %+v", offer)
	}
	p.screenshot("3-incoming.png")

	// Keyboard-only accept.
	p.tabTo(".offer button.accept")
	p.keys("\r")
	p.until("the chat with the visitor's first message", `[...document.querySelectorAll("#chat .msg .body")].some((e) => e.textContent === "Hi, I need help")`)
	p.until("the offer gone", `!document.querySelector(".offer")`)

	// The agent answers; the visitor hears it.
	p.js(`document.querySelector("#chat textarea").focus(), true`, nil)
	p.keys("Hello from the desk\r")
	v.wait(t, "the agent's reply at the visitor", func(f rtclient.Frame) bool {
		return f.Type == "message.added" && strings.Contains(string(f.Data), "Hello from the desk")
	})
	p.until("the agent's message in the log", `document.querySelectorAll("#chat .msg.mine").length === 1`)
	var agentIndex int64
	p.js(`Number(document.querySelector("#chat .msg.mine").dataset.index)`, &agentIndex)

	// The visitor types, reads and sends something hostile.
	v.request(t, map[string]any{"type": "typing", "channel_sid": ch, "state": "started"})
	p.until("the typing indicator", `document.querySelector("#chat .typing").textContent.includes("is typing")`)
	v.request(t, map[string]any{"type": "read", "channel_sid": ch, "index": agentIndex})
	p.until("the read receipt", `document.querySelector("#chat .msg.mine .read")`)
	v.say(t, ch, xss)
	p.until("the hostile message as text", `[...document.querySelectorAll("#chat .msg .body")].some((e) => e.textContent === `+quote(xss)+`)`)
	var inert struct {
		Tags int
		XSS  any
	}
	p.js(`({tags: document.querySelectorAll("img, b, #chat script").length, xss: window.__xss ?? null})`, &inert)
	if inert.Tags != 0 || inert.XSS != nil {
		t.Fatalf("visitor-supplied text became markup or ran: %+v", inert)
	}
	var side string
	p.js(`document.getElementById("visitor").textContent`, &side)
	if !strings.Contains(side, "Where is my parcel?") || !strings.Contains(side, "accepted") {
		t.Fatalf("the side panel lacks the pre-engagement data or the lifecycle: %q", side)
	}
	p.screenshot("4-chat.png")

	// Wrap up, then complete; the visitor's chat ends.
	p.js(`document.querySelector("#chat .wrapup").click(), true`, nil)
	p.until("the Complete step", `document.querySelector("#chat .complete") && document.querySelector("#chat textarea").disabled`)
	p.screenshot("5-wrapping.png")
	p.js(`document.querySelector("#chat .complete").click(), true`, nil)
	p.until("the chat gone from the list", `document.querySelectorAll("#tabs [role=tab]").length === 0`)
	v.wait(t, "the chat's end at the visitor", func(f rtclient.Frame) bool {
		return f.Type == "channel.updated" && strings.Contains(string(f.Data), "INACTIVE")
	})
	p.screenshot("6-completed.png")
}
