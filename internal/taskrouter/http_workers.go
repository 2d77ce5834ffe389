package taskrouter

import (
	"net/http"

	"github.com/parleychat/parley/internal/rest"
)

// maxAttributes bounds attributes JSON.
const maxAttributes = 32 << 10

func (h *handlers) createWorker(w http.ResponseWriter, r *http.Request) error {
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
	act := f.SID("ActivitySid", "WA")
	attrs := f.JSON("Attributes", maxAttributes)
	if err := f.Err(); err != nil {
		return err
	}
	wk, err := h.s.CreateWorker(r.Context(), c.acct, c.ws, name, act, deref(attrs))
	if err != nil {
		return h.notFound(r, err)
	}
	return rest.WriteJSON(w, http.StatusCreated, h.urls().worker(wk))
}

func (h *handlers) listWorkers(w http.ResponseWriter, r *http.Request) error {
	c, err := h.workspace(r, adminOnly)
	if err != nil {
		return err
	}
	f, page, err := h.page(r)
	if err != nil {
		return err
	}
	wf := WorkerFilter{ActivityName: f.String("ActivityName"), ActivitySID: f.String("ActivitySid"),
		FriendlyName: f.String("FriendlyName"), TaskQueueName: f.String("TaskQueueName"), TaskQueueSID: f.String("TaskQueueSid"),
		Available: f.Bool("Available")}
	if err := f.Err(); err != nil {
		return err
	}
	if wf.TargetWorkers, err = exprParam(f, "TargetWorkersExpression"); err != nil {
		return err
	}
	rows, err := h.s.Workers(r.Context(), c.acct, c.ws, wf, page)
	if err != nil {
		return err
	}
	return writeList(w, r, "workers", h.urls().ws(c.ws)+"/Workers", page, rows, h.urls().worker,
		func(j workerJSON) int64 { return j.seq })
}

func (h *handlers) worker(r *http.Request, sc scope) (call, Worker, error) {
	return instance(h, r, sc, "Sid", "WK", h.s.Worker)
}

func (h *handlers) fetchWorker(w http.ResponseWriter, r *http.Request) error {
	_, wk, err := h.worker(r, ownWorker)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(wk.Revision))
	return rest.WriteJSON(w, http.StatusOK, h.urls().worker(wk))
}

func (h *handlers) updateWorker(w http.ResponseWriter, r *http.Request) error {
	c, wk, err := h.worker(r, ownWorker)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	f.MaxLen("FriendlyName", 64)
	p := WorkerParams{FriendlyName: f.Optional("FriendlyName"), ActivitySID: optionalSID(f, "ActivitySid", "WA"),
		Attributes: f.JSON("Attributes", maxAttributes)}
	if reject := f.Bool("RejectPendingReservations"); reject != nil {
		p.RejectPendingReservations = *reject
	}
	if err := f.Err(); err != nil {
		return err
	}
	if c.token() && (p.FriendlyName != nil || p.Attributes != nil) {
		return rest.Forbidden("An access token may change its worker's activity, not its name or attributes")
	}
	wk, err = h.s.UpdateWorker(r.Context(), c.acct, c.ws, wk.SID, p, r.Header.Get("If-Match"))
	if err != nil {
		return h.notFound(r, err)
	}
	w.Header().Set("ETag", etag(wk.Revision))
	return rest.WriteJSON(w, http.StatusOK, h.urls().worker(wk))
}

func (h *handlers) deleteWorker(w http.ResponseWriter, r *http.Request) error {
	c, wk, err := h.worker(r, adminOnly)
	if err != nil {
		return err
	}
	if err := h.s.DeleteWorker(r.Context(), c.acct, c.ws, wk.SID, r.Header.Get("If-Match")); err != nil {
		return h.notFound(r, err)
	}
	return rest.NoContent(w)
}

// ---- worker channels ----

func (h *handlers) workerPath(r *http.Request, sc scope) (call, string, error) {
	c, err := h.workspace(r, sc)
	if err != nil {
		return c, "", err
	}
	sid, err := rest.PathSID(r, "WorkerSid", "WK")
	if err != nil {
		return c, "", err
	}
	if _, err := h.s.Worker(r.Context(), c.acct, c.ws, sid); err != nil {
		return c, "", h.notFound(r, err)
	}
	return c, sid, nil
}

func (h *handlers) listWorkerChannels(w http.ResponseWriter, r *http.Request) error {
	c, wk, err := h.workerPath(r, ownWorker)
	if err != nil {
		return err
	}
	_, page, err := h.page(r)
	if err != nil {
		return err
	}
	rows, err := h.s.WorkerChannels(r.Context(), c.acct, c.ws, wk, page)
	if err != nil {
		return err
	}
	return writeList(w, r, "channels", h.urls().ws(c.ws)+"/Workers/"+wk+"/Channels", page, rows, h.urls().workerChannel,
		func(j workerChannelJSON) int64 { return j.seq })
}

func (h *handlers) fetchWorkerChannel(w http.ResponseWriter, r *http.Request) error {
	c, wk, err := h.workerPath(r, ownWorker)
	if err != nil {
		return err
	}
	wc, err := h.s.WorkerChannel(r.Context(), c.acct, c.ws, wk, r.PathValue("Sid"))
	if err != nil {
		return h.notFound(r, err)
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().workerChannel(wc))
}

func (h *handlers) updateWorkerChannel(w http.ResponseWriter, r *http.Request) error {
	c, wk, err := h.workerPath(r, adminOnly)
	if err != nil {
		return err
	}
	f, err := h.form(r)
	if err != nil {
		return err
	}
	capacity := f.Int("Capacity", 0, 50)
	available := f.Bool("Available")
	if err := f.Err(); err != nil {
		return err
	}
	wc, err := h.s.UpdateWorkerChannel(r.Context(), c.acct, c.ws, wk, r.PathValue("Sid"), capacity, available)
	if err != nil {
		return h.notFound(r, err)
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().workerChannel(wc))
}

// ---- reservations under a worker ----

func (h *handlers) listWorkerReservations(w http.ResponseWriter, r *http.Request) error {
	c, wk, err := h.workerPath(r, ownWorker)
	if err != nil {
		return err
	}
	f, page, err := h.page(r)
	if err != nil {
		return err
	}
	rows, err := h.s.Reservations(r.Context(), c.acct, c.ws, "", wk, f.String("ReservationStatus"), page)
	if err != nil {
		return err
	}
	return writeList(w, r, "reservations", h.urls().ws(c.ws)+"/Workers/"+wk+"/Reservations", page, rows,
		func(x Reservation) reservationJSON { return h.urls().reservation(x, true) },
		func(j reservationJSON) int64 { return j.seq })
}

func (h *handlers) workerReservation(r *http.Request) (call, Reservation, error) {
	c, wk, err := h.workerPath(r, ownWorker)
	if err != nil {
		return c, Reservation{}, err
	}
	sid, err := rest.PathSID(r, "Sid", "WR")
	if err != nil {
		return c, Reservation{}, err
	}
	res, err := h.s.WorkerReservation(r.Context(), c.acct, c.ws, wk, sid)
	return c, res, h.notFound(r, err)
}

func (h *handlers) fetchWorkerReservation(w http.ResponseWriter, r *http.Request) error {
	_, res, err := h.workerReservation(r)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().reservation(res, true))
}

func (h *handlers) updateWorkerReservation(w http.ResponseWriter, r *http.Request) error {
	c, res, err := h.workerReservation(r)
	if err != nil {
		return err
	}
	res, err = h.updateReservation(r, c, res)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.urls().reservation(res, true))
}

// updateReservation reads ReservationStatus (or Instruction=accept/reject)
// and applies it.
func (h *handlers) updateReservation(r *http.Request, c call, res Reservation) (Reservation, error) {
	f, err := h.form(r)
	if err != nil {
		return res, err
	}
	status := f.OneOf("ReservationStatus", ResAccepted, ResRejected, ResWrapping, ResCompleted, ResTimeout, ResCanceled, ResRescinded, ResPending)
	instruction := f.String("Instruction")
	act := f.SID("WorkerActivitySid", "WA")
	if err := f.Err(); err != nil {
		return res, err
	}
	switch {
	case status == "" && instruction == "accept":
		status = ResAccepted
	case status == "" && instruction == "reject":
		status = ResRejected
	case status == "" && instruction != "":
		return res, rest.InvalidParam("Instruction", "%q is a voice instruction; chat reservations take accept or reject", instruction)
	case status == "":
		return res, rest.MissingParam("ReservationStatus")
	}
	if c.token() && res.WorkerSID != c.p.WorkerSID {
		return res, tokenRefused()
	}
	out, err := h.s.UpdateReservation(r.Context(), c.acct, c.ws, res.TaskSID, res.SID,
		ReservationUpdate{Status: status, WorkerActivitySID: act, IfMatch: r.Header.Get("If-Match")})
	return out, h.notFound(r, err)
}
