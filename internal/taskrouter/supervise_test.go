package taskrouter_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/taskrouter"
)

// signals collects the workspace.<WS> messages of one workspace.
type signals struct {
	mu   sync.Mutex
	list []map[string]any
}

func watch(t *testing.T, b bus.Bus, ws string) *signals {
	s := &signals{}
	sub, err := b.Subscribe("workspace."+ws, func(m bus.Msg) {
		var f map[string]any
		_ = json.Unmarshal(m.Data, &f)
		s.mu.Lock()
		s.list = append(s.list, f)
		s.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return s
}

// with counts the signals that name an event type.
func (s *signals) with(typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.list {
		types := []string{}
		for _, e := range f["data"].(map[string]any)["events"].([]any) {
			types = append(types, e.(string))
		}
		if slices.Contains(types, typ) {
			n++
		}
		if f["type"] != "statistics.changed" || len(slices.Compact(slices.Sorted(slices.Values(types)))) != len(types) {
			panic("a workspace signal repeats an event type or has another type")
		}
	}
	return n
}

func queueOf(ov taskrouter.Overview, sid string) taskrouter.QueueOverview {
	for _, q := range ov.Queues {
		if q.SID == sid {
			return q
		}
	}
	return taskrouter.QueueOverview{}
}

func workerOf(ov taskrouter.Overview, sid string) taskrouter.WorkerOverview {
	for _, w := range ov.Workers {
		if w.SID == sid {
			return w
		}
	}
	return taskrouter.WorkerOverview{}
}

// TestOverviewAndWorkspaceSignals: the supervisor's figures follow a task
// from waiting to reserved to accepted, and each transaction that changes
// the workspace signals it once on workspace.<WS>.
func TestOverviewAndWorkspaceSignals(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			sc := newScenario(t, srv.Admin())
			sig := watch(t, srv.App.Bus, sc.ws)
			trs := srv.App.TaskRouter
			ctx := context.Background()
			overview := func() taskrouter.Overview {
				t.Helper()
				ov, err := trs.Overview(ctx, srv.AccountSID, sc.ws)
				if err != nil {
					t.Fatal(err)
				}
				return ov
			}

			task := sc.task(sc.wfMain, "en", 1)
			eventually(t, "the task.created signal", func() bool { return sig.with("task.created") == 1 })
			ov := overview()
			all, es := queueOf(ov, sc.qAll), queueOf(ov, sc.qES)
			if all.Waiting != 1 || all.OldestWaiting == 0 || all.OldestWaiting > ov.Now || all.Active != 0 ||
				all.Eligible != 2 || all.Available != 0 || all.Busy != 0 {
				t.Fatalf("Everyone with a waiting task: %+v", all)
			}
			if es.Waiting != 0 || es.OldestWaiting != 0 || es.Eligible != 1 || es.FriendlyName != "Spanish" {
				t.Fatalf("Spanish: %+v", es)
			}
			if w := workerOf(ov, sc.bob); w.FriendlyName != "bob" || w.ActivityName != "Offline" || w.Available || len(w.Tasks) != 0 {
				t.Fatalf("bob offline: %+v", w)
			}

			sc.setActivity(sc.bob, sc.available)
			eventually(t, "the worker.activity.update signal", func() bool { return sig.with("worker.activity.update") == 1 })
			res := sc.reservationTo(task, sc.bob, "pending")
			eventually(t, "the reservation.created signal", func() bool { return sig.with("reservation.created") == 1 })
			ov = overview()
			all = queueOf(ov, sc.qAll)
			if all.Waiting != 0 || all.OldestWaiting != 0 || all.Active != 1 || all.Available != 1 || all.Busy != 1 {
				t.Fatalf("Everyone with the task reserved: %+v", all)
			}
			bob := workerOf(ov, sc.bob)
			if !bob.Available || len(bob.Tasks) != 1 || bob.Tasks[0].Status != "pending" || bob.Tasks[0].TaskSID != task ||
				bob.Tasks[0].ReservationSID != res || bob.Tasks[0].QueueName != "Everyone" || bob.Tasks[0].TaskAttributes != `{"language":"en"}` {
				t.Fatalf("bob offered the task: %+v", bob)
			}

			sc.setReservation(task, res, "accepted")
			eventually(t, "the reservation.accepted signal", func() bool { return sig.with("reservation.accepted") == 1 })
			bob = workerOf(overview(), sc.bob)
			if len(bob.Tasks) != 1 || bob.Tasks[0].Status != "accepted" {
				t.Fatalf("bob with the task accepted: %+v", bob)
			}
			if es := queueOf(overview(), sc.qES); es.Busy != 0 || es.Eligible != 1 {
				t.Fatalf("Spanish counts bob (not eligible) as busy: %+v", es)
			}

			if _, err := trs.Overview(ctx, "AC00000000000000000000000000000099", sc.ws); err == nil {
				t.Fatal("another account read the workspace's overview")
			}
		})
	}
}

// TestQueueTrend: samples land in their time bucket once (the first
// wins, as when several nodes sample), sum over the workspace's queues,
// and go after the retention.
func TestQueueTrend(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			sc := newScenario(t, srv.Admin())
			trs := srv.App.TaskRouter
			ctx := context.Background()
			const every, keep = 30 * time.Second, 2 * time.Hour
			// Buckets 40 minutes ahead, where the node's own sampler never writes.
			base := time.Now().Add(40 * time.Minute).Truncate(every)
			record := func(at time.Time) {
				t.Helper()
				if err := trs.RecordQueueSamples(ctx, at, every, keep); err != nil {
					t.Fatal(err)
				}
			}
			record(base.Add(-3 * time.Hour)) // past the retention: deleted by the next recording
			record(base)
			sc.task(sc.wfMain, "en", 1)
			sc.task(sc.wfMain, "es", 1)
			record(base.Add(every + 5*time.Second))
			// Another node's sample of a bucket already recorded is ignored.
			sc.task(sc.wfMain, "en", 1)
			record(base.Add(every + 20*time.Second))

			points, err := trs.QueueTrend(ctx, srv.AccountSID, sc.ws, base.Add(-4*time.Hour).UnixMilli())
			if err != nil {
				t.Fatal(err)
			}
			var mine []taskrouter.TrendPoint // the node's own sampler adds points near now
			for _, p := range points {
				if p.At == base.Add(-3*time.Hour).UnixMilli() {
					t.Fatalf("a sample older than the retention is still there: %+v", p)
				}
				if p.At >= base.UnixMilli() {
					mine = append(mine, p)
				}
			}
			if len(mine) != 2 || mine[0].At != base.UnixMilli() || mine[1].At != base.Add(every).UnixMilli() {
				t.Fatalf("buckets: %+v", mine)
			}
			if mine[0].Waiting != 0 || mine[0].LongestWait != 0 {
				t.Fatalf("the empty sample: %+v", mine[0])
			}
			// Two tasks wait (one in Spanish, one in Everyone), created about 40
			// minutes before the sample's time.
			if mine[1].Waiting != 2 || mine[1].LongestWait < 40*60 || mine[1].LongestWait > 50*60 {
				t.Fatalf("the sample with two waiting tasks: %+v", mine[1])
			}
			if _, err := trs.QueueTrend(ctx, "AC00000000000000000000000000000099", sc.ws, 0); err == nil {
				t.Fatal("another account read the workspace's trend")
			}
		})
	}
}
