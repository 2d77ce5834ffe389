package agent_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/parleychat/parley/internal/browsertest"
	"github.com/parleychat/parley/internal/flex"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rtclient"
)

// countTones wraps the page's AudioContext so that every oscillator
// started counts in window.__tones (the app itself has no test hooks).
const countTones = `(() => {
  window.__tones = 0;
  const Real = window.AudioContext;
  if (!Real) return;
  window.AudioContext = class extends Real {
    createOscillator() {
      const osc = super.createOscillator();
      const start = osc.start.bind(osc);
      osc.start = (...args) => { window.__tones++; return start(...args); };
      return osc;
    }
  };
})();`

// openWithScript opens url in a fresh browser context (its own cookies),
// for at most five minutes, with script (if any) run in every document
// before the page's own scripts: how a test instruments a browser API.
func openWithScript(t *testing.T, browser context.Context, url, script string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(cancelTimeout)
	p := &page{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	p.listen()
	if script != "" {
		if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: script}); err != nil {
			t.Fatal(err)
		}
	}
	p.navigate(url)
	return p
}

// signInAs signs the page in (the keyboard sign-in has its own test) and
// goes available.
func (p *page) signInAs(email string) {
	p.t.Helper()
	p.until("the sign-in form", `!document.getElementById("signin").hidden`)
	p.js(`(() => { document.getElementById("email").value = `+quote(email)+`;
		document.getElementById("password").value = "correct horse battery";
		document.getElementById("signin-form").requestSubmit(); return true; })()`, nil)
	p.until("the desk", `!document.getElementById("desk").hidden && document.getElementById("activity").options.length > 0`)
	p.js(`(() => { const s = document.getElementById("activity");
		s.value = [...s.options].find((o) => o.textContent === "Available").value;
		s.dispatchEvent(new Event("change")); return true; })()`, nil)
	p.until("the Available pill", `document.getElementById("activity-now").textContent === "Available"`)
}

// enter presses Enter as a keyboard does: one keyDown carrying the text,
// so a handler that prevents the default also stops the character
// (chromedp's KeyEvent sends the character as a separate event, which
// lands in whatever has the focus by then).
func (p *page) enter() {
	p.t.Helper()
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
		ev := input.DispatchKeyEventParams{Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		if typ == input.DispatchKeyEventTypeKeyDown {
			ev.Text, ev.UnmodifiedText = "\r", "\r"
		}
		if _, err := chromedp.Call(p.ctx, input.DispatchKeyEvent, ev); err != nil {
			p.t.Fatalf("Enter: %v", err)
		}
	}
}

func (p *page) navigate(url string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Navigate(url)); err != nil {
		p.t.Fatal(err)
	}
}

// TestDeskToolsInChromium: the sound signal (on by default, an oscillator
// per tone; toggled off with the keyboard it stays off across a reload
// and a new request makes no sound), canned responses picked with the
// keyboard into the draft, and a transfer through the keyboard dialog to
// another agent, whose desktop shows who transferred the chat and who
// then answers the visitor; the first agent completes, the chat goes on.
func TestDeskToolsInChromium(t *testing.T) {
	browser := browsertest.Chromium(t)
	srv := parleytest.Start(t)
	createAgent(t, srv, "ada@example.com", "agent")
	bo := createAgent(t, srv, "bo@example.com", "agent")
	for _, c := range []url.Values{
		{"FriendlyName": {"Greeting"}, "Body": {"Hello! I am looking into it now."}, "Category": {"General"}},
		{"FriendlyName": {"Refund delay"}, "Body": {"Refunds take <b>5</b> working days."}, "Category": {"Billing"}},
	} {
		if code, body := srv.Request(t, "POST", "/agents/v1/CannedResponses", c, srv.AccountSID, srv.AuthToken); code != 201 {
			t.Fatalf("canned response: %d %s", code, body)
		}
	}

	ada := openWithScript(t, browser, srv.URL+"/agent", countTones)
	ada.signInAs("ada@example.com")
	ada.until("the sound switch on by default", `document.getElementById("sound").getAttribute("aria-pressed") === "true"`)

	// An incoming request chimes.
	v, ch := startVisitor(t, srv, "Grace", "Hi, I need help")
	ada.until("the incoming request", `document.querySelector(".offer .visitor-name")`)
	ada.until("the chime", `window.__tones > 0`)
	ada.tabTo(".offer button.accept")
	ada.enter()
	ada.until("the chat", `[...document.querySelectorAll("#chat .msg .body")].some((e) => e.textContent === "Hi, I need help")`)

	// Canned responses with the keyboard: Tab to the first one, then a
	// filter and Enter.
	ada.js(`document.querySelector("#chat textarea").focus(), true`, nil)
	ada.keys("Hi Grace. ")
	ada.tabTo("#chat button.canned")
	ada.enter()
	ada.until("the picker with its categories", `document.getElementById("canned-dialog").open && document.activeElement.id === "canned-filter" &&
		[...document.querySelectorAll("#canned-list h3")].map((e) => e.textContent).join() === "Billing,General"`)
	ada.screenshot("tools-1-canned.png")
	ada.tabTo(`#canned-list button[data-sid]`)
	var first string
	ada.js(`document.activeElement.querySelector(".name").textContent`, &first)
	ada.enter()
	ada.until("the canned body in the draft", `!document.getElementById("canned-dialog").open && document.activeElement.matches("#chat textarea")`)
	var draft string
	ada.js(`document.querySelector("#chat textarea").value`, &draft)
	want := map[string]string{"Refund delay": "Hi Grace. Refunds take <b>5</b> working days.", "Greeting": "Hi Grace. Hello! I am looking into it now."}[first]
	if draft != want {
		t.Fatalf("draft %q after inserting %q, want %q", draft, first, want)
	}
	ada.enter()
	v.wait(t, "the canned reply at the visitor", func(f rtclient.Frame) bool {
		return f.Type == "message.added" && strings.Contains(string(f.Data), "Hi Grace.")
	})
	ada.tabTo("#chat button.canned")
	ada.enter()
	ada.until("the picker", `document.activeElement.id === "canned-filter"`)
	ada.keys("refund")
	ada.until("the filtered list", `document.querySelectorAll("#canned-list button[data-sid]").length === 1`)
	ada.enter()
	ada.until("the filtered body in the draft", `document.querySelector("#chat textarea").value === "Refunds take <b>5</b> working days."`)
	ada.enter()
	ada.until("the sent canned text, as text", `[...document.querySelectorAll("#chat .msg.mine .body")].some((e) => e.textContent.includes("<b>5</b>"))`)

	// Sound off with the keyboard; it stays off after a reload, and the
	// next request makes no sound.
	ada.tabTo("#sound")
	ada.keys(" ")
	ada.until("the switch off", `document.getElementById("sound").getAttribute("aria-pressed") === "false" &&
		localStorage.getItem("parley.agent.sound") === "off"`)
	ada.navigate(srv.URL + "/agent")
	ada.until("the desk again with its chat", `!document.getElementById("desk").hidden && document.querySelectorAll("#tabs [role=tab]").length === 1`)
	ada.until("the switch still off", `document.getElementById("sound").textContent === "Sound off"`)
	_, ch2 := startVisitor(t, srv, "Henry", "Another question")
	ada.until("the second request", `document.querySelector(".offer .visitor-name")`)
	var tones int
	ada.js(`window.__tones`, &tones)
	if tones != 0 {
		t.Fatalf("%d tones with the sound off", tones)
	}
	ada.tabTo(".offer button.accept")
	ada.enter()
	ada.until("two chats", `document.querySelectorAll("#tabs [role=tab]").length === 2 && !document.querySelector(".offer")`)
	ada.tabTo("#sound")
	ada.enter()
	ada.until("the switch on again", `document.getElementById("sound").getAttribute("aria-pressed") === "true" &&
		localStorage.getItem("parley.agent.sound") === "on"`)

	// Bo signs in; Ada transfers Grace's chat to him with the keyboard.
	bop := openWithScript(t, browser, srv.URL+"/agent", "")
	bop.signInAs("bo@example.com")
	ada.js(`[...document.querySelectorAll("#tabs [role=tab]")].find((b) => b.textContent.includes("Grace")).click(), true`, nil)
	ada.until("Grace's chat", `document.querySelector("#chat .head").textContent.includes("Grace")`)
	ada.tabTo("#chat button.transfer")
	ada.enter()
	ada.until("the transfer dialog", `document.getElementById("transfer-dialog").open && document.activeElement.name === "target"`)
	boWorker := bo["worker_sid"].(string)
	for i := 0; i < 10; i++ {
		var at string
		ada.js(`document.activeElement.value`, &at)
		if at == boWorker {
			break
		}
		ada.keys(kb.ArrowDown)
	}
	ada.until("Bo chosen", `document.activeElement.value === `+quote(boWorker)+` && document.activeElement.checked`)
	ada.screenshot("tools-2-transfer-dialog.png")
	ada.tabTo("#transfer-dialog button.do-transfer")
	ada.enter()
	ada.until("the chat marked transferred", `!document.getElementById("transfer-dialog").open &&
		document.querySelector("#chat .transferred").textContent.includes("Transferred to Ada bo@example.com") &&
		document.querySelector("#chat textarea").disabled && document.activeElement.matches("#chat button.complete") &&
		!document.querySelector("#chat button.transfer")`)
	ada.screenshot("tools-3-transferred.png")

	// Bo's desktop shows the request as transferred from Ada; he answers.
	bop.until("the transferred request", `document.querySelector(".offer .transferred-from")`)
	var from string
	bop.js(`document.querySelector(".offer .transferred-from").textContent`, &from)
	if from != "Ada ada@example.com" {
		t.Fatalf("transferred from %q", from)
	}
	bop.tabTo(".offer button.accept")
	bop.enter()
	bop.until("the history at Bo", `[...document.querySelectorAll("#chat .msg .body")].some((e) => e.textContent.includes("Refunds take"))`)
	bop.js(`document.querySelector("#chat textarea").focus(), true`, nil)
	bop.keys("Bo here, I can help.")
	bop.enter()
	v.wait(t, "Bo's reply at the visitor", func(f rtclient.Frame) bool {
		return f.Type == "message.added" && strings.Contains(string(f.Data), "Bo here")
	})
	bop.screenshot("tools-4-received.png")

	// Ada completes her part: her tab goes, the visitor's chat goes on.
	ada.enter()
	ada.until("Grace's chat gone from Ada's list", `document.querySelectorAll("#tabs [role=tab]").length === 1`)
	for _, sid := range []string{ch, ch2} {
		if c, err := srv.App.Flex.WebChannel(context.Background(), srv.AccountSID, sid); err != nil || c.Status != flex.StatusActive {
			t.Fatalf("chat %s after Ada completed: %+v %v", sid, c, err)
		}
	}
}
