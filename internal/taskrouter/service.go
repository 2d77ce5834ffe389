// Package taskrouter is TaskRouter v1: workspaces, activities, task
// channels, workers and their channels, task queues, workflows, tasks,
// reservations, events and statistics, the expression language, and the
// assignment engine that reserves each task to the longest-idle eligible
// worker.
//
// The database is the truth. Every rule that must hold across nodes (a
// task reserved to at most one worker, a worker within its capacity) is
// held by conditional UPDATEs under row locks (see store.go for the lock
// order), so any number of nodes may run the engine on one PostgreSQL.
// Deadlines (reservation timeouts, target timeouts, task TTLs) are columns
// that a timer loop reads, so they survive restarts.
package taskrouter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/webhook"
)

// ErrNotFound: no such resource in this account and workspace.
var ErrNotFound = errors.New("taskrouter: not found")

// Options tune a Service; zero values take defaults.
type Options struct {
	// BaseURL is the public base URL resource urls are built on.
	BaseURL string
	// Tick is how often the timer loop looks for due deadlines (default 200ms).
	Tick time.Duration
	// Sweep is how often every workspace with pending tasks is re-examined,
	// to pick up changes other nodes made (default 2s).
	Sweep time.Duration
}

// Service holds TaskRouter's rules and runs its engine.
type Service struct {
	db    *store.DB
	bus   bus.Bus
	hooks *webhook.Client
	log   *slog.Logger
	opts  Options

	mu      sync.Mutex
	work    map[string]*work // what the engine has been asked to look at, by workspace
	kickCh  chan struct{}
	ended   []func(ctx context.Context, accountSID, workspaceSID, taskSID, status, attributes string)
	cancel  context.CancelFunc
	done    chan struct{}
	cache   *parseCache
	states  map[string]*wsState // the engine's cached snapshots (engine goroutine only)
	wsCache sync.Map            // workspace sid -> cachedWorkspace (event callback settings)

	reservations atomic.Int64            // made by this node's engine (tests and benchmarks read it)
	onReserved   func(attributes string) // benchmarks: called after each reservation commits
}

// New builds a Service. Call Start to run the engine and Stop to end it.
func New(db *store.DB, b bus.Bus, hooks *webhook.Client, logger *slog.Logger, opts Options) *Service {
	if opts.Tick <= 0 {
		opts.Tick = 200 * time.Millisecond
	}
	if opts.Sweep <= 0 {
		opts.Sweep = 2 * time.Second
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{db: db, bus: b, hooks: hooks, log: logger.With("component", "taskrouter"), opts: opts,
		work: map[string]*work{}, kickCh: make(chan struct{}, 1), cache: newParseCache(), states: map[string]*wsState{}}
}

// SetBaseURL sets the public base URL (app calls it when mounting routes).
func (s *Service) SetBaseURL(u string) { s.opts.BaseURL = u }

// OnTaskEnded registers fn, called after commit whenever a task is
// completed, canceled (also by its TTL) or deleted ("deleted").
func (s *Service) OnTaskEnded(fn func(ctx context.Context, accountSID, workspaceSID, taskSID, status, attributes string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = append(s.ended, fn)
}

// Start runs the assignment engine and the timer loop until Stop.
func (s *Service) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		s.run(ctx)
	}()
}

// Stop ends the engine and waits for it.
func (s *Service) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel = nil
}

// work is what the engine has been asked to do in one workspace.
type work struct {
	full    bool            // a pass over every pending task that some worker could take
	reload  bool            // re-read the whole snapshot first (queues, workflows or workers changed)
	tasks   map[string]bool // new or re-routed tasks to try at once
	workers map[string]bool // workers to re-read before a full pass
}

// kickReq is one request for the engine.
type kickReq struct {
	ws, task, worker string
	full, reload     bool
}

// request records a request and wakes the engine.
func (s *Service) request(k kickReq) {
	s.mu.Lock()
	w := s.work[k.ws]
	if w == nil {
		w = &work{tasks: map[string]bool{}, workers: map[string]bool{}}
		s.work[k.ws] = w
	}
	w.full = w.full || k.full || k.reload || k.worker != ""
	w.reload = w.reload || k.reload
	if k.task != "" {
		w.tasks[k.task] = true
	}
	if k.worker != "" {
		w.workers[k.worker] = true
	}
	s.mu.Unlock()
	select {
	case s.kickCh <- struct{}{}:
	default:
	}
}

// kick asks for a full pass over a workspace.
func (s *Service) kick(ws string) { s.request(kickReq{ws: ws, full: true}) }

// kickReload asks for a full pass on a freshly read snapshot.
func (s *Service) kickReload(ws string) { s.request(kickReq{ws: ws, reload: true}) }

func (s *Service) takeWork() map[string]*work {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.work
	s.work = map[string]*work{}
	return out
}

// ---- effects: what a transaction causes, applied after it commits ----

type push struct {
	subject string
	msg     any
}

type endedTask struct {
	accountSID, workspaceSID, taskSID, status, attributes string
}

type assignCall struct {
	task        Task
	reservation Reservation
	worker      Worker
	workflow    Workflow
}

type effects struct {
	events  []Event
	pushes  []push
	kicks   []kickReq
	stats   map[string]string // workspace -> account
	ended   []endedTask
	assigns []assignCall
}

// kick asks for a full pass after commit.
func (fx *effects) kick(ws string) { fx.kicks = append(fx.kicks, kickReq{ws: ws, full: true}) }

// kickTask asks the engine to try one task at once after commit.
func (fx *effects) kickTask(ws, task string) {
	fx.kicks = append(fx.kicks, kickReq{ws: ws, task: task})
}

// kickWorker asks the engine to re-read a worker and make a full pass.
func (fx *effects) kickWorker(ws, worker string) {
	fx.kicks = append(fx.kicks, kickReq{ws: ws, worker: worker})
}

// kickReload asks for a full pass on a freshly read snapshot.
func (fx *effects) kickReload(ws string) { fx.kicks = append(fx.kicks, kickReq{ws: ws, reload: true}) }

func (fx *effects) statsChanged(account, ws string) {
	if fx.stats == nil {
		fx.stats = map[string]string{}
	}
	fx.stats[ws] = account
}

// write runs fn in a transaction and applies its effects after commit.
func (s *Service) write(ctx context.Context, fn func(q store.Querier, fx *effects) error) error {
	var fx *effects
	err := s.db.InTx(ctx, func(q store.Querier) error {
		fx = &effects{} // a retried transaction starts afresh
		if err := fn(q, fx); err != nil {
			return err
		}
		return insertEvents(ctx, q, fx.events)
	})
	if err != nil {
		return err
	}
	s.apply(ctx, fx)
	return nil
}

func (s *Service) apply(ctx context.Context, fx *effects) {
	for _, p := range fx.pushes {
		s.publish(ctx, p.subject, p.msg)
	}
	s.publishWorkspaces(ctx, fx)
	for _, e := range fx.events {
		s.deliverEvent(ctx, e)
	}
	for _, a := range fx.assigns {
		go s.assignmentCallback(a)
	}
	if len(fx.ended) > 0 {
		s.mu.Lock()
		fns := append([]func(context.Context, string, string, string, string, string){}, s.ended...)
		s.mu.Unlock()
		for _, t := range fx.ended {
			for _, fn := range fns {
				fn(ctx, t.accountSID, t.workspaceSID, t.taskSID, t.status, t.attributes)
			}
		}
	}
	for _, k := range fx.kicks {
		s.request(k)
	}
}

// ---- workspaces ----

// WorkspaceParams are a workspace's settable fields (nil: unchanged).
type WorkspaceParams struct {
	FriendlyName         *string
	EventCallbackURL     *string
	EventsFilter         *string
	MultiTaskEnabled     *bool
	PrioritizeQueueOrder *string
	DefaultActivitySID   *string
	TimeoutActivitySID   *string
	Template             string
}

// defaultActivities are created in every workspace (Flex's set); the first
// is the default and the timeout activity.
var defaultActivities = []struct {
	name      string
	available bool
}{{"Offline", false}, {"Available", true}, {"Unavailable", false}, {"Break", false}}

// defaultTaskChannels are created in every workspace.
var defaultTaskChannels = []string{"default", "voice", "chat", "sms", "video", "email"}

// CreateWorkspace creates a workspace with its default activities and
// task channels (and, for Template FIFO, a queue and a workflow).
func (s *Service) CreateWorkspace(ctx context.Context, accountSID string, p WorkspaceParams) (Workspace, error) {
	now := store.Now()
	ws := Workspace{SID: rest.NewSID("WS"), AccountSID: accountSID, FriendlyName: deref(p.FriendlyName),
		EventCallbackURL: deref(p.EventCallbackURL), EventsFilter: deref(p.EventsFilter), MultiTaskEnabled: true,
		PrioritizeQueueOrder: "FIFO", Created: now, Updated: now}
	if p.MultiTaskEnabled != nil {
		ws.MultiTaskEnabled = *p.MultiTaskEnabled
	}
	if p.PrioritizeQueueOrder != nil && *p.PrioritizeQueueOrder != "" {
		ws.PrioritizeQueueOrder = *p.PrioritizeQueueOrder
	}
	err := s.write(ctx, func(q store.Querier, fx *effects) error {
		if _, err := q.ExecContext(ctx, `INSERT INTO tr_workspaces (sid, account_sid, friendly_name, event_callback_url,
			events_filter, multi_task_enabled, prioritize_queue_order, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ws.SID, accountSID, ws.FriendlyName, ws.EventCallbackURL, ws.EventsFilter, ws.MultiTaskEnabled,
			ws.PrioritizeQueueOrder, now, now); err != nil {
			return fmt.Errorf("taskrouter: insert workspace: %w", err)
		}
		for i, a := range defaultActivities {
			sid := rest.NewSID("WA")
			if _, err := q.ExecContext(ctx, `INSERT INTO tr_activities (sid, account_sid, workspace_sid, friendly_name,
				available, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?)`, sid, accountSID, ws.SID, a.name, a.available, now, now); err != nil {
				return err
			}
			if i == 0 {
				ws.DefaultActivitySID, ws.TimeoutActivitySID = sid, sid
			}
		}
		for _, name := range defaultTaskChannels {
			if _, err := q.ExecContext(ctx, `INSERT INTO tr_task_channels (sid, account_sid, workspace_sid, unique_name,
				friendly_name, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				rest.NewSID("TC"), accountSID, ws.SID, name, titleCase(name), now, now); err != nil {
				return err
			}
		}
		if _, err := q.ExecContext(ctx, "UPDATE tr_workspaces SET default_activity_sid = ?, timeout_activity_sid = ? WHERE sid = ?",
			ws.DefaultActivitySID, ws.TimeoutActivitySID, ws.SID); err != nil {
			return err
		}
		if p.Template == "FIFO" {
			return s.fifoTemplate(ctx, q, ws)
		}
		return nil
	})
	if err != nil {
		return ws, err
	}
	return s.Workspace(ctx, accountSID, ws.SID)
}

// fifoTemplate adds Twilio's FIFO template: one queue for everyone and a
// workflow that sends every task there.
func (s *Service) fifoTemplate(ctx context.Context, q store.Querier, ws Workspace) error {
	now := store.Now()
	queueSID := rest.NewSID("WQ")
	if _, err := q.ExecContext(ctx, `INSERT INTO tr_task_queues (sid, account_sid, workspace_sid, friendly_name,
		target_workers, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		queueSID, ws.AccountSID, ws.SID, "Sample Queue", "1==1", now, now); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`{"task_routing":{"filters":[],"default_filter":{"queue":"%s"}}}`, queueSID)
	_, err := q.ExecContext(ctx, `INSERT INTO tr_workflows (sid, account_sid, workspace_sid, friendly_name,
		configuration, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		rest.NewSID("WW"), ws.AccountSID, ws.SID, "Default Fifo Workflow", cfg, now, now)
	return err
}

func titleCase(s string) string {
	if s == "sms" {
		return "SMS"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// Workspace fetches one workspace of the account.
func (s *Service) Workspace(ctx context.Context, accountSID, sid string) (Workspace, error) {
	w, err := getOne(ctx, s.db, "SELECT "+workspaceCols+" FROM tr_workspaces w WHERE w.sid = ? AND w.account_sid = ?",
		scanWorkspace, sid, accountSID)
	return w, notFound(err)
}

// Workspaces lists an account's workspaces.
func (s *Service) Workspaces(ctx context.Context, accountSID, friendlyName string, page rest.Page) ([]Workspace, error) {
	f := filter{}
	f.add("w.account_sid = ?", accountSID)
	if friendlyName != "" {
		f.add("w.friendly_name = ?", friendlyName)
	}
	return listRows(ctx, s.db, workspaceCols, "tr_workspaces w", "w.seq", f, page.After, page.Before, page.Fetch(), scanWorkspace)
}

// UpdateWorkspace changes a workspace.
func (s *Service) UpdateWorkspace(ctx context.Context, accountSID, sid string, p WorkspaceParams) (Workspace, error) {
	ws, err := s.Workspace(ctx, accountSID, sid)
	if err != nil {
		return ws, err
	}
	for _, a := range []struct {
		name string
		sid  *string
	}{{"DefaultActivitySid", p.DefaultActivitySID}, {"TimeoutActivitySid", p.TimeoutActivitySID}} {
		if a.sid != nil {
			if _, err := s.Activity(ctx, accountSID, sid, *a.sid); err != nil {
				return ws, rest.InvalidParam(a.name, "%s is not an activity of this workspace", *a.sid)
			}
		}
	}
	set(&ws.FriendlyName, p.FriendlyName)
	set(&ws.EventCallbackURL, p.EventCallbackURL)
	set(&ws.EventsFilter, p.EventsFilter)
	set(&ws.MultiTaskEnabled, p.MultiTaskEnabled)
	set(&ws.PrioritizeQueueOrder, p.PrioritizeQueueOrder)
	set(&ws.DefaultActivitySID, p.DefaultActivitySID)
	set(&ws.TimeoutActivitySID, p.TimeoutActivitySID)
	_, err = s.db.ExecContext(ctx, `UPDATE tr_workspaces SET friendly_name = ?, event_callback_url = ?, events_filter = ?,
		multi_task_enabled = ?, prioritize_queue_order = ?, default_activity_sid = ?, timeout_activity_sid = ?, date_updated = ?
		WHERE sid = ?`, ws.FriendlyName, ws.EventCallbackURL, ws.EventsFilter, ws.MultiTaskEnabled,
		ws.PrioritizeQueueOrder, ws.DefaultActivitySID, ws.TimeoutActivitySID, store.Now(), sid)
	if err != nil {
		return ws, fmt.Errorf("taskrouter: update workspace: %w", err)
	}
	s.wsCache.Delete(sid)
	s.kickReload(sid)
	return s.Workspace(ctx, accountSID, sid)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// DeleteWorkspace deletes a workspace and everything in it.
func (s *Service) DeleteWorkspace(ctx context.Context, accountSID, sid string) error {
	return s.db.InTx(ctx, func(q store.Querier) error {
		// Children without a foreign key to the workspace go first.
		for _, t := range []string{"tr_reservations", "tr_worker_channels"} {
			if _, err := q.ExecContext(ctx, "DELETE FROM "+t+" WHERE workspace_sid = ? AND account_sid = ?", sid, accountSID); err != nil {
				return err
			}
		}
		for _, t := range []string{"tr_events", "tr_tasks", "tr_workers", "tr_workflows", "tr_task_queues", "tr_task_channels", "tr_activities"} {
			if _, err := q.ExecContext(ctx, "DELETE FROM "+t+" WHERE workspace_sid = ? AND account_sid = ?", sid, accountSID); err != nil {
				return err
			}
		}
		n, err := exec(ctx, q, "DELETE FROM tr_workspaces WHERE sid = ? AND account_sid = ?", sid, accountSID)
		if err == nil && n == 0 {
			err = ErrNotFound
		}
		return err
	})
}

// ---- activities ----

// CreateActivity adds an activity.
func (s *Service) CreateActivity(ctx context.Context, accountSID, wsSID, name string, available bool) (Activity, error) {
	now := store.Now()
	a := Activity{SID: rest.NewSID("WA"), AccountSID: accountSID, WorkspaceSID: wsSID, FriendlyName: name,
		Available: available, Created: now, Updated: now}
	_, err := s.db.ExecContext(ctx, `INSERT INTO tr_activities (sid, account_sid, workspace_sid, friendly_name, available,
		date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?)`, a.SID, accountSID, wsSID, name, available, now, now)
	if errors.Is(err, store.ErrConflict) {
		return a, rest.InvalidParam("FriendlyName", "an activity named %q already exists in this workspace", name)
	}
	if err != nil {
		return a, fmt.Errorf("taskrouter: insert activity: %w", err)
	}
	return s.Activity(ctx, accountSID, wsSID, a.SID)
}

// Activity fetches one activity.
func (s *Service) Activity(ctx context.Context, accountSID, wsSID, sid string) (Activity, error) {
	a, err := getOne(ctx, s.db, "SELECT "+activityCols+" FROM tr_activities WHERE sid = ? AND workspace_sid = ? AND account_sid = ?",
		scanActivity, sid, wsSID, accountSID)
	return a, notFound(err)
}

// Activities lists a workspace's activities.
func (s *Service) Activities(ctx context.Context, accountSID, wsSID, friendlyName string, available *bool, page rest.Page) ([]Activity, error) {
	f := filter{}
	f.add("workspace_sid = ? AND account_sid = ?", wsSID, accountSID)
	if friendlyName != "" {
		f.add("friendly_name = ?", friendlyName)
	}
	if available != nil {
		f.add("available = ?", *available)
	}
	return listRows(ctx, s.db, activityCols, "tr_activities", "seq", f, page.After, page.Before, page.Fetch(), scanActivity)
}

// RenameActivity changes an activity's name.
func (s *Service) RenameActivity(ctx context.Context, accountSID, wsSID, sid, name string) (Activity, error) {
	n, err := exec(ctx, s.db, "UPDATE tr_activities SET friendly_name = ?, date_updated = ? WHERE sid = ? AND workspace_sid = ? AND account_sid = ?",
		name, store.Now(), sid, wsSID, accountSID)
	if errors.Is(err, store.ErrConflict) {
		return Activity{}, rest.InvalidParam("FriendlyName", "an activity named %q already exists in this workspace", name)
	}
	if err != nil {
		return Activity{}, err
	}
	if n == 0 {
		return Activity{}, ErrNotFound
	}
	return s.Activity(ctx, accountSID, wsSID, sid)
}

// DeleteActivity deletes an activity no worker, queue or workspace setting uses.
func (s *Service) DeleteActivity(ctx context.Context, accountSID, wsSID, sid string) error {
	return s.db.InTx(ctx, func(q store.Querier) error {
		var used int
		err := q.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM tr_workers WHERE activity_sid = ?) +
			(SELECT COUNT(*) FROM tr_workspaces WHERE default_activity_sid = ? OR timeout_activity_sid = ?) +
			(SELECT COUNT(*) FROM tr_task_queues WHERE reservation_activity_sid = ? OR assignment_activity_sid = ?)`,
			sid, sid, sid, sid, sid).Scan(&used)
		if err != nil {
			return err
		}
		if used > 0 {
			return rest.BadRequest("Activity %s is in use by a worker, a task queue or the workspace's default or timeout activity", sid)
		}
		n, err := exec(ctx, q, "DELETE FROM tr_activities WHERE sid = ? AND workspace_sid = ? AND account_sid = ?", sid, wsSID, accountSID)
		if err == nil && n == 0 {
			err = ErrNotFound
		}
		return err
	})
}

// ---- task channels ----

// CreateTaskChannel adds a task channel and a worker channel (capacity 1)
// for every worker.
func (s *Service) CreateTaskChannel(ctx context.Context, accountSID, wsSID, uniqueName, friendlyName string, optimized bool) (TaskChannel, error) {
	now := store.Now()
	c := TaskChannel{SID: rest.NewSID("TC")}
	err := s.db.InTx(ctx, func(q store.Querier) error {
		_, err := q.ExecContext(ctx, `INSERT INTO tr_task_channels (sid, account_sid, workspace_sid, unique_name, friendly_name,
			channel_optimized_routing, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.SID, accountSID, wsSID, uniqueName, friendlyName, optimized, now, now)
		if errors.Is(err, store.ErrConflict) {
			return rest.InvalidParam("UniqueName", "a task channel named %q already exists in this workspace", uniqueName)
		}
		if err != nil {
			return err
		}
		workers, err := store.QueryAll(ctx, q, "SELECT sid FROM tr_workers WHERE workspace_sid = ?", scanString, wsSID)
		if err != nil {
			return err
		}
		for _, w := range workers {
			if err := insertWorkerChannel(ctx, q, accountSID, wsSID, w, c.SID, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	s.kickReload(wsSID)
	return s.TaskChannel(ctx, accountSID, wsSID, c.SID)
}

func scanString(r scanner) (string, error) {
	var s string
	return s, r.Scan(&s)
}

// TaskChannel fetches a task channel by SID or unique name.
func (s *Service) TaskChannel(ctx context.Context, accountSID, wsSID, sidOrName string) (TaskChannel, error) {
	c, err := getOne(ctx, s.db, "SELECT "+taskChannelCols+` FROM tr_task_channels
		WHERE (sid = ? OR unique_name = ?) AND workspace_sid = ? AND account_sid = ?`,
		scanTaskChannel, sidOrName, sidOrName, wsSID, accountSID)
	return c, notFound(err)
}

// TaskChannels lists a workspace's task channels.
func (s *Service) TaskChannels(ctx context.Context, accountSID, wsSID string, page rest.Page) ([]TaskChannel, error) {
	f := filter{}
	f.add("workspace_sid = ? AND account_sid = ?", wsSID, accountSID)
	return listRows(ctx, s.db, taskChannelCols, "tr_task_channels", "seq", f, page.After, page.Before, page.Fetch(), scanTaskChannel)
}

// UpdateTaskChannel changes a task channel's name or routing flag.
func (s *Service) UpdateTaskChannel(ctx context.Context, accountSID, wsSID, sid string, name *string, optimized *bool) (TaskChannel, error) {
	c, err := s.TaskChannel(ctx, accountSID, wsSID, sid)
	if err != nil {
		return c, err
	}
	set(&c.FriendlyName, name)
	set(&c.ChannelOptimizedRouting, optimized)
	if _, err := s.db.ExecContext(ctx, "UPDATE tr_task_channels SET friendly_name = ?, channel_optimized_routing = ?, date_updated = ? WHERE sid = ?",
		c.FriendlyName, c.ChannelOptimizedRouting, store.Now(), c.SID); err != nil {
		return c, err
	}
	return s.TaskChannel(ctx, accountSID, wsSID, c.SID)
}

// DeleteTaskChannel deletes a task channel that no task uses.
func (s *Service) DeleteTaskChannel(ctx context.Context, accountSID, wsSID, sid string) error {
	c, err := s.TaskChannel(ctx, accountSID, wsSID, sid)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(q store.Querier) error {
		var n int
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM tr_tasks WHERE task_channel_sid = ?", c.SID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return rest.BadRequest("Task channel %s still has %d tasks; delete them first", c.UniqueName, n)
		}
		if _, err := q.ExecContext(ctx, "DELETE FROM tr_worker_channels WHERE task_channel_sid = ?", c.SID); err != nil {
			return err
		}
		_, err := q.ExecContext(ctx, "DELETE FROM tr_task_channels WHERE sid = ?", c.SID)
		return err
	})
}
