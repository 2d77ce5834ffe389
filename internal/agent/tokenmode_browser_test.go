package agent_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	trapi "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/parleychat/parley/internal/browsertest"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rtclient"
)

// TestDesktopWithBusinessTokenInChromium: with PARLEY_AGENT_TOKEN_URL the
// desktop skips Parley's sign-in and takes its tokens from the business's
// backend (another origin, CORS with credentials): it opens straight on
// the desk under the worker's name, serves a chat, and renews the token
// from the backend before it expires without dropping the chat.
func TestDesktopWithBusinessTokenInChromium(t *testing.T) {
	browser := browsertest.Chromium(t)
	var biz *business
	var worker string
	var served atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		// Short-lived tokens (expiring 3m10s from now; the server warns
		// 3m before), so the desktop must renew within seconds.
		raw := biz.token("bo@corp.example", worker, "", time.Now().Add(3*time.Minute+10*time.Second))
		served.Add(1)
		json.NewEncoder(w).Encode(map[string]string{"token": raw})
	}))
	t.Cleanup(backend.Close)
	srv := parleytest.Start(t, func(c *config.Config) { c.AgentTokenURL = backend.URL + "/parley-token" })
	biz = newBusiness(t, srv)
	name := "Bo <b>Builder</b>"
	w, err := srv.Admin().TaskrouterV1.CreateWorker(biz.workspace, &trapi.CreateWorkerParams{FriendlyName: &name})
	if err != nil {
		t.Fatal(err)
	}
	worker = *w.Sid

	p := openDesktop(t, browser, srv.URL+"/agent")
	p.until("the desk without a sign-in", `!document.getElementById("desk").hidden && document.getElementById("activity").options.length > 0`)
	var header struct {
		Me              string
		Tags            int
		SignIn, SignOut bool
	}
	p.js(`({me: document.getElementById("me").textContent, tags: document.querySelectorAll("#me *").length,
		signIn: !document.getElementById("signin").hidden,
		signOut: !document.getElementById("signout").hidden})`, &header)
	if header.Me != name || header.Tags != 0 || header.SignIn || header.SignOut {
		t.Fatalf("the desk is not the worker's own: %+v", header)
	}
	p.js(`(() => { const s = document.getElementById("activity");
		s.value = [...s.options].find((o) => o.textContent === "Available").value;
		s.dispatchEvent(new Event("change")); return true; })()`, nil)
	p.until("the Available pill", `document.getElementById("activity-now").textContent === "Available"`)

	v, _ := startVisitor(t, srv, "Grace", "Hello there")
	p.until("the incoming request", `document.querySelector(".offer button.accept")`)
	p.js(`document.querySelector(".offer button.accept").click(), true`, nil)
	p.until("the visitor's message", `[...document.querySelectorAll("#chat .msg .body")].some((e) => e.textContent === "Hello there")`)

	deadline := time.Now().Add(90 * time.Second)
	for served.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the desktop never renewed its token from the backend (%d fetched)\n%s", served.Load(), p.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.js(`document.querySelector("#chat textarea").focus(), true`, nil)
	p.keys("Still here after the renewal\r")
	v.wait(t, "the agent's reply after the renewal", func(f rtclient.Frame) bool {
		return f.Type == "message.added" && strings.Contains(string(f.Data), "Still here after the renewal")
	})
	p.screenshot("token-mode-desk.png")
}
