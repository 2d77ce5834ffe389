package realtime

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/bus"
)

const (
	testWorkspace  = "WS00000000000000000000000000000001"
	otherWorkspace = "WS00000000000000000000000000000002"
	otherAccount   = "AC00000000000000000000000000000002"
)

// supervisor connects identity with a TaskRouter grant of role (and the
// given account and workspace).
func (h *harness) connectRole(identity, role, account, workspace string) *client {
	h.t.Helper()
	p := h.principal(identity)
	p.AccountSID, p.WorkspaceSID, p.TaskRouterRole = account, workspace, role
	p.WorkerSID = "WK" + fmt.Sprintf("%032x", len(identity)+len(role)+len(workspace))
	h.ver.add("tok-"+identity, p)
	c := h.open("", 0)
	if r := c.do(map[string]any{"type": "auth", "token": "tok-" + identity}); r["type"] != TypeReply {
		h.t.Fatalf("auth: %v", r)
	}
	return c
}

func (h *harness) signal(account, workspace string, types ...string) {
	h.t.Helper()
	list, _ := json.Marshal(types)
	ev := fmt.Sprintf(`{"v":1,"type":"statistics.changed","account_sid":%q,"workspace_sid":%q,"data":{"events":%s}}`,
		account, workspace, list)
	// Straight to the hub (as the bus would), so that each signal is
	// handled before the test goes on.
	h.svc.onWorkspace(bus.Msg{Subject: "workspace." + workspace, Data: []byte(ev)})
}

func events(f map[string]any) []string {
	var out []string
	for _, e := range f["data"].(map[string]any)["events"].([]any) {
		out = append(out, e.(string))
	}
	return out
}

func count(c *client, typ string) int {
	n := 0
	for _, f := range c.rec.all() {
		if f["type"] == typ {
			n++
		}
	}
	return n
}

// TestWorkspaceSignalsReachSupervisorsOnly: a workspace's signal reaches
// its supervisors, not a plain agent of the workspace, nor a supervisor
// of another workspace or account.
func TestWorkspaceSignalsReachSupervisorsOnly(t *testing.T) {
	h := newHarness(t)
	sup := h.connectRole("sup", RoleSupervisor, testAccount, testWorkspace)
	agent := h.connectRole("agent", "worker", testAccount, testWorkspace)
	otherWS := h.connectRole("sup-ws2", RoleSupervisor, testAccount, otherWorkspace)
	otherAcct := h.connectRole("sup-ac2", RoleSupervisor, otherAccount, testWorkspace)

	h.signal(testAccount, testWorkspace, "task.created")
	if f := sup.next(isType("statistics.changed")); f["workspace_sid"] != testWorkspace || !slices.Equal(events(f), []string{"task.created"}) {
		t.Fatalf("supervisor's signal: %v", f)
	}
	// A later signal of their own arrives; the first one never did.
	h.signal(testAccount, otherWorkspace, "worker.activity.update")
	otherWS.next(isType("statistics.changed"))
	h.signal(otherAccount, testWorkspace, "task.canceled")
	if f := otherAcct.next(isType("statistics.changed")); !slices.Equal(events(f), []string{"task.canceled"}) {
		t.Fatalf("other account's signal: %v", f)
	}
	for name, c := range map[string]*client{"the agent": agent, "workspace 2's supervisor": otherWS, "account 2's supervisor": otherAcct} {
		want := 1
		if c == agent {
			want = 0
		}
		if n := count(c, "statistics.changed"); n != want {
			t.Fatalf("%s got %d workspace signals, want %d", name, n, want)
		}
	}
	if n := count(sup, "statistics.changed"); n != 1 {
		t.Fatalf("the supervisor got %d signals, want 1 (not the other workspace's or account's)", n)
	}
}

// TestWorkspaceSignalsMerged: a supervisor gets the first signal at once
// and those that follow within WorkspaceInterval as one.
func TestWorkspaceSignalsMerged(t *testing.T) {
	h := newHarness(t)
	sup := h.connectRole("sup", RoleSupervisor, testAccount, testWorkspace)
	h.signal(testAccount, testWorkspace, "task.created")
	sup.next(isType("statistics.changed"))
	h.signal(testAccount, testWorkspace, "reservation.created", "task.updated")
	h.signal(testAccount, testWorkspace, "reservation.accepted", "task.updated")
	if n := count(sup, "statistics.changed"); n != 1 {
		t.Fatalf("%d signals before the interval passed, want 1", n)
	}
	h.clock.Advance(500 * time.Millisecond)
	f := sup.next(isType("statistics.changed"))
	if got := events(f); !slices.Equal(got, []string{"reservation.created", "task.updated", "reservation.accepted"}) ||
		f["account_sid"] != testAccount || f["workspace_sid"] != testWorkspace {
		t.Fatalf("merged signal: %v", f)
	}
	// A quiet interval disarms: the next signal goes at once.
	h.clock.Advance(500 * time.Millisecond)
	h.signal(testAccount, testWorkspace, "task.completed")
	if f := sup.next(isType("statistics.changed")); !slices.Equal(events(f), []string{"task.completed"}) {
		t.Fatalf("signal after a quiet interval: %v", f)
	}
}

// TestSupervisorMonitorsReadOnly: a supervisor follows a chat it is not
// a member of (history, live messages) but may not send, mark read or
// type in it, and the membership re-read leaves it alone; an agent and a
// guest with a forged supervisor role may not monitor at all.
func TestSupervisorMonitorsReadOnly(t *testing.T) {
	h := newHarness(t)
	h.chat.addChannel(chanA, "guest", "agent")
	guest := h.connect("guest")
	guest.subscribe(chanA, nil)
	guest.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "hello", "client_message_id": "g1"})
	sup := h.connectRole("sup", RoleSupervisor, testAccount, testWorkspace)

	r := sup.subscribe(chanA, ptr(-1))
	if r["last_index"].(float64) != 0 || r["replayed"].(float64) != 1 {
		t.Fatalf("monitor's subscribe: %v", r)
	}
	sup.next(func(f map[string]any) bool { return f["type"] == TypeMessageAdded && index(f) == 0 })
	hist := sup.do(map[string]any{"type": "history", "channel_sid": chanA})
	if hist["type"] != TypeReply || len(hist["data"].(map[string]any)["messages"].([]any)) != 1 {
		t.Fatalf("monitor's history: %v", hist)
	}
	guest.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "<b>live</b>", "client_message_id": "g2"})
	sup.next(func(f map[string]any) bool { return f["type"] == TypeMessageAdded && index(f) == 1 })

	for _, frame := range []map[string]any{
		{"type": "send", "channel_sid": chanA, "body": "I am watching", "client_message_id": "s1"},
		{"type": "read", "channel_sid": chanA, "index": 1},
		{"type": "typing", "channel_sid": chanA},
	} {
		if f := sup.do(frame); errCode(f) != 20403 {
			t.Fatalf("monitor's %s: %v, want 20403", frame["type"], f)
		}
	}
	if ok, _ := h.chat.IsMember(t.Context(), testAccount, testService, chanA, "sup"); ok {
		t.Fatal("monitoring made the supervisor a member")
	}
	// The membership re-read (every recheckEvery heartbeats) keeps the monitor.
	for range recheckEvery {
		sup.raw(map[string]any{"type": "pong"})
		guest.raw(map[string]any{"type": "pong"})
		h.clock.Advance(30 * time.Second)
	}
	guest.do(map[string]any{"type": "send", "channel_sid": chanA, "body": "still there?", "client_message_id": "g3"})
	sup.next(func(f map[string]any) bool { return f["type"] == TypeMessageAdded && index(f) == 2 })
	if n := count(sup, TypeUnsubscribed); n != 0 {
		t.Fatal("the membership re-read dropped the monitored channel")
	}

	agent := h.connectRole("bob", "worker", testAccount, testWorkspace)
	p := h.principal("forged")
	p.Guest, p.TaskRouterRole, p.WorkspaceSID = true, RoleSupervisor, testWorkspace
	h.ver.add("tok-forged", p)
	forged := h.open("", 0)
	forged.do(map[string]any{"type": "auth", "token": "tok-forged"})
	for name, c := range map[string]*client{"an agent": agent, "a guest": forged} {
		if f := c.do(map[string]any{"type": "subscribe", "channel_sid": chanA}); errCode(f) != 20403 {
			t.Fatalf("%s subscribed to a chat it is not in: %v", name, f)
		}
		if f := c.do(map[string]any{"type": "history", "channel_sid": chanA}); errCode(f) != 20403 {
			t.Fatalf("%s read a chat it is not in: %v", name, f)
		}
	}
	// A channel that does not exist is not found, for a supervisor too.
	if f := sup.do(map[string]any{"type": "subscribe", "channel_sid": chanB}); errCode(f) != 20404 {
		t.Fatalf("monitoring a missing channel: %v", f)
	}
}
