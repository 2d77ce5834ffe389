package chat_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	chatv2 "github.com/twilio/twilio-go/rest/chat/v2"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/token"
)

// What an access token may do: only inside its chat service, only on
// channels where its identity is a member, only to its own things.
func TestAccessTokenAuthorization(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		tw := srv.Admin().ChatV2
		svc, _ := tw.CreateService(&chatv2.CreateServiceParams{FriendlyName: ptr("Authz")})
		other, _ := tw.CreateService(&chatv2.CreateServiceParams{FriendlyName: ptr("Other")})
		is := *svc.Sid
		mine, _ := tw.CreateChannel(is, &chatv2.CreateChannelParams{UniqueName: ptr("mine")})
		theirs, _ := tw.CreateChannel(is, &chatv2.CreateChannelParams{UniqueName: ptr("theirs")})
		for ch, ids := range map[string][]string{*mine.Sid: {"guest-1", "agent"}, *theirs.Sid: {"guest-2"}} {
			for _, id := range ids {
				if _, err := tw.CreateMember(is, ch, &chatv2.CreateMemberParams{Identity: ptr(id)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		agentMsg, _ := tw.CreateMessage(is, *mine.Sid, &chatv2.CreateMessageParams{From: ptr("agent"), Body: ptr("hi, how can I help?")})

		guest := srv.Token(t, token.Grant{Identity: "guest-1", ChatServiceSID: is, Guest: true})
		elsewhere := srv.Token(t, token.Grant{Identity: "guest-1", ChatServiceSID: *other.Sid, Guest: true})
		as := func(tok, method, path string, form url.Values) (int, map[string]any) {
			t.Helper()
			status, body := srv.Request(t, method, "/chat/v2/Services/"+is+path, form, "token", tok)
			var out map[string]any
			json.Unmarshal([]byte(body), &out)
			return status, out
		}
		mineP, theirsP := "/Channels/"+*mine.Sid, "/Channels/"+*theirs.Sid

		// Allowed: its own channel, members, messages; its list shows only its channels.
		for _, path := range []string{"", mineP, "/Channels/mine", mineP + "/Members", mineP + "/Members/agent",
			mineP + "/Messages", mineP + "/Messages/" + *agentMsg.Sid, "/Users/guest-1", "/Roles"} {
			if status, body := as(guest, "GET", path, nil); status != 200 {
				t.Errorf("GET %s: %d %v", path, status, body)
			}
		}
		if status, body := as(guest, "GET", "/Channels", nil); status != 200 || len(body["channels"].([]any)) != 1 ||
			body["channels"].([]any)[0].(map[string]any)["sid"] != *mine.Sid {
			t.Fatalf("guest channel list: %d %v", status, body)
		}

		// From is the token's identity, whatever the request says.
		status, msg := as(guest, "POST", mineP+"/Messages", url.Values{"Body": {"hello"}, "From": {"agent"}})
		if status != 201 || msg["from"] != "guest-1" {
			t.Fatalf("guest send: %d %v", status, msg)
		}
		ownMsg := msg["sid"].(string)
		if status, body := as(guest, "POST", mineP+"/Messages/"+ownMsg, url.Values{"Body": {"hello!"}}); status != 200 ||
			body["was_edited"] != true || body["last_updated_by"] != "guest-1" {
			t.Fatalf("edit own message: %d %v", status, body)
		}
		if status, body := as(guest, "POST", mineP+"/Members/guest-1", url.Values{"LastConsumedMessageIndex": {"1"}}); status != 200 ||
			body["last_consumed_message_index"] != 1.0 {
			t.Fatalf("own read horizon: %d %v", status, body)
		}

		// Refused: other channels, others' things, administration, other services.
		for _, tc := range []struct {
			tok, method, path string
			form              url.Values
			status            int
		}{
			{guest, "GET", theirsP, nil, 403},
			{guest, "GET", "/Channels/theirs", nil, 403},
			{guest, "GET", theirsP + "/Messages", nil, 403},
			{guest, "GET", theirsP + "/Members", nil, 403},
			{guest, "POST", theirsP + "/Messages", url.Values{"Body": {"let me in"}}, 403},
			{guest, "POST", "/Channels", url.Values{"FriendlyName": {"new"}}, 403},
			{guest, "POST", mineP, url.Values{"Attributes": {`{"status":"CLOSED"}`}}, 403},
			{guest, "DELETE", mineP, nil, 403},
			{guest, "POST", mineP + "/Members", url.Values{"Identity": {"friend"}}, 403},
			{guest, "POST", mineP + "/Members/agent", url.Values{"LastConsumedMessageIndex": {"0"}}, 403},
			{guest, "POST", mineP + "/Members/guest-1", url.Values{"RoleSid": {rest.NewSID("RL")}}, 403},
			{guest, "DELETE", mineP + "/Members/agent", nil, 403},
			{guest, "POST", mineP + "/Messages/" + *agentMsg.Sid, url.Values{"Body": {"forged"}}, 403},
			{guest, "DELETE", mineP + "/Messages/" + *agentMsg.Sid, nil, 403},
			{guest, "GET", mineP + "/Webhooks", nil, 403},
			{guest, "POST", mineP + "/Webhooks", url.Values{"Type": {"webhook"}}, 403},
			{guest, "GET", "/Users", nil, 403},
			{guest, "GET", "/Users/agent", nil, 403},
			{guest, "POST", "/Roles", url.Values{"FriendlyName": {"r"}, "Type": {"channel"}, "Permission": {"sendMessage"}}, 403},
			{guest, "POST", "", url.Values{"FriendlyName": {"mine now"}}, 403},
			{guest, "DELETE", "", nil, 403},
			{elsewhere, "GET", mineP, nil, 403},
			{elsewhere, "GET", "", nil, 403},
		} {
			if status, body := as(tc.tok, tc.method, tc.path, tc.form); status != tc.status || body["code"] == nil || body["message"] == "" {
				t.Errorf("%s %s: %d %v, want %d", tc.method, tc.path, status, body, tc.status)
			}
		}
		if status, _ := srv.Request(t, "GET", "/chat/v2/Services", nil, "token", guest); status != 403 {
			t.Errorf("guest listed services: %d", status)
		}

		// Nothing above changed the agent's message or membership.
		m, err := tw.FetchMessage(is, *mine.Sid, *agentMsg.Sid)
		if err != nil || *m.Body != "hi, how can I help?" {
			t.Fatalf("agent message: %v %v", m, err)
		}
		// Deleting its own message, then leaving, works; after that the channel is closed to it.
		if status, _ := as(guest, "DELETE", mineP+"/Messages/"+ownMsg, nil); status != 204 {
			t.Fatalf("delete own message: %d", status)
		}
		if status, _ := as(guest, "DELETE", mineP+"/Members/guest-1", nil); status != 204 {
			t.Fatalf("leave: %d", status)
		}
		if status, _ := as(guest, "GET", mineP+"/Messages", nil); status != 403 {
			t.Fatalf("after leaving: %d", status)
		}

		// Another account's credentials see nothing of this one.
		acct, err := srv.App.Accounts.Create(t.Context(), "other")
		if err != nil {
			t.Fatal(err)
		}
		_, err = srv.Twilio(acct.SID, acct.AuthToken).ChatV2.FetchChannel(is, *mine.Sid)
		restError(t, err, 404, 20404)
		status, body := srv.Request(t, "GET", "/chat/v2/Services/"+is+mineP+"/Messages", nil, acct.SID, acct.AuthToken)
		if status != 404 || !strings.Contains(body, "20404") {
			t.Fatalf("other account: %d %s", status, body)
		}
	})
}
