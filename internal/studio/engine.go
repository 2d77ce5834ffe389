package studio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// How an execution moves (the invariants the code below keeps):
//
//   - Only the holder of an execution's lease runs its widgets or changes
//     its position. A lease is taken by one conditional UPDATE
//     (status active and lease expired), so two goroutines or two nodes
//     never both hold it. Every save is conditional on the lease token and
//     on the execution still being active, so an execution ended through
//     REST stops at its next save.
//   - A visitor's message for an active execution is stored first (the
//     inbox) and the execution is claimed second. The holder releases the
//     lease and then looks at the inbox again, so a message that arrives
//     while someone else holds the lease is never left behind.
//   - A reply counts only if its chat index is above the index of the
//     prompt that send-and-wait-for-reply posted; older messages (sent
//     while the flow was busy) are dropped, never taken as the answer.
//     The reply leaves the inbox in the transaction that records the step
//     it caused, so a crash in between loses nothing.
//   - Positions are saved after every widget, with the step that records
//     it, in one transaction. A node that dies mid-widget loses its lease
//     after Options.Lease and the widget runs again elsewhere; messages it
//     posts carry the execution and step as client message id, so chat
//     does not post them twice.

// inbound is a visitor's message as the engine keeps it.
type inbound struct {
	MessageSID string `json:"MessageSid"`
	Index      int64  `json:"Index"`
	From       string `json:"From"`
	Body       string `json:"Body"`
	ChannelSID string `json:"ChannelSid"`
	Attributes string `json:"Attributes"`
}

// context is widgets.<name>.inbound after a reply.
func (m *inbound) context() map[string]any {
	return map[string]any{"Body": m.Body, "From": m.From, "MessageSid": m.MessageSID, "Index": m.Index,
		"ChannelSid": m.ChannelSID, "Attributes": m.Attributes}
}

// run is one widget run's view of its execution.
type run struct {
	svc   *Service
	exec  *Execution
	flow  *Flow
	state *compiledState
}

func (x *run) render(s string) (string, error) { return renderTemplate(s, x.exec.Context) }

func sub(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	if v == nil {
		v = map[string]any{}
		m[key] = v
	}
	return v
}

func (x *run) variables() map[string]any { return sub(sub(x.exec.Context, "flow"), "variables") }

func (x *run) triggerMessage() map[string]any {
	t, _ := x.exec.Context["trigger"].(map[string]any)
	m, _ := t["message"].(map[string]any)
	return m
}

func (x *run) channelAttributes() map[string]any {
	a, _ := x.triggerMessage()["ChannelAttributes"].(map[string]any)
	return a
}

func (x *run) flowAddress() string {
	f, _ := x.exec.Context["flow"].(map[string]any)
	c, _ := f["channel"].(map[string]any)
	return str(c["address"])
}

// widgetOutput is a copy of what this widget produced so far.
func (x *run) widgetOutput() map[string]any {
	out := map[string]any{}
	if prev, ok := sub(x.exec.Context, "widgets")[x.state.Name].(map[string]any); ok {
		for k, v := range prev {
			out[k] = v
		}
	}
	return out
}

// idempotencyKey names this step of this execution (see the invariants).
func (x *run) idempotencyKey() string { return x.exec.SID + "." + strconv.Itoa(x.exec.StepCount) }

// ---- starting executions ----

// DeliverMessage starts or resumes the flow's execution for the channel.
// Called in-process by chat (through an adapter in app). It stores what
// it must and returns; the flow runs in the background.
func (s *Service) DeliverMessage(ctx context.Context, m IncomingMessage) error {
	if s.own.has(m.ChannelSID, m.From) {
		return nil // the flow's own message, echoed by the channel's webhook
	}
	in := inbound{MessageSID: m.MessageSID, Index: m.Index, From: m.From, Body: m.Body, ChannelSID: m.ChannelSID, Attributes: m.Attributes}
	for attempt := 0; attempt < 3; attempt++ {
		sid, err := activeForChannel(ctx, s.db, m.FlowSID, m.ChannelSID)
		if err == nil {
			if err := addInbox(ctx, s.db, m.AccountSID, sid, in); err != nil {
				return fmt.Errorf("studio: deliver message: %w", err)
			}
			s.spawn(func() { s.drive(sid, "") })
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("studio: deliver message: %w", err)
		}
		_, err = s.start(ctx, m.AccountSID, m.FlowSID, "incomingMessage", func(f FlowRecord, e *Execution) {
			e.ChannelSID, e.InitiatedBy, e.ContactAddress = m.ChannelSID, m.MessageSID, m.From
			e.Context = messageContext(f, e, m)
		})
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
		// Another message started the channel's execution just now: join it.
	}
	return errors.New("studio: deliver message: the channel's execution kept changing")
}

// messageContext is the Liquid context of a chat-triggered execution.
func messageContext(f FlowRecord, e *Execution, m IncomingMessage) map[string]any {
	var channelAttrs any = map[string]any{}
	if m.ChannelAttributes != "" {
		var v any
		if json.Unmarshal([]byte(m.ChannelAttributes), &v) == nil && v != nil {
			channelAttrs = v
		}
	}
	created := m.DateCreated
	if created.IsZero() {
		created = time.Now()
	}
	msg := map[string]any{"Body": m.Body, "From": m.From, "ChannelSid": m.ChannelSID, "InstanceSid": m.ServiceSID,
		"MessageSid": m.MessageSID, "Index": m.Index, "Attributes": m.Attributes, "ChannelAttributes": channelAttrs,
		"Source": m.Source, "AccountSid": m.AccountSID, "EventType": "onMessageSent",
		"DateCreated": created.UTC().Format(time.RFC3339)}
	return map[string]any{
		"trigger": map[string]any{"message": msg},
		"contact": map[string]any{"channel": map[string]any{"address": m.From}},
		"flow": map[string]any{"flow_sid": f.SID, "sid": e.SID, "channel": map[string]any{"address": f.FriendlyName},
			"data": map[string]any{}, "variables": map[string]any{}},
		"widgets": map[string]any{},
	}
}

// ExecutionInput is the REST trigger's parameters.
type ExecutionInput struct {
	To, From    string
	Parameters  map[string]any
	InitiatedBy string
}

// CreateExecution starts the flow for a REST request (incomingRequest).
func (s *Service) CreateExecution(ctx context.Context, accountSID, flowSID string, in ExecutionInput) (Execution, error) {
	created, err := s.start(ctx, accountSID, flowSID, "incomingRequest", func(f FlowRecord, e *Execution) {
		e.ContactAddress, e.InitiatedBy = in.To, in.InitiatedBy
		params := in.Parameters
		if params == nil {
			params = map[string]any{}
		}
		e.Context = map[string]any{
			"trigger": map[string]any{"request": map[string]any{"parameters": params, "To": in.To, "From": in.From}},
			"contact": map[string]any{"channel": map[string]any{"address": in.To}},
			"flow": map[string]any{"flow_sid": f.SID, "sid": e.SID, "channel": map[string]any{"address": in.From},
				"data": params, "variables": map[string]any{}},
			"widgets": map[string]any{},
		}
	})
	return created, wrap("create execution", err)
}

// start creates an execution leased to this node and runs it in the
// background.
func (s *Service) start(ctx context.Context, accountSID, flowSID, trigger string, fill func(FlowRecord, *Execution)) (Execution, error) {
	flow, rec, err := s.published(ctx, accountSID, flowSID)
	if err != nil {
		return Execution{}, err
	}
	now := store.Now()
	e := Execution{SID: rest.NewSID("FN"), AccountSID: accountSID, FlowSID: flowSID, FlowRevision: rec.Revision, Status: "active",
		Trigger: trigger, State: flow.Def.InitialState, WaitAfterIndex: -1, DateCreated: now, DateUpdated: now}
	fill(rec, &e)
	e.ContactSID = contactSID(accountSID, e.ContactAddress)
	token := rest.RandomHex(8)
	if err := insertExecution(ctx, s.db, e, token, now+s.opts.Lease.Milliseconds()); err != nil {
		return Execution{}, err
	}
	if !s.spawn(func() { s.drive(e.SID, token) }) {
		// Stopping: hand the new execution to whichever node runs next.
		_, err := s.db.ExecContext(ctx, `UPDATE studio_executions SET lease_until=0 WHERE sid=? AND lease_token=?`, e.SID, token)
		return e, err
	}
	return e, nil
}

// contactSID is a stable FC SID per account and contact address.
func contactSID(accountSID, address string) string {
	h := sha256.Sum256([]byte(accountSID + "\x00" + address))
	return "FC" + hex.EncodeToString(h[:16])
}

// ---- driving executions ----

// drive runs an execution for as long as it has work. token is a lease
// already held (a new execution), or "" to claim one.
func (s *Service) drive(sid, token string) {
	ctx := context.Background()
	for {
		if token == "" {
			token = rest.RandomHex(8)
			now := store.Now()
			ok, err := claim(ctx, s.db, sid, token, now, now+s.opts.Lease.Milliseconds())
			if err != nil {
				s.logger.Error("claim execution", slog.String("execution_sid", sid), slog.Any("error", err))
				return
			}
			if !ok {
				return // another goroutine or node runs it, and will look at the inbox after
			}
		}
		more, err := s.advance(ctx, sid, token)
		if err != nil {
			if !errors.Is(err, errLeaseLost) {
				s.logger.Error("run execution", slog.String("execution_sid", sid), slog.Any("error", err))
			}
			return
		}
		if !more {
			return
		}
		token = ""
	}
}

// advance loads the execution and moves it as far as it can go. more
// reports that messages arrived meanwhile, so the caller claims again.
func (s *Service) advance(ctx context.Context, sid, token string) (more bool, err error) {
	e, err := loadExecution(ctx, s.db, sid)
	if err != nil {
		return false, err
	}
	flow, err := s.revision(ctx, e.AccountSID, e.FlowSID, e.FlowRevision)
	var invalid *InvalidDefinition
	if errors.As(err, &invalid) {
		return false, s.fail(ctx, &e, token, nil, err) // it will never run
	}
	if err != nil {
		return false, err // the timer loop tries again once the lease expires
	}
	x := &run{svc: s, exec: &e, flow: flow}
	if e.WaitKind != "" {
		resumed, err := s.resume(ctx, x, token)
		if err != nil || !resumed {
			return s.pendingAfterRelease(ctx, &e, err)
		}
	}
	if e.Status == "active" && e.WaitKind == "" {
		if err := s.runUntilPause(ctx, x, token); err != nil {
			return false, err
		}
	}
	return s.pendingAfterRelease(ctx, &e, nil)
}

// pendingAfterRelease reports whether, now that the lease is released,
// the inbox holds messages for a waiting execution.
func (s *Service) pendingAfterRelease(ctx context.Context, e *Execution, err error) (bool, error) {
	if err != nil || e.Status != "active" {
		return false, err
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM studio_inbox WHERE execution_sid=?`, e.SID).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

// resume handles a waiting execution: a reply from the inbox, or the
// timeout once its deadline passed. resumed is false when it goes on
// waiting (the lease is then released).
func (s *Service) resume(ctx context.Context, x *run, token string) (resumed bool, err error) {
	e := x.exec
	msgs, upTo, err := readInbox(ctx, s.db, e.SID)
	if err != nil {
		return false, err
	}
	var reply *inbound
	for i := range msgs {
		if msgs[i].Index > e.WaitAfterIndex {
			reply = &msgs[i]
			break
		}
	}
	x.state = x.flow.state(e.State)
	waiter, _ := x.state.widget.(Waiter)
	timedOut := e.WaitDeadline > 0 && store.Now() >= e.WaitDeadline
	if e.WaitKind != waitReply || waiter == nil || (reply == nil && !timedOut) {
		// Still waiting: what was read is stale, or for an agent now.
		return false, s.db.InTx(ctx, func(q store.Querier) error {
			if err := dropInbox(ctx, q, e.SID, upTo); err != nil {
				return err
			}
			return saveExecution(ctx, q, *e, token, 0)
		})
	}
	e.inboxUpTo = upTo
	res, err := waiter.Resume(ctx, x, reply)
	if err != nil {
		return false, s.fail(ctx, e, token, x.state, err)
	}
	e.WaitKind, e.WaitDeadline, e.WaitAfterIndex = "", 0, -1
	_, err = s.transition(ctx, x, token, res)
	return true, err
}

// runUntilPause runs widgets from the current state until the execution
// waits or ends, saving after each.
func (s *Service) runUntilPause(ctx context.Context, x *run, token string) error {
	e := x.exec
	for n := 0; ; n++ {
		if n >= s.opts.MaxStepsPerRun {
			return s.fail(ctx, e, token, x.state, fmt.Errorf("ran %d widgets without waiting: the flow loops", n))
		}
		x.state = x.flow.state(e.State)
		if x.state == nil {
			return s.fail(ctx, e, token, nil, fmt.Errorf("state %q is not in the flow", e.State))
		}
		res, err := x.state.widget.Run(ctx, x)
		if err != nil {
			return s.fail(ctx, e, token, x.state, err)
		}
		paused, err := s.transition(ctx, x, token, res)
		if err != nil || paused || e.Status != "active" {
			return err
		}
	}
}

// transition records the step a widget's result makes and moves the
// execution: to the next state (keeping the lease), into a wait, or to
// the end (both release it). paused reports a wait.
func (s *Service) transition(ctx context.Context, x *run, token string, res result) (paused bool, err error) {
	e, st := x.exec, x.state
	if res.Output != nil {
		sub(e.Context, "widgets")[st.Name] = res.Output
	}
	if res.Event == "" && res.Wait != nil { // waiting inside the widget: no transition yet
		s.setWait(e, res.Wait)
		e.DateUpdated = store.Now()
		return true, saveExecution(ctx, s.db, *e, token, 0)
	}
	next := st.next[res.Event]
	if res.Event == "match" && res.MatchIndex < len(st.Transitions) {
		next = st.Transitions[res.MatchIndex].Next
	}
	lease := store.Now() + s.opts.Lease.Milliseconds()
	to := next
	switch {
	case next != "":
		e.State = next
	case res.Wait != nil: // handed to Flex: keep the channel's messages from starting a new execution
		s.setWait(e, res.Wait)
		to, lease = "Ended", 0
		paused = true
	default:
		e.Status, to, lease = "ended", "Ended", 0
	}
	return paused, s.saveStep(ctx, e, token, lease, st, res.Event, to, res.Output)
}

func (s *Service) setWait(e *Execution, w *wait) {
	e.WaitKind, e.WaitAfterIndex, e.WaitDeadline = w.Kind, w.AfterIndex, 0
	if w.Timeout > 0 {
		e.WaitDeadline = store.Now() + w.Timeout.Milliseconds()
	}
}

// saveStep records one step and saves the execution in one transaction.
func (s *Service) saveStep(ctx context.Context, e *Execution, token string, lease int64, st *compiledState, event, to string, output map[string]any) error {
	now := store.Now()
	stepContext, _ := json.Marshal(map[string]any{"widgets": map[string]any{st.Name: output}, "flow": e.Context["flow"]})
	step := Step{SID: rest.NewSID("FT"), AccountSID: e.AccountSID, FlowSID: e.FlowSID, ExecutionSID: e.SID, ParentSID: e.LastStepSID,
		Name: event, From: st.Name, To: to, Type: st.Type, Context: stepContext, DateCreated: now, DateUpdated: now}
	e.StepCount++
	e.LastStepSID, e.DateUpdated = step.SID, now
	if e.Status == "ended" {
		e.WaitKind, e.WaitDeadline = "", 0
	}
	err := s.db.InTx(ctx, func(q store.Querier) error {
		if err := saveExecution(ctx, q, *e, token, lease); err != nil {
			return err
		}
		if err := insertStep(ctx, q, step); err != nil {
			return err
		}
		if e.inboxUpTo > 0 {
			if err := dropInbox(ctx, q, e.SID, e.inboxUpTo); err != nil {
				return err
			}
		}
		if e.Status == "ended" {
			_, err := q.ExecContext(ctx, `DELETE FROM studio_inbox WHERE execution_sid=?`, e.SID)
			return err
		}
		return nil
	})
	if err == nil {
		e.inboxUpTo = 0
	}
	return err
}

// fail ends the execution after a widget could not run (a template that
// does not render, a flow that loops), recording why as the last step.
func (s *Service) fail(ctx context.Context, e *Execution, token string, st *compiledState, cause error) error {
	s.logger.Warn("execution failed", slog.String("execution_sid", e.SID), slog.String("flow_sid", e.FlowSID),
		slog.String("state", e.State), slog.String("reason", cause.Error()))
	if st == nil {
		st = &compiledState{State: State{Name: e.State, Type: "unknown"}}
	}
	e.Status = "ended"
	return s.saveStep(ctx, e, token, 0, st, "failed", "Ended", failure(cause))
}

// ---- the timer loop ----

func (s *Service) timerLoop() {
	defer s.loop.Done()
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.runDue()
		}
	}
}

// runDue drives executions with due work. Claims are conditional
// updates, so with several nodes each execution runs on one.
func (s *Service) runDue() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	sids, err := dueExecutions(ctx, s.db, store.Now(), 100)
	cancel()
	if err != nil {
		s.logger.Error("find due executions", slog.Any("error", err))
		return
	}
	for _, sid := range sids {
		select {
		case s.drives <- struct{}{}:
		case <-s.stop:
			return
		}
		s.spawn(func() {
			defer func() { <-s.drives }()
			s.drive(sid, "")
		})
	}
}
