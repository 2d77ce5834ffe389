package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/rest"
)

// The supervisor view: the queues of the supervisor's workspace with
// their live figures, the agents with their activity and chats, and the
// trend of the queues over the last hour. Live updates and the read-only
// monitoring of a chat come over the realtime socket (the supervisor's
// token carries the TaskRouter role "supervisor").

// QueueStats is one queue's live figures.
type QueueStats struct {
	SID          string `json:"sid"`
	FriendlyName string `json:"friendly_name"`
	// Waiting counts the queue's pending tasks; LongestWait is the oldest
	// one's wait in seconds, and OldestWaiting its creation (unix ms, 0
	// when none waits), from which a page can count on by itself.
	Waiting       int   `json:"waiting"`
	LongestWait   int64 `json:"longest_wait"`
	OldestWaiting int64 `json:"oldest_waiting_ms"`
	// Active counts its reserved, assigned and wrapping tasks.
	Active int `json:"active"`
	// Eligible agents match the queue; Available ones are in an available
	// activity; Busy ones are offered or handle at least one task.
	Eligible  int `json:"eligible"`
	Available int `json:"available"`
	Busy      int `json:"busy"`
}

// AgentChat is a chat an agent is offered or handles.
type AgentChat struct {
	ReservationSID string `json:"reservation_sid"`
	TaskSID        string `json:"task_sid"`
	ChannelSID     string `json:"channel_sid"`
	Visitor        string `json:"visitor"`
	Status         string `json:"reservation_status"` // pending, accepted, wrapping
	Since          int64  `json:"since_ms"`
	Queue          string `json:"queue"`
	// Attributes are the task's attributes (JSON text), from which the
	// visitor and channel are read; they are not shown.
	Attributes string `json:"-"`
}

// AgentActivity is an agent (a worker of the workspace) as a supervisor
// sees it.
type AgentActivity struct {
	WorkerSID string `json:"worker_sid"`
	Name      string `json:"name"`
	// Identity is the agent's chat identity (the worker's contact_uri
	// without "client:").
	Identity     string      `json:"identity"`
	ActivityName string      `json:"activity_name"`
	Available    bool        `json:"available"`
	Since        int64       `json:"activity_since_ms"`
	Chats        []AgentChat `json:"chats"`
	// Attributes are the worker's attributes (JSON text); not shown.
	Attributes string `json:"-"`
}

// Overview is the supervisor view's live part.
type Overview struct {
	WorkspaceSID string          `json:"workspace_sid"`
	Queues       []QueueStats    `json:"queues"`
	Agents       []AgentActivity `json:"agents"`
	Now          int64           `json:"now_ms"`
}

// TrendPoint is one sample of the workspace's queues: their waiting tasks
// and the longest wait among them (seconds).
type TrendPoint struct {
	At          int64 `json:"t"`
	Waiting     int   `json:"waiting"`
	LongestWait int64 `json:"longest_wait"`
}

// Trend is the samples of a period, oldest first.
type Trend struct {
	IntervalSeconds int          `json:"interval_s"`
	Points          []TrendPoint `json:"points"`
}

// Supervision is TaskRouter as the supervisor view needs it, always for
// the supervisor's own workspace.
type Supervision interface {
	Overview(ctx context.Context, a Agent) (Overview, error)
	// Trend returns the samples taken since.
	Trend(ctx context.Context, a Agent, since time.Time) (Trend, error)
}

// SetSupervision plugs in the supervisor view's data (before Routes).
func (s *Service) SetSupervision(sv Supervision) { s.supervision = sv }

// TrendWindow is how far back the trend reaches.
const TrendWindow = time.Hour

func (h *handlers) supervisorRoutes(rt *rest.Router) {
	rt.Public("GET /agent/supervisor/overview", h.session(h.supervisor(h.overview)))
	rt.Public("GET /agent/supervisor/trend", h.session(h.supervisor(h.trend)))
}

// supervisor refuses agents without the supervisor role.
func (h *handlers) supervisor(next agentHandler) agentHandler {
	return func(w http.ResponseWriter, r *http.Request, a Agent) error {
		if a.Role != RoleSupervisor {
			return rest.Forbidden("The supervisor view is for supervisors; %s has the role %s (an admin can make it supervisor)",
				a.Identity(), a.Role)
		}
		if h.s.supervision == nil {
			return rest.NewError(http.StatusServiceUnavailable, 20503, "The supervisor view's services are not available on this node")
		}
		return next(w, r, a)
	}
}

func (h *handlers) overview(w http.ResponseWriter, r *http.Request, a Agent) error {
	ov, err := h.s.supervision.Overview(r.Context(), a)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, describe(ov))
}

// describe fills what the view reads from the raw figures: each queue's
// longest wait and each chat's visitor and channel (from the task's
// attributes, as Flex's webchat sets them), with empty lists as [].
func describe(ov Overview) Overview {
	for i, q := range ov.Queues {
		if q.Waiting > 0 && q.OldestWaiting > 0 {
			ov.Queues[i].LongestWait = max(0, ov.Now-q.OldestWaiting) / 1000
		}
	}
	for i, ag := range ov.Agents {
		var wattrs struct {
			ContactURI string `json:"contact_uri"`
		}
		_ = json.Unmarshal([]byte(ag.Attributes), &wattrs)
		ov.Agents[i].Identity = strings.TrimPrefix(wattrs.ContactURI, "client:")
		for j, c := range ag.Chats {
			var attrs struct {
				Name       string `json:"name"`
				Identity   string `json:"identity"`
				ChannelSID string `json:"channelSid"`
			}
			_ = json.Unmarshal([]byte(c.Attributes), &attrs)
			c.Visitor = attrs.Name
			if c.Visitor == "" {
				c.Visitor = attrs.Identity
			}
			if rest.IsSID("CH", attrs.ChannelSID) {
				c.ChannelSID = attrs.ChannelSID
			}
			ag.Chats[j] = c
		}
		if ag.Chats == nil {
			ov.Agents[i].Chats = []AgentChat{}
		}
	}
	if ov.Queues == nil {
		ov.Queues = []QueueStats{}
	}
	if ov.Agents == nil {
		ov.Agents = []AgentActivity{}
	}
	return ov
}

func (h *handlers) trend(w http.ResponseWriter, r *http.Request, a Agent) error {
	now := time.Now()
	tr, err := h.s.supervision.Trend(r.Context(), a, now.Add(-TrendWindow))
	if err != nil {
		return err
	}
	if tr.Points == nil {
		tr.Points = []TrendPoint{}
	}
	return rest.WriteJSON(w, http.StatusOK, map[string]any{"interval_s": tr.IntervalSeconds, "points": tr.Points,
		"since_ms": now.Add(-TrendWindow).UnixMilli(), "now_ms": now.UnixMilli()})
}
