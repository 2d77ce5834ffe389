package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/studio"
	"github.com/parleychat/parley/internal/taskrouter"
)

// newStudio builds Studio and plugs it into chat both ways (chat's studio
// webhooks deliver visitors' messages to it, and its flows post through
// chat) and into TaskRouter (send-to-flex). Its flows may not send
// credentials to Parley's own URLs.
func newStudio(db *store.DB, cfg config.Config, chatSvc *chat.Service, tr *taskrouter.Service, logger *slog.Logger) *studio.Service {
	s := studio.New(db, logger, studio.Options{SelfOrigins: []string{cfg.PublicURL, "http://" + cfg.Addr}})
	if chatSvc != nil {
		s.SetChat(chatSvc)
		chatSvc.SetStudio(studioDispatcher{s})
	}
	if tr != nil {
		s.SetTasks(studioTasks{tr})
	}
	return s
}

// endHandedOff is TaskRouter's task-end callback for Studio: it ends the
// execution that handed the task's chat channel to Flex (send-to-flex
// puts the channel's SID in the task's channelSid) unless Flex says the
// chat now belongs to another task (it was transferred): then the
// execution stays, or the visitor's next message would start a new one,
// and a second task for a chat an agent has.
func (a *App) endHandedOff(ctx context.Context, accountSID, _, taskSID, _, attributes string) {
	var attrs struct {
		ChannelSID string `json:"channelSid"`
	}
	if json.Unmarshal([]byte(attributes), &attrs) != nil || !rest.IsSID("CH", attrs.ChannelSID) {
		return
	}
	if a.Flex.Superseded(ctx, accountSID, attrs.ChannelSID, taskSID) {
		return
	}
	if err := a.Studio.EndHandedOff(ctx, accountSID, attrs.ChannelSID); err != nil {
		a.logger.Warn("studio: end handed-off execution", slog.String("task_sid", taskSID), slog.Any("error", err))
	}
}

// studioTasks adapts TaskRouter to studio.TaskCreator: a send-to-flex
// widget names a workflow, and the task goes to that workflow's workspace.
type studioTasks struct{ tr *taskrouter.Service }

var _ studio.TaskCreator = studioTasks{}

func (t studioTasks) CreateTaskForWorkflow(ctx context.Context, accountSID, workflowSID, taskChannel, attributes string, priority, timeoutSeconds int) (string, error) {
	ws, err := t.workspaceOf(ctx, accountSID, workflowSID)
	if err != nil {
		return "", err
	}
	return t.tr.CreateTask(ctx, accountSID, ws, workflowSID, taskChannel, attributes, priority, timeoutSeconds)
}

// workspaceOf finds the workspace holding the workflow. An account has a
// handful of workspaces, so asking each is cheap and needs nothing new
// from TaskRouter.
func (t studioTasks) workspaceOf(ctx context.Context, accountSID, workflowSID string) (string, error) {
	if !rest.IsSID("WW", workflowSID) {
		return "", fmt.Errorf("workflow %q is not a workflow SID", workflowSID)
	}
	spaces, err := t.tr.Workspaces(ctx, accountSID, "", rest.Page{Size: 1000})
	if err != nil {
		return "", err
	}
	for _, ws := range spaces {
		_, err := t.tr.Workflow(ctx, accountSID, ws.SID, workflowSID)
		if err == nil {
			return ws.SID, nil
		}
		if !errors.Is(err, taskrouter.ErrNotFound) {
			return "", err
		}
	}
	return "", fmt.Errorf("workflow %s not found", workflowSID)
}

// studioDispatcher adapts Studio to chat.StudioDispatcher.
type studioDispatcher struct{ s *studio.Service }

var _ chat.StudioDispatcher = studioDispatcher{}

func (d studioDispatcher) DispatchMessage(ctx context.Context, ev chat.StudioMessage) error {
	return d.s.DeliverMessage(ctx, studio.IncomingMessage{AccountSID: ev.AccountSID, FlowSID: ev.FlowSID,
		ServiceSID: ev.ServiceSID, ChannelSID: ev.ChannelSID, MessageSID: ev.MessageSID, Index: ev.Index,
		From: ev.From, Body: ev.Body, Attributes: ev.Attributes, ChannelAttributes: string(ev.ChannelAttributes),
		Source: ev.Source, DateCreated: ev.DateCreated})
}
