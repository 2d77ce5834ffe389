package scaleout_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	flexv1 "github.com/twilio/twilio-go/rest/flex/v1"
	tr "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rtclient"
)

// A web chat on a task integration created on the first message, with
// three nodes that all receive every chat event through NATS: the task
// is created once, and when the agent completes it the janitor closes
// the chat once (one channel.updated to INACTIVE on the visitor's socket).
func TestFlexTaskAndJanitorOnce(t *testing.T) {
	nodes := cluster(t, 3)
	a := nodes[0]
	d := newDesk(t, a, 1, 1, 120)
	// Guest tokens are bound to the account's default chat service.
	p := (&flexv1.CreateFlexFlowParams{}).SetFriendlyName("web").SetChatServiceSid(a.App.FlexSetup.ChatServiceSID).SetChannelType("web").
		SetEnabled(true).SetIntegrationType("task").SetIntegrationWorkspaceSid(d.ws).SetIntegrationWorkflowSid(d.workflow).
		SetIntegrationChannel("chat").SetIntegrationCreationOnMessage(true).SetJanitorEnabled(true)
	flow, err := a.Admin().FlexV1.CreateFlexFlow(p)
	if err != nil {
		t.Fatal(err)
	}
	tok, identity := guestToken(t, nodes[1])
	ch := webChannel(t, nodes[1], tok, identity, *flow.Sid)

	var mu sync.Mutex
	inactive := 0
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	visitor, err := rtclient.Dial(ctx, nodes[2].URL, tok, func(f rtclient.Frame) {
		var c struct{ Attributes string }
		_ = json.Unmarshal(f.Data, &c)
		if f.Type == "channel.updated" && f.ChannelSID == ch && strings.Contains(c.Attributes, `"status":"INACTIVE"`) {
			mu.Lock()
			inactive++
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer visitor.Kill()
	if _, err := visitor.Subscribe(ctx, ch, nil); err != nil {
		t.Fatal(err)
	}
	for i, body := range []string{"Hi", "I need help", "with my parcel"} {
		if _, err := visitor.Send(ctx, ch, body, "m"+string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
	}
	task := waitOneTask(t, nodes[1], d)
	time.Sleep(time.Second) // room for a second task to show
	waitOneTask(t, nodes[2], d)

	res := waitReservation(t, nodes[0], d, task)
	trc := nodes[0].Admin().TaskrouterV1
	if _, err := trc.UpdateTaskReservation(d.ws, task, res, (&tr.UpdateTaskReservationParams{}).SetReservationStatus("accepted")); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"wrapping", "completed"} {
		if _, err := nodes[1].Admin().TaskrouterV1.UpdateTask(d.ws, task, (&tr.UpdateTaskParams{}).SetAssignmentStatus(st).SetReason("done")); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := inactive
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // room for a second close to show
	mu.Lock()
	defer mu.Unlock()
	if inactive != 1 {
		t.Fatalf("the visitor saw the chat closed %d times, want once", inactive)
	}
}

// waitOneTask waits for the workspace's task and fails if there are more.
func waitOneTask(t *testing.T, srv *parleytest.Server, d desk) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		tasks, err := srv.Admin().TaskrouterV1.ListTask(d.ws, &tr.ListTaskParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(tasks) > 1 {
			t.Fatalf("%d tasks for one chat, want one", len(tasks))
		}
		if len(tasks) == 1 {
			return *tasks[0].Sid
		}
		if time.Now().After(deadline) {
			t.Fatal("no task was created for the chat")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitReservation(t *testing.T, srv *parleytest.Server, d desk, task string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		rs, err := srv.Admin().TaskrouterV1.ListTaskReservation(d.ws, task, &tr.ListTaskReservationParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) > 0 {
			return *rs[0].Sid
		}
		if time.Now().After(deadline) {
			t.Fatal("the task was not reserved")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// guestToken asks for a guest token as the widget does.
func guestToken(t *testing.T, srv *parleytest.Server) (tok, identity string) {
	t.Helper()
	res, err := http.Post(srv.URL+"/iam/v1/Accounts/"+srv.AccountSID+"/Tokens", "application/json", strings.NewReader(`{"products":["flex"]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Token, Identity string }
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &out); err != nil || res.StatusCode != 200 || out.Token == "" {
		t.Fatalf("guest token: %d %s", res.StatusCode, b)
	}
	return out.Token, out.Identity
}

// webChannel starts a chat as the widget does (Basic token:<jwt>).
func webChannel(t *testing.T, srv *parleytest.Server, tok, identity, flowSID string) string {
	t.Helper()
	form := url.Values{"FlexFlowSid": {flowSID}, "Identity": {identity}, "CustomerFriendlyName": {"Grace"},
		"ChatFriendlyName": {"Flex WebChat"}}
	req, _ := http.NewRequest("POST", srv.URL+"/flex-api/v1/WebChannels", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("token", tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out struct{ Sid string }
	if err := json.Unmarshal(b, &out); err != nil || res.StatusCode != 201 || out.Sid == "" {
		t.Fatalf("web channel: %d %s", res.StatusCode, b)
	}
	return out.Sid
}
