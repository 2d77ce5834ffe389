package scaleout_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rest"
)

// privateCluster starts n nodes on one PostgreSQL schema and a private
// NATS server.
func privateCluster(t *testing.T, n int) ([]*parleytest.Server, *natsServer) {
	t.Helper()
	ns := startNATS(t)
	first := parleytest.Start(t, parleytest.Postgres(t), parleytest.NATSAt(ns.URL(), "fault"+rest.RandomHex(4)), noLimits)
	nodes := []*parleytest.Server{first}
	for i := 1; i < n; i++ {
		nodes = append(nodes, parleytest.Start(t, parleytest.Join(first), noLimits))
	}
	return nodes, ns
}

// readyz returns /readyz's status and its bus check.
func readyz(t *testing.T, srv *parleytest.Server) (int, string) {
	t.Helper()
	res, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Checks map[string]string `json:"checks"`
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body.Checks["bus"]
}

// waitReady waits until /readyz answers want on every node, and returns
// the last bus check.
func waitReady(t *testing.T, nodes []*parleytest.Server, want int, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		all, bus := true, ""
		for _, n := range nodes {
			code, check := readyz(t, n)
			all = all && code == want
			bus = check
		}
		if all {
			return bus
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz did not answer %d within %s (bus: %q)", want, within, bus)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testBusOutage runs a conversation across two nodes through an outage
// of the bus that down starts and up ends: meanwhile /readyz names the
// bus, sends still commit, and afterwards both sides have every message
// in order, once, with no restart.
func testBusOutage(t *testing.T, down, up func(*natsServer), detect time.Duration) {
	nodes, ns := privateCluster(t, 2)
	a, b := nodes[0], nodes[1]
	fx, visitor, vin, agent, ain := converse(t, a, b)
	for i := range 5 {
		send(t, visitor, fx.channel, fmt.Sprintf("before %d", i), fmt.Sprintf("b%d", i))
	}
	ain.waitIndexes(t, "agent before the outage", 0, 4)

	down(ns)
	check := waitReady(t, nodes, http.StatusServiceUnavailable, detect)
	if !strings.Contains(check, "nats") {
		t.Fatalf("/readyz bus check %q does not say NATS is the problem", check)
	}
	for i := range 5 {
		send(t, visitor, fx.channel, fmt.Sprintf("during %d", i), fmt.Sprintf("d%d", i))
		send(t, agent, fx.channel, fmt.Sprintf("reply %d", i), fmt.Sprintf("r%d", i))
	}

	up(ns)
	waitReady(t, nodes, http.StatusOK, 30*time.Second)
	// The first live message after the outage shows each side its gap,
	// which it fills from the store.
	deadline := time.Now().Add(20 * time.Second)
	var last int64
	for i := 0; ; i++ {
		last = send(t, visitor, fx.channel, fmt.Sprintf("after %d", i), fmt.Sprintf("a%d", i))
		ain.mu.Lock()
		n := len(ain.msgs)
		ain.mu.Unlock()
		if n > 0 && int64(n) >= last+1 || time.Now().After(deadline) {
			break // NATS resubscriptions propagate asynchronously: retry until one arrives
		}
		time.Sleep(200 * time.Millisecond)
	}
	ain.waitIndexes(t, "agent on node B after the outage", 0, last)
	last2 := send(t, agent, fx.channel, "all good", "ok")
	vin.waitIndexes(t, "visitor on node A after the outage", 0, last2)
}

// NATS killed and restarted mid-conversation.
func TestNATSRestartMidConversation(t *testing.T) {
	testBusOutage(t, (*natsServer).kill, (*natsServer).start, 10*time.Second)
}

// NATS unreachable (frozen: no connection is closed, nothing answers) for
// a while: the nodes notice by their pings.
func TestNATSUnreachableMidConversation(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 20s: the nodes notice a silent server by missed pings")
	}
	testBusOutage(t, (*natsServer).freeze, (*natsServer).thaw, 30*time.Second)
}

// A node stops; its clients reconnect to the other node and resume with
// nothing lost.
func TestNodeStoppedClientsResumeElsewhere(t *testing.T) {
	nodes := cluster(t, 2)
	a, b := nodes[0], nodes[1]
	fx, visitor, vin, agent, ain := converse(t, a, b)
	for i := range 5 {
		send(t, visitor, fx.channel, fmt.Sprintf("m%d", i), fmt.Sprintf("m%d", i))
	}
	got := ain.waitIndexes(t, "agent on node B", 0, 4)
	b.Stop()
	select {
	case <-agent.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the agent's socket stayed open after its node stopped")
	}
	for i := 5; i < 10; i++ {
		send(t, visitor, fx.channel, fmt.Sprintf("m%d", i), fmt.Sprintf("m%d", i))
	}
	lastSeen := got[len(got)-1].Index
	back, bin := connect(t, a, fx.agentToken(t, a), fx.channel, &lastSeen)
	send(t, back, fx.channel, "back", "back")
	bin.waitIndexes(t, "agent resumed on node A", 5, 10)
	vin.waitIndexes(t, "visitor", 0, 10)
}
