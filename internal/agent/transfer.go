package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// Transfers, as Flex does them (cold): the chat goes to a new task routed
// to a queue or a named agent; the agent's own reservation goes to
// wrapping and the agent leaves the chat channel. Whoever accepts the new
// task joins the chat as usual.

// Transfer is a transfer an agent made, shown on the old reservation.
type Transfer struct {
	SID        string `json:"sid"`
	ChannelSID string `json:"channel_sid"`
	FromTask   string `json:"from_task_sid"`
	ToTask     string `json:"to_task_sid"`
	TargetType string `json:"target_type"`
	TargetSID  string `json:"target_sid"`
	TargetName string `json:"target_name"`
	Created    int64  `json:"date_created_ms"`
}

// channelOf reads the chat channel from a task's attributes.
func channelOf(attributes string) string {
	var a struct {
		ChannelSID string `json:"channelSid"`
	}
	_ = json.Unmarshal([]byte(attributes), &a)
	if !rest.IsSID("CH", a.ChannelSID) {
		return ""
	}
	return a.ChannelSID
}

// TransferTargets lists where the agent may transfer a chat.
func (s *Service) TransferTargets(ctx context.Context, a Agent) ([]TransferTarget, error) {
	list, err := s.desk.TransferTargets(ctx, a)
	if err != nil {
		return nil, err
	}
	out := list[:0]
	for _, t := range list {
		if t.SID != a.WorkerSID {
			out = append(out, t)
		}
	}
	return out, nil
}

// Transfer hands the chat of the agent's accepted reservation to
// targetSID (a WQ queue or a WK worker of its workspace).
func (s *Service) Transfer(ctx context.Context, a Agent, reservationSID, targetSID string) (Transfer, Reservation, error) {
	if targetSID == a.WorkerSID {
		return Transfer{}, Reservation{}, rest.InvalidParam("TargetSid", "is your own worker: a chat cannot be transferred to yourself")
	}
	r, err := s.desk.Reservation(ctx, a, reservationSID)
	if err != nil {
		return Transfer{}, r, err
	}
	if r.Status != "accepted" {
		return Transfer{}, r, rest.Conflict(20409, "Reservation %s is %s: only an accepted chat can be transferred", r.SID, r.Status)
	}
	ch := channelOf(r.Attributes)
	if ch == "" {
		return Transfer{}, r, rest.BadRequest("Task %s is not a chat task (its attributes have no channelSid)", r.TaskSID)
	}
	targets, err := s.TransferTargets(ctx, a)
	if err != nil {
		return Transfer{}, r, err
	}
	var to *TransferTarget
	for i := range targets {
		if targets[i].SID == targetSID {
			to = &targets[i]
		}
	}
	switch {
	case to == nil:
		return Transfer{}, r, rest.InvalidParam("TargetSid", "%s is not a queue or another agent of your workspace", targetSID)
	case to.Type == TargetWorker && !to.Available:
		return Transfer{}, r, rest.Conflict(20409, "%s is %s: transfer to an available agent or to a queue", to.FriendlyName, to.ActivityName)
	}
	// The record is also the claim: a second transfer of the same
	// reservation (a double click, another tab) stops here.
	t := Transfer{SID: rest.NewSID("TT"), ChannelSID: ch, FromTask: r.TaskSID, TargetType: to.Type, TargetSID: to.SID,
		TargetName: to.FriendlyName, Created: store.Now()}
	if err := s.st().insertTransfer(ctx, a, r.SID, t); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Transfer{}, r, rest.Conflict(20409, "Reservation %s is already being transferred", r.SID)
		}
		return Transfer{}, r, err
	}
	from := TransferredFrom{WorkerSID: a.WorkerSID, AgentName: a.FriendlyName, TaskSID: r.TaskSID, ReservationSID: r.SID, QueueName: r.QueueName}
	task, err := s.desk.CreateTransferTask(ctx, a, r, *to, from)
	if err == nil {
		if err = s.desk.HandOver(ctx, a, ch, task); err != nil {
			if cerr := s.desk.CancelTask(ctx, a, task, "transfer failed"); cerr != nil {
				s.logger.WarnContext(ctx, "transfer task left pending", slog.String("task_sid", task), slog.Any("error", cerr))
			}
		}
	} else {
		err = fmt.Errorf("agent: create the transfer's task: %w", err)
	}
	if err == nil {
		t.ToTask = task
		err = s.st().setTransferTask(ctx, t.SID, task)
	}
	if err != nil {
		if derr := s.st().deleteTransfer(ctx, t.SID); derr != nil {
			s.logger.WarnContext(ctx, "failed transfer still recorded", slog.String("transfer_sid", t.SID), slog.Any("error", derr))
		}
		return Transfer{}, r, err
	}
	s.logger.InfoContext(ctx, "chat transferred", slog.String("channel_sid", ch), slog.String("from_task_sid", r.TaskSID),
		slog.String("task_sid", task), slog.String("target_sid", to.SID))
	// The chat has moved: what follows tidies the old side, and a failure
	// there must not hide that the transfer happened.
	if nr, err := s.desk.UpdateReservation(ctx, a, r.SID, "wrapping"); err != nil {
		s.logger.WarnContext(ctx, "transferred reservation not wrapped up", slog.String("reservation_sid", r.SID), slog.Any("error", err))
	} else {
		r = nr
	}
	if err := s.desk.LeaveChat(ctx, a, r); err != nil {
		s.logger.WarnContext(ctx, "transferring agent still in the chat", slog.String("channel_sid", ch), slog.Any("error", err))
	}
	r.Transfer = &t
	return t, r, nil
}

// Reservations lists the worker's reservations with the transfers it made.
func (s *Service) Reservations(ctx context.Context, a Agent) ([]Reservation, error) {
	list, err := s.desk.Reservations(ctx, a)
	if err != nil || len(list) == 0 {
		return list, err
	}
	sids := make([]string, len(list))
	for i, r := range list {
		sids[i] = r.SID
	}
	done, err := s.st().transfers(ctx, a.WorkerSID, sids)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if t, ok := done[list[i].SID]; ok {
			list[i].Transfer = &t
		}
	}
	return list, nil
}

func (s *agentStore) insertTransfer(ctx context.Context, a Agent, reservationSID string, t Transfer) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO agent_transfers (sid, account_sid, workspace_sid, channel_sid, from_task_sid, "+
		"from_reservation_sid, from_worker_sid, to_task_sid, target_type, target_sid, target_name, date_created) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", t.SID, a.AccountSID, a.WorkspaceSID, t.ChannelSID, t.FromTask, reservationSID,
		a.WorkerSID, t.ToTask, t.TargetType, t.TargetSID, t.TargetName, t.Created)
	if err != nil {
		return fmt.Errorf("agent: record transfer: %w", err)
	}
	return nil
}

func (s *agentStore) setTransferTask(ctx context.Context, sid, taskSID string) error {
	_, err := s.db.ExecContext(ctx, "UPDATE agent_transfers SET to_task_sid = ? WHERE sid = ?", taskSID, sid)
	return err
}

func (s *agentStore) deleteTransfer(ctx context.Context, sid string) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM agent_transfers WHERE sid = ?", sid)
	return err
}

// transfers returns the worker's transfers made from the reservations.
func (s *agentStore) transfers(ctx context.Context, workerSID string, reservationSIDs []string) (map[string]Transfer, error) {
	args := []any{workerSID}
	for _, sid := range reservationSIDs {
		args = append(args, sid)
	}
	type row struct {
		res string
		t   Transfer
	}
	rows, err := store.QueryAll(ctx, s.db, "SELECT from_reservation_sid, sid, channel_sid, from_task_sid, to_task_sid, target_type, "+
		"target_sid, target_name, date_created FROM agent_transfers WHERE from_worker_sid = ? AND from_reservation_sid IN (?"+
		strings.Repeat(", ?", len(reservationSIDs)-1)+")", func(sc store.Scanner) (row, error) {
		var r row
		err := sc.Scan(&r.res, &r.t.SID, &r.t.ChannelSID, &r.t.FromTask, &r.t.ToTask, &r.t.TargetType, &r.t.TargetSID,
			&r.t.TargetName, &r.t.Created)
		return r, err
	}, args...)
	out := make(map[string]Transfer, len(rows))
	for _, r := range rows {
		out[r.res] = r.t
	}
	return out, err
}

// ---- HTTP ---------------------------------------------------------------

func (h *handlers) transferRoutes(rt *rest.Router) {
	rt.Public("GET /agent/desk/transfer-targets", h.session(h.transferTargets))
	rt.Public("POST /agent/desk/reservations/{Sid}/transfer", h.session(h.transfer))
}

func (h *handlers) transferTargets(w http.ResponseWriter, r *http.Request, a Agent) error {
	if err := h.requireDesk(); err != nil {
		return err
	}
	list, err := h.s.TransferTargets(r.Context(), a)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, map[string]any{"targets": list})
}

func (h *handlers) transfer(w http.ResponseWriter, r *http.Request, a Agent) error {
	if err := h.requireDesk(); err != nil {
		return err
	}
	sid, err := rest.PathSID(r, "Sid", "WR")
	if err != nil {
		return err
	}
	f, err := h.rt.Form(r)
	if err != nil {
		return err
	}
	target := f.Required("TargetSid")
	if err := f.Err(); err != nil {
		return err
	}
	if !rest.IsSID("WQ", target) && !rest.IsSID("WK", target) {
		return rest.InvalidParam("TargetSid", "%q is neither a queue (WQ...) nor a worker (WK...) SID", target)
	}
	t, res, err := h.s.Transfer(r.Context(), a, sid, target)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, map[string]any{"transfer": t, "reservation": res})
}
