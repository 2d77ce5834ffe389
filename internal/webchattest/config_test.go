package webchattest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	flexv1 "github.com/twilio/twilio-go/rest/flex/v1"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/store/storetest"
)

// newWebFlow creates another web Flex Flow on the default setup's chat
// service and Studio flow.
func newWebFlow(t *testing.T, srv *parleytest.Server, name string) string {
	t.Helper()
	s := srv.App.FlexSetup
	f, err := srv.Admin().FlexV1.CreateFlexFlow((&flexv1.CreateFlexFlowParams{}).SetFriendlyName(name).SetChatServiceSid(s.ChatServiceSID).
		SetChannelType("web").SetIntegrationType("studio").SetIntegrationFlowSid(s.StudioFlowSID).SetEnabled(true))
	must(t, err, "create a Flex Flow")
	return *f.Sid
}

// TestWebChatConfiguration drives the flow's web chat configuration
// resource over HTTP on each store.
func TestWebChatConfiguration(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) { webChatConfiguration(t, parleytest.Start(t, parleytest.Backend(t, backend))) })
	}
}

func webChatConfiguration(t *testing.T, srv *parleytest.Server) {
	flow := newWebFlow(t, srv, "Help desk")
	path := "/flex-api/v1/FlexFlows/" + flow + "/WebChatConfiguration"
	get := func() map[string]any {
		t.Helper()
		status, body := srv.Request(t, "GET", path, nil, "", "") // no credentials: the widget reads it
		if status != 200 {
			t.Fatalf("GET: %d %s", status, body)
		}
		var out map[string]any
		must(t, json.Unmarshal([]byte(body), &out), "GET body")
		return out
	}
	if c := get(); c["pre_engagement_config"] != nil || c["flex_flow_sid"] != flow || c["date_created"] != nil {
		t.Errorf("before any configuration: %v", c)
	}

	for _, tc := range []struct{ param, value, want string }{
		{"Colors", `{"primary":"red;background:url(x)"}`, "Colors"},
		{"Colors", `{"nope":"#fff"}`, "Colors"},
		{"Colors", `["#fff"]`, "Colors"},
		{"Strings", `{"title":` + fmt.Sprintf("%q", strings.Repeat("x", 501)) + `}`, "Strings"},
		{"PreEngagementConfig", `{"fields":[{"label":"A","type":"HtmlItem","attributes":{"name":"a"}}]}`, "PreEngagementConfig"},
		{"PreEngagementConfig", `{"fields":[{"label":"A","type":"InputItem","attributes":{}}]}`, "PreEngagementConfig"},
		{"PreEngagementConfig", `{"fields":[{"label":"A","type":"InputItem","attributes":{"name":"a","pattern":"("}}]}`, "PreEngagementConfig"},
		{"PreEngagementConfig", `not json`, "PreEngagementConfig"},
		{"PostEngagementConfig", `maybe`, "PostEngagementConfig"},
	} {
		status, body := srv.Request(t, "POST", path, url.Values{tc.param: {tc.value}}, srv.AccountSID, srv.AuthToken)
		if status != 400 || !strings.Contains(body, tc.want) || !strings.Contains(body, `"code":`) {
			t.Errorf("%s=%s: %d %s, want a 400 naming %s", tc.param, tc.value, status, body, tc.want)
		}
	}
	form := url.Values{
		"PreEngagementConfig":  {`{"description":"Who are you?","fields":[{"label":"Customer number","type":"InputItem","attributes":{"name":"customer","required":true}}]}`},
		"PostEngagementConfig": {"true"},
		"Colors":               {`{"primary":"#004d40"}`},
		"Strings":              {`{"title":"Help desk","submit":"Go"}`},
	}
	if status, body := srv.Request(t, "POST", path, form, "", ""); status != 401 {
		t.Errorf("POST without credentials: %d %s", status, body)
	}
	if status, body := srv.Request(t, "POST", path, form, srv.AccountSID, srv.AuthToken); status != 200 {
		t.Fatalf("POST: %d %s", status, body)
	}
	c := get()
	pre, _ := c["pre_engagement_config"].(map[string]any)
	if pre["description"] != "Who are you?" || c["post_engagement_config"] != true || c["colors"].(map[string]any)["primary"] != "#004d40" ||
		c["strings"].(map[string]any)["title"] != "Help desk" || c["date_updated"] == nil {
		t.Errorf("after POST: %v", c)
	}
	// A partial update keeps the rest.
	if status, body := srv.Request(t, "POST", path, url.Values{"Strings": {`{"title":"Support"}`}}, srv.AccountSID, srv.AuthToken); status != 200 {
		t.Fatalf("partial POST: %d %s", status, body)
	}
	if c := get(); c["strings"].(map[string]any)["title"] != "Support" || c["pre_engagement_config"] == nil {
		t.Errorf("after a partial POST: %v", c)
	}
	if status, _ := srv.Request(t, "DELETE", path, nil, srv.AccountSID, srv.AuthToken); status != 204 {
		t.Errorf("DELETE: %d", status)
	}
	if c := get(); c["pre_engagement_config"] != nil {
		t.Errorf("after DELETE: %v", c)
	}
	// The configuration goes with its flow.
	srv.Request(t, "POST", path, form, srv.AccountSID, srv.AuthToken)
	if status, body := srv.Request(t, "DELETE", "/flex-api/v1/FlexFlows/"+flow, nil, srv.AccountSID, srv.AuthToken); status != 204 {
		t.Fatalf("delete the flow: %d %s", status, body)
	}
	for _, p := range []string{path, "/flex-api/v1/FlexFlows/FO00000000000000000000000000000000/WebChatConfiguration"} {
		if status, body := srv.Request(t, "GET", p, nil, "", ""); status != 404 {
			t.Errorf("GET %s: %d %s, want 404", p, status, body)
		}
	}
}

// serverConfig checks that the widget uses the flow's configuration from
// the server, and that what the page passes wins.
func serverConfig(t *testing.T, browser context.Context, srv *parleytest.Server) {
	flow := newWebFlow(t, srv, "Configured on the server")
	form := url.Values{
		"PreEngagementConfig": {`{"description":"Who are you?","fields":[{"label":"Customer number","type":"InputItem","attributes":{"name":"customer","required":true,"pattern":"[0-9]{4}"},"messages":{"fieldPattern":"Four digits, please."}}]}`},
		"Colors":              {`{"primary":"#004d40"}`},
		"Strings":             {`{"title":"Help desk","submit":"Go"}`},
	}
	if status, body := srv.Request(t, "POST", "/flex-api/v1/FlexFlows/"+flow+"/WebChatConfiguration", form, srv.AccountSID, srv.AuthToken); status != 200 {
		t.Fatalf("configure: %d %s", status, body)
	}
	page := fmt.Sprintf(`<!doctype html><html lang="en"><meta charset="utf-8"><title>Configured</title><script src="%s/webchat.js"></script>
<script>Parley.Webchat.init({ accountSid: %q, flexFlowSid: %q, strings: { title: "The page's title" } });</script>`, srv.URL, srv.AccountSID, flow)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, page) }))
	t.Cleanup(site.Close)

	b := newTab(t, browser, time.Minute)
	b.navigate(site.URL)
	b.do(`Parley.Webchat.open()`)
	b.until("the server's form", `$("form.pre [name=customer]")`)
	var got struct{ Title, Submit, Desc, Color string }
	b.js(`({ Title: $("#pw-title").textContent, Submit: $("form.pre button[type=submit]").textContent, Desc: $(".desc").textContent,
		Color: document.getElementById("parley-webchat").style.getPropertyValue("--pw-primary") })`, &got)
	if got.Title != "The page's title" || got.Submit != "Go" || got.Desc != "Who are you?" || got.Color != "#004d40" {
		t.Errorf("the widget shows %+v; want the page's title over the server's, the rest from the server", got)
	}
	b.fill(map[string]any{"customer": "12ab"})
	b.do(`$("form.pre button[type=submit]").click()`)
	if msg := b.errorFor("customer"); msg != "Four digits, please." {
		t.Errorf("the server form's own message: %q", msg)
	}
}
