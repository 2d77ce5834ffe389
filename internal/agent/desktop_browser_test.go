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
			p.js(`"active=" + (document.activeElement && document.activeElement.id) + " signinHidden=" + document.getElementById("signin").hidden + " " + document.body.innerHTML.slice(0, 1500)`, &html)
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
	for i := 0; i < 40; i++ {
		var ok bool
		p.js(`!!(document.activeElement && document.activeElement.matches(`+quote(selector)+`))`, &ok)
		if ok {
			return
		}
		p.keys("\t")
	}
	p.t.Fatalf("Tab never reached %s", selector)
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

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

const xss = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>`

// TestDesktopInChromium: an agent signs in with the keyboard (a wrong
// password first), the session cookie is not readable from script, and
// the availability switch makes the worker Available.
func TestDesktopInChromium(t *testing.T) {
	browser := browsertest.Chromium(t)
	srv := parleytest.Start(t)
	createAgent(t, srv, "ada@example.com", "agent")

	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(cancelTimeout)
	p := &page{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	p.listen()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/agent")); err != nil {
		t.Fatal(err)
	}

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
	// Not covered yet (the reservation did not reach the desktop in
	// Chromium in time for this commit, while TestDeskLifecycle covers the
	// same server calls): incoming request, accept, chat, wrap-up.
}
