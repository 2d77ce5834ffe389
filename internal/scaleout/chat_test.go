package scaleout_test

import (
	"fmt"
	"github.com/parleychat/parley/internal/rtclient"
	"sync"
	"testing"
)

// A visitor on node A and an agent on node B converse: both see every
// message in index order, once; a retried send on another node returns
// the original; an agent whose connection drops resumes on the other node
// with exactly what it missed.
func TestConversationAcrossNodes(t *testing.T) {
	nodes := cluster(t, 2)
	a, b := nodes[0], nodes[1]
	fx, visitor, vin, agent, ain := converse(t, a, b)

	const each = 25
	var wg sync.WaitGroup
	for _, side := range []struct {
		name string
		send func(i int) int64
	}{
		{"visitor", func(i int) int64 { return send(t, visitor, fx.channel, fmt.Sprintf("v%d", i), fmt.Sprintf("v-%d", i)) }},
		{"agent", func(i int) int64 { return send(t, agent, fx.channel, fmt.Sprintf("a%d", i), fmt.Sprintf("a-%d", i)) }},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				side.send(i)
			}
		}()
	}
	wg.Wait()
	// A message only the visitor sends reaches node B's agent through the
	// bus alone (no later message of the agent's would reveal a gap).
	last := send(t, visitor, fx.channel, "anyone there?", "v-last")
	vgot := vin.waitIndexes(t, "visitor on node A", 0, last)
	agot := ain.waitIndexes(t, "agent on node B", 0, last)
	for i := range vgot {
		if vgot[i].SID != agot[i].SID {
			t.Fatalf("index %d is %s for the visitor but %s for the agent", i, vgot[i].SID, agot[i].SID)
		}
	}

	// The widget retries a send whose ack it lost, through the other node.
	retry, _ := connect(t, b, fx.visitorToken(t, b), fx.channel, nil)
	if idx := send(t, retry, fx.channel, "v3", "v-3"); idx != indexOf(t, vgot, "v3") {
		t.Fatalf("retried send got index %d, want the original %d", idx, indexOf(t, vgot, "v3"))
	}

	// The agent's connection drops; the visitor goes on; the agent comes
	// back through node A with the last index it had.
	agent.Kill()
	for i := range 10 {
		send(t, visitor, fx.channel, fmt.Sprintf("while away %d", i), fmt.Sprintf("away-%d", i))
	}
	resumed, rin := connect(t, a, fx.agentToken(t, a), fx.channel, &last)
	send(t, visitor, fx.channel, "welcome back", "back")
	send(t, resumed, fx.channel, "thanks", "thanks")
	rin.waitIndexes(t, "agent resumed on node A", last+1, last+12)
	vin.waitIndexes(t, "visitor", 0, last+12) // the retry added nothing
}

func indexOf(t *testing.T, msgs []rtclient.Message, body string) int64 {
	t.Helper()
	for _, m := range msgs {
		if m.Body == body {
			return m.Index
		}
	}
	t.Fatalf("no message %q", body)
	return -1
}
