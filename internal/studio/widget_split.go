package studio

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ---- split-based-on ----

type splitWidget struct {
	common
	Input text `json:"input"`
}

// conditionTypes are the comparisons Twilio documents for a split.
var conditionTypes = map[string]func(input, value string) bool{
	"equal_to":              func(in, v string) bool { return strings.EqualFold(strings.TrimSpace(in), strings.TrimSpace(v)) },
	"not_equal_to":          func(in, v string) bool { return !strings.EqualFold(strings.TrimSpace(in), strings.TrimSpace(v)) },
	"matches_any_of":        func(in, v string) bool { return anyOf(in, v) },
	"does_not_match_any_of": func(in, v string) bool { return !anyOf(in, v) },
	"is_blank":              func(in, _ string) bool { return strings.TrimSpace(in) == "" },
	"is_not_blank":          func(in, _ string) bool { return strings.TrimSpace(in) != "" },
	"regex":                 matchRegex,
	"contains":              func(in, v string) bool { return strings.Contains(fold(in), fold(v)) },
	"does_not_contain":      func(in, v string) bool { return !strings.Contains(fold(in), fold(v)) },
	"starts_with":           func(in, v string) bool { return strings.HasPrefix(fold(in), fold(v)) },
	"does_not_start_with":   func(in, v string) bool { return !strings.HasPrefix(fold(in), fold(v)) },
	"less_than":             func(in, v string) bool { return compareNumbers(in, v) < 0 },
	"greater_than":          func(in, v string) bool { return compareNumbers(in, v) == 1 },
	"is_before_time":        func(in, v string) bool { return compareTimes(in, v, parseClock) < 0 },
	"is_after_time":         func(in, v string) bool { return compareTimes(in, v, parseClock) == 1 },
	"is_before_date":        func(in, v string) bool { return compareTimes(in, v, parseDate) < 0 },
	"is_after_date":         func(in, v string) bool { return compareTimes(in, v, parseDate) == 1 },
}

func fold(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// anyOf: value is a comma-separated list; case-insensitive, trimmed.
func anyOf(in, list string) bool {
	for _, v := range strings.Split(list, ",") {
		if fold(v) == fold(in) {
			return true
		}
	}
	return false
}

// maxRegexLen bounds a split's regular expression (RE2: linear time).
const maxRegexLen = 1000

func matchRegex(in, expr string) bool {
	if len(expr) > maxRegexLen {
		return false
	}
	re, err := regexp.Compile(expr)
	return err == nil && re.MatchString(in)
}

// compareNumbers returns -1, 0 or 1, or 2 when either side is no number
// (no number is ever less or greater).
func compareNumbers(a, b string) int {
	x, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	y, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if err1 != nil || err2 != nil {
		return 2
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// compareTimes parses both sides with parse and compares them; 2 when
// either does not parse.
func compareTimes(a, b string, parse func(string) (time.Time, bool)) int {
	x, ok1 := parse(a)
	y, ok2 := parse(b)
	if !ok1 || !ok2 {
		return 2
	}
	return x.Compare(y)
}

// parseClock reads a time of day ("13:05", "1:05pm", "13:05:09") or a
// full timestamp (whose UTC time of day counts).
func parseClock(s string) (time.Time, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	for _, layout := range []string{"15:04", "15:04:05", "3:04PM", "3:04 PM", "3PM", "3 PM"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if t, ok := parseTimestamp(s); ok {
		t = t.UTC()
		return time.Date(0, 1, 1, t.Hour(), t.Minute(), t.Second(), 0, time.UTC), true
	}
	return time.Time{}, false
}

// parseDate reads a date ("2026-11-25", "11/25/2026") or a timestamp (its UTC date).
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02", "01/02/2006", "1/2/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if t, ok := parseTimestamp(s); ok {
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), true
	}
	return time.Time{}, false
}

func parseTimestamp(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339, time.RFC1123Z, time.RFC1123, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (w *splitWidget) Validate(st State) []Problem {
	var c checker
	c.template("input", w.Input)
	for i, tr := range st.Transitions {
		if tr.Event == "match" && len(tr.Conditions) == 0 {
			c.problems = append(c.problems, Problem{Message: fmt.Sprintf("match transition %d has no conditions", i),
				PropertyPath: fmt.Sprintf("/transitions/%d", i)})
		}
		for j, cond := range tr.Conditions {
			path := fmt.Sprintf("/transitions/%d/conditions/%d", i, j)
			bad := func(format string, args ...any) {
				c.problems = append(c.problems, Problem{Message: fmt.Sprintf(format, args...), PropertyPath: path})
			}
			if _, ok := conditionTypes[cond.Type]; !ok {
				bad("condition type %q is not one of Twilio's split conditions", cond.Type)
			}
			if err := checkTemplate(cond.Value); err != nil {
				bad("condition value is not a valid Liquid template: %v", err)
			}
			for _, arg := range cond.Arguments {
				if err := checkTemplate(arg); err != nil {
					bad("condition argument is not a valid Liquid template: %v", err)
				}
			}
			if cond.Type == "regex" && !isTemplate(cond.Value) {
				if len(cond.Value) > maxRegexLen {
					bad("the regular expression is longer than %d characters", maxRegexLen)
				} else if _, err := regexp.Compile(cond.Value); err != nil {
					bad("the regular expression does not compile: %v", err)
				}
			}
		}
	}
	return c.problems
}

func (*splitWidget) Events() []string { return []string{"noMatch", "match"} }

// Run picks the first match transition whose conditions all hold. Each
// condition compares its first argument (Twilio repeats the input there)
// or, without one, the widget's input.
func (w *splitWidget) Run(_ context.Context, x *run) (result, error) {
	input, err := x.render(string(w.Input))
	if err != nil {
		return result{}, err
	}
	for i, tr := range x.state.Transitions {
		if tr.Event != "match" {
			continue
		}
		ok, err := w.holds(x, input, tr.Conditions)
		if err != nil {
			return result{}, err
		}
		if ok {
			return result{Event: "match", MatchIndex: i, Output: map[string]any{"input": input}}, nil
		}
	}
	return result{Event: "noMatch", Output: map[string]any{"input": input}}, nil
}

func (w *splitWidget) holds(x *run, input string, conds []Condition) (bool, error) {
	for _, cond := range conds {
		in := input
		if len(cond.Arguments) > 0 {
			var err error
			if in, err = x.render(cond.Arguments[0]); err != nil {
				return false, err
			}
		}
		value, err := x.render(cond.Value)
		if err != nil {
			return false, err
		}
		test := conditionTypes[cond.Type]
		if test == nil || !test(in, value) {
			return false, nil
		}
	}
	return len(conds) > 0, nil
}
