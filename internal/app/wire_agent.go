package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/account"
	"github.com/parleychat/parley/internal/agent"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/flex"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/taskrouter"
	"github.com/parleychat/parley/internal/token"
)

// newAgents builds the agent domain over TaskRouter, chat and tokens.
func (a *App) newAgents() *agent.Service {
	keys := &agentKeys{accounts: a.Accounts, sids: map[string]string{}}
	desk := agentDesk{tr: a.TaskRouter, chat: a.Chat, flex: a.Flex, workflows: &transferWorkflows{}}
	return agent.New(a.db, agentWorkers{tr: a.TaskRouter}, agentTokens{tokens: a.Tokens, chat: a.Chat, keys: keys},
		desk, a.logger, agent.Options{})
}

func (a *App) agentRoutes(rt *rest.Router) {
	a.Agents.Routes(rt, agent.HTTPOptions{SecureCookie: strings.HasPrefix(a.cfg.PublicURL, "https://"),
		ClientIP: a.Tokens.ClientIP, Verify: a.Tokens.Verify})
}

// defaultWorkspace is the account's Flex workspace, where agents' workers live.
func defaultWorkspace(ctx context.Context, tr *taskrouter.Service, accountSID string) (string, error) {
	list, err := tr.Workspaces(ctx, accountSID, flexWorkspaceName, rest.Page{Size: 1})
	if err != nil {
		return "", err
	}
	if len(list) == 0 {
		return "", rest.NotFound("Account %s has no workspace named %q (the default Flex setup)", accountSID, flexWorkspaceName)
	}
	return list[0].SID, nil
}

// agentWorkers adapts TaskRouter to agent.Workers.
type agentWorkers struct{ tr *taskrouter.Service }

var _ agent.Workers = agentWorkers{}

func (w agentWorkers) CreateWorker(ctx context.Context, accountSID string, spec agent.WorkerSpec) (string, string, error) {
	ws, err := defaultWorkspace(ctx, w.tr, accountSID)
	if err != nil {
		return "", "", err
	}
	wk, err := w.tr.CreateWorker(ctx, accountSID, ws, spec.FriendlyName, "", spec.Attributes)
	if err != nil {
		return "", "", err
	}
	chans, err := w.tr.WorkerChannels(ctx, accountSID, ws, wk.SID, rest.Page{Size: 100})
	if err != nil {
		return ws, wk.SID, err
	}
	for _, c := range chans {
		if c.TaskChannelUniqueName == "chat" {
			capacity := spec.ChatCapacity
			if _, err := w.tr.UpdateWorkerChannel(ctx, accountSID, ws, wk.SID, c.SID, &capacity, nil); err != nil {
				return ws, wk.SID, err
			}
		}
	}
	return ws, wk.SID, nil
}

func (w agentWorkers) DeleteWorker(ctx context.Context, accountSID, wsSID, workerSID string) error {
	return w.tr.DeleteWorker(ctx, accountSID, wsSID, workerSID, "")
}

// agentKeys keeps one API key per account for signing agents' tokens
// ("Parley agent desktop"), created on first use.
type agentKeys struct {
	accounts *account.Service
	mu       sync.Mutex
	sids     map[string]string
}

const agentKeyName = "Parley agent desktop"

func (k *agentKeys) key(ctx context.Context, accountSID string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if sid, ok := k.sids[accountSID]; ok {
		return sid, nil
	}
	keys, err := k.accounts.Keys(ctx, accountSID, 0, 0, 1000)
	if err != nil {
		return "", err
	}
	for _, key := range keys {
		if key.FriendlyName == agentKeyName {
			k.sids[accountSID] = key.SID
			return key.SID, nil
		}
	}
	key, err := k.accounts.CreateKey(ctx, accountSID, agentKeyName)
	if err != nil {
		return "", err
	}
	k.sids[accountSID] = key.SID
	return key.SID, nil
}

// agentTokens adapts tokens to agent.Tokens.
type agentTokens struct {
	tokens *token.Service
	chat   *chat.Service
	keys   *agentKeys
}

var _ agent.Tokens = agentTokens{}

func (t agentTokens) AgentToken(ctx context.Context, a agent.Agent, ttl time.Duration) (string, time.Time, string, error) {
	svc, err := t.chat.DefaultChatService(ctx, a.AccountSID)
	if err != nil {
		return "", time.Time{}, "", err
	}
	keySID, err := t.keys.key(ctx, a.AccountSID)
	if err != nil {
		return "", time.Time{}, "", err
	}
	role := "" // a supervisor's role lets its socket watch the workspace and monitor chats
	if a.Role == agent.RoleSupervisor {
		role = agent.RoleSupervisor
	}
	raw, exp, err := t.tokens.Mint(ctx, token.Grant{AccountSID: a.AccountSID, KeySID: keySID, Identity: a.Identity(), TTL: ttl,
		ChatServiceSID: svc, WorkspaceSID: a.WorkspaceSID, WorkerSID: a.WorkerSID, TaskRouterRole: role})
	return raw, exp, svc, err
}

// agentDesk adapts TaskRouter and chat to agent.Desk, always on the
// agent's own worker.
type agentDesk struct {
	tr        *taskrouter.Service
	chat      *chat.Service
	flex      *flex.Service
	workflows *transferWorkflows
}

var _ agent.Desk = agentDesk{}

func (d agentDesk) Activities(ctx context.Context, a agent.Agent) ([]agent.Activity, error) {
	list, err := d.tr.Activities(ctx, a.AccountSID, a.WorkspaceSID, "", nil, rest.Page{Size: 100})
	out := make([]agent.Activity, len(list))
	for i, act := range list {
		out[i] = agent.Activity{SID: act.SID, FriendlyName: act.FriendlyName, Available: act.Available}
	}
	return out, err
}

func workerState(w taskrouter.Worker) agent.WorkerState {
	return agent.WorkerState{FriendlyName: w.FriendlyName, ActivitySID: w.ActivitySID, ActivityName: w.ActivityName, Available: w.Available}
}

func (d agentDesk) Worker(ctx context.Context, a agent.Agent) (agent.WorkerState, error) {
	w, err := d.tr.Worker(ctx, a.AccountSID, a.WorkspaceSID, a.WorkerSID)
	if errors.Is(err, taskrouter.ErrNotFound) {
		return agent.WorkerState{}, rest.NotFound("Workspace %s has no worker %s", a.WorkspaceSID, a.WorkerSID)
	}
	return workerState(w), err
}

func (d agentDesk) SetActivity(ctx context.Context, a agent.Agent, activitySID string) (agent.WorkerState, error) {
	w, err := d.tr.UpdateWorker(ctx, a.AccountSID, a.WorkspaceSID, a.WorkerSID, taskrouter.WorkerParams{ActivitySID: &activitySID}, "")
	return workerState(w), err
}

func (d agentDesk) Reservations(ctx context.Context, a agent.Agent) ([]agent.Reservation, error) {
	var out []agent.Reservation
	for _, status := range []string{taskrouter.ResPending, taskrouter.ResAccepted, taskrouter.ResWrapping} {
		list, err := d.tr.Reservations(ctx, a.AccountSID, a.WorkspaceSID, "", a.WorkerSID, status, rest.Page{Size: 100})
		if err != nil {
			return nil, err
		}
		for _, r := range list {
			res, err := d.describe(ctx, r)
			if err != nil {
				return nil, err
			}
			out = append(out, res)
		}
	}
	return out, nil
}

// describe adds the task's details the desktop shows.
func (d agentDesk) describe(ctx context.Context, r taskrouter.Reservation) (agent.Reservation, error) {
	t, err := d.tr.Task(ctx, r.AccountSID, r.WorkspaceSID, r.TaskSID)
	if err != nil {
		return agent.Reservation{}, err
	}
	return agent.Reservation{SID: r.SID, TaskSID: r.TaskSID, Status: r.Status, TimeoutAt: r.TimeoutAt, TaskStatus: t.Status,
		QueueName: t.QueueName, Attributes: t.Attributes, TaskCreated: t.Created}, nil
}

// ownReservation is one of the agent's worker's reservations; another's
// (or none) is a 404, not a server error.
func (d agentDesk) ownReservation(ctx context.Context, a agent.Agent, sid string) (taskrouter.Reservation, error) {
	r, err := d.tr.WorkerReservation(ctx, a.AccountSID, a.WorkspaceSID, a.WorkerSID, sid)
	if errors.Is(err, taskrouter.ErrNotFound) {
		return r, rest.NotFound("Reservation %s is not one of yours", sid)
	}
	return r, err
}

func (d agentDesk) UpdateReservation(ctx context.Context, a agent.Agent, sid, status string) (agent.Reservation, error) {
	r, err := d.ownReservation(ctx, a, sid)
	if err != nil {
		return agent.Reservation{}, err
	}
	r, err = d.tr.UpdateReservation(ctx, a.AccountSID, a.WorkspaceSID, r.TaskSID, sid,
		taskrouter.ReservationUpdate{Status: status, WorkerSID: a.WorkerSID})
	if err != nil {
		return agent.Reservation{}, err
	}
	return d.describe(ctx, r)
}

// taskChat is the chat channel (and its service) of a reservation's
// task, from the task attributes the reservation already carries.
func (d agentDesk) taskChat(ctx context.Context, a agent.Agent, r agent.Reservation) (service, channel string, err error) {
	var attrs struct {
		ChannelSID     string `json:"channelSid"`
		ChatServiceSID string `json:"chatServiceSid"`
	}
	if err := json.Unmarshal([]byte(r.Attributes), &attrs); err != nil || !rest.IsSID("CH", attrs.ChannelSID) {
		return "", "", rest.BadRequest("Task %s is not a chat task (its attributes have no channelSid)", r.TaskSID)
	}
	if attrs.ChatServiceSID == "" {
		if attrs.ChatServiceSID, err = d.chat.DefaultChatService(ctx, a.AccountSID); err != nil {
			return "", "", err
		}
	}
	return attrs.ChatServiceSID, attrs.ChannelSID, nil
}

// JoinChat adds the agent to the task's chat with its name in the
// member's attributes (friendly_name), which the widget shows.
func (d agentDesk) JoinChat(ctx context.Context, a agent.Agent, r agent.Reservation) (string, error) {
	svc, ch, err := d.taskChat(ctx, a, r)
	if err != nil {
		return "", err
	}
	member, err := d.chat.IsMember(ctx, a.AccountSID, svc, ch, a.Identity())
	if err != nil {
		return "", err
	}
	if !member {
		attrs, _ := json.Marshal(map[string]string{"friendly_name": a.FriendlyName})
		if err := d.chat.AddChannelMemberWithAttributes(ctx, a.AccountSID, svc, ch, a.Identity(), string(attrs)); err != nil {
			return "", fmt.Errorf("join channel: %w", err)
		}
	}
	return ch, nil
}

// LeaveChat removes the agent from the chat of r's task.
func (d agentDesk) LeaveChat(ctx context.Context, a agent.Agent, r agent.Reservation) error {
	svc, ch, err := d.taskChat(ctx, a, r)
	if err != nil {
		return err
	}
	return d.chat.RemoveChannelMember(ctx, a.AccountSID, svc, ch, a.Identity())
}
