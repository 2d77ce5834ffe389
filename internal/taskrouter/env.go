package taskrouter

import (
	"encoding/json"
	"strconv"
)

// parseAttributes decodes attributes JSON; anything but an object is an
// empty object (a worker with "[]" simply has no attributes to match).
func parseAttributes(s string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return map[string]any{}
	}
	return m
}

// lookup walks path through decoded JSON; array steps are indexes.
func lookup(v any, path []string) (any, bool) {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[p]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// prefixed resolves "<prefix>.a.b" in attrs, and also the bare "a.b"
// unless attrs itself has a key named prefix.
func prefixed(attrs map[string]any, prefix string, path []string) (any, bool) {
	if len(path) > 1 && path[0] == prefix {
		if _, own := attrs[prefix]; !own {
			return lookup(attrs, path[1:])
		}
	}
	return lookup(attrs, path)
}

// taskEnv is the environment of a workflow filter expression: keys are
// the task's attributes, with or without "task.".
func taskEnv(attrs map[string]any) Env {
	return func(path []string) (any, bool) { return prefixed(attrs, "task", path) }
}

// workerFields are a worker's own fields that expressions may read as
// worker.sid, worker.activity_name and so on.
func (w *workerView) field(name string) (any, bool) {
	switch name {
	case "sid":
		return w.SID, true
	case "activity_sid":
		return w.ActivitySID, true
	case "activity_name":
		return w.ActivityName, true
	case "friendly_name":
		return w.FriendlyName, true
	case "available":
		return w.Available, true
	}
	return nil, false
}

func (w *workerView) resolve(path []string) (any, bool) {
	if len(path) == 2 && path[0] == "worker" {
		if _, own := w.attrs["worker"]; !own {
			if v, ok := w.field(path[1]); ok {
				return v, true
			}
		}
	}
	return prefixed(w.attrs, "worker", path)
}

// workerEnv is the environment of a TaskQueue's TargetWorkers: bare keys
// are the worker's attributes.
func workerEnv(w *workerView) Env { return w.resolve }

// targetEnv is the environment of a workflow target's expression:
// worker.<key> and task.<key>; bare keys are the worker's attributes.
func targetEnv(w *workerView, task map[string]any) Env {
	return func(path []string) (any, bool) {
		if len(path) > 1 && path[0] == "task" {
			return lookup(task, path[1:])
		}
		return w.resolve(path)
	}
}

// skipEnv is the environment of skip_if: workers.available,
// workers.unavailable and workers.<ActivitySid> count the target's
// matching workers; task.<key> reads the task.
func skipEnv(counts map[string]int, task map[string]any) Env {
	return func(path []string) (any, bool) {
		if len(path) == 2 && path[0] == "workers" {
			return float64(counts[path[1]]), true
		}
		return prefixed(task, "task", path)
	}
}
