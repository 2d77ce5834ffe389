package taskrouter

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func mustJSON(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExprEval(t *testing.T) {
	worker := mustJSON(t, `{"languages":["en","es"],"level":3,"team":"sales","skills":{"billing":true},
		"id":"ana","name":"Ana Lopez","tags":["vip-support","night"],"count":"2"}`)
	task := mustJSON(t, `{"preferred":["ana","bob"],"tier":"gold","customer":{"tier":"gold","age":30},"language":"es"}`)
	w := &workerView{Worker: Worker{SID: "WK1", ActivityName: "Available", ActivitySID: "WA1", Available: true}, attrs: worker}
	cases := []struct {
		expr string
		env  Env
		want bool
	}{
		{"1==1", nil, true},
		{"1 == 2", nil, false},
		{`languages HAS "es"`, workerEnv(w), true},
		{`languages has 'fr'`, workerEnv(w), false},
		{`"es" IN languages`, workerEnv(w), true},
		{`'fr' NOT IN languages`, workerEnv(w), true},
		{`team IN ['sales', 'support']`, workerEnv(w), true},
		{`team not in ["sales"]`, workerEnv(w), false},
		{`level > 2 AND level <= 3`, workerEnv(w), true},
		{`level >= 4 OR team == "sales"`, workerEnv(w), true},
		{`NOT (level > 2)`, workerEnv(w), false},
		{`!(level < 2) && team = 'sales'`, workerEnv(w), true},
		{`count == 2`, workerEnv(w), true},
		{`count > 1`, workerEnv(w), true},
		{`skills.billing == true`, workerEnv(w), true},
		{`skills.voice == true`, workerEnv(w), false},
		{`missing == null`, workerEnv(w), true},
		{`missing != "x"`, workerEnv(w), true},
		{`missing > 1`, workerEnv(w), false},
		{`name CONTAINS "Lopez"`, workerEnv(w), true},
		{`tags CONTAINS "vip"`, workerEnv(w), true},
		{`tags CONTAINS "day"`, workerEnv(w), false},
		{`languages[1] == "es"`, workerEnv(w), true},
		{`worker.level == 3`, workerEnv(w), true},
		{`worker.activity_name == "Available"`, workerEnv(w), true},
		{`worker.sid == "WK1"`, workerEnv(w), true},
		{`worker.id IN task.preferred`, targetEnv(w, task), true},
		{`task.customer.tier == 'gold' AND worker.level > 1`, targetEnv(w, task), true},
		{`task.customer.age < 18`, targetEnv(w, task), false},
		{`tier == "gold"`, taskEnv(task), true},
		{`task.tier == "gold"`, taskEnv(task), true},
		{`language == "es" and customer.age >= 30`, taskEnv(task), true},
		{`workers.available == 0`, skipEnv(map[string]int{"available": 0}, task), true},
		{`workers.available > 0`, skipEnv(map[string]int{"available": 0}, task), false},
		{`true`, nil, true},
		{`(((1==1)))`, nil, true},
		{`1 == 1 OR 1 == 2 AND 1 == 2`, nil, true}, // AND binds tighter
		{`-1 < 0`, nil, true},
		{`2.5e1 == 25`, nil, true},
	}
	for _, c := range cases {
		e, err := ParseExpr(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got := e.Eval(c.env); got != c.want {
			t.Errorf("%s = %v, want %v", c.expr, got, c.want)
		}
	}
}

func TestExprErrors(t *testing.T) {
	cases := []struct {
		expr string
		pos  int
		msg  string
	}{
		{"", 1, "empty"},
		{"languages HAS", 14, "ends where a value"},
		{`level > `, 9, "ends where a value"},
		{`(level > 2`, 11, "expected )"},
		{`level > 2)`, 10, "unexpected"},
		{`"es IN languages`, 1, "not closed"},
		{`level >> 2`, 8, "expected a value"},
		{`a-b == 1`, 2, "unexpected"},
		{`team IN ['a',]`, 14, "expected a value after the comma"},
		{`team IN ['a' 'b']`, 14, "expected , or ]"},
		{`a.. == 1`, 1, "dot must join"},
		{`level # 2`, 7, "unexpected character"},
		{`1 == 1 AND`, 11, "ends where"},
		{`a & b`, 3, "unexpected"},
		{strings.Repeat("(", 100) + "1==1" + strings.Repeat(")", 100), 65, "nests deeper"},
	}
	for _, c := range cases {
		_, err := ParseExpr(c.expr)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: got %v, want a syntax error", c.expr, err)
			continue
		}
		if se.Pos != c.pos || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("%q: got position %d %q, want %d containing %q", c.expr, se.Pos, se.Msg, c.pos, c.msg)
		}
	}
}

// FuzzParseExpr: the parser never panics, a parsed expression evaluates
// without panicking, and its canonical text parses to the same canonical text.
func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{`1==1`, `languages HAS "es"`, `worker.id IN task.preferred`, `NOT (a > 2 OR b <= 'x')`,
		`team IN ['a', "b", 3, true]`, `x CONTAINS "y" && !z`, `a[0].b != null`, `(((a)))`, `-1.5e3 < b`, `"\"q\\"`} {
		f.Add(s)
	}
	attrs := mustJSON(f, `{"a":[1,{"b":2}],"b":"x","languages":["es"],"team":"a","x":"xyz","z":false}`)
	f.Fuzz(func(t *testing.T, src string) {
		e, err := ParseExpr(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 1 {
				t.Fatalf("%q: error %v is not a positioned syntax error", src, err)
			}
			return
		}
		want := e.Eval(taskEnv(attrs))
		canon := e.canonical()
		e2, err := ParseExpr(canon)
		if err != nil {
			if strings.Contains(err.Error(), "nests deeper") || strings.Contains(err.Error(), "longer than") {
				return // the canonical form adds parentheses
			}
			t.Fatalf("%q: canonical %q does not parse: %v", src, canon, err)
		}
		if got := e2.canonical(); got != canon {
			t.Fatalf("%q: canonical %q re-parses as %q", src, canon, got)
		}
		if got := e2.Eval(taskEnv(attrs)); got != want {
			t.Fatalf("%q: canonical form evaluates to %v, original to %v", src, got, want)
		}
	})
}

func TestWorkflowConfig(t *testing.T) {
	q1, q2 := "WQ"+strings.Repeat("a", 32), "WQ"+strings.Repeat("b", 32)
	cfg, err := ParseWorkflowConfig(`{"task_routing":{"filters":[
		{"filter_friendly_name":"Spanish","expression":"language == 'es'","targets":[
			{"queue":"` + q1 + `","timeout":30,"priority":7,"order_by":"worker.level DESC","skip_if":"workers.available == 0"},
			{"queue":"` + q2 + `","expression":"worker.level > 1"}]}],
		"default_filter":{"queue":"` + q2 + `"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := cfg.Route(taskEnv(mustJSON(t, `{"language":"es"}`))); !ok || f != 0 {
		t.Fatalf("spanish task routed to %d %v", f, ok)
	}
	if f, ok := cfg.Route(taskEnv(mustJSON(t, `{"language":"en"}`))); !ok || f != defaultFilterIdx {
		t.Fatalf("english task routed to %d %v", f, ok)
	}
	step, _ := cfg.Step(0, 0)
	if step.Queue != q1 || step.Timeout != 30 || *step.Priority != 7 || !step.OrderBy[0].Desc || step.SkipIf == nil {
		t.Fatalf("step %+v", step)
	}
	tk := Task{Priority: 1}
	enterStep(&tk, cfg, 0, 0, 1000)
	if tk.StepDeadline != 31000 || tk.StepPriority != 7 {
		t.Fatalf("entered %+v", tk)
	}
	if last := nextStep(&tk, cfg, 2000); last || tk.QueueSID != q2 || tk.TargetIdx != 1 || tk.StepDeadline != 0 {
		t.Fatalf("next step %+v last=%v", tk, last)
	}
	if last := nextStep(&tk, cfg, 3000); !last || tk.FilterIdx != defaultFilterIdx {
		t.Fatalf("after last target %+v", tk)
	}

	bad := []struct{ src, want string }{
		{`{}`, `needs a "task_routing"`},
		{`{"task_routing":{}}`, "at least one filter"},
		{`{"task_routing":{"filters":[{"expression":"a ==","targets":[{"queue":"` + q1 + `"}]}]}}`, "task_routing.filters[0].expression"},
		{`{"task_routing":{"filters":[{"targets":[{"queue":"WQ1"}]}]}}`, "task_routing.filters[0].targets[0].queue"},
		{`{"task_routing":{"filters":[{"targets":[]}]}}`, "filters[0].targets: needs at least one target"},
		{`{"task_routing":{"filters":[{"targets":[{"queue":"` + q1 + `","timeout":-1}]}]}}`, "targets[0].timeout"},
		{`{"task_routing":{"filters":[{"targets":[{"queue":"` + q1 + `","order_by":"worker.level SIDEWAYS"}]}]}}`, "order_by"},
		{`{"task_routing":{"default_filter":{"queue":"` + q1 + `","skip_if":"((("}}}`, "default_filter.skip_if"},
		{`{"task_routing":{"filters":"x"}}`, "not valid workflow JSON"},
		{`{"task_routing":{"default_filter":{"queue":"` + q1 + `"}}} x`, "text after"},
	}
	for _, b := range bad {
		_, err := ParseWorkflowConfig(b.src)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: got %v, want an error containing %q", b.src, err, b.want)
		}
	}
}

// FuzzWorkflowConfig: the decoder never panics; what it accepts routes
// any task without panicking and names only well-formed queue SIDs.
func FuzzWorkflowConfig(f *testing.F) {
	q := "WQ" + strings.Repeat("0", 32)
	for _, s := range []string{
		`{"task_routing":{"filters":[],"default_filter":{"queue":"` + q + `"}}}`,
		`{"task_routing":{"filters":[{"filter_friendly_name":"a","expression":"x == 1","targets":[{"queue":"` + q + `","timeout":5,"priority":2,"skip_if":"workers.available == 0","order_by":"worker.l DESC, worker.m"}]}]}}`,
		`{"task_routing":{"filters":[{"expression":"((","targets":[{"queue":"` + q + `"}]}]}}`,
		`{"task_routing":null}`, `[]`, `{"task_routing":{"filters":[{"targets":[{"queue":1}]}]}}`,
	} {
		f.Add(s)
	}
	task := mustJSON(f, `{"x":1,"l":[1,2]}`)
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := ParseWorkflowConfig(src)
		if err != nil {
			return
		}
		filter, ok := cfg.Route(taskEnv(task))
		if ok {
			if _, ok := cfg.Step(filter, 0); !ok {
				t.Fatalf("route %d has no first step", filter)
			}
		}
		for _, qs := range cfg.Queues() {
			if len(qs) != 34 || qs[:2] != "WQ" {
				t.Fatalf("accepted queue %q", qs)
			}
		}
	})
}
