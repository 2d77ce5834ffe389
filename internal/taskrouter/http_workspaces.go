package taskrouter

import (
	"net/http"

	"github.com/parleychat/parley/internal/rest"
)

func workspaceParams(f *rest.Form, create bool) WorkspaceParams {
	f.MaxLen("FriendlyName", 64)
	p := WorkspaceParams{FriendlyName: f.Optional("FriendlyName"), EventsFilter: f.Optional("EventsFilter"),
		MultiTaskEnabled: f.Bool("MultiTaskEnabled")}
	if create {
		f.Required("FriendlyName")
		p.Template = f.OneOf("Template", "NONE", "FIFO")
	} else {
		p.DefaultActivitySID = optionalSID(f, "DefaultActivitySid", "WA")
		p.TimeoutActivitySID = optionalSID(f, "TimeoutActivitySid", "WA")
	}
	if f.Has("EventCallbackUrl") {
		u := f.URL("EventCallbackUrl")
		p.EventCallbackURL = &u
	}
	if f.Has("PrioritizeQueueOrder") {
		o := f.OneOf("PrioritizeQueueOrder", "FIFO", "LIFO")
		p.PrioritizeQueueOrder = &o
	}
	return p
}

func optionalSID(f *rest.Form, name, prefix string) *string {
	if !f.Has(name) {
		return nil
	}
	s := f.SID(name, prefix)
	if s == "" {
		f.Required(name)
	}
	return &s
}

func (h *handlers) admin(r *http.Request) (string, error) {
	p := rest.PrincipalFrom(r.Context())
	if err := p.RequireAdmin(); err != nil {
		return "", err
	}
	return p.AccountSID, nil
}

func (h *handlers) createWorkspace(w http.ResponseWriter, r *http.Request) error {
	acct, err := h.admin(r)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	p := workspaceParams(f, true)
	if err := f.Err(); err != nil {
		return err
	}
	ws, err := h.s.CreateWorkspace(r.Context(), acct, p)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusCreated, h.urls().workspace(ws))
}

func (h *handlers) listWorkspaces(w http.ResponseWriter, r *http.Request) error {
	acct, err := h.admin(r)
	if err != nil {
		return err
	}
	f, page, err := h.page(r)
	if err != nil {
		return err
	}
	rows, err := h.s.Workspaces(r.Context(), acct, f.String("FriendlyName"), page)
	if err != nil {
		return err
	}
	return writeList(w, r, "workspaces", h.rt.URL("/taskrouter/v1/Workspaces"), page, rows, h.urls().workspace,
		func(j workspaceJSON) int64 { return j.seq })
}

func (h *handlers) fetchWorkspace(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, workspaceRead)
	if err != nil {
		return err
	}
	ws, err := h.s.Workspace(r.Context(), c.acct, c.ws)
	if err != nil {
		return h.notFound(r, err)
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().workspace(ws))
}

func (h *handlers) updateWorkspace(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, adminOnly)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	p := workspaceParams(f, false)
	if err := f.Err(); err != nil {
		return err
	}
	ws, err := h.s.UpdateWorkspace(r.Context(), c.acct, c.ws, p)
	if err != nil {
		return h.notFound(r, err)
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().workspace(ws))
}

func (h *handlers) deleteWorkspace(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, adminOnly)
	if err != nil {
		return err
	}
	if err := h.s.DeleteWorkspace(r.Context(), c.acct, c.ws); err != nil {
		return h.notFound(r, err)
	}
	return rest.NoContent(w)
}

// ---- activities ----

func (h *handlers) createActivity(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, adminOnly)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	name := f.Required("FriendlyName")
	f.MaxLen("FriendlyName", 64)
	available := f.Bool("Available")
	if err := f.Err(); err != nil {
		return err
	}
	a, err := h.s.CreateActivity(r.Context(), c.acct, c.ws, name, available != nil && *available)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusCreated, h.urls().activity(a))
}

func (h *handlers) listActivities(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, workspaceRead)
	if err != nil {
		return err
	}
	f, page, err := h.page(r)
	if err != nil {
		return err
	}
	available := f.Bool("Available")
	if err := f.Err(); err != nil {
		return err
	}
	rows, err := h.s.Activities(r.Context(), c.acct, c.ws, f.String("FriendlyName"), available, page)
	if err != nil {
		return err
	}
	return writeList(w, r, "activities", h.urls().ws(c.ws)+"/Activities", page, rows, h.urls().activity,
		func(j activityJSON) int64 { return j.seq })
}

func (h *handlers) activity(r *http.Request, sc scope) (call, Activity, error) {
	return instance(h, r, sc, "Sid", "WA", h.s.Activity)
}

func (h *handlers) fetchActivity(w http.ResponseWriter, r *http.Request) error {
	_, a, err := h.activity(r, workspaceRead)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().activity(a))
}

func (h *handlers) updateActivity(w http.ResponseWriter, r *http.Request) error {
	c, a, err := h.activity(r, adminOnly)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	f.MaxLen("FriendlyName", 64)
	if err := f.Err(); err != nil {
		return err
	}
	if name := f.Optional("FriendlyName"); name != nil && *name != "" {
		if a, err = h.s.RenameActivity(r.Context(), c.acct, c.ws, a.SID, *name); err != nil {
			return h.notFound(r, err)
		}
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().activity(a))
}

func (h *handlers) deleteActivity(w http.ResponseWriter, r *http.Request) error {
	c, a, err := h.activity(r, adminOnly)
	if err != nil {
		return err
	}
	if err := h.s.DeleteActivity(r.Context(), c.acct, c.ws, a.SID); err != nil {
		return h.notFound(r, err)
	}
	return rest.NoContent(w)
}

// ---- task channels ----

func (h *handlers) createTaskChannel(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, adminOnly)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	name, unique := f.Required("FriendlyName"), f.Required("UniqueName")
	f.MaxLen("FriendlyName", 64)
	f.MaxLen("UniqueName", 64)
	optimized := f.Bool("ChannelOptimizedRouting")
	if err := f.Err(); err != nil {
		return err
	}
	tc, err := h.s.CreateTaskChannel(r.Context(), c.acct, c.ws, unique, name, optimized != nil && *optimized)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusCreated, h.urls().taskChannel(tc))
}

func (h *handlers) listTaskChannels(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, workspaceRead)
	if err != nil {
		return err
	}
	_, page, err := h.page(r)
	if err != nil {
		return err
	}
	rows, err := h.s.TaskChannels(r.Context(), c.acct, c.ws, page)
	if err != nil {
		return err
	}
	return writeList(w, r, "channels", h.urls().ws(c.ws)+"/TaskChannels", page, rows, h.urls().taskChannel,
		func(j taskChannelJSON) int64 { return j.seq })
}

func (h *handlers) taskChannel(r *http.Request, sc scope) (call, TaskChannel, error) {
	c, err := h.workspace(r, sc)
	if err != nil {
		return c, TaskChannel{}, err
	}
	tc, err := h.s.TaskChannel(r.Context(), c.acct, c.ws, r.PathValue("Sid"))
	return c, tc, h.notFound(r, err)
}

func (h *handlers) fetchTaskChannel(w http.ResponseWriter, r *http.Request) error {
	_, tc, err := h.taskChannel(r, workspaceRead)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().taskChannel(tc))
}

func (h *handlers) updateTaskChannel(w http.ResponseWriter, r *http.Request) error {
	c, tc, err := h.taskChannel(r, adminOnly)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	f.MaxLen("FriendlyName", 64)
	optimized := f.Bool("ChannelOptimizedRouting")
	if err := f.Err(); err != nil {
		return err
	}
	tc, err = h.s.UpdateTaskChannel(r.Context(), c.acct, c.ws, tc.SID, f.Optional("FriendlyName"), optimized)
	if err != nil {
		return h.notFound(r, err)
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().taskChannel(tc))
}

func (h *handlers) deleteTaskChannel(w http.ResponseWriter, r *http.Request) error {
	c, tc, err := h.taskChannel(r, adminOnly)
	if err != nil {
		return err
	}
	if err := h.s.DeleteTaskChannel(r.Context(), c.acct, c.ws, tc.SID); err != nil {
		return h.notFound(r, err)
	}
	return rest.NoContent(w)
}

// ---- statistics and events ----

func realTimeJSON(rt RealTime, c call, url string) map[string]any {
	return map[string]any{"account_sid": c.acct, "workspace_sid": c.ws, "url": url,
		"activity_statistics": rt.ActivityStatistics, "longest_task_waiting_age": rt.LongestWaitingAge,
		"longest_task_waiting_sid": nullable(rt.LongestWaitingSID), "tasks_by_priority": rt.TasksByPriority,
		"tasks_by_status": rt.TasksByStatus, "total_tasks": rt.TotalTasks}
}

func (h *handlers) workspaceRealTime(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, adminOnly)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	rt, err := h.s.WorkspaceRealTime(r.Context(), c.acct, c.ws, f.String("TaskChannel"))
	if err != nil {
		return h.notFound(r, err)
	}
	out := realTimeJSON(rt, c, h.urls().ws(c.ws)+"/RealTimeStatistics")
	out["total_workers"] = rt.TotalWorkers
	return rest.WriteJSON(w, http.StatusOK, out)
}

func cumulativeJSON(cu Cumulative, c call, url string) map[string]any {
	n := cu.Counts
	return map[string]any{"account_sid": c.acct, "workspace_sid": c.ws, "url": url,
		"start_time": ts(cu.Start), "end_time": ts(cu.End), "avg_task_acceptance_time": cu.Accepted.Avg,
		"reservations_created": n["reservation.created"], "reservations_accepted": n["reservation.accepted"],
		"reservations_rejected": n["reservation.rejected"], "reservations_timed_out": n["reservation.timeout"],
		"reservations_canceled": n["reservation.canceled"], "reservations_rescinded": n["reservation.rescinded"],
		"tasks_canceled": n["task.canceled"], "tasks_completed": n["task.completed"], "tasks_deleted": n["task.deleted"],
		"tasks_moved": n["task-queue.moved"], "split_by_wait_time": nil,
		"wait_duration_until_accepted": cu.Accepted.Map(), "wait_duration_until_canceled": cu.Canceled.Map()}
}

func (h *handlers) workspaceCumulative(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, adminOnly)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	start, end, err := window(f)
	if err != nil {
		return err
	}
	cu, err := h.s.CumulativeStats(r.Context(), c.acct, c.ws, "", f.String("TaskChannel"), start, end)
	if err != nil {
		return h.notFound(r, err)
	}
	out := cumulativeJSON(cu, c, h.urls().ws(c.ws)+"/CumulativeStatistics")
	out["tasks_created"] = cu.Counts["task.created"]
	out["tasks_timed_out_in_workflow"] = cu.Counts["workflow.timeout"]
	return rest.WriteJSON(w, http.StatusOK, out)
}

func (h *handlers) listEvents(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, adminOnly)
	if err != nil {
		return err
	}
	f, page, err := h.page(r)
	if err != nil {
		return err
	}
	ef := EventFilter{Type: f.String("EventType"), ReservationSID: f.String("ReservationSid"), QueueSID: f.String("TaskQueueSid"),
		TaskSID: f.String("TaskSid"), WorkerSID: f.String("WorkerSid"), WorkflowSID: f.String("WorkflowSid"),
		TaskChannel: f.String("TaskChannel"), SID: f.String("Sid")}
	if f.Has("StartDate") || f.Has("EndDate") || f.Has("Minutes") {
		if ef.Start, ef.End, err = window(f); err != nil {
			return err
		}
	}
	rows, err := h.s.Events(r.Context(), c.acct, c.ws, ef, page)
	if err != nil {
		return err
	}
	return writeList(w, r, "events", h.urls().ws(c.ws)+"/Events", page, rows, h.urls().event,
		func(j eventJSON) int64 { return j.seq })
}

func (h *handlers) fetchEvent(w http.ResponseWriter, r *http.Request) error {
	_, e, err := instance(h, r, adminOnly, "Sid", "EV", h.s.Event)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().event(e))
}
