package flex

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/parleychat/parley/internal/store"
)

// An agent's transfer moves a chat's engagement from its task to a new
// one. Flex records the new task as the channel's, so that the janitor
// (TaskEnded) ignores the old task's end and closes the chat only when
// the new task ends; Studio asks Superseded before ending the execution
// that handed the chat to Flex.

// ErrChatClosed: the channel's engagement is no longer active.
var ErrChatClosed = errors.New("flex: the chat is no longer active")

// HandOver makes taskSID the task of the channel's active engagement. It
// returns ErrNotFound for a channel that is not a Flex web channel of the
// account and ErrChatClosed when the chat already ended.
func (s *Service) HandOver(ctx context.Context, accountSID, channelSID, taskSID string) error {
	c, err := s.st.channel(ctx, accountSID, channelSID)
	if err != nil {
		return notFound(err)
	}
	ok, err := s.st.claim(ctx, "UPDATE flex_channels SET task_sid = ?, date_updated = ? WHERE sid = ? AND status = 'active'",
		taskSID, store.Now(), c.SID)
	if err != nil {
		return fmt.Errorf("flex: hand over: %w", err)
	}
	if !ok {
		return ErrChatClosed
	}
	s.logger.InfoContext(ctx, "chat handed over", slog.String("channel_sid", c.SID), slog.String("from_task_sid", c.TaskSID),
		slog.String("task_sid", taskSID))
	return nil
}

// Superseded reports whether the channel's engagement now belongs to a
// task other than taskSID (the chat was transferred): that task's end
// must not end the conversation.
func (s *Service) Superseded(ctx context.Context, accountSID, channelSID, taskSID string) bool {
	c, err := s.st.channel(ctx, accountSID, channelSID)
	return err == nil && c.ownedByOtherTask(taskSID)
}
