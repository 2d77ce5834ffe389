package taskrouter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// parseCache keeps parsed expressions and workflow configurations by
// their source text, so the engine parses each once.
type parseCache struct {
	mu      sync.Mutex
	exprs   map[string]*Expr
	configs map[string]*WorkflowConfig
}

const parseCacheMax = 10000

func newParseCache() *parseCache {
	return &parseCache{exprs: map[string]*Expr{}, configs: map[string]*WorkflowConfig{}}
}

func (c *parseCache) expr(src string) (*Expr, error) {
	c.mu.Lock()
	e, ok := c.exprs[src]
	c.mu.Unlock()
	if ok {
		return e, nil
	}
	e, err := ParseExpr(src)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.exprs) > parseCacheMax {
		clear(c.exprs)
	}
	c.exprs[src] = e
	c.mu.Unlock()
	return e, nil
}

func (c *parseCache) config(src string) (*WorkflowConfig, error) {
	c.mu.Lock()
	cfg, ok := c.configs[src]
	c.mu.Unlock()
	if ok {
		return cfg, nil
	}
	cfg, err := ParseWorkflowConfig(src)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.configs) > parseCacheMax {
		clear(c.configs)
	}
	c.configs[src] = cfg
	c.mu.Unlock()
	return cfg, nil
}

// checkExpr turns a syntax error into a 400 naming the parameter, where and why.
func checkExpr(param, src string) error {
	if _, err := ParseExpr(src); err != nil {
		return rest.InvalidParam(param, "expression %q is invalid %s", src, err)
	}
	return nil
}

// ---- task queues ----

// QueueParams are a queue's settable fields (nil: unchanged).
type QueueParams struct {
	FriendlyName           *string
	TargetWorkers          *string
	MaxReservedWorkers     *int
	TaskOrder              *string
	ReservationActivitySID *string
	AssignmentActivitySID  *string
}

func (s *Service) checkQueueParams(ctx context.Context, accountSID, wsSID string, p QueueParams) error {
	if p.TargetWorkers != nil {
		if err := checkExpr("TargetWorkers", *p.TargetWorkers); err != nil {
			return err
		}
	}
	for _, a := range []struct {
		name string
		sid  *string
	}{{"ReservationActivitySid", p.ReservationActivitySID}, {"AssignmentActivitySid", p.AssignmentActivitySID}} {
		if a.sid != nil && *a.sid != "" {
			if _, err := s.Activity(ctx, accountSID, wsSID, *a.sid); err != nil {
				return rest.InvalidParam(a.name, "%s is not an activity of this workspace", *a.sid)
			}
		}
	}
	return nil
}

// CreateTaskQueue adds a queue.
func (s *Service) CreateTaskQueue(ctx context.Context, accountSID, wsSID string, p QueueParams) (TaskQueue, error) {
	if _, err := s.Workspace(ctx, accountSID, wsSID); err != nil {
		return TaskQueue{}, err
	}
	if err := s.checkQueueParams(ctx, accountSID, wsSID, p); err != nil {
		return TaskQueue{}, err
	}
	now := store.Now()
	q := TaskQueue{SID: rest.NewSID("WQ"), FriendlyName: deref(p.FriendlyName), TargetWorkers: "1==1", MaxReservedWorkers: 1, TaskOrder: "FIFO"}
	set(&q.TargetWorkers, p.TargetWorkers)
	set(&q.MaxReservedWorkers, p.MaxReservedWorkers)
	set(&q.TaskOrder, p.TaskOrder)
	set(&q.ReservationActivitySID, p.ReservationActivitySID)
	set(&q.AssignmentActivitySID, p.AssignmentActivitySID)
	_, err := s.db.ExecContext(ctx, `INSERT INTO tr_task_queues (sid, account_sid, workspace_sid, friendly_name, target_workers,
		max_reserved_workers, task_order, reservation_activity_sid, assignment_activity_sid, date_created, date_updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, q.SID, accountSID, wsSID, q.FriendlyName, q.TargetWorkers,
		q.MaxReservedWorkers, q.TaskOrder, q.ReservationActivitySID, q.AssignmentActivitySID, now, now)
	if errors.Is(err, store.ErrConflict) {
		return q, rest.InvalidParam("FriendlyName", "a task queue named %q already exists in this workspace", q.FriendlyName)
	}
	if err != nil {
		return q, fmt.Errorf("taskrouter: insert queue: %w", err)
	}
	return s.TaskQueue(ctx, accountSID, wsSID, q.SID)
}

// TaskQueue fetches one queue.
func (s *Service) TaskQueue(ctx context.Context, accountSID, wsSID, sid string) (TaskQueue, error) {
	q, err := getOne(ctx, s.db, "SELECT "+taskQueueCols+" FROM tr_task_queues q WHERE q.sid = ? AND q.workspace_sid = ? AND q.account_sid = ?",
		scanTaskQueue, sid, wsSID, accountSID)
	return q, notFound(err)
}

// TaskQueues lists queues; workerAttrs/workerSID keep those whose
// TargetWorkers match that worker.
func (s *Service) TaskQueues(ctx context.Context, accountSID, wsSID, friendlyName, workerAttrs, workerSID string, page rest.Page) ([]TaskQueue, error) {
	f := filter{}
	f.add("q.workspace_sid = ? AND q.account_sid = ?", wsSID, accountSID)
	if friendlyName != "" {
		f.add("q.friendly_name = ?", friendlyName)
	}
	rows, err := listRows(ctx, s.db, taskQueueCols, "tr_task_queues q", "q.seq", f, page.After, page.Before, page.Fetch(), scanTaskQueue)
	if err != nil || (workerAttrs == "" && workerSID == "") {
		return rows, err
	}
	v := &workerView{attrs: parseAttributes(workerAttrs)}
	if workerSID != "" {
		w, err := s.Worker(ctx, accountSID, wsSID, workerSID)
		if err != nil {
			return nil, rest.InvalidParam("WorkerSid", "%s is not a worker of this workspace", workerSID)
		}
		v = &workerView{Worker: w, attrs: parseAttributes(w.Attributes)}
	}
	out := rows[:0]
	for _, q := range rows {
		if e, err := s.cache.expr(q.TargetWorkers); err == nil && e.Eval(workerEnv(v)) {
			out = append(out, q)
		}
	}
	return out, nil
}

// UpdateTaskQueue changes a queue; a new TargetWorkers starts assignment.
func (s *Service) UpdateTaskQueue(ctx context.Context, accountSID, wsSID, sid string, p QueueParams) (TaskQueue, error) {
	q, err := s.TaskQueue(ctx, accountSID, wsSID, sid)
	if err != nil {
		return q, err
	}
	if err := s.checkQueueParams(ctx, accountSID, wsSID, p); err != nil {
		return q, err
	}
	set(&q.FriendlyName, p.FriendlyName)
	set(&q.TargetWorkers, p.TargetWorkers)
	set(&q.MaxReservedWorkers, p.MaxReservedWorkers)
	set(&q.TaskOrder, p.TaskOrder)
	set(&q.ReservationActivitySID, p.ReservationActivitySID)
	set(&q.AssignmentActivitySID, p.AssignmentActivitySID)
	_, err = s.db.ExecContext(ctx, `UPDATE tr_task_queues SET friendly_name = ?, target_workers = ?, max_reserved_workers = ?,
		task_order = ?, reservation_activity_sid = ?, assignment_activity_sid = ?, date_updated = ? WHERE sid = ?`,
		q.FriendlyName, q.TargetWorkers, q.MaxReservedWorkers, q.TaskOrder, q.ReservationActivitySID, q.AssignmentActivitySID,
		store.Now(), sid)
	if errors.Is(err, store.ErrConflict) {
		return q, rest.InvalidParam("FriendlyName", "a task queue named %q already exists in this workspace", q.FriendlyName)
	}
	if err != nil {
		return q, err
	}
	s.kickReload(wsSID)
	return s.TaskQueue(ctx, accountSID, wsSID, sid)
}

// DeleteTaskQueue deletes a queue that holds no live task and that no
// workflow names.
func (s *Service) DeleteTaskQueue(ctx context.Context, accountSID, wsSID, sid string) error {
	if _, err := s.TaskQueue(ctx, accountSID, wsSID, sid); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(q store.Querier) error {
		var live int
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM tr_tasks WHERE task_queue_sid = ? AND assignment_status IN (?, ?, ?, ?)",
			sid, StatusPending, StatusReserved, StatusAssigned, StatusWrapping).Scan(&live); err != nil {
			return err
		}
		if live > 0 {
			return rest.BadRequest("Task queue %s still holds %d live tasks", sid, live)
		}
		flows, err := store.QueryAll(ctx, q, "SELECT "+workflowCols+" FROM tr_workflows WHERE workspace_sid = ?", scanWorkflow, wsSID)
		if err != nil {
			return err
		}
		for _, f := range flows {
			if cfg, err := s.cache.config(f.Configuration); err == nil && slices.Contains(cfg.Queues(), sid) {
				return rest.BadRequest("Task queue %s is a target of workflow %s; change the workflow first", sid, f.SID)
			}
		}
		_, err = q.ExecContext(ctx, "DELETE FROM tr_task_queues WHERE sid = ?", sid)
		return err
	})
}

// ---- workflows ----

// WorkflowParams are a workflow's settable fields (nil: unchanged).
type WorkflowParams struct {
	FriendlyName          *string
	Configuration         *string
	AssignmentCallbackURL *string
	FallbackCallbackURL   *string
	ReservationTimeout    *int
}

// checkConfig decodes a configuration and checks every queue it names
// exists in the workspace; errors are 400s naming Configuration.
func (s *Service) checkConfig(ctx context.Context, accountSID, wsSID, src string) error {
	cfg, err := ParseWorkflowConfig(src)
	if err != nil {
		return rest.InvalidParam("Configuration", "%s", err)
	}
	for _, q := range cfg.Queues() {
		if _, err := s.TaskQueue(ctx, accountSID, wsSID, q); err != nil {
			return rest.InvalidParam("Configuration", "queue %s is not a task queue of this workspace", q)
		}
	}
	return nil
}

// CreateWorkflow adds a workflow.
func (s *Service) CreateWorkflow(ctx context.Context, accountSID, wsSID string, p WorkflowParams) (Workflow, error) {
	if _, err := s.Workspace(ctx, accountSID, wsSID); err != nil {
		return Workflow{}, err
	}
	if err := s.checkConfig(ctx, accountSID, wsSID, deref(p.Configuration)); err != nil {
		return Workflow{}, err
	}
	now := store.Now()
	w := Workflow{SID: rest.NewSID("WW"), ReservationTimeout: 120}
	set(&w.ReservationTimeout, p.ReservationTimeout)
	_, err := s.db.ExecContext(ctx, `INSERT INTO tr_workflows (sid, account_sid, workspace_sid, friendly_name, configuration,
		assignment_callback_url, fallback_assignment_callback_url, task_reservation_timeout, date_created, date_updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, w.SID, accountSID, wsSID, deref(p.FriendlyName), deref(p.Configuration),
		deref(p.AssignmentCallbackURL), deref(p.FallbackCallbackURL), w.ReservationTimeout, now, now)
	if err != nil {
		return w, fmt.Errorf("taskrouter: insert workflow: %w", err)
	}
	return s.Workflow(ctx, accountSID, wsSID, w.SID)
}

// Workflow fetches one workflow.
func (s *Service) Workflow(ctx context.Context, accountSID, wsSID, sid string) (Workflow, error) {
	w, err := getOne(ctx, s.db, "SELECT "+workflowCols+" FROM tr_workflows WHERE sid = ? AND workspace_sid = ? AND account_sid = ?",
		scanWorkflow, sid, wsSID, accountSID)
	return w, notFound(err)
}

// Workflows lists a workspace's workflows.
func (s *Service) Workflows(ctx context.Context, accountSID, wsSID, friendlyName string, page rest.Page) ([]Workflow, error) {
	f := filter{}
	f.add("workspace_sid = ? AND account_sid = ?", wsSID, accountSID)
	if friendlyName != "" {
		f.add("friendly_name = ?", friendlyName)
	}
	return listRows(ctx, s.db, workflowCols, "tr_workflows", "seq", f, page.After, page.Before, page.Fetch(), scanWorkflow)
}

// UpdateWorkflow changes a workflow. With reEvaluate, pending tasks are
// routed again under the new configuration.
func (s *Service) UpdateWorkflow(ctx context.Context, accountSID, wsSID, sid string, p WorkflowParams, reEvaluate bool) (Workflow, error) {
	w, err := s.Workflow(ctx, accountSID, wsSID, sid)
	if err != nil {
		return w, err
	}
	if p.Configuration != nil {
		if err := s.checkConfig(ctx, accountSID, wsSID, *p.Configuration); err != nil {
			return w, err
		}
	}
	set(&w.FriendlyName, p.FriendlyName)
	set(&w.Configuration, p.Configuration)
	set(&w.AssignmentCallbackURL, p.AssignmentCallbackURL)
	set(&w.FallbackCallbackURL, p.FallbackCallbackURL)
	set(&w.ReservationTimeout, p.ReservationTimeout)
	if _, err := s.db.ExecContext(ctx, `UPDATE tr_workflows SET friendly_name = ?, configuration = ?, assignment_callback_url = ?,
		fallback_assignment_callback_url = ?, task_reservation_timeout = ?, date_updated = ? WHERE sid = ?`,
		w.FriendlyName, w.Configuration, w.AssignmentCallbackURL, w.FallbackCallbackURL, w.ReservationTimeout, store.Now(), sid); err != nil {
		return w, err
	}
	if reEvaluate {
		if err := s.reEvaluateWorkflow(ctx, accountSID, wsSID, sid); err != nil {
			return w, err
		}
	}
	s.kickReload(wsSID)
	return s.Workflow(ctx, accountSID, wsSID, sid)
}

// DeleteWorkflow deletes a workflow that no live task uses.
func (s *Service) DeleteWorkflow(ctx context.Context, accountSID, wsSID, sid string) error {
	if _, err := s.Workflow(ctx, accountSID, wsSID, sid); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(q store.Querier) error {
		var live int
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM tr_tasks WHERE workflow_sid = ? AND assignment_status IN (?, ?, ?, ?)",
			sid, StatusPending, StatusReserved, StatusAssigned, StatusWrapping).Scan(&live); err != nil {
			return err
		}
		if live > 0 {
			return rest.BadRequest("Workflow %s still routes %d live tasks", sid, live)
		}
		_, err := q.ExecContext(ctx, "DELETE FROM tr_workflows WHERE sid = ?", sid)
		return err
	})
}
