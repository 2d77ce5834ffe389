package studio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// fakeChat is a chat channel store: it keeps posted messages, honours
// client message ids, and hands out increasing indexes per channel.
type fakeChat struct {
	mu      sync.Mutex
	sent    []sentMessage
	byKey   map[string]sentMessage
	index   map[string]int64
	failFor string // a body that fails to send
}

type sentMessage struct {
	SID, Service, Channel, From, Body, Attributes string
	Index                                         int64
}

func newFakeChat() *fakeChat {
	return &fakeChat{byKey: map[string]sentMessage{}, index: map[string]int64{}}
}

func (f *fakeChat) SendMessage(_ context.Context, accountSID, serviceSID, channelSID, from, body, attributes, clientMessageID string) (json.RawMessage, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failFor != "" && body == f.failFor {
		return nil, 0, errors.New("channel not found")
	}
	if m, ok := f.byKey[clientMessageID]; ok && clientMessageID != "" {
		raw, _ := json.Marshal(map[string]any{"sid": m.SID})
		return raw, m.Index, nil
	}
	m := sentMessage{SID: rest.NewSID("IM"), Service: serviceSID, Channel: channelSID, From: from, Body: body,
		Attributes: attributes, Index: f.nextIndex(channelSID)}
	f.sent = append(f.sent, m)
	f.byKey[clientMessageID] = m
	raw, _ := json.Marshal(map[string]any{"sid": m.SID})
	return raw, m.Index, nil
}

// nextIndex also serves the visitor's messages, so indexes interleave as in a channel.
func (f *fakeChat) nextIndex(channel string) int64 {
	i := f.index[channel]
	f.index[channel] = i + 1
	return i
}

func (f *fakeChat) visitorIndex(channel string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nextIndex(channel)
}

func (f *fakeChat) bodies(channel string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.sent {
		if m.Channel == channel {
			out = append(out, m.Body)
		}
	}
	return out
}

type fakeTasks struct {
	mu        sync.Mutex
	workflows map[string]bool
	created   []createdTask
}

type createdTask struct {
	Workflow, Channel, Attributes string
	Priority, Timeout             int
}

func (f *fakeTasks) CreateTaskForWorkflow(_ context.Context, accountSID, workflowSID, taskChannel, attributes string, priority, timeout int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.workflows[workflowSID] {
		return "", fmt.Errorf("workflow %s not found", workflowSID)
	}
	f.created = append(f.created, createdTask{workflowSID, taskChannel, attributes, priority, timeout})
	return rest.NewSID("WT"), nil
}

func (f *fakeTasks) tasks() []createdTask {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]createdTask(nil), f.created...)
}

// env is a Studio service on a real database with fake neighbours.
type env struct {
	t     *testing.T
	db    *store.DB
	svc   *Service
	chat  *fakeChat
	tasks *fakeTasks
	acct  string
}

func testLogger() *slog.Logger {
	var w io.Writer = io.Discard
	if os.Getenv("PARLEY_TEST_LOG") == "1" {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newEnv(t *testing.T, db *store.DB) *env {
	e := &env{t: t, db: db, chat: newFakeChat(), tasks: &fakeTasks{workflows: map[string]bool{}}, acct: rest.NewSID("AC")}
	e.svc = e.service()
	return e
}

// service starts a Studio node on the env's database (a second call is
// a second node, or the node after a restart).
func (e *env) service() *Service {
	s := New(e.db, testLogger(), Options{Tick: 20 * time.Millisecond, MaxHTTPTimeout: 2 * time.Second})
	s.SetChat(e.chat)
	s.SetTasks(e.tasks)
	s.Start()
	e.t.Cleanup(s.Stop)
	return s
}

// publish saves a published flow from a definition given as JSON text.
func (e *env) publish(def string) FlowRecord {
	e.t.Helper()
	name := "Support Bot"
	rec, err := e.svc.CreateFlow(context.Background(), e.acct, FlowInput{FriendlyName: &name, Status: "published", Definition: []byte(def)})
	if err != nil {
		e.t.Fatalf("create flow: %v", err)
	}
	return rec
}

// visitor delivers a visitor's message on channel.
func (e *env) visitor(flow FlowRecord, channel, body, channelAttrs string) {
	e.t.Helper()
	m := IncomingMessage{AccountSID: e.acct, FlowSID: flow.SID, ServiceSID: "IS" + strings.Repeat("0", 32), ChannelSID: channel,
		MessageSID: rest.NewSID("IM"), Index: e.chat.visitorIndex(channel), From: "guest-1", Body: body,
		ChannelAttributes: channelAttrs, Source: "SDK"}
	if err := e.svc.DeliverMessage(context.Background(), m); err != nil {
		e.t.Fatalf("deliver: %v", err)
	}
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitBodies waits until the channel holds exactly want (in order).
func (e *env) waitBodies(channel string, want ...string) {
	e.t.Helper()
	eventually(e.t, fmt.Sprintf("messages %q", want), func() bool {
		return strings.Join(e.chat.bodies(channel), "|") == strings.Join(want, "|")
	})
}

// onlyExecution returns the flow's single execution.
func (e *env) onlyExecution(flow FlowRecord) Execution {
	e.t.Helper()
	rows, err := e.svc.Executions(context.Background(), e.acct, flow.SID, ExecutionFilter{}, rest.Page{Size: 50})
	if err != nil || len(rows) != 1 {
		e.t.Fatalf("executions: %v %d", err, len(rows))
	}
	return rows[0]
}

func (e *env) waitEnded(flow FlowRecord, sid string) Execution {
	e.t.Helper()
	var ex Execution
	eventually(e.t, "execution ended", func() bool {
		var err error
		ex, err = e.svc.Execution(context.Background(), e.acct, flow.SID, sid)
		return err == nil && ex.Status == "ended"
	})
	return ex
}

func (e *env) steps(flow FlowRecord, execSID string) []Step {
	e.t.Helper()
	steps, err := e.svc.Steps(context.Background(), e.acct, flow.SID, execSID, rest.Page{Size: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return steps
}

// defJSON builds a definition: a trigger whose incomingMessage (and
// incomingRequest) leads to first, then the given states.
func defJSON(first string, states ...string) string {
	trigger := fmt.Sprintf(`{"name":"Trigger","type":"trigger","transitions":[{"event":"incomingMessage","next":%q},{"event":"incomingRequest","next":%q}],"properties":{"offset":{"x":0,"y":0}}}`, first, first)
	return `{"description":"test","initial_state":"Trigger","flags":{"allow_concurrent_calls":true},"states":[` +
		strings.Join(append([]string{trigger}, states...), ",") + `]}`
}

func sendState(name, body, next string) string {
	return fmt.Sprintf(`{"name":%q,"type":"send-message","transitions":[{"event":"sent","next":%q},{"event":"failed"}],
		"properties":{"body":%q,"service":"{{trigger.message.InstanceSid}}","channel":"{{trigger.message.ChannelSid}}","from":"{{flow.channel.address}}"}}`, name, next, body)
}

func endState(name, body string) string {
	return fmt.Sprintf(`{"name":%q,"type":"send-message","transitions":[{"event":"sent"},{"event":"failed"}],"properties":{"body":%q}}`, name, body)
}

// waitKind waits until the flow's only execution waits in the given way.
func (e *env) waitKind(flow FlowRecord, kind string) Execution {
	e.t.Helper()
	var ex Execution
	eventually(e.t, "a wait of kind "+kind, func() bool {
		ex = e.onlyExecution(flow)
		return ex.WaitKind == kind
	})
	return ex
}
