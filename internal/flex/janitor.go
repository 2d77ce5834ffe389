package flex

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/store"
)

// The janitor closes finished engagements: when their task ends, when
// ChatStatus=inactive is set, when the visitor ends the chat, and when a
// channel is abandoned. Closing is an UPDATE guarded by status='active',
// so with several nodes receiving the same event exactly one of them
// does the cleanup (attributes status INACTIVE, integration webhook
// removed), and doing it twice is impossible.

// close ends c's engagement; closed is false when it already was.
func (s *Service) close(ctx context.Context, c Channel, reason string) (closed bool, err error) {
	ok, err := s.st.deactivate(ctx, c.SID, store.Now())
	if err != nil || !ok {
		return false, err
	}
	s.logger.InfoContext(ctx, "chat closed", slog.String("channel_sid", c.SID), slog.String("reason", reason))
	if s.deps.Chat == nil {
		return true, nil
	}
	var errs []error
	if c.WebhookSID != "" {
		errs = append(errs, s.deps.Chat.DetachWebhook(ctx, c.AccountSID, c.ChatServiceSID, c.SID, c.WebhookSID))
		errs = append(errs, s.st.setWebhook(ctx, c.SID, ""))
	}
	// Setting status INACTIVE publishes channel.updated: the widget shows
	// that the chat ended and offers a new one.
	errs = append(errs, s.mergeAttributes(ctx, c, map[string]any{"status": attrInactive}))
	return true, errors.Join(errs...)
}

// Task end statuses TaskEnded receives.
const (
	TaskCompleted = "completed"
	TaskCanceled  = "canceled"
	TaskTimeout   = "timeout"
	TaskDeleted   = "deleted"
)

// taskChannel is the chat channel a task's attributes name ("" if none).
func taskChannel(attributes string) string {
	var a struct {
		ChannelSID string `json:"channelSid"`
	}
	if json.Unmarshal([]byte(attributes), &a) != nil {
		return ""
	}
	return a.ChannelSID
}

// ownedByOtherTask reports whether c's engagement belongs to a known task
// other than taskSID (an older engagement's, or the chat was transferred):
// that task's end must not end the conversation.
func (c Channel) ownedByOtherTask(taskSID string) bool {
	return c.TaskSID != "" && c.TaskSID != taskPending && c.TaskSID != taskSID
}

// TaskEnded is TaskRouter's callback when a task is completed, canceled,
// times out or is deleted. Completing the chat's task (what the agent
// desktop does) always closes the chat; the other ends close it only on
// flows with JanitorEnabled. Tasks of other conversations, and an old
// engagement's task on a re-engaged long-lived channel, change nothing.
func (s *Service) TaskEnded(ctx context.Context, accountSID, workspaceSID, taskSID, status, attributes string) {
	ch := taskChannel(attributes)
	if ch == "" {
		return
	}
	c, err := s.st.channel(ctx, accountSID, ch)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.logger.WarnContext(ctx, "janitor: read channel", slog.String("channel_sid", ch), slog.Any("error", err))
		}
		return
	}
	if c.Status != StatusActive || c.ownedByOtherTask(taskSID) {
		return
	}
	if status != TaskCompleted {
		flow, err := s.st.flow(ctx, accountSID, c.FlexFlowSID)
		if err != nil || !flow.JanitorEnabled {
			return
		}
	}
	if _, err := s.close(ctx, c, "task_"+status); err != nil {
		s.logger.WarnContext(ctx, "janitor: close", slog.String("channel_sid", c.SID), slog.Any("error", err))
	}
}

// reservationEvent is the part of TaskRouter's reservation.created push
// (bus subject worker.<WorkerSid>) the janitor reads.
type reservationEvent struct {
	Type         string `json:"type"`
	AccountSID   string `json:"account_sid"`
	WorkspaceSID string `json:"workspace_sid"`
	Data         struct {
		Task struct {
			SID        string `json:"sid"`
			Attributes string `json:"attributes"`
		} `json:"task"`
	} `json:"data"`
}

// HandleReservation cancels a task that is being offered to an agent for
// a chat that is already closed: a visitor's message that reached Studio
// only after the chat's task ended can start a second flow run and so a
// task nobody can serve (the visitor has gone, the integration is
// detached). Cancelling it frees the agent at once.
func (s *Service) HandleReservation(ctx context.Context, data []byte) {
	var ev reservationEvent
	if json.Unmarshal(data, &ev) != nil || ev.Type != "reservation.created" || s.deps.Tasks == nil {
		return
	}
	ch := taskChannel(ev.Data.Task.Attributes)
	if ch == "" {
		return
	}
	c, err := s.st.channel(ctx, ev.AccountSID, ch)
	if err != nil || c.Status != StatusInactive {
		return
	}
	err = s.deps.Tasks.CancelTask(ctx, ev.AccountSID, ev.WorkspaceSID, ev.Data.Task.SID, "chat already closed")
	s.logger.InfoContext(ctx, "task for a closed chat canceled", slog.String("channel_sid", c.SID),
		slog.String("task_sid", ev.Data.Task.SID), slog.Any("error", err))
}

// SweepIdle closes active channels without a known task whose last
// activity is older than the idle timeout, and returns how many it closed.
func (s *Service) SweepIdle(ctx context.Context, now time.Time) (int, error) {
	if s.opts.IdleTimeout < 0 {
		return 0, nil
	}
	cutoff := now.Add(-s.opts.IdleTimeout).UnixMilli()
	closed := 0
	for {
		batch, err := s.st.idleChannels(ctx, cutoff, 100)
		if err != nil || len(batch) == 0 {
			return closed, err
		}
		for _, c := range batch {
			ok, err := s.close(ctx, c, "idle")
			if err != nil {
				s.logger.WarnContext(ctx, "janitor: close idle", slog.String("channel_sid", c.SID), slog.Any("error", err))
			}
			if ok {
				closed++
			}
		}
		if len(batch) < 100 {
			return closed, nil
		}
	}
}

// Start subscribes to chat events and runs the idle sweep until Stop.
func (s *Service) Start() error {
	shards := newEventShards(s)
	sub, err := s.bus.Subscribe("chat.>", shards.dispatch)
	if err != nil {
		shards.close()
		return err
	}
	// Reservations are few next to messages: one goroutine (the bus's) is enough.
	resSub, err := s.bus.Subscribe("worker.>", func(m bus.Msg) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.HandleReservation(ctx, m.Data)
	})
	if err != nil {
		_ = sub.Unsubscribe()
		shards.close()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs, s.shards = append(s.subs, sub, resSub), shards
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.sweepLoop(s.stop, s.done)
	return nil
}

func (s *Service) sweepLoop(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.opts.SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), s.opts.SweepEvery)
			if _, err := s.SweepIdle(ctx, now); err != nil {
				s.logger.Warn("janitor: idle sweep", slog.Any("error", err))
			}
			cancel()
		}
	}
}

// Stop ends the subscription and the sweep.
func (s *Service) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	s.subs = nil
	if s.shards != nil {
		s.shards.close()
		s.shards = nil
	}
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
}
