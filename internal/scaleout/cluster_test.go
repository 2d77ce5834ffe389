package scaleout_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	chatv2 "github.com/twilio/twilio-go/rest/chat/v2"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rtclient"
	"github.com/parleychat/parley/internal/token"
)

func ptr[T any](v T) *T { return &v }

// noLimits lifts the per-identity and per-channel send limits, which are
// not what these tests are about.
func noLimits(c *config.Config) { c.RealtimeIdentityRate, c.RealtimeChannelRate = 0, 0 }

// cluster starts n nodes of one deployment: one fresh PostgreSQL schema,
// one NATS prefix.
func cluster(t *testing.T, n int, opts ...parleytest.Option) []*parleytest.Server {
	t.Helper()
	first := parleytest.Start(t, append([]parleytest.Option{parleytest.Postgres(t), parleytest.NATS(t), noLimits}, opts...)...)
	nodes := []*parleytest.Server{first}
	for i := 1; i < n; i++ {
		nodes = append(nodes, parleytest.Start(t, append([]parleytest.Option{parleytest.Join(first), noLimits}, opts...)...))
	}
	return nodes
}

// chatFixture is a chat service with one channel whose members are a
// visitor and an agent.
type chatFixture struct {
	service, channel string
}

func newChat(t *testing.T, srv *parleytest.Server) chatFixture {
	t.Helper()
	tw := srv.Admin().ChatV2
	svc, err := tw.CreateService(&chatv2.CreateServiceParams{FriendlyName: ptr("support")})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := tw.CreateChannel(*svc.Sid, &chatv2.CreateChannelParams{FriendlyName: ptr("web chat")})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"visitor", "agent"} {
		if _, err := tw.CreateMember(*svc.Sid, *ch.Sid, (&chatv2.CreateMemberParams{}).SetIdentity(id)); err != nil {
			t.Fatal(err)
		}
	}
	return chatFixture{service: *svc.Sid, channel: *ch.Sid}
}

// visitorToken is a guest token (as the widget gets); agentToken one an
// API key signs (as the desktop gets).
func (fx chatFixture) visitorToken(t *testing.T, srv *parleytest.Server) string {
	return srv.Token(t, token.Grant{Guest: true, Identity: "visitor", ChatServiceSID: fx.service})
}

func (fx chatFixture) agentToken(t *testing.T, srv *parleytest.Server) string {
	return srv.Token(t, token.Grant{Identity: "agent", ChatServiceSID: fx.service})
}

// inbox records the message.added events one socket receives for one channel.
type inbox struct {
	mu      sync.Mutex
	channel string
	msgs    []rtclient.Message
	bad     []string
}

func (in *inbox) onEvent(f rtclient.Frame) {
	if f.Type != "message.added" || f.ChannelSID != in.channel {
		return
	}
	m, err := rtclient.DecodeMessage(f)
	in.mu.Lock()
	defer in.mu.Unlock()
	if err != nil || f.Index == nil || *f.Index != m.Index {
		in.bad = append(in.bad, fmt.Sprintf("bad message.added frame %+v: %v", f, err))
		return
	}
	in.msgs = append(in.msgs, m)
}

// waitIndexes waits until the inbox holds messages up to last, then
// checks it holds exactly first..last, in order, each once.
func (in *inbox) waitIndexes(t *testing.T, who string, first, last int64) []rtclient.Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		in.mu.Lock()
		got := slices.Clone(in.msgs)
		bad := slices.Clone(in.bad)
		in.mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("%s: %v", who, bad)
		}
		if n := len(got); n > 0 && got[n-1].Index >= last || time.Now().After(deadline) {
			var idx []int64
			for _, m := range got {
				idx = append(idx, m.Index)
			}
			for i, x := range idx {
				if x != first+int64(i) {
					t.Fatalf("%s received indexes %v, want %d..%d in order, each once", who, idx, first, last)
				}
			}
			if int64(len(idx)) != last-first+1 {
				t.Fatalf("%s received indexes %v, want %d..%d", who, idx, first, last)
			}
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// connect dials a node with a token and subscribes to the channel from
// lastIndex (nil: only new messages).
func connect(t *testing.T, srv *parleytest.Server, tok, channel string, lastIndex *int64) (*rtclient.Conn, *inbox) {
	t.Helper()
	in := &inbox{channel: channel}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtclient.Dial(ctx, srv.URL, tok, in.onEvent)
	if err != nil {
		t.Fatalf("connect to %s: %v", srv.URL, err)
	}
	t.Cleanup(func() { c.Kill() })
	if _, err := c.Subscribe(ctx, channel, lastIndex); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return c, in
}

// converse opens a channel with a visitor connected to node a and an
// agent connected to node b, both subscribed.
func converse(t *testing.T, a, b *parleytest.Server) (fx chatFixture, visitor *rtclient.Conn, vin *inbox, agent *rtclient.Conn, ain *inbox) {
	t.Helper()
	fx = newChat(t, a)
	visitor, vin = connect(t, a, fx.visitorToken(t, a), fx.channel, nil)
	agent, ain = connect(t, b, fx.agentToken(t, b), fx.channel, nil)
	return fx, visitor, vin, agent, ain
}

func send(t *testing.T, c *rtclient.Conn, channel, body, clientID string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	idx, err := c.Send(ctx, channel, body, clientID)
	if err != nil {
		t.Fatalf("send %s: %v", clientID, err)
	}
	return idx
}
