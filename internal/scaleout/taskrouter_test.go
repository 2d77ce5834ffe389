package scaleout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	tr "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rtclient"
	"github.com/parleychat/parley/internal/token"
)

// desk is a TaskRouter workspace with one queue for every worker, a
// workflow into it, and available workers with a chat capacity.
type desk struct {
	ws, workflow string
	workers      []string
}

func newDesk(t *testing.T, srv *parleytest.Server, workers, capacity, reservationTimeout int) desk {
	t.Helper()
	tw := srv.Admin().TaskrouterV1
	ws, err := tw.CreateWorkspace(&tr.CreateWorkspaceParams{FriendlyName: ptr("desk")})
	if err != nil {
		t.Fatal(err)
	}
	d := desk{ws: *ws.Sid}
	acts, err := tw.ListActivity(d.ws, &tr.ListActivityParams{FriendlyName: ptr("Available")})
	if err != nil || len(acts) != 1 {
		t.Fatalf("Available activity: %v %v", acts, err)
	}
	q, err := tw.CreateTaskQueue(d.ws, &tr.CreateTaskQueueParams{FriendlyName: ptr("all"), TargetWorkers: ptr("1==1")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := `{"task_routing":{"default_filter":{"queue":"` + *q.Sid + `"}}}`
	wf, err := tw.CreateWorkflow(d.ws, &tr.CreateWorkflowParams{FriendlyName: ptr("main"), Configuration: &cfg,
		TaskReservationTimeout: ptr(reservationTimeout)})
	if err != nil {
		t.Fatal(err)
	}
	d.workflow = *wf.Sid
	for i := range workers {
		w, err := tw.CreateWorker(d.ws, &tr.CreateWorkerParams{FriendlyName: ptr(fmt.Sprintf("agent%d", i)), ActivitySid: acts[0].Sid})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tw.UpdateWorkerChannel(d.ws, *w.Sid, "chat", &tr.UpdateWorkerChannelParams{Capacity: ptr(capacity)}); err != nil {
			t.Fatal(err)
		}
		d.workers = append(d.workers, *w.Sid)
	}
	return d
}

func (d desk) createTask(t *testing.T, srv *parleytest.Server, n int) string {
	t.Helper()
	task, err := srv.Admin().TaskrouterV1.CreateTask(d.ws, &tr.CreateTaskParams{WorkflowSid: &d.workflow,
		TaskChannel: ptr("chat"), Attributes: ptr(fmt.Sprintf(`{"n":%d}`, n))})
	if err != nil {
		t.Fatalf("create task %d: %v", n, err)
	}
	return *task.Sid
}

// events lists the workspace's events of one type, optionally for one task.
func (d desk) events(t *testing.T, srv *parleytest.Server, typ, task string) []tr.TaskrouterV1Event {
	t.Helper()
	p := &tr.ListEventParams{EventType: &typ, PageSize: ptr(1000)}
	if task != "" {
		p.TaskSid = &task
	}
	evs, err := srv.Admin().TaskrouterV1.ListEvent(d.ws, p)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func eventReservation(t *testing.T, e tr.TaskrouterV1Event) string {
	t.Helper()
	b, _ := json.Marshal(e.EventData)
	var data struct {
		ReservationSID string `json:"reservation_sid"`
	}
	_ = json.Unmarshal(b, &data)
	if data.ReservationSID == "" && e.ResourceSid != nil {
		return *e.ResourceSid
	}
	return data.ReservationSID
}

// A task created through node A is reserved by an engine, and the
// reservation reaches the worker's socket on node B.
func TestReservationReachesWorkerOnAnotherNode(t *testing.T) {
	nodes := cluster(t, 2)
	a, b := nodes[0], nodes[1]
	d := newDesk(t, a, 1, 1, 120)
	got := make(chan rtclient.Frame, 16)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok := b.Token(t, token.Grant{Identity: "agent0", WorkspaceSID: d.ws, WorkerSID: d.workers[0]})
	c, err := rtclient.Dial(ctx, b.URL, tok, func(f rtclient.Frame) { got <- f })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Kill()
	task := d.createTask(t, a, 1)
	deadline := time.After(15 * time.Second)
	for {
		select {
		case f := <-got:
			if f.Type != "reservation.created" {
				continue
			}
			var r struct {
				TaskSID string `json:"task_sid"`
				Status  string `json:"reservation_status"`
			}
			if err := json.Unmarshal(f.Data, &r); err != nil || f.WorkerSID != d.workers[0] || r.TaskSID != task {
				t.Fatalf("reservation frame %s %s: %s (%v)", f.Type, f.WorkerSID, f.Data, err)
			}
			return
		case <-deadline:
			t.Fatal("the worker's socket on node B got no reservation.created")
		}
	}
}

// With three engines watching the same deadlines, each reservation times
// out once: one reservation.timeout event per reservation, and the task
// moves on to the next worker once per timeout.
func TestReservationTimeoutFiresOnce(t *testing.T) {
	nodes := cluster(t, 3)
	d := newDesk(t, nodes[0], 2, 1, 1)
	task := d.createTask(t, nodes[1], 1)
	// Each worker is reserved in turn, times out after 1s and goes
	// offline (the workspace's timeout activity); then nobody is left.
	deadline := time.Now().Add(20 * time.Second)
	for len(d.events(t, nodes[2], "reservation.timeout", task)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("timeouts: %d, want 2", len(d.events(t, nodes[2], "reservation.timeout", task)))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // room for a duplicate to show
	created := d.events(t, nodes[0], "reservation.created", task)
	timeouts := d.events(t, nodes[0], "reservation.timeout", task)
	if len(created) != 2 || len(timeouts) != 2 {
		t.Fatalf("%d reservations created and %d timeouts, want 2 and 2", len(created), len(timeouts))
	}
	seen := map[string]int{}
	for _, e := range timeouts {
		seen[eventReservation(t, e)]++
	}
	for _, e := range created {
		if r := eventReservation(t, e); seen[r] != 1 {
			t.Fatalf("reservation %s timed out %d times, want once (timeouts %v)", r, seen[r], seen)
		}
	}
}

// A burst of tasks created through three nodes, whose engines all assign:
// no worker ever holds more reservations than its capacity, and every
// task is reserved exactly once (nobody rejects, so once is enough).
func TestBurstNeverDoubleReserves(t *testing.T) {
	nodes := cluster(t, 3)
	const workers, capacity, tasks = 5, 2, 40
	d := newDesk(t, nodes[0], workers, capacity, 120)
	var wg sync.WaitGroup
	for i := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.createTask(t, nodes[i%len(nodes)], i)
		}()
	}
	wg.Wait()
	completed := 0
	deadline := time.Now().Add(60 * time.Second)
	for round := 0; completed < tasks; round++ {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tasks completed in time", completed, tasks)
		}
		for wi, w := range d.workers {
			srv := nodes[(round+wi)%len(nodes)]
			tw := srv.Admin().TaskrouterV1
			pending, err := tw.ListWorkerReservation(d.ws, w, &tr.ListWorkerReservationParams{ReservationStatus: ptr("pending")})
			if err != nil {
				t.Fatal(err)
			}
			if len(pending) > capacity {
				t.Fatalf("worker %s holds %d pending reservations, capacity %d", w, len(pending), capacity)
			}
			for _, r := range pending {
				if _, err := tw.UpdateWorkerReservation(d.ws, w, *r.Sid, &tr.UpdateWorkerReservationParams{ReservationStatus: ptr("accepted")}); err != nil {
					t.Fatalf("accept %s: %v", *r.Sid, err)
				}
				if _, err := tw.UpdateTask(d.ws, *r.TaskSid, &tr.UpdateTaskParams{AssignmentStatus: ptr("completed"), Reason: ptr("done")}); err != nil {
					t.Fatalf("complete %s: %v", *r.TaskSid, err)
				}
				completed++
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	perTask := map[string]int{}
	for _, e := range d.events(t, nodes[1], "reservation.created", "") {
		b, _ := json.Marshal(e.EventData)
		var data struct {
			TaskSID string `json:"task_sid"`
		}
		_ = json.Unmarshal(b, &data)
		perTask[data.TaskSID]++
	}
	if len(perTask) != tasks {
		t.Fatalf("%d tasks were reserved, want %d", len(perTask), tasks)
	}
	for task, n := range perTask {
		if n != 1 {
			t.Fatalf("task %s was reserved %d times, want once", task, n)
		}
	}
}
