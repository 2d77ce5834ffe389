package taskrouter

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/webhook"
)

// eventDescriptions are the human texts of the event types Parley emits.
var eventDescriptions = map[string]string{
	"task.created": "Task created", "task.updated": "Task updated", "task.canceled": "Task canceled",
	"task.completed": "Task completed", "task.deleted": "Task deleted", "task.wrapup": "Task wrapping up",
	"task-queue.entered": "Task entered a TaskQueue", "task-queue.moved": "Task moved to another TaskQueue",
	"task-queue.timeout": "Task timed out of a TaskQueue", "workflow.entered": "Task entered a Workflow",
	"workflow.timeout": "Task timed out of its Workflow", "workflow.target-matched": "Task matched a Workflow target",
	"reservation.created": "Reservation created", "reservation.accepted": "Reservation accepted",
	"reservation.rejected": "Reservation rejected", "reservation.timeout": "Reservation timed out",
	"reservation.canceled": "Reservation canceled", "reservation.rescinded": "Reservation rescinded",
	"reservation.wrapup": "Reservation wrapping up", "reservation.completed": "Reservation completed",
	"worker.activity.update": "Worker activity updated", "worker.attributes.update": "Worker attributes updated",
	"worker.capacity.update":             "Worker channel capacity updated",
	"worker.channel.availability.update": "Worker channel availability updated",
}

// taskEvent records an event about a task (and its reservation, if any)
// in the transaction, to be delivered after commit.
func (s *Service) taskEvent(ctx context.Context, q store.Querier, fx *effects, typ string, t Task, r *Reservation, extra map[string]any) error {
	data := map[string]any{"task_sid": t.SID, "task_attributes": t.Attributes, "task_priority": t.Priority,
		"task_assignment_status": t.Status, "task_channel_unique_name": t.ChannelUniqueName,
		"task_queue_sid": t.QueueSID, "workflow_sid": t.WorkflowSID, "task_age": max(0, store.Now()-t.Created) / 1000}
	if t.Reason != "" {
		data["task_canceled_reason"] = t.Reason
	}
	e := Event{Type: typ, AccountSID: t.AccountSID, WorkspaceSID: t.WorkspaceSID, ResourceType: "task", ResourceSID: t.SID,
		TaskSID: t.SID, QueueSID: t.QueueSID, WorkflowSID: t.WorkflowSID, TaskChannel: t.ChannelUniqueName}
	if r != nil {
		e.ResourceType, e.ResourceSID, e.ReservationSID, e.WorkerSID = "reservation", r.SID, r.SID, r.WorkerSID
		data["reservation_sid"], data["worker_sid"], data["worker_name"] = r.SID, r.WorkerSID, r.WorkerName
	}
	if typ == "reservation.accepted" || typ == "task.canceled" {
		e.WaitMS = store.Now() - t.Created // for the cumulative wait statistics
	}
	for k, v := range extra {
		data[k] = v
	}
	return s.recordEvent(ctx, q, fx, e, data)
}

// workerEvent records an event about a worker.
func (s *Service) workerEvent(ctx context.Context, q store.Querier, fx *effects, typ string, w Worker, extra map[string]any) error {
	data := map[string]any{"worker_sid": w.SID, "worker_name": w.FriendlyName, "worker_attributes": w.Attributes,
		"worker_activity_sid": w.ActivitySID, "worker_activity_name": w.ActivityName}
	for k, v := range extra {
		data[k] = v
	}
	e := Event{Type: typ, AccountSID: w.AccountSID, WorkspaceSID: w.WorkspaceSID, ResourceType: "worker", ResourceSID: w.SID, WorkerSID: w.SID}
	return s.recordEvent(ctx, q, fx, e, data)
}

func (s *Service) recordEvent(ctx context.Context, q store.Querier, fx *effects, e Event, data map[string]any) error {
	e.SID = rest.NewSID("EV")
	e.Date = store.Now()
	e.Description = eventDescriptions[e.Type]
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	e.Data = string(b)
	fx.events = append(fx.events, e) // written by write() in one INSERT before commit
	return nil
}

// ---- delivery ----

type cachedWorkspace struct {
	callbackURL string
	filter      map[string]bool
	at          time.Time
}

// callbackSettings reads a workspace's EventCallbackUrl and EventsFilter,
// cached briefly so that a burst of events costs one query.
func (s *Service) callbackSettings(ctx context.Context, accountSID, wsSID string) (cachedWorkspace, bool) {
	if v, ok := s.wsCache.Load(wsSID); ok && time.Since(v.(cachedWorkspace).at) < 2*time.Second {
		return v.(cachedWorkspace), true
	}
	ws, err := s.Workspace(ctx, accountSID, wsSID)
	if err != nil {
		return cachedWorkspace{}, false
	}
	c := cachedWorkspace{callbackURL: ws.EventCallbackURL, at: time.Now()}
	if strings.TrimSpace(ws.EventsFilter) != "" {
		c.filter = map[string]bool{}
		for _, t := range strings.Split(ws.EventsFilter, ",") {
			c.filter[strings.TrimSpace(t)] = true
		}
	}
	s.wsCache.Store(wsSID, c)
	return c, true
}

// deliverEvent posts an event to the workspace's EventCallbackUrl (signed,
// retried, in the background) when its EventsFilter lets it through.
func (s *Service) deliverEvent(ctx context.Context, e Event) {
	if s.hooks == nil {
		return
	}
	c, ok := s.callbackSettings(ctx, e.AccountSID, e.WorkspaceSID)
	if !ok || c.callbackURL == "" || (c.filter != nil && !c.filter[e.Type]) {
		return
	}
	p := url.Values{"EventType": {e.Type}, "EventDescription": {e.Description}, "ResourceType": {e.ResourceType},
		"ResourceSid": {e.ResourceSID}, "WorkspaceSid": {e.WorkspaceSID}, "AccountSid": {e.AccountSID},
		"Sid": {e.SID}, "Timestamp": {strconv.FormatInt(e.Date/1000, 10)}, "TimestampMs": {strconv.FormatInt(e.Date, 10)}}
	var data map[string]any
	_ = json.Unmarshal([]byte(e.Data), &data)
	for k, v := range data {
		p.Set(pascal(k), fmt.Sprint(v))
	}
	s.hooks.Send(webhook.Request{AccountSID: e.AccountSID, URL: c.callbackURL, Params: p, Retries: 3})
}

// pascal turns "task_queue_sid" into "TaskQueueSid".
func pascal(s string) string {
	parts := strings.Split(s, "_")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}

func (s *Service) publish(ctx context.Context, subject string, msg any) {
	if s.bus == nil {
		return
	}
	b, err := json.Marshal(msg)
	if err != nil {
		s.log.ErrorContext(ctx, "marshal push", slog.String("subject", subject), slog.Any("error", err))
		return
	}
	if err := s.bus.Publish(ctx, subject, b); err != nil {
		s.log.WarnContext(ctx, "publish failed", slog.String("subject", subject), slog.Any("error", err))
	}
}

// pushWorker queues a realtime message for a worker's socket.
func (fx *effects) pushWorker(typ, accountSID, wsSID, workerSID string, data any) {
	fx.pushes = append(fx.pushes, push{subject: "worker." + workerSID, msg: map[string]any{"v": 1, "type": typ,
		"account_sid": accountSID, "workspace_sid": wsSID, "worker_sid": workerSID, "data": data}})
}

// pushReservation queues a reservation push with its task embedded.
func (s *Service) pushReservation(fx *effects, typ string, r Reservation, t Task) {
	u := urls{s.opts.BaseURL}
	rj := u.reservation(r, true)
	tj := u.task(t)
	rj.Task = &tj
	fx.pushWorker(typ, r.AccountSID, r.WorkspaceSID, r.WorkerSID, rj)
}

// EventFilter narrows the event log.
type EventFilter struct {
	Start, End                                                      int64 // unix ms; 0: open
	Type, ReservationSID, QueueSID, TaskSID, WorkerSID, WorkflowSID string
	TaskChannel, SID                                                string
}

// Events lists a workspace's events, oldest first.
func (s *Service) Events(ctx context.Context, accountSID, wsSID string, ef EventFilter, page rest.Page) ([]Event, error) {
	f := filter{}
	f.add("workspace_sid = ? AND account_sid = ?", wsSID, accountSID)
	if ef.Start > 0 {
		f.add("event_date >= ?", ef.Start)
	}
	if ef.End > 0 {
		f.add("event_date <= ?", ef.End)
	}
	for _, c := range []struct{ col, v string }{{"event_type", ef.Type}, {"reservation_sid", ef.ReservationSID},
		{"task_queue_sid", ef.QueueSID}, {"task_sid", ef.TaskSID}, {"worker_sid", ef.WorkerSID},
		{"workflow_sid", ef.WorkflowSID}, {"task_channel", ef.TaskChannel}, {"sid", ef.SID}} {
		if c.v != "" {
			f.add(c.col+" = ?", c.v)
		}
	}
	return listRows(ctx, s.db, eventCols, "tr_events", "seq", f, page.After, page.Before, page.Fetch(), scanEvent)
}

// Event fetches one event.
func (s *Service) Event(ctx context.Context, accountSID, wsSID, sid string) (Event, error) {
	e, err := getOne(ctx, s.db, "SELECT "+eventCols+" FROM tr_events WHERE sid = ? AND workspace_sid = ? AND account_sid = ?",
		scanEvent, sid, wsSID, accountSID)
	return e, notFound(err)
}
