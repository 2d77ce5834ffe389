package taskrouter

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// Routing positions of a task (tr_tasks.filter_idx).
const (
	defaultFilterIdx = -1 // in the workflow's default_filter
	unroutedIdx      = -2 // no filter matched and there is no default_filter
)

const (
	maxTaskTimeout     = 1209600
	defaultTaskTimeout = 86400
)

// TaskParams describe a new task.
type TaskParams struct {
	WorkflowSID    string
	TaskChannel    string // SID or unique name; default "default"
	Attributes     string
	Priority       int
	Timeout        int // seconds; 0: 86400
	RoutingTarget  string
	IgnoreCapacity bool
	VirtualStart   int64
}

// CreateTask is the stdlib-typed entry point other packages (Flex,
// Studio) call through interfaces of their own.
func (s *Service) CreateTask(ctx context.Context, accountSID, workspaceSID, workflowSID, taskChannel, attributes string,
	priority, timeoutSeconds int) (string, error) {
	t, err := s.NewTask(ctx, accountSID, workspaceSID, TaskParams{WorkflowSID: workflowSID, TaskChannel: taskChannel,
		Attributes: attributes, Priority: priority, Timeout: timeoutSeconds})
	return t.SID, err
}

// NewTask creates a task, routes it through its workflow and starts
// assignment.
func (s *Service) NewTask(ctx context.Context, accountSID, wsSID string, p TaskParams) (Task, error) {
	if _, err := s.Workspace(ctx, accountSID, wsSID); err != nil {
		return Task{}, err
	}
	wf, err := s.taskWorkflow(ctx, accountSID, wsSID, p.WorkflowSID)
	if err != nil {
		return Task{}, err
	}
	cfg, err := s.cache.config(wf.Configuration)
	if err != nil {
		return Task{}, fmt.Errorf("taskrouter: workflow %s configuration: %w", wf.SID, err)
	}
	if p.TaskChannel == "" {
		p.TaskChannel = "default"
	}
	ch, err := s.TaskChannel(ctx, accountSID, wsSID, p.TaskChannel)
	if err != nil {
		return Task{}, rest.InvalidParam("TaskChannel", "%q is not a task channel of this workspace", p.TaskChannel)
	}
	if p.Attributes == "" {
		p.Attributes = "{}"
	}
	if p.Timeout <= 0 {
		p.Timeout = defaultTaskTimeout
	}
	if p.Timeout > maxTaskTimeout || p.Priority < 0 {
		return Task{}, rest.BadRequest("Timeout must be 1 to %d seconds and Priority must not be negative", maxTaskTimeout)
	}
	now := store.Now()
	t := Task{SID: rest.NewSID("WT"), AccountSID: accountSID, WorkspaceSID: wsSID, WorkflowSID: wf.SID, ChannelSID: ch.SID,
		ChannelUniqueName: ch.UniqueName, Attributes: p.Attributes, Priority: p.Priority, Timeout: p.Timeout,
		Status: StatusPending, ExpiresAt: now + int64(p.Timeout)*1000, VirtualStart: now, RoutingTarget: p.RoutingTarget,
		IgnoreCapacity: p.IgnoreCapacity, Revision: 1, Created: now, Updated: now}
	if p.VirtualStart > 0 {
		t.VirtualStart = p.VirtualStart
	}
	routeTask(&t, cfg, now)
	t.WorkflowName = wf.FriendlyName
	if q, err := s.TaskQueue(ctx, accountSID, wsSID, t.QueueSID); err == nil {
		t.QueueName = q.FriendlyName
	}
	err = s.write(ctx, func(q store.Querier, fx *effects) error {
		if _, err := q.ExecContext(ctx, `INSERT INTO tr_tasks (sid, account_sid, workspace_sid, workflow_sid, task_queue_sid,
			task_channel_sid, attributes, priority, timeout, assignment_status, filter_idx, target_idx, step_priority,
			step_deadline, queue_entered, expires_at, virtual_start_time, routing_target, ignore_capacity, revision,
			date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.SID, accountSID, wsSID, t.WorkflowSID, t.QueueSID, t.ChannelSID, t.Attributes, t.Priority, t.Timeout, t.Status,
			t.FilterIdx, t.TargetIdx, t.StepPriority, t.StepDeadline, t.QueueEntered, t.ExpiresAt, t.VirtualStart,
			t.RoutingTarget, t.IgnoreCapacity, t.Revision, now, now); err != nil {
			return fmt.Errorf("taskrouter: insert task: %w", err)
		}
		for _, typ := range []string{"task.created", "workflow.entered", "task-queue.entered"} {
			if typ == "task-queue.entered" && t.QueueSID == "" {
				continue
			}
			if err := s.taskEvent(ctx, q, fx, typ, t, nil, nil); err != nil {
				return err
			}
		}
		fx.statsChanged(accountSID, wsSID)
		fx.kickTask(wsSID, t.SID)
		return nil
	})
	if err != nil {
		return Task{}, err
	}
	return t, nil
}

// taskWorkflow finds the named workflow, or the workspace's only one.
func (s *Service) taskWorkflow(ctx context.Context, accountSID, wsSID, sid string) (Workflow, error) {
	if sid != "" {
		wf, err := s.Workflow(ctx, accountSID, wsSID, sid)
		if err != nil {
			return wf, rest.InvalidParam("WorkflowSid", "%s is not a workflow of this workspace", sid)
		}
		return wf, nil
	}
	flows, err := store.QueryAll(ctx, s.db, "SELECT "+workflowCols+" FROM tr_workflows WHERE workspace_sid = ? AND account_sid = ? LIMIT 2",
		scanWorkflow, wsSID, accountSID)
	if err != nil {
		return Workflow{}, err
	}
	if len(flows) != 1 {
		return Workflow{}, rest.MissingParam("WorkflowSid")
	}
	return flows[0], nil
}

// routeTask picks the task's first step by the workflow's filters.
func routeTask(t *Task, cfg *WorkflowConfig, now int64) {
	filter, ok := cfg.Route(taskEnv(parseAttributes(t.Attributes)))
	if !ok {
		t.FilterIdx, t.TargetIdx, t.QueueSID, t.StepDeadline, t.StepPriority = unroutedIdx, 0, "", 0, t.Priority
		return
	}
	enterStep(t, cfg, filter, 0, now)
}

func enterStep(t *Task, cfg *WorkflowConfig, filter, target int, now int64) {
	step, _ := cfg.Step(filter, target)
	t.FilterIdx, t.TargetIdx, t.QueueSID, t.QueueEntered = filter, target, step.Queue, now
	t.StepPriority = t.Priority
	if step.Priority != nil {
		t.StepPriority = *step.Priority
	}
	t.StepDeadline = 0
	if step.Timeout > 0 {
		t.StepDeadline = now + int64(step.Timeout)*1000
	}
}

// nextStep moves a task to its next target, then to default_filter. It
// reports whether the task left its last target (a workflow timeout).
func nextStep(t *Task, cfg *WorkflowConfig, now int64) (lastTimedOut bool) {
	if t.FilterIdx >= 0 && t.TargetIdx+1 < len(cfg.Filters[t.FilterIdx].Targets) {
		enterStep(t, cfg, t.FilterIdx, t.TargetIdx+1, now)
		return false
	}
	if t.FilterIdx >= 0 && cfg.DefaultFilter != nil {
		enterStep(t, cfg, defaultFilterIdx, 0, now)
		return true
	}
	t.StepDeadline = 0 // stays in its last queue until it is assigned or its TTL ends
	return true
}

// saveRouting writes a task's routing position, guarded by its revision.
func saveRouting(ctx context.Context, q store.Querier, t *Task, now int64) (bool, error) {
	n, err := exec(ctx, q, `UPDATE tr_tasks SET task_queue_sid = ?, filter_idx = ?, target_idx = ?, step_priority = ?,
		step_deadline = ?, queue_entered = ?, revision = revision + 1, date_updated = ? WHERE sid = ? AND revision = ?`,
		t.QueueSID, t.FilterIdx, t.TargetIdx, t.StepPriority, t.StepDeadline, t.QueueEntered, now, t.SID, t.Revision)
	if n == 1 {
		t.Revision++
		t.Updated = now
	}
	return n == 1, err
}

// Task fetches one task.
func (s *Service) Task(ctx context.Context, accountSID, wsSID, sid string) (Task, error) {
	return s.taskIn(ctx, s.db, accountSID, wsSID, sid, false)
}

func (s *Service) taskIn(ctx context.Context, q store.Querier, accountSID, wsSID, sid string, lock bool) (Task, error) {
	query := "SELECT " + taskCols + " FROM tr_tasks t WHERE t.sid = ? AND t.workspace_sid = ? AND t.account_sid = ?"
	if lock {
		query += forUpdate(q, false)
	}
	t, err := getOne(ctx, q, query, scanTask, sid, wsSID, accountSID)
	return t, notFound(err)
}

// TaskFilter narrows a task list.
type TaskFilter struct {
	Priority                    *int
	Statuses                    []string
	WorkflowSID, WorkflowName   string
	TaskQueueSID, TaskQueueName string
	RoutingTarget               string
	EvaluateTaskAttributes      *Expr
}

// Tasks lists a workspace's tasks.
func (s *Service) Tasks(ctx context.Context, accountSID, wsSID string, tf TaskFilter, page rest.Page) ([]Task, error) {
	f := filter{}
	f.add("t.workspace_sid = ? AND t.account_sid = ?", wsSID, accountSID)
	if tf.Priority != nil {
		f.add("t.priority = ?", *tf.Priority)
	}
	if len(tf.Statuses) > 0 {
		cond := "t.assignment_status IN (?" + strings.Repeat(", ?", len(tf.Statuses)-1) + ")"
		args := make([]any, len(tf.Statuses))
		for i, st := range tf.Statuses {
			args[i] = st
		}
		f.add(cond, args...)
	}
	for _, c := range []struct{ cond, v string }{
		{"t.workflow_sid = ?", tf.WorkflowSID}, {"t.task_queue_sid = ?", tf.TaskQueueSID}, {"t.routing_target = ?", tf.RoutingTarget},
		{"t.workflow_sid IN (SELECT sid FROM tr_workflows WHERE friendly_name = ?)", tf.WorkflowName},
		{"t.task_queue_sid IN (SELECT sid FROM tr_task_queues WHERE friendly_name = ?)", tf.TaskQueueName},
	} {
		if c.v != "" {
			f.add(c.cond, c.v)
		}
	}
	rows, err := listRows(ctx, s.db, taskCols, "tr_tasks t", "t.seq", f, page.After, page.Before, page.Fetch(), scanTask)
	if err != nil || tf.EvaluateTaskAttributes == nil {
		return rows, err
	}
	out := rows[:0]
	for _, t := range rows {
		if tf.EvaluateTaskAttributes.Eval(taskEnv(parseAttributes(t.Attributes))) {
			out = append(out, t)
		}
	}
	return out, nil
}

// TaskUpdate changes a task (nil/empty: unchanged).
type TaskUpdate struct {
	Attributes  *string
	Priority    *int
	Status      string
	Reason      string
	TaskChannel string
	IfMatch     string
}

// UpdateTaskStatus is the stdlib-typed entry point to complete, cancel or
// wrap up a task.
func (s *Service) UpdateTaskStatus(ctx context.Context, accountSID, workspaceSID, taskSID, status, reason string) error {
	_, err := s.UpdateTask(ctx, accountSID, workspaceSID, taskSID, TaskUpdate{Status: status, Reason: reason})
	return err
}

// allowedTaskMoves are the status changes a client may ask for.
var allowedTaskMoves = map[string][]string{
	StatusCanceled:  {StatusPending, StatusReserved},
	StatusWrapping:  {StatusAssigned},
	StatusCompleted: {StatusAssigned, StatusWrapping},
}

// UpdateTask changes a task's attributes, priority, channel or status.
func (s *Service) UpdateTask(ctx context.Context, accountSID, wsSID, sid string, u TaskUpdate) (Task, error) {
	var out Task
	err := s.write(ctx, func(q store.Querier, fx *effects) error {
		t, err := s.taskIn(ctx, q, accountSID, wsSID, sid, true)
		if err != nil {
			return err
		}
		if u.IfMatch != "" && u.IfMatch != etag(t.Revision) {
			return preconditionFailed()
		}
		if t, err = s.updateTaskFields(ctx, q, fx, t, u); err != nil {
			return err
		}
		if u.Status != "" && u.Status != t.Status {
			if t, err = s.moveTask(ctx, q, fx, t, u.Status, u.Reason); err != nil {
				return err
			}
		}
		out = t
		return nil
	})
	return out, err
}

func (s *Service) updateTaskFields(ctx context.Context, q store.Querier, fx *effects, t Task, u TaskUpdate) (Task, error) {
	if u.Attributes == nil && u.Priority == nil && u.TaskChannel == "" {
		return t, nil
	}
	now := store.Now()
	set(&t.Attributes, u.Attributes)
	set(&t.Priority, u.Priority)
	if u.TaskChannel != "" {
		ch, err := s.TaskChannel(ctx, t.AccountSID, t.WorkspaceSID, u.TaskChannel)
		if err != nil {
			return t, rest.InvalidParam("TaskChannel", "%q is not a task channel of this workspace", u.TaskChannel)
		}
		t.ChannelSID, t.ChannelUniqueName = ch.SID, ch.UniqueName
	}
	// A pending task is routed again: new attributes may match another filter.
	if t.Status == StatusPending {
		if wf, err := s.Workflow(ctx, t.AccountSID, t.WorkspaceSID, t.WorkflowSID); err == nil {
			if cfg, err := s.cache.config(wf.Configuration); err == nil {
				routeTask(&t, cfg, now)
			}
		}
	}
	if _, err := q.ExecContext(ctx, `UPDATE tr_tasks SET attributes = ?, priority = ?, task_channel_sid = ?, task_queue_sid = ?,
		filter_idx = ?, target_idx = ?, step_priority = ?, step_deadline = ?, queue_entered = ?, revision = revision + 1,
		date_updated = ? WHERE sid = ?`, t.Attributes, t.Priority, t.ChannelSID, t.QueueSID, t.FilterIdx, t.TargetIdx,
		t.StepPriority, t.StepDeadline, t.QueueEntered, now, t.SID); err != nil {
		return t, err
	}
	t.Revision++
	t.Updated = now
	if err := s.taskEvent(ctx, q, fx, "task.updated", t, nil, nil); err != nil {
		return t, err
	}
	if r, ok, err := liveReservation(ctx, q, t.SID); err != nil {
		return t, err
	} else if ok {
		s.pushReservation(fx, "task.updated", r, t)
	}
	fx.kickTask(t.WorkspaceSID, t.SID)
	return t, nil
}

// moveTask changes a locked task's status and carries its live
// reservation along.
func (s *Service) moveTask(ctx context.Context, q store.Querier, fx *effects, t Task, status, reason string) (Task, error) {
	from, ok := allowedTaskMoves[status]
	if !ok {
		return t, rest.InvalidParam("AssignmentStatus", "%q is not a status a task can be moved to (canceled, wrapping, completed)", status)
	}
	if !contains(toAny(from), t.Status) {
		return t, rest.BadRequest("Task %s is %s and cannot become %s", t.SID, t.Status, status)
	}
	r, live, err := liveReservation(ctx, q, t.SID)
	if err != nil {
		return t, err
	}
	resTo := map[string]string{StatusCanceled: ResCanceled, StatusWrapping: ResWrapping, StatusCompleted: ResCompleted}[status]
	if live {
		if _, err := s.moveReservation(ctx, q, fx, t, r, resTo, ""); err != nil {
			return t, err
		}
	}
	return s.setTaskStatus(ctx, q, fx, t, status, reason)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// setTaskStatus writes a task's status with its event and, for an end,
// the OnTaskEnded callbacks.
func (s *Service) setTaskStatus(ctx context.Context, q store.Querier, fx *effects, t Task, status, reason string) (Task, error) {
	now := store.Now()
	if _, err := q.ExecContext(ctx, "UPDATE tr_tasks SET assignment_status = ?, reason = ?, revision = revision + 1, date_updated = ? WHERE sid = ?",
		status, reason, now, t.SID); err != nil {
		return t, err
	}
	t.Status, t.Reason, t.Updated = status, reason, now
	t.Revision++
	typ := map[string]string{StatusCanceled: "task.canceled", StatusCompleted: "task.completed", StatusWrapping: "task.wrapup"}[status]
	if typ != "" {
		if err := s.taskEvent(ctx, q, fx, typ, t, nil, nil); err != nil {
			return t, err
		}
	}
	if status == StatusCanceled || status == StatusCompleted {
		fx.ended = append(fx.ended, endedTask{t.AccountSID, t.WorkspaceSID, t.SID, status, t.Attributes})
	}
	fx.statsChanged(t.AccountSID, t.WorkspaceSID)
	return t, nil
}

// DeleteTask deletes a task, canceling its live reservation first.
func (s *Service) DeleteTask(ctx context.Context, accountSID, wsSID, sid, ifMatch string) error {
	return s.write(ctx, func(q store.Querier, fx *effects) error {
		t, err := s.taskIn(ctx, q, accountSID, wsSID, sid, true)
		if err != nil {
			return err
		}
		if ifMatch != "" && ifMatch != etag(t.Revision) {
			return preconditionFailed()
		}
		if r, live, err := liveReservation(ctx, q, t.SID); err != nil {
			return err
		} else if live {
			if _, err := s.moveReservation(ctx, q, fx, t, r, ResCanceled, ""); err != nil {
				return err
			}
		}
		if err := s.taskEvent(ctx, q, fx, "task.deleted", t, nil, nil); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, "DELETE FROM tr_reservations WHERE task_sid = ?", t.SID); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, "DELETE FROM tr_tasks WHERE sid = ?", t.SID); err != nil {
			return err
		}
		if t.Status != StatusCanceled && t.Status != StatusCompleted {
			fx.ended = append(fx.ended, endedTask{accountSID, wsSID, t.SID, "deleted", t.Attributes})
		}
		fx.statsChanged(accountSID, wsSID)
		return nil
	})
}

// reEvaluateWorkflow routes a workflow's pending tasks again.
func (s *Service) reEvaluateWorkflow(ctx context.Context, accountSID, wsSID, workflowSID string) error {
	tasks, err := store.QueryAll(ctx, s.db, "SELECT "+taskCols+" FROM tr_tasks t WHERE t.workflow_sid = ? AND t.assignment_status = ?",
		scanTask, workflowSID, StatusPending)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		empty := ""
		_ = empty
		if _, err := s.UpdateTask(ctx, accountSID, wsSID, t.SID, TaskUpdate{Attributes: &t.Attributes}); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}
