package agent

import (
	"context"
	"fmt"
)

// Activity is one of the workspace's activities.
type Activity struct {
	SID          string `json:"sid"`
	FriendlyName string `json:"friendly_name"`
	Available    bool   `json:"available"`
}

// WorkerState is the agent's worker as the desktop shows it.
type WorkerState struct {
	FriendlyName string `json:"friendly_name"`
	ActivitySID  string `json:"activity_sid"`
	ActivityName string `json:"activity_name"`
	Available    bool   `json:"available"`
}

// Reservation is a reservation of the agent's worker with what the
// desktop shows about its task.
type Reservation struct {
	SID         string `json:"sid"`
	TaskSID     string `json:"task_sid"`
	Status      string `json:"reservation_status"`
	TimeoutAt   int64  `json:"timeout_at_ms"`
	TaskStatus  string `json:"task_status"`
	QueueName   string `json:"task_queue_friendly_name"`
	Attributes  string `json:"task_attributes"`
	TaskCreated int64  `json:"task_created_ms"`
	// Transfer is set on a reservation whose chat the agent transferred.
	Transfer *Transfer `json:"transfer,omitempty"`
}

// Transfer targets' types.
const (
	TargetQueue  = "queue"
	TargetWorker = "worker"
)

// TransferTarget is a queue of the agent's workspace or another agent.
type TransferTarget struct {
	Type         string `json:"type"` // TargetQueue or TargetWorker
	SID          string `json:"sid"`
	FriendlyName string `json:"friendly_name"`
	ActivityName string `json:"activity_name,omitempty"`
	Available    bool   `json:"available"`
}

// TransferredFrom is what the new task's attributes record
// (transferredFrom) about the chat's previous owner.
type TransferredFrom struct {
	WorkerSID      string `json:"workerSid"`
	AgentName      string `json:"agentName"`
	TaskSID        string `json:"taskSid"`
	ReservationSID string `json:"reservationSid"`
	QueueName      string `json:"queueName,omitempty"`
}

// Desk is TaskRouter and chat as the desktop needs them, always for the
// agent's own worker.
type Desk interface {
	Activities(ctx context.Context, a Agent) ([]Activity, error)
	Worker(ctx context.Context, a Agent) (WorkerState, error)
	SetActivity(ctx context.Context, a Agent, activitySID string) (WorkerState, error)
	// Reservations lists the worker's pending, accepted and wrapping reservations.
	Reservations(ctx context.Context, a Agent) ([]Reservation, error)
	// UpdateReservation moves the worker's reservation to status
	// (accepted, rejected, wrapping, completed).
	UpdateReservation(ctx context.Context, a Agent, reservationSID, status string) (Reservation, error)
	// JoinChat makes the agent a member of the chat channel of r's task
	// (named by its attributes) and returns the channel's SID.
	JoinChat(ctx context.Context, a Agent, r Reservation) (string, error)

	// Reservation is one of the worker's own reservations.
	Reservation(ctx context.Context, a Agent, reservationSID string) (Reservation, error)
	// TransferTargets lists the workspace's queues and its other workers.
	TransferTargets(ctx context.Context, a Agent) ([]TransferTarget, error)
	// CreateTransferTask creates the task that carries a transferred chat:
	// the old task's attributes plus transferTargetType,
	// transferTargetSid and transferredFrom, routed by the workspace's
	// transfer workflow. It returns the new task's SID.
	CreateTransferTask(ctx context.Context, a Agent, old Reservation, to TransferTarget, from TransferredFrom) (string, error)
	// HandOver makes taskSID the owner of the chat's engagement (Flex),
	// so that only its end closes the chat. A chat that already ended is
	// a *rest.Error (409).
	HandOver(ctx context.Context, a Agent, channelSID, taskSID string) error
	// CancelTask cancels a task the desk created.
	CancelTask(ctx context.Context, a Agent, taskSID, reason string) error
	// LeaveChat removes the agent from the chat channel of r's task.
	LeaveChat(ctx context.Context, a Agent, r Reservation) error
}

// Accept accepts the reservation and joins its chat: what an agent's
// Accept button means. Joining again (a reload) is harmless.
func (s *Service) Accept(ctx context.Context, a Agent, reservationSID string) (Reservation, string, error) {
	r, err := s.desk.UpdateReservation(ctx, a, reservationSID, "accepted")
	if err != nil {
		return r, "", err
	}
	ch, err := s.desk.JoinChat(ctx, a, r)
	if err != nil {
		return r, "", fmt.Errorf("agent: join the chat of task %s: %w", r.TaskSID, err)
	}
	return r, ch, nil
}
