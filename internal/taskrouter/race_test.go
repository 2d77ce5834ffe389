package taskrouter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/storetest"
)

// engineDBs opens n handles on one database: separate pools on
// PostgreSQL (as separate nodes have), one shared handle on SQLite (one
// node, whose writes the store serializes).
func engineDBs(t *testing.T, backend string, n int) []*store.DB {
	t.Helper()
	var dbs []*store.DB
	if backend == storetest.SQLite {
		db := storetest.OpenSQLite(t)
		for range n {
			dbs = append(dbs, db)
		}
		return dbs
	}
	url := storetest.PostgresURL(t)
	for range n {
		db, err := store.Open(context.Background(), url, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	return dbs
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEngine(t testing.TB, db *store.DB) *Service {
	s := New(db, bus.NewMemory(0), nil, quietLogger(), Options{BaseURL: "http://parley.test", Tick: 50 * time.Millisecond, Sweep: 100 * time.Millisecond})
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// liveCountsOK checks, in the database, that no task has two live
// reservations and no worker channel holds more than its capacity, and
// that the channels' counters agree with the reservations.
func liveCountsOK(ctx context.Context, db *store.DB, ws string) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT task_sid FROM tr_reservations WHERE workspace_sid = ?
		AND status IN ('pending', 'accepted', 'wrapping') GROUP BY task_sid HAVING COUNT(*) > 1) x`, ws).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%d tasks reserved to two workers at once", n)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tr_worker_channels c WHERE c.workspace_sid = ? AND c.capacity <
		(SELECT COUNT(*) FROM tr_reservations r WHERE r.worker_sid = c.worker_sid AND r.task_channel_sid = c.task_channel_sid
		 AND r.status IN ('pending', 'accepted', 'wrapping'))`, ws).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%d worker channels over capacity", n)
	}
	return nil
}

// Two engines on one database race over a burst of tasks while simulated
// agents accept and complete what they are offered. Neither a double
// reservation nor a capacity overflow may ever be seen.
func TestTwoEnginesRace(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) { testTwoEngines(t, backend) })
	}
}

func testTwoEngines(t *testing.T, backend string) {
	ctx := context.Background()
	dbs := engineDBs(t, backend, 2)
	a, b := newEngine(t, dbs[0]), newEngine(t, dbs[1])
	acct := rest.NewSID("AC")
	ws, err := a.CreateWorkspace(ctx, acct, WorkspaceParams{FriendlyName: ptr("race")})
	if err != nil {
		t.Fatal(err)
	}
	q, err := a.CreateTaskQueue(ctx, acct, ws.SID, QueueParams{FriendlyName: ptr("all")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"task_routing":{"default_filter":{"queue":%q}}}`, q.SID)
	wf, err := a.CreateWorkflow(ctx, acct, ws.SID, WorkflowParams{FriendlyName: ptr("wf"), Configuration: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	avail, err := a.Activities(ctx, acct, ws.SID, "Available", nil, rest.Page{Size: 1})
	if err != nil || len(avail) != 1 {
		t.Fatal(err)
	}
	const workers, capacity = 12, 2
	tasks := 240
	if raceEnabled {
		tasks = 60 // the race detector slows everything about tenfold
	}
	for i := range workers {
		w, err := a.CreateWorker(ctx, acct, ws.SID, fmt.Sprintf("w%d", i), avail[0].SID, "{}")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.UpdateWorkerChannel(ctx, acct, ws.SID, w.SID, "chat", ptr(capacity), nil); err != nil {
			t.Fatal(err)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var once sync.Once
	halt := func() { once.Do(func() { close(stop); wg.Wait() }) }
	defer halt()
	violations := make(chan error, 1)
	// The checker samples the invariants throughout.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if err := liveCountsOK(ctx, dbs[0], ws.SID); err != nil {
				select {
				case violations <- err:
				default:
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	// The burst: half the tasks created through each engine, at once.
	var created sync.WaitGroup
	for i := range tasks {
		created.Add(1)
		go func() {
			defer created.Done()
			s := []*Service{a, b}[i%2]
			if _, err := s.CreateTask(ctx, acct, ws.SID, wf.SID, "chat", `{"n":1}`, i%3, 600); err != nil {
				t.Error(err)
			}
		}()
	}
	// Agents: accept and complete what they are offered, through either node.
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := []*Service{a, b}[i%2]
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := s.Reservations(ctx, acct, ws.SID, "", "", ResPending, rest.Page{Size: 20})
				if err != nil {
					t.Error(err)
					return
				}
				for j, r := range res {
					if j%4 != i {
						continue
					}
					if _, err := s.UpdateReservation(ctx, acct, ws.SID, r.TaskSID, r.SID, ReservationUpdate{Status: ResAccepted}); err == nil {
						_, _ = s.UpdateReservation(ctx, acct, ws.SID, r.TaskSID, r.SID, ReservationUpdate{Status: ResCompleted})
					}
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	created.Wait()
	deadline := time.Now().Add(120 * time.Second)
	for {
		done, err := a.Tasks(ctx, acct, ws.SID, TaskFilter{Statuses: []string{StatusCompleted}}, rest.Page{Size: tasks + 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(done) == tasks {
			break
		}
		if time.Now().After(deadline) {
			halt()
			rt, _ := a.WorkspaceRealTime(ctx, acct, ws.SID, "")
			t.Fatalf("only %d of %d tasks completed; live tasks by status: %v", len(done), tasks, rt.TasksByStatus)
		}
		time.Sleep(20 * time.Millisecond)
	}
	halt()
	select {
	case err := <-violations:
		t.Fatal(err)
	default:
	}
	if err := liveCountsOK(ctx, dbs[0], ws.SID); err != nil {
		t.Fatal(err)
	}
	// Every task was completed through exactly one reservation, and every
	// counter is back to zero.
	var completed, leftover int
	if err := dbs[0].QueryRowContext(ctx, "SELECT COUNT(*) FROM tr_reservations WHERE workspace_sid = ? AND status = 'completed'", ws.SID).Scan(&completed); err != nil {
		t.Fatal(err)
	}
	if err := dbs[0].QueryRowContext(ctx, "SELECT COALESCE(SUM(assigned), 0) + (SELECT COALESCE(SUM(active_tasks), 0) FROM tr_workers WHERE workspace_sid = ?) FROM tr_worker_channels WHERE workspace_sid = ?",
		ws.SID, ws.SID).Scan(&leftover); err != nil {
		t.Fatal(err)
	}
	if completed != tasks || leftover != 0 {
		t.Fatalf("%d completed reservations for %d tasks; %d slots still counted as taken", completed, tasks, leftover)
	}
	t.Logf("reservations made: engine a %d, engine b %d", a.reservations.Load(), b.reservations.Load())
	if a.reservations.Load() == 0 || b.reservations.Load() == 0 {
		t.Fatalf("one engine made no reservation (a %d, b %d): the engines did not race", a.reservations.Load(), b.reservations.Load())
	}
}

func ptr[T any](v T) *T { return &v }
