package taskrouter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/parleychat/parley/internal/rest"
)

// WorkflowConfig is a workflow's Configuration JSON, decoded and checked:
//
//	{"task_routing": {
//	   "filters": [{"filter_friendly_name": "Spanish", "expression": "language == 'es'",
//	                "targets": [{"queue": "WQ…", "expression": "worker.level > 1",
//	                             "priority": 5, "timeout": 30, "order_by": "worker.level DESC",
//	                             "skip_if": "workers.available == 0"}]}],
//	   "default_filter": {"queue": "WQ…"}}}
//
// Filters are tried top-down against the task's attributes; the first
// that matches routes the task through its targets in order, each for
// its timeout. No match sends the task to default_filter.
type WorkflowConfig struct {
	Filters       []Filter
	DefaultFilter *Target
}

// Filter is one routing rule.
type Filter struct {
	Name       string
	Expression *Expr // nil: matches every task
	Targets    []Target
}

// Target is one routing step: a queue, narrowed by an expression.
type Target struct {
	Queue      string
	Expression *Expr // over worker. and task.; nil: every worker of the queue
	Priority   *int  // overrides the task's priority while in this step
	Timeout    int   // seconds; 0: no timeout
	OrderBy    []OrderKey
	SkipIf     *Expr
}

// OrderKey orders eligible workers by an attribute before idle time.
type OrderKey struct {
	Path []string // worker attribute path, without "worker."
	Desc bool
}

// maxConfigBytes bounds the Configuration parameter.
const maxConfigBytes = 64 << 10

type rawConfig struct {
	TaskRouting *struct {
		Filters       []rawFilter `json:"filters"`
		DefaultFilter *rawTarget  `json:"default_filter"`
	} `json:"task_routing"`
}

type rawFilter struct {
	FilterFriendlyName string      `json:"filter_friendly_name"`
	FriendlyName       string      `json:"friendly_name"`
	Expression         string      `json:"expression"`
	Targets            []rawTarget `json:"targets"`
}

type rawTarget struct {
	Queue      string `json:"queue"`
	Expression string `json:"expression"`
	Priority   *int   `json:"priority"`
	Timeout    *int   `json:"timeout"`
	OrderBy    string `json:"order_by"`
	SkipIf     string `json:"skip_if"`
}

// ConfigError says which part of a configuration is wrong and why.
type ConfigError struct {
	Path string // "task_routing.filters[0].targets[1].queue"
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// ParseWorkflowConfig decodes and checks a configuration. Queue SIDs are
// checked for shape here and for existence by the service.
func ParseWorkflowConfig(src string) (*WorkflowConfig, error) {
	if len(src) > maxConfigBytes {
		return nil, &ConfigError{Msg: fmt.Sprintf("is larger than %d bytes", maxConfigBytes)}
	}
	var raw rawConfig
	dec := json.NewDecoder(bytes.NewReader([]byte(src)))
	if err := dec.Decode(&raw); err != nil {
		return nil, &ConfigError{Msg: "is not valid workflow JSON: " + jsonProblem(err)}
	}
	if dec.More() {
		return nil, &ConfigError{Msg: "has text after the JSON object"}
	}
	if raw.TaskRouting == nil {
		return nil, &ConfigError{Msg: `needs a "task_routing" object`}
	}
	cfg := &WorkflowConfig{}
	for i, rf := range raw.TaskRouting.Filters {
		f, err := rf.decode(fmt.Sprintf("task_routing.filters[%d]", i))
		if err != nil {
			return nil, err
		}
		cfg.Filters = append(cfg.Filters, f)
	}
	if rt := raw.TaskRouting.DefaultFilter; rt != nil {
		t, err := rt.decode("task_routing.default_filter")
		if err != nil {
			return nil, err
		}
		cfg.DefaultFilter = &t
	}
	if len(cfg.Filters) == 0 && cfg.DefaultFilter == nil {
		return nil, &ConfigError{Path: "task_routing", Msg: "needs at least one filter or a default_filter"}
	}
	return cfg, nil
}

func jsonProblem(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "json: ")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func (rf rawFilter) decode(path string) (Filter, error) {
	f := Filter{Name: rf.FilterFriendlyName}
	if f.Name == "" {
		f.Name = rf.FriendlyName
	}
	if rf.Expression != "" {
		e, err := ParseExpr(rf.Expression)
		if err != nil {
			return f, &ConfigError{Path: path + ".expression", Msg: fmt.Sprintf("%q is invalid %s", rf.Expression, err)}
		}
		f.Expression = e
	}
	if len(rf.Targets) == 0 {
		return f, &ConfigError{Path: path + ".targets", Msg: "needs at least one target"}
	}
	for j, rt := range rf.Targets {
		t, err := rt.decode(fmt.Sprintf("%s.targets[%d]", path, j))
		if err != nil {
			return f, err
		}
		f.Targets = append(f.Targets, t)
	}
	return f, nil
}

func (rt rawTarget) decode(path string) (Target, error) {
	t := Target{Queue: rt.Queue, Priority: rt.Priority}
	if !rest.IsSID("WQ", rt.Queue) {
		return t, &ConfigError{Path: path + ".queue", Msg: fmt.Sprintf("%q is not a TaskQueue SID (WQ followed by 32 hex digits)", rt.Queue)}
	}
	if rt.Timeout != nil {
		if *rt.Timeout < 0 || *rt.Timeout > 86400*14 {
			return t, &ConfigError{Path: path + ".timeout", Msg: fmt.Sprintf("%d is outside 0 to 1209600 seconds", *rt.Timeout)}
		}
		t.Timeout = *rt.Timeout
	}
	if rt.Priority != nil && *rt.Priority < 0 {
		return t, &ConfigError{Path: path + ".priority", Msg: "must not be negative"}
	}
	var err error
	if t.Expression, err = optionalExpr(rt.Expression, path+".expression"); err != nil {
		return t, err
	}
	if t.SkipIf, err = optionalExpr(rt.SkipIf, path+".skip_if"); err != nil {
		return t, err
	}
	if t.OrderBy, err = parseOrderBy(rt.OrderBy, path+".order_by"); err != nil {
		return t, err
	}
	return t, nil
}

func optionalExpr(src, path string) (*Expr, error) {
	if src == "" {
		return nil, nil
	}
	e, err := ParseExpr(src)
	if err != nil {
		return nil, &ConfigError{Path: path, Msg: fmt.Sprintf("%q is invalid %s", src, err)}
	}
	return e, nil
}

// parseOrderBy reads "worker.level DESC, worker.seniority".
func parseOrderBy(src, path string) ([]OrderKey, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	var keys []OrderKey
	for _, part := range strings.Split(src, ",") {
		fields := strings.Fields(part)
		if len(fields) == 0 || len(fields) > 2 {
			return nil, &ConfigError{Path: path, Msg: fmt.Sprintf("%q is not \"worker.<attribute> [ASC|DESC]\"", strings.TrimSpace(part))}
		}
		k := OrderKey{}
		if len(fields) == 2 {
			switch strings.ToUpper(fields[1]) {
			case "DESC":
				k.Desc = true
			case "ASC":
			default:
				return nil, &ConfigError{Path: path, Msg: fmt.Sprintf("%q is neither ASC nor DESC", fields[1])}
			}
		}
		name := strings.TrimPrefix(fields[0], "worker.")
		if name == "" || keyLen(name) != len(name) || checkKey(name, 1) != nil {
			return nil, &ConfigError{Path: path, Msg: fmt.Sprintf("%q is not a worker attribute key", fields[0])}
		}
		k.Path = splitKey(name)
		keys = append(keys, k)
	}
	return keys, nil
}

// Queues lists every queue SID the configuration names.
func (c *WorkflowConfig) Queues() []string {
	var out []string
	for _, f := range c.Filters {
		for _, t := range f.Targets {
			out = append(out, t.Queue)
		}
	}
	if c.DefaultFilter != nil {
		out = append(out, c.DefaultFilter.Queue)
	}
	return out
}

// Step returns the target at (filter, target); filter -1 is default_filter.
func (c *WorkflowConfig) Step(filter, target int) (Target, bool) {
	if filter < 0 {
		if c.DefaultFilter == nil || target != 0 {
			return Target{}, false
		}
		return *c.DefaultFilter, true
	}
	if filter >= len(c.Filters) || target < 0 || target >= len(c.Filters[filter].Targets) {
		return Target{}, false
	}
	return c.Filters[filter].Targets[target], true
}

// Route picks the first filter whose expression holds for the task.
// It returns -1 for default_filter, and ok=false when nothing routes the task.
func (c *WorkflowConfig) Route(task Env) (filter int, ok bool) {
	for i, f := range c.Filters {
		if f.Expression == nil || f.Expression.Eval(task) {
			return i, true
		}
	}
	return -1, c.DefaultFilter != nil
}
