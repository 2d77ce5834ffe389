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
// capacity 25 each) and 10,000 pending tasks that nobody can take (French
// chats, no French speaker), which every pass must look past:
//   - burst: 10,000 chats created as fast as 8 clients can, each reserved
//     as soon as the engine gets to it: assignments/s and p50/p99 from
//     creation to reservation (queueing behind the burst included);
//   - paced: 1,000 chats at 200/s: p50/p99 from creation to reservation.
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
	t0 := time.Now()
	ws, wf := benchSetup(b, s, acct)
	s.Start()
	defer s.Stop()
	t1 := time.Now()

	// The backlog nobody can take.
	backlog(b, s, acct, ws, wf, 10000)
	b.Logf("setup %v, backlog %v", t1.Sub(t0), time.Since(t1))

	burst := &latencies{created: map[string]time.Time{}, done: make(chan struct{}), want: 10000}
	s.onReserved = burst.reserved
	start := time.Now()
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < burst.want; i += 8 {
				createTimed(b, s, burst, acct, ws, wf, "en", i%5)
			}
		}()
	}
	wg.Wait()
	waitAll(b, burst)
	elapsed := burst.last.Sub(start)
	b.ReportMetric(float64(burst.want)/elapsed.Seconds(), "burst_assignments/s")
	b.ReportMetric(burst.percentile(0.50), "burst_p50_ms")
	b.ReportMetric(burst.percentile(0.99), "burst_p99_ms")

	paced := &latencies{created: map[string]time.Time{}, done: make(chan struct{}), want: 1000}
	s.onReserved = paced.reserved
	tick := time.NewTicker(5 * time.Millisecond)
	for range paced.want {
		<-tick.C
		createTimed(b, s, paced, acct, ws, wf, "en", 1)
	}
	tick.Stop()
	waitAll(b, paced)
	b.ReportMetric(paced.percentile(0.50), "paced_p50_ms")
	b.ReportMetric(paced.percentile(0.99), "paced_p99_ms")
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

func backlog(b *testing.B, s *Service, acct, ws, wf string, n int) {
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += 8 {
				if _, err := s.CreateTask(context.Background(), acct, ws, wf, "chat", `{"language":"fr"}`, 0, 3600); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
