package taskrouter

import (
	"math"
	"net/http"

	"github.com/parleychat/parley/internal/rest"
)

// ---- task queues ----

func queueParams(f *rest.Form) QueueParams {
	f.MaxLen("FriendlyName", 64)
	p := QueueParams{FriendlyName: f.Optional("FriendlyName"), TargetWorkers: f.Optional("TargetWorkers"),
		MaxReservedWorkers:     f.Int("MaxReservedWorkers", 1, 50),
		ReservationActivitySID: optionalSID(f, "ReservationActivitySid", "WA"),
		AssignmentActivitySID:  optionalSID(f, "AssignmentActivitySid", "WA")}
	if f.Has("TaskOrder") {
		o := f.OneOf("TaskOrder", "FIFO", "LIFO")
		p.TaskOrder = &o
	}
	return p
}

func (h *handlers) createTaskQueue(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, adminOnly)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	f.Required("FriendlyName")
	p := queueParams(f)
	if err := f.Err(); err != nil {
		return err
	}
	q, err := h.s.CreateTaskQueue(r.Context(), c.acct, c.ws, p)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusCreated, h.urls().taskQueue(q))
}

func (h *handlers) listTaskQueues(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, workspaceRead)
	if err != nil {
		return err
	}
	f, page, err := h.page(r)
	if err != nil {
		return err
	}
	workerSID := f.SID("WorkerSid", "WK")
	attrs := f.JSON("EvaluateWorkerAttributes", maxAttributes)
	if err := f.Err(); err != nil {
		return err
	}
	rows, err := h.s.TaskQueues(r.Context(), c.acct, c.ws, f.String("FriendlyName"), deref(attrs), workerSID, page)
	if err != nil {
		return err
	}
	return writeList(w, r, "task_queues", h.urls().ws(c.ws)+"/TaskQueues", page, rows, h.urls().taskQueue,
		func(j taskQueueJSON) int64 { return j.seq })
}

func (h *handlers) taskQueue(r *http.Request, sc scope, name string) (call, TaskQueue, error) {
	return instance(h, r, sc, name, "WQ", h.s.TaskQueue)
}

func (h *handlers) fetchTaskQueue(w http.ResponseWriter, r *http.Request) error {
	_, q, err := h.taskQueue(r, workspaceRead, "Sid")
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().taskQueue(q))
}

func (h *handlers) updateTaskQueue(w http.ResponseWriter, r *http.Request) error {
	c, q, err := h.taskQueue(r, adminOnly, "Sid")
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	p := queueParams(f)
	if err := f.Err(); err != nil {
		return err
	}
	q, err = h.s.UpdateTaskQueue(r.Context(), c.acct, c.ws, q.SID, p)
	if err != nil {
		return h.notFound(r, err)
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().taskQueue(q))
}

func (h *handlers) deleteTaskQueue(w http.ResponseWriter, r *http.Request) error {
	c, q, err := h.taskQueue(r, adminOnly, "Sid")
	if err != nil {
		return err
	}
	if err := h.s.DeleteTaskQueue(r.Context(), c.acct, c.ws, q.SID); err != nil {
		return h.notFound(r, err)
	}
	return rest.NoContent(w)
}

func (h *handlers) queueRealTime(w http.ResponseWriter, r *http.Request) error {
	c, q, err := h.taskQueue(r, workspaceRead, "TaskQueueSid")
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	rt, err := h.s.QueueRealTime(r.Context(), c.acct, c.ws, q.SID, f.String("TaskChannel"))
	if err != nil {
		return h.notFound(r, err)
	}
	out := realTimeJSON(rt, c, h.urls().ws(c.ws)+"/TaskQueues/"+q.SID+"/RealTimeStatistics")
	out["task_queue_sid"] = q.SID
	out["total_available_workers"] = rt.AvailableWorkers
	out["total_eligible_workers"] = rt.EligibleWorkers
	out["longest_relative_task_age_in_queue"] = rt.LongestInQueueAge
	out["longest_relative_task_sid_in_queue"] = nullable(rt.LongestInQueueSID)
	return rest.WriteJSON(w, http.StatusOK, out)
}

func (h *handlers) queueCumulative(w http.ResponseWriter, r *http.Request) error {
	c, q, err := h.taskQueue(r, adminOnly, "TaskQueueSid")
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
	cu, err := h.s.CumulativeStats(r.Context(), c.acct, c.ws, q.SID, f.String("TaskChannel"), start, end)
	if err != nil {
		return h.notFound(r, err)
	}
	out := cumulativeJSON(cu, c, h.urls().ws(c.ws)+"/TaskQueues/"+q.SID+"/CumulativeStatistics")
	out["task_queue_sid"] = q.SID
	out["tasks_entered"] = cu.Counts["task-queue.entered"]
	out["wait_duration_in_queue_until_accepted"] = cu.Accepted.Map()
	return rest.WriteJSON(w, http.StatusOK, out)
}

// ---- workflows ----

func workflowParams(f *rest.Form) WorkflowParams {
	f.MaxLen("FriendlyName", 64)
	p := WorkflowParams{FriendlyName: f.Optional("FriendlyName"), Configuration: f.Optional("Configuration"),
		ReservationTimeout: f.Int("TaskReservationTimeout", 1, 86400)}
	for _, u := range []struct {
		name string
		dst  **string
	}{{"AssignmentCallbackUrl", &p.AssignmentCallbackURL}, {"FallbackAssignmentCallbackUrl", &p.FallbackCallbackURL}} {
		if f.Has(u.name) {
			v := f.URL(u.name)
			*u.dst = &v
		}
	}
	return p
}

func (h *handlers) createWorkflow(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, adminOnly)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	f.Required("FriendlyName")
	f.Required("Configuration")
	p := workflowParams(f)
	if err := f.Err(); err != nil {
		return err
	}
	wf, err := h.s.CreateWorkflow(r.Context(), c.acct, c.ws, p)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusCreated, h.urls().workflow(wf))
}

func (h *handlers) listWorkflows(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, adminOnly)
	if err != nil {
		return err
	}
	f, page, err := h.page(r)
	if err != nil {
		return err
	}
	rows, err := h.s.Workflows(r.Context(), c.acct, c.ws, f.String("FriendlyName"), page)
	if err != nil {
		return err
	}
	return writeList(w, r, "workflows", h.urls().ws(c.ws)+"/Workflows", page, rows, h.urls().workflow,
		func(j workflowJSON) int64 { return j.seq })
}

func (h *handlers) workflow(r *http.Request) (call, Workflow, error) {
	return instance(h, r, adminOnly, "Sid", "WW", h.s.Workflow)
}

func (h *handlers) fetchWorkflow(w http.ResponseWriter, r *http.Request) error {
	_, wf, err := h.workflow(r)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().workflow(wf))
}

func (h *handlers) updateWorkflow(w http.ResponseWriter, r *http.Request) error {
	c, wf, err := h.workflow(r)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	p := workflowParams(f)
	reEvaluate := f.Bool("ReEvaluateTasks")
	if err := f.Err(); err != nil {
		return err
	}
	wf, err = h.s.UpdateWorkflow(r.Context(), c.acct, c.ws, wf.SID, p, reEvaluate != nil && *reEvaluate)
	if err != nil {
		return h.notFound(r, err)
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().workflow(wf))
}

func (h *handlers) deleteWorkflow(w http.ResponseWriter, r *http.Request) error {
	c, wf, err := h.workflow(r)
	if err != nil {
		return err
	}
	if err := h.s.DeleteWorkflow(r.Context(), c.acct, c.ws, wf.SID); err != nil {
		return h.notFound(r, err)
	}
	return rest.NoContent(w)
}

// ---- tasks ----

func (h *handlers) createTask(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, adminOnly)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	p := TaskParams{WorkflowSID: f.SID("WorkflowSid", "WW"), TaskChannel: f.String("TaskChannel"),
		Attributes: deref(f.JSON("Attributes", maxAttributes)), Priority: deref(f.Int("Priority", 0, math.MaxInt32)),
		Timeout: deref(f.Int("Timeout", 1, maxTaskTimeout)), RoutingTarget: f.String("RoutingTarget"),
		IgnoreCapacity: deref(f.Bool("IgnoreCapacity"))}
	if p.VirtualStart, err = date(f, "VirtualStartTime"); err != nil {
		return err
	}
	if err := f.Err(); err != nil {
		return err
	}
	t, err := h.s.NewTask(r.Context(), c.acct, c.ws, p)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusCreated, h.urls().task(t))
}

func (h *handlers) listTasks(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, adminOnly)
	if err != nil {
		return err
	}
	f, page, err := h.page(r)
	if err != nil {
		return err
	}
	tf := TaskFilter{Priority: f.Int("Priority", 0, math.MaxInt32), Statuses: f.Strings("AssignmentStatus"),
		WorkflowSID: f.String("WorkflowSid"), WorkflowName: f.String("WorkflowName"), TaskQueueSID: f.String("TaskQueueSid"),
		TaskQueueName: f.String("TaskQueueName"), RoutingTarget: f.String("RoutingTarget")}
	if err := f.Err(); err != nil {
		return err
	}
	if tf.EvaluateTaskAttributes, err = exprParam(f, "EvaluateTaskAttributes"); err != nil {
		return err
	}
	rows, err := h.s.Tasks(r.Context(), c.acct, c.ws, tf, page)
	if err != nil {
		return err
	}
	return writeList(w, r, "tasks", h.urls().ws(c.ws)+"/Tasks", page, rows, h.urls().task,
		func(j taskJSON) int64 { return j.seq })
}

func (h *handlers) task(r *http.Request, sc scope) (call, Task, error) {
	return instance(h, r, sc, "Sid", "WT", h.s.Task)
}

func (h *handlers) fetchTask(w http.ResponseWriter, r *http.Request) error {
	_, t, err := h.task(r, ownTask)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(t.Revision))
	return rest.WriteJSON(w, http.StatusOK, h.urls().task(t))
}

func (h *handlers) updateTask(w http.ResponseWriter, r *http.Request) error {
	c, t, err := h.task(r, adminOnly)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	u := TaskUpdate{Attributes: f.JSON("Attributes", maxAttributes), Priority: f.Int("Priority", 0, math.MaxInt32),
		Status: f.OneOf("AssignmentStatus", StatusPending, StatusReserved, StatusAssigned, StatusCanceled, StatusCompleted, StatusWrapping),
		Reason: f.String("Reason"), TaskChannel: f.String("TaskChannel"), IfMatch: r.Header.Get("If-Match")}
	if (u.Status == StatusCanceled || u.Status == StatusCompleted) && u.Reason == "" {
		f.Required("Reason")
	}
	if err := f.Err(); err != nil {
		return err
	}
	t, err = h.s.UpdateTask(r.Context(), c.acct, c.ws, t.SID, u)
	if err != nil {
		return h.notFound(r, err)
	}
	if t, err = h.s.Task(r.Context(), c.acct, c.ws, t.SID); err != nil {
		return h.notFound(r, err)
	}
	w.Header().Set("ETag", etag(t.Revision))
	return rest.WriteJSON(w, http.StatusOK, h.urls().task(t))
}

func (h *handlers) deleteTask(w http.ResponseWriter, r *http.Request) error {
	c, t, err := h.task(r, adminOnly)
	if err != nil {
		return err
	}
	if err := h.s.DeleteTask(r.Context(), c.acct, c.ws, t.SID, r.Header.Get("If-Match")); err != nil {
		return h.notFound(r, err)
	}
	return rest.NoContent(w)
}

// ---- reservations under a task ----

func (h *handlers) taskPath(r *http.Request) (call, string, error) {
	c, err := h.workspace(r, ownTask)
	if err != nil {
		return c, "", err
	}
	sid, err := rest.PathSID(r, "TaskSid", "WT")
	if err != nil {
		return c, "", err
	}
	if _, err := h.s.Task(r.Context(), c.acct, c.ws, sid); err != nil {
		return c, "", h.notFound(r, err)
	}
	return c, sid, nil
}

func (h *handlers) listTaskReservations(w http.ResponseWriter, r *http.Request) error {
	c, task, err := h.taskPath(r)
	if err != nil {
		return err
	}
	f, page, err := h.page(r)
	if err != nil {
		return err
	}
	worker := f.String("WorkerSid")
	if c.token() {
		worker = c.p.WorkerSID // a token sees only its own worker's reservations
	}
	rows, err := h.s.Reservations(r.Context(), c.acct, c.ws, task, worker, f.String("ReservationStatus"), page)
	if err != nil {
		return err
	}
	return writeList(w, r, "reservations", h.urls().ws(c.ws)+"/Tasks/"+task+"/Reservations", page, rows,
		func(x Reservation) reservationJSON { return h.urls().reservation(x, false) },
		func(j reservationJSON) int64 { return j.seq })
}

func (h *handlers) taskReservation(r *http.Request) (call, Reservation, error) {
	c, task, err := h.taskPath(r)
	if err != nil {
		return c, Reservation{}, err
	}
	sid, err := rest.PathSID(r, "Sid", "WR")
	if err != nil {
		return c, Reservation{}, err
	}
	res, err := h.s.Reservation(r.Context(), c.acct, c.ws, task, sid)
	if err == nil && c.token() && res.WorkerSID != c.p.WorkerSID {
		return c, res, tokenRefused()
	}
	return c, res, h.notFound(r, err)
}

func (h *handlers) fetchTaskReservation(w http.ResponseWriter, r *http.Request) error {
	_, res, err := h.taskReservation(r)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().reservation(res, false))
}

func (h *handlers) updateTaskReservation(w http.ResponseWriter, r *http.Request) error {
	c, res, err := h.taskReservation(r)
	if err != nil {
		return err
	}
	if res, err = h.updateReservation(r, c, res); err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().reservation(res, false))
}
