package studio

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/parleychat/parley/internal/rest"
)

type executionJSON struct {
	SID                   string            `json:"sid"`
	AccountSID            string            `json:"account_sid"`
	FlowSID               string            `json:"flow_sid"`
	ContactChannelAddress string            `json:"contact_channel_address"`
	ContactSID            string            `json:"contact_sid"`
	FlowVersion           int               `json:"flow_version"`
	Context               map[string]any    `json:"context"`
	Status                string            `json:"status"`
	DateCreated           rest.Time         `json:"date_created"`
	DateUpdated           rest.Time         `json:"date_updated"`
	InitiatedBy           string            `json:"initiated_by"`
	URL                   string            `json:"url"`
	Links                 map[string]string `json:"links"`
	seq                   int64
}

func executionSeq(e executionJSON) int64 { return e.seq }

func (h *handlers) executionURL(flowSID, sid string) string {
	return h.rt.URL("/studio/v2/Flows/" + flowSID + "/Executions/" + sid)
}

func (h *handlers) execution(e Execution) executionJSON {
	u := h.executionURL(e.FlowSID, e.SID)
	return executionJSON{seq: e.Seq, SID: e.SID, AccountSID: e.AccountSID, FlowSID: e.FlowSID, ContactChannelAddress: e.ContactAddress,
		ContactSID: e.ContactSID, FlowVersion: e.FlowRevision, Context: e.Context, Status: e.Status,
		DateCreated: rest.Time(rest.Millis(e.DateCreated)), DateUpdated: rest.Time(rest.Millis(e.DateUpdated)),
		InitiatedBy: e.InitiatedBy, URL: u, Links: map[string]string{"steps": u + "/Steps", "execution_context": u + "/Context"}}
}

// executionPath reads the account, the flow and (with name) an execution SID.
func executionPath(r *http.Request, name string) (acct, flowSID, sid string, err error) {
	if acct, flowSID, err = flowPath(r, "FlowSid"); err != nil || name == "" {
		return acct, flowSID, "", err
	}
	sid, err = rest.PathSID(r, name, "FN")
	return acct, flowSID, sid, err
}

func (h *handlers) createExecution(w http.ResponseWriter, r *http.Request) error {
	acct, flowSID, _, err := executionPath(r, "")
	if err != nil {
		return err
	}
	form, err := h.rt.Form(r)
	if err != nil {
		return err
	}
	to, from := form.Required("To"), form.Required("From")
	params := form.JSON("Parameters", 64<<10)
	if err := form.Err(); err != nil {
		return err
	}
	in := ExecutionInput{To: to, From: from, InitiatedBy: rest.PrincipalFrom(r.Context()).CredentialSID}
	if params != nil {
		if in.Parameters, err = parameters(*params); err != nil {
			return err
		}
	}
	e, err := h.s.CreateExecution(r.Context(), acct, flowSID, in)
	return respond(w, r, http.StatusCreated, err, h.execution(e))
}

// parameters decodes Parameters: a JSON object, or a JSON string holding
// one (twilio-go marshals whatever it is given).
func parameters(raw string) (map[string]any, error) {
	var v any
	if err := json.Unmarshal(unwrapJSONString([]byte(raw)), &v); err != nil {
		return nil, rest.InvalidParam("Parameters", "is not valid JSON")
	}
	if v == nil {
		return map[string]any{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, rest.InvalidParam("Parameters", "must be a JSON object")
	}
	return m, nil
}

func (h *handlers) listExecutions(w http.ResponseWriter, r *http.Request) error {
	acct, flowSID, _, err := executionPath(r, "")
	if err != nil {
		return err
	}
	form, p, err := h.page(r)
	if err != nil {
		return err
	}
	var f ExecutionFilter
	f.Status = form.OneOf("status", "active", "ended")
	if f.Status == "" {
		f.Status = form.OneOf("Status", "active", "ended")
	}
	if err := form.Err(); err != nil {
		return err
	}
	for name, dst := range map[string]*int64{"DateCreatedFrom": &f.CreatedFrom, "DateCreatedTo": &f.CreatedTo} {
		if v := form.String(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return rest.InvalidParam(name, "%q is not an ISO 8601 date-time such as 2026-01-02T15:04:05Z", v)
			}
			*dst = t.UnixMilli()
		}
	}
	rows, err := h.s.Executions(r.Context(), acct, flowSID, f, p)
	if err != nil {
		return restError(r, err)
	}
	return writeList(w, r, "executions", h.rt.URL("/studio/v2/Flows/"+flowSID+"/Executions"), p, rows, h.execution, executionSeq)
}

func (h *handlers) fetchExecution(w http.ResponseWriter, r *http.Request) error {
	acct, flowSID, sid, err := executionPath(r, "Sid")
	if err != nil {
		return err
	}
	e, err := h.s.Execution(r.Context(), acct, flowSID, sid)
	return respond(w, r, http.StatusOK, err, h.execution(e))
}

func (h *handlers) updateExecution(w http.ResponseWriter, r *http.Request) error {
	acct, flowSID, sid, err := executionPath(r, "Sid")
	if err != nil {
		return err
	}
	form, err := h.rt.Form(r)
	if err != nil {
		return err
	}
	form.Required("Status")
	form.OneOf("Status", "ended")
	if err := form.Err(); err != nil {
		return err
	}
	e, err := h.s.EndExecution(r.Context(), acct, flowSID, sid)
	return respond(w, r, http.StatusOK, err, h.execution(e))
}

func (h *handlers) deleteExecution(w http.ResponseWriter, r *http.Request) error {
	acct, flowSID, sid, err := executionPath(r, "Sid")
	if err != nil {
		return err
	}
	return deleted(w, r, h.s.DeleteExecution(r.Context(), acct, flowSID, sid))
}

func (h *handlers) fetchExecutionContext(w http.ResponseWriter, r *http.Request) error {
	acct, flowSID, sid, err := executionPath(r, "Sid")
	if err != nil {
		return err
	}
	e, err := h.s.Execution(r.Context(), acct, flowSID, sid)
	return respond(w, r, http.StatusOK, err, map[string]any{"account_sid": e.AccountSID, "context": e.Context,
		"flow_sid": e.FlowSID, "execution_sid": e.SID, "url": h.executionURL(e.FlowSID, e.SID) + "/Context"})
}

// ---- steps ----

type stepJSON struct {
	SID              string            `json:"sid"`
	AccountSID       string            `json:"account_sid"`
	FlowSID          string            `json:"flow_sid"`
	ExecutionSID     string            `json:"execution_sid"`
	ParentStepSID    *string           `json:"parent_step_sid"`
	Name             string            `json:"name"`
	Context          json.RawMessage   `json:"context"`
	TransitionedFrom string            `json:"transitioned_from"`
	TransitionedTo   string            `json:"transitioned_to"`
	Type             string            `json:"type"`
	DateCreated      rest.Time         `json:"date_created"`
	DateUpdated      rest.Time         `json:"date_updated"`
	URL              string            `json:"url"`
	Links            map[string]string `json:"links"`
	seq              int64
}

func stepSeq(s stepJSON) int64 { return s.seq }

func (h *handlers) step(s Step) stepJSON {
	u := h.executionURL(s.FlowSID, s.ExecutionSID) + "/Steps/" + s.SID
	return stepJSON{seq: s.Seq, SID: s.SID, AccountSID: s.AccountSID, FlowSID: s.FlowSID, ExecutionSID: s.ExecutionSID,
		ParentStepSID: optional(s.ParentSID), Name: s.Name, Context: s.Context, TransitionedFrom: s.From, TransitionedTo: s.To,
		Type: s.Type, DateCreated: rest.Time(rest.Millis(s.DateCreated)), DateUpdated: rest.Time(rest.Millis(s.DateUpdated)),
		URL: u, Links: map[string]string{"step_context": u + "/Context"}}
}

func (h *handlers) listSteps(w http.ResponseWriter, r *http.Request) error {
	acct, flowSID, sid, err := executionPath(r, "Sid")
	if err != nil {
		return err
	}
	_, p, err := h.page(r)
	if err != nil {
		return err
	}
	rows, err := h.s.Steps(r.Context(), acct, flowSID, sid, p)
	if err != nil {
		return restError(r, err)
	}
	return writeList(w, r, "steps", h.executionURL(flowSID, sid)+"/Steps", p, rows, h.step, stepSeq)
}

// stepPath reads the account, flow, execution and step SIDs.
func stepPath(r *http.Request) (acct, flowSID, execSID, sid string, err error) {
	if acct, flowSID, execSID, err = executionPath(r, "Sid"); err != nil {
		return
	}
	sid, err = rest.PathSID(r, "StepSid", "FT")
	return
}

func (h *handlers) fetchStep(w http.ResponseWriter, r *http.Request) error {
	acct, flowSID, execSID, sid, err := stepPath(r)
	if err != nil {
		return err
	}
	s, err := h.s.Step(r.Context(), acct, flowSID, execSID, sid)
	return respond(w, r, http.StatusOK, err, h.step(s))
}

func (h *handlers) fetchStepContext(w http.ResponseWriter, r *http.Request) error {
	acct, flowSID, execSID, sid, err := stepPath(r)
	if err != nil {
		return err
	}
	s, err := h.s.Step(r.Context(), acct, flowSID, execSID, sid)
	return respond(w, r, http.StatusOK, err, map[string]any{"account_sid": s.AccountSID, "context": s.Context,
		"execution_sid": s.ExecutionSID, "flow_sid": s.FlowSID, "step_sid": s.SID,
		"url": h.executionURL(s.FlowSID, s.ExecutionSID) + "/Steps/" + s.SID + "/Context"})
}
