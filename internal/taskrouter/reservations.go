package taskrouter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

var errNotPending = errors.New("taskrouter: reservation is no longer in that state")

// reservationMoves lists, for each target status, the statuses it may come from.
var reservationMoves = map[string][]string{
	ResAccepted:  {ResPending},
	ResRejected:  {ResPending},
	ResTimeout:   {ResPending},
	ResRescinded: {ResPending},
	ResCanceled:  {ResPending, ResAccepted, ResWrapping},
	ResWrapping:  {ResAccepted},
	ResCompleted: {ResAccepted, ResWrapping},
}

// releases are the reservation ends that give the worker's capacity back.
var releases = map[string]bool{ResRejected: true, ResTimeout: true, ResRescinded: true, ResCanceled: true, ResCompleted: true}

var reservationEventTypes = map[string]string{ResAccepted: "reservation.accepted", ResRejected: "reservation.rejected",
	ResTimeout: "reservation.timeout", ResRescinded: "reservation.rescinded", ResCanceled: "reservation.canceled",
	ResWrapping: "reservation.wrapup", ResCompleted: "reservation.completed"}

func liveReservation(ctx context.Context, q store.Querier, taskSID string) (Reservation, bool, error) {
	r, err := getOne(ctx, q, "SELECT "+reservationCols+" FROM tr_reservations WHERE task_sid = ? AND status IN (?, ?, ?)",
		scanReservation, taskSID, ResPending, ResAccepted, ResWrapping)
	if errors.Is(err, store.ErrNotFound) {
		return r, false, nil
	}
	return r, err == nil, err
}

// moveReservation changes a reservation's status under the (already
// locked) task: capacity, worker activity, event and push. The caller
// changes the task.
func (s *Service) moveReservation(ctx context.Context, q store.Querier, fx *effects, t Task, r Reservation, to, workerActivitySID string) (Reservation, error) {
	from := reservationMoves[to]
	now := store.Now()
	n, err := exec(ctx, q, "UPDATE tr_reservations SET status = ?, date_updated = ? WHERE sid = ? AND status IN (?"+strings.Repeat(", ?", len(from)-1)+")",
		append([]any{to, now, r.SID}, toAny(from)...)...)
	if err != nil {
		return r, err
	}
	if n == 0 {
		return r, fmt.Errorf("%w: %s is %s", errNotPending, r.SID, r.Status)
	}
	r.Status, r.Updated = to, now
	if releases[to] {
		if err := releaseCapacity(ctx, q, r, now); err != nil {
			return r, err
		}
		fx.kickWorker(t.WorkspaceSID, r.WorkerSID)
	}
	if err := s.reservationActivity(ctx, q, fx, t, r, to, workerActivitySID); err != nil {
		return r, err
	}
	if err := s.taskEvent(ctx, q, fx, reservationEventTypes[to], t, &r, nil); err != nil {
		return r, err
	}
	s.pushReservation(fx, reservationEventTypes[to], r, t)
	fx.statsChanged(t.AccountSID, t.WorkspaceSID)
	return r, nil
}

// reservationActivity moves the worker to the activity a reservation's
// change calls for: the queue's assignment activity on accept, the
// requested one on reject, the workspace's timeout activity on timeout.
func (s *Service) reservationActivity(ctx context.Context, q store.Querier, fx *effects, t Task, r Reservation, to, requested string) error {
	actSID := ""
	switch to {
	case ResAccepted:
		if tq, err := s.TaskQueue(ctx, t.AccountSID, t.WorkspaceSID, t.QueueSID); err == nil {
			actSID = tq.AssignmentActivitySID
		}
	case ResRejected:
		actSID = requested
	case ResTimeout:
		if ws, err := s.Workspace(ctx, t.AccountSID, t.WorkspaceSID); err == nil {
			actSID = ws.TimeoutActivitySID
		}
	}
	if actSID == "" {
		return nil
	}
	act, err := s.Activity(ctx, t.AccountSID, t.WorkspaceSID, actSID)
	if err != nil {
		return rest.InvalidParam("WorkerActivitySid", "%s is not an activity of this workspace", actSID)
	}
	w, err := s.workerIn(ctx, q, t.AccountSID, t.WorkspaceSID, r.WorkerSID, true)
	if err != nil || w.ActivitySID == act.SID {
		return nil
	}
	_, err = s.setActivity(ctx, q, fx, w, act)
	return err
}

// releaseCapacity gives a reservation's slot back to its worker.
func releaseCapacity(ctx context.Context, q store.Querier, r Reservation, now int64) error {
	if _, err := q.ExecContext(ctx, `UPDATE tr_worker_channels SET assigned = assigned - 1, date_updated = ?
		WHERE worker_sid = ? AND task_channel_sid = ? AND assigned > 0`, now, r.WorkerSID, r.ChannelSID); err != nil {
		return err
	}
	_, err := q.ExecContext(ctx, "UPDATE tr_workers SET active_tasks = active_tasks - 1, idle_since = ? WHERE sid = ? AND active_tasks > 0",
		now, r.WorkerSID)
	return err
}

// ReservationUpdate is what a client asks of a reservation.
type ReservationUpdate struct {
	Status            string // accepted, rejected, wrapping, completed
	WorkerActivitySID string // on reject
	WorkerSID         string // when addressed under a worker: must own it
	IfMatch           string
}

// UpdateReservation accepts, rejects, wraps up or completes a reservation,
// and moves its task along.
func (s *Service) UpdateReservation(ctx context.Context, accountSID, wsSID, taskSID, sid string, u ReservationUpdate) (Reservation, error) {
	if !slices.Contains([]string{ResAccepted, ResRejected, ResWrapping, ResCompleted}, u.Status) {
		return Reservation{}, rest.InvalidParam("ReservationStatus", "%q is not one of accepted, rejected, wrapping, completed", u.Status)
	}
	if u.WorkerActivitySID != "" {
		if _, err := s.Activity(ctx, accountSID, wsSID, u.WorkerActivitySID); err != nil {
			return Reservation{}, rest.InvalidParam("WorkerActivitySid", "%s is not an activity of this workspace", u.WorkerActivitySID)
		}
	}
	var out Reservation
	err := s.write(ctx, func(q store.Querier, fx *effects) error {
		t, err := s.taskIn(ctx, q, accountSID, wsSID, taskSID, true)
		if err != nil {
			return err
		}
		r, err := getOne(ctx, q, "SELECT "+reservationCols+" FROM tr_reservations WHERE sid = ? AND task_sid = ?"+forUpdate(q, false),
			scanReservation, sid, taskSID)
		if err != nil {
			return notFound(err)
		}
		if u.WorkerSID != "" && r.WorkerSID != u.WorkerSID {
			return ErrNotFound
		}
		if u.IfMatch != "" && u.IfMatch != etag(r.Updated) {
			return preconditionFailed()
		}
		if r.Status == u.Status {
			out = r
			return nil
		}
		if r, err = s.moveReservation(ctx, q, fx, t, r, u.Status, u.WorkerActivitySID); err != nil {
			if errors.Is(err, errNotPending) {
				return rest.BadRequest("Reservation %s is %s and cannot become %s", sid, statusBefore(err, r), u.Status)
			}
			return err
		}
		out = r
		return s.followReservation(ctx, q, fx, t, u.Status)
	})
	return out, err
}

func statusBefore(_ error, r Reservation) string { return r.Status }

// followReservation moves a task after its reservation changed.
func (s *Service) followReservation(ctx context.Context, q store.Querier, fx *effects, t Task, resStatus string) error {
	var err error
	switch resStatus {
	case ResAccepted:
		_, err = s.setTaskStatus(ctx, q, fx, t, StatusAssigned, "")
	case ResRejected, ResTimeout, ResRescinded:
		_, err = s.setTaskStatus(ctx, q, fx, t, StatusPending, "")
		fx.kick(t.WorkspaceSID)
	case ResWrapping:
		_, err = s.setTaskStatus(ctx, q, fx, t, StatusWrapping, "")
	case ResCompleted:
		_, err = s.setTaskStatus(ctx, q, fx, t, StatusCompleted, "reservation completed")
	}
	return err
}

// Reservation fetches one reservation of a task.
func (s *Service) Reservation(ctx context.Context, accountSID, wsSID, taskSID, sid string) (Reservation, error) {
	r, err := getOne(ctx, s.db, "SELECT "+reservationCols+" FROM tr_reservations WHERE sid = ? AND task_sid = ? AND workspace_sid = ? AND account_sid = ?",
		scanReservation, sid, taskSID, wsSID, accountSID)
	return r, notFound(err)
}

// WorkerReservation fetches one reservation of a worker.
func (s *Service) WorkerReservation(ctx context.Context, accountSID, wsSID, workerSID, sid string) (Reservation, error) {
	r, err := getOne(ctx, s.db, "SELECT "+reservationCols+" FROM tr_reservations WHERE sid = ? AND worker_sid = ? AND workspace_sid = ? AND account_sid = ?",
		scanReservation, sid, workerSID, wsSID, accountSID)
	return r, notFound(err)
}

// Reservations lists reservations of a task or of a worker (one of them set).
func (s *Service) Reservations(ctx context.Context, accountSID, wsSID, taskSID, workerSID, status string, page rest.Page) ([]Reservation, error) {
	f := filter{}
	f.add("workspace_sid = ? AND account_sid = ?", wsSID, accountSID)
	if taskSID != "" {
		f.add("task_sid = ?", taskSID)
	}
	if workerSID != "" {
		f.add("worker_sid = ?", workerSID)
	}
	if status != "" {
		f.add("status = ?", status)
	}
	return listRows(ctx, s.db, reservationCols, "tr_reservations", "seq", f, page.After, page.Before, page.Fetch(), scanReservation)
}
