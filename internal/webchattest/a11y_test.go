package webchattest_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/parleytest"
)

// axeViolation is the part of an axe-core result the test reports.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// audit runs axe-core (WCAG 2.x A and AA rules) on the page, shadow roots
// included, and fails on serious or critical violations.
func (b *tab) audit(state string) {
	b.t.Helper()
	var loaded bool
	b.js(`typeof axe === "object"`, &loaded)
	if !loaded {
		src, err := os.ReadFile("testdata/axe/axe.min.js")
		must(b.t, err, "read axe-core")
		b.do(`(0, eval)(` + jsString(string(src)) + `)`)
	}
	var violations []axeViolation
	b.js(`axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
		resultTypes: ["violations"] }).then((r) => r.violations)`, &violations)
	for _, v := range violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, strings.TrimSpace(strings.ReplaceAll(n.Summary, "\n", " ")))
		}
		if v.Impact == "serious" || v.Impact == "critical" {
			b.t.Errorf("axe, %s: %s %s (%s): %v", state, v.Impact, v.ID, v.Help, where)
		} else {
			b.t.Logf("axe, %s: %s %s (%s)", state, v.Impact, v.ID, v.Help)
		}
	}
}

// accessibility audits each of the widget's states on the demo page, and
// checks the keyboard path through them.
func accessibility(t *testing.T, browser context.Context, srv *parleytest.Server) {
	b := newTab(t, browser, 2*time.Minute)
	b.navigate(srv.URL + "/")
	b.until("the launcher", `$(".launcher")`)
	b.audit("launcher closed")

	b.do(`Parley.Webchat.open()`)
	b.until("the form", `$("form.pre")`)
	b.audit("pre-engagement form")
	b.do(`$("form.pre button[type=submit]").click()`)
	b.until("errors", `$$(".error:not([hidden])").length > 0`)
	b.audit("form with errors")

	b.fill(map[string]any{"friendlyName": "Ann", "email": "ann@example.com", "topic": "other", "consent": true})
	b.do(`$("form.pre button[type=submit]").click()`)
	b.until("the conversation", `R.activeElement && R.activeElement.id === "pw-input"`)
	b.keys("Hello, I use a screen reader\r")
	b.until("sent", `$$(".msg.own .status").some((s) => s.textContent === "Sent")`)
	var live string
	b.js(`$(".log").getAttribute("role") + " " + $(".log").getAttribute("aria-live")`, &live)
	if live != "log polite" {
		t.Errorf("the message list is %q, want an ARIA live region (role log, polite)", live)
	}
	b.audit("conversation")

	// Escape closes the panel and gives focus back to the launcher.
	b.keys("\x1b")
	b.until("closed by Escape", `$(".panel").hidden && R.activeElement === $(".launcher") && $(".launcher").getAttribute("aria-expanded") === "false"`)
	b.keys("\r")
	b.until("opened by Enter", `!$(".panel").hidden && $(".launcher").getAttribute("aria-expanded") === "true"`)

	b.do(`[...$$(".actions button")].find((e) => e.textContent === "End chat").click()`)
	b.until("ended", `!$(".ended").hidden`)
	b.audit("chat ended, survey")

	// Right to left: with dir=rtl (the page's, or the dir option) the
	// launcher and the panel sit on the left and own messages on the left.
	b.do(`document.getElementById("parley-webchat").dir = "rtl"`)
	var layout struct{ Launcher, Own, Agent string }
	b.js(`(() => { const side = (e) => { const r = e.getBoundingClientRect(); return r.left + r.width / 2 < innerWidth / 2 ? "left" : "right"; };
		const panel = $(".panel").getBoundingClientRect(), mid = panel.left + panel.width / 2;
		const own = $(".msg.own").getBoundingClientRect();
		return { Launcher: side($(".launcher")), Own: own.left + own.width / 2 < mid ? "left" : "right", Agent: "" }; })()`, &layout)
	if layout.Launcher != "left" || layout.Own != "left" {
		t.Errorf("right to left: launcher on the %s, own messages on the %s; want both on the left", layout.Launcher, layout.Own)
	}
	b.screenshot("6-rtl-ended.png")
}
