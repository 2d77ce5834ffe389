package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/flex"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/studio"
	"github.com/parleychat/parley/internal/taskrouter"
)

// newFlex builds Flex over the other domains. A domain this node does not
// have yet stays nil in flex.Deps: what needs it then answers with a
// clear error instead of half-working.
func (a *App) newFlex(idle time.Duration) *flex.Service {
	deps := flex.Deps{Webhooks: a.Webhooks}
	if a.Tokens != nil {
		deps.Origins = a.Tokens
	}
	if a.Chat != nil {
		deps.Chat = flexChat{a.Chat}
	}
	if a.TaskRouter != nil {
		deps.Tasks = flexTasks{a.TaskRouter}
	}
	if a.Studio != nil && a.Chat != nil {
		deps.Studio = flexStudio{a.Studio, a.Chat}
	}
	deps.Defaults = flexDefaults{chat: a.Chat, tr: a.TaskRouter, studio: a.Studio}
	if idle == 0 {
		idle = -1 // PARLEY_FLEX_IDLE_TIMEOUT=0: never close idle chats
	}
	return flex.New(a.db, a.Bus, deps, a.logger, flex.Options{IdleTimeout: idle})
}

// startFlex starts the janitor and gives the main account the default
// Flex setup. A failed setup is logged, not fatal: the API still serves.
func (a *App) startFlex(ctx context.Context) error {
	if err := a.Flex.Start(); err != nil {
		return err
	}
	setup, err := a.Flex.EnsureDefaults(ctx, a.Main.SID)
	if err != nil {
		a.logger.Warn("default Flex setup incomplete", slog.Any("error", err))
		return nil
	}
	a.FlexSetup = setup
	return nil
}

// flexChat adapts chat to flex.Chat.
type flexChat struct{ c *chat.Service }

var _ flex.Chat = flexChat{}

func (f flexChat) ServiceExists(ctx context.Context, accountSID, serviceSID string) (bool, error) {
	return f.c.ServiceExists(ctx, accountSID, serviceSID)
}

func (f flexChat) CreateChannel(ctx context.Context, s flex.ChannelSpec) (string, error) {
	return f.c.CreatePrivateChannel(ctx, s.AccountSID, s.ServiceSID, s.FriendlyName, s.UniqueName, s.Attributes, s.CreatedBy)
}

func (f flexChat) AddMember(ctx context.Context, accountSID, serviceSID, channelSID, identity string) error {
	return f.c.AddChannelMember(ctx, accountSID, serviceSID, channelSID, identity)
}

func (f flexChat) ChannelAttributes(ctx context.Context, accountSID, serviceSID, channelSID string) (string, error) {
	return f.c.ChannelAttributes(ctx, accountSID, serviceSID, channelSID)
}

func (f flexChat) SetChannelAttributes(ctx context.Context, accountSID, serviceSID, channelSID, attributes string) error {
	return f.c.SetChannelAttributes(ctx, accountSID, serviceSID, channelSID, attributes)
}

func (f flexChat) AttachStudio(ctx context.Context, accountSID, serviceSID, channelSID, flowSID string, retryCount int) (string, error) {
	return f.c.AttachStudioWebhook(ctx, accountSID, serviceSID, channelSID, flowSID, retryCount)
}

func (f flexChat) DetachWebhook(ctx context.Context, accountSID, serviceSID, channelSID, webhookSID string) error {
	return f.c.RemoveChannelWebhook(ctx, accountSID, serviceSID, channelSID, webhookSID)
}

func (f flexChat) DeleteChannel(ctx context.Context, accountSID, serviceSID, channelSID string) error {
	return f.c.RemoveChannel(ctx, accountSID, serviceSID, channelSID)
}

// flexStudio adapts Studio to flex.Studio. A re-engaging message is
// delivered with the channel's attributes, as chat's studio webhook does.
type flexStudio struct {
	s    *studio.Service
	chat *chat.Service
}

var _ flex.Studio = flexStudio{}

func (f flexStudio) FlowExists(ctx context.Context, accountSID, flowSID string) (bool, error) {
	_, err := f.s.Flow(ctx, accountSID, flowSID)
	if errors.Is(err, studio.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (f flexStudio) DeliverMessage(ctx context.Context, flowSID string, m flex.Message) error {
	attrs, err := f.chat.ChannelAttributes(ctx, m.AccountSID, m.ServiceSID, m.ChannelSID)
	if err != nil {
		return err
	}
	created, _ := time.Parse(time.RFC3339, m.DateCreated)
	return f.s.DeliverMessage(ctx, studio.IncomingMessage{AccountSID: m.AccountSID, FlowSID: flowSID, ServiceSID: m.ServiceSID,
		ChannelSID: m.ChannelSID, MessageSID: m.SID, Index: m.Index, From: m.From, Body: m.Body, Attributes: m.Attributes,
		ChannelAttributes: attrs, Source: "SDK", DateCreated: created})
}

// Names of the default setup's parts, as in Twilio's standard Flex setup.
const (
	flexWorkspaceName = "Flex Task Assignment"
	flexQueueName     = "Everyone"
	flexWorkflowName  = "Assign to Anyone"
	flexStudioName    = "Webchat Flow"
)

// webchatFlowDefinition is Flex's default "Webchat Flow": every incoming
// message goes to an agent. send-to-flex lays these attributes over the
// channel's (which carry pre_engagement_data).
func webchatFlowDefinition(workflowSID, taskChannelSID string) []byte {
	// Every value goes through Liquid's json filter: a visitor's name with a
	// quote or a backslash must not break the JSON (the task would never be
	// created and the visitor never reach an agent).
	attrs := `{"name": {{trigger.message.ChannelAttributes.from | json}}, "channelType": {{trigger.message.ChannelAttributes.channel_type | json}}, "channelSid": {{trigger.message.ChannelSid | json}}}`
	def := map[string]any{
		"description": flexStudioName, "initial_state": "Trigger", "flags": map[string]any{"allow_concurrent_calls": true},
		"states": []any{
			map[string]any{"name": "Trigger", "type": "trigger", "properties": map[string]any{},
				"transitions": []any{map[string]any{"event": "incomingMessage", "next": "SendToFlex"}}},
			map[string]any{"name": "SendToFlex", "type": "send-to-flex", "transitions": []any{},
				"properties": map[string]any{"workflow": workflowSID, "channel": taskChannelSID, "attributes": attrs}},
		},
	}
	b, _ := json.Marshal(def)
	return b
}

// findFlow returns the account's Studio flow with the name, if any.
func findStudioFlow(ctx context.Context, s *studio.Service, accountSID, name string) (string, error) {
	page := rest.Page{Size: 1000}
	for {
		flows, err := s.Flows(ctx, accountSID, page)
		if err != nil {
			return "", err
		}
		for _, f := range flows {
			if f.FriendlyName == name {
				return f.SID, nil
			}
		}
		if len(flows) <= page.Size {
			return "", nil
		}
		page.After = flows[page.Size-1].Seq
	}
}

// flexTasks adapts TaskRouter to flex.Tasks.
type flexTasks struct{ tr *taskrouter.Service }

var _ flex.Tasks = flexTasks{}

func (f flexTasks) WorkflowExists(ctx context.Context, accountSID, workspaceSID, workflowSID string) (bool, error) {
	_, err := f.tr.Workflow(ctx, accountSID, workspaceSID, workflowSID)
	if errors.Is(err, taskrouter.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (f flexTasks) CreateTask(ctx context.Context, accountSID, workspaceSID, workflowSID, taskChannel, attributes string, priority, timeoutSeconds int) (string, error) {
	return f.tr.CreateTask(ctx, accountSID, workspaceSID, workflowSID, taskChannel, attributes, priority, timeoutSeconds)
}

func (f flexTasks) CancelTask(ctx context.Context, accountSID, workspaceSID, taskSID, reason string) error {
	return f.tr.UpdateTaskStatus(ctx, accountSID, workspaceSID, taskSID, taskrouter.StatusCanceled, reason)
}

// flexDefaults finds or creates the default setup's parts by name.
type flexDefaults struct {
	chat   *chat.Service
	tr     *taskrouter.Service
	studio *studio.Service
}

var _ flex.Defaults = flexDefaults{}

var errFlexPartMissing = errors.New("app: the default Flex setup needs chat, TaskRouter and Studio")

func (d flexDefaults) ChatService(ctx context.Context, accountSID string) (string, error) {
	if d.chat == nil {
		return "", errFlexPartMissing
	}
	return d.chat.DefaultChatService(ctx, accountSID)
}

func (d flexDefaults) Workspace(ctx context.Context, accountSID string) (ws, wf, taskChannel string, err error) {
	if d.tr == nil {
		return "", "", "", errFlexPartMissing
	}
	one := rest.Page{Size: 1}
	name := flexWorkspaceName
	if list, err := d.tr.Workspaces(ctx, accountSID, name, one); err != nil {
		return "", "", "", err
	} else if len(list) > 0 {
		ws = list[0].SID
	} else {
		w, err := d.tr.CreateWorkspace(ctx, accountSID, taskrouter.WorkspaceParams{FriendlyName: &name})
		if err != nil {
			return "", "", "", err
		}
		ws = w.SID
	}
	if wf, err = d.workflow(ctx, accountSID, ws); err != nil {
		return "", "", "", err
	}
	tc, err := d.tr.TaskChannel(ctx, accountSID, ws, "chat")
	return ws, wf, tc.SID, err
}

// workflow finds or creates "Assign to Anyone" over the queue "Everyone".
func (d flexDefaults) workflow(ctx context.Context, accountSID, ws string) (string, error) {
	one := rest.Page{Size: 1}
	if list, err := d.tr.Workflows(ctx, accountSID, ws, flexWorkflowName, one); err != nil || len(list) > 0 {
		if err != nil {
			return "", err
		}
		return list[0].SID, nil
	}
	queue := ""
	if list, err := d.tr.TaskQueues(ctx, accountSID, ws, flexQueueName, "", "", one); err != nil {
		return "", err
	} else if len(list) > 0 {
		queue = list[0].SID
	} else {
		name, target := flexQueueName, "1==1"
		q, err := d.tr.CreateTaskQueue(ctx, accountSID, ws, taskrouter.QueueParams{FriendlyName: &name, TargetWorkers: &target})
		if err != nil {
			return "", err
		}
		queue = q.SID
	}
	name := flexWorkflowName
	cfg := fmt.Sprintf(`{"task_routing":{"filters":[],"default_filter":{"queue":"%s"}}}`, queue)
	w, err := d.tr.CreateWorkflow(ctx, accountSID, ws, taskrouter.WorkflowParams{FriendlyName: &name, Configuration: &cfg})
	return w.SID, err
}

func (d flexDefaults) WebchatFlow(ctx context.Context, accountSID, _, workflowSID, taskChannel string) (string, error) {
	if d.studio == nil {
		return "", errFlexPartMissing
	}
	if sid, err := findStudioFlow(ctx, d.studio, accountSID, flexStudioName); err != nil || sid != "" {
		return sid, err
	}
	name := flexStudioName
	f, err := d.studio.CreateFlow(ctx, accountSID, studio.FlowInput{FriendlyName: &name, Status: "published",
		Definition: webchatFlowDefinition(workflowSID, taskChannel)})
	return f.SID, err
}
