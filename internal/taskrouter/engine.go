package taskrouter

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/webhook"
)

// The engine. Each node runs one loop that:
//   - on a kick (a task created, a worker freed or changed, a reservation
//     rejected or timed out) makes a pass over that workspace: it reads the
//     workers and pending tasks, matches them in memory, and reserves each
//     match in its own transaction whose conditional UPDATEs re-check, under
//     row locks, everything the in-memory match assumed;
//   - every Tick, reads due deadlines from the database: reservation
//     timeouts, task TTLs and target timeouts;
//   - every Sweep, re-examines every workspace with pending tasks, so changes
//     made on other nodes are picked up even if no kick reached this one.
// Nothing the loop keeps in memory is the truth: a stale view costs a failed
// conditional UPDATE and a re-read, never a double reservation.

// maxPassTasks bounds the pending tasks one pass reads.
const maxPassTasks = 20000

var (
	errTaskGone    = errors.New("taskrouter: task no longer pending")
	errWorkerStale = errors.New("taskrouter: worker changed")
)

func (s *Service) run(ctx context.Context) {
	tick := time.NewTicker(s.opts.Tick)
	defer tick.Stop()
	sweep := time.NewTicker(s.opts.Sweep)
	defer sweep.Stop()
	s.sweepAll(ctx) // after a restart: resume every workspace with pending tasks
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kickCh:
		case <-tick.C:
			s.timers(ctx)
		case <-sweep.C:
			s.sweepAll(ctx)
		}
		for ws, w := range s.takeWork() {
			if ctx.Err() != nil {
				return
			}
			if err := s.process(ctx, ws, w); err != nil && ctx.Err() == nil {
				delete(s.states, ws) // read everything again next time
				s.log.ErrorContext(ctx, "assignment pass failed", slog.String("workspace_sid", ws), slog.Any("error", err))
			}
		}
	}
}

func (s *Service) sweepAll(ctx context.Context) {
	wss, err := store.QueryAll(ctx, s.db, "SELECT DISTINCT workspace_sid FROM tr_tasks WHERE assignment_status = ?", scanString, StatusPending)
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "sweep failed", slog.Any("error", err))
		}
		return
	}
	for _, ws := range wss {
		s.kickReload(ws) // other nodes may have changed workers: read them again
	}
}

// timers acts on every deadline that has passed.
func (s *Service) timers(ctx context.Context) {
	now := store.Now()
	due, err := store.QueryAll(ctx, s.db, "SELECT "+reservationCols+" FROM tr_reservations WHERE status = ? AND timeout_at <= ? ORDER BY timeout_at LIMIT 200",
		scanReservation, ResPending, now)
	s.logTimer(ctx, "reservation timeouts", err)
	for _, r := range due {
		s.logTimer(ctx, "reservation timeout", s.timeoutReservation(ctx, r))
	}
	expired, err := store.QueryAll(ctx, s.db, "SELECT "+taskBaseCols+" FROM tr_tasks t WHERE t.assignment_status IN (?, ?) AND t.expires_at <= ? LIMIT 200",
		scanTaskBase, StatusPending, StatusReserved, now)
	s.logTimer(ctx, "task expiry", err)
	for _, t := range expired {
		s.logTimer(ctx, "task expiry", s.expireTask(ctx, t))
	}
	wss, err := store.QueryAll(ctx, s.db, "SELECT DISTINCT workspace_sid FROM tr_tasks WHERE assignment_status = ? AND step_deadline > 0 AND step_deadline <= ?",
		scanString, StatusPending, now)
	s.logTimer(ctx, "target timeouts", err)
	for _, ws := range wss {
		s.kick(ws)
	}
}

func (s *Service) logTimer(ctx context.Context, what string, err error) {
	if err != nil && ctx.Err() == nil {
		s.log.ErrorContext(ctx, "timer failed", slog.String("what", what), slog.Any("error", err))
	}
}

// lockTask locks a task row for the engine. On PostgreSQL, SKIP LOCKED
// leaves a task another node is working on to that node.
func lockTask(ctx context.Context, q store.Querier, sid string) (Task, error) {
	t, err := getOne(ctx, q, "SELECT "+taskCols+" FROM tr_tasks t WHERE t.sid = ?"+forUpdate(q, true), scanTask, sid)
	if errors.Is(err, store.ErrNotFound) {
		return t, errTaskGone
	}
	return t, err
}

// timeoutReservation ends a pending reservation whose deadline passed.
func (s *Service) timeoutReservation(ctx context.Context, r Reservation) error {
	err := s.write(ctx, func(q store.Querier, fx *effects) error {
		t, err := lockTask(ctx, q, r.TaskSID)
		if err != nil {
			return err
		}
		cur, err := getOne(ctx, q, "SELECT "+reservationCols+" FROM tr_reservations WHERE sid = ?", scanReservation, r.SID)
		if err != nil || cur.Status != ResPending || cur.TimeoutAt > store.Now() {
			return errTaskGone
		}
		if _, err := s.moveReservation(ctx, q, fx, t, cur, ResTimeout, ""); err != nil {
			return err
		}
		return s.followReservation(ctx, q, fx, t, ResTimeout)
	})
	if errors.Is(err, errTaskGone) || errors.Is(err, errNotPending) {
		return nil
	}
	return err
}

// expireTask cancels a task whose TTL ended.
func (s *Service) expireTask(ctx context.Context, t Task) error {
	err := s.write(ctx, func(q store.Querier, fx *effects) error {
		cur, err := lockTask(ctx, q, t.SID)
		if err != nil {
			return err
		}
		if (cur.Status != StatusPending && cur.Status != StatusReserved) || cur.ExpiresAt > store.Now() {
			return errTaskGone
		}
		if r, live, err := liveReservation(ctx, q, cur.SID); err != nil {
			return err
		} else if live {
			if _, err := s.moveReservation(ctx, q, fx, cur, r, ResCanceled, ""); err != nil {
				return err
			}
		}
		_, err = s.setTaskStatus(ctx, q, fx, cur, StatusCanceled, "Task TTL Exceeded")
		return err
	})
	if errors.Is(err, errTaskGone) {
		return nil
	}
	return err
}

// ---- the pass ----

type chanView struct {
	capacity, assigned int
	available          bool
}

// workerView is the engine's picture of a worker.
type workerView struct {
	Worker
	attrs    map[string]any
	channels map[string]*chanView // by task channel SID
}

type queueView struct {
	TaskQueue
	expr  *Expr
	match map[string]bool // worker SID -> TargetWorkers holds (memo)
}

// snapshot is the engine's cached picture of one workspace: a hint that
// lets it match in memory. Every reservation re-checks it in the database.
type snapshot struct {
	ws        Workspace
	workers   []*workerView // longest idle first
	byID      map[string]*workerView
	queues    map[string]*queueView
	workflows map[string]Workflow
	channels  map[string]string // task channel SID -> unique name
	room      map[string]int    // task channel SID -> workers with room on it
}

// wsState is a workspace's cached snapshot and when it was read.
type wsState struct {
	snap     *snapshot
	loadedAt time.Time
}

type attrEntry struct {
	rev   int64
	attrs map[string]any
}

var attrCache sync.Map // worker SID -> attrEntry

func workerAttrs(w Worker) map[string]any {
	if v, ok := attrCache.Load(w.SID); ok && v.(attrEntry).rev == w.Revision {
		return v.(attrEntry).attrs
	}
	a := parseAttributes(w.Attributes)
	attrCache.Store(w.SID, attrEntry{rev: w.Revision, attrs: a})
	return a
}

func (s *Service) snapshot(ctx context.Context, wsSID string) (*snapshot, error) {
	ws, err := getOne(ctx, s.db, "SELECT "+workspaceCols+" FROM tr_workspaces w WHERE w.sid = ?", scanWorkspace, wsSID)
	if err != nil {
		return nil, err
	}
	snap := &snapshot{ws: ws, byID: map[string]*workerView{}, queues: map[string]*queueView{},
		workflows: map[string]Workflow{}, channels: map[string]string{}}
	workers, err := store.QueryAll(ctx, s.db, "SELECT "+workerCols+" FROM tr_workers w WHERE w.workspace_sid = ?", scanWorker, wsSID)
	if err != nil {
		return nil, err
	}
	for _, w := range workers {
		v := &workerView{Worker: w, attrs: workerAttrs(w), channels: map[string]*chanView{}}
		snap.workers = append(snap.workers, v)
		snap.byID[w.SID] = v
	}
	sort.SliceStable(snap.workers, func(i, j int) bool { return snap.workers[i].IdleSince < snap.workers[j].IdleSince })
	if err := s.loadChannels(ctx, snap, wsSID, ""); err != nil {
		return nil, err
	}
	queues, err := store.QueryAll(ctx, s.db, "SELECT "+taskQueueCols+" FROM tr_task_queues q WHERE q.workspace_sid = ?", scanTaskQueue, wsSID)
	if err != nil {
		return nil, err
	}
	for _, q := range queues {
		e, err := s.cache.expr(q.TargetWorkers)
		if err != nil {
			continue // saved expressions were checked; an unreadable one matches nobody
		}
		snap.queues[q.SID] = &queueView{TaskQueue: q, expr: e, match: map[string]bool{}}
	}
	flows, err := store.QueryAll(ctx, s.db, "SELECT "+workflowCols+" FROM tr_workflows WHERE workspace_sid = ?", scanWorkflow, wsSID)
	if err != nil {
		return nil, err
	}
	for _, f := range flows {
		snap.workflows[f.SID] = f
	}
	chans, err := store.QueryAll(ctx, s.db, "SELECT "+taskChannelCols+" FROM tr_task_channels WHERE workspace_sid = ?", scanTaskChannel, wsSID)
	if err != nil {
		return nil, err
	}
	for _, c := range chans {
		snap.channels[c.SID] = c.UniqueName
	}
	snap.countRoom()
	return snap, nil
}

// loadChannels reads worker channels (of one worker when workerSID is set).
func (s *Service) loadChannels(ctx context.Context, snap *snapshot, wsSID, workerSID string) error {
	query, args := "SELECT worker_sid, task_channel_sid, capacity, available, assigned FROM tr_worker_channels WHERE workspace_sid = ?", []any{wsSID}
	if workerSID != "" {
		query, args = query+" AND worker_sid = ?", append(args, workerSID)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var wk, tc string
		c := &chanView{}
		if err := rows.Scan(&wk, &tc, &c.capacity, &c.available, &c.assigned); err != nil {
			return err
		}
		if w := snap.byID[wk]; w != nil {
			w.channels[tc] = c
		}
	}
	return rows.Err()
}

// refreshWorker re-reads one worker (after it changed, or after a
// conditional UPDATE found the snapshot wrong about it).
func (s *Service) refreshWorker(ctx context.Context, snap *snapshot, sid string) error {
	w, err := getOne(ctx, s.db, "SELECT "+workerCols+" FROM tr_workers w WHERE w.sid = ?", scanWorker, sid)
	v := snap.byID[sid]
	switch {
	case errors.Is(err, store.ErrNotFound) && v != nil:
		i := slices.Index(snap.workers, v)
		snap.workers = slices.Delete(snap.workers, i, i+1)
		delete(snap.byID, sid)
		snap.countRoom()
		return nil
	case err != nil:
		return err
	case v == nil:
		v = &workerView{}
		snap.byID[sid] = v
		snap.workers = append(snap.workers, v)
	}
	v.Worker, v.attrs, v.channels = w, workerAttrs(w), map[string]*chanView{}
	for _, q := range snap.queues {
		delete(q.match, sid)
	}
	if err := s.loadChannels(ctx, snap, snap.ws.SID, sid); err != nil {
		return err
	}
	// Keep longest-idle-first order.
	i := slices.Index(snap.workers, v)
	snap.workers = slices.Delete(snap.workers, i, i+1)
	j, _ := slices.BinarySearchFunc(snap.workers, v.IdleSince, func(x *workerView, t int64) int { return cmp.Compare(x.IdleSince, t) })
	snap.workers = slices.Insert(snap.workers, j, v)
	snap.countRoom()
	return nil
}

// hasRoom reports whether w may take one more task on channel.
func (snap *snapshot) hasRoom(w *workerView, channel string) bool {
	c := w.channels[channel]
	return w.Available && c != nil && c.available && c.assigned < c.capacity &&
		(snap.ws.MultiTaskEnabled || w.ActiveTasks == 0)
}

// countRoom counts, per task channel, the workers with room on it.
func (snap *snapshot) countRoom() {
	snap.room = map[string]int{}
	for _, w := range snap.workers {
		for ch := range w.channels {
			if snap.hasRoom(w, ch) {
				snap.room[ch]++
			}
		}
	}
}

func (q *queueView) matches(w *workerView) bool {
	m, ok := q.match[w.SID]
	if !ok {
		m = q.expr.Eval(workerEnv(w))
		q.match[w.SID] = m
	}
	return m
}

// reserved records a reservation in the snapshot: less room, and the
// worker is now the most recently busy.
func (snap *snapshot) reserved(w *workerView, channel string, now int64) {
	before := make(map[string]bool, len(w.channels))
	for ch := range w.channels {
		before[ch] = snap.hasRoom(w, ch)
	}
	w.channels[channel].assigned++
	w.ActiveTasks++
	w.IdleSince = now
	for ch, had := range before {
		if had && !snap.hasRoom(w, ch) {
			snap.room[ch]--
		}
	}
	i := slices.Index(snap.workers, w)
	snap.workers = append(append(snap.workers[:i:i], snap.workers[i+1:]...), w)
}

// state returns the workspace's snapshot, read again when asked to, when
// it is older than Sweep (other nodes change workers too), or never read.
func (s *Service) state(ctx context.Context, ws string, reload bool) (*snapshot, error) {
	st := s.states[ws]
	if st == nil || reload || time.Since(st.loadedAt) > s.opts.Sweep {
		snap, err := s.snapshot(ctx, ws)
		if err != nil {
			delete(s.states, ws)
			return nil, err
		}
		st = &wsState{snap: snap, loadedAt: time.Now()}
		s.states[ws] = st
	}
	return st.snap, nil
}

// process does what was asked of one workspace: re-read changed workers,
// then either a full pass or just the new tasks.
func (s *Service) process(ctx context.Context, ws string, w *work) error {
	snap, err := s.state(ctx, ws, w.reload)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the workspace was deleted
	}
	if err != nil {
		return err
	}
	for sid := range w.workers {
		if err := s.refreshWorker(ctx, snap, sid); err != nil {
			return err
		}
	}
	if w.full {
		return s.pass(ctx, snap)
	}
	return s.assignTasks(ctx, snap, w.tasks)
}

// assignTasks tries the given tasks (new or re-routed) at once.
func (s *Service) assignTasks(ctx context.Context, snap *snapshot, sids map[string]bool) error {
	ids := make([]any, 0, len(sids))
	for sid := range sids {
		ids = append(ids, sid)
	}
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 500)]
		ids = ids[len(batch):]
		tasks, err := store.QueryAll(ctx, s.db, "SELECT "+taskBaseCols+" FROM tr_tasks t WHERE t.assignment_status = ? AND t.sid IN (?"+
			strings.Repeat(", ?", len(batch)-1)+")", scanTaskBase, append([]any{StatusPending}, batch...)...)
		if err != nil {
			return err
		}
		if err := s.assignAll(ctx, snap, tasks, nil); err != nil {
			return err
		}
	}
	return nil
}

// pass assigns every pending task that a worker with room could take.
func (s *Service) pass(ctx context.Context, snap *snapshot) error {
	if err := s.advanceDueSteps(ctx, snap); err != nil {
		return err
	}
	queues := snap.queuesWithRoom()
	if len(queues) == 0 {
		return nil
	}
	tasks, err := store.QueryAll(ctx, s.db, "SELECT "+taskBaseCols+` FROM tr_tasks t WHERE t.workspace_sid = ? AND t.assignment_status = ?
		AND t.task_queue_sid IN (?`+strings.Repeat(", ?", len(queues)-1)+`)
		ORDER BY t.step_priority DESC, t.virtual_start_time ASC, t.seq ASC LIMIT `+strconv.Itoa(maxPassTasks),
		scanTaskBase, append([]any{snap.ws.SID, StatusPending}, queues...)...)
	if err != nil || len(tasks) == 0 {
		return err
	}
	excluded, err := s.excludedWorkers(ctx, snap.ws.SID)
	if err != nil {
		return err
	}
	return s.assignAll(ctx, snap, tasks, excluded)
}

// queuesWithRoom lists the queues that match some worker with room.
func (snap *snapshot) queuesWithRoom() []any {
	var out []any
	for sid, q := range snap.queues {
		for _, w := range snap.workers {
			if snap.anyChannelRoom(w) && q.matches(w) {
				out = append(out, sid)
				break
			}
		}
	}
	return out
}

func (snap *snapshot) anyChannelRoom(w *workerView) bool {
	for ch := range w.channels {
		if snap.hasRoom(w, ch) {
			return true
		}
	}
	return false
}

// assignAll serves tasks in priority and age order while there is room.
func (s *Service) assignAll(ctx context.Context, snap *snapshot, tasks []Task, excluded map[string]map[string]bool) error {
	if excluded == nil && len(tasks) > 0 {
		var err error
		if excluded, err = s.excludedFor(ctx, tasks); err != nil {
			return err
		}
	}
	snap.sortTasks(tasks)
	noMatch := map[string]bool{}
	for i := range tasks {
		if ctx.Err() != nil {
			return nil
		}
		if snap.room[tasks[i].ChannelSID] == 0 {
			continue
		}
		if err := s.assignOne(ctx, snap, &tasks[i], excluded[tasks[i].SID], noMatch); err != nil {
			return err
		}
	}
	return nil
}

// sortTasks orders tasks as they should be served: higher priority first,
// then by age, oldest first (FIFO) or newest first (a LIFO queue, or a
// LIFO workspace between queues).
func (snap *snapshot) sortTasks(tasks []Task) {
	lifo := func(a, b *Task) bool {
		if a.QueueSID == b.QueueSID {
			q := snap.queues[a.QueueSID]
			return q != nil && q.TaskOrder == "LIFO"
		}
		return snap.ws.PrioritizeQueueOrder == "LIFO"
	}
	sort.SliceStable(tasks, func(i, j int) bool {
		a, b := &tasks[i], &tasks[j]
		if a.StepPriority != b.StepPriority {
			return a.StepPriority > b.StepPriority
		}
		if a.VirtualStart == b.VirtualStart {
			return a.Seq < b.Seq
		}
		if lifo(a, b) {
			return a.VirtualStart > b.VirtualStart
		}
		return a.VirtualStart < b.VirtualStart
	})
}

// excludedFor maps each of tasks to the workers that rejected it.
func (s *Service) excludedFor(ctx context.Context, tasks []Task) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	for start := 0; start < len(tasks); start += 500 {
		batch := tasks[start:min(len(tasks), start+500)]
		args := []any{ResRejected}
		for _, t := range batch {
			args = append(args, t.SID)
		}
		rows, err := store.QueryAll(ctx, s.db, "SELECT task_sid || ' ' || worker_sid FROM tr_reservations WHERE status = ? AND task_sid IN (?"+
			strings.Repeat(", ?", len(batch)-1)+")", scanString, args...)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			task, worker, _ := strings.Cut(r, " ")
			if out[task] == nil {
				out[task] = map[string]bool{}
			}
			out[task][worker] = true
		}
	}
	return out, nil
}

// excludedWorkers maps each pending task to the workers that rejected
// it: the engine does not offer it to them again. (A worker whose
// reservation timed out is moved to the timeout activity instead, and may
// get the task again once available.)
func (s *Service) excludedWorkers(ctx context.Context, wsSID string) (map[string]map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT r.task_sid, r.worker_sid FROM tr_reservations r JOIN tr_tasks t ON t.sid = r.task_sid
		WHERE t.workspace_sid = ? AND t.assignment_status = ? AND r.status = ?`, wsSID, StatusPending, ResRejected)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]bool{}
	for rows.Next() {
		var t, w string
		if err := rows.Scan(&t, &w); err != nil {
			return nil, err
		}
		if out[t] == nil {
			out[t] = map[string]bool{}
		}
		out[t][w] = true
	}
	return out, rows.Err()
}

// assignOne tries to reserve one task; a worker that changed under the
// engine is re-read and the match tried again.
func (s *Service) assignOne(ctx context.Context, snap *snapshot, t *Task, excluded map[string]bool, noMatch map[string]bool) error {
	wf, ok := snap.workflows[t.WorkflowSID]
	if !ok || t.FilterIdx == unroutedIdx {
		return nil
	}
	cfg, err := s.cache.config(wf.Configuration)
	if err != nil {
		return nil
	}
	step, ok := cfg.Step(t.FilterIdx, t.TargetIdx)
	q := snap.queues[t.QueueSID]
	if !ok || q == nil {
		return nil
	}
	// Tasks alike (same queue, channel and a target that does not read the
	// task) find the same workers: once one found none, the rest skip.
	key := ""
	if len(excluded) == 0 && !readsTask(step) {
		key = q.SID + "|" + t.ChannelSID + "|" + exprSource(step.Expression)
		if noMatch[key] {
			return s.maybeSkip(ctx, snap, t, cfg, step, q)
		}
	}
	var attrs map[string]any
	if step.Expression != nil || step.SkipIf != nil {
		attrs = parseAttributes(t.Attributes)
	}
	for attempt := 0; attempt < 3; attempt++ {
		w := snap.pick(t, attrs, q, step, excluded)
		if w == nil {
			if key != "" {
				noMatch[key] = true
			}
			return s.maybeSkip(ctx, snap, t, cfg, step, q)
		}
		err := s.reserve(ctx, snap, t, w, q, wf)
		switch {
		case err == nil, errors.Is(err, errTaskGone):
			return nil
		case errors.Is(err, errWorkerStale):
			if err := s.refreshWorker(ctx, snap, w.SID); err != nil {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

func readsTask(step Target) bool {
	reads := false
	if step.Expression != nil {
		step.Expression.Keys(func(p []string) { reads = reads || p[0] == "task" })
	}
	return reads
}

func exprSource(e *Expr) string {
	if e == nil {
		return ""
	}
	return e.String()
}

// pick chooses the eligible worker idle longest (after the target's
// order_by keys, when it has them).
func (snap *snapshot) pick(t *Task, attrs map[string]any, q *queueView, step Target, excluded map[string]bool) *workerView {
	var cands []*workerView
	for _, w := range snap.workers {
		if excluded[w.SID] || !snap.hasRoom(w, t.ChannelSID) || !q.matches(w) {
			continue
		}
		if step.Expression != nil && !step.Expression.Eval(targetEnv(w, attrs)) {
			continue
		}
		if len(step.OrderBy) == 0 {
			return w
		}
		cands = append(cands, w)
	}
	if len(cands) == 0 {
		return nil
	}
	sort.SliceStable(cands, func(i, j int) bool { return orderLess(step.OrderBy, cands[i], cands[j]) })
	return cands[0]
}

func orderLess(keys []OrderKey, a, b *workerView) bool {
	for _, k := range keys {
		va, _ := lookup(a.attrs, k.Path)
		vb, _ := lookup(b.attrs, k.Path)
		c, ok := compare(va, vb)
		if !ok || c == 0 {
			continue
		}
		return (c < 0) != k.Desc
	}
	return false
}

// maybeSkip moves a task past a target whose skip_if holds now that no
// worker could be reserved.
func (s *Service) maybeSkip(ctx context.Context, snap *snapshot, t *Task, cfg *WorkflowConfig, step Target, q *queueView) error {
	if step.SkipIf == nil {
		return nil
	}
	attrs := parseAttributes(t.Attributes)
	counts := map[string]int{}
	for _, w := range snap.workers {
		if !q.matches(w) || (step.Expression != nil && !step.Expression.Eval(targetEnv(w, attrs))) {
			continue
		}
		if w.Available {
			counts["available"]++
		} else {
			counts["unavailable"]++
		}
		counts[w.ActivitySID]++
		counts[w.ActivityName]++
	}
	if !step.SkipIf.Eval(skipEnv(counts, attrs)) {
		return nil
	}
	return s.advanceStep(ctx, t.SID, t.Revision, cfg)
}

// advanceDueSteps moves tasks whose target timed out to their next target.
func (s *Service) advanceDueSteps(ctx context.Context, snap *snapshot) error {
	due, err := store.QueryAll(ctx, s.db, "SELECT "+taskBaseCols+` FROM tr_tasks t WHERE t.workspace_sid = ? AND t.assignment_status = ?
		AND t.step_deadline > 0 AND t.step_deadline <= ? LIMIT 1000`, scanTaskBase, snap.ws.SID, StatusPending, store.Now())
	if err != nil {
		return err
	}
	for _, t := range due {
		wf, ok := snap.workflows[t.WorkflowSID]
		if !ok {
			continue
		}
		cfg, err := s.cache.config(wf.Configuration)
		if err != nil {
			continue
		}
		if err := s.advanceStep(ctx, t.SID, t.Revision, cfg); err != nil {
			return err
		}
	}
	return nil
}

// advanceStep moves a pending task to its next routing step, with the
// queue events, and asks for another pass.
func (s *Service) advanceStep(ctx context.Context, taskSID string, revision int64, cfg *WorkflowConfig) error {
	err := s.write(ctx, func(q store.Querier, fx *effects) error {
		t, err := lockTask(ctx, q, taskSID)
		if err != nil {
			return err
		}
		if t.Status != StatusPending || t.Revision != revision {
			return errTaskGone
		}
		oldQueue := t.QueueSID
		now := store.Now()
		last := nextStep(&t, cfg, now)
		if _, err := saveRouting(ctx, q, &t, now); err != nil {
			return err
		}
		if err := s.taskEvent(ctx, q, fx, "task-queue.timeout", Task{SID: t.SID, AccountSID: t.AccountSID,
			WorkspaceSID: t.WorkspaceSID, WorkflowSID: t.WorkflowSID, QueueSID: oldQueue, Attributes: t.Attributes,
			Created: t.Created, Status: t.Status}, nil, nil); err != nil {
			return err
		}
		if last {
			if err := s.taskEvent(ctx, q, fx, "workflow.timeout", t, nil, nil); err != nil {
				return err
			}
		}
		if t.QueueSID != oldQueue {
			if err := s.taskEvent(ctx, q, fx, "task-queue.moved", t, nil, map[string]any{"task_queue_moved_from_sid": oldQueue}); err != nil {
				return err
			}
		}
		fx.statsChanged(t.AccountSID, t.WorkspaceSID)
		fx.kick(t.WorkspaceSID)
		return nil
	})
	if errors.Is(err, errTaskGone) {
		return nil
	}
	return err
}

// reserve reserves task t to worker w in one transaction. Every fact the
// in-memory match relied on is re-checked by a conditional UPDATE under
// the row's lock: the task is still pending at the same revision, the
// channel still has room, the worker is still available with the same
// attributes. Lock order: task, channel, worker, (new reservation). On
// PostgreSQL an UPDATE that meets a row another transaction holds waits
// for it and re-checks its WHERE clause on the committed row, so two nodes
// racing for one task or one worker's last slot cannot both win.
func (s *Service) reserve(ctx context.Context, snap *snapshot, t *Task, w *workerView, q *queueView, wf Workflow) error {
	now := store.Now()
	r := Reservation{SID: rest.NewSID("WR"), AccountSID: t.AccountSID, WorkspaceSID: t.WorkspaceSID, TaskSID: t.SID,
		WorkerSID: w.SID, WorkerName: w.FriendlyName, ChannelSID: t.ChannelSID, Status: ResPending,
		TimeoutAt: now + int64(wf.ReservationTimeout)*1000, Created: now, Updated: now}
	var worker Worker
	err := s.write(ctx, func(tx store.Querier, fx *effects) error {
		// The task first (lock order): still pending, at the revision matched.
		n, err := exec(ctx, tx, `UPDATE tr_tasks SET assignment_status = ?, revision = revision + 1, date_updated = ?
			WHERE sid = ? AND assignment_status = ? AND revision = ?`, StatusReserved, now, t.SID, StatusPending, t.Revision)
		if err != nil {
			return err
		}
		if n == 0 {
			return errTaskGone
		}
		cur := *t
		cur.Status, cur.Updated, cur.Revision = StatusReserved, now, t.Revision+1
		cur.QueueName, cur.ChannelUniqueName, cur.WorkflowName = q.FriendlyName, snap.channels[t.ChannelSID], wf.FriendlyName
		n, err = exec(ctx, tx, `UPDATE tr_worker_channels SET assigned = assigned + 1, date_updated = ?
			WHERE worker_sid = ? AND task_channel_sid = ? AND available = ? AND assigned < capacity`, now, w.SID, t.ChannelSID, true)
		if err != nil || n == 0 {
			return orStale(err)
		}
		n, err = exec(ctx, tx, `UPDATE tr_workers SET active_tasks = active_tasks + 1, idle_since = ?
			WHERE sid = ? AND available = ? AND revision = ? AND (active_tasks = 0 OR ?)`,
			now, w.SID, true, w.Revision, snap.ws.MultiTaskEnabled)
		if err != nil || n == 0 {
			return orStale(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tr_reservations (sid, account_sid, workspace_sid, task_sid, worker_sid, worker_name,
			task_channel_sid, status, timeout_at, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.SID, r.AccountSID, r.WorkspaceSID, r.TaskSID, r.WorkerSID, r.WorkerName, r.ChannelSID, r.Status, r.TimeoutAt, now, now); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errTaskGone // another live reservation exists: the unique index said no
			}
			return err
		}
		if err := s.taskEvent(ctx, tx, fx, "reservation.created", cur, &r, nil); err != nil {
			return err
		}
		s.pushReservation(fx, "reservation.created", r, cur)
		worker = w.Worker
		if q.ReservationActivitySID != "" && q.ReservationActivitySID != w.ActivitySID {
			if act, err := s.Activity(ctx, t.AccountSID, t.WorkspaceSID, q.ReservationActivitySID); err == nil {
				if worker, err = s.setActivity(ctx, tx, fx, w.Worker, act); err != nil {
					return err
				}
			}
		}
		fx.statsChanged(t.AccountSID, t.WorkspaceSID)
		if wf.AssignmentCallbackURL != "" {
			fx.assigns = append(fx.assigns, assignCall{task: cur, reservation: r, worker: worker, workflow: wf})
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.reservations.Add(1)
	if s.onReserved != nil {
		s.onReserved(t.Attributes)
	}
	snap.reserved(w, t.ChannelSID, now)
	if worker.Revision != w.Revision {
		w.Worker.ActivitySID, w.Worker.ActivityName, w.Worker.Available, w.Worker.Revision =
			worker.ActivitySID, worker.ActivityName, worker.Available, worker.Revision
		snap.countRoom()
	}
	return nil
}

func orStale(err error) error {
	if err != nil {
		return err
	}
	return errWorkerStale
}

// assignmentCallback posts a new reservation to the workflow's
// AssignmentCallbackUrl (then its fallback); an answer of
// {"instruction":"accept"} accepts the reservation.
func (s *Service) assignmentCallback(a assignCall) {
	if s.hooks == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := url.Values{"AccountSid": {a.task.AccountSID}, "WorkspaceSid": {a.task.WorkspaceSID}, "WorkflowSid": {a.workflow.SID},
		"TaskQueueSid": {a.task.QueueSID}, "TaskSid": {a.task.SID}, "ReservationSid": {a.reservation.SID},
		"WorkerSid": {a.worker.SID}, "TaskAttributes": {a.task.Attributes}, "WorkerAttributes": {a.worker.Attributes},
		"TaskAge": {strconv.FormatInt(max(0, store.Now()-a.task.Created)/1000, 10)}, "TaskPriority": {strconv.Itoa(a.task.Priority)},
		"TaskChannelUniqueName": {a.task.ChannelUniqueName}}
	var res *webhook.Response
	var err error
	for _, u := range []string{a.workflow.AssignmentCallbackURL, a.workflow.FallbackCallbackURL} {
		if u == "" {
			continue
		}
		if res, err = s.hooks.Call(ctx, webhook.Request{AccountSID: a.task.AccountSID, URL: u, Params: p, Retries: 1}); err == nil {
			break
		}
	}
	if err != nil || res == nil {
		s.log.WarnContext(ctx, "assignment callback failed", slog.String("reservation_sid", a.reservation.SID), slog.Any("error", err))
		return
	}
	var answer struct {
		Instruction string `json:"instruction"`
	}
	if json.Unmarshal(res.Body, &answer) != nil || answer.Instruction != "accept" {
		return
	}
	if _, err := s.UpdateReservation(ctx, a.task.AccountSID, a.task.WorkspaceSID, a.task.SID, a.reservation.SID,
		ReservationUpdate{Status: ResAccepted}); err != nil {
		s.log.WarnContext(ctx, "assignment callback accept failed", slog.String("reservation_sid", a.reservation.SID),
			slog.String("error", fmt.Sprint(err)))
	}
}
