package studio

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxHTTPWidgetTimeout is the most a widget's own timeout property may ask.
const maxHTTPWidgetTimeout = 60

// ---- make-http-request ----

type httpRequestWidget struct {
	common
	Method        text       `json:"method"`
	ContentType   text       `json:"content_type"`
	URL           text       `json:"url"`
	Body          text       `json:"body"`
	Parameters    []keyValue `json:"parameters"`
	Headers       []keyValue `json:"headers"`
	AddTwilioAuth flag       `json:"add_twilio_auth"`
	Charset       text       `json:"charset"`
	Timeout       text       `json:"timeout"`
}

func (w *httpRequestWidget) Validate(State) []Problem {
	var c checker
	c.required("url", w.URL)
	c.template("url", w.URL)
	c.template("body", w.Body)
	c.list("parameters", w.Parameters)
	c.list("headers", w.Headers)
	c.seconds("timeout", w.Timeout, maxHTTPWidgetTimeout)
	switch strings.ToUpper(string(w.Method)) {
	case "", "GET", "POST", "PUT", "PATCH", "DELETE":
	default:
		c.add("method", "property method must be GET or POST (or PUT, PATCH, DELETE), not %q", w.Method)
	}
	if w.ContentType != "" {
		if _, _, err := mime.ParseMediaType(string(w.ContentType)); err != nil {
			c.add("content_type", "property content_type %q is not a media type", w.ContentType)
		}
	}
	for i, h := range w.Headers {
		if k := http.CanonicalHeaderKey(strings.TrimSpace(h.Key)); k == "Host" || k == "Content-Length" {
			c.add("headers/"+strconv.Itoa(i)+"/key", "header %s is set by Parley", k)
		}
	}
	return c.problems
}

func (*httpRequestWidget) Events() []string { return []string{"success", "failed"} }

func (w *httpRequestWidget) Run(ctx context.Context, x *run) (result, error) {
	call, err := w.request(x)
	if err != nil {
		return result{Event: "failed", Output: failure(err)}, nil
	}
	return callOut(ctx, x, call, "success", "failed")
}

// request renders the widget into an HTTP call: parameters are the form
// body (or the query of a GET); a JSON or other content type sends body.
func (w *httpRequestWidget) request(x *run) (httpCall, error) {
	call := httpCall{Method: strings.ToUpper(string(w.Method)), Header: http.Header{}}
	if call.Method == "" {
		call.Method = http.MethodPost
	}
	var err error
	if call.URL, err = x.render(string(w.URL)); err != nil {
		return call, err
	}
	if call.Timeout, err = x.seconds(w.Timeout); err != nil {
		return call, err
	}
	params, err := x.renderList(w.Parameters)
	if err != nil {
		return call, err
	}
	headers, err := x.renderList(w.Headers)
	if err != nil {
		return call, err
	}
	for k, vs := range headers {
		call.Header[http.CanonicalHeaderKey(k)] = vs
	}
	ct := string(w.ContentType)
	if ct == "" {
		ct = "application/x-www-form-urlencoded"
	}
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case call.Method == http.MethodGet:
		if call.URL, err = withQuery(call.URL, params); err != nil {
			return call, err
		}
	case mt == "application/x-www-form-urlencoded":
		call.ContentType, call.Body = ct, []byte(params.Encode())
	default:
		body, err := x.render(string(w.Body))
		if err != nil {
			return call, err
		}
		if mt == "application/json" && strings.TrimSpace(body) != "" && !json.Valid([]byte(body)) {
			return call, errors.New("the body is not valid JSON after rendering")
		}
		call.ContentType, call.Body = ct, []byte(body)
	}
	return call, nil
}

func withQuery(raw string, params url.Values) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("the url does not parse")
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = append(q[k], vs...)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// callOut makes the call and maps the answer onto the widget's events.
func callOut(ctx context.Context, x *run, call httpCall, okEvent, failEvent string) (result, error) {
	ans, err := x.svc.http.do(ctx, call)
	if err != nil {
		return result{Event: failEvent, Output: failure(err)}, nil
	}
	if !ans.ok() {
		return result{Event: failEvent, Output: ans.output()}, nil
	}
	return result{Event: okEvent, Output: ans.output()}, nil
}

// ---- run-function ----

// runFunctionWidget calls a URL with the parameters, standing in for a
// Twilio Function: the service, environment and function SIDs are kept
// but Parley has no Functions runtime, so url is required.
type runFunctionWidget struct {
	common
	URL            text       `json:"url"`
	ServiceSID     text       `json:"service_sid"`
	EnvironmentSID text       `json:"environment_sid"`
	FunctionSID    text       `json:"function_sid"`
	Parameters     []keyValue `json:"parameters"`
	Timeout        text       `json:"timeout"`
}

func (w *runFunctionWidget) Validate(State) []Problem {
	var c checker
	if strings.TrimSpace(string(w.URL)) == "" {
		c.add("url", "property url is required: Parley has no Twilio Functions, so point url at your own endpoint")
	}
	c.template("url", w.URL)
	c.list("parameters", w.Parameters)
	c.seconds("timeout", w.Timeout, maxHTTPWidgetTimeout)
	return c.problems
}

func (*runFunctionWidget) Events() []string { return []string{"success", "fail"} }

func (w *runFunctionWidget) Run(ctx context.Context, x *run) (result, error) {
	target, err := x.render(string(w.URL))
	if err != nil {
		return result{Event: "fail", Output: failure(err)}, nil
	}
	params, err := x.renderList(w.Parameters)
	if err != nil {
		return result{Event: "fail", Output: failure(err)}, nil
	}
	timeout, err := x.seconds(w.Timeout)
	if err != nil {
		return result{Event: "fail", Output: failure(err)}, nil
	}
	call := httpCall{Method: http.MethodPost, URL: target, ContentType: "application/x-www-form-urlencoded",
		Body: []byte(params.Encode()), Timeout: timeout}
	return callOut(ctx, x, call, "success", "fail")
}

// ---- send-to-flex ----

type sendToFlexWidget struct {
	common
	Workflow      text `json:"workflow"`
	Channel       text `json:"channel"`
	Attributes    text `json:"attributes"`
	Priority      text `json:"priority"`
	Timeout       text `json:"timeout"`
	WaitURL       text `json:"waitUrl"`
	WaitURLMethod text `json:"waitUrlMethod"`
}

func (w *sendToFlexWidget) Validate(State) []Problem {
	var c checker
	c.required("workflow", w.Workflow)
	c.required("channel", w.Channel)
	for prop, v := range map[string]text{"workflow": w.Workflow, "channel": w.Channel, "attributes": w.Attributes,
		"priority": w.Priority, "timeout": w.Timeout} {
		c.template(prop, v)
	}
	return c.problems
}

func (*sendToFlexWidget) Events() []string {
	return []string{"callComplete", "failedToEnqueue", "callFailure"}
}

// Run creates a TaskRouter task. Its attributes are the chat channel's
// attributes with the widget's rendered attributes laid over them (the
// widget wins). A workflow or task channel that does not exist, or
// attributes that are not a JSON object, take failedToEnqueue.
func (w *sendToFlexWidget) Run(ctx context.Context, x *run) (result, error) {
	task, err := w.task(x)
	if err != nil {
		return result{Event: "failedToEnqueue", Output: failure(err)}, nil
	}
	if x.svc.tasks == nil {
		return result{Event: "failedToEnqueue", Output: failure(errors.New("TaskRouter is not available"))}, nil
	}
	sid, err := x.svc.tasks.CreateTaskForWorkflow(ctx, x.exec.AccountSID, task.workflow, task.channel, task.attributes, task.priority, task.timeout)
	if err != nil {
		return result{Event: "failedToEnqueue", Output: failure(err)}, nil
	}
	out := map[string]any{"TaskSid": sid, "sid": sid}
	if x.exec.ChannelSID == "" {
		return result{Event: "callComplete", Output: out}, nil
	}
	return result{Event: "callComplete", Output: out, Wait: &wait{Kind: waitHandedOff, ChannelSID: x.exec.ChannelSID}}, nil
}

type flexTask struct {
	workflow, channel, attributes string
	priority, timeout             int
}

func (w *sendToFlexWidget) task(x *run) (flexTask, error) {
	var t flexTask
	var err error
	if t.workflow, err = x.render(string(w.Workflow)); err != nil {
		return t, err
	}
	if t.channel, err = x.render(string(w.Channel)); err != nil {
		return t, err
	}
	if t.priority, err = x.integer(w.Priority, 0); err != nil {
		return t, errors.New("priority is not a whole number")
	}
	if t.timeout, err = x.integer(w.Timeout, 0); err != nil {
		return t, errors.New("timeout is not a whole number of seconds")
	}
	attrs := map[string]any{}
	maps.Copy(attrs, x.channelAttributes())
	if strings.TrimSpace(string(w.Attributes)) != "" {
		rendered, err := x.render(string(w.Attributes))
		if err != nil {
			return t, err
		}
		var own map[string]any
		if err := json.Unmarshal([]byte(rendered), &own); err != nil {
			return t, errors.New("attributes is not a JSON object after rendering")
		}
		maps.Copy(attrs, own)
	}
	b, err := json.Marshal(attrs)
	t.attributes = string(b)
	return t, err
}

// seconds renders an optional seconds property (0 when empty).
func (x *run) seconds(v text) (time.Duration, error) {
	n, err := x.integer(v, 0)
	if err != nil || n < 0 {
		return 0, errors.New("timeout is not a whole number of seconds")
	}
	return time.Duration(n) * time.Second, nil
}

// integer renders an optional whole-number property.
func (x *run) integer(v text, def int) (int, error) {
	if strings.TrimSpace(string(v)) == "" {
		return def, nil
	}
	s, err := x.render(string(v))
	if err != nil {
		return 0, err
	}
	if strings.TrimSpace(s) == "" {
		return def, nil
	}
	return strconv.Atoi(strings.TrimSpace(s))
}

// renderList renders a parameters or headers list.
func (x *run) renderList(kvs []keyValue) (url.Values, error) {
	out := url.Values{}
	for _, kv := range kvs {
		v, err := x.render(string(kv.Value))
		if err != nil {
			return nil, err
		}
		out.Add(kv.Key, v)
	}
	return out, nil
}
