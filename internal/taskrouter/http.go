package taskrouter

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/parleychat/parley/internal/rest"
)

// Routes mounts TaskRouter v1 under /taskrouter/v1, as
// twilio_taskrouter_v1.json describes it.
func (s *Service) Routes(rt *rest.Router) {
	if s.opts.BaseURL == "" {
		s.opts.BaseURL = rt.BaseURL
	}
	h := &handlers{s: s, rt: rt}
	const ws = "/taskrouter/v1/Workspaces/{WorkspaceSid}"
	rt.Handle("POST /taskrouter/v1/Workspaces", h.createWorkspace)
	rt.Handle("GET /taskrouter/v1/Workspaces", h.listWorkspaces)
	rt.Handle("GET /taskrouter/v1/Workspaces/{WorkspaceSid}", h.fetchWorkspace)
	rt.Handle("POST /taskrouter/v1/Workspaces/{WorkspaceSid}", h.updateWorkspace)
	rt.Handle("DELETE /taskrouter/v1/Workspaces/{WorkspaceSid}", h.deleteWorkspace)
	rt.Handle("GET "+ws+"/RealTimeStatistics", h.workspaceRealTime)
	rt.Handle("GET "+ws+"/CumulativeStatistics", h.workspaceCumulative)

	rt.Handle("POST "+ws+"/Activities", h.createActivity)
	rt.Handle("GET "+ws+"/Activities", h.listActivities)
	rt.Handle("GET "+ws+"/Activities/{Sid}", h.fetchActivity)
	rt.Handle("POST "+ws+"/Activities/{Sid}", h.updateActivity)
	rt.Handle("DELETE "+ws+"/Activities/{Sid}", h.deleteActivity)

	rt.Handle("POST "+ws+"/TaskChannels", h.createTaskChannel)
	rt.Handle("GET "+ws+"/TaskChannels", h.listTaskChannels)
	rt.Handle("GET "+ws+"/TaskChannels/{Sid}", h.fetchTaskChannel)
	rt.Handle("POST "+ws+"/TaskChannels/{Sid}", h.updateTaskChannel)
	rt.Handle("DELETE "+ws+"/TaskChannels/{Sid}", h.deleteTaskChannel)

	rt.Handle("POST "+ws+"/Workers", h.createWorker)
	rt.Handle("GET "+ws+"/Workers", h.listWorkers)
	rt.Handle("GET "+ws+"/Workers/{Sid}", h.fetchWorker)
	rt.Handle("POST "+ws+"/Workers/{Sid}", h.updateWorker)
	rt.Handle("DELETE "+ws+"/Workers/{Sid}", h.deleteWorker)
	rt.Handle("GET "+ws+"/Workers/{WorkerSid}/Channels", h.listWorkerChannels)
	rt.Handle("GET "+ws+"/Workers/{WorkerSid}/Channels/{Sid}", h.fetchWorkerChannel)
	rt.Handle("POST "+ws+"/Workers/{WorkerSid}/Channels/{Sid}", h.updateWorkerChannel)
	rt.Handle("GET "+ws+"/Workers/{WorkerSid}/Reservations", h.listWorkerReservations)
	rt.Handle("GET "+ws+"/Workers/{WorkerSid}/Reservations/{Sid}", h.fetchWorkerReservation)
	rt.Handle("POST "+ws+"/Workers/{WorkerSid}/Reservations/{Sid}", h.updateWorkerReservation)

	rt.Handle("POST "+ws+"/TaskQueues", h.createTaskQueue)
	rt.Handle("GET "+ws+"/TaskQueues", h.listTaskQueues)
	rt.Handle("GET "+ws+"/TaskQueues/{Sid}", h.fetchTaskQueue)
	rt.Handle("POST "+ws+"/TaskQueues/{Sid}", h.updateTaskQueue)
	rt.Handle("DELETE "+ws+"/TaskQueues/{Sid}", h.deleteTaskQueue)
	rt.Handle("GET "+ws+"/TaskQueues/{TaskQueueSid}/RealTimeStatistics", h.queueRealTime)
	rt.Handle("GET "+ws+"/TaskQueues/{TaskQueueSid}/CumulativeStatistics", h.queueCumulative)

	rt.Handle("POST "+ws+"/Workflows", h.createWorkflow)
	rt.Handle("GET "+ws+"/Workflows", h.listWorkflows)
	rt.Handle("GET "+ws+"/Workflows/{Sid}", h.fetchWorkflow)
	rt.Handle("POST "+ws+"/Workflows/{Sid}", h.updateWorkflow)
	rt.Handle("DELETE "+ws+"/Workflows/{Sid}", h.deleteWorkflow)

	rt.Handle("POST "+ws+"/Tasks", h.createTask)
	rt.Handle("GET "+ws+"/Tasks", h.listTasks)
	rt.Handle("GET "+ws+"/Tasks/{Sid}", h.fetchTask)
	rt.Handle("POST "+ws+"/Tasks/{Sid}", h.updateTask)
	rt.Handle("DELETE "+ws+"/Tasks/{Sid}", h.deleteTask)
	rt.Handle("GET "+ws+"/Tasks/{TaskSid}/Reservations", h.listTaskReservations)
	rt.Handle("GET "+ws+"/Tasks/{TaskSid}/Reservations/{Sid}", h.fetchTaskReservation)
	rt.Handle("POST "+ws+"/Tasks/{TaskSid}/Reservations/{Sid}", h.updateTaskReservation)

	rt.Handle("GET "+ws+"/Events", h.listEvents)
	rt.Handle("GET "+ws+"/Events/{Sid}", h.fetchEvent)
}

type handlers struct {
	s  *Service
	rt *rest.Router
}

func (h *handlers) urls() urls { return urls{h.rt.BaseURL} }

// ---- authorization ----

// scope names what a request may touch once its workspace is known.
type scope int

const (
	adminOnly     scope = iota // account credentials or API keys only
	workspaceRead              // tokens of the workspace may read (activities, queues)
	ownWorker                  // tokens may act on their own worker (path {Sid} or {WorkerSid})
	ownTask                    // tokens may act on a task reserved to their worker
)

// call is an authorized request: its account and workspace.
type call struct {
	acct, ws string
	p        *rest.Principal
}

func (c call) token() bool { return !c.p.Admin }

func tokenRefused() error {
	return rest.Forbidden("An access token may only read its own worker, its reservations, and its workspace's activities and task queues, and update its own worker's activity and reservations")
}

// workspace authorizes a request under /Workspaces/{WorkspaceSid}.
func (h *handlers) workspace(r *http.Request, sc scope) (call, error) {
	p := rest.PrincipalFrom(r.Context())
	wsSID, err := rest.PathSID(r, "WorkspaceSid", "WS")
	if err != nil {
		return call{}, err
	}
	c := call{acct: p.AccountSID, ws: wsSID, p: p}
	if !p.Admin {
		if p.WorkspaceSID != wsSID || p.WorkerSID == "" {
			return c, rest.Forbidden("This access token has no TaskRouter grant for workspace %s", wsSID)
		}
		switch sc {
		case adminOnly:
			return c, tokenRefused()
		case ownWorker:
			if sid := workerInPath(r); sid != p.WorkerSID {
				return c, tokenRefused()
			}
		case ownTask:
			if err := h.ownsTask(r, c); err != nil {
				return c, err
			}
		}
	}
	if _, err := h.s.Workspace(r.Context(), c.acct, wsSID); err != nil {
		return c, h.notFound(r, err)
	}
	return c, nil
}

func workerInPath(r *http.Request) string {
	if sid := r.PathValue("WorkerSid"); sid != "" {
		return sid
	}
	return r.PathValue("Sid")
}

// ownsTask lets a token reach a task only while its worker holds (or held)
// a reservation for it; reservation routes check the reservation itself.
func (h *handlers) ownsTask(r *http.Request, c call) error {
	taskSID := r.PathValue("TaskSid")
	if taskSID == "" {
		taskSID = r.PathValue("Sid")
	}
	res, err := h.s.Reservations(r.Context(), c.acct, c.ws, taskSID, c.p.WorkerSID, "", rest.Page{Size: 1})
	if err != nil {
		return err
	}
	if len(res) == 0 {
		return tokenRefused()
	}
	return nil
}

// instance authorizes a request for one resource and fetches it by the
// SID in the path value param.
func instance[T any](h *handlers, r *http.Request, sc scope, param, prefix string,
	fetch func(ctx context.Context, acct, ws, sid string) (T, error)) (call, T, error) {
	var zero T
	c, err := h.workspace(r, sc)
	if err != nil {
		return c, zero, err
	}
	sid, err := rest.PathSID(r, param, prefix)
	if err != nil {
		return c, zero, err
	}
	v, err := fetch(r.Context(), c.acct, c.ws, sid)
	return c, v, h.notFound(r, err)
}

// exprParam parses an optional expression parameter (nil when absent).
func exprParam(f *rest.Form, name string) (*Expr, error) {
	src := f.String(name)
	if src == "" {
		return nil, nil
	}
	e, err := ParseExpr(src)
	if err != nil {
		return nil, rest.InvalidParam(name, "expression %q is invalid %s", src, err)
	}
	return e, nil
}

func (h *handlers) notFound(r *http.Request, err error) error {
	if errors.Is(err, ErrNotFound) {
		return rest.NotFound("The requested resource %s was not found", r.URL.Path)
	}
	return err
}

func (h *handlers) form(r *http.Request) (*rest.Form, error) { return h.rt.Form(r) }

func (h *handlers) page(r *http.Request) (*rest.Form, rest.Page, error) {
	f, err := h.form(r)
	if err != nil {
		return nil, rest.Page{}, err
	}
	p, err := rest.ParsePage(f, 1000)
	return f, p, err
}

// writeList renders one page of rows in the v1 envelope.
func writeList[T, J any](w http.ResponseWriter, r *http.Request, key, url string, page rest.Page, rows []T, conv func(T) J, seq func(J) int64) error {
	out := make([]J, len(rows))
	for i, row := range rows {
		out[i] = conv(row)
	}
	l := rest.List[J]{Key: key, URL: url, Rows: out, Seq: seq, Page: page, Query: r.URL.Query()}
	return l.Write(w)
}

// date reads an ISO 8601 date parameter as unix ms (0 when absent).
func date(f *rest.Form, name string) (int64, error) {
	s := f.String(name)
	if s == "" {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if t, err = time.Parse("2006-01-02", s); err != nil {
			return 0, rest.InvalidParam(name, "%q is not an ISO 8601 date", s)
		}
	}
	return t.UnixMilli(), nil
}

// window reads StartDate, EndDate and Minutes (default: the last 15 minutes).
func window(f *rest.Form) (start, end int64, err error) {
	if start, err = date(f, "StartDate"); err != nil {
		return
	}
	if end, err = date(f, "EndDate"); err != nil {
		return
	}
	if end == 0 {
		end = time.Now().UnixMilli()
	}
	if m := f.Int("Minutes", 1, 60*24*30); m != nil {
		start = end - int64(*m)*60000
	}
	if start == 0 {
		start = end - 15*60000
	}
	return start, end, f.Err()
}
