package studio

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Widget is one widget type's behaviour. A widget is built from a state's
// properties by its constructor in the registry, decoded strictly (an
// unknown property is an error), validated once when the definition is
// saved, and run each time an execution reaches it. This is Caddy's
// module lifecycle (decode, Validate, then use) written as a plain map.
type Widget interface {
	// Validate reports what is wrong with the decoded properties (and, for
	// a split, its transitions' conditions). Paths are relative to the state.
	Validate(st State) []Problem
	// Events lists the transition events the widget can fire.
	Events() []string
	// Run does the widget's work and names the event that follows.
	Run(ctx context.Context, x *run) (result, error)
}

// Waiter is a widget that pauses the execution (send-and-wait-for-reply):
// Resume is called with the reply, or with nil when the wait timed out.
type Waiter interface {
	Resume(ctx context.Context, x *run, reply *inbound) (result, error)
}

// result is what running a widget produced.
type result struct {
	Event  string
	Output map[string]any // becomes widgets.<name>
	Wait   *wait          // non-nil: the execution pauses here
	// MatchIndex is the transition a split's "match" took.
	MatchIndex int
}

// wait describes a paused execution.
type wait struct {
	Kind       string        // waitReply or waitHandedOff
	Timeout    time.Duration // 0: no deadline
	AfterIndex int64         // a reply must come after this message index
	ChannelSID string
}

const (
	waitReply     = "reply"
	waitHandedOff = "flex"
)

// registry maps a widget type to its constructor: the only list of what
// Parley runs. Adding a widget is adding a line here.
var registry = map[string]func() Widget{
	"trigger":                 func() Widget { return &triggerWidget{} },
	"send-message":            func() Widget { return &sendMessageWidget{} },
	"send-and-wait-for-reply": func() Widget { return &sendAndWaitWidget{} },
	"split-based-on":          func() Widget { return &splitWidget{} },
	"set-variables":           func() Widget { return &setVariablesWidget{} },
	"make-http-request":       func() Widget { return &httpRequestWidget{} },
	"run-function":            func() Widget { return &runFunctionWidget{} },
	"send-to-flex":            func() Widget { return &sendToFlexWidget{} },
}

// notRun lists widget types Twilio has that Parley accepts but never
// runs (it has no voice channel, no subflows, no Autopilot): a flow
// exported from Twilio imports unchanged, with a warning per such widget.
// An execution that reaches one ends there.
var notRun = map[string]string{
	"say-play": "voice", "gather-input-on-call": "voice", "connect-call-to": "voice",
	"enqueue-call": "voice", "record-voicemail": "voice", "record-call": "voice",
	"make-outgoing-call": "voice", "fork-stream": "voice", "capture-payments": "voice",
	"add-twiml-redirect": "voice", "connect-virtual-agent": "voice",
	"run-subflow": "subflow", "send-to-auto-pilot": "Autopilot",
}

// buildWidget constructs and validates the widget for st. warning is set
// for a Twilio widget Parley never runs.
func buildWidget(st State) (w Widget, problems []Problem, warning string) {
	ctor, ok := registry[st.Type]
	if !ok {
		if kind, known := notRun[st.Type]; known {
			return inertWidget{}, nil, fmt.Sprintf("%s is a Twilio %s widget; Parley accepts it but never runs it (an execution that reaches it ends)", st.Type, kind)
		}
		if st.Type == "" {
			return nil, []Problem{{Message: "the state has no type", PropertyPath: "/type"}}, ""
		}
		return nil, []Problem{{Message: fmt.Sprintf("unknown widget type %q", st.Type), PropertyPath: "/type"}}, ""
	}
	w = ctor()
	props := st.Properties
	if len(bytes.TrimSpace(props)) == 0 || string(bytes.TrimSpace(props)) == "null" {
		props = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(props))
	dec.DisallowUnknownFields()
	if err := dec.Decode(w); err != nil {
		return nil, []Problem{{Message: "properties: " + cleanJSONError(err), PropertyPath: "/properties"}}, ""
	}
	return w, w.Validate(st), warningOf(w)
}

func warningOf(w Widget) string {
	if h, ok := w.(*httpRequestWidget); ok && bool(h.AddTwilioAuth) {
		return "add_twilio_auth is ignored: Parley never sends its credentials in a flow's HTTP requests"
	}
	return ""
}

// common holds the properties every widget may carry.
type common struct {
	Offset json.RawMessage `json:"offset,omitempty"`
}

// text is a property Twilio writes as a string but exports sometimes
// hold as a number or boolean ("timeout": 3600).
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = text(s)
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v.(type) {
	case float64, bool, nil:
		*t = text(strings.TrimSpace(string(b)))
		if v == nil {
			*t = ""
		}
		return nil
	}
	return fmt.Errorf("expected a string, got %s", b)
}

// flag is a boolean property that may arrive as "true".
type flag bool

func (f *flag) UnmarshalJSON(b []byte) error {
	var t text
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	v, err := strconv.ParseBool(string(t))
	if t != "" && err != nil {
		return fmt.Errorf("%q is not true or false", t)
	}
	*f = flag(v)
	return nil
}

// keyValue is one entry of a parameters, headers or variables list.
type keyValue struct {
	Key   string `json:"key"`
	Value text   `json:"value"`
}

// checker collects property problems.
type checker struct{ problems []Problem }

func (c *checker) add(prop, format string, args ...any) {
	c.problems = append(c.problems, Problem{Message: fmt.Sprintf(format, args...), PropertyPath: "/properties/" + prop})
}

func (c *checker) required(prop string, v text) {
	if strings.TrimSpace(string(v)) == "" {
		c.add(prop, "property %s is required", prop)
	}
}

// template checks that v parses as Liquid.
func (c *checker) template(prop string, v text) {
	if err := checkTemplate(string(v)); err != nil {
		c.add(prop, "property %s is not a valid Liquid template: %v", prop, err)
	}
}

// seconds checks a duration in whole seconds (a template is checked when it runs).
func (c *checker) seconds(prop string, v text, max int) {
	if v == "" || isTemplate(string(v)) {
		c.template(prop, v)
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(v)))
	if err != nil || n < 1 || n > max {
		c.add(prop, "property %s must be a whole number of seconds from 1 to %d, not %q", prop, max, v)
	}
}

func (c *checker) list(prop string, kvs []keyValue) {
	for i, kv := range kvs {
		if strings.TrimSpace(kv.Key) == "" {
			c.add(fmt.Sprintf("%s/%d/key", prop, i), "entry %d of %s has no key", i, prop)
		}
		c.template(fmt.Sprintf("%s/%d/value", prop, i), kv.Value)
	}
}

// ---- trigger ----

type triggerWidget struct{ common }

func (*triggerWidget) Validate(State) []Problem { return nil }
func (*triggerWidget) Events() []string {
	return []string{"incomingMessage", "incomingCall", "incomingConversationMessage", "incomingRequest", "incomingParent"}
}
func (*triggerWidget) Run(_ context.Context, x *run) (result, error) {
	return result{Event: x.exec.Trigger}, nil
}

// ---- widgets Parley accepts but never runs ----

type inertWidget struct{}

func (inertWidget) Validate(State) []Problem { return nil }
func (inertWidget) Events() []string         { return nil }
func (inertWidget) Run(context.Context, *run) (result, error) {
	return result{Event: "notSupported"}, nil
}

// ---- set-variables ----

type setVariablesWidget struct {
	common
	Variables []keyValue `json:"variables"`
}

func (w *setVariablesWidget) Validate(State) []Problem {
	var c checker
	c.list("variables", w.Variables)
	return c.problems
}
func (*setVariablesWidget) Events() []string { return []string{"next"} }

func (w *setVariablesWidget) Run(_ context.Context, x *run) (result, error) {
	vars := x.variables()
	set := map[string]any{}
	for _, kv := range w.Variables {
		v, err := x.render(string(kv.Value))
		if err != nil {
			return result{}, err
		}
		vars[kv.Key] = v
		set[kv.Key] = v
	}
	return result{Event: "next", Output: set}, nil
}
