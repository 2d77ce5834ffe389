package studio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	chatv2 "github.com/twilio/twilio-go/rest/chat/v2"
	studiov2 "github.com/twilio/twilio-go/rest/studio/v2"
	trv1 "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/store/storetest"
	"github.com/parleychat/parley/internal/token"
)

func forEachServer(t *testing.T, fn func(t *testing.T, srv *parleytest.Server)) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) { fn(t, parleytest.Start(t, parleytest.Backend(t, backend))) })
	}
}

const greetingFlow = `{"description":"Greeting","initial_state":"Trigger","flags":{"allow_concurrent_calls":true},"states":[
 {"name":"Trigger","type":"trigger","transitions":[{"event":"incomingMessage","next":"greet"},{"event":"incomingRequest","next":"greet"}],"properties":{"offset":{"x":0,"y":0}}},
 {"name":"greet","type":"send-message","transitions":[{"event":"sent"},{"event":"failed"}],
  "properties":{"offset":{"x":0,"y":200},"body":"Hello {{trigger.message.ChannelAttributes.pre_engagement_data.friendlyName}}!"}},
 {"name":"say","type":"say-play","transitions":[{"event":"audioComplete"}],"properties":{"say":"voice only"}}]}`

func definition(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFlowsWithTwilioGo(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		tw := srv.Admin()
		p := &studiov2.CreateFlowParams{}
		p.SetFriendlyName("Greeter").SetStatus("draft").SetDefinition(definition(t, greetingFlow)).SetCommitMessage("first")
		flow, err := tw.StudioV2.CreateFlow(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(*flow.Sid, "FW") || *flow.Status != "draft" || flow.Revision != 1 || !*flow.Valid ||
			len(*flow.Warnings) != 1 || *flow.CommitMessage != "first" || !strings.HasPrefix(*flow.Url, srv.URL+"/studio/v2/Flows/") {
			t.Fatalf("created %+v", flow)
		}
		if (*flow.Links)["executions"] != *flow.Url+"/Executions" {
			t.Fatalf("links %v", *flow.Links)
		}
		// An execution needs a published revision.
		ep := &studiov2.CreateExecutionParams{}
		ep.SetTo("+15550001").SetFrom("+15550002")
		if _, err := tw.StudioV2.CreateExecution(*flow.Sid, ep); status(err) != 409 {
			t.Fatalf("execution of a draft: %v", err)
		}
		up := &studiov2.UpdateFlowParams{}
		up.SetStatus("published").SetCommitMessage("go live")
		flow, err = tw.StudioV2.UpdateFlow(*flow.Sid, up)
		if err != nil || *flow.Status != "published" || flow.Revision != 2 || *flow.FriendlyName != "Greeter" {
			t.Fatalf("published: %+v %v", flow, err)
		}
		up = &studiov2.UpdateFlowParams{}
		up.SetStatus("published").SetFriendlyName("Greeter 2")
		if flow, err = tw.StudioV2.UpdateFlow(*flow.Sid, up); err != nil || flow.Revision != 3 {
			t.Fatalf("renamed: %v", err)
		}
		revs, err := tw.StudioV2.ListFlowRevision(*flow.Sid, &studiov2.ListFlowRevisionParams{})
		if err != nil || len(revs) != 3 || *revs[0].Status != "draft" || revs[2].Revision != 3 {
			t.Fatalf("revisions %v %v", len(revs), err)
		}
		latest, err := tw.StudioV2.FetchFlowRevision(*flow.Sid, "LatestPublished")
		if err != nil || latest.Revision != 3 || *latest.FriendlyName != "Greeter 2" {
			t.Fatalf("latest published %+v %v", latest, err)
		}
		if _, err := tw.StudioV2.FetchFlowRevision(*flow.Sid, "9"); status(err) != 404 {
			t.Fatalf("missing revision: %v", err)
		}
		flows, err := tw.StudioV2.ListFlow(&studiov2.ListFlowParams{})
		listed := 0
		for _, f := range flows {
			if *f.Sid == *flow.Sid && f.Revision == 3 {
				listed++
			}
		}
		if err != nil || listed != 1 {
			t.Fatalf("list %d %v", len(flows), err)
		}
		tu := &studiov2.UpdateTestUserParams{}
		tu.SetTestUsers([]string{"alice", "bob"})
		if users, err := tw.StudioV2.UpdateTestUser(*flow.Sid, tu); err != nil || len(*users.TestUsers) != 2 {
			t.Fatalf("test users %v", err)
		}

		// The REST trigger runs the published flow; its steps are readable.
		ep.SetParameters(map[string]any{"name": "Zeke"})
		ex, err := tw.StudioV2.CreateExecution(*flow.Sid, ep)
		if err != nil || !strings.HasPrefix(*ex.Sid, "FN") || *ex.Status != "active" || *ex.FlowVersion != 3 ||
			*ex.ContactChannelAddress != "+15550001" || !strings.HasPrefix(*ex.ContactSid, "FC") {
			t.Fatalf("execution %+v %v", ex, err)
		}
		var steps []studiov2.StudioV2ExecutionStep
		eventually(t, "the execution to end", func() bool {
			got, err := tw.StudioV2.FetchExecution(*flow.Sid, *ex.Sid)
			return err == nil && *got.Status == "ended"
		})
		steps, err = tw.StudioV2.ListExecutionStep(*flow.Sid, *ex.Sid, &studiov2.ListExecutionStepParams{})
		if err != nil || len(steps) != 2 || *steps[0].Name != "incomingRequest" || *steps[0].TransitionedFrom != "Trigger" ||
			*steps[0].TransitionedTo != "greet" || *steps[1].Name != "failed" || *steps[1].Type != "send-message" {
			t.Fatalf("steps %v %v", len(steps), err) // no chat channel for a REST execution: send-message fails
		}
		step, err := tw.StudioV2.FetchExecutionStep(*flow.Sid, *ex.Sid, *steps[1].Sid)
		if err != nil || *step.ParentStepSid != *steps[0].Sid {
			t.Fatalf("step %+v %v", step, err)
		}
		sc, err := tw.StudioV2.FetchExecutionStepContext(*flow.Sid, *ex.Sid, *steps[1].Sid)
		if err != nil || !strings.Contains(fmt.Sprint(*sc.Context), "no chat channel") {
			t.Fatalf("step context %v %v", sc, err)
		}
		ec, err := tw.StudioV2.FetchExecutionContext(*flow.Sid, *ex.Sid)
		if err != nil || !strings.Contains(fmt.Sprint(*ec.Context), "Zeke") {
			t.Fatalf("execution context %v %v", ec, err)
		}
		active := "active"
		if list, err := tw.StudioV2.ListExecution(*flow.Sid, &studiov2.ListExecutionParams{Status: &active}); err != nil || len(list) != 0 {
			t.Fatalf("active executions %v %v", len(list), err)
		}
		from := time.Now().Add(-time.Hour)
		if list, err := tw.StudioV2.ListExecution(*flow.Sid, &studiov2.ListExecutionParams{DateCreatedFrom: &from}); err != nil || len(list) != 1 {
			t.Fatalf("executions since an hour %v %v", len(list), err)
		}
		if err := tw.StudioV2.DeleteExecution(*flow.Sid, *ex.Sid); err != nil {
			t.Fatal(err)
		}
		if err := tw.StudioV2.DeleteFlow(*flow.Sid); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.StudioV2.FetchFlow(*flow.Sid); status(err) != 404 {
			t.Fatalf("deleted flow: %v", err)
		}
	})
}

func TestValidateWithTwilioGo(t *testing.T) {
	srv := parleytest.Start(t)
	tw := srv.Admin()
	v := &studiov2.UpdateFlowValidateParams{}
	v.SetFriendlyName("x").SetStatus("draft").SetDefinition(definition(t, greetingFlow))
	if res, err := tw.StudioV2.UpdateFlowValidate(v); err != nil || !*res.Valid {
		t.Fatalf("valid flow: %v", err)
	}
	bad := strings.Replace(greetingFlow, `"type":"send-message"`, `"type":"send-pigeon"`, 1)
	bad = strings.Replace(bad, `"next":"greet"},{"event":"incomingRequest"`, `"next":"gret"},{"event":"incomingRequest"`, 1)
	v.SetDefinition(definition(t, bad))
	_, err := tw.StudioV2.UpdateFlowValidate(v)
	var te *client.TwilioRestError
	if !errors.As(err, &te) || te.Status != 400 || te.Code != 20001 ||
		!strings.Contains(te.Message, `unknown widget type "send-pigeon"`) || !strings.Contains(te.Message, `leads to "gret"`) {
		t.Fatalf("invalid flow: %v", err)
	}
	if problems, _ := te.Details["errors"].([]any); len(problems) != 2 {
		t.Fatalf("details %v", te.Details)
	}
	// The same definition is refused on create, and bad parameters name themselves.
	cp := &studiov2.CreateFlowParams{}
	cp.SetFriendlyName("x").SetStatus("published").SetDefinition(definition(t, bad))
	if _, err := tw.StudioV2.CreateFlow(cp); status(err) != 400 {
		t.Fatalf("create invalid: %v", err)
	}
	for form, want := range map[string]string{
		"FriendlyName=x&Status=live&Definition={}":        "Status",
		"FriendlyName=x&Status=draft":                     "Definition",
		"FriendlyName=x&Status=draft&Definition=not+json": "not a valid flow definition",
	} {
		vals, _ := url.ParseQuery(form)
		code, body := srv.Request(t, "POST", "/studio/v2/Flows", vals, srv.AccountSID, srv.AuthToken)
		if code != 400 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s", form, code, body)
		}
	}
	if code, _ := srv.Request(t, "GET", "/studio/v2/Flows", nil, "", ""); code != 401 {
		t.Errorf("no credentials: %d", code)
	}
	if code, _ := srv.Request(t, "GET", "/studio/v2/Flows/FWnope", nil, srv.AccountSID, srv.AuthToken); code != 404 {
		t.Errorf("bad sid: %d", code)
	}
}

func status(err error) int {
	var te *client.TwilioRestError
	if errors.As(err, &te) {
		return te.Status
	}
	return 0
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---- end to end on a real chat channel ----

// chatRoom is a chat channel wired to a published flow by a studio webhook.
type chatRoom struct {
	t       *testing.T
	srv     *parleytest.Server
	tw      *twilio.RestClient
	service string
	channel string
	flow    string
}

func newRoom(t *testing.T, srv *parleytest.Server, flowDef, attributes string) *chatRoom {
	t.Helper()
	tw := srv.Admin()
	fp := &studiov2.CreateFlowParams{}
	fp.SetFriendlyName("Concierge").SetStatus("published").SetDefinition(definition(t, flowDef))
	flow, err := tw.StudioV2.CreateFlow(fp)
	if err != nil {
		t.Fatal(err)
	}
	r := &chatRoom{t: t, srv: srv, tw: tw, flow: *flow.Sid}
	r.attach(attributes)
	return r
}

// attach opens a new channel on the room's flow.
func (r *chatRoom) attach(attributes string) {
	r.t.Helper()
	if r.service == "" {
		sp := &chatv2.CreateServiceParams{}
		sp.SetFriendlyName("web chat")
		svc, err := r.tw.ChatV2.CreateService(sp)
		if err != nil {
			r.t.Fatal(err)
		}
		r.service = *svc.Sid
	}
	cp := &chatv2.CreateChannelParams{}
	cp.SetFriendlyName("visitor").SetAttributes(attributes)
	ch, err := r.tw.ChatV2.CreateChannel(r.service, cp)
	if err != nil {
		r.t.Fatal(err)
	}
	r.channel = *ch.Sid
	wp := &chatv2.CreateChannelWebhookParams{}
	wp.SetType("studio").SetConfigurationFlowSid(r.flow).SetConfigurationFilters([]string{"onMessageSent"})
	if _, err := r.tw.ChatV2.CreateChannelWebhook(r.service, r.channel, wp); err != nil {
		r.t.Fatal(err)
	}
}

// say posts as the visitor, the way the realtime layer does.
func (r *chatRoom) say(body string) {
	r.t.Helper()
	if _, _, err := r.srv.App.Chat.SendMessage(context.Background(), r.srv.AccountSID, r.service, r.channel, "guest-42", body, "", ""); err != nil {
		r.t.Fatal(err)
	}
}

func (r *chatRoom) transcript() []string {
	msgs, err := r.tw.ChatV2.ListMessage(r.service, r.channel, &chatv2.ListMessageParams{})
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, *m.From+": "+*m.Body)
	}
	return out
}

// expect waits until the channel's transcript is exactly want.
func (r *chatRoom) expect(want ...string) {
	r.t.Helper()
	var got []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		got = r.transcript()
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const conciergeFlow = `{"initial_state":"Trigger","states":[
 {"name":"Trigger","type":"trigger","transitions":[{"event":"incomingMessage","next":"topic"}]},
 {"name":"topic","type":"split-based-on","properties":{"input":"{{trigger.message.ChannelAttributes.pre_engagement_data.topic}}"},
  "transitions":[{"event":"noMatch","next":"ask"},
   {"event":"match","next":"billing","conditions":[{"friendly_name":"billing","arguments":["{{trigger.message.ChannelAttributes.pre_engagement_data.topic}}"],"type":"matches_any_of","value":"billing,invoices"}]}]},
 {"name":"billing","type":"send-message","properties":{"body":"Hello {{trigger.message.ChannelAttributes.pre_engagement_data.friendlyName}}, billing here."},"transitions":[{"event":"sent"},{"event":"failed"}]},
 {"name":"ask","type":"send-and-wait-for-reply","properties":{"body":"What is your order number?","timeout":"%s"},
  "transitions":[{"event":"incomingMessage","next":"lookup"},{"event":"timeout","next":"late"},{"event":"deliveryFailure"}]},
 {"name":"late","type":"send-message","properties":{"body":"Still there? Write again any time."},"transitions":[{"event":"sent"},{"event":"failed"}]},
 {"name":"lookup","type":"make-http-request","properties":{"method":"POST","content_type":"application/json;charset=utf-8","url":"%s",
   "body":"{\"order\":\"{{widgets.ask.inbound.Body}}\",\"who\":\"{{widgets.ask.inbound.From}}\"}"},
  "transitions":[{"event":"success","next":"status"},{"event":"failed","next":"down"}]},
 {"name":"status","type":"split-based-on","properties":{"input":"{{widgets.lookup.parsed.status}}"},
  "transitions":[{"event":"noMatch","next":"unknown"},{"event":"match","next":"shipped","conditions":[{"friendly_name":"shipped","arguments":["{{widgets.lookup.parsed.status}}"],"type":"equal_to","value":"shipped"}]}]},
 {"name":"shipped","type":"send-message","properties":{"body":"Order {{widgets.ask.inbound.Body}} shipped on {{widgets.lookup.parsed.date}}."},"transitions":[{"event":"sent"},{"event":"failed"}]},
 {"name":"unknown","type":"send-message","properties":{"body":"I cannot find order {{widgets.ask.inbound.Body}}."},"transitions":[{"event":"sent"},{"event":"failed"}]},
 {"name":"down","type":"send-message","properties":{"body":"Our systems are down."},"transitions":[{"event":"sent"},{"event":"failed"}]}]}`

func orderServer(t *testing.T) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Order, Who string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || r.Header.Get("Content-Type") != "application/json;charset=utf-8" {
			http.Error(w, "bad request", 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if in.Order == "1234" && in.Who == "guest-42" {
			fmt.Fprint(w, `{"status":"shipped","date":"2026-11-20"}`)
			return
		}
		fmt.Fprint(w, `{"status":"unknown"}`)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestFlowsOnARealChatChannel(t *testing.T) {
	orders := orderServer(t)
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		flow := fmt.Sprintf(conciergeFlow, "3600", orders.URL)
		r := newRoom(t, srv, flow, `{"from":"Ada","channel_type":"web","status":"ACTIVE","pre_engagement_data":{"friendlyName":"Ada","topic":"billing"}}`)
		r.say("hi")
		r.expect("guest-42: hi", "Concierge: Hello Ada, billing here.")

		// Another visitor: no topic, so the flow asks and an HTTP call decides.
		r.attach(`{"from":"Bob","pre_engagement_data":{"friendlyName":"Bob"}}`)
		r.say("hello")
		r.expect("guest-42: hello", "Concierge: What is your order number?")
		r.say("1234")
		r.expect("guest-42: hello", "Concierge: What is your order number?", "guest-42: 1234", "Concierge: Order 1234 shipped on 2026-11-20.")

		r.attach(`{}`)
		r.say("hello")
		r.expect("guest-42: hello", "Concierge: What is your order number?")
		r.say("999")
		r.expect("guest-42: hello", "Concierge: What is your order number?", "guest-42: 999", "Concierge: I cannot find order 999.")
	})
}

func TestWaitTimesOutOnARealChatChannel(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		r := newRoom(t, srv, fmt.Sprintf(conciergeFlow, "1", "http://127.0.0.1:1/"), `{}`)
		r.say("hello")
		r.expect("guest-42: hello", "Concierge: What is your order number?", "Concierge: Still there? Write again any time.")
	})
}

func TestRestartInTheMiddleOfAWait(t *testing.T) {
	orders := orderServer(t)
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			r := newRoom(t, srv, fmt.Sprintf(conciergeFlow, "3600", orders.URL), `{}`)
			r.say("hello")
			r.expect("guest-42: hello", "Concierge: What is your order number?")
			waitingChannel := r.channel

			// A second channel waits with a short timeout that falls due while no node runs.
			short := newRoom(t, srv, fmt.Sprintf(conciergeFlow, "1", orders.URL), `{}`)
			short.say("hello")
			short.expect("guest-42: hello", "Concierge: What is your order number?")

			srv = srv.Restart(t)
			r.srv, r.tw, short.srv, short.tw = srv, srv.Admin(), srv, srv.Admin()
			if r.channel != waitingChannel {
				t.Fatal("lost the channel")
			}
			r.say("1234")
			r.expect("guest-42: hello", "Concierge: What is your order number?", "guest-42: 1234", "Concierge: Order 1234 shipped on 2026-11-20.")
			short.expect("guest-42: hello", "Concierge: What is your order number?", "Concierge: Still there? Write again any time.")
		})
	}
}

const flexFlow = `{"initial_state":"Trigger","states":[
 {"name":"Trigger","type":"trigger","transitions":[{"event":"incomingMessage","next":"agent"}]},
 {"name":"agent","type":"send-to-flex","properties":{"workflow":"%s","channel":"%s","priority":"3","timeout":"3600",
   "attributes":"{\"name\":\"{{trigger.message.ChannelAttributes.from}}\",\"channelType\":\"{{trigger.message.ChannelAttributes.channel_type}}\",\"channelSid\":\"{{trigger.message.ChannelSid}}\",\"topic\":\"{{trigger.message.ChannelAttributes.pre_engagement_data.topic}}\"}"},
  "transitions":[{"event":"callComplete"},{"event":"failedToEnqueue","next":"sorry"},{"event":"callFailure"}]},
 {"name":"sorry","type":"send-message","properties":{"body":"Sorry, nobody can take your chat."},"transitions":[{"event":"sent"},{"event":"failed"}]}]}`

func TestSendToFlexReservesAnAvailableAgent(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		tw := srv.Admin()
		name := func(s string) *string { return &s }
		ws, err := tw.TaskrouterV1.CreateWorkspace(&trv1.CreateWorkspaceParams{FriendlyName: name("Support")})
		if err != nil {
			t.Fatal(err)
		}
		queue, err := tw.TaskrouterV1.CreateTaskQueue(*ws.Sid, &trv1.CreateTaskQueueParams{FriendlyName: name("Billing"), TargetWorkers: name(`skills HAS "billing"`)})
		if err != nil {
			t.Fatal(err)
		}
		cfg := `{"task_routing":{"filters":[{"filter_friendly_name":"billing","expression":"topic == 'billing'","targets":[{"queue":"` + *queue.Sid + `"}]}]}}`
		wf, err := tw.TaskrouterV1.CreateWorkflow(*ws.Sid, &trv1.CreateWorkflowParams{FriendlyName: name("Main"), Configuration: &cfg})
		if err != nil {
			t.Fatal(err)
		}
		acts, err := tw.TaskrouterV1.ListActivity(*ws.Sid, &trv1.ListActivityParams{FriendlyName: name("Available")})
		if err != nil || len(acts) != 1 {
			t.Fatalf("activities %v", err)
		}
		ana, err := tw.TaskrouterV1.CreateWorker(*ws.Sid, &trv1.CreateWorkerParams{FriendlyName: name("ana"),
			Attributes: name(`{"skills":["billing"]}`), ActivitySid: acts[0].Sid})
		if err != nil {
			t.Fatal(err)
		}
		channels, err := tw.TaskrouterV1.ListTaskChannel(*ws.Sid, nil)
		if err != nil {
			t.Fatal(err)
		}
		chatChannel := ""
		for _, c := range channels {
			if *c.UniqueName == "chat" {
				chatChannel = *c.Sid
			}
		}
		r := newRoom(t, srv, fmt.Sprintf(flexFlow, *wf.Sid, chatChannel),
			`{"from":"Ada","channel_type":"web","status":"ACTIVE","pre_engagement_data":{"topic":"billing"}}`)
		r.say("I have a question about my invoice")

		var tasks []trv1.TaskrouterV1Task
		eventually(t, "a task", func() bool {
			tasks, err = tw.TaskrouterV1.ListTask(*ws.Sid, &trv1.ListTaskParams{})
			return err == nil && len(tasks) == 1
		})
		task := tasks[0]
		var attrs map[string]any
		json.Unmarshal([]byte(*task.Attributes), &attrs)
		if attrs["name"] != "Ada" || attrs["channelType"] != "web" || attrs["channelSid"] != r.channel || attrs["topic"] != "billing" ||
			attrs["status"] != "ACTIVE" || *task.WorkflowSid != *wf.Sid || *task.TaskChannelUniqueName != "chat" ||
			*task.TaskQueueSid != *queue.Sid || task.Priority != 3 || task.Timeout != 3600 {
			t.Fatalf("task %s %+v", *task.Attributes, task)
		}
		var reservation string
		eventually(t, "a reservation for ana", func() bool {
			res, err := tw.TaskrouterV1.ListTaskReservation(*ws.Sid, *task.Sid, nil)
			if err == nil && len(res) == 1 && *res[0].WorkerSid == *ana.Sid && *res[0].ReservationStatus == "pending" {
				reservation = *res[0].Sid
			}
			return reservation != ""
		})
		// The flow handed the chat over: the visitor's next message reaches
		// the agent and does not start the flow again.
		r.say("hello?")
		time.Sleep(200 * time.Millisecond)
		if got, _ := tw.TaskrouterV1.ListTask(*ws.Sid, &trv1.ListTaskParams{}); len(got) != 1 {
			t.Fatalf("%d tasks after the second message", len(got))
		}

		// Once the agent completes the task, the execution ends, and the
		// channel's next conversation runs the flow again.
		if _, err := tw.TaskrouterV1.UpdateTaskReservation(*ws.Sid, *task.Sid, reservation,
			&trv1.UpdateTaskReservationParams{ReservationStatus: name("accepted")}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.TaskrouterV1.UpdateTask(*ws.Sid, *task.Sid, &trv1.UpdateTaskParams{AssignmentStatus: name("completed"), Reason: name("resolved")}); err != nil {
			t.Fatal(err)
		}
		ended := "ended"
		eventually(t, "the execution to end with the task", func() bool {
			list, err := tw.StudioV2.ListExecution(r.flow, &studiov2.ListExecutionParams{Status: &ended})
			return err == nil && len(list) == 1
		})
		r.say("one more thing")
		eventually(t, "a second task", func() bool {
			got, err := tw.TaskrouterV1.ListTask(*ws.Sid, &trv1.ListTaskParams{})
			return err == nil && len(got) == 2
		})

		// A workflow that does not exist takes failedToEnqueue.
		lost := newRoom(t, srv, fmt.Sprintf(flexFlow, "WW"+strings.Repeat("0", 32), chatChannel), `{}`)
		lost.say("hi")
		lost.expect("guest-42: hi", "Concierge: Sorry, nobody can take your chat.")
	})
}

// Access tokens may not manage flows, and one account never sees another's.
func TestStudioAuthorization(t *testing.T) {
	srv := parleytest.Start(t)
	fp := &studiov2.CreateFlowParams{}
	fp.SetFriendlyName("Private").SetStatus("published").SetDefinition(definition(t, greetingFlow))
	flow, err := srv.Admin().StudioV2.CreateFlow(fp)
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"agent": srv.Token(t, token.Grant{Identity: "agent-1"}),
		"guest": srv.Token(t, token.Grant{Identity: "guest-1", Guest: true}),
	} {
		for _, path := range []string{"/studio/v2/Flows", "/studio/v2/Flows/" + *flow.Sid, "/studio/v2/Flows/" + *flow.Sid + "/Executions"} {
			// Refused before Studio sees it (401 20003) or by Studio (403 20403).
			if code, body := srv.Request(t, "GET", path, nil, "token", tok); code != 401 && code != 403 || strings.Contains(body, *flow.Sid+`","account_sid`) {
				t.Errorf("%s token on %s: %d %s", name, path, code, body)
			}
		}
	}
	other, err := srv.App.Accounts.Create(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	tw := srv.Twilio(other.SID, other.AuthToken)
	if _, err := tw.StudioV2.FetchFlow(*flow.Sid); status(err) != 404 {
		t.Fatalf("another account fetched the flow: %v", err)
	}
	ep := &studiov2.CreateExecutionParams{}
	ep.SetTo("a").SetFrom("b")
	if _, err := tw.StudioV2.CreateExecution(*flow.Sid, ep); status(err) != 404 {
		t.Fatalf("another account ran the flow: %v", err)
	}
	if list, err := tw.StudioV2.ListFlow(nil); err != nil || slices.ContainsFunc(list, func(f studiov2.StudioV2Flow) bool { return *f.Sid == *flow.Sid }) {
		t.Fatalf("another account listed the flow: %v", err)
	}
}
