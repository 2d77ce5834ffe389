package flex

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	flexv1 "github.com/twilio/twilio-go/rest/flex/v1"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/storetest"
)

// flow creates a flow on e's account with the given settings on top of a
// web flow of a fresh chat service.
func (e *env) flow(extra url.Values) (Flow, string) {
	e.t.Helper()
	svc := e.chat.addService(e.account)
	in := url.Values{"FriendlyName": {"Web"}, "ChannelType": {"web"}, "ChatServiceSid": {svc}, "Enabled": {"true"}}
	for k, v := range extra {
		in[k] = v
	}
	status, body := e.request("POST", "/flex-api/v1/FlexFlows", in.Encode(), basic(e.account, e.secret), "")
	if status != 201 {
		e.t.Fatalf("create flow: %d %s", status, body)
	}
	var out struct{ Sid string }
	json.Unmarshal([]byte(body), &out)
	f, err := e.svc.Flow(context.Background(), e.account, out.Sid)
	if err != nil {
		e.t.Fatal(err)
	}
	return f, svc
}

func (e *env) studioFlow(extra url.Values) Flow {
	v := url.Values{"IntegrationType": {"studio"}, "Integration.FlowSid": {e.studio.addFlow(e.account)}}
	for k, x := range extra {
		v[k] = x
	}
	f, _ := e.flow(v)
	return f
}

func attrs(t testing.TB, raw string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("attributes %q: %v", raw, err)
	}
	return m
}

// eventually polls cond, for effects of bus events.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWebChannelStudioTwilioGo(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		flow := e.studioFlow(url.Values{"Integration.RetryCount": {"2"}})
		tw := e.tw(e.account).FlexV1
		p := &flexv1.CreateWebChannelParams{}
		p.SetFlexFlowSid(flow.SID).SetIdentity("visitor1").SetCustomerFriendlyName("Ada").SetChatFriendlyName("Chat with Ada").
			SetChatUniqueName("ada-1").SetPreEngagementData(`{"friendlyName":"Ada","question":"Where is my order?","location":"https://shop.example/cart"}`)
		wc, err := tw.CreateWebChannel(p)
		if err != nil {
			t.Fatal(err)
		}
		if !rest.IsSID("CH", *wc.Sid) || *wc.FlexFlowSid != flow.SID || *wc.AccountSid != e.account || *wc.Url != e.srv.URL+"/flex-api/v1/WebChannels/"+*wc.Sid {
			t.Fatalf("web channel %+v", wc)
		}
		ch := e.chat.get(*wc.Sid)
		a := attrs(t, ch.attrs)
		pre, _ := a["pre_engagement_data"].(map[string]any)
		if a["from"] != "Ada" || a["channel_type"] != "web" || a["status"] != "ACTIVE" || a["long_lived"] != false || pre["question"] != "Where is my order?" {
			t.Fatalf("channel attributes %v", a)
		}
		if ch.name != "Chat with Ada" || ch.unique != "ada-1" || len(ch.members) != 1 || ch.members[0] != "visitor1" || ch.service != flow.ChatServiceSID {
			t.Fatalf("chat channel %+v", ch)
		}
		if len(ch.webhooks) != 1 {
			t.Fatalf("studio webhook not attached: %v", ch.webhooks)
		}
		for _, fw := range ch.webhooks {
			if fw != flow.Integration.FlowSID {
				t.Fatalf("webhook for %s, want %s", fw, flow.Integration.FlowSID)
			}
		}

		// A reloaded page re-creates: same channel.
		again, err := tw.CreateWebChannel(p.SetChatUniqueName(""))
		if err != nil || *again.Sid != *wc.Sid {
			t.Fatalf("re-create gave %v %v, want %s", again, err, *wc.Sid)
		}
		if got, err := tw.FetchWebChannel(*wc.Sid); err != nil || *got.Sid != *wc.Sid {
			t.Fatalf("fetch: %v %v", got, err)
		}
		list, err := tw.ListWebChannel(&flexv1.ListWebChannelParams{PageSize: ptr(1)})
		if err != nil || len(list) != 1 {
			t.Fatalf("list: %v %v", list, err)
		}

		// ChatStatus=inactive: the janitor's cleanup, and a new chat next time.
		u := &flexv1.UpdateWebChannelParams{}
		u.SetChatStatus("inactive").SetPostEngagementData(`{"rating":5}`)
		if _, err := tw.UpdateWebChannel(*wc.Sid, u); err != nil {
			t.Fatal(err)
		}
		ch = e.chat.get(*wc.Sid)
		a = attrs(t, ch.attrs)
		if a["status"] != "INACTIVE" || len(ch.webhooks) != 0 || a["post_engagement_data"].(map[string]any)["rating"] != 5.0 {
			t.Fatalf("after inactive: %v webhooks %v", a, ch.webhooks)
		}
		next, err := tw.CreateWebChannel(p)
		if err != nil || *next.Sid == *wc.Sid {
			t.Fatalf("after the chat ended the visitor got %v %v", next, err)
		}
		if err := tw.DeleteWebChannel(*next.Sid); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.FetchWebChannel(*next.Sid); !isStatus(err, 404) {
			t.Fatalf("deleted: %v", err)
		}
		if e.chat.get(*next.Sid).account != "" {
			t.Fatal("chat channel not deleted")
		}
		if _, err := e.tw(e.other).FlexV1.FetchWebChannel(*wc.Sid); !isStatus(err, 404) {
			t.Fatalf("another account fetched: %v", err)
		}
	})
}

func TestWebChannelGuest(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), Options{})
	flow := e.studioFlow(nil)
	guest := func(identity string) string { return basic("token", identity+"@"+e.account+"@"+flow.ChatServiceSID) }
	form := func(flowSID, identity string) string {
		return url.Values{"FlexFlowSid": {flowSID}, "Identity": {identity}, "CustomerFriendlyName": {""}, "ChatFriendlyName": {"Flex WebChat"},
			"PreEngagementData": {`{"friendlyName":"Bo"}`}}.Encode()
	}
	status, body := e.request("POST", "/flex-api/v1/WebChannels", form(flow.SID, "g1"), guest("g1"), "https://shop.example")
	if status != 201 {
		t.Fatalf("guest create: %d %s", status, body)
	}
	var wc struct{ Sid string }
	json.Unmarshal([]byte(body), &wc)
	if a := attrs(t, e.chat.get(wc.Sid).attrs); a["from"] != "Anonymous" {
		t.Fatalf("empty CustomerFriendlyName: from %v", a["from"])
	}

	// X-Twilio-Token works too (the fake authenticator maps it like Basic).
	req := form(flow.SID, "g2")
	if status, body := e.requestHeader("POST", "/flex-api/v1/WebChannels", req, "X-Twilio-Token", "g2@"+e.account+"@"+flow.ChatServiceSID); status != 201 {
		t.Fatalf("X-Twilio-Token: %d %s", status, body)
	}

	smsFlow, _ := e.flow(url.Values{"ChannelType": {"sms"}})
	disabled := e.studioFlow(url.Values{"Enabled": {"false"}})
	otherAcct := rest.NewSID("FO")
	for _, tc := range []struct {
		name, form, auth, origin string
		status                   int
	}{
		{"another identity", form(flow.SID, "someone-else"), guest("g1"), "", 403},
		{"origin not allowed", form(flow.SID, "g3"), guest("g3"), "https://evil.example", 403},
		{"not a web flow", form(smsFlow.SID, "g3"), basic("token", "g3@"+e.account+"@"+smsFlow.ChatServiceSID), "", 403},
		{"chat service of another flow", form(smsFlow.SID, "g3"), guest("g3"), "", 403},
		{"disabled flow", form(disabled.SID, "g3"), guest("g3"), "", 403},
		{"unknown flow", form(otherAcct, "g3"), guest("g3"), "", 400},
		{"another account's guest", form(flow.SID, "g3"), basic("token", "g3@"+e.other+"@"+flow.ChatServiceSID), "", 400},
		{"missing identity", url.Values{"FlexFlowSid": {flow.SID}, "CustomerFriendlyName": {"a"}, "ChatFriendlyName": {"b"}}.Encode(), guest("g3"), "", 400},
		{"missing chat friendly name", url.Values{"FlexFlowSid": {flow.SID}, "Identity": {"g3"}, "CustomerFriendlyName": {"a"}}.Encode(), guest("g3"), "", 400},
		{"bad flow sid", form("FO12", "g3"), guest("g3"), "", 400},
		{"anonymous", form(flow.SID, "g3"), "", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := e.request("POST", "/flex-api/v1/WebChannels", tc.form, tc.auth, tc.origin); status != tc.status {
				t.Fatalf("got %d %s, want %d", status, body, tc.status)
			}
		})
	}
	// A guest sees its own channel, and no one else's, and lists nothing.
	if status, _ := e.request("GET", "/flex-api/v1/WebChannels/"+wc.Sid, "", guest("g1"), ""); status != 200 {
		t.Fatalf("own channel: %d", status)
	}
	if status, _ := e.request("GET", "/flex-api/v1/WebChannels/"+wc.Sid, "", guest("g2"), ""); status != 404 {
		t.Fatalf("someone else's channel: %d", status)
	}
	if status, _ := e.request("GET", "/flex-api/v1/WebChannels", "", guest("g1"), ""); status != 401 {
		t.Fatalf("guest list: %d", status)
	}
	if status, _ := e.request("POST", "/flex-api/v1/WebChannels/"+wc.Sid, "ChatStatus=active", guest("g1"), ""); status != 400 {
		t.Fatalf("ChatStatus=active: %d", status)
	}
	if status, _ := e.request("POST", "/flex-api/v1/WebChannels/"+wc.Sid, "ChatStatus=inactive", guest("g1"), ""); status != 200 {
		t.Fatalf("guest ends its chat: %d", status)
	}
	if status, _ := e.request("OPTIONS", "/flex-api/v1/WebChannels", "", "", "https://shop.example"); status != 204 {
		t.Fatalf("preflight: %d", status)
	}
	// A refused token's 401 carries the CORS header too: the widget must
	// be able to read it (to renew its token) from the website's origin.
	for _, auth := range []string{"", basic("token", "not-a-token")} {
		req, _ := http.NewRequest("POST", e.srv.URL+"/flex-api/v1/WebChannels", strings.NewReader(form(flow.SID, "g4")))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://shop.example")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 || res.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
			t.Fatalf("refused (auth %q): %d, Access-Control-Allow-Origin %q", auth, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}

func (e *env) requestHeader(method, path, form, header, value string) (int, string) {
	e.t.Helper()
	return e.requestWith(method, path, form, map[string]string{header: value})
}

func TestWebChannelRaceGivesOneChannel(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		flow := e.studioFlow(nil)
		const n = 8
		sids := make(chan string, n)
		for i := 0; i < n; i++ {
			go func() {
				c, err := e.svc.CreateWebChannel(context.Background(), Caller{AccountSID: e.account},
					WebChannelInput{FlexFlowSID: flow.SID, Identity: "racer", ChatFriendlyName: "x"})
				if err != nil {
					t.Error(err)
				}
				sids <- c.SID
			}()
		}
		first := <-sids
		for i := 1; i < n; i++ {
			if s := <-sids; s != first {
				t.Fatalf("two channels for one visitor: %s and %s", first, s)
			}
		}
		e.chat.mu.Lock()
		defer e.chat.mu.Unlock()
		if len(e.chat.channels) != 1 {
			t.Fatalf("%d chat channels left, want 1 (losers must delete theirs)", len(e.chat.channels))
		}
	})
}

func TestPreEngagementValue(t *testing.T) {
	for in, want := range map[string]string{
		"":           `{}`,
		`{"a":1}`:    `{"a":1}`,
		"plain text": `"plain text"`,
		`["x"]`:      `["x"]`,
		`{"broken":`: `"{\"broken\":"`,
	} {
		b, _ := json.Marshal(preEngagement(in))
		if string(b) != want {
			t.Errorf("%q: got %s, want %s", in, b, want)
		}
	}
}

func TestChannelAttributesNames(t *testing.T) {
	got := attrs(t, channelAttributes(Flow{SID: "FO1", ChannelType: "web", LongLived: true}, WebChannelInput{CustomerFriendlyName: "C"}))
	for _, k := range []string{"from", "channel_type", "status", "long_lived", "pre_engagement_data"} {
		if _, ok := got[k]; !ok {
			t.Errorf("attribute %s missing in %v", k, got)
		}
	}
	if !strings.Contains(channelAttributes(Flow{}, WebChannelInput{}), `"status":"ACTIVE"`) {
		t.Error("status not ACTIVE")
	}
}
