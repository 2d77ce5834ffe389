package webchattest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/browsertest"
)

// chromium starts one headless Chromium for a test and its subtests, or
// skips (a failure under PARLEY_TEST_REQUIRE_ALL=1) when there is none.
func chromium(t *testing.T) context.Context { return browsertest.Chromium(t) }

// tab is a page in a browser context of its own (its own storage, as
// another visitor's browser would have).
type tab struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []string
	dialogs []string
}

func newTab(t *testing.T, browser context.Context, timeout time.Duration) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	b := &tab{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			b.console = append(b.console, string(e.Type)+": "+strings.Join(parts, " "))
		case *runtime.EventExceptionThrown:
			b.console = append(b.console, "exception: "+e.ExceptionDetails.Text+" "+exceptionText(e.ExceptionDetails))
		case *page.EventJavascriptDialogOpening:
			b.dialogs = append(b.dialogs, string(e.Type)+": "+e.Message)
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

func (b *tab) logs() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.console, "\n")
}

func (b *tab) dialogsSeen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

func (b *tab) navigate(url string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("open %s: %v", url, err)
	}
}

func (b *tab) reload() {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Reload()); err != nil {
		b.t.Fatalf("reload: %v", err)
	}
}

// prelude gives expressions R (the widget's shadow root), $ and $$.
const prelude = browsertest.WidgetPrelude

// js evaluates an expression (awaiting a promise) with the prelude.
func (b *tab) js(expr string, out any) {
	b.t.Helper()
	b.eval(expr, "return ("+expr+");", out)
}

// do runs statements with the prelude.
func (b *tab) do(stmts string) { b.t.Helper(); b.eval(stmts, stmts+"; return true;", nil) }

func (b *tab) eval(what, body string, out any) {
	b.t.Helper()
	expr := what
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[json.RawMessage]("(async () => { "+prelude+" "+body+" })()",
		chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("js %s: %v\nconsole:\n%s", expr, err, b.logs())
	}
	if out == nil {
		return
	}
	if err := json.Unmarshal(raw, out); err != nil {
		b.t.Fatalf("js %s: result %s: %v", expr, raw, err)
	}
}

func (b *tab) str(expr string) string {
	b.t.Helper()
	var s string
	b.js(expr, &s)
	return s
}

// until evaluates a boolean expression until it is true (30 s at most).
func (b *tab) until(what, expr string) { b.t.Helper(); b.untilWithin(30*time.Second, what, expr) }

func (b *tab) untilWithin(limit time.Duration, what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var ok bool
		b.js("!!("+expr+")", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var html string
			b.js(`R ? R.innerHTML.slice(-3000) : "no widget"`, &html)
			b.t.Fatalf("in the browser, %s never happened.\nwidget: %s\nconsole:\n%s", what, html, b.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// keys types text into the focused element, as a keyboard would.
func (b *tab) keys(text string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.KeyEvent(text)); err != nil {
		b.t.Fatalf("type %q: %v", text, err)
	}
}

// screenshot writes the page to the test output folder.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(outputDir(b.t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

var (
	outputOnce sync.Once
	outputPath string
)

// outputDir is PARLEY_TEST_OUTPUT/webchat (created), or a temporary dir.
func outputDir(t *testing.T) string {
	outputOnce.Do(func() {
		if dir := os.Getenv("PARLEY_TEST_OUTPUT"); dir != "" {
			outputPath = filepath.Join(dir, "webchat")
			if err := os.MkdirAll(outputPath, 0o755); err == nil {
				return
			}
		}
		outputPath, _ = os.MkdirTemp("", "parley-webchat-")
	})
	return outputPath
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func must(t *testing.T, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}
