package app

import (
	"context"
	"time"

	"github.com/parleychat/parley/internal/agent"
	"github.com/parleychat/parley/internal/taskrouter"
)

// The supervisor view's trend: every queue sampled every trendInterval,
// kept for trendKeep (the view shows agent.TrendWindow of it).
const (
	trendInterval = 30 * time.Second
	trendKeep     = 2 * time.Hour
)

// startSupervision plugs TaskRouter into the supervisor view and starts
// the node's queue sampler (stopped by Close).
func (a *App) startSupervision() {
	a.Agents.SetSupervision(agentSupervision{tr: a.TaskRouter})
	a.sampler = a.TaskRouter.NewSampler(trendInterval, trendKeep)
	a.sampler.Start()
}

// agentSupervision adapts TaskRouter to agent.Supervision, always on the
// supervisor's own workspace.
type agentSupervision struct{ tr *taskrouter.Service }

var _ agent.Supervision = agentSupervision{}

func (s agentSupervision) Overview(ctx context.Context, a agent.Agent) (agent.Overview, error) {
	ov, err := s.tr.Overview(ctx, a.AccountSID, a.WorkspaceSID)
	if err != nil {
		return agent.Overview{}, err
	}
	out := agent.Overview{WorkspaceSID: a.WorkspaceSID, Now: ov.Now}
	for _, q := range ov.Queues {
		out.Queues = append(out.Queues, agent.QueueStats{SID: q.SID, FriendlyName: q.FriendlyName, Waiting: q.Waiting,
			OldestWaiting: q.OldestWaiting, Active: q.Active, Eligible: q.Eligible, Available: q.Available, Busy: q.Busy})
	}
	for _, w := range ov.Workers {
		ag := agent.AgentActivity{WorkerSID: w.SID, Name: w.FriendlyName, ActivityName: w.ActivityName,
			Available: w.Available, Since: w.Since, Attributes: w.Attributes}
		for _, t := range w.Tasks {
			ag.Chats = append(ag.Chats, agent.AgentChat{ReservationSID: t.ReservationSID, TaskSID: t.TaskSID, Status: t.Status,
				Since: t.Since, Queue: t.QueueName, Attributes: t.TaskAttributes})
		}
		out.Agents = append(out.Agents, ag)
	}
	return out, nil
}

func (s agentSupervision) Trend(ctx context.Context, a agent.Agent, since time.Time) (agent.Trend, error) {
	points, err := s.tr.QueueTrend(ctx, a.AccountSID, a.WorkspaceSID, since.UnixMilli())
	out := agent.Trend{IntervalSeconds: int(trendInterval / time.Second)}
	for _, p := range points {
		out.Points = append(out.Points, agent.TrendPoint{At: p.At, Waiting: p.Waiting, LongestWait: p.LongestWait})
	}
	return out, err
}
