// Package browsertest drives a real headless Chromium from Go tests
// (through chromedp): Debian's /usr/bin/chromium, or PARLEY_TEST_CHROMIUM.
// Without one, tests skip with a message, which PARLEY_TEST_REQUIRE_ALL=1
// turns into a failure.
package browsertest

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/store/storetest"
)

// Path is the Chromium the tests run.
func Path() string {
	if p := os.Getenv("PARLEY_TEST_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// Chromium starts a headless Chromium with a fresh profile for t (and its
// subtests), stopped when t ends; the returned context drives its first tab.
func Chromium(t testing.TB) context.Context {
	t.Helper()
	path := Path()
	if _, err := os.Stat(path); err != nil {
		storetest.Skip(t, "browser tests skipped: no Chromium at "+path+" (install it with apt-get install chromium, or set PARLEY_TEST_CHROMIUM)")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("lang", "en-GB"), chromedp.WindowSize(1100, 800),
		chromedp.UserDataDir(t.TempDir()))
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser now, outside any test deadline
		t.Fatalf("start Chromium at %s: %v", path, err)
	}
	return ctx
}

// Eval evaluates a JavaScript expression in the page (awaiting it when it
// is a promise) and decodes its JSON value into out (nil: ignore it).
func Eval(t testing.TB, ctx context.Context, expr string, out any) {
	t.Helper()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("js %s: %v", expr, err)
	}
	if out == nil {
		return
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("js %s: result %s: %v", expr, raw, err)
	}
}

// Until evaluates a boolean expression until it is true (30s at most);
// on timeout it fails with what and the value of debug.
func Until(t testing.TB, ctx context.Context, what, expr, debug string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ok bool
		Eval(t, ctx, expr, &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var state any
			if debug != "" {
				Eval(t, ctx, debug, &state)
			}
			t.Fatalf("in the browser, %s never happened; %s = %v", what, debug, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Offline cuts the tab's network as a lost connection would (DevTools
// network emulation: open sockets drop, requests fail, navigator.onLine
// turns false), or restores it.
func Offline(t testing.TB, ctx context.Context, off bool) {
	t.Helper()
	var rules []*network.Conditions
	if off {
		rules = []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}}
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("browsertest: network enable: %v", err)
	}
	_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: rules})
	if err != nil {
		t.Fatalf("browsertest: network conditions: %v", err)
	}
	_, err = chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: off, DownloadThroughput: -1, UploadThroughput: -1})
	if err != nil {
		t.Fatalf("browsertest: network state: %v", err)
	}
}

// WidgetPrelude gives a page's expressions R (the web chat widget's
// shadow root), $ and $$ (querySelector and querySelectorAll in it) and
// text (the textContent of every match).
const WidgetPrelude = `const R = document.getElementById("parley-webchat") && document.getElementById("parley-webchat").shadowRoot;
const $ = (s) => R && R.querySelector(s); const $$ = (s) => (R ? [...R.querySelectorAll(s)] : []);
const text = (s) => $$(s).map((e) => e.textContent);`
