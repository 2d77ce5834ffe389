package flex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// Channel statuses: the row's status, and the chat channel attribute
// `status` the widget reads.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"

	attrActive   = "ACTIVE"
	attrInactive = "INACTIVE"
)

// Channel is the Flex side of a web channel; SID is the chat channel's.
type Channel struct {
	Seq                int64
	SID                string
	AccountSID         string
	FlexFlowSID        string
	ChatServiceSID     string
	Identity           string
	Status             string
	LongLived          bool
	TaskSID            string
	WebhookSID         string
	ForwardedIndex     int64
	PreEngagementData  string
	PostEngagementData string
	LastActivity       int64
	Created            int64
	Updated            int64
}

// WebChannelInput is a WebChannel create request.
type WebChannelInput struct {
	FlexFlowSID          string
	Identity             string
	CustomerFriendlyName string
	ChatFriendlyName     string
	ChatUniqueName       string
	PreEngagementData    string
}

// Caller is who asks for a web channel: account credentials (Guest false)
// or a guest access token minted for the widget.
type Caller struct {
	AccountSID     string
	Guest          bool
	Identity       string
	ChatServiceSID string
	Origin         string
}

// CreateWebChannel starts (or resumes) a visitor's conversation on a flow:
// a chat channel with the Flex attributes, the visitor as its member, and
// the flow's integration attached. A visitor who already has an active
// channel on the flow gets that one back (a reloaded page must not start
// a second engagement); on a long-lived flow an inactive one is re-engaged.
func (s *Service) CreateWebChannel(ctx context.Context, who Caller, in WebChannelInput) (Channel, error) {
	flow, err := s.st.flow(ctx, who.AccountSID, in.FlexFlowSID)
	if errors.Is(err, store.ErrNotFound) {
		return Channel{}, rest.InvalidParam("FlexFlowSid", "Flex Flow %s was not found in this account", in.FlexFlowSID)
	}
	if err != nil {
		return Channel{}, err
	}
	if err := s.authorize(ctx, who, flow, in.Identity); err != nil {
		return Channel{}, err
	}
	if s.deps.Chat == nil {
		return Channel{}, errors.New("flex: chat is not wired")
	}
	prev, err := s.st.latestChannel(ctx, flow.SID, in.Identity, !flow.LongLived)
	switch {
	case err == nil && prev.Status == StatusActive:
		return prev, nil
	case err == nil && flow.LongLived:
		return s.reengage(ctx, prev, flow, nil)
	case !errors.Is(err, store.ErrNotFound):
		return Channel{}, err
	}
	return s.newWebChannel(ctx, flow, in)
}

func (s *Service) authorize(ctx context.Context, who Caller, flow Flow, identity string) error {
	if !flow.Enabled {
		return rest.Forbidden("Flex Flow %s is disabled", flow.SID)
	}
	if !who.Guest {
		return nil
	}
	switch {
	case identity != who.Identity:
		return rest.Forbidden("A guest token may only create a web channel for its own identity")
	case flow.ChannelType != "web":
		return rest.Forbidden("Flex Flow %s is not a web flow (ChannelType %s)", flow.SID, flow.ChannelType)
	case who.ChatServiceSID != "" && who.ChatServiceSID != flow.ChatServiceSID:
		return rest.Forbidden("The guest token's chat service is not the one of Flex Flow %s", flow.SID)
	case s.deps.Origins != nil && !s.deps.Origins.OriginAllowed(ctx, who.AccountSID, who.Origin):
		return rest.Forbidden("Origin %q is not allowed for this account", who.Origin)
	}
	return nil
}

func (s *Service) newWebChannel(ctx context.Context, flow Flow, in WebChannelInput) (Channel, error) {
	attrs := channelAttributes(flow, in)
	name := in.ChatFriendlyName
	chSID, err := s.deps.Chat.CreateChannel(ctx, ChannelSpec{AccountSID: flow.AccountSID, ServiceSID: flow.ChatServiceSID,
		FriendlyName: name, UniqueName: in.ChatUniqueName, Attributes: attrs, CreatedBy: in.Identity})
	if err != nil {
		return Channel{}, err
	}
	if err := s.deps.Chat.AddMember(ctx, flow.AccountSID, flow.ChatServiceSID, chSID, in.Identity); err != nil {
		s.dropChatChannel(ctx, flow.AccountSID, flow.ChatServiceSID, chSID)
		return Channel{}, err
	}
	now := store.Now()
	c := Channel{SID: chSID, AccountSID: flow.AccountSID, FlexFlowSID: flow.SID, ChatServiceSID: flow.ChatServiceSID,
		Identity: in.Identity, Status: StatusActive, LongLived: flow.LongLived, ForwardedIndex: -1,
		PreEngagementData: in.PreEngagementData, LastActivity: now, Created: now, Updated: now}
	if err := s.st.insertChannel(ctx, c); err != nil {
		s.dropChatChannel(ctx, flow.AccountSID, flow.ChatServiceSID, chSID)
		if errors.Is(err, store.ErrConflict) {
			// Another request for this visitor won the race: return its channel.
			return s.st.latestChannel(ctx, flow.SID, in.Identity, true)
		}
		return Channel{}, err
	}
	return s.attach(ctx, c, flow)
}

// dropChatChannel undoes a chat channel this request created and cannot use.
func (s *Service) dropChatChannel(ctx context.Context, accountSID, serviceSID, channelSID string) {
	if err := s.deps.Chat.DeleteChannel(ctx, accountSID, serviceSID, channelSID); err != nil {
		s.logger.WarnContext(ctx, "orphan chat channel left behind", slog.String("channel_sid", channelSID), slog.Any("error", err))
	}
}

// channelAttributes are the chat channel's attributes, as Flex writes them.
func channelAttributes(flow Flow, in WebChannelInput) string {
	from := in.CustomerFriendlyName
	if from == "" {
		from = "Anonymous"
	}
	b, _ := json.Marshal(map[string]any{
		"from": from, "channel_type": flow.ChannelType, "status": attrActive, "long_lived": flow.LongLived,
		"pre_engagement_data": preEngagement(in.PreEngagementData), "flex_flow_sid": flow.SID,
	})
	return string(b)
}

// preEngagement is the pre-engagement data as a JSON value: parsed when
// it is JSON, the plain text otherwise, an empty object when absent.
func preEngagement(data string) any {
	if data == "" {
		return map[string]any{}
	}
	var v any
	if err := json.Unmarshal([]byte(data), &v); err == nil {
		return v
	}
	return data
}

// WebChannel reads one web channel of the account.
func (s *Service) WebChannel(ctx context.Context, accountSID, sid string) (Channel, error) {
	c, err := s.st.channel(ctx, accountSID, sid)
	if err != nil {
		return Channel{}, fmt.Errorf("flex: web channel %s: %w", sid, notFound(err))
	}
	return c, nil
}

// WebChannels reads one page of the account's web channels.
func (s *Service) WebChannels(ctx context.Context, accountSID string, p rest.Page) ([]Channel, error) {
	return s.st.channels(ctx, accountSID, p.After, p.Before, p.Fetch())
}

// UpdateWebChannel sets post-engagement data and/or ends the chat
// (inactive is the only status a web channel can be set to).
func (s *Service) UpdateWebChannel(ctx context.Context, accountSID, sid string, inactive bool, postEngagement *string) (Channel, error) {
	c, err := s.WebChannel(ctx, accountSID, sid)
	if err != nil {
		return Channel{}, err
	}
	if postEngagement != nil {
		if err := s.st.setPostEngagement(ctx, accountSID, sid, *postEngagement, store.Now()); err != nil {
			return Channel{}, notFound(err)
		}
		if err := s.mergeAttributes(ctx, c, map[string]any{"post_engagement_data": preEngagement(*postEngagement)}); err != nil {
			return Channel{}, err
		}
	}
	if inactive {
		if _, err := s.close(ctx, c, "chat_status"); err != nil {
			return Channel{}, err
		}
	}
	return s.WebChannel(ctx, accountSID, sid)
}

// DeleteWebChannel ends the engagement and deletes the chat channel.
func (s *Service) DeleteWebChannel(ctx context.Context, accountSID, sid string) error {
	c, err := s.WebChannel(ctx, accountSID, sid)
	if err != nil {
		return err
	}
	if err := notFound(s.st.deleteChannel(ctx, accountSID, sid)); err != nil {
		return err
	}
	if s.deps.Chat == nil {
		return nil
	}
	return s.deps.Chat.DeleteChannel(ctx, c.AccountSID, c.ChatServiceSID, c.SID)
}

// mergeAttributes sets keys in the chat channel's attributes, keeping the rest.
func (s *Service) mergeAttributes(ctx context.Context, c Channel, set map[string]any) error {
	raw, err := s.deps.Chat.ChannelAttributes(ctx, c.AccountSID, c.ChatServiceSID, c.SID)
	if err != nil {
		return err
	}
	attrs := map[string]any{}
	_ = json.Unmarshal([]byte(raw), &attrs) // attributes someone made not an object are replaced
	if attrs == nil {
		attrs = map[string]any{}
	}
	changed := false
	for k, v := range set {
		old, _ := json.Marshal(attrs[k])
		now, _ := json.Marshal(v)
		if string(old) != string(now) {
			attrs[k], changed = v, true
		}
	}
	if !changed {
		return nil
	}
	b, _ := json.Marshal(attrs)
	return s.deps.Chat.SetChannelAttributes(ctx, c.AccountSID, c.ChatServiceSID, c.SID, string(b))
}
