package flex

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/twilio/twilio-go/client"
	flexv1 "github.com/twilio/twilio-go/rest/flex/v1"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/storetest"
)

func integration(t *testing.T, f *flexv1.FlexV1FlexFlow) map[string]any {
	t.Helper()
	b, _ := json.Marshal(f.Integration)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFlexFlowsTwilioGo(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		tw := e.tw(e.account).FlexV1
		chatSvc := e.chat.addService(e.account)
		studioFlow := e.studio.addFlow(e.account)
		ws, wf := e.tasks.addWorkflow(e.account)

		p := &flexv1.CreateFlexFlowParams{}
		p.SetFriendlyName("Web").SetChatServiceSid(chatSvc).SetChannelType("web").SetContactIdentity("site").
			SetEnabled(true).SetIntegrationType("studio").SetIntegrationFlowSid(studioFlow).SetIntegrationRetryCount(1).
			SetLongLived(true).SetJanitorEnabled(true)
		f, err := tw.CreateFlexFlow(p)
		if err != nil {
			t.Fatal(err)
		}
		if !rest.IsSID("FO", *f.Sid) || *f.AccountSid != e.account || *f.ChatServiceSid != chatSvc || *f.ChannelType != "web" ||
			*f.ContactIdentity != "site" || !*f.Enabled || *f.IntegrationType != "studio" || !*f.LongLived || !*f.JanitorEnabled ||
			*f.Url != e.srv.URL+"/flex-api/v1/FlexFlows/"+*f.Sid || f.DateCreated == nil {
			t.Fatalf("created %+v", f)
		}
		if got := integration(t, f); got["flow_sid"] != studioFlow || got["retry_count"] != 1.0 || len(got) != 2 {
			t.Fatalf("integration %v", got)
		}

		// Switch to task with every task setting; studio's settings go.
		u := &flexv1.UpdateFlexFlowParams{}
		u.SetIntegrationType("task").SetIntegrationWorkspaceSid(ws).SetIntegrationWorkflowSid(wf).SetIntegrationChannel("chat").
			SetIntegrationTimeout(600).SetIntegrationPriority(5).SetIntegrationCreationOnMessage(true).SetFriendlyName("Tasks").
			SetChannelType("custom").SetEnabled(false).SetLongLived(false).SetJanitorEnabled(false).SetChatServiceSid(chatSvc).
			SetContactIdentity("x")
		f, err = tw.UpdateFlexFlow(*f.Sid, u)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"workspace_sid": ws, "workflow_sid": wf, "channel": "chat", "timeout": 600.0, "priority": 5.0, "creation_on_message": true}
		if got := integration(t, f); len(got) != len(want) || got["workflow_sid"] != wf || got["timeout"] != 600.0 || got["creation_on_message"] != true {
			t.Fatalf("integration %v, want %v", got, want)
		}
		if *f.FriendlyName != "Tasks" || *f.Enabled || *f.LongLived || *f.JanitorEnabled || *f.ChannelType != "custom" {
			t.Fatalf("updated %+v", f)
		}

		ext := &flexv1.UpdateFlexFlowParams{}
		ext.SetIntegrationType("external").SetIntegrationUrl("https://bot.example/hook").SetIntegrationRetryCount(0)
		if f, err = tw.UpdateFlexFlow(*f.Sid, ext); err != nil || integration(t, f)["url"] != "https://bot.example/hook" {
			t.Fatalf("external: %v %v", f, err)
		}

		for i := 0; i < 3; i++ {
			p := &flexv1.CreateFlexFlowParams{}
			p.SetFriendlyName("Other").SetChatServiceSid(chatSvc).SetChannelType("sms")
			if _, err := tw.CreateFlexFlow(p); err != nil {
				t.Fatal(err)
			}
		}
		all, err := tw.ListFlexFlow(&flexv1.ListFlexFlowParams{PageSize: ptr(2)})
		if err != nil || len(all) != 4 {
			t.Fatalf("list: %d %v", len(all), err)
		}
		named, err := tw.ListFlexFlow(&flexv1.ListFlexFlowParams{FriendlyName: ptr("Tasks")})
		if err != nil || len(named) != 1 || *named[0].Sid != *f.Sid {
			t.Fatalf("filtered list: %v %v", named, err)
		}
		if _, err := e.tw(e.other).FlexV1.FetchFlexFlow(*f.Sid); !isStatus(err, 404) {
			t.Fatalf("another account sees the flow: %v", err)
		}
		if err := tw.DeleteFlexFlow(*f.Sid); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.FetchFlexFlow(*f.Sid); !isStatus(err, 404) {
			t.Fatalf("deleted flow: %v", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func isStatus(err error, status int) bool {
	var te *client.TwilioRestError
	return errors.As(err, &te) && te.Status == status
}

func TestFlexFlowRejects(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), Options{})
	chatSvc := e.chat.addService(e.account)
	foreignChat := e.chat.addService(e.other)
	studioFlow := e.studio.addFlow(e.account)
	foreignFlow := e.studio.addFlow(e.other)
	ws, wf := e.tasks.addWorkflow(e.account)
	base := "FriendlyName=F&ChannelType=web&ChatServiceSid=" + chatSvc
	auth := basic(e.account, e.secret)
	for _, tc := range []struct{ name, form, mention string }{
		{"no name", "ChannelType=web&ChatServiceSid=" + chatSvc, "FriendlyName"},
		{"no chat service", "FriendlyName=F&ChannelType=web", "ChatServiceSid"},
		{"bad channel type", "FriendlyName=F&ChannelType=fax&ChatServiceSid=" + chatSvc, "ChannelType"},
		{"unknown chat service", "FriendlyName=F&ChannelType=web&ChatServiceSid=" + rest.NewSID("IS"), "ChatServiceSid"},
		{"other account's chat service", "FriendlyName=F&ChannelType=web&ChatServiceSid=" + foreignChat, "ChatServiceSid"},
		{"studio without flow", base + "&IntegrationType=studio", "Integration.FlowSid"},
		{"studio flow of another account", base + "&IntegrationType=studio&Integration.FlowSid=" + foreignFlow, "Integration.FlowSid"},
		{"studio with a url", base + "&IntegrationType=studio&Integration.FlowSid=" + studioFlow + "&Integration.Url=https://x.example", "Integration.Url"},
		{"external without url", base + "&IntegrationType=external", "Integration.Url"},
		{"external with bad url", base + "&IntegrationType=external&Integration.Url=ftp://x", "Integration.Url"},
		{"task without workflow", base + "&IntegrationType=task&Integration.WorkspaceSid=" + ws, "Integration.WorkflowSid"},
		{"task with workflow of another workspace", base + "&IntegrationType=task&Integration.WorkspaceSid=" + rest.NewSID("WS") + "&Integration.WorkflowSid=" + wf, "Integration.WorkflowSid"},
		{"task with retry count", base + "&IntegrationType=task&Integration.WorkspaceSid=" + ws + "&Integration.WorkflowSid=" + wf + "&Integration.RetryCount=1", "Integration.RetryCount"},
		{"retry count too big", base + "&IntegrationType=studio&Integration.FlowSid=" + studioFlow + "&Integration.RetryCount=4", "Integration.RetryCount"},
		{"setting without type", base + "&Integration.FlowSid=" + studioFlow, "Integration.FlowSid"},
		{"bad flow sid", base + "&IntegrationType=studio&Integration.FlowSid=WW123", "Integration.FlowSid"},
		{"bad bool", base + "&Enabled=yes", "Enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.request("POST", "/flex-api/v1/FlexFlows", tc.form, auth, "")
			if status != 400 || !strings.Contains(body, tc.mention) || !strings.Contains(body, `"code":20001`) {
				t.Fatalf("got %d %s, want 400 naming %s", status, body, tc.mention)
			}
		})
	}
	if status, _ := e.request("POST", "/flex-api/v1/FlexFlows", base, "", ""); status != 401 {
		t.Fatalf("anonymous: %d", status)
	}
	guest := basic("token", "v1@"+e.account+"@"+chatSvc)
	if status, body := e.request("POST", "/flex-api/v1/FlexFlows", base, guest, ""); status != 401 || !strings.Contains(body, "20003") {
		t.Fatalf("guest creates a flow: %d %s", status, body)
	}
	if status, _ := e.request("GET", "/flex-api/v1/FlexFlows/FOxyz", "", auth, ""); status != 404 {
		t.Fatalf("bad sid: %d", status)
	}
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}
