package taskrouter

import (
	"encoding/json"
	"time"

	"github.com/parleychat/parley/internal/rest"
)

// The REST shapes, field for field as twilio_taskrouter_v1.json names them.

func ts(ms int64) rest.Time { return rest.Time(rest.Millis(ms)) }

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type urls struct{ base string }

func (u urls) ws(sid string) string { return u.base + "/taskrouter/v1/Workspaces/" + sid }

type workspaceJSON struct {
	AccountSID           string            `json:"account_sid"`
	DateCreated          rest.Time         `json:"date_created"`
	DateUpdated          rest.Time         `json:"date_updated"`
	DefaultActivityName  *string           `json:"default_activity_name"`
	DefaultActivitySID   *string           `json:"default_activity_sid"`
	EventCallbackURL     *string           `json:"event_callback_url"`
	EventsFilter         *string           `json:"events_filter"`
	FriendlyName         string            `json:"friendly_name"`
	MultiTaskEnabled     bool              `json:"multi_task_enabled"`
	SID                  string            `json:"sid"`
	TimeoutActivityName  *string           `json:"timeout_activity_name"`
	TimeoutActivitySID   *string           `json:"timeout_activity_sid"`
	PrioritizeQueueOrder string            `json:"prioritize_queue_order"`
	URL                  string            `json:"url"`
	Links                map[string]string `json:"links"`
	seq                  int64
}

func (u urls) workspace(w Workspace) workspaceJSON {
	base := u.ws(w.SID)
	links := map[string]string{"statistics": base + "/Statistics", "real_time_statistics": base + "/RealTimeStatistics",
		"cumulative_statistics": base + "/CumulativeStatistics"}
	for _, k := range []string{"Activities", "TaskQueues", "Tasks", "Workers", "Workflows", "TaskChannels", "Events"} {
		links[snake(k)] = base + "/" + k
	}
	return workspaceJSON{AccountSID: w.AccountSID, DateCreated: ts(w.Created), DateUpdated: ts(w.Updated),
		DefaultActivityName: nullable(w.DefaultActivityName), DefaultActivitySID: nullable(w.DefaultActivitySID),
		EventCallbackURL: nullable(w.EventCallbackURL), EventsFilter: nullable(w.EventsFilter), FriendlyName: w.FriendlyName,
		MultiTaskEnabled: w.MultiTaskEnabled, SID: w.SID, TimeoutActivityName: nullable(w.TimeoutActivityName),
		TimeoutActivitySID: nullable(w.TimeoutActivitySID), PrioritizeQueueOrder: w.PrioritizeQueueOrder,
		URL: base, Links: links, seq: w.Seq}
}

// snake turns "TaskQueues" into "task_queues".
func snake(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b = append(b, '_')
			}
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

type activityJSON struct {
	AccountSID   string            `json:"account_sid"`
	Available    bool              `json:"available"`
	DateCreated  rest.Time         `json:"date_created"`
	DateUpdated  rest.Time         `json:"date_updated"`
	FriendlyName string            `json:"friendly_name"`
	SID          string            `json:"sid"`
	WorkspaceSID string            `json:"workspace_sid"`
	URL          string            `json:"url"`
	Links        map[string]string `json:"links"`
	seq          int64
}

func (u urls) activity(a Activity) activityJSON {
	return activityJSON{AccountSID: a.AccountSID, Available: a.Available, DateCreated: ts(a.Created), DateUpdated: ts(a.Updated),
		FriendlyName: a.FriendlyName, SID: a.SID, WorkspaceSID: a.WorkspaceSID, URL: u.ws(a.WorkspaceSID) + "/Activities/" + a.SID,
		Links: map[string]string{"workspace": u.ws(a.WorkspaceSID)}, seq: a.Seq}
}

type taskChannelJSON struct {
	AccountSID              string            `json:"account_sid"`
	DateCreated             rest.Time         `json:"date_created"`
	DateUpdated             rest.Time         `json:"date_updated"`
	FriendlyName            string            `json:"friendly_name"`
	SID                     string            `json:"sid"`
	UniqueName              string            `json:"unique_name"`
	WorkspaceSID            string            `json:"workspace_sid"`
	ChannelOptimizedRouting bool              `json:"channel_optimized_routing"`
	URL                     string            `json:"url"`
	Links                   map[string]string `json:"links"`
	seq                     int64
}

func (u urls) taskChannel(c TaskChannel) taskChannelJSON {
	return taskChannelJSON{AccountSID: c.AccountSID, DateCreated: ts(c.Created), DateUpdated: ts(c.Updated),
		FriendlyName: c.FriendlyName, SID: c.SID, UniqueName: c.UniqueName, WorkspaceSID: c.WorkspaceSID,
		ChannelOptimizedRouting: c.ChannelOptimizedRouting, URL: u.ws(c.WorkspaceSID) + "/TaskChannels/" + c.SID,
		Links: map[string]string{"workspace": u.ws(c.WorkspaceSID)}, seq: c.Seq}
}

type workerJSON struct {
	AccountSID        string            `json:"account_sid"`
	ActivityName      string            `json:"activity_name"`
	ActivitySID       string            `json:"activity_sid"`
	Attributes        string            `json:"attributes"`
	Available         bool              `json:"available"`
	DateCreated       rest.Time         `json:"date_created"`
	DateStatusChanged rest.Time         `json:"date_status_changed"`
	DateUpdated       rest.Time         `json:"date_updated"`
	FriendlyName      string            `json:"friendly_name"`
	SID               string            `json:"sid"`
	WorkspaceSID      string            `json:"workspace_sid"`
	URL               string            `json:"url"`
	Links             map[string]string `json:"links"`
	seq               int64
}

func (u urls) worker(w Worker) workerJSON {
	base := u.ws(w.WorkspaceSID) + "/Workers/" + w.SID
	return workerJSON{AccountSID: w.AccountSID, ActivityName: w.ActivityName, ActivitySID: w.ActivitySID,
		Attributes: w.Attributes, Available: w.Available, DateCreated: ts(w.Created), DateStatusChanged: ts(w.StatusChanged),
		DateUpdated: ts(w.Updated), FriendlyName: w.FriendlyName, SID: w.SID, WorkspaceSID: w.WorkspaceSID, URL: base,
		Links: map[string]string{"channels": base + "/Channels", "worker_channels": base + "/Channels",
			"reservations": base + "/Reservations", "statistics": base + "/Statistics",
			"activity": u.ws(w.WorkspaceSID) + "/Activities/" + w.ActivitySID, "workspace": u.ws(w.WorkspaceSID)},
		seq: w.Seq}
}

type workerChannelJSON struct {
	AccountSID                  string    `json:"account_sid"`
	AssignedTasks               int       `json:"assigned_tasks"`
	Available                   bool      `json:"available"`
	AvailableCapacityPercentage int       `json:"available_capacity_percentage"`
	ConfiguredCapacity          int       `json:"configured_capacity"`
	DateCreated                 rest.Time `json:"date_created"`
	DateUpdated                 rest.Time `json:"date_updated"`
	SID                         string    `json:"sid"`
	TaskChannelSID              string    `json:"task_channel_sid"`
	TaskChannelUniqueName       string    `json:"task_channel_unique_name"`
	WorkerSID                   string    `json:"worker_sid"`
	WorkspaceSID                string    `json:"workspace_sid"`
	URL                         string    `json:"url"`
	seq                         int64
}

func (u urls) workerChannel(c WorkerChannel) workerChannelJSON {
	pct := 0
	if c.Capacity > 0 && c.Available {
		pct = max(0, (c.Capacity-c.Assigned)*100/c.Capacity)
	}
	return workerChannelJSON{AccountSID: c.AccountSID, AssignedTasks: c.Assigned, Available: c.Available,
		AvailableCapacityPercentage: pct, ConfiguredCapacity: c.Capacity, DateCreated: ts(c.Created), DateUpdated: ts(c.Updated),
		SID: c.SID, TaskChannelSID: c.TaskChannelSID, TaskChannelUniqueName: c.TaskChannelUniqueName, WorkerSID: c.WorkerSID,
		WorkspaceSID: c.WorkspaceSID, URL: u.ws(c.WorkspaceSID) + "/Workers/" + c.WorkerSID + "/Channels/" + c.SID, seq: c.Seq}
}

type taskQueueJSON struct {
	AccountSID              string            `json:"account_sid"`
	AssignmentActivitySID   *string           `json:"assignment_activity_sid"`
	AssignmentActivityName  *string           `json:"assignment_activity_name"`
	DateCreated             rest.Time         `json:"date_created"`
	DateUpdated             rest.Time         `json:"date_updated"`
	FriendlyName            string            `json:"friendly_name"`
	MaxReservedWorkers      int               `json:"max_reserved_workers"`
	ReservationActivitySID  *string           `json:"reservation_activity_sid"`
	ReservationActivityName *string           `json:"reservation_activity_name"`
	SID                     string            `json:"sid"`
	TargetWorkers           string            `json:"target_workers"`
	TaskOrder               string            `json:"task_order"`
	URL                     string            `json:"url"`
	WorkspaceSID            string            `json:"workspace_sid"`
	Links                   map[string]string `json:"links"`
	seq                     int64
}

func (u urls) taskQueue(q TaskQueue) taskQueueJSON {
	base := u.ws(q.WorkspaceSID) + "/TaskQueues/" + q.SID
	return taskQueueJSON{AccountSID: q.AccountSID, AssignmentActivitySID: nullable(q.AssignmentActivitySID),
		AssignmentActivityName: nullable(q.AssignmentActivityName), DateCreated: ts(q.Created), DateUpdated: ts(q.Updated),
		FriendlyName: q.FriendlyName, MaxReservedWorkers: q.MaxReservedWorkers,
		ReservationActivitySID: nullable(q.ReservationActivitySID), ReservationActivityName: nullable(q.ReservationActivityName),
		SID: q.SID, TargetWorkers: q.TargetWorkers, TaskOrder: q.TaskOrder, URL: base, WorkspaceSID: q.WorkspaceSID,
		Links: map[string]string{"statistics": base + "/Statistics", "real_time_statistics": base + "/RealTimeStatistics",
			"cumulative_statistics": base + "/CumulativeStatistics", "workspace": u.ws(q.WorkspaceSID)},
		seq: q.Seq}
}

type workflowJSON struct {
	AccountSID                    string            `json:"account_sid"`
	AssignmentCallbackURL         *string           `json:"assignment_callback_url"`
	Configuration                 string            `json:"configuration"`
	DateCreated                   rest.Time         `json:"date_created"`
	DateUpdated                   rest.Time         `json:"date_updated"`
	DocumentContentType           string            `json:"document_content_type"`
	FallbackAssignmentCallbackURL *string           `json:"fallback_assignment_callback_url"`
	FriendlyName                  string            `json:"friendly_name"`
	SID                           string            `json:"sid"`
	TaskReservationTimeout        int               `json:"task_reservation_timeout"`
	WorkspaceSID                  string            `json:"workspace_sid"`
	URL                           string            `json:"url"`
	Links                         map[string]string `json:"links"`
	seq                           int64
}

func (u urls) workflow(w Workflow) workflowJSON {
	base := u.ws(w.WorkspaceSID) + "/Workflows/" + w.SID
	return workflowJSON{AccountSID: w.AccountSID, AssignmentCallbackURL: nullable(w.AssignmentCallbackURL),
		Configuration: w.Configuration, DateCreated: ts(w.Created), DateUpdated: ts(w.Updated),
		DocumentContentType: "application/json", FallbackAssignmentCallbackURL: nullable(w.FallbackCallbackURL),
		FriendlyName: w.FriendlyName, SID: w.SID, TaskReservationTimeout: w.ReservationTimeout, WorkspaceSID: w.WorkspaceSID,
		URL: base, Links: map[string]string{"statistics": base + "/Statistics", "real_time_statistics": base + "/RealTimeStatistics",
			"cumulative_statistics": base + "/CumulativeStatistics", "workspace": u.ws(w.WorkspaceSID)},
		seq: w.Seq}
}

type taskJSON struct {
	AccountSID            string            `json:"account_sid"`
	Age                   int64             `json:"age"`
	AssignmentStatus      string            `json:"assignment_status"`
	Attributes            string            `json:"attributes"`
	Addons                string            `json:"addons"`
	DateCreated           rest.Time         `json:"date_created"`
	DateUpdated           rest.Time         `json:"date_updated"`
	TaskQueueEnteredDate  rest.Time         `json:"task_queue_entered_date"`
	Priority              int               `json:"priority"`
	Reason                *string           `json:"reason"`
	SID                   string            `json:"sid"`
	TaskQueueSID          *string           `json:"task_queue_sid"`
	TaskQueueFriendlyName *string           `json:"task_queue_friendly_name"`
	TaskChannelSID        string            `json:"task_channel_sid"`
	TaskChannelUniqueName string            `json:"task_channel_unique_name"`
	Timeout               int               `json:"timeout"`
	WorkflowSID           *string           `json:"workflow_sid"`
	WorkflowFriendlyName  *string           `json:"workflow_friendly_name"`
	WorkspaceSID          string            `json:"workspace_sid"`
	URL                   string            `json:"url"`
	Links                 map[string]string `json:"links"`
	VirtualStartTime      rest.Time         `json:"virtual_start_time"`
	IgnoreCapacity        bool              `json:"ignore_capacity"`
	RoutingTarget         *string           `json:"routing_target"`
	seq                   int64
}

func (u urls) task(t Task) taskJSON {
	base := u.ws(t.WorkspaceSID) + "/Tasks/" + t.SID
	links := map[string]string{"reservations": base + "/Reservations", "workspace": u.ws(t.WorkspaceSID)}
	if t.QueueSID != "" {
		links["task_queue"] = u.ws(t.WorkspaceSID) + "/TaskQueues/" + t.QueueSID
	}
	if t.WorkflowSID != "" {
		links["workflow"] = u.ws(t.WorkspaceSID) + "/Workflows/" + t.WorkflowSID
	}
	return taskJSON{AccountSID: t.AccountSID, Age: max(0, time.Now().UnixMilli()-t.Created) / 1000,
		AssignmentStatus: t.Status, Attributes: t.Attributes, Addons: "{}", DateCreated: ts(t.Created), DateUpdated: ts(t.Updated),
		TaskQueueEnteredDate: ts(t.QueueEntered), Priority: t.Priority, Reason: nullable(t.Reason), SID: t.SID,
		TaskQueueSID: nullable(t.QueueSID), TaskQueueFriendlyName: nullable(t.QueueName), TaskChannelSID: t.ChannelSID,
		TaskChannelUniqueName: t.ChannelUniqueName, Timeout: t.Timeout, WorkflowSID: nullable(t.WorkflowSID),
		WorkflowFriendlyName: nullable(t.WorkflowName), WorkspaceSID: t.WorkspaceSID, URL: base, Links: links,
		VirtualStartTime: ts(t.VirtualStart), IgnoreCapacity: t.IgnoreCapacity, RoutingTarget: nullable(t.RoutingTarget), seq: t.Seq}
}

type reservationJSON struct {
	AccountSID        string            `json:"account_sid"`
	DateCreated       rest.Time         `json:"date_created"`
	DateUpdated       rest.Time         `json:"date_updated"`
	ReservationStatus string            `json:"reservation_status"`
	SID               string            `json:"sid"`
	TaskSID           string            `json:"task_sid"`
	WorkerName        string            `json:"worker_name"`
	WorkerSID         string            `json:"worker_sid"`
	WorkspaceSID      string            `json:"workspace_sid"`
	URL               string            `json:"url"`
	Links             map[string]string `json:"links"`
	Task              *taskJSON         `json:"task,omitempty"`
	seq               int64
}

// reservation renders a reservation at its task-side URL, or at its
// worker-side URL when byWorker.
func (u urls) reservation(r Reservation, byWorker bool) reservationJSON {
	ws := u.ws(r.WorkspaceSID)
	url := ws + "/Tasks/" + r.TaskSID + "/Reservations/" + r.SID
	if byWorker {
		url = ws + "/Workers/" + r.WorkerSID + "/Reservations/" + r.SID
	}
	return reservationJSON{AccountSID: r.AccountSID, DateCreated: ts(r.Created), DateUpdated: ts(r.Updated),
		ReservationStatus: r.Status, SID: r.SID, TaskSID: r.TaskSID, WorkerName: r.WorkerName, WorkerSID: r.WorkerSID,
		WorkspaceSID: r.WorkspaceSID, URL: url, Links: map[string]string{"task": ws + "/Tasks/" + r.TaskSID,
			"worker": ws + "/Workers/" + r.WorkerSID, "workspace": ws}, seq: r.Seq}
}

type eventJSON struct {
	AccountSID      string          `json:"account_sid"`
	ActorSID        *string         `json:"actor_sid"`
	ActorType       *string         `json:"actor_type"`
	ActorURL        *string         `json:"actor_url"`
	Description     string          `json:"description"`
	EventData       json.RawMessage `json:"event_data"`
	EventDate       rest.Time       `json:"event_date"`
	EventDateMs     int64           `json:"event_date_ms"`
	EventType       string          `json:"event_type"`
	ResourceSID     string          `json:"resource_sid"`
	ResourceType    string          `json:"resource_type"`
	ResourceURL     string          `json:"resource_url"`
	SID             string          `json:"sid"`
	Source          string          `json:"source"`
	SourceIPAddress string          `json:"source_ip_address"`
	URL             string          `json:"url"`
	WorkspaceSID    string          `json:"workspace_sid"`
	seq             int64
}

var resourcePaths = map[string]string{"task": "Tasks", "worker": "Workers", "reservation": "Reservations",
	"task_queue": "TaskQueues", "workflow": "Workflows", "workspace": ""}

func (u urls) event(e Event) eventJSON {
	ws := u.ws(e.WorkspaceSID)
	res := ws
	switch e.ResourceType {
	case "reservation":
		res = ws + "/Tasks/" + e.TaskSID + "/Reservations/" + e.ResourceSID
	case "workspace":
	default:
		if p := resourcePaths[e.ResourceType]; p != "" {
			res = ws + "/" + p + "/" + e.ResourceSID
		}
	}
	data := json.RawMessage(e.Data)
	if !json.Valid(data) {
		data = json.RawMessage("{}")
	}
	return eventJSON{AccountSID: e.AccountSID, Description: e.Description, EventData: data, EventDate: ts(e.Date),
		EventDateMs: e.Date, EventType: e.Type, ResourceSID: e.ResourceSID, ResourceType: e.ResourceType, ResourceURL: res,
		SID: e.SID, Source: "twilio", SourceIPAddress: "", URL: ws + "/Events/" + e.SID, WorkspaceSID: e.WorkspaceSID, seq: e.Seq}
}
