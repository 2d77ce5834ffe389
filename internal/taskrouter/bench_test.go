package taskrouter

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/storetest"
)

func BenchmarkExprEval(b *testing.B) {
	e, err := ParseExpr(`languages HAS "es" AND (level >= 2 OR team IN ["sales", "vip"]) AND NOT (on_break == true)`)
	if err != nil {
		b.Fatal(err)
	}
	w := &workerView{attrs: parseAttributes(`{"languages":["en","es"],"level":3,"team":"support","on_break":false}`)}
	env := workerEnv(w)
	b.ReportAllocs()
	for b.Loop() {
		if !e.Eval(env) {
			b.Fatal("expected a match")
		}
	}
}

func BenchmarkExprParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseExpr(`languages HAS "es" AND (level >= 2 OR team IN ["sales", "vip"]) AND NOT (on_break == true)`); err != nil {
			b.Fatal(err)
		}
	}
}

// latencies records creation-to-reservation times.
type latencies struct {
	mu      sync.Mutex
	created map[string]time.Time
	waits   []time.Duration
	last    time.Time
	done    chan struct{}
	want    int
}

// reserved is the engine's hook: the task's attributes carry its bench id.
func (l *latencies) reserved(attributes string) {
	now := time.Now()
	id := strings.TrimSuffix(attributes[strings.LastIndex(attributes, ":")+1:], "}")
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.created[strings.Trim(id, `"`)]
	if !ok {
		return
	}
	delete(l.created, strings.Trim(id, `"`))
	l.waits = append(l.waits, now.Sub(at))
	l.last = now
	if len(l.waits) == l.want {
		close(l.done)
	}
}

func (l *latencies) percentile(p float64) float64 {
	s := slices.Clone(l.waits)
	slices.Sort(s)
	return float64(s[min(len(s)-1, int(float64(len(s))*p))].Microseconds()) / 1000
}

// BenchmarkAssignment measures the engine with 1,000 workers (chat
// capacity 25 each) and 10,000 pending tasks:
//   - backlog: 10,000 chats are pending when the engine starts; the clock
//     runs until all are reserved: assignments/s;
//   - paced: then 1,000 new chats at 200/s, while 10,000 other pending
//     chats (French, and nobody speaks French) stay in the database for
//     every pass to look past: p50/p99 from creation to reservation.
//
// Run it once per backend: go test -run - -bench Assignment -benchtime 1x.
func BenchmarkAssignment(b *testing.B) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		b.Run(backend, func(b *testing.B) {
			for b.Loop() {
				benchAssignment(b, backend)
			}
		})
	}
}

func benchAssignment(b *testing.B, backend string) {
	var db *store.DB
	if backend == storetest.SQLite {
		db = storetest.OpenSQLite(b)
	} else {
		db = storetest.OpenPostgres(b)
	}
	s := New(db, nil, nil, quietLogger(), Options{BaseURL: "http://parley.test"})
	acct := rest.NewSID("AC")
	ws, wf := benchSetup(b, s, acct)
	bulkTasks(b, s, acct, ws, wf, "fr", 10000)
	bulkTasks(b, s, acct, ws, wf, "en", 10000)

	backlog := &latencies{created: map[string]time.Time{}, done: make(chan struct{}), want: 10000}
	start := time.Now()
	s.onReserved = func(string) {
		backlog.mu.Lock()
		defer backlog.mu.Unlock()
		if backlog.want--; backlog.want == 0 {
			backlog.last = time.Now()
			close(backlog.done)
		}
	}
	s.Start()
	defer s.Stop()
	select {
	case <-backlog.done:
	case <-time.After(10 * time.Minute):
		b.Fatal("the backlog was not assigned")
	}
	b.ReportMetric(10000/backlog.last.Sub(start).Seconds(), "assignments/s")

	paced := &latencies{created: map[string]time.Time{}, done: make(chan struct{}), want: 1000}
	s.onReserved = paced.reserved
	tick := time.NewTicker(5 * time.Millisecond)
	for range paced.want {
		<-tick.C
		createTimed(b, s, paced, acct, ws, wf, "en", 1)
	}
	tick.Stop()
	waitAll(b, paced)
	b.ReportMetric(paced.percentile(0.50), "p50_ms")
	b.ReportMetric(paced.percentile(0.99), "p99_ms")
}

// bulkTasks inserts n pending tasks routed as the engine would route them,
// many rows per statement (setup only: no events).
func bulkTasks(b *testing.B, s *Service, acct, ws, wf, lang string, n int) {
	ctx := context.Background()
	flow, err := s.Workflow(ctx, acct, ws, wf)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := s.cache.config(flow.Configuration)
	if err != nil {
		b.Fatal(err)
	}
	ch, err := s.TaskChannel(ctx, acct, ws, "chat")
	if err != nil {
		b.Fatal(err)
	}
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	for done := 0; done < n; done += 500 {
		var args []any
		for i := done; i < min(n, done+500); i++ {
			now := store.Now()
			t := Task{SID: rest.NewSID("WT"), Attributes: fmt.Sprintf(`{"language":%q}`, lang), Priority: i % 5}
			routeTask(&t, cfg, now)
			args = append(args, t.SID, acct, ws, wf, t.QueueSID, ch.SID, t.Attributes, t.Priority, 3600, StatusPending,
				t.FilterIdx, t.TargetIdx, t.StepPriority, t.StepDeadline, now, now+3600000, now, 1, now, now)
		}
		if _, err := s.db.ExecContext(ctx, `INSERT INTO tr_tasks (sid, account_sid, workspace_sid, workflow_sid, task_queue_sid,
			task_channel_sid, attributes, priority, timeout, assignment_status, filter_idx, target_idx, step_priority,
			step_deadline, queue_entered, expires_at, virtual_start_time, revision, date_created, date_updated) VALUES `+
			row+strings.Repeat(", "+row, len(args)/20-1), args...); err != nil {
			b.Fatal(err)
		}
	}
}

// createTimed creates a task whose attributes end with a bench id, and
// starts its clock just before.
func createTimed(b *testing.B, s *Service, l *latencies, acct, ws, wf, lang string, prio int) {
	id := rest.RandomHex(8)
	l.mu.Lock()
	l.created[id] = time.Now()
	l.mu.Unlock()
	if _, err := s.CreateTask(context.Background(), acct, ws, wf, "chat", fmt.Sprintf(`{"language":%q,"id":%q}`, lang, id), prio, 3600); err != nil {
		b.Fatal(err)
	}
}

func waitAll(b *testing.B, l *latencies) {
	select {
	case <-l.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d tasks reserved", len(l.waits), l.want)
	}
}

func benchSetup(b *testing.B, s *Service, acct string) (ws, wf string) {
	ctx := context.Background()
	w, err := s.CreateWorkspace(ctx, acct, WorkspaceParams{FriendlyName: ptr("bench")})
	if err != nil {
		b.Fatal(err)
	}
	all, err := s.CreateTaskQueue(ctx, acct, w.SID, QueueParams{FriendlyName: ptr("all"), TargetWorkers: ptr(`languages HAS "en"`)})
	if err != nil {
		b.Fatal(err)
	}
	fr, err := s.CreateTaskQueue(ctx, acct, w.SID, QueueParams{FriendlyName: ptr("fr"), TargetWorkers: ptr(`languages HAS "fr"`)})
	if err != nil {
		b.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"task_routing":{"filters":[{"expression":"language == 'fr'","targets":[{"queue":%q}]}],"default_filter":{"queue":%q}}}`, fr.SID, all.SID)
	flow, err := s.CreateWorkflow(ctx, acct, w.SID, WorkflowParams{FriendlyName: ptr("wf"), Configuration: &cfg})
	if err != nil {
		b.Fatal(err)
	}
	avail, err := s.Activities(ctx, acct, w.SID, "Available", nil, rest.Page{Size: 1})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		wk, err := s.CreateWorker(ctx, acct, w.SID, fmt.Sprintf("agent%04d", i), avail[0].SID, `{"languages":["en"],"level":2}`)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.UpdateWorkerChannel(ctx, acct, w.SID, wk.SID, "chat", ptr(25), nil); err != nil {
			b.Fatal(err)
		}
	}
	return w.SID, flow.SID
}
