package studio

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/parleychat/parley/internal/rest"
)

// Routes mounts Studio v2. Every route needs account credentials or an
// API key (an access token may not manage flows).
func (s *Service) Routes(rt *rest.Router) {
	h := &handlers{s: s, rt: rt}
	rt.Handle("POST /studio/v2/Flows", h.createFlow)
	rt.Handle("GET /studio/v2/Flows", h.listFlows)
	rt.Handle("POST /studio/v2/Flows/Validate", h.validate)
	rt.Handle("GET /studio/v2/Flows/{Sid}", h.fetchFlow)
	rt.Handle("POST /studio/v2/Flows/{Sid}", h.updateFlow)
	rt.Handle("DELETE /studio/v2/Flows/{Sid}", h.deleteFlow)
	rt.Handle("GET /studio/v2/Flows/{Sid}/Revisions", h.listRevisions)
	rt.Handle("GET /studio/v2/Flows/{Sid}/Revisions/{Revision}", h.fetchRevision)
	rt.Handle("GET /studio/v2/Flows/{Sid}/TestUsers", h.fetchTestUsers)
	rt.Handle("POST /studio/v2/Flows/{Sid}/TestUsers", h.updateTestUsers)
	rt.Handle("POST /studio/v2/Flows/{FlowSid}/Executions", h.createExecution)
	rt.Handle("GET /studio/v2/Flows/{FlowSid}/Executions", h.listExecutions)
	rt.Handle("GET /studio/v2/Flows/{FlowSid}/Executions/{Sid}", h.fetchExecution)
	rt.Handle("POST /studio/v2/Flows/{FlowSid}/Executions/{Sid}", h.updateExecution)
	rt.Handle("DELETE /studio/v2/Flows/{FlowSid}/Executions/{Sid}", h.deleteExecution)
	rt.Handle("GET /studio/v2/Flows/{FlowSid}/Executions/{Sid}/Context", h.fetchExecutionContext)
	rt.Handle("GET /studio/v2/Flows/{FlowSid}/Executions/{Sid}/Steps", h.listSteps)
	rt.Handle("GET /studio/v2/Flows/{FlowSid}/Executions/{Sid}/Steps/{StepSid}", h.fetchStep)
	rt.Handle("GET /studio/v2/Flows/{FlowSid}/Executions/{Sid}/Steps/{StepSid}/Context", h.fetchStepContext)
}

type handlers struct {
	s  *Service
	rt *rest.Router
}

// account is the caller's account; Studio needs account-level credentials.
func account(r *http.Request) (string, error) {
	p := rest.PrincipalFrom(r.Context())
	if err := p.RequireAdmin(); err != nil {
		return "", err
	}
	return p.AccountSID, nil
}

// restError maps the service's errors onto Twilio's.
func restError(r *http.Request, err error) error {
	var inv *InvalidDefinition
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return rest.NotFound("The requested resource %s was not found", r.URL.Path)
	case errors.Is(err, ErrNotPublished):
		return rest.Conflict(rest.CodeInvalidParam, "The flow has no published revision: publish it (Status=published) before starting executions")
	case errors.As(err, &inv):
		e := rest.BadRequest("%s", Summary(inv.Problems))
		e.Details = map[string]any{"errors": inv.Problems}
		return e
	}
	return err
}

// respond answers status with v, or maps err.
func respond(w http.ResponseWriter, r *http.Request, status int, err error, v any) error {
	if err != nil {
		return restError(r, err)
	}
	return rest.WriteJSON(w, status, v)
}

// deleted answers 204, or maps err.
func deleted(w http.ResponseWriter, r *http.Request, err error) error {
	if err != nil {
		return restError(r, err)
	}
	return rest.NoContent(w)
}

// ---- flows ----

type flowJSON struct {
	SID           string            `json:"sid"`
	AccountSID    string            `json:"account_sid"`
	AuthorSID     *string           `json:"author_sid"`
	FriendlyName  string            `json:"friendly_name"`
	Definition    json.RawMessage   `json:"definition"`
	Status        string            `json:"status"`
	Revision      int               `json:"revision"`
	CommitMessage *string           `json:"commit_message"`
	Valid         bool              `json:"valid"`
	Errors        []Problem         `json:"errors"`
	Warnings      []Problem         `json:"warnings,omitempty"`
	DateCreated   rest.Time         `json:"date_created"`
	DateUpdated   rest.Time         `json:"date_updated"`
	WebhookURL    string            `json:"webhook_url,omitempty"`
	URL           string            `json:"url"`
	Links         map[string]string `json:"links,omitempty"`
	seq           int64
}

func flowSeq(f flowJSON) int64 { return f.seq }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (h *handlers) flow(f FlowRecord) flowJSON {
	base := h.rt.URL("/studio/v2/Flows/" + f.SID)
	return flowJSON{seq: f.Seq, SID: f.SID, AccountSID: f.AccountSID, AuthorSID: optional(f.AuthorSID), FriendlyName: f.FriendlyName,
		Definition: f.Definition, Status: f.Status, Revision: f.Revision, CommitMessage: optional(f.CommitMessage),
		Valid: true, Errors: []Problem{}, Warnings: nonNil(f.Warnings),
		DateCreated: rest.Time(rest.Millis(f.DateCreated)), DateUpdated: rest.Time(rest.Millis(f.DateUpdated)),
		WebhookURL: h.rt.URL("/webhooks/v1/Accounts/" + f.AccountSID + "/Flows/" + f.SID), URL: base,
		Links: map[string]string{"test_users": base + "/TestUsers", "revisions": base + "/Revisions", "executions": base + "/Executions"}}
}

func (h *handlers) revision(f FlowRecord) flowJSON {
	j := h.flow(f)
	j.Warnings, j.WebhookURL, j.Links = nil, "", nil
	j.URL = h.rt.URL("/studio/v2/Flows/" + f.SID + "/Revisions/" + strconv.Itoa(f.Revision))
	return j
}

// flowInput reads FriendlyName, Status, Definition and CommitMessage.
func flowInput(f *rest.Form, create bool) (FlowInput, error) {
	in := FlowInput{Status: f.OneOf("Status", "draft", "published")}
	if in.Status == "" {
		f.Required("Status")
	}
	if create {
		f.Required("FriendlyName")
		f.Required("Definition")
	}
	in.FriendlyName = f.Optional("FriendlyName")
	in.CommitMessage = f.Optional("CommitMessage")
	if f.Has("Definition") {
		in.Definition = []byte(f.String("Definition"))
		if len(in.Definition) == 0 {
			f.Required("Definition")
		}
	}
	if err := f.Err(); err != nil {
		return in, err
	}
	if in.FriendlyName != nil && len(*in.FriendlyName) > 256 {
		return in, rest.InvalidParam("FriendlyName", "must be at most 256 characters")
	}
	return in, nil
}

// flowRequest reads the account, the flow in the path (pathName; empty
// for create and validate, which need every parameter) and the form.
func (h *handlers) flowRequest(r *http.Request, pathName string) (acct, sid string, in FlowInput, err error) {
	if pathName != "" {
		acct, sid, err = flowPath(r, pathName)
	} else {
		acct, err = account(r)
	}
	if err != nil {
		return acct, sid, in, err
	}
	form, err := h.rt.Form(r)
	if err != nil {
		return acct, sid, in, err
	}
	in, err = flowInput(form, pathName == "")
	return acct, sid, in, err
}

func (h *handlers) createFlow(w http.ResponseWriter, r *http.Request) error {
	acct, _, in, err := h.flowRequest(r, "")
	if err != nil {
		return err
	}
	rec, err := h.s.CreateFlow(r.Context(), acct, in)
	return respond(w, r, http.StatusCreated, err, h.flow(rec))
}

func (h *handlers) updateFlow(w http.ResponseWriter, r *http.Request) error {
	acct, sid, in, err := h.flowRequest(r, "Sid")
	if err != nil {
		return err
	}
	rec, err := h.s.UpdateFlow(r.Context(), acct, sid, in)
	return respond(w, r, http.StatusOK, err, h.flow(rec))
}

func (h *handlers) validate(w http.ResponseWriter, r *http.Request) error {
	_, _, in, err := h.flowRequest(r, "")
	if err != nil {
		return err
	}
	_, err = h.s.Validate(in.Definition)
	return respond(w, r, http.StatusOK, err, map[string]bool{"valid": true})
}

func flowPath(r *http.Request, name string) (acct, sid string, err error) {
	if acct, err = account(r); err != nil {
		return "", "", err
	}
	sid, err = rest.PathSID(r, name, "FW")
	return acct, sid, err
}

func (h *handlers) fetchFlow(w http.ResponseWriter, r *http.Request) error {
	acct, sid, err := flowPath(r, "Sid")
	if err != nil {
		return err
	}
	rec, err := h.s.Flow(r.Context(), acct, sid)
	return respond(w, r, http.StatusOK, err, h.flow(rec))
}

func (h *handlers) deleteFlow(w http.ResponseWriter, r *http.Request) error {
	acct, sid, err := flowPath(r, "Sid")
	if err != nil {
		return err
	}
	return deleted(w, r, h.s.DeleteFlow(r.Context(), acct, sid))
}

// page parses the paging parameters of a list request.
func (h *handlers) page(r *http.Request) (*rest.Form, rest.Page, error) {
	form, err := h.rt.Form(r)
	if err != nil {
		return nil, rest.Page{}, err
	}
	p, err := rest.ParsePage(form, 1000)
	return form, p, err
}

func (h *handlers) listFlows(w http.ResponseWriter, r *http.Request) error {
	acct, err := account(r)
	if err != nil {
		return err
	}
	_, p, err := h.page(r)
	if err != nil {
		return err
	}
	rows, err := h.s.Flows(r.Context(), acct, p)
	if err != nil {
		return err
	}
	return writeList(w, r, "flows", h.rt.URL("/studio/v2/Flows"), p, rows, h.flow, flowSeq)
}

// writeList renders rows (already in their JSON shape) with the paging envelope.
func writeList[T, J any](w http.ResponseWriter, r *http.Request, key, url string, p rest.Page, rows []T, render func(T) J, seq func(J) int64) error {
	out := make([]J, 0, len(rows))
	for _, row := range rows {
		out = append(out, render(row))
	}
	l := rest.List[J]{Key: key, URL: url, Rows: out, Seq: seq, Page: p, Query: r.URL.Query()}
	return l.Write(w)
}

func (h *handlers) listRevisions(w http.ResponseWriter, r *http.Request) error {
	acct, sid, err := flowPath(r, "Sid")
	if err != nil {
		return err
	}
	_, p, err := h.page(r)
	if err != nil {
		return err
	}
	rows, err := h.s.Revisions(r.Context(), acct, sid, p)
	if err != nil {
		return restError(r, err)
	}
	return writeList(w, r, "revisions", h.rt.URL("/studio/v2/Flows/"+sid+"/Revisions"), p, rows, h.revision, flowSeq)
}

func (h *handlers) fetchRevision(w http.ResponseWriter, r *http.Request) error {
	acct, sid, err := flowPath(r, "Sid")
	if err != nil {
		return err
	}
	rec, err := h.s.Revision(r.Context(), acct, sid, rest.TrimJSON(r.PathValue("Revision")))
	return respond(w, r, http.StatusOK, err, h.revision(rec))
}

func (h *handlers) testUsers(f FlowRecord) map[string]any {
	return map[string]any{"sid": f.SID, "test_users": nonNilStrings(f.TestUsers), "url": h.rt.URL("/studio/v2/Flows/" + f.SID + "/TestUsers")}
}

func (h *handlers) fetchTestUsers(w http.ResponseWriter, r *http.Request) error {
	acct, sid, err := flowPath(r, "Sid")
	if err != nil {
		return err
	}
	rec, err := h.s.Flow(r.Context(), acct, sid)
	return respond(w, r, http.StatusOK, err, h.testUsers(rec))
}

func (h *handlers) updateTestUsers(w http.ResponseWriter, r *http.Request) error {
	acct, sid, err := flowPath(r, "Sid")
	if err != nil {
		return err
	}
	form, err := h.rt.Form(r)
	if err != nil {
		return err
	}
	users := form.Strings("TestUsers")
	if len(users) == 0 {
		return rest.MissingParam("TestUsers")
	}
	if len(users) > 100 {
		return rest.InvalidParam("TestUsers", "at most 100 test users")
	}
	rec, err := h.s.SetTestUsers(r.Context(), acct, sid, users)
	return respond(w, r, http.StatusOK, err, h.testUsers(rec))
}
