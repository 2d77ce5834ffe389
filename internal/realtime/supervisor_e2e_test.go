package realtime_test

import (
	"strings"
	"testing"

	tr "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/token"
)

// TestRealtimeWorkspaceSignals: a TaskRouter change reaches the sockets
// of the workspace's supervisors as one statistics.changed, not a plain
// agent's socket, nor another account's supervisor's (even one naming
// the same workspace SID).
func TestRealtimeWorkspaceSignals(t *testing.T) {
	eachBackend(t, func(t *testing.T, srv *parleytest.Server) {
		setup := srv.App.FlexSetup
		grant := func(identity, role string) token.Grant {
			return token.Grant{Identity: identity, ChatServiceSID: setup.ChatServiceSID, WorkspaceSID: setup.WorkspaceSID,
				WorkerSID: "WK" + strings.Repeat("4", 32), TaskRouterRole: role}
		}
		sup := connect(t, srv, srv.Token(t, grant("sup@example.com", "supervisor")))
		agent := connect(t, srv, srv.Token(t, grant("ann@example.com", "")))
		other, err := srv.App.Accounts.Create(t.Context(), "other")
		if err != nil {
			t.Fatal(err)
		}
		g := grant("eve@example.com", "supervisor")
		g.AccountSID, g.ChatServiceSID = other.SID, ""
		eve := connect(t, srv, srv.Token(t, g))

		_, err = srv.Admin().TaskrouterV1.CreateTask(setup.WorkspaceSID, &tr.CreateTaskParams{WorkflowSid: &setup.WorkflowSID,
			TaskChannel: ptr("chat"), Attributes: ptr(`{"name":"Grace"}`)})
		if err != nil {
			t.Fatal(err)
		}
		f := sup.next("statistics.changed")
		evs, _ := f["data"].(map[string]any)["events"].([]any)
		if f["workspace_sid"] != setup.WorkspaceSID || f["account_sid"] != srv.AccountSID || len(evs) == 0 || evs[0] != "task.created" {
			t.Fatalf("the supervisor's signal: %v", f)
		}
		for name, c := range map[string]*wsClient{"a plain agent": agent, "another account's supervisor": eve} {
			c.do(map[string]any{"type": "ping"}) // anything queued before the pong has arrived
			if n := c.count("statistics.changed"); n != 0 {
				t.Fatalf("%s got %d workspace signals", name, n)
			}
		}
	})
}
