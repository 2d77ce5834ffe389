package taskrouter

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// What a supervisor watches: one signal per committed change of a
// workspace, a snapshot of its queues and workers, and the trend of its
// queues recorded by a Sampler.

// publishWorkspaces tells each workspace a transaction changed, once, on
// workspace.<WS>: {"v":1,"type":"statistics.changed","account_sid",
// "workspace_sid","data":{"events":[the event types, each once]}}. A
// supervisor's view refetches on it; one message per transaction (not
// per event) keeps it cheap.
func (s *Service) publishWorkspaces(ctx context.Context, fx *effects) {
	for _, e := range fx.events {
		fx.statsChanged(e.AccountSID, e.WorkspaceSID)
	}
	for ws, acct := range fx.stats {
		types := []string{}
		for _, e := range fx.events {
			if e.WorkspaceSID == ws && !slices.Contains(types, e.Type) {
				types = append(types, e.Type)
			}
		}
		s.publish(ctx, "workspace."+ws, map[string]any{"v": 1, "type": "statistics.changed",
			"account_sid": acct, "workspace_sid": ws, "data": map[string]any{"events": types}})
	}
}

// QueueOverview is one queue's live figures.
type QueueOverview struct {
	SID          string
	FriendlyName string
	// Waiting counts pending tasks; OldestWaiting is the creation time
	// (unix ms) of the oldest of them (0 when none waits).
	Waiting       int
	OldestWaiting int64
	// Active counts the queue's reserved, assigned and wrapping tasks.
	Active int
	// Eligible workers match the queue's TargetWorkers; Available ones are
	// in an available activity; Busy ones hold at least one live
	// reservation (offered, accepted or wrapping).
	Eligible, Available, Busy int
}

// WorkerTask is a live reservation of a worker with its task.
type WorkerTask struct {
	ReservationSID string
	Status         string // pending, accepted, wrapping
	Since          int64  // the reservation's creation, unix ms
	TaskSID        string
	TaskAttributes string
	QueueSID       string
	QueueName      string
	TaskChannel    string
}

// WorkerOverview is a worker's activity and live reservations.
type WorkerOverview struct {
	SID          string
	FriendlyName string
	Attributes   string
	ActivityName string
	Available    bool
	Since        int64 // the last activity change, unix ms
	Tasks        []WorkerTask
}

// Overview is a workspace as a supervisor sees it.
type Overview struct {
	Queues  []QueueOverview
	Workers []WorkerOverview
	Now     int64 // unix ms, the server's clock when read
}

// Overview reads a workspace's queues with their live figures and its
// workers with their live reservations: five queries, whatever the number
// of queues and workers.
func (s *Service) Overview(ctx context.Context, accountSID, wsSID string) (Overview, error) {
	if _, err := s.Workspace(ctx, accountSID, wsSID); err != nil {
		return Overview{}, err
	}
	queues, err := store.QueryAll(ctx, s.db, "SELECT "+taskQueueCols+" FROM tr_task_queues q WHERE q.workspace_sid = ? ORDER BY q.seq",
		scanTaskQueue, wsSID)
	if err != nil {
		return Overview{}, err
	}
	workers, err := store.QueryAll(ctx, s.db, "SELECT "+workerCols+" FROM tr_workers w WHERE w.workspace_sid = ? ORDER BY w.seq",
		scanWorker, wsSID)
	if err != nil {
		return Overview{}, err
	}
	tasks, err := store.QueryAll(ctx, s.db, "SELECT "+taskBaseCols+" FROM tr_tasks t WHERE t.assignment_status IN (?, ?, ?, ?) "+
		"AND t.workspace_sid = ?", scanTaskBase, StatusPending, StatusReserved, StatusAssigned, StatusWrapping, wsSID)
	if err != nil {
		return Overview{}, err
	}
	// Live reservations belong to live tasks: reached through them, the
	// read stays on indexes however long the reservation history grows.
	res, err := store.QueryAll(ctx, s.db, "SELECT "+prefixCols("r.", reservationCols)+" FROM tr_tasks t "+
		"JOIN tr_reservations r ON r.task_sid = t.sid WHERE t.assignment_status IN (?, ?, ?) AND t.workspace_sid = ? "+
		"AND r.status IN (?, ?, ?) ORDER BY r.seq", scanReservation,
		StatusReserved, StatusAssigned, StatusWrapping, wsSID, ResPending, ResAccepted, ResWrapping)
	if err != nil {
		return Overview{}, err
	}
	ov := Overview{Now: store.Now()}
	byTask := map[string]Task{}
	for _, t := range tasks {
		byTask[t.SID] = t
	}
	queueName := map[string]string{}
	for _, q := range queues {
		queueName[q.SID] = q.FriendlyName
	}
	busy := map[string]bool{}
	tasksOf := map[string][]WorkerTask{}
	for _, r := range res {
		t := byTask[r.TaskSID]
		busy[r.WorkerSID] = true
		tasksOf[r.WorkerSID] = append(tasksOf[r.WorkerSID], WorkerTask{ReservationSID: r.SID, Status: r.Status, Since: r.Created,
			TaskSID: r.TaskSID, TaskAttributes: t.Attributes, QueueSID: t.QueueSID, QueueName: queueName[t.QueueSID],
			TaskChannel: r.ChannelSID})
	}
	for _, q := range queues {
		qo := QueueOverview{SID: q.SID, FriendlyName: q.FriendlyName}
		for _, t := range tasks {
			switch {
			case t.QueueSID != q.SID:
			case t.Status == StatusPending:
				qo.Waiting++
				if qo.OldestWaiting == 0 || t.Created < qo.OldestWaiting {
					qo.OldestWaiting = t.Created
				}
			default:
				qo.Active++
			}
		}
		e, err := s.cache.expr(q.TargetWorkers)
		if err != nil {
			return Overview{}, fmt.Errorf("taskrouter: queue %s target workers: %w", q.SID, err)
		}
		for _, w := range workers {
			if !e.Eval(workerEnv(&workerView{Worker: w, attrs: workerAttrs(w)})) {
				continue
			}
			qo.Eligible++
			if w.Available {
				qo.Available++
			}
			if busy[w.SID] {
				qo.Busy++
			}
		}
		ov.Queues = append(ov.Queues, qo)
	}
	for _, w := range workers {
		ov.Workers = append(ov.Workers, WorkerOverview{SID: w.SID, FriendlyName: w.FriendlyName, Attributes: w.Attributes,
			ActivityName: w.ActivityName, Available: w.Available, Since: w.StatusChanged, Tasks: tasksOf[w.SID]})
	}
	return ov, nil
}

func prefixCols(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// ---- the trend ----

// TrendPoint is one sampled moment of a workspace's queues: the pending
// tasks of all of them and the longest wait among them (seconds).
type TrendPoint struct {
	At          int64 // the sample's time bucket, unix ms
	Waiting     int
	LongestWait int64
}

// RecordQueueSamples samples every queue of every workspace: its pending
// tasks and its oldest pending task's wait, into the time bucket of now
// (a multiple of every). A bucket another node already recorded is kept
// (the first sample wins), so several nodes record each bucket once.
// Samples older than keep are deleted.
func (s *Service) RecordQueueSamples(ctx context.Context, now time.Time, every, keep time.Duration) error {
	bucket := now.Truncate(every).UnixMilli()
	type row struct {
		account, ws, queue string
		waiting            int
		oldest             int64
	}
	rows, err := store.QueryAll(ctx, s.db, `SELECT q.account_sid, q.workspace_sid, q.sid, COALESCE(p.n, 0), COALESCE(p.oldest, 0)
		FROM tr_task_queues q LEFT JOIN (SELECT task_queue_sid, COUNT(*) AS n, MIN(date_created) AS oldest FROM tr_tasks
		WHERE assignment_status = ? GROUP BY task_queue_sid) p ON p.task_queue_sid = q.sid`,
		func(r store.Scanner) (row, error) {
			var x row
			err := r.Scan(&x.account, &x.ws, &x.queue, &x.waiting, &x.oldest)
			return x, err
		}, StatusPending)
	if err != nil {
		return fmt.Errorf("taskrouter: sample queues: %w", err)
	}
	const batch = 200
	for len(rows) > 0 {
		n := min(batch, len(rows))
		const one = "(?, ?, ?, ?, ?, ?)"
		args := make([]any, 0, 6*n)
		for _, r := range rows[:n] {
			wait := int64(0)
			if r.waiting > 0 && r.oldest > 0 {
				wait = max(0, now.UnixMilli()-r.oldest) / 1000
			}
			args = append(args, r.account, r.ws, r.queue, bucket, r.waiting, wait)
		}
		_, err := s.db.ExecContext(ctx, "INSERT INTO tr_queue_samples (account_sid, workspace_sid, task_queue_sid, bucket, "+
			"waiting, longest_wait) VALUES "+one+strings.Repeat(", "+one, n-1)+" ON CONFLICT (task_queue_sid, bucket) DO NOTHING", args...)
		if err != nil {
			return fmt.Errorf("taskrouter: record queue samples: %w", err)
		}
		rows = rows[n:]
	}
	_, err = s.db.ExecContext(ctx, "DELETE FROM tr_queue_samples WHERE bucket < ?", now.Add(-keep).UnixMilli())
	return err
}

// QueueTrend returns a workspace's samples since (unix ms), oldest
// first: per bucket, the waiting tasks of all its queues and the longest
// wait among them.
func (s *Service) QueueTrend(ctx context.Context, accountSID, wsSID string, since int64) ([]TrendPoint, error) {
	if _, err := s.Workspace(ctx, accountSID, wsSID); err != nil {
		return nil, err
	}
	return store.QueryAll(ctx, s.db, "SELECT bucket, SUM(waiting), MAX(longest_wait) FROM tr_queue_samples "+
		"WHERE workspace_sid = ? AND bucket >= ? GROUP BY bucket ORDER BY bucket",
		func(r store.Scanner) (TrendPoint, error) {
			var p TrendPoint
			err := r.Scan(&p.At, &p.Waiting, &p.LongestWait)
			return p, err
		}, wsSID, since)
}

// Sampler records the queues' samples on a timer (RecordQueueSamples),
// from Start until Stop.
type Sampler struct {
	s           *Service
	every, keep time.Duration

	mu         sync.Mutex
	stop, done chan struct{}
}

// NewSampler samples every interval and keeps keep of history.
func (s *Service) NewSampler(every, keep time.Duration) *Sampler {
	return &Sampler{s: s, every: every, keep: keep}
}

// Start takes a sample at once and then one per interval.
func (sm *Sampler) Start() {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.stop != nil {
		return
	}
	sm.stop, sm.done = make(chan struct{}), make(chan struct{})
	go sm.loop(sm.stop, sm.done)
}

func (sm *Sampler) loop(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(sm.every)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), sm.every)
		if err := sm.s.RecordQueueSamples(ctx, time.Now(), sm.every, sm.keep); err != nil {
			sm.s.log.Warn("queue samples not recorded", slog.Any("error", err))
		}
		cancel()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// Stop ends the sampling and waits for a sample in progress.
func (sm *Sampler) Stop() {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.stop == nil {
		return
	}
	close(sm.stop)
	<-sm.done
	sm.stop = nil
}
