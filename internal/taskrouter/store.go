package taskrouter

import (
	"context"
	"fmt"
	"strings"

	"github.com/parleychat/parley/internal/store"
)

// Lock order, kept by every transaction that writes several of these rows
// (so that two nodes on one PostgreSQL never deadlock):
//
//	task -> reservation -> worker channel -> worker
//
// (Inserting a new reservation locks no existing row, so it may come anywhere.)
//
// The reservation and capacity invariants are held by conditional UPDATEs
// under those row locks: a task goes pending -> reserved only WHERE it is
// pending, a channel's assigned count grows only WHERE assigned <
// capacity, and the unique index tr_reservations_one_live refuses a
// second live reservation for one task.

type scanner = store.Scanner

// Workspace is a TaskRouter workspace.
type Workspace struct {
	Seq                  int64
	SID                  string
	AccountSID           string
	FriendlyName         string
	EventCallbackURL     string
	EventsFilter         string
	MultiTaskEnabled     bool
	PrioritizeQueueOrder string
	DefaultActivitySID   string
	TimeoutActivitySID   string
	DefaultActivityName  string
	TimeoutActivityName  string
	Created, Updated     int64
}

const workspaceCols = `w.seq, w.sid, w.account_sid, w.friendly_name, w.event_callback_url, w.events_filter,
	w.multi_task_enabled, w.prioritize_queue_order, w.default_activity_sid, w.timeout_activity_sid,
	COALESCE((SELECT friendly_name FROM tr_activities a WHERE a.sid = w.default_activity_sid), ''),
	COALESCE((SELECT friendly_name FROM tr_activities a WHERE a.sid = w.timeout_activity_sid), ''),
	w.date_created, w.date_updated`

func scanWorkspace(r scanner) (Workspace, error) {
	var w Workspace
	err := r.Scan(&w.Seq, &w.SID, &w.AccountSID, &w.FriendlyName, &w.EventCallbackURL, &w.EventsFilter,
		&w.MultiTaskEnabled, &w.PrioritizeQueueOrder, &w.DefaultActivitySID, &w.TimeoutActivitySID,
		&w.DefaultActivityName, &w.TimeoutActivityName, &w.Created, &w.Updated)
	return w, store.NoRows(err)
}

// Activity is a worker state; Available ones receive tasks.
type Activity struct {
	Seq              int64
	SID              string
	AccountSID       string
	WorkspaceSID     string
	FriendlyName     string
	Available        bool
	Created, Updated int64
}

const activityCols = "seq, sid, account_sid, workspace_sid, friendly_name, available, date_created, date_updated"

func scanActivity(r scanner) (Activity, error) {
	var a Activity
	err := r.Scan(&a.Seq, &a.SID, &a.AccountSID, &a.WorkspaceSID, &a.FriendlyName, &a.Available, &a.Created, &a.Updated)
	return a, store.NoRows(err)
}

// TaskChannel is a kind of work (chat, voice, ...).
type TaskChannel struct {
	Seq                     int64
	SID                     string
	AccountSID              string
	WorkspaceSID            string
	UniqueName              string
	FriendlyName            string
	ChannelOptimizedRouting bool
	Created, Updated        int64
}

const taskChannelCols = "seq, sid, account_sid, workspace_sid, unique_name, friendly_name, channel_optimized_routing, date_created, date_updated"

func scanTaskChannel(r scanner) (TaskChannel, error) {
	var c TaskChannel
	err := r.Scan(&c.Seq, &c.SID, &c.AccountSID, &c.WorkspaceSID, &c.UniqueName, &c.FriendlyName,
		&c.ChannelOptimizedRouting, &c.Created, &c.Updated)
	return c, store.NoRows(err)
}

// Worker is an agent.
type Worker struct {
	Seq           int64
	SID           string
	AccountSID    string
	WorkspaceSID  string
	FriendlyName  string
	Attributes    string
	ActivitySID   string
	ActivityName  string
	Available     bool
	Revision      int64
	ActiveTasks   int
	IdleSince     int64
	StatusChanged int64
	Created       int64
	Updated       int64
}

const workerCols = `w.seq, w.sid, w.account_sid, w.workspace_sid, w.friendly_name, w.attributes, w.activity_sid,
	COALESCE((SELECT friendly_name FROM tr_activities a WHERE a.sid = w.activity_sid), ''),
	w.available, w.revision, w.active_tasks, w.idle_since, w.date_status_changed, w.date_created, w.date_updated`

func scanWorker(r scanner) (Worker, error) {
	var w Worker
	err := r.Scan(&w.Seq, &w.SID, &w.AccountSID, &w.WorkspaceSID, &w.FriendlyName, &w.Attributes, &w.ActivitySID,
		&w.ActivityName, &w.Available, &w.Revision, &w.ActiveTasks, &w.IdleSince, &w.StatusChanged, &w.Created, &w.Updated)
	return w, store.NoRows(err)
}

// WorkerChannel is a worker's capacity on one task channel.
type WorkerChannel struct {
	Seq                   int64
	SID                   string
	AccountSID            string
	WorkspaceSID          string
	WorkerSID             string
	TaskChannelSID        string
	TaskChannelUniqueName string
	Capacity              int
	Available             bool
	Assigned              int
	Created, Updated      int64
}

const workerChannelCols = `c.seq, c.sid, c.account_sid, c.workspace_sid, c.worker_sid, c.task_channel_sid,
	COALESCE((SELECT unique_name FROM tr_task_channels t WHERE t.sid = c.task_channel_sid), ''),
	c.capacity, c.available, c.assigned, c.date_created, c.date_updated`

func scanWorkerChannel(r scanner) (WorkerChannel, error) {
	var c WorkerChannel
	err := r.Scan(&c.Seq, &c.SID, &c.AccountSID, &c.WorkspaceSID, &c.WorkerSID, &c.TaskChannelSID,
		&c.TaskChannelUniqueName, &c.Capacity, &c.Available, &c.Assigned, &c.Created, &c.Updated)
	return c, store.NoRows(err)
}

// TaskQueue holds tasks for the workers its TargetWorkers expression matches.
type TaskQueue struct {
	Seq                     int64
	SID                     string
	AccountSID              string
	WorkspaceSID            string
	FriendlyName            string
	TargetWorkers           string
	MaxReservedWorkers      int
	TaskOrder               string
	ReservationActivitySID  string
	AssignmentActivitySID   string
	ReservationActivityName string
	AssignmentActivityName  string
	Created, Updated        int64
}

const taskQueueCols = `q.seq, q.sid, q.account_sid, q.workspace_sid, q.friendly_name, q.target_workers,
	q.max_reserved_workers, q.task_order, q.reservation_activity_sid, q.assignment_activity_sid,
	COALESCE((SELECT friendly_name FROM tr_activities a WHERE a.sid = q.reservation_activity_sid), ''),
	COALESCE((SELECT friendly_name FROM tr_activities a WHERE a.sid = q.assignment_activity_sid), ''),
	q.date_created, q.date_updated`

func scanTaskQueue(r scanner) (TaskQueue, error) {
	var q TaskQueue
	err := r.Scan(&q.Seq, &q.SID, &q.AccountSID, &q.WorkspaceSID, &q.FriendlyName, &q.TargetWorkers,
		&q.MaxReservedWorkers, &q.TaskOrder, &q.ReservationActivitySID, &q.AssignmentActivitySID,
		&q.ReservationActivityName, &q.AssignmentActivityName, &q.Created, &q.Updated)
	return q, store.NoRows(err)
}

// Workflow routes tasks to queues by its configuration.
type Workflow struct {
	Seq                   int64
	SID                   string
	AccountSID            string
	WorkspaceSID          string
	FriendlyName          string
	Configuration         string
	AssignmentCallbackURL string
	FallbackCallbackURL   string
	ReservationTimeout    int
	Created, Updated      int64
}

const workflowCols = `seq, sid, account_sid, workspace_sid, friendly_name, configuration, assignment_callback_url,
	fallback_assignment_callback_url, task_reservation_timeout, date_created, date_updated`

func scanWorkflow(r scanner) (Workflow, error) {
	var w Workflow
	err := r.Scan(&w.Seq, &w.SID, &w.AccountSID, &w.WorkspaceSID, &w.FriendlyName, &w.Configuration,
		&w.AssignmentCallbackURL, &w.FallbackCallbackURL, &w.ReservationTimeout, &w.Created, &w.Updated)
	return w, store.NoRows(err)
}

// Task statuses.
const (
	StatusPending   = "pending"
	StatusReserved  = "reserved"
	StatusAssigned  = "assigned"
	StatusWrapping  = "wrapping"
	StatusCompleted = "completed"
	StatusCanceled  = "canceled"
)

// Task is a unit of work waiting for, or held by, a worker.
type Task struct {
	Seq               int64
	SID               string
	AccountSID        string
	WorkspaceSID      string
	WorkflowSID       string
	QueueSID          string
	ChannelSID        string
	Attributes        string
	Priority          int
	Timeout           int
	Status            string
	Reason            string
	FilterIdx         int
	TargetIdx         int
	StepPriority      int
	StepDeadline      int64
	QueueEntered      int64
	ExpiresAt         int64
	VirtualStart      int64
	RoutingTarget     string
	IgnoreCapacity    bool
	Revision          int64
	Created, Updated  int64
	QueueName         string
	ChannelUniqueName string
	WorkflowName      string
}

// taskBaseCols are a task's own columns; taskCols add the names of its
// queue, channel and workflow (the engine fills those from its snapshot).
const taskBaseCols = `t.seq, t.sid, t.account_sid, t.workspace_sid, t.workflow_sid, t.task_queue_sid, t.task_channel_sid,
	t.attributes, t.priority, t.timeout, t.assignment_status, t.reason, t.filter_idx, t.target_idx, t.step_priority,
	t.step_deadline, t.queue_entered, t.expires_at, t.virtual_start_time, t.routing_target, t.ignore_capacity,
	t.revision, t.date_created, t.date_updated`

const taskCols = taskBaseCols + `,
	COALESCE((SELECT friendly_name FROM tr_task_queues q WHERE q.sid = t.task_queue_sid), ''),
	COALESCE((SELECT unique_name FROM tr_task_channels c WHERE c.sid = t.task_channel_sid), ''),
	COALESCE((SELECT friendly_name FROM tr_workflows f WHERE f.sid = t.workflow_sid), '')`

func (t *Task) baseFields() []any {
	return []any{&t.Seq, &t.SID, &t.AccountSID, &t.WorkspaceSID, &t.WorkflowSID, &t.QueueSID, &t.ChannelSID,
		&t.Attributes, &t.Priority, &t.Timeout, &t.Status, &t.Reason, &t.FilterIdx, &t.TargetIdx, &t.StepPriority,
		&t.StepDeadline, &t.QueueEntered, &t.ExpiresAt, &t.VirtualStart, &t.RoutingTarget, &t.IgnoreCapacity,
		&t.Revision, &t.Created, &t.Updated}
}

func scanTask(r scanner) (Task, error) {
	var t Task
	err := r.Scan(append(t.baseFields(), &t.QueueName, &t.ChannelUniqueName, &t.WorkflowName)...)
	return t, store.NoRows(err)
}

func scanTaskBase(r scanner) (Task, error) {
	var t Task
	err := r.Scan(t.baseFields()...)
	return t, store.NoRows(err)
}

// Reservation statuses.
const (
	ResPending   = "pending"
	ResAccepted  = "accepted"
	ResRejected  = "rejected"
	ResTimeout   = "timeout"
	ResCanceled  = "canceled"
	ResRescinded = "rescinded"
	ResWrapping  = "wrapping"
	ResCompleted = "completed"
)

// Reservation offers a task to one worker.
type Reservation struct {
	Seq              int64
	SID              string
	AccountSID       string
	WorkspaceSID     string
	TaskSID          string
	WorkerSID        string
	WorkerName       string
	ChannelSID       string
	Status           string
	TimeoutAt        int64
	Created, Updated int64
}

const reservationCols = `seq, sid, account_sid, workspace_sid, task_sid, worker_sid, worker_name, task_channel_sid,
	status, timeout_at, date_created, date_updated`

func scanReservation(r scanner) (Reservation, error) {
	var x Reservation
	err := r.Scan(&x.Seq, &x.SID, &x.AccountSID, &x.WorkspaceSID, &x.TaskSID, &x.WorkerSID, &x.WorkerName,
		&x.ChannelSID, &x.Status, &x.TimeoutAt, &x.Created, &x.Updated)
	return x, store.NoRows(err)
}

// Event is one entry of a workspace's event log.
type Event struct {
	Seq            int64
	SID            string
	AccountSID     string
	WorkspaceSID   string
	Type           string
	ResourceType   string
	ResourceSID    string
	Description    string
	Data           string
	TaskSID        string
	WorkerSID      string
	ReservationSID string
	QueueSID       string
	WorkflowSID    string
	TaskChannel    string
	WaitMS         int64
	Date           int64
}

const eventCols = `seq, sid, account_sid, workspace_sid, event_type, resource_type, resource_sid, description,
	event_data, task_sid, worker_sid, reservation_sid, task_queue_sid, workflow_sid, task_channel, wait_ms, event_date`

func scanEvent(r scanner) (Event, error) {
	var e Event
	err := r.Scan(&e.Seq, &e.SID, &e.AccountSID, &e.WorkspaceSID, &e.Type, &e.ResourceType, &e.ResourceSID,
		&e.Description, &e.Data, &e.TaskSID, &e.WorkerSID, &e.ReservationSID, &e.QueueSID, &e.WorkflowSID,
		&e.TaskChannel, &e.WaitMS, &e.Date)
	return e, store.NoRows(err)
}

// insertEvents writes events with one statement (a transaction's events
// go together: fewer statements to prepare is most of SQLite's cost).
func insertEvents(ctx context.Context, q store.Querier, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	args := make([]any, 0, 16*len(events))
	for _, e := range events {
		args = append(args, e.SID, e.AccountSID, e.WorkspaceSID, e.Type, e.ResourceType, e.ResourceSID, e.Description, e.Data,
			e.TaskSID, e.WorkerSID, e.ReservationSID, e.QueueSID, e.WorkflowSID, e.TaskChannel, e.WaitMS, e.Date)
	}
	_, err := q.ExecContext(ctx, `INSERT INTO tr_events (sid, account_sid, workspace_sid, event_type, resource_type,
		resource_sid, description, event_data, task_sid, worker_sid, reservation_sid, task_queue_sid, workflow_sid,
		task_channel, wait_ms, event_date) VALUES `+row+strings.Repeat(", "+row, len(events)-1), args...)
	if err != nil {
		return fmt.Errorf("taskrouter: record events: %w", err)
	}
	return nil
}

// filter builds a WHERE clause from optional conditions.
type filter struct {
	conds []string
	args  []any
}

func (f *filter) add(cond string, args ...any) {
	f.conds = append(f.conds, cond)
	f.args = append(f.args, args...)
}

func (f *filter) where() string {
	if len(f.conds) == 0 {
		return " WHERE 1=1"
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}

// listRows reads one keyset page of a table.
func listRows[T any](ctx context.Context, q store.Querier, cols, from, seqCol string, f filter,
	after, before int64, limit int, scan func(scanner) (T, error)) ([]T, error) {
	cond, tail := store.Keyset(seqCol, after, before, limit)
	return store.QueryAll(ctx, q, "SELECT "+cols+" FROM "+from+f.where()+cond+tail, scan, f.args...)
}

// forUpdate locks the selected rows on PostgreSQL. SQLite has one writer,
// held for the whole transaction, so it needs no row locks.
func forUpdate(q store.Querier, skipLocked bool) string {
	if q.Dialect() != store.Postgres {
		return ""
	}
	if skipLocked {
		return " FOR UPDATE SKIP LOCKED"
	}
	return " FOR UPDATE"
}

// exec runs a statement and reports how many rows it changed.
func exec(ctx context.Context, q store.Querier, query string, args ...any) (int64, error) {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func getOne[T any](ctx context.Context, q store.Querier, query string, scan func(scanner) (T, error), args ...any) (T, error) {
	return scan(q.QueryRowContext(ctx, query, args...))
}
