package taskrouter

import (
	"context"
	"errors"
	"fmt"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

func insertWorkerChannel(ctx context.Context, q store.Querier, accountSID, wsSID, workerSID, channelSID string, now int64) error {
	_, err := q.ExecContext(ctx, `INSERT INTO tr_worker_channels (sid, account_sid, workspace_sid, worker_sid, task_channel_sid,
		capacity, available, assigned, date_created, date_updated) VALUES (?, ?, ?, ?, ?, 1, ?, 0, ?, ?)`,
		rest.NewSID("WC"), accountSID, wsSID, workerSID, channelSID, true, now, now)
	return err
}

// CreateWorker adds a worker in the given activity (the workspace's
// default when empty), with capacity 1 on every task channel.
func (s *Service) CreateWorker(ctx context.Context, accountSID, wsSID, name, activitySID, attributes string) (Worker, error) {
	ws, err := s.Workspace(ctx, accountSID, wsSID)
	if err != nil {
		return Worker{}, err
	}
	if activitySID == "" {
		activitySID = ws.DefaultActivitySID
	}
	act, err := s.Activity(ctx, accountSID, wsSID, activitySID)
	if err != nil {
		return Worker{}, rest.InvalidParam("ActivitySid", "%s is not an activity of this workspace", activitySID)
	}
	if attributes == "" {
		attributes = "{}"
	}
	now := store.Now()
	sid := rest.NewSID("WK")
	err = s.write(ctx, func(q store.Querier, fx *effects) error {
		_, err := q.ExecContext(ctx, `INSERT INTO tr_workers (sid, account_sid, workspace_sid, friendly_name, attributes,
			activity_sid, available, idle_since, date_status_changed, date_created, date_updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, sid, accountSID, wsSID, name, attributes, act.SID, act.Available,
			now, now, now, now)
		if errors.Is(err, store.ErrConflict) {
			return rest.InvalidParam("FriendlyName", "a worker named %q already exists in this workspace", name)
		}
		if err != nil {
			return fmt.Errorf("taskrouter: insert worker: %w", err)
		}
		channels, err := store.QueryAll(ctx, q, "SELECT sid FROM tr_task_channels WHERE workspace_sid = ?", scanString, wsSID)
		if err != nil {
			return err
		}
		for _, c := range channels {
			if err := insertWorkerChannel(ctx, q, accountSID, wsSID, sid, c, now); err != nil {
				return err
			}
		}
		fx.statsChanged(accountSID, wsSID)
		fx.kickWorker(wsSID, sid)
		return nil
	})
	if err != nil {
		return Worker{}, err
	}
	return s.Worker(ctx, accountSID, wsSID, sid)
}

// Worker fetches one worker.
func (s *Service) Worker(ctx context.Context, accountSID, wsSID, sid string) (Worker, error) {
	return s.workerIn(ctx, s.db, accountSID, wsSID, sid, false)
}

func (s *Service) workerIn(ctx context.Context, q store.Querier, accountSID, wsSID, sid string, lock bool) (Worker, error) {
	query := "SELECT " + workerCols + " FROM tr_workers w WHERE w.sid = ? AND w.workspace_sid = ? AND w.account_sid = ?"
	if lock {
		query += forUpdate(q, false)
	}
	w, err := getOne(ctx, q, query, scanWorker, sid, wsSID, accountSID)
	return w, notFound(err)
}

// WorkerFilter narrows a worker list.
type WorkerFilter struct {
	ActivityName, ActivitySID, FriendlyName, TaskQueueName, TaskQueueSID string
	Available                                                            *bool
	TargetWorkers                                                        *Expr
}

// Workers lists a workspace's workers. Expression filters are applied
// after reading, so a page may hold fewer rows than asked.
func (s *Service) Workers(ctx context.Context, accountSID, wsSID string, wf WorkerFilter, page rest.Page) ([]Worker, error) {
	f := filter{}
	f.add("w.workspace_sid = ? AND w.account_sid = ?", wsSID, accountSID)
	if wf.ActivitySID != "" {
		f.add("w.activity_sid = ?", wf.ActivitySID)
	}
	if wf.ActivityName != "" {
		f.add("w.activity_sid IN (SELECT sid FROM tr_activities WHERE workspace_sid = ? AND friendly_name = ?)", wsSID, wf.ActivityName)
	}
	if wf.FriendlyName != "" {
		f.add("w.friendly_name = ?", wf.FriendlyName)
	}
	if wf.Available != nil {
		f.add("w.available = ?", *wf.Available)
	}
	exprs := []*Expr{wf.TargetWorkers}
	if wf.TaskQueueSID != "" || wf.TaskQueueName != "" {
		tq, err := getOne(ctx, s.db, "SELECT "+taskQueueCols+" FROM tr_task_queues q WHERE q.workspace_sid = ? AND (q.sid = ? OR q.friendly_name = ?)",
			scanTaskQueue, wsSID, wf.TaskQueueSID, wf.TaskQueueName)
		if err != nil {
			return nil, rest.BadRequest("TaskQueueSid/TaskQueueName does not name a task queue of this workspace")
		}
		e, err := ParseExpr(tq.TargetWorkers)
		if err != nil {
			return nil, err
		}
		exprs = append(exprs, e)
	}
	rows, err := listRows(ctx, s.db, workerCols, "tr_workers w", "w.seq", f, page.After, page.Before, page.Fetch(), scanWorker)
	if err != nil {
		return nil, err
	}
	out := rows[:0]
	for _, w := range rows {
		v := &workerView{Worker: w, attrs: parseAttributes(w.Attributes)}
		keep := true
		for _, e := range exprs {
			if e != nil && !e.Eval(workerEnv(v)) {
				keep = false
			}
		}
		if keep {
			out = append(out, w)
		}
	}
	return out, nil
}

// WorkerParams are a worker's settable fields (nil: unchanged).
type WorkerParams struct {
	FriendlyName              *string
	ActivitySID               *string
	Attributes                *string
	RejectPendingReservations bool
}

// UpdateWorker changes a worker's activity, attributes or name. Becoming
// available or changing attributes starts assignment at once.
func (s *Service) UpdateWorker(ctx context.Context, accountSID, wsSID, sid string, p WorkerParams, ifMatch string) (Worker, error) {
	var act *Activity
	if p.ActivitySID != nil {
		a, err := s.Activity(ctx, accountSID, wsSID, *p.ActivitySID)
		if err != nil {
			return Worker{}, rest.InvalidParam("ActivitySid", "%s is not an activity of this workspace", *p.ActivitySID)
		}
		act = &a
	}
	err := s.write(ctx, func(q store.Querier, fx *effects) error {
		w, err := s.workerIn(ctx, q, accountSID, wsSID, sid, true)
		if err != nil {
			return err
		}
		if ifMatch != "" && ifMatch != etag(w.Revision) {
			return preconditionFailed()
		}
		if p.FriendlyName != nil && *p.FriendlyName != w.FriendlyName {
			if _, err := q.ExecContext(ctx, "UPDATE tr_workers SET friendly_name = ?, revision = revision + 1, date_updated = ? WHERE sid = ?",
				*p.FriendlyName, store.Now(), sid); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return rest.InvalidParam("FriendlyName", "a worker named %q already exists in this workspace", *p.FriendlyName)
				}
				return err
			}
		}
		if p.Attributes != nil && *p.Attributes != w.Attributes {
			if _, err := q.ExecContext(ctx, "UPDATE tr_workers SET attributes = ?, revision = revision + 1, date_updated = ? WHERE sid = ?",
				*p.Attributes, store.Now(), sid); err != nil {
				return err
			}
			w.Attributes = *p.Attributes
			if err := s.workerEvent(ctx, q, fx, "worker.attributes.update", w, nil); err != nil {
				return err
			}
			fx.pushWorker("worker.attributes.update", accountSID, wsSID, sid, urls{s.opts.BaseURL}.worker(w))
			fx.kickWorker(wsSID, sid)
		}
		if act != nil && act.SID != w.ActivitySID {
			if _, err := s.setActivity(ctx, q, fx, w, *act); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Worker{}, err
	}
	if p.RejectPendingReservations {
		if err := s.rejectPending(ctx, accountSID, wsSID, sid); err != nil {
			return Worker{}, err
		}
	}
	return s.Worker(ctx, accountSID, wsSID, sid)
}

// setActivity moves a locked worker to an activity, with its event and push.
func (s *Service) setActivity(ctx context.Context, q store.Querier, fx *effects, w Worker, act Activity) (Worker, error) {
	now := store.Now()
	idle := w.IdleSince
	if act.Available && !w.Available {
		idle = now
	}
	if _, err := q.ExecContext(ctx, `UPDATE tr_workers SET activity_sid = ?, available = ?, idle_since = ?, revision = revision + 1,
		date_status_changed = ?, date_updated = ? WHERE sid = ?`, act.SID, act.Available, idle, now, now, w.SID); err != nil {
		return w, err
	}
	prev := w.ActivityName
	w.ActivitySID, w.ActivityName, w.Available, w.IdleSince, w.StatusChanged, w.Updated = act.SID, act.FriendlyName, act.Available, idle, now, now
	w.Revision++
	if err := s.workerEvent(ctx, q, fx, "worker.activity.update", w, map[string]any{"worker_previous_activity_name": prev}); err != nil {
		return w, err
	}
	fx.pushWorker("worker.activity.update", w.AccountSID, w.WorkspaceSID, w.SID, urls{s.opts.BaseURL}.worker(w))
	fx.statsChanged(w.AccountSID, w.WorkspaceSID)
	fx.kickWorker(w.WorkspaceSID, w.SID)
	return w, nil
}

// rejectPending rejects every pending reservation of a worker.
func (s *Service) rejectPending(ctx context.Context, accountSID, wsSID, workerSID string) error {
	res, err := store.QueryAll(ctx, s.db, "SELECT "+reservationCols+" FROM tr_reservations WHERE worker_sid = ? AND status = ? AND account_sid = ?",
		scanReservation, workerSID, ResPending, accountSID)
	if err != nil {
		return err
	}
	for _, r := range res {
		if _, err := s.UpdateReservation(ctx, accountSID, wsSID, r.TaskSID, r.SID, ReservationUpdate{Status: ResRejected}); err != nil && !errors.Is(err, errNotPending) {
			return err
		}
	}
	return nil
}

// DeleteWorker deletes a worker that holds no live reservation.
func (s *Service) DeleteWorker(ctx context.Context, accountSID, wsSID, sid, ifMatch string) error {
	return s.write(ctx, func(q store.Querier, fx *effects) error {
		w, err := s.workerIn(ctx, q, accountSID, wsSID, sid, true)
		if err != nil {
			return err
		}
		if ifMatch != "" && ifMatch != etag(w.Revision) {
			return preconditionFailed()
		}
		var live int
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM tr_reservations WHERE worker_sid = ? AND status IN (?, ?, ?)",
			sid, ResPending, ResAccepted, ResWrapping).Scan(&live); err != nil {
			return err
		}
		if live > 0 {
			return rest.BadRequest("Worker %s holds %d live reservations; complete or reject them first", sid, live)
		}
		if _, err := q.ExecContext(ctx, "DELETE FROM tr_worker_channels WHERE worker_sid = ?", sid); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, "DELETE FROM tr_workers WHERE sid = ?", sid); err != nil {
			return err
		}
		fx.statsChanged(accountSID, wsSID)
		fx.kickReload(wsSID)
		return nil
	})
}

func etag(rev int64) string { return fmt.Sprintf("%d", rev) }

func preconditionFailed() error {
	return rest.NewError(412, rest.CodeInvalidParam, "If-Match does not match the resource's current version")
}

// ---- worker channels ----

// WorkerChannels lists a worker's channels.
func (s *Service) WorkerChannels(ctx context.Context, accountSID, wsSID, workerSID string, page rest.Page) ([]WorkerChannel, error) {
	f := filter{}
	f.add("c.worker_sid = ? AND c.workspace_sid = ? AND c.account_sid = ?", workerSID, wsSID, accountSID)
	return listRows(ctx, s.db, workerChannelCols, "tr_worker_channels c", "c.seq", f, page.After, page.Before, page.Fetch(), scanWorkerChannel)
}

// WorkerChannel fetches a worker channel by its SID or its task
// channel's SID or unique name.
func (s *Service) WorkerChannel(ctx context.Context, accountSID, wsSID, workerSID, sid string) (WorkerChannel, error) {
	return s.workerChannelIn(ctx, s.db, accountSID, wsSID, workerSID, sid, false)
}

func (s *Service) workerChannelIn(ctx context.Context, q store.Querier, accountSID, wsSID, workerSID, sid string, lock bool) (WorkerChannel, error) {
	query := "SELECT " + workerChannelCols + ` FROM tr_worker_channels c WHERE c.worker_sid = ? AND c.workspace_sid = ? AND c.account_sid = ?
		AND (c.sid = ? OR c.task_channel_sid = ? OR c.task_channel_sid IN (SELECT sid FROM tr_task_channels WHERE workspace_sid = ? AND unique_name = ?))`
	if lock {
		query += forUpdate(q, false)
	}
	c, err := getOne(ctx, q, query, scanWorkerChannel, workerSID, wsSID, accountSID, sid, sid, wsSID, sid)
	return c, notFound(err)
}

// UpdateWorkerChannel sets a worker's capacity or availability on a
// channel; more room starts assignment at once.
func (s *Service) UpdateWorkerChannel(ctx context.Context, accountSID, wsSID, workerSID, sid string, capacity *int, available *bool) (WorkerChannel, error) {
	var out WorkerChannel
	err := s.write(ctx, func(q store.Querier, fx *effects) error {
		c, err := s.workerChannelIn(ctx, q, accountSID, wsSID, workerSID, sid, true)
		if err != nil {
			return err
		}
		set(&c.Capacity, capacity)
		set(&c.Available, available)
		c.Updated = store.Now()
		if _, err := q.ExecContext(ctx, "UPDATE tr_worker_channels SET capacity = ?, available = ?, date_updated = ? WHERE sid = ?",
			c.Capacity, c.Available, c.Updated, c.SID); err != nil {
			return err
		}
		w, err := s.workerIn(ctx, q, accountSID, wsSID, workerSID, false)
		if err != nil {
			return err
		}
		typ := "worker.capacity.update"
		if capacity == nil {
			typ = "worker.channel.availability.update"
		}
		if err := s.workerEvent(ctx, q, fx, typ, w, map[string]any{"worker_channel_task_count": c.Assigned,
			"worker_channel_capacity": c.Capacity, "worker_channel_available": c.Available,
			"task_channel_unique_name": c.TaskChannelUniqueName}); err != nil {
			return err
		}
		fx.pushWorker("worker.capacity.update", accountSID, wsSID, workerSID, urls{s.opts.BaseURL}.workerChannel(c))
		fx.statsChanged(accountSID, wsSID)
		fx.kickWorker(wsSID, workerSID)
		out = c
		return nil
	})
	return out, err
}
