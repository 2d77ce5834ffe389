package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/parleychat/parley/internal/agent"
	"github.com/parleychat/parley/internal/flex"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/taskrouter"
)

// Transfers (agent.Desk's transfer half): a transferred chat becomes a new
// task in the agent's workspace, routed by the workflow "Parley transfers"
// that Parley keeps there. Its configuration has one filter for transfers
// to an agent (through a queue holding every worker, narrowed to the
// target worker; after directTransferTimeout to anyone else, so that the
// chat never waits on an agent who went away) and one per queue; it is
// rewritten whenever the queues changed.

const (
	transferWorkflowName  = "Parley transfers"
	directTransferQueue   = "Direct transfers"
	directTransferTimeout = 120 // seconds
)

// transferWorkflows serializes creating and updating the workflow on this
// node (two agents' first transfers would otherwise create it twice).
type transferWorkflows struct{ mu sync.Mutex }

func (d agentDesk) Reservation(ctx context.Context, a agent.Agent, sid string) (agent.Reservation, error) {
	r, err := d.ownReservation(ctx, a, sid)
	if err != nil {
		return agent.Reservation{}, err
	}
	return d.describe(ctx, r)
}

func (d agentDesk) TransferTargets(ctx context.Context, a agent.Agent) ([]agent.TransferTarget, error) {
	queues, err := d.tr.TaskQueues(ctx, a.AccountSID, a.WorkspaceSID, "", "", "", rest.Page{Size: 1000})
	if err != nil {
		return nil, err
	}
	var out []agent.TransferTarget
	for _, q := range queues {
		if q.FriendlyName != directTransferQueue {
			out = append(out, agent.TransferTarget{Type: agent.TargetQueue, SID: q.SID, FriendlyName: q.FriendlyName, Available: true})
		}
	}
	workers, err := d.tr.Workers(ctx, a.AccountSID, a.WorkspaceSID, taskrouter.WorkerFilter{}, rest.Page{Size: 1000})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(workers, func(i, j int) bool { return workers[i].FriendlyName < workers[j].FriendlyName })
	for _, w := range workers {
		out = append(out, agent.TransferTarget{Type: agent.TargetWorker, SID: w.SID, FriendlyName: w.FriendlyName,
			ActivityName: w.ActivityName, Available: w.Available})
	}
	return out, nil
}

func (d agentDesk) CreateTransferTask(ctx context.Context, a agent.Agent, old agent.Reservation, to agent.TransferTarget, from agent.TransferredFrom) (string, error) {
	t, err := d.tr.Task(ctx, a.AccountSID, a.WorkspaceSID, old.TaskSID)
	if err != nil {
		return "", err
	}
	attrs := map[string]any{}
	if err := json.Unmarshal([]byte(t.Attributes), &attrs); err != nil || attrs == nil {
		return "", rest.BadRequest("Task %s has attributes that are not a JSON object", t.SID)
	}
	attrs["transferTargetType"], attrs["transferTargetSid"], attrs["transferredFrom"] = to.Type, to.SID, from
	b, err := json.Marshal(attrs)
	if err != nil {
		return "", err
	}
	wf, err := d.transferWorkflow(ctx, a.AccountSID, a.WorkspaceSID)
	if err != nil {
		return "", fmt.Errorf("transfer workflow: %w", err)
	}
	nt, err := d.tr.NewTask(ctx, a.AccountSID, a.WorkspaceSID, taskrouter.TaskParams{WorkflowSID: wf, TaskChannel: t.ChannelSID,
		Attributes: string(b), Priority: t.Priority, Timeout: t.Timeout})
	return nt.SID, err
}

// transferWorkflow finds or creates the workspace's transfer workflow and
// brings its configuration up to date with the queues.
func (d agentDesk) transferWorkflow(ctx context.Context, accountSID, ws string) (string, error) {
	d.workflows.mu.Lock()
	defer d.workflows.mu.Unlock()
	queues, err := d.tr.TaskQueues(ctx, accountSID, ws, "", "", "", rest.Page{Size: 1000})
	if err != nil {
		return "", err
	}
	everyone := ""
	for _, q := range queues {
		if q.TargetWorkers == "1==1" && (everyone == "" || q.FriendlyName == flexQueueName) {
			everyone = q.SID
		}
	}
	if everyone == "" {
		name, target := directTransferQueue, "1==1"
		q, err := d.tr.CreateTaskQueue(ctx, accountSID, ws, taskrouter.QueueParams{FriendlyName: &name, TargetWorkers: &target})
		if err != nil {
			return "", err
		}
		everyone = q.SID
	}
	cfg := transferConfig(everyone, queues)
	list, err := d.tr.Workflows(ctx, accountSID, ws, transferWorkflowName, rest.Page{Size: 1})
	if err != nil {
		return "", err
	}
	if len(list) == 0 {
		name := transferWorkflowName
		w, err := d.tr.CreateWorkflow(ctx, accountSID, ws, taskrouter.WorkflowParams{FriendlyName: &name, Configuration: &cfg})
		return w.SID, err
	}
	if list[0].Configuration != cfg {
		if _, err := d.tr.UpdateWorkflow(ctx, accountSID, ws, list[0].SID, taskrouter.WorkflowParams{Configuration: &cfg}, false); err != nil {
			return "", err
		}
	}
	return list[0].SID, nil
}

// transferConfig is the transfer workflow's configuration.
func transferConfig(everyone string, queues []taskrouter.TaskQueue) string {
	type target struct {
		Queue      string `json:"queue"`
		Expression string `json:"expression,omitempty"`
		Timeout    int    `json:"timeout,omitempty"`
	}
	type filter struct {
		Name       string   `json:"filter_friendly_name"`
		Expression string   `json:"expression"`
		Targets    []target `json:"targets"`
	}
	const notSender = "worker.sid != task.transferredFrom.workerSid"
	filters := []filter{{Name: "To an agent", Expression: `transferTargetType == "worker"`, Targets: []target{
		{Queue: everyone, Expression: "task.transferTargetSid == worker.sid", Timeout: directTransferTimeout},
		{Queue: everyone, Expression: notSender}}}}
	sorted := append([]taskrouter.TaskQueue(nil), queues...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].SID < sorted[j].SID })
	for _, q := range sorted {
		filters = append(filters, filter{Name: "To " + q.FriendlyName, Expression: fmt.Sprintf("transferTargetSid == %q", q.SID),
			Targets: []target{{Queue: q.SID, Expression: notSender}}})
	}
	b, _ := json.Marshal(map[string]any{"task_routing": map[string]any{"filters": filters,
		"default_filter": map[string]string{"queue": everyone}}})
	return string(b)
}

func (d agentDesk) HandOver(ctx context.Context, a agent.Agent, channelSID, taskSID string) error {
	err := d.flex.HandOver(ctx, a.AccountSID, channelSID, taskSID)
	switch {
	case errors.Is(err, flex.ErrNotFound):
		return nil // a chat channel Flex does not manage: nothing closes it on a task's end
	case errors.Is(err, flex.ErrChatClosed):
		return rest.Conflict(20409, "The chat %s has already ended; there is nothing to transfer", channelSID)
	}
	return err
}

func (d agentDesk) CancelTask(ctx context.Context, a agent.Agent, taskSID, reason string) error {
	return d.tr.UpdateTaskStatus(ctx, a.AccountSID, a.WorkspaceSID, taskSID, taskrouter.StatusCanceled, reason)
}
