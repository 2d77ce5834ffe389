package taskrouter_test

import (
	"fmt"
	"testing"

	"github.com/twilio/twilio-go"
	tr "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/parleychat/parley/internal/parleytest"
)

// scenario holds a workspace set up as a small contact center.
type scenario struct {
	t                  *testing.T
	tw                 *tr.ApiService
	ws                 string
	available, offline string
	qES, qAll          string
	wfMain, wfFast     string
	ana, bob           string
}

func newScenario(t *testing.T, client *twilio.RestClient) *scenario {
	tw := client.TaskrouterV1
	sc := &scenario{t: t, tw: tw}
	sc.ws = *must[*tr.TaskrouterV1Workspace](t)(tw.CreateWorkspace(&tr.CreateWorkspaceParams{FriendlyName: ptr("Contact center")})).Sid
	sc.available = activityNamed(t, tw, sc.ws, "Available")
	sc.offline = activityNamed(t, tw, sc.ws, "Offline")
	sc.qES = *must[*tr.TaskrouterV1TaskQueue](t)(tw.CreateTaskQueue(sc.ws, &tr.CreateTaskQueueParams{FriendlyName: ptr("Spanish"),
		TargetWorkers: ptr(`languages HAS "es"`)})).Sid
	sc.qAll = *must[*tr.TaskrouterV1TaskQueue](t)(tw.CreateTaskQueue(sc.ws, &tr.CreateTaskQueueParams{FriendlyName: ptr("Everyone"),
		TargetWorkers: ptr(`1==1`)})).Sid
	// Spanish chats wait 2 s for a Spanish speaker, then go to everyone.
	cfg := fmt.Sprintf(`{"task_routing":{"filters":[{"filter_friendly_name":"Spanish","expression":"language == 'es'",
		"targets":[{"queue":"%s","timeout":2},{"queue":"%s"}]}],"default_filter":{"queue":"%s"}}}`, sc.qES, sc.qAll, sc.qAll)
	sc.wfMain = *must[*tr.TaskrouterV1Workflow](t)(tw.CreateWorkflow(sc.ws, &tr.CreateWorkflowParams{FriendlyName: ptr("Main"),
		Configuration: &cfg, TaskReservationTimeout: ptr(120)})).Sid
	sc.wfFast = *must[*tr.TaskrouterV1Workflow](t)(tw.CreateWorkflow(sc.ws, &tr.CreateWorkflowParams{FriendlyName: ptr("Fast"),
		Configuration: &cfg, TaskReservationTimeout: ptr(2)})).Sid
	sc.ana = sc.worker("ana", `{"languages":["es","en"]}`)
	sc.bob = sc.worker("bob", `{"languages":["en"]}`)
	return sc
}

func (sc *scenario) worker(name, attrs string) string {
	w := must[*tr.TaskrouterV1Worker](sc.t)(sc.tw.CreateWorker(sc.ws, &tr.CreateWorkerParams{FriendlyName: &name, Attributes: &attrs}))
	must[*tr.TaskrouterV1WorkerChannel](sc.t)(sc.tw.UpdateWorkerChannel(sc.ws, *w.Sid, "chat", &tr.UpdateWorkerChannelParams{Capacity: ptr(2)}))
	return *w.Sid
}

func (sc *scenario) task(workflow, language string, priority int) string {
	return *must[*tr.TaskrouterV1Task](sc.t)(sc.tw.CreateTask(sc.ws, &tr.CreateTaskParams{WorkflowSid: &workflow,
		TaskChannel: ptr("chat"), Priority: &priority, Attributes: ptr(fmt.Sprintf(`{"language":%q}`, language))})).Sid
}

func (sc *scenario) setActivity(worker, activity string) {
	must[*tr.TaskrouterV1Worker](sc.t)(sc.tw.UpdateWorker(sc.ws, worker, &tr.UpdateWorkerParams{ActivitySid: &activity}))
}

func (sc *scenario) fetch(task string) tr.TaskrouterV1Task {
	return *must[*tr.TaskrouterV1Task](sc.t)(sc.tw.FetchTask(sc.ws, task))
}

// reservationTo waits until task has a reservation to worker in status.
func (sc *scenario) reservationTo(task, worker, status string) string {
	sc.t.Helper()
	sid := ""
	eventually(sc.t, fmt.Sprintf("task %s %s to %s", task, status, worker), func() bool {
		for _, r := range must[[]tr.TaskrouterV1TaskReservation](sc.t)(sc.tw.ListTaskReservation(sc.ws, task, &tr.ListTaskReservationParams{ReservationStatus: &status})) {
			if *r.WorkerSid == worker {
				sid = *r.Sid
				return true
			}
		}
		return false
	})
	return sid
}

func (sc *scenario) workerReservations(worker string) []tr.TaskrouterV1WorkerReservation {
	return must[[]tr.TaskrouterV1WorkerReservation](sc.t)(sc.tw.ListWorkerReservation(sc.ws, worker, nil))
}

func (sc *scenario) setReservation(task, res, status string) {
	must[*tr.TaskrouterV1TaskReservation](sc.t)(sc.tw.UpdateTaskReservation(sc.ws, task, res, &tr.UpdateTaskReservationParams{ReservationStatus: &status}))
}

// A contact center's day: who gets what, in which order, on timeout, on
// reject, on activity change, and across a restart.
func TestScenario(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) { testScenario(t, backend) })
	}
}

func testScenario(t *testing.T, backend string) {
	srv := parleytest.Start(t, parleytest.Backend(t, backend))
	sc := newScenario(t, srv.Admin())

	// Nobody is available: tasks wait.
	e1 := sc.task(sc.wfMain, "en", 1)
	e2 := sc.task(sc.wfMain, "en", 10)
	if got := sc.fetch(e1); *got.AssignmentStatus != "pending" || *got.TaskQueueSid != sc.qAll {
		t.Fatalf("e1 %s in %s", *got.AssignmentStatus, *got.TaskQueueSid)
	}

	// Bob comes online: he gets both, the higher priority first.
	sc.setActivity(sc.bob, sc.available)
	sc.reservationTo(e1, sc.bob, "pending")
	res := sc.workerReservations(sc.bob)
	if len(res) != 2 || *res[0].TaskSid != e2 || *res[1].TaskSid != e1 {
		t.Fatalf("bob's reservations in order: %v", taskSIDs(res))
	}
	e2res := *res[0].Sid

	// Bob is full (chat capacity 2); a third task waits for Ana, who gets
	// it as soon as she becomes available.
	e3 := sc.task(sc.wfMain, "en", 5)
	if got := sc.fetch(e3); *got.AssignmentStatus != "pending" {
		t.Fatalf("e3 is %s while every worker is full or offline", *got.AssignmentStatus)
	}
	sc.setActivity(sc.ana, sc.available)
	e3res := sc.reservationTo(e3, sc.ana, "pending")
	sc.setReservation(e3, e3res, "accepted")

	// Bob rejects e1: it moves on to Ana, never back to Bob.
	sc.setReservation(e1, sc.reservationTo(e1, sc.bob, "pending"), "rejected")
	e1res := sc.reservationTo(e1, sc.ana, "pending")
	sc.setReservation(e1, e1res, "accepted")
	sc.setReservation(e2, e2res, "accepted")
	if got := sc.fetch(e2); *got.AssignmentStatus != "assigned" {
		t.Fatalf("e2 after accept: %s", *got.AssignmentStatus)
	}

	// A Spanish chat waits in the Spanish queue (Ana is full), times out of
	// it after 2 s, and goes to everyone: Bob has one slot left.
	s1 := sc.task(sc.wfFast, "es", 1)
	if got := sc.fetch(s1); *got.TaskQueueSid != sc.qES {
		t.Fatalf("s1 starts in %s, want the Spanish queue", *got.TaskQueueSid)
	}
	sc.reservationTo(s1, sc.bob, "pending")
	if got := sc.fetch(s1); *got.TaskQueueSid != sc.qAll || *got.AssignmentStatus != "reserved" {
		t.Fatalf("s1 after the target timeout: %s in %s", *got.AssignmentStatus, *got.TaskQueueSid)
	}
	// Bob lets the reservation time out (2 s): he goes offline, s1 waits.
	sc.reservationTo(s1, sc.bob, "timeout")
	if w := must[*tr.TaskrouterV1Worker](t)(sc.tw.FetchWorker(sc.ws, sc.bob)); *w.ActivitySid != sc.offline {
		t.Fatalf("bob after a timeout is %s", *w.ActivityName)
	}
	eventually(t, "s1 back to pending", func() bool { return *sc.fetch(s1).AssignmentStatus == "pending" })

	// Ana finishes e3: her free slot goes to s1 at once.
	complete := "completed"
	must[*tr.TaskrouterV1Task](t)(sc.tw.UpdateTask(sc.ws, e3, &tr.UpdateTaskParams{AssignmentStatus: &complete, Reason: ptr("done")}))
	sc.reservationTo(s1, sc.ana, "pending")

	// A new task waits (Ana full, Bob offline); then the server restarts.
	p1 := sc.task(sc.wfMain, "en", 1)
	srv = srv.Restart(t)
	sc.tw = srv.Admin().TaskrouterV1

	// After the restart, Ana's reservation deadline (kept in the database)
	// still ends it, and the pending task is still pending.
	sc.reservationTo(s1, sc.ana, "timeout")
	if got := sc.fetch(p1); *got.AssignmentStatus != "pending" {
		t.Fatalf("p1 after restart: %s", *got.AssignmentStatus)
	}
	// Bob comes back with one free slot: s1 (older) first; more capacity
	// then takes p1 at once.
	sc.setActivity(sc.bob, sc.available)
	sc.reservationTo(s1, sc.bob, "pending")
	if got := sc.fetch(p1); *got.AssignmentStatus != "pending" {
		t.Fatalf("p1 while bob is full: %s", *got.AssignmentStatus)
	}
	must[*tr.TaskrouterV1WorkerChannel](t)(sc.tw.UpdateWorkerChannel(sc.ws, sc.bob, "chat", &tr.UpdateWorkerChannelParams{Capacity: ptr(3)}))
	sc.reservationTo(p1, sc.bob, "pending")

	// The statistics agree.
	rt := must[*tr.TaskrouterV1WorkspaceRealTimeStatistics](t)(sc.tw.FetchWorkspaceRealTimeStatistics(sc.ws, nil))
	byStatus := (*rt.TasksByStatus).(map[string]any)
	if rt.TotalTasks != 4 || byStatus["assigned"] != float64(2) || byStatus["reserved"] != float64(2) {
		t.Fatalf("real-time statistics: %d tasks, %v", rt.TotalTasks, byStatus)
	}
}

func taskSIDs(rs []tr.TaskrouterV1WorkerReservation) []string {
	var out []string
	for _, r := range rs {
		out = append(out, *r.TaskSid)
	}
	return out
}
