package flex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"

	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/webhook"
)

// Message is one chat message, as Flex sees it in chat's events.
type Message struct {
	SID         string `json:"sid"`
	AccountSID  string `json:"account_sid"`
	ServiceSID  string `json:"service_sid"`
	ChannelSID  string `json:"channel_sid"`
	From        string `json:"from"`
	Body        string `json:"body"`
	Attributes  string `json:"attributes"`
	Index       int64  `json:"index"`
	DateCreated string `json:"date_created"`
}

// attach wires a new (or re-engaged) engagement to the flow's
// integration: a studio webhook, or the task when it is created at once.
// external needs nothing here: messages are forwarded as they come.
func (s *Service) attach(ctx context.Context, c Channel, flow Flow) (Channel, error) {
	switch flow.IntegrationType {
	case IntegrationStudio:
		hook, err := s.deps.Chat.AttachStudio(ctx, c.AccountSID, c.ChatServiceSID, c.SID, flow.Integration.FlowSID, flow.Integration.retries())
		if err != nil {
			return c, fmt.Errorf("flex: attach studio flow: %w", err)
		}
		c.WebhookSID = hook
		return c, s.st.setWebhook(ctx, c.SID, hook)
	case IntegrationTask:
		if flow.Integration.onMessage() {
			return c, nil
		}
		task, err := s.createTask(ctx, c, flow)
		c.TaskSID = task
		return c, err
	}
	return c, nil
}

// createTask creates the engagement's task once (the claim in the store
// keeps a second node, or a second message, from creating another).
func (s *Service) createTask(ctx context.Context, c Channel, flow Flow) (string, error) {
	if s.deps.Tasks == nil {
		return "", errors.New("flex: taskrouter is not wired")
	}
	ok, err := s.st.claimTask(ctx, c.SID)
	if err != nil || !ok {
		return "", err
	}
	i := flow.Integration
	task, err := s.deps.Tasks.CreateTask(ctx, c.AccountSID, i.WorkspaceSID, i.WorkflowSID, i.taskChannel(),
		taskAttributes(c, flow), i.priority(), i.timeout())
	if err != nil {
		_ = s.st.setTask(ctx, c.SID, "") // release the claim so that the next message retries
		return "", fmt.Errorf("flex: create task: %w", err)
	}
	return task, s.st.setTask(ctx, c.SID, task)
}

// taskAttributes are what the agent desktop needs to show and join the chat.
func taskAttributes(c Channel, flow Flow) string {
	pre := preEngagement(c.PreEngagementData)
	name := c.Identity
	if m, ok := pre.(map[string]any); ok {
		if fn, ok := m["friendlyName"].(string); ok && fn != "" {
			name = fn
		}
	}
	visitor := map[string]any{"identity": c.Identity}
	if m, ok := pre.(map[string]any); ok {
		for _, k := range []string{"location", "url", "referrer", "context"} {
			if v, ok := m[k]; ok {
				visitor[k] = v
			}
		}
	}
	b, _ := json.Marshal(map[string]any{
		"name": name, "channelSid": c.SID, "channelType": flow.ChannelType, "flexFlowSid": flow.SID,
		"identity": c.Identity, "chatServiceSid": c.ChatServiceSID, "pre_engagement_data": pre, "context": visitor,
	})
	return string(b)
}

// reengage re-activates a long-lived channel for a new engagement and
// re-attaches the integration. first is the visitor's message that
// re-engaged it (nil when the widget re-created the channel), handed to
// the integration since the webhook was not there when it was sent.
func (s *Service) reengage(ctx context.Context, c Channel, flow Flow, first *Message) (Channel, error) {
	ok, err := s.st.reactivate(ctx, c.SID, store.Now())
	if err != nil {
		return c, err
	}
	if !ok {
		return s.st.channel(ctx, c.AccountSID, c.SID) // another node (or request) did it
	}
	c.Status, c.TaskSID, c.WebhookSID = StatusActive, "", ""
	if err := s.mergeAttributes(ctx, c, map[string]any{"status": attrActive}); err != nil {
		return c, err
	}
	c, err = s.attach(ctx, c, flow)
	if err != nil || first == nil {
		return c, err
	}
	switch flow.IntegrationType {
	case IntegrationStudio:
		if s.deps.Studio != nil {
			err = s.deps.Studio.DeliverMessage(ctx, flow.Integration.FlowSID, *first)
		}
	case IntegrationTask:
		_, err = s.createTask(ctx, c, flow)
	case IntegrationExternal:
		s.forward(ctx, c, flow, *first)
	}
	return c, err
}

// chatEvent is the envelope chat publishes on chat.<ChannelSid>.
type chatEvent struct {
	V    int             `json:"v"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// parseChatEvent reads an event; ok is false for anything Flex ignores.
func parseChatEvent(data []byte) (chatEvent, bool) {
	var ev chatEvent
	if err := json.Unmarshal(data, &ev); err != nil || ev.V != 1 || len(ev.Data) == 0 {
		return ev, false
	}
	return ev, ev.Type == "message.added" || ev.Type == "channel.updated" || ev.Type == "channel.removed"
}

// HandleChatEvent reacts to one chat event of channelSID: activity,
// first-message tasks, external forwarding, long-lived re-engagement and
// the visitor ending the chat. Events of channels that are not Flex web
// channels are ignored.
func (s *Service) HandleChatEvent(ctx context.Context, channelSID string, data []byte) error {
	ev, ok := parseChatEvent(data)
	if !ok {
		return nil
	}
	c, err := s.st.channel(ctx, "", channelSID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch ev.Type {
	case "message.added":
		var m Message
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			return nil
		}
		m.ChannelSID = c.SID
		return s.onMessage(ctx, c, m)
	case "channel.updated":
		var ch struct {
			Attributes string `json:"attributes"`
		}
		if json.Unmarshal(ev.Data, &ch) == nil && c.Status == StatusActive && attrStatus(ch.Attributes) == attrInactive {
			_, err := s.close(ctx, c, "visitor")
			return err
		}
	case "channel.removed":
		_, err := s.st.deactivate(ctx, c.SID, store.Now())
		return err
	}
	return nil
}

func attrStatus(attributes string) string {
	var a struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal([]byte(attributes), &a)
	return a.Status
}

// activityStep is how stale last_activity may get before a message
// rewrites it (keeps a busy chat from writing the row on every message).
const activityStep = 10_000

func (s *Service) onMessage(ctx context.Context, c Channel, m Message) error {
	if now := store.Now(); now-c.LastActivity > activityStep {
		if err := s.st.touch(ctx, c.SID, now, activityStep); err != nil {
			return err
		}
	}
	flow, err := s.st.flow(ctx, c.AccountSID, c.FlexFlowSID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the flow was deleted: its channels have no integration
	}
	if err != nil {
		return err
	}
	visitor := m.From == c.Identity
	if c.Status != StatusActive {
		if visitor && c.LongLived && flow.Enabled {
			_, err := s.reengage(ctx, c, flow, &m)
			return err
		}
		return nil
	}
	switch flow.IntegrationType {
	case IntegrationTask:
		if visitor && c.TaskSID == "" && flow.Integration.onMessage() {
			_, err := s.createTask(ctx, c, flow)
			return err
		}
	case IntegrationExternal:
		s.forward(ctx, c, flow, m)
	}
	return nil
}

// forward posts one message to the external integration's URL, once per
// message index across every node, signed and retried by the webhook client.
func (s *Service) forward(ctx context.Context, c Channel, flow Flow, m Message) {
	if s.deps.Webhooks == nil || flow.Integration.URL == "" {
		return
	}
	ok, err := s.st.claimForward(ctx, c.SID, m.Index)
	if err != nil || !ok {
		if err != nil {
			s.logger.WarnContext(ctx, "external forward claim failed", slog.String("channel_sid", c.SID), slog.Any("error", err))
		}
		return
	}
	s.deps.Webhooks.Send(webhook.Request{AccountSID: c.AccountSID, URL: flow.Integration.URL, Retries: flow.Integration.retries(),
		Params: url.Values{
			"EventType": {"onMessageSent"}, "AccountSid": {c.AccountSID}, "InstanceSid": {c.ChatServiceSID},
			"ChannelSid": {c.SID}, "FlexFlowSid": {flow.SID}, "MessageSid": {m.SID}, "Index": {strconv.FormatInt(m.Index, 10)},
			"From": {m.From}, "Body": {m.Body}, "Attributes": {m.Attributes}, "DateCreated": {m.DateCreated}, "Source": {"SDK"},
		}})
}
