package chat

import (
	"context"
	"errors"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// In-process entry points for Flex (through internal/app): each is one of
// chat's own operations run as the system caller of the account, with
// stdlib types only. Like SDK actions they fire the channel's webhooks
// and publish their events.

// ServiceExists reports whether the account has the chat service.
func (s *Service) ServiceExists(ctx context.Context, accountSID, serviceSID string) (bool, error) {
	_, err := getInstance(ctx, s.db, accountSID, serviceSID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// CreatePrivateChannel creates a private channel and returns its SID.
func (s *Service) CreatePrivateChannel(ctx context.Context, accountSID, serviceSID, friendlyName, uniqueName, attributes, createdBy string) (string, error) {
	ch, err := s.createChannel(ctx, system(accountSID), serviceSID, Channel{FriendlyName: friendlyName, UniqueName: uniqueName,
		Attributes: attributes, Type: "private", CreatedBy: createdBy})
	return ch.SID, err
}

// AddChannelMember adds identity to the channel (creating its user).
func (s *Service) AddChannelMember(ctx context.Context, accountSID, serviceSID, channelSID, identity string) error {
	_, err := s.createMember(ctx, system(accountSID), serviceSID, channelSID, Member{Identity: identity, Attributes: "{}"})
	return err
}

// ChannelAttributes returns the channel's attributes (JSON text).
func (s *Service) ChannelAttributes(ctx context.Context, accountSID, serviceSID, channelSID string) (string, error) {
	_, ch, err := s.channel(ctx, system(accountSID), serviceSID, channelSID)
	return ch.Attributes, err
}

// SetChannelAttributes replaces the channel's attributes; members see
// channel.updated.
func (s *Service) SetChannelAttributes(ctx context.Context, accountSID, serviceSID, channelSID, attributes string) error {
	_, err := s.updateChannel(ctx, system(accountSID), serviceSID, channelSID, channelPatch{Attributes: &attributes})
	return err
}

// AttachStudioWebhook adds a studio channel webhook (onMessageSent) for
// flowSID and returns its SID.
func (s *Service) AttachStudioWebhook(ctx context.Context, accountSID, serviceSID, channelSID, flowSID string, retryCount int) (string, error) {
	w, err := s.createWebhook(ctx, system(accountSID), serviceSID, channelSID, Webhook{Type: "studio", Method: "POST",
		Filters: []string{"onMessageSent"}, FlowSID: flowSID, RetryCount: retryCount})
	return w.SID, err
}

// RemoveChannelWebhook deletes a channel webhook; a missing one is fine.
func (s *Service) RemoveChannelWebhook(ctx context.Context, accountSID, serviceSID, channelSID, webhookSID string) error {
	return ignoreNotFound(s.deleteWebhook(ctx, system(accountSID), serviceSID, channelSID, webhookSID))
}

// RemoveChannel deletes the channel; a missing one is fine.
func (s *Service) RemoveChannel(ctx context.Context, accountSID, serviceSID, channelSID string) error {
	return ignoreNotFound(s.deleteChannel(ctx, system(accountSID), serviceSID, channelSID))
}

func ignoreNotFound(err error) error {
	if e, ok := rest.AsError(err); ok && e.Status == 404 {
		return nil
	}
	return err
}
