package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/flex"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/rtclient"
	"github.com/parleychat/parley/internal/store/storetest"
	"github.com/parleychat/parley/internal/studio"
	"github.com/parleychat/parley/internal/taskrouter"
)

// onDesk is a signed-in agent: its desk (cookie), socket and worker.
type onDesk struct {
	*desk
	conn   *rtclient.Conn
	events *frames
	worker string
	name   string
}

// signInLive signs the agent in and connects its socket.
func signInLive(t *testing.T, srv *parleytest.Server, email string) *onDesk {
	t.Helper()
	d := newDesk(t, srv)
	d.must("POST", "/agent", url.Values{"Email": {email}, "Password": {"correct horse battery"}}, nil)
	var tok struct {
		Token string
		Agent struct {
			WorkerSID    string `json:"worker_sid"`
			FriendlyName string `json:"friendly_name"`
		}
	}
	d.must("GET", "/agent/token", nil, &tok)
	o := &onDesk{desk: d, events: &frames{}, worker: tok.Agent.WorkerSID, name: tok.Agent.FriendlyName}
	var err error
	if o.conn, err = rtclient.Dial(context.Background(), srv.URL, tok.Token, o.events.add); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.conn.Close() })
	return o
}

// available switches the agent to the Available activity.
func (o *onDesk) available() {
	o.t.Helper()
	var acts struct {
		Activities []struct {
			SID          string `json:"sid"`
			FriendlyName string `json:"friendly_name"`
		}
	}
	o.must("GET", "/agent/desk/activities", nil, &acts)
	for _, a := range acts.Activities {
		if a.FriendlyName == "Available" {
			o.must("POST", "/agent/desk/activity", url.Values{"ActivitySid": {a.SID}}, nil)
			return
		}
	}
	o.t.Fatal("no Available activity")
}

type deskReservation struct {
	SID        string `json:"sid"`
	TaskSID    string `json:"task_sid"`
	Status     string `json:"reservation_status"`
	Attributes string `json:"task_attributes"`
	Transfer   *struct {
		ToTask     string `json:"to_task_sid"`
		TargetName string `json:"target_name"`
	} `json:"transfer"`
}

// offer waits for a pending reservation for the channel and returns it.
func (o *onDesk) offer(ch string) deskReservation {
	o.t.Helper()
	o.events.wait(o.t, "reservation.created for "+ch, func(f rtclient.Frame) bool {
		return f.Type == "reservation.created" && strings.Contains(string(f.Data), ch)
	})
	for _, r := range o.reservations() {
		if r.Status == "pending" && strings.Contains(r.Attributes, ch) {
			return r
		}
	}
	o.t.Fatalf("no pending reservation for %s", ch)
	return deskReservation{}
}

func (o *onDesk) reservations() []deskReservation {
	o.t.Helper()
	var list struct{ Reservations []deskReservation }
	o.must("GET", "/agent/desk/reservations", nil, &list)
	return list.Reservations
}

// accept accepts the reservation and follows its chat.
func (o *onDesk) accept(r deskReservation, ch string) {
	o.t.Helper()
	var acc struct {
		ChannelSID string `json:"channel_sid"`
	}
	o.must("POST", "/agent/desk/reservations/"+r.SID+"/accept", url.Values{}, &acc)
	if acc.ChannelSID != ch {
		o.t.Fatalf("accepted into %q, want %s", acc.ChannelSID, ch)
	}
	last := int64(-1)
	if _, err := o.conn.Subscribe(context.Background(), ch, &last); err != nil {
		o.t.Fatalf("%s cannot follow the chat it accepted: %v", o.name, err)
	}
}

func (o *onDesk) transfer(res, target string) (int, map[string]any) {
	o.t.Helper()
	var out map[string]any
	code := o.do("POST", "/agent/desk/reservations/"+res+"/transfer", url.Values{"TargetSid": {target}}, &out)
	return code, out
}

// memberAttributes returns the channel's members' attributes by identity.
func memberAttributes(t *testing.T, srv *parleytest.Server, ch string) map[string]map[string]any {
	t.Helper()
	svc := srv.App.FlexSetup.ChatServiceSID
	code, body := srv.Request(t, "GET", "/chat/v2/Services/"+svc+"/Channels/"+ch+"/Members", nil, srv.AccountSID, srv.AuthToken)
	if code != 200 {
		t.Fatalf("members: %d %s", code, body)
	}
	var list struct {
		Members []struct {
			Identity   string `json:"identity"`
			Attributes string `json:"attributes"`
		}
	}
	_ = json.Unmarshal([]byte(body), &list)
	out := map[string]map[string]any{}
	for _, m := range list.Members {
		a := map[string]any{}
		_ = json.Unmarshal([]byte(m.Attributes), &a)
		out[m.Identity] = a
	}
	return out
}

// TestTransferToAgent: Ada transfers her chat to Bo by name. Bo gets a
// reservation for the same channel (saying who transferred it), accepts,
// chats with the visitor; Ada's member is gone (the socket refuses her
// message with 403) and her reservation is wrapping. Completing Ada's
// (old) task leaves the chat open and Studio's execution waiting;
// completing Bo's closes it for the visitor. Members carry their
// friendly_name for the widget.
func TestTransferToAgent(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			ctx := context.Background()
			createAgent(t, srv, "ada@example.com", "agent")
			createAgent(t, srv, "bo@example.com", "agent")
			ada, bo := signInLive(t, srv, "ada@example.com"), signInLive(t, srv, "bo@example.com")
			ada.available()

			v, ch := startVisitor(t, srv, "Grace", "Hi, I need help")
			first := ada.offer(ch)
			ada.accept(first, ch)
			if a := memberAttributes(t, srv, ch)["ada@example.com"]; a["friendly_name"] != ada.name {
				t.Fatalf("Ada's member attributes %v, want friendly_name %q", a, ada.name)
			}
			if _, err := ada.conn.Send(ctx, ch, "Let me get a colleague", "ada-1"); err != nil {
				t.Fatal(err)
			}

			bo.available()
			var targets struct {
				Targets []struct {
					Type, SID    string
					FriendlyName string `json:"friendly_name"`
					Available    bool
				}
			}
			ada.must("GET", "/agent/desk/transfer-targets", nil, &targets)
			kinds := map[string]string{}
			for _, tg := range targets.Targets {
				kinds[tg.FriendlyName] = tg.Type
				if tg.SID == ada.worker {
					t.Fatal("Ada is offered herself as a transfer target")
				}
			}
			if kinds["Everyone"] != "queue" || kinds[bo.name] != "worker" {
				t.Fatalf("transfer targets: %+v", targets)
			}

			code, out := ada.transfer(first.SID, bo.worker)
			if code != 200 {
				t.Fatalf("transfer: %d", code)
			}
			res, _ := out["reservation"].(map[string]any)
			if res["reservation_status"] != "wrapping" {
				t.Fatalf("Ada's reservation after the transfer: %v", out)
			}
			second := bo.offer(ch)
			var a struct {
				ChannelSID         string `json:"channelSid"`
				TransferTargetType string `json:"transferTargetType"`
				TransferTargetSID  string `json:"transferTargetSid"`
				From               struct {
					AgentName string `json:"agentName"`
					TaskSID   string `json:"taskSid"`
				} `json:"transferredFrom"`
				PreEngagement map[string]any `json:"pre_engagement_data"`
			}
			_ = json.Unmarshal([]byte(second.Attributes), &a)
			if second.TaskSID == first.TaskSID || a.ChannelSID != ch || a.TransferTargetType != "worker" || a.TransferTargetSID != bo.worker ||
				a.From.AgentName != ada.name || a.From.TaskSID != first.TaskSID || a.PreEngagement["question"] != "Where is my parcel?" {
				t.Fatalf("the transferred task: %s", second.Attributes)
			}
			bo.accept(second, ch)
			if _, err := bo.conn.Send(ctx, ch, "Hi Grace, Bo here", "bo-1"); err != nil {
				t.Fatal(err)
			}
			v.wait(t, "Bo's message at the visitor", func(f rtclient.Frame) bool {
				return f.Type == "message.added" && strings.Contains(string(f.Data), "Bo here")
			})
			v.say(t, ch, "Thanks Bo")
			bo.events.wait(t, "the visitor's message at Bo", func(f rtclient.Frame) bool {
				return f.Type == "message.added" && strings.Contains(string(f.Data), "Thanks Bo")
			})

			// Ada left the chat: she can no longer write into it.
			_, err := ada.conn.Send(ctx, ch, "Still me", "ada-2")
			var rerr *rtclient.Error
			if !errors.As(err, &rerr) || rerr.Status != 403 {
				t.Fatalf("Ada writing after her transfer: %v, want 403", err)
			}
			members := memberAttributes(t, srv, ch)
			if _, still := members["ada@example.com"]; still || members["bo@example.com"]["friendly_name"] != bo.name {
				t.Fatalf("members after the transfer: %v", members)
			}
			list := ada.reservations()
			if len(list) != 1 || list[0].Status != "wrapping" || list[0].Transfer == nil || list[0].Transfer.TargetName != bo.name ||
				list[0].Transfer.ToTask != second.TaskSID {
				t.Fatalf("Ada's reservations after the transfer: %+v", list)
			}

			// Ada completes her old task: the chat stays open.
			ada.must("POST", "/agent/desk/reservations/"+first.SID+"/complete", url.Values{}, nil)
			wc, err := srv.App.Flex.WebChannel(ctx, srv.AccountSID, ch)
			if err != nil || wc.Status != flex.StatusActive {
				t.Fatalf("the chat after completing the old task: %+v %v", wc, err)
			}
			execs, err := srv.App.Studio.Executions(ctx, srv.AccountSID, srv.App.FlexSetup.StudioFlowSID,
				studio.ExecutionFilter{Status: "active"}, rest.Page{Size: 10})
			if err != nil || len(execs) != 1 || execs[0].ChannelSID != ch {
				t.Fatalf("Studio's execution for the chat after the old task ended: %+v %v", execs, err)
			}
			if _, err := bo.conn.Send(ctx, ch, "Anything else?", "bo-2"); err != nil {
				t.Fatalf("Bo after Ada completed: %v", err)
			}

			// Bo completes the new task: the chat ends for the visitor.
			bo.must("POST", "/agent/desk/reservations/"+second.SID+"/wrapup", url.Values{}, nil)
			bo.must("POST", "/agent/desk/reservations/"+second.SID+"/complete", url.Values{}, nil)
			v.wait(t, "the chat's end at the visitor", func(f rtclient.Frame) bool {
				return f.Type == "channel.updated" && strings.Contains(string(f.Data), "INACTIVE")
			})
			tasks, err := srv.App.TaskRouter.Tasks(ctx, srv.AccountSID, srv.App.FlexSetup.WorkspaceSID, taskrouter.TaskFilter{}, rest.Page{Size: 10})
			if err != nil || len(tasks) != 2 {
				t.Fatalf("tasks: %d %v, want the original and the transfer's", len(tasks), err)
			}
		})
	}
}

// TestTransferToQueue: a chat transferred to a queue goes to another agent
// of that queue, never back to the one who transferred it.
func TestTransferToQueue(t *testing.T) {
	srv := parleytest.Start(t)
	createAgent(t, srv, "ada@example.com", "agent")
	createAgent(t, srv, "bo@example.com", "agent")
	ada, bo := signInLive(t, srv, "ada@example.com"), signInLive(t, srv, "bo@example.com")
	ada.available()
	v, ch := startVisitor(t, srv, "Grace", "Billing question")
	first := ada.offer(ch)
	ada.accept(first, ch)
	bo.available()

	queues, err := srv.App.TaskRouter.TaskQueues(context.Background(), srv.AccountSID, srv.App.FlexSetup.WorkspaceSID, "Everyone", "", "", rest.Page{Size: 1})
	if err != nil || len(queues) != 1 {
		t.Fatalf("the Everyone queue: %v %v", queues, err)
	}
	// A double submit: exactly one transfer happens.
	codes := make(chan int, 2)
	for i := 0; i < 2; i++ {
		go func() {
			codes <- ada.do("POST", "/agent/desk/reservations/"+first.SID+"/transfer", url.Values{"TargetSid": {queues[0].SID}}, nil)
		}()
	}
	if a, b := <-codes, <-codes; a+b != 200+409 {
		t.Fatalf("two transfers at once: %d and %d, want 200 and 409", a, b)
	}
	second := bo.offer(ch)
	if !strings.Contains(second.Attributes, `"transferTargetType":"queue"`) {
		t.Fatalf("the transferred task: %s", second.Attributes)
	}
	for _, r := range ada.reservations() {
		if r.SID != first.SID {
			t.Fatalf("the chat came back to Ada: %+v", r)
		}
	}
	tasks, err := srv.App.TaskRouter.Tasks(context.Background(), srv.AccountSID, srv.App.FlexSetup.WorkspaceSID, taskrouter.TaskFilter{}, rest.Page{Size: 10})
	if err != nil || len(tasks) != 2 {
		t.Fatalf("%d tasks after a double transfer, want 2 (%v)", len(tasks), err)
	}
	bo.accept(second, ch)
	if _, err := bo.conn.Send(context.Background(), ch, "Billing here", "bo-1"); err != nil {
		t.Fatal(err)
	}
	v.wait(t, "Bo's message at the visitor", func(f rtclient.Frame) bool {
		return f.Type == "message.added" && strings.Contains(string(f.Data), "Billing here")
	})
}

// TestTransferRefused: to oneself, to what is not a queue or agent of the
// workspace, to an unavailable agent, from a reservation that is not
// accepted (or not one's own), each with a clear 4xx.
func TestTransferRefused(t *testing.T) {
	srv := parleytest.Start(t)
	ctx := context.Background()
	createAgent(t, srv, "ada@example.com", "agent")
	createAgent(t, srv, "cy@example.com", "agent")
	ada, cy := signInLive(t, srv, "ada@example.com"), signInLive(t, srv, "cy@example.com")
	ada.available()
	_, ch := startVisitor(t, srv, "Grace", "Hello")
	r := ada.offer(ch)

	name := "Elsewhere"
	ws, err := srv.App.TaskRouter.CreateWorkspace(ctx, srv.AccountSID, taskrouter.WorkspaceParams{FriendlyName: &name})
	if err != nil {
		t.Fatal(err)
	}
	qname, target := "Other queue", "1==1"
	otherQueue, err := srv.App.TaskRouter.CreateTaskQueue(ctx, srv.AccountSID, ws.SID, taskrouter.QueueParams{FriendlyName: &qname, TargetWorkers: &target})
	if err != nil {
		t.Fatal(err)
	}
	expect := func(what string, res, target string, code int) {
		t.Helper()
		if got := ada.do("POST", "/agent/desk/reservations/"+res+"/transfer", url.Values{"TargetSid": {target}}, nil); got != code {
			t.Fatalf("%s: %d, want %d", what, got, code)
		}
	}
	everyone, _ := srv.App.TaskRouter.TaskQueues(ctx, srv.AccountSID, srv.App.FlexSetup.WorkspaceSID, "Everyone", "", "", rest.Page{Size: 1})
	expect("a pending reservation", r.SID, everyone[0].SID, 409)
	ada.accept(r, ch)
	expect("to herself", r.SID, ada.worker, 400)
	expect("to an unknown worker", r.SID, rest.NewSID("WK"), 400)
	expect("to another workspace's queue", r.SID, otherQueue.SID, 400)
	expect("to something else", r.SID, rest.NewSID("CH"), 400)
	expect("without a target", r.SID, "", 400)
	expect("to an unavailable agent", r.SID, cy.worker, 409)
	expect("another's reservation", rest.NewSID("WR"), everyone[0].SID, 404)
	if code := cy.do("POST", "/agent/desk/reservations/"+r.SID+"/transfer", url.Values{"TargetSid": {everyone[0].SID}}, nil); code != 404 {
		t.Fatalf("Cy transferring Ada's reservation: %d, want 404", code)
	}
	// Nothing happened: Ada still has the chat.
	if list := ada.reservations(); len(list) != 1 || list[0].Status != "accepted" || list[0].Transfer != nil {
		t.Fatalf("Ada's reservation after refused transfers: %+v", list)
	}
	if _, err := ada.conn.Send(ctx, ch, "still here", "ada-1"); err != nil {
		t.Fatalf("Ada after refused transfers: %v", err)
	}
	// A cross-site transfer is refused like every other desk POST.
	ada.origin = "https://evil.example"
	expect("cross-site", r.SID, everyone[0].SID, 403)
}
