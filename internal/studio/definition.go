package studio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Definition is a Studio flow definition exactly as Twilio exports it.
type Definition struct {
	Description  string          `json:"description,omitempty"`
	InitialState string          `json:"initial_state"`
	Flags        json.RawMessage `json:"flags,omitempty"`
	States       []State         `json:"states"`
}

// State is one widget of a flow.
type State struct {
	Name        string          `json:"name"`
	Type        string          `json:"type"`
	Transitions []Transition    `json:"transitions"`
	Properties  json.RawMessage `json:"properties,omitempty"`
}

// Transition leads from a widget's event to the next state; without Next
// the execution ends there.
type Transition struct {
	Event      string      `json:"event"`
	Next       string      `json:"next,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
}

// Condition is one test of a split-based-on "match" transition.
type Condition struct {
	FriendlyName string   `json:"friendly_name,omitempty"`
	Arguments    []string `json:"arguments,omitempty"`
	Type         string   `json:"type"`
	Value        string   `json:"value"`
}

// Problem is one thing wrong (or worth a warning) in a definition.
type Problem struct {
	Message      string `json:"message"`
	PropertyPath string `json:"property_path"`
}

// MaxDefinitionBytes bounds a definition; a larger one is refused before parsing.
const MaxDefinitionBytes = 512 << 10

// maxStates bounds the number of widgets in one flow.
const maxStates = 500

// Flow is a decoded, validated definition ready to run: its widgets are
// built and its templates parsed.
type Flow struct {
	Def      Definition
	states   map[string]*compiledState
	Warnings []Problem
}

type compiledState struct {
	State
	index  int
	widget Widget
	next   map[string]string // event -> next state ("" ends)
}

// ParseDefinition decodes raw (the form's Definition parameter: a JSON
// object, or a JSON string holding one, as twilio-go sends a string) and
// validates it. It returns every problem, each naming the state it is in,
// not only the first; warnings do not stop a flow from being saved.
func ParseDefinition(raw []byte) (*Flow, []Problem) {
	if len(raw) > MaxDefinitionBytes {
		return nil, []Problem{{Message: fmt.Sprintf("the definition is larger than %d bytes", MaxDefinitionBytes), PropertyPath: "#"}}
	}
	raw = unwrapJSONString(raw)
	var def Definition
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&def); err != nil {
		return nil, []Problem{{Message: "the definition is not a valid flow definition: " + cleanJSONError(err), PropertyPath: "#"}}
	}
	if dec.More() {
		return nil, []Problem{{Message: "the definition has data after its JSON object", PropertyPath: "#"}}
	}
	return compile(def)
}

// unwrapJSONString turns "\"{...}\"" into "{...}": clients that marshal the
// definition themselves send a JSON string of JSON.
func unwrapJSONString(raw []byte) []byte {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '"' {
		return raw
	}
	var s string
	if err := json.Unmarshal(trimmed, &s); err != nil {
		return raw
	}
	return []byte(s)
}

func cleanJSONError(err error) string {
	s := strings.TrimPrefix(err.Error(), "json: ")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func compile(def Definition) (*Flow, []Problem) {
	f := &Flow{Def: def, states: map[string]*compiledState{}}
	var errs []Problem
	add := func(path, format string, args ...any) {
		errs = append(errs, Problem{Message: fmt.Sprintf(format, args...), PropertyPath: path})
	}
	if len(def.States) == 0 {
		add("#/states", "the definition has no states")
	}
	if len(def.States) > maxStates {
		add("#/states", "the definition has %d states; at most %d are allowed", len(def.States), maxStates)
		return nil, errs
	}
	triggers := 0
	for i, st := range def.States {
		path := fmt.Sprintf("#/states/%d", i)
		switch {
		case strings.TrimSpace(st.Name) == "":
			add(path+"/name", "state %d has no name", i)
			continue
		case f.states[st.Name] != nil:
			add(path+"/name", "state %q: the name is used by another state", st.Name)
			continue
		}
		if st.Type == "trigger" {
			triggers++
		}
		cs := &compiledState{State: st, index: i, next: map[string]string{}}
		f.states[st.Name] = cs
		w, problems, warning := buildWidget(st)
		for _, p := range problems {
			add(path+p.PropertyPath, "state %q (%s): %s", st.Name, st.Type, p.Message)
		}
		if warning != "" {
			f.Warnings = append(f.Warnings, Problem{Message: fmt.Sprintf("state %q: %s", st.Name, warning), PropertyPath: path + "/type"})
		}
		cs.widget = w
	}
	if def.InitialState == "" {
		add("#/initial_state", "initial_state is missing")
	} else if f.states[def.InitialState] == nil {
		add("#/initial_state", "initial_state %q names no state", def.InitialState)
	} else if f.states[def.InitialState].Type != "trigger" {
		add("#/initial_state", "initial_state %q is a %s widget, not the trigger", def.InitialState, f.states[def.InitialState].Type)
	}
	if triggers != 1 && len(def.States) > 0 {
		add("#/states", "a flow has exactly one trigger widget; this one has %d", triggers)
	}
	for _, cs := range f.states {
		errs = append(errs, f.checkTransitions(cs)...)
	}
	sortProblems(errs)
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

// checkTransitions validates one state's transitions: known events, no
// duplicates (a split may repeat "match"), and existing targets.
func (f *Flow) checkTransitions(cs *compiledState) []Problem {
	var errs []Problem
	events := map[string]bool{}
	if cs.widget != nil {
		for _, e := range cs.widget.Events() {
			events[e] = true
		}
	}
	checkEvents := len(events) > 0 // widgets Parley never runs take any event
	for j, tr := range cs.Transitions {
		path := fmt.Sprintf("#/states/%d/transitions/%d", cs.index, j)
		bad := func(format string, args ...any) {
			errs = append(errs, Problem{Message: fmt.Sprintf("state %q: ", cs.Name) + fmt.Sprintf(format, args...), PropertyPath: path})
		}
		if checkEvents && !events[tr.Event] {
			bad("transition event %q is not one of %s's events (%s)", tr.Event, cs.Type, strings.Join(cs.widget.Events(), ", "))
		}
		if tr.Next != "" && f.states[tr.Next] == nil {
			bad("transition %q leads to %q, which is not a state in this flow", tr.Event, tr.Next)
		}
		if _, dup := cs.next[tr.Event]; dup && tr.Event != "match" {
			bad("transition event %q appears twice", tr.Event)
		}
		if tr.Event != "match" {
			cs.next[tr.Event] = tr.Next
		}
		if len(tr.Conditions) > 0 && tr.Event != "match" {
			bad("only a split's match transitions carry conditions")
		}
	}
	return errs
}

func sortProblems(ps []Problem) {
	// Stable order (states are visited from a map): by path, which
	// starts with the state's index.
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && pathLess(ps[j].PropertyPath, ps[j-1].PropertyPath); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// pathLess orders "#/states/10" after "#/states/9".
func pathLess(a, b string) bool {
	if len(a) != len(b) && strings.HasPrefix(a, "#/states/") && strings.HasPrefix(b, "#/states/") {
		ai, bi := leadingInt(a[len("#/states/"):]), leadingInt(b[len("#/states/"):])
		if ai != bi {
			return ai < bi
		}
	}
	return a < b
}

func leadingInt(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// state returns the compiled state named name.
func (f *Flow) state(name string) *compiledState { return f.states[name] }

// Summary is the message of an invalid definition's error: every problem,
// joined, so that a client that shows only the message still sees them.
func Summary(ps []Problem) string {
	msgs := make([]string, 0, len(ps))
	for _, p := range ps {
		msgs = append(msgs, p.Message)
	}
	return "Invalid Flow Definition: " + strings.Join(msgs, "; ")
}
