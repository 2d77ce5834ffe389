package chat_test

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/twilio/twilio-go/client"
	chatv2 "github.com/twilio/twilio-go/rest/chat/v2"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store/storetest"
)

func ptr[T any](v T) *T { return &v }

// restError checks err is Twilio's error body with status and code.
func restError(t *testing.T, err error, status, code int) *client.TwilioRestError {
	t.Helper()
	var e *client.TwilioRestError
	if !errors.As(err, &e) {
		t.Fatalf("got %v (%T), want a Twilio error %d/%d", err, err, status, code)
	}
	if e.Status != status || e.Code != code || e.Message == "" || !strings.HasPrefix(e.MoreInfo, "https://www.twilio.com/docs/errors/") {
		t.Fatalf("got %d/%d %q, want %d/%d", e.Status, e.Code, e.Message, status, code)
	}
	return e
}

func forEachServer(t *testing.T, fn func(t *testing.T, srv *parleytest.Server)) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			fn(t, parleytest.Start(t, parleytest.Backend(t, backend)))
		})
	}
}

// The Chat v2 API driven end to end by Twilio's own Go library.
func TestChatWithTwilioGo(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		tw := srv.Admin().ChatV2

		// Service: created with Twilio's defaults and four default roles.
		svc, err := tw.CreateService(&chatv2.CreateServiceParams{FriendlyName: ptr("Support")})
		if err != nil {
			t.Fatal(err)
		}
		is := *svc.Sid
		if !rest.IsSID("IS", is) || *svc.Url != srv.URL+"/chat/v2/Services/"+is || !*svc.ReadStatusEnabled ||
			*svc.WebhookMethod != "POST" || svc.TypingIndicatorTimeout != 5 {
			t.Fatalf("service %+v", svc)
		}
		if (*svc.Links)["channels"] != srv.URL+"/chat/v2/Services/"+is+"/Channels" {
			t.Fatalf("links %v", *svc.Links)
		}
		limits := (*svc.Limits).(map[string]any)
		if limits["channel_members"] != 250.0 || limits["user_channels"] != 100.0 {
			t.Fatalf("limits %v", limits)
		}
		roles, err := tw.ListRole(is, nil)
		if err != nil || len(roles) != 4 {
			t.Fatalf("default roles: %d %v", len(roles), err)
		}
		svc, err = tw.UpdateService(is, &chatv2.UpdateServiceParams{FriendlyName: ptr("Support 2"),
			PostWebhookUrl: ptr("https://hooks.example.com/post"), WebhookFilters: &[]string{"onMessageSent", "onMemberAdded"},
			LimitsChannelMembers: ptr(3), PostWebhookRetryCount: ptr(2), NotificationsNewMessageEnabled: ptr(true)})
		if err != nil || *svc.FriendlyName != "Support 2" || *svc.PostWebhookUrl != "https://hooks.example.com/post" ||
			len(*svc.WebhookFilters) != 2 || svc.PostWebhookRetryCount != 2 {
			t.Fatalf("update service %+v %v", svc, err)
		}
		_, err = tw.UpdateService(is, &chatv2.UpdateServiceParams{WebhookFilters: &[]string{"onNothing"}})
		if e := restError(t, err, 400, 20001); !strings.Contains(e.Message, "WebhookFilters") {
			t.Fatalf("message should name the parameter: %q", e.Message)
		}
		_, err = tw.UpdateService(is, &chatv2.UpdateServiceParams{LimitsChannelMembers: ptr(1001)})
		restError(t, err, 400, 20001)

		// Channel: unique name addresses it; attributes must be JSON.
		ch, err := tw.CreateChannel(is, &chatv2.CreateChannelParams{FriendlyName: ptr("Visitor"),
			UniqueName: ptr("visitor-1"), Attributes: ptr(`{"status":"ACTIVE"}`), Type: ptr("private"), CreatedBy: ptr("alice")})
		if err != nil {
			t.Fatal(err)
		}
		chSID := *ch.Sid
		if *ch.Type != "private" || *ch.CreatedBy != "alice" || *ch.Attributes != `{"status":"ACTIVE"}` ||
			*ch.Url != srv.URL+"/chat/v2/Services/"+is+"/Channels/"+chSID {
			t.Fatalf("channel %+v", ch)
		}
		if byName, err := tw.FetchChannel(is, "visitor-1"); err != nil || *byName.Sid != chSID {
			t.Fatalf("fetch by unique name: %v", err)
		}
		_, err = tw.CreateChannel(is, &chatv2.CreateChannelParams{Attributes: ptr(`{not json`)})
		restError(t, err, 400, 20001)
		_, err = tw.CreateChannel(is, &chatv2.CreateChannelParams{UniqueName: ptr("visitor-1")})
		restError(t, err, 409, 50307)
		ch, err = tw.UpdateChannel(is, chSID, &chatv2.UpdateChannelParams{Attributes: ptr(`{"status":"INACTIVE"}`)})
		if err != nil || *ch.Attributes != `{"status":"INACTIVE"}` || *ch.Type != "private" {
			t.Fatalf("update channel %+v %v", ch, err)
		}

		// Members: identity addresses them; the service's limit holds.
		for _, id := range []string{"alice", "bob", "carol"} {
			if _, err := tw.CreateMember(is, chSID, &chatv2.CreateMemberParams{Identity: ptr(id)}); err != nil {
				t.Fatal(err)
			}
		}
		_, err = tw.CreateMember(is, chSID, &chatv2.CreateMemberParams{Identity: ptr("dave")})
		restError(t, err, 403, 20403)
		_, err = tw.CreateMember(is, chSID, &chatv2.CreateMemberParams{Identity: ptr("alice")})
		restError(t, err, 403, 20403) // the channel is full before the duplicate is seen
		m, err := tw.FetchMember(is, "visitor-1", "bob")
		if err != nil || *m.Identity != "bob" || m.LastConsumedMessageIndex != nil || !rest.IsSID("RL", *m.RoleSid) {
			t.Fatalf("member %+v %v", m, err)
		}
		members, err := tw.ListMember(is, chSID, &chatv2.ListMemberParams{PageSize: ptr(2)})
		if err != nil || len(members) != 3 || *members[0].Identity != "alice" || *members[2].Identity != "carol" {
			t.Fatalf("members: %d %v", len(members), err)
		}
		only, err := tw.ListMember(is, chSID, &chatv2.ListMemberParams{Identity: &[]string{"carol"}})
		if err != nil || len(only) != 1 || *only[0].Identity != "carol" {
			t.Fatalf("members filtered: %v %v", only, err)
		}

		// Messages: indexes 0, 1, 2, ...; paging follows next_page_url.
		for i := range 5 {
			msg, err := tw.CreateMessage(is, chSID, &chatv2.CreateMessageParams{From: ptr("alice"), Body: ptr(fmt.Sprintf("hello %d", i))})
			if err != nil {
				t.Fatal(err)
			}
			if msg.Index != i || *msg.To != chSID || *msg.From != "alice" || *msg.WasEdited || *msg.Attributes != "{}" {
				t.Fatalf("message %d: %+v", i, msg)
			}
		}
		msgs, err := tw.ListMessage(is, chSID, &chatv2.ListMessageParams{PageSize: ptr(2)})
		if err != nil || len(msgs) != 5 {
			t.Fatalf("messages: %d %v", len(msgs), err)
		}
		for i, msg := range msgs {
			if msg.Index != i || *msg.Body != fmt.Sprintf("hello %d", i) {
				t.Fatalf("message %d is %d %q", i, msg.Index, *msg.Body)
			}
		}
		desc, err := tw.ListMessage(is, chSID, &chatv2.ListMessageParams{Order: ptr("desc"), PageSize: ptr(2)})
		if err != nil || len(desc) != 5 || desc[0].Index != 4 || desc[4].Index != 0 {
			t.Fatalf("messages desc: %d %v", len(desc), err)
		}
		page, err := tw.PageMessage(is, chSID, &chatv2.ListMessageParams{PageSize: ptr(2)}, "", "")
		if err != nil || page.Meta.Key != "messages" || page.Meta.NextPageUrl == nil ||
			!strings.HasPrefix(*page.Meta.NextPageUrl, srv.URL+"/chat/v2/Services/"+is+"/Channels/"+chSID+"/Messages?") {
			t.Fatalf("page meta %+v %v", page.Meta, err)
		}

		msg, err := tw.UpdateMessage(is, chSID, *msgs[1].Sid, &chatv2.UpdateMessageParams{Body: ptr("edited"), Attributes: ptr(`{"x":1}`)})
		if err != nil || *msg.Body != "edited" || !*msg.WasEdited || *msg.Attributes != `{"x":1}` || msg.Index != 1 {
			t.Fatalf("update message %+v %v", msg, err)
		}
		if err := tw.DeleteMessage(is, chSID, *msgs[2].Sid, nil); err != nil {
			t.Fatal(err)
		}
		_, err = tw.FetchMessage(is, chSID, *msgs[2].Sid)
		restError(t, err, 404, 20404)
		next, err := tw.CreateMessage(is, chSID, &chatv2.CreateMessageParams{Body: ptr("after delete")})
		if err != nil || next.Index != 5 || *next.From != "system" {
			t.Fatalf("index after a delete is %d (from %q), want 5: %v", next.Index, *next.From, err)
		}
		ch, _ = tw.FetchChannel(is, chSID)
		if ch.MessagesCount != 5 || ch.MembersCount != 3 {
			t.Fatalf("counts %d messages %d members", ch.MessagesCount, ch.MembersCount)
		}

		// Read horizon.
		m, err = tw.UpdateMember(is, chSID, "bob", &chatv2.UpdateMemberParams{LastConsumedMessageIndex: ptr(3)})
		if err != nil || m.LastConsumedMessageIndex == nil || *m.LastConsumedMessageIndex != 3 || m.LastConsumptionTimestamp == nil {
			t.Fatalf("read horizon %+v %v", m, err)
		}

		// Channel webhooks: at most five per channel.
		hook, err := tw.CreateChannelWebhook(is, chSID, &chatv2.CreateChannelWebhookParams{Type: ptr("webhook"),
			ConfigurationUrl: ptr("https://hooks.example.com/ch"), ConfigurationFilters: &[]string{"onMessageSent"},
			ConfigurationMethod: ptr("GET"), ConfigurationRetryCount: ptr(2)})
		if err != nil || !rest.IsSID("WH", *hook.Sid) || *hook.Type != "webhook" {
			t.Fatalf("webhook %+v %v", hook, err)
		}
		conf := (*hook.Configuration).(map[string]any)
		if conf["url"] != "https://hooks.example.com/ch" || conf["method"] != "GET" || conf["retry_count"] != 2.0 {
			t.Fatalf("configuration %v", conf)
		}
		_, err = tw.CreateChannelWebhook(is, chSID, &chatv2.CreateChannelWebhookParams{Type: ptr("studio")})
		if e := restError(t, err, 400, 20001); !strings.Contains(e.Message, "Configuration.FlowSid") {
			t.Fatalf("message %q", e.Message)
		}
		for range 4 {
			if _, err := tw.CreateChannelWebhook(is, chSID, &chatv2.CreateChannelWebhookParams{Type: ptr("studio"),
				ConfigurationFlowSid: ptr(rest.NewSID("FW"))}); err != nil {
				t.Fatal(err)
			}
		}
		_, err = tw.CreateChannelWebhook(is, chSID, &chatv2.CreateChannelWebhookParams{Type: ptr("trigger"),
			ConfigurationUrl: ptr("https://hooks.example.com/t"), ConfigurationTriggers: &[]string{"help"}})
		restError(t, err, 403, 20403)
		hooks, err := tw.ListChannelWebhook(is, chSID, nil)
		if err != nil || len(hooks) != 5 {
			t.Fatalf("webhooks: %d %v", len(hooks), err)
		}
		hook, err = tw.UpdateChannelWebhook(is, chSID, *hook.Sid, &chatv2.UpdateChannelWebhookParams{ConfigurationFilters: &[]string{"onMemberAdded", "onMessageUpdated"}})
		if err != nil || len((*hook.Configuration).(map[string]any)["filters"].([]any)) != 2 {
			t.Fatalf("update webhook %+v %v", hook, err)
		}
		if err := tw.DeleteChannelWebhook(is, chSID, *hook.Sid); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.FetchChannelWebhook(is, chSID, *hook.Sid); err == nil {
			t.Fatal("deleted webhook still there")
		}

		// Users: made when an identity joins; fetched by identity.
		u, err := tw.FetchUser(is, "alice")
		if err != nil || *u.Identity != "alice" || u.JoinedChannelsCount != 1 {
			t.Fatalf("user %+v %v", u, err)
		}
		u, err = tw.UpdateUser(is, *u.Sid, &chatv2.UpdateUserParams{FriendlyName: ptr("Alice")})
		if err != nil || *u.FriendlyName != "Alice" {
			t.Fatalf("update user %+v %v", u, err)
		}
		ucs, err := tw.ListUserChannel(is, "bob", nil)
		if err != nil || len(ucs) != 1 || *ucs[0].ChannelSid != chSID || *ucs[0].Status != "joined" ||
			*ucs[0].LastConsumedMessageIndex != 3 || *ucs[0].UnreadMessagesCount != 2 { // indexes 4 and 5
			t.Fatalf("user channels %+v %v", ucs, err)
		}
		if uc, err := tw.FetchUserChannel(is, "alice", "visitor-1"); err != nil || uc.UnreadMessagesCount != nil || *uc.MemberSid == "" {
			t.Fatalf("user channel %+v %v", uc, err)
		}
		users, err := tw.ListUser(is, nil)
		if err != nil || len(users) != 3 {
			t.Fatalf("users: %d %v", len(users), err)
		}

		// Deletes.
		if err := tw.DeleteMember(is, chSID, "carol", nil); err != nil {
			t.Fatal(err)
		}
		if err := tw.DeleteChannel(is, "visitor-1", nil); err != nil {
			t.Fatal(err)
		}
		_, err = tw.FetchChannel(is, chSID)
		restError(t, err, 404, 20404)
		if err := tw.DeleteService(is); err != nil {
			t.Fatal(err)
		}
		_, err = tw.FetchService(is)
		restError(t, err, 404, 20404)
	})
}

// Paging over many channels and services with the spec's list keys.
func TestChatListsAndPaging(t *testing.T) {
	srv := parleytest.Start(t)
	tw := srv.Admin().ChatV2
	svc, err := tw.CreateService(&chatv2.CreateServiceParams{FriendlyName: ptr("Paging")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		typ := "public"
		if i%2 == 1 {
			typ = "private"
		}
		if _, err := tw.CreateChannel(*svc.Sid, &chatv2.CreateChannelParams{FriendlyName: ptr(fmt.Sprint(i)), Type: &typ}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := tw.ListChannel(*svc.Sid, &chatv2.ListChannelParams{PageSize: ptr(3)})
	if err != nil || len(all) != 7 {
		t.Fatalf("channels: %d %v", len(all), err)
	}
	private, err := tw.ListChannel(*svc.Sid, &chatv2.ListChannelParams{Type: &[]string{"private"}, PageSize: ptr(2)})
	if err != nil || len(private) != 3 {
		t.Fatalf("private channels: %d %v", len(private), err)
	}
	for _, c := range private {
		if *c.Type != "private" {
			t.Fatalf("filter let %s through", *c.Type)
		}
	}
	// A PageSize over Chat's maximum is clamped, as twilio-go asks for up to 1000.
	status, body := srv.Request(t, "GET", "/chat/v2/Services?PageSize=500", nil, srv.AccountSID, srv.AuthToken)
	if status != 200 || !strings.Contains(body, `"page_size":100`) || !strings.Contains(body, `"key":"services"`) {
		t.Fatalf("%d %s", status, body)
	}
	for _, bad := range []string{"/Channels?Type=secret", "/Channels/CH" + strings.Repeat("0", 32) + "/Messages?Order=sideways"} {
		status, body = srv.Request(t, "GET", "/chat/v2/Services/"+*svc.Sid+bad, nil, srv.AccountSID, srv.AuthToken)
		if status/100 != 4 || status == 500 {
			t.Fatalf("%s: %d %s", bad, status, body)
		}
	}
}

// Limits on sizes and names answer 400 naming the parameter.
func TestChatLimits(t *testing.T) {
	srv := parleytest.Start(t)
	tw := srv.Admin().ChatV2
	svc, _ := tw.CreateService(&chatv2.CreateServiceParams{FriendlyName: ptr("Limits")})
	ch, err := tw.CreateChannel(*svc.Sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := "/chat/v2/Services/" + *svc.Sid + "/Channels/" + *ch.Sid
	for _, tc := range []struct {
		path  string
		form  url.Values
		param string
	}{
		{"/Messages", url.Values{"Body": {strings.Repeat("x", 32<<10+1)}}, "Body"},
		{"/Messages", url.Values{"Body": {"hi"}, "Attributes": {`{"a":"` + strings.Repeat("x", 16<<10) + `"}`}}, "Attributes"},
		{"/Messages", url.Values{"Body": {"hi"}, "Attributes": {`[1,`}}, "Attributes"},
		{"/Messages", url.Values{"Body": {"hi"}, "From": {strings.Repeat("f", 257)}}, "From"},
		{"/Messages", url.Values{"Body": {"hi"}, "ClientMessageId": {strings.Repeat("c", 129)}}, "ClientMessageId"},
		{"/Members", url.Values{"Identity": {"bad\x00id"}}, "Identity"},
		{"/Members", url.Values{}, "Identity"},
		{"/Members", url.Values{"Identity": {"MB" + strings.Repeat("a", 32)}}, "Identity"},
		{"", url.Values{"FriendlyName": {strings.Repeat("n", 257)}}, "FriendlyName"},
		{"", url.Values{"UniqueName": {rest.NewSID("CH")}}, "UniqueName"},
		{"/Webhooks", url.Values{"Type": {"webhook"}, "Configuration.Url": {"ftp://x"}}, "Configuration.Url"},
		{"/Webhooks", url.Values{"Type": {"webhook"}, "Configuration.Url": {"https://x"}, "Configuration.Filters": {"onMessageSend"}}, "Configuration.Filters"},
		{"/Webhooks", url.Values{"Type": {"webhook"}, "Configuration.Url": {"https://x"}, "Configuration.RetryCount": {"4"}}, "Configuration.RetryCount"},
	} {
		status, body := srv.Request(t, "POST", base+tc.path, tc.form, srv.AccountSID, srv.AuthToken)
		if status != 400 || !strings.Contains(body, tc.param) || !strings.Contains(body, `"code":20001`) {
			t.Errorf("POST %s %v: %d %.200s", tc.path, tc.param, status, body)
		}
	}
	// The largest allowed body is accepted, multi-byte text included.
	body := strings.Repeat("é", 16<<10)
	if msg, err := tw.CreateMessage(*svc.Sid, *ch.Sid, &chatv2.CreateMessageParams{Body: &body}); err != nil || *msg.Body != body {
		t.Fatalf("32 KiB body refused: %v", err)
	}
}

// Indexes, members and read horizons are in the store: a restart
// continues where the channel was.
func TestChatSurvivesRestart(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		tw := srv.Admin().ChatV2
		svc, _ := tw.CreateService(&chatv2.CreateServiceParams{FriendlyName: ptr("Restart")})
		ch, _ := tw.CreateChannel(*svc.Sid, &chatv2.CreateChannelParams{UniqueName: ptr("r")})
		tw.CreateMember(*svc.Sid, *ch.Sid, &chatv2.CreateMemberParams{Identity: ptr("alice"), LastConsumedMessageIndex: ptr(1)})
		for range 3 {
			if _, err := tw.CreateMessage(*svc.Sid, *ch.Sid, &chatv2.CreateMessageParams{Body: ptr("before")}); err != nil {
				t.Fatal(err)
			}
		}
		srv = srv.Restart(t)
		tw = srv.Admin().ChatV2
		msg, err := tw.CreateMessage(*svc.Sid, "r", &chatv2.CreateMessageParams{Body: ptr("after")})
		if err != nil || msg.Index != 3 {
			t.Fatalf("first index after restart: %d %v", msg.Index, err)
		}
		m, err := tw.FetchMember(*svc.Sid, "r", "alice")
		if err != nil || m.LastConsumedMessageIndex == nil || *m.LastConsumedMessageIndex != 1 {
			t.Fatalf("member after restart: %+v %v", m, err)
		}
	})
}
