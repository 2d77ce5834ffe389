package taskrouter

import (
	"context"
	"math"
	"strconv"

	"github.com/parleychat/parley/internal/store"
)

// liveStatuses are the task statuses real-time statistics count.
var liveStatuses = []string{StatusPending, StatusReserved, StatusAssigned, StatusWrapping}

// RealTime is a snapshot of a workspace or a queue.
type RealTime struct {
	TasksByStatus      map[string]int
	TasksByPriority    map[string]int
	TotalTasks         int
	LongestWaitingAge  int64 // seconds
	LongestWaitingSID  string
	LongestInQueueAge  int64
	LongestInQueueSID  string
	TotalWorkers       int
	AvailableWorkers   int
	EligibleWorkers    int
	ActivityStatistics []map[string]any
}

// WorkspaceRealTime counts a workspace's live tasks and workers
// (channel: only tasks of that task channel SID or unique name).
func (s *Service) WorkspaceRealTime(ctx context.Context, accountSID, wsSID, channel string) (RealTime, error) {
	if _, err := s.Workspace(ctx, accountSID, wsSID); err != nil {
		return RealTime{}, err
	}
	rt, err := s.taskCounts(ctx, wsSID, "", channel)
	if err != nil {
		return rt, err
	}
	workers, err := store.QueryAll(ctx, s.db, "SELECT "+workerCols+" FROM tr_workers w WHERE w.workspace_sid = ?", scanWorker, wsSID)
	if err != nil {
		return rt, err
	}
	rt.TotalWorkers = len(workers)
	rt.ActivityStatistics, err = s.activityStats(ctx, wsSID, workers)
	return rt, err
}

// QueueRealTime counts a queue's live tasks and its eligible workers.
func (s *Service) QueueRealTime(ctx context.Context, accountSID, wsSID, queueSID, channel string) (RealTime, error) {
	q, err := s.TaskQueue(ctx, accountSID, wsSID, queueSID)
	if err != nil {
		return RealTime{}, err
	}
	rt, err := s.taskCounts(ctx, wsSID, queueSID, channel)
	if err != nil {
		return rt, err
	}
	all, err := store.QueryAll(ctx, s.db, "SELECT "+workerCols+" FROM tr_workers w WHERE w.workspace_sid = ?", scanWorker, wsSID)
	if err != nil {
		return rt, err
	}
	e, err := s.cache.expr(q.TargetWorkers)
	if err != nil {
		return rt, err
	}
	var eligible []Worker
	for _, w := range all {
		if e.Eval(workerEnv(&workerView{Worker: w, attrs: workerAttrs(w)})) {
			eligible = append(eligible, w)
			if w.Available {
				rt.AvailableWorkers++
			}
		}
	}
	rt.EligibleWorkers = len(eligible)
	rt.TotalWorkers = len(eligible)
	rt.ActivityStatistics, err = s.activityStats(ctx, wsSID, eligible)
	return rt, err
}

func (s *Service) taskCounts(ctx context.Context, wsSID, queueSID, channel string) (RealTime, error) {
	rt := RealTime{TasksByStatus: map[string]int{}, TasksByPriority: map[string]int{}}
	for _, st := range liveStatuses {
		rt.TasksByStatus[st] = 0
	}
	f := filter{}
	f.add("t.workspace_sid = ? AND t.assignment_status IN (?, ?, ?, ?)", wsSID, StatusPending, StatusReserved, StatusAssigned, StatusWrapping)
	if queueSID != "" {
		f.add("t.task_queue_sid = ?", queueSID)
	}
	if channel != "" {
		f.add("t.task_channel_sid IN (SELECT sid FROM tr_task_channels WHERE workspace_sid = ? AND (sid = ? OR unique_name = ?))", wsSID, channel, channel)
	}
	tasks, err := store.QueryAll(ctx, s.db, "SELECT "+taskBaseCols+" FROM tr_tasks t"+f.where(), scanTaskBase, f.args...)
	if err != nil {
		return rt, err
	}
	now := store.Now()
	for _, t := range tasks {
		rt.TotalTasks++
		rt.TasksByStatus[t.Status]++
		rt.TasksByPriority[strconv.Itoa(t.Priority)]++
		if t.Status != StatusPending {
			continue
		}
		if age := (now - t.Created) / 1000; rt.LongestWaitingSID == "" || age > rt.LongestWaitingAge {
			rt.LongestWaitingAge, rt.LongestWaitingSID = age, t.SID
		}
		if age := (now - t.QueueEntered) / 1000; rt.LongestInQueueSID == "" || age > rt.LongestInQueueAge {
			rt.LongestInQueueAge, rt.LongestInQueueSID = age, t.SID
		}
	}
	return rt, nil
}

func (s *Service) activityStats(ctx context.Context, wsSID string, workers []Worker) ([]map[string]any, error) {
	acts, err := store.QueryAll(ctx, s.db, "SELECT "+activityCols+" FROM tr_activities WHERE workspace_sid = ? ORDER BY seq", scanActivity, wsSID)
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	for _, w := range workers {
		count[w.ActivitySID]++
	}
	out := make([]map[string]any, 0, len(acts))
	for _, a := range acts {
		out = append(out, map[string]any{"sid": a.SID, "friendly_name": a.FriendlyName, "workers": count[a.SID]})
	}
	return out, nil
}

// Cumulative is what happened in a window of time, counted from the
// event log.
type Cumulative struct {
	Start, End int64
	Counts     map[string]int // by event type
	Accepted   WaitStats
	Canceled   WaitStats
}

// WaitStats summarises waits in seconds.
type WaitStats struct {
	Avg, Min, Max, Total int64
	n                    int64
}

func (w *WaitStats) add(ms int64) {
	sec := ms / 1000
	if w.n == 0 || sec < w.Min {
		w.Min = sec
	}
	w.Max = max(w.Max, sec)
	w.Total += sec
	w.n++
	w.Avg = int64(math.Round(float64(w.Total) / float64(w.n)))
}

// Map renders the wait summary as Twilio's {avg, min, max, total}.
func (w WaitStats) Map() map[string]int64 {
	return map[string]int64{"avg": w.Avg, "min": w.Min, "max": w.Max, "total": w.Total}
}

// CumulativeStats counts the events of a workspace (or one queue) between
// start and end (unix ms).
func (s *Service) CumulativeStats(ctx context.Context, accountSID, wsSID, queueSID, channel string, start, end int64) (Cumulative, error) {
	c := Cumulative{Start: start, End: end, Counts: map[string]int{}}
	if _, err := s.Workspace(ctx, accountSID, wsSID); err != nil {
		return c, err
	}
	if queueSID != "" {
		if _, err := s.TaskQueue(ctx, accountSID, wsSID, queueSID); err != nil {
			return c, err
		}
	}
	f := filter{}
	f.add("workspace_sid = ? AND event_date >= ? AND event_date <= ?", wsSID, start, end)
	if queueSID != "" {
		f.add("task_queue_sid = ?", queueSID)
	}
	if channel != "" {
		f.add("task_channel = ?", channel)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT event_type, wait_ms FROM tr_events"+f.where(), f.args...)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var typ string
		var wait int64
		if err := rows.Scan(&typ, &wait); err != nil {
			return c, err
		}
		c.Counts[typ]++
		switch typ {
		case "reservation.accepted":
			c.Accepted.add(wait)
		case "task.canceled":
			c.Canceled.add(wait)
		}
	}
	return c, rows.Err()
}
