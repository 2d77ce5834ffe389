package taskrouter_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tr "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/token"
	"github.com/parleychat/parley/internal/webhook"
)

// callbackSink records webhook requests.
type callbackSink struct {
	mu   sync.Mutex
	reqs []url.Values
	sigs []string
	body func(url.Values) string
}

func (c *callbackSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	c.mu.Lock()
	c.reqs = append(c.reqs, r.PostForm)
	c.sigs = append(c.sigs, r.Header.Get("X-Twilio-Signature"))
	body := c.body
	c.mu.Unlock()
	if body != nil {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body(r.PostForm))
	}
}

func (c *callbackSink) eventTypes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.reqs {
		out = append(out, r.Get("EventType"))
	}
	return out
}

// Every TaskRouter resource driven by Twilio's own Go helper library.
func TestTaskRouterWithTwilioGo(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) { testResources(t, backend) })
	}
}

func testResources(t *testing.T, backend string) {
	srv := parleytest.Start(t, parleytest.Backend(t, backend))
	tw := srv.Admin().TaskrouterV1
	sink := &callbackSink{}
	hook := httptest.NewServer(sink)
	defer hook.Close()

	// Workspaces (the server may have made a default one at start).
	before := len(must[[]tr.TaskrouterV1Workspace](t)(tw.ListWorkspace(nil)))
	ws := must[*tr.TaskrouterV1Workspace](t)(tw.CreateWorkspace(&tr.CreateWorkspaceParams{FriendlyName: ptr("Support"),
		EventCallbackUrl: ptr(hook.URL + "/events"), EventsFilter: ptr("task.created,reservation.accepted")}))
	if !rest.IsSID("WS", *ws.Sid) || *ws.DefaultActivityName != "Offline" || *ws.TimeoutActivityName != "Offline" ||
		!*ws.MultiTaskEnabled || *ws.PrioritizeQueueOrder != "FIFO" || (*ws.Links)["task_queues"] == nil {
		t.Fatalf("workspace %+v", ws)
	}
	wsSID := *ws.Sid
	must[*tr.TaskrouterV1Workspace](t)(tw.CreateWorkspace(&tr.CreateWorkspaceParams{FriendlyName: ptr("Other"), Template: ptr("FIFO")}))
	all := must[[]tr.TaskrouterV1Workspace](t)(tw.ListWorkspace(&tr.ListWorkspaceParams{PageSize: ptr(1)}))
	if len(all) != before+2 || *all[before].Sid != wsSID {
		t.Fatalf("listed %d workspaces", len(all))
	}
	available := activityNamed(t, tw, wsSID, "Available")
	offline := activityNamed(t, tw, wsSID, "Offline")
	ws = must[*tr.TaskrouterV1Workspace](t)(tw.UpdateWorkspace(wsSID, &tr.UpdateWorkspaceParams{FriendlyName: ptr("Support desk"),
		PrioritizeQueueOrder: ptr("LIFO")}))
	if *ws.FriendlyName != "Support desk" || *ws.PrioritizeQueueOrder != "LIFO" {
		t.Fatalf("updated workspace %+v", ws)
	}
	_, err := tw.UpdateWorkspace(wsSID, &tr.UpdateWorkspaceParams{TimeoutActivitySid: ptr("WA" + strings.Repeat("0", 32))})
	restError(t, err, 400, "TimeoutActivitySid")

	// Activities.
	lunch := must[*tr.TaskrouterV1Activity](t)(tw.CreateActivity(wsSID, &tr.CreateActivityParams{FriendlyName: ptr("Lunch")}))
	if *lunch.Available {
		t.Fatal("an activity is unavailable unless Available=true")
	}
	lunch = must[*tr.TaskrouterV1Activity](t)(tw.UpdateActivity(wsSID, *lunch.Sid, &tr.UpdateActivityParams{FriendlyName: ptr("Long lunch")}))
	if got := must[*tr.TaskrouterV1Activity](t)(tw.FetchActivity(wsSID, *lunch.Sid)); *got.FriendlyName != "Long lunch" {
		t.Fatalf("fetched %+v", got)
	}
	if avail := must[[]tr.TaskrouterV1Activity](t)(tw.ListActivity(wsSID, &tr.ListActivityParams{Available: ptr("true")})); len(avail) != 1 || *avail[0].Sid != available {
		t.Fatalf("available activities %+v", avail)
	}
	_, err = tw.CreateActivity(wsSID, &tr.CreateActivityParams{FriendlyName: ptr("Long lunch")})
	restError(t, err, 400, "already exists")
	if err := tw.DeleteActivity(wsSID, *lunch.Sid); err != nil {
		t.Fatal(err)
	}
	restError(t, tw.DeleteActivity(wsSID, offline), 400, "in use")

	// Task channels: the six defaults, plus one of ours.
	chans := must[[]tr.TaskrouterV1TaskChannel](t)(tw.ListTaskChannel(wsSID, nil))
	var names []string
	for _, c := range chans {
		names = append(names, *c.UniqueName)
	}
	if !slices.Equal(names, []string{"default", "voice", "chat", "sms", "video", "email"}) {
		t.Fatalf("task channels %v", names)
	}
	fax := must[*tr.TaskrouterV1TaskChannel](t)(tw.CreateTaskChannel(wsSID, &tr.CreateTaskChannelParams{FriendlyName: ptr("Fax"), UniqueName: ptr("fax")}))
	if got := must[*tr.TaskrouterV1TaskChannel](t)(tw.FetchTaskChannel(wsSID, "fax")); *got.Sid != *fax.Sid {
		t.Fatalf("fetch by unique name: %+v", got)
	}
	fax = must[*tr.TaskrouterV1TaskChannel](t)(tw.UpdateTaskChannel(wsSID, *fax.Sid, &tr.UpdateTaskChannelParams{ChannelOptimizedRouting: ptr(true)}))
	if !*fax.ChannelOptimizedRouting {
		t.Fatal("channel_optimized_routing not updated")
	}
	if err := tw.DeleteTaskChannel(wsSID, *fax.Sid); err != nil {
		t.Fatal(err)
	}

	// Task queues, with a bad expression refused where and why.
	_, err = tw.CreateTaskQueue(wsSID, &tr.CreateTaskQueueParams{FriendlyName: ptr("Bad"), TargetWorkers: ptr(`languages HAS`)})
	restError(t, err, 400, "TargetWorkers")
	restError(t, err, 400, "at position 14")
	es := must[*tr.TaskrouterV1TaskQueue](t)(tw.CreateTaskQueue(wsSID, &tr.CreateTaskQueueParams{FriendlyName: ptr("Spanish"),
		TargetWorkers: ptr(`languages HAS "es"`), AssignmentActivitySid: ptr(offline)}))
	if *es.TargetWorkers != `languages HAS "es"` || *es.TaskOrder != "FIFO" || es.MaxReservedWorkers != 1 || *es.AssignmentActivityName != "Offline" {
		t.Fatalf("queue %+v", es)
	}
	es = must[*tr.TaskrouterV1TaskQueue](t)(tw.UpdateTaskQueue(wsSID, *es.Sid, &tr.UpdateTaskQueueParams{AssignmentActivitySid: ptr(available),
		TaskOrder: ptr("LIFO")}))
	if *es.TaskOrder != "LIFO" || *es.AssignmentActivitySid != available {
		t.Fatalf("updated queue %+v", es)
	}
	_, err = tw.UpdateTaskQueue(wsSID, *es.Sid, &tr.UpdateTaskQueueParams{TargetWorkers: ptr(`(a == 1`)})
	restError(t, err, 400, "expected )")
	spare := must[*tr.TaskrouterV1TaskQueue](t)(tw.CreateTaskQueue(wsSID, &tr.CreateTaskQueueParams{FriendlyName: ptr("Spare")}))
	if *spare.TargetWorkers != "1==1" {
		t.Fatalf("default target_workers %q", *spare.TargetWorkers)
	}
	if qs := must[[]tr.TaskrouterV1TaskQueue](t)(tw.ListTaskQueue(wsSID, &tr.ListTaskQueueParams{EvaluateWorkerAttributes: ptr(`{"languages":["es"]}`)})); len(qs) != 2 {
		t.Fatalf("queues for a Spanish speaker: %d", len(qs))
	}
	if qs := must[[]tr.TaskrouterV1TaskQueue](t)(tw.ListTaskQueue(wsSID, &tr.ListTaskQueueParams{EvaluateWorkerAttributes: ptr(`{"languages":["en"]}`)})); len(qs) != 1 {
		t.Fatalf("queues for an English speaker: %d", len(qs))
	}

	// Workflows, with a bad configuration refused.
	_, err = tw.CreateWorkflow(wsSID, &tr.CreateWorkflowParams{FriendlyName: ptr("Bad"), Configuration: ptr(`{"task_routing":{"filters":[{"expression":"x ==","targets":[{"queue":"` + *es.Sid + `"}]}]}}`)})
	restError(t, err, 400, "task_routing.filters[0].expression")
	_, err = tw.CreateWorkflow(wsSID, &tr.CreateWorkflowParams{FriendlyName: ptr("Bad"), Configuration: ptr(`{"task_routing":{"default_filter":{"queue":"WQ` + strings.Repeat("1", 32) + `"}}}`)})
	restError(t, err, 400, "not a task queue of this workspace")
	cfg := `{"task_routing":{"filters":[{"filter_friendly_name":"es","expression":"language == 'es'","targets":[{"queue":"` + *es.Sid + `"}]}],"default_filter":{"queue":"` + *spare.Sid + `"}}}`
	wf := must[*tr.TaskrouterV1Workflow](t)(tw.CreateWorkflow(wsSID, &tr.CreateWorkflowParams{FriendlyName: ptr("Main"), Configuration: &cfg,
		TaskReservationTimeout: ptr(30)}))
	if *wf.Configuration != cfg || wf.TaskReservationTimeout != 30 || *wf.DocumentContentType != "application/json" {
		t.Fatalf("workflow %+v", wf)
	}
	wf = must[*tr.TaskrouterV1Workflow](t)(tw.UpdateWorkflow(wsSID, *wf.Sid, &tr.UpdateWorkflowParams{FriendlyName: ptr("Main flow")}))
	if got := must[[]tr.TaskrouterV1Workflow](t)(tw.ListWorkflow(wsSID, nil)); len(got) != 1 || *got[0].FriendlyName != "Main flow" {
		t.Fatalf("workflows %+v", got)
	}

	// Workers and their channels.
	ana := must[*tr.TaskrouterV1Worker](t)(tw.CreateWorker(wsSID, &tr.CreateWorkerParams{FriendlyName: ptr("ana"),
		Attributes: ptr(`{"languages":["es","en"]}`)}))
	if *ana.ActivityName != "Offline" || *ana.Available {
		t.Fatalf("new worker %+v", ana)
	}
	_, err = tw.CreateWorker(wsSID, &tr.CreateWorkerParams{FriendlyName: ptr("bad"), Attributes: ptr(`{"x":`)})
	restError(t, err, 400, "Attributes")
	bob := must[*tr.TaskrouterV1Worker](t)(tw.CreateWorker(wsSID, &tr.CreateWorkerParams{FriendlyName: ptr("bob"), ActivitySid: &available}))
	if !*bob.Available || *bob.ActivityName != "Available" {
		t.Fatalf("bob %+v", bob)
	}
	if got := must[[]tr.TaskrouterV1Worker](t)(tw.ListWorker(wsSID, &tr.ListWorkerParams{TargetWorkersExpression: ptr(`languages HAS "es"`)})); len(got) != 1 || *got[0].Sid != *ana.Sid {
		t.Fatalf("Spanish speakers %+v", got)
	}
	if got := must[[]tr.TaskrouterV1Worker](t)(tw.ListWorker(wsSID, &tr.ListWorkerParams{Available: ptr("true")})); len(got) != 1 || *got[0].Sid != *bob.Sid {
		t.Fatalf("available workers %+v", got)
	}
	if got := must[[]tr.TaskrouterV1Worker](t)(tw.ListWorker(wsSID, &tr.ListWorkerParams{TaskQueueSid: es.Sid})); len(got) != 1 {
		t.Fatalf("workers of the Spanish queue %+v", got)
	}
	wcs := must[[]tr.TaskrouterV1WorkerChannel](t)(tw.ListWorkerChannel(wsSID, *ana.Sid, nil))
	if len(wcs) != 6 || wcs[0].ConfiguredCapacity != 1 || !*wcs[0].Available {
		t.Fatalf("worker channels %+v", wcs)
	}
	chat := must[*tr.TaskrouterV1WorkerChannel](t)(tw.UpdateWorkerChannel(wsSID, *ana.Sid, "chat", &tr.UpdateWorkerChannelParams{Capacity: ptr(2)}))
	if chat.ConfiguredCapacity != 2 || *chat.TaskChannelUniqueName != "chat" || chat.AvailableCapacityPercentage != 100 {
		t.Fatalf("chat channel %+v", chat)
	}
	if got := must[*tr.TaskrouterV1WorkerChannel](t)(tw.FetchWorkerChannel(wsSID, *ana.Sid, *chat.Sid)); got.ConfiguredCapacity != 2 {
		t.Fatalf("fetched channel %+v", got)
	}
	ana = must[*tr.TaskrouterV1Worker](t)(tw.UpdateWorker(wsSID, *ana.Sid, &tr.UpdateWorkerParams{ActivitySid: &available}))
	if !*ana.Available {
		t.Fatalf("ana %+v", ana)
	}

	// A task, its reservation (seen from the task and from the worker),
	// accepted, wrapped up and completed.
	task := must[*tr.TaskrouterV1Task](t)(tw.CreateTask(wsSID, &tr.CreateTaskParams{Attributes: ptr(`{"language":"es"}`),
		TaskChannel: ptr("chat"), Priority: ptr(5), Timeout: ptr(600)}))
	if *task.AssignmentStatus != "pending" || *task.TaskQueueSid != *es.Sid || *task.TaskChannelUniqueName != "chat" ||
		*task.WorkflowSid != *wf.Sid || task.Priority != 5 || task.Timeout != 600 {
		t.Fatalf("task %+v", task)
	}
	var res []tr.TaskrouterV1TaskReservation
	eventually(t, "a reservation", func() bool {
		res = must[[]tr.TaskrouterV1TaskReservation](t)(tw.ListTaskReservation(wsSID, *task.Sid, nil))
		return len(res) == 1
	})
	if *res[0].WorkerSid != *ana.Sid || *res[0].ReservationStatus != "pending" || *res[0].WorkerName != "ana" {
		t.Fatalf("reservation %+v", res[0])
	}
	resSID := *res[0].Sid
	wr := must[*tr.TaskrouterV1WorkerReservation](t)(tw.FetchWorkerReservation(wsSID, *ana.Sid, resSID))
	if *wr.TaskSid != *task.Sid || !strings.Contains(*wr.Url, "/Workers/") {
		t.Fatalf("worker reservation %+v", wr)
	}
	if got := must[*tr.TaskrouterV1Task](t)(tw.FetchTask(wsSID, *task.Sid)); *got.AssignmentStatus != "reserved" {
		t.Fatalf("task after reservation %+v", got)
	}
	wr = must[*tr.TaskrouterV1WorkerReservation](t)(tw.UpdateWorkerReservation(wsSID, *ana.Sid, resSID, &tr.UpdateWorkerReservationParams{ReservationStatus: ptr("accepted")}))
	if *wr.ReservationStatus != "accepted" {
		t.Fatalf("accepted %+v", wr)
	}
	_, err = tw.UpdateTaskReservation(wsSID, *task.Sid, resSID, &tr.UpdateTaskReservationParams{ReservationStatus: ptr("rejected")})
	restError(t, err, 400, "cannot become rejected")
	tr1 := must[*tr.TaskrouterV1TaskReservation](t)(tw.UpdateTaskReservation(wsSID, *task.Sid, resSID, &tr.UpdateTaskReservationParams{ReservationStatus: ptr("wrapping")}))
	if *tr1.ReservationStatus != "wrapping" {
		t.Fatalf("wrapping %+v", tr1)
	}
	if got := must[*tr.TaskrouterV1Task](t)(tw.FetchTask(wsSID, *task.Sid)); *got.AssignmentStatus != "wrapping" {
		t.Fatalf("task %+v", got)
	}
	_, err = tw.UpdateTask(wsSID, *task.Sid, &tr.UpdateTaskParams{AssignmentStatus: ptr("completed")})
	restError(t, err, 400, "Reason")
	done := must[*tr.TaskrouterV1Task](t)(tw.UpdateTask(wsSID, *task.Sid, &tr.UpdateTaskParams{AssignmentStatus: ptr("completed"), Reason: ptr("solved")}))
	if *done.AssignmentStatus != "completed" || *done.Reason != "solved" {
		t.Fatalf("completed %+v", done)
	}
	if got := must[*tr.TaskrouterV1TaskReservation](t)(tw.FetchTaskReservation(wsSID, *task.Sid, resSID)); *got.ReservationStatus != "completed" {
		t.Fatalf("reservation after the task completed %+v", got)
	}
	if got := must[[]tr.TaskrouterV1WorkerReservation](t)(tw.ListWorkerReservation(wsSID, *ana.Sid, &tr.ListWorkerReservationParams{ReservationStatus: ptr("completed")})); len(got) != 1 {
		t.Fatalf("ana's completed reservations %+v", got)
	}

	// Tasks: update, list filters, cancel, delete.
	t2 := must[*tr.TaskrouterV1Task](t)(tw.CreateTask(wsSID, &tr.CreateTaskParams{Attributes: ptr(`{"language":"fr"}`), WorkflowSid: wf.Sid}))
	if *t2.TaskQueueSid != *spare.Sid || *t2.TaskChannelUniqueName != "default" {
		t.Fatalf("default-filter task %+v", t2)
	}
	eventually(t, "bob reserved", func() bool {
		got := must[*tr.TaskrouterV1Task](t)(tw.FetchTask(wsSID, *t2.Sid))
		return *got.AssignmentStatus == "reserved"
	})
	t2 = must[*tr.TaskrouterV1Task](t)(tw.UpdateTask(wsSID, *t2.Sid, &tr.UpdateTaskParams{Attributes: ptr(`{"language":"fr","vip":true}`), Priority: ptr(9)}))
	if *t2.Attributes != `{"language":"fr","vip":true}` || t2.Priority != 9 {
		t.Fatalf("updated task %+v", t2)
	}
	if got := must[[]tr.TaskrouterV1Task](t)(tw.ListTask(wsSID, &tr.ListTaskParams{AssignmentStatus: &[]string{"reserved"}})); len(got) != 1 {
		t.Fatalf("reserved tasks %d", len(got))
	}
	if got := must[[]tr.TaskrouterV1Task](t)(tw.ListTask(wsSID, &tr.ListTaskParams{EvaluateTaskAttributes: ptr(`vip == true`)})); len(got) != 1 {
		t.Fatalf("vip tasks %d", len(got))
	}
	if got := must[[]tr.TaskrouterV1Task](t)(tw.ListTask(wsSID, &tr.ListTaskParams{TaskQueueSid: es.Sid})); len(got) != 1 {
		t.Fatalf("tasks of the Spanish queue %d", len(got))
	}
	t2 = must[*tr.TaskrouterV1Task](t)(tw.UpdateTask(wsSID, *t2.Sid, &tr.UpdateTaskParams{AssignmentStatus: ptr("canceled"), Reason: ptr("gave up")}))
	if *t2.AssignmentStatus != "canceled" {
		t.Fatalf("canceled %+v", t2)
	}
	if got := must[[]tr.TaskrouterV1TaskReservation](t)(tw.ListTaskReservation(wsSID, *t2.Sid, nil)); len(got) != 1 || *got[0].ReservationStatus != "canceled" {
		t.Fatalf("reservation of a canceled task %+v", got)
	}
	if err := tw.DeleteTask(wsSID, *t2.Sid, nil); err != nil {
		t.Fatal(err)
	}
	_, err = tw.FetchTask(wsSID, *t2.Sid)
	restError(t, err, 404, "not found")

	// Statistics.
	rt := must[*tr.TaskrouterV1WorkspaceRealTimeStatistics](t)(tw.FetchWorkspaceRealTimeStatistics(wsSID, nil))
	if rt.TotalWorkers != 2 || rt.TotalTasks != 0 || len(*rt.ActivityStatistics) != 4 {
		t.Fatalf("workspace real-time %+v", rt)
	}
	qrt := must[*tr.TaskrouterV1TaskQueueRealTimeStatistics](t)(tw.FetchTaskQueueRealTimeStatistics(wsSID, *es.Sid, nil))
	if qrt.TotalEligibleWorkers != 1 || qrt.TotalAvailableWorkers != 1 || *qrt.TaskQueueSid != *es.Sid {
		t.Fatalf("queue real-time %+v", qrt)
	}
	cs := must[*tr.TaskrouterV1WorkspaceCumulativeStatistics](t)(tw.FetchWorkspaceCumulativeStatistics(wsSID, &tr.FetchWorkspaceCumulativeStatisticsParams{Minutes: ptr(60)}))
	if cs.ReservationsCreated != 2 || cs.ReservationsAccepted != 1 || cs.ReservationsCanceled != 1 || cs.TasksCreated != 2 ||
		cs.TasksCompleted != 1 || cs.TasksCanceled != 1 || cs.TasksDeleted != 1 {
		t.Fatalf("workspace cumulative %+v", cs)
	}
	qcs := must[*tr.TaskrouterV1TaskQueueCumulativeStatistics](t)(tw.FetchTaskQueueCumulativeStatistics(wsSID, *es.Sid, nil))
	if qcs.ReservationsAccepted != 1 || qcs.TasksEntered != 1 {
		t.Fatalf("queue cumulative %+v", qcs)
	}

	// Events, filtered, and fetched one by one.
	evs := must[[]tr.TaskrouterV1Event](t)(tw.ListEvent(wsSID, &tr.ListEventParams{EventType: ptr("reservation.accepted")}))
	if len(evs) != 1 || *evs[0].ResourceType != "reservation" || *evs[0].ResourceSid != resSID {
		t.Fatalf("accepted events %+v", evs)
	}
	ev := must[*tr.TaskrouterV1Event](t)(tw.FetchEvent(wsSID, *evs[0].Sid))
	if data, _ := json.Marshal(ev.EventData); !strings.Contains(string(data), *ana.Sid) || ev.EventDate == nil {
		t.Fatalf("event %+v %s", ev, data)
	}
	if got := must[[]tr.TaskrouterV1Event](t)(tw.ListEvent(wsSID, &tr.ListEventParams{TaskSid: task.Sid})); len(got) < 6 {
		t.Fatalf("events of the first task: %d", len(got))
	}

	// Event callbacks: only the filtered types, signed.
	eventually(t, "event callbacks", func() bool { return len(sink.eventTypes()) >= 3 })
	for _, typ := range sink.eventTypes() {
		if typ != "task.created" && typ != "reservation.accepted" {
			t.Fatalf("callback for %s despite EventsFilter", typ)
		}
	}
	sink.mu.Lock()
	if !webhook.Valid(srv.AuthToken, hook.URL+"/events", sink.reqs[0], sink.sigs[0]) {
		t.Fatal("event callback signature does not verify")
	}
	sink.mu.Unlock()

	// Deletes.
	restError(t, tw.DeleteTaskQueue(wsSID, *es.Sid), 400, "target of workflow")
	if err := tw.DeleteWorkflow(wsSID, *wf.Sid); err != nil {
		t.Fatal(err)
	}
	if err := tw.DeleteTaskQueue(wsSID, *es.Sid); err != nil {
		t.Fatal(err)
	}
	if err := tw.DeleteWorker(wsSID, *bob.Sid, nil); err != nil {
		t.Fatal(err)
	}
	if err := tw.DeleteWorkspace(wsSID); err != nil {
		t.Fatal(err)
	}
	_, err = tw.FetchWorkspace(wsSID)
	restError(t, err, 404, "not found")
}

// An access token acts only on its own worker and reservations.
func TestTokenAuthorization(t *testing.T) {
	srv := parleytest.Start(t)
	tw := srv.Admin().TaskrouterV1
	ws := must[*tr.TaskrouterV1Workspace](t)(tw.CreateWorkspace(&tr.CreateWorkspaceParams{FriendlyName: ptr("W"), Template: ptr("FIFO")}))
	available := activityNamed(t, tw, *ws.Sid, "Available")
	ana := must[*tr.TaskrouterV1Worker](t)(tw.CreateWorker(*ws.Sid, &tr.CreateWorkerParams{FriendlyName: ptr("ana")}))
	bob := must[*tr.TaskrouterV1Worker](t)(tw.CreateWorker(*ws.Sid, &tr.CreateWorkerParams{FriendlyName: ptr("bob")}))
	jwt := srv.Token(t, token.Grant{Identity: "ana", WorkspaceSID: *ws.Sid, WorkerSID: *ana.Sid})
	base := "/taskrouter/v1/Workspaces/" + *ws.Sid
	req := func(method, path string, form url.Values) (int, string) {
		return srv.Request(t, method, base+path, form, "token", jwt)
	}
	for _, c := range []struct {
		method, path string
		form         url.Values
		status       int
	}{
		{"GET", "/Workers/" + *ana.Sid, nil, 200},
		{"GET", "/Workers/" + *bob.Sid, nil, 403},
		{"GET", "/Workers", nil, 403},
		{"GET", "/Activities", nil, 200},
		{"GET", "/TaskQueues", nil, 200},
		{"GET", "/Workers/" + *ana.Sid + "/Channels", nil, 200},
		{"POST", "/Workers/" + *ana.Sid, url.Values{"Attributes": {`{"boss":true}`}}, 403},
		{"POST", "/Workers/" + *bob.Sid, url.Values{"ActivitySid": {available}}, 403},
		{"POST", "/Tasks", url.Values{"Attributes": {`{}`}}, 403},
		{"GET", "/Tasks", nil, 403},
		{"POST", "/TaskQueues", url.Values{"FriendlyName": {"x"}}, 403},
		{"GET", "/Events", nil, 403},
		{"POST", "/Workers/" + *ana.Sid, url.Values{"ActivitySid": {available}}, 200},
	} {
		if status, body := req(c.method, c.path, c.form); status != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, status, body, c.status)
		} else if status == 403 && !strings.Contains(body, "20403") {
			t.Errorf("%s %s: 403 without the Twilio code: %s", c.method, c.path, body)
		}
	}
	other := must[*tr.TaskrouterV1Workspace](t)(tw.CreateWorkspace(&tr.CreateWorkspaceParams{FriendlyName: ptr("Other")}))
	if status, _ := srv.Request(t, "GET", "/taskrouter/v1/Workspaces/"+*other.Sid+"/Activities", nil, "token", jwt); status != 403 {
		t.Errorf("another workspace's activities: %d, want 403", status)
	}

	// The token's worker gets a task and handles its reservation itself.
	task := must[*tr.TaskrouterV1Task](t)(tw.CreateTask(*ws.Sid, &tr.CreateTaskParams{Attributes: ptr(`{"n":1}`)}))
	var resSID string
	eventually(t, "ana's reservation", func() bool {
		status, body := req("GET", "/Workers/"+*ana.Sid+"/Reservations", nil)
		var page struct {
			Reservations []struct{ Sid string } `json:"reservations"`
		}
		_ = json.Unmarshal([]byte(body), &page)
		if status == 200 && len(page.Reservations) == 1 {
			resSID = page.Reservations[0].Sid
		}
		return resSID != ""
	})
	if status, body := req("GET", "/Tasks/"+*task.Sid, nil); status != 200 {
		t.Fatalf("own task: %d %s", status, body)
	}
	if status, body := req("POST", "/Tasks/"+*task.Sid+"/Reservations/"+resSID, url.Values{"ReservationStatus": {"accepted"}}); status != 200 {
		t.Fatalf("accept own reservation: %d %s", status, body)
	}
	bobJWT := srv.Token(t, token.Grant{Identity: "bob", WorkspaceSID: *ws.Sid, WorkerSID: *bob.Sid})
	if status, _ := srv.Request(t, "POST", base+"/Tasks/"+*task.Sid+"/Reservations/"+resSID, url.Values{"ReservationStatus": {"completed"}}, "token", bobJWT); status != 403 {
		t.Fatalf("bob completing ana's reservation: %d, want 403", status)
	}
	if status, body := req("POST", "/Workers/"+*ana.Sid+"/Reservations/"+resSID, url.Values{"ReservationStatus": {"completed"}}); status != 200 {
		t.Fatalf("complete own reservation: %d %s", status, body)
	}
	_ = time.Second
}
