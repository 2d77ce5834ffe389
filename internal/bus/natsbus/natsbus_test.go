package natsbus_test

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/bus/bustest"
	"github.com/parleychat/parley/internal/bus/natsbus"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store/storetest"
)

// natsURL returns the shared test server's URL, or skips.
func natsURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("PARLEY_TEST_NATS_URL")
	if u == "" {
		storetest.Skip(t, "NATS tests skipped: set PARLEY_TEST_NATS_URL=nats://127.0.0.1:4222 to run them")
	}
	return u
}

// connect opens a bus and waits until it is connected.
func connect(t *testing.T, url, prefix string) *natsbus.Bus {
	t.Helper()
	b, err := natsbus.New(url, natsbus.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for b.Healthy() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not connected: %v", b.Healthy())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return b
}

// The buses one case opens share a prefix (they are nodes of one
// deployment); each case has its own, so runs sharing the server never
// see each other's messages.
func TestConformance(t *testing.T) {
	url := natsURL(t)
	var mu sync.Mutex
	prefixes := map[string]string{}
	bustest.Run(t, func(t *testing.T) bus.Bus {
		mu.Lock()
		p, ok := prefixes[t.Name()]
		if !ok {
			p = "test" + rest.RandomHex(8)
			prefixes[t.Name()] = p
		}
		mu.Unlock()
		return connect(t, url, p)
	})
}

type recorder struct {
	mu   sync.Mutex
	msgs []bus.Msg
}

func (r *recorder) add(m bus.Msg) { r.mu.Lock(); r.msgs = append(r.msgs, m); r.mu.Unlock() }

func (r *recorder) waitFor(t *testing.T, n int) []bus.Msg {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		got := append([]bus.Msg(nil), r.msgs...)
		r.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two nodes of one deployment see each other's events, with the prefix
// stripped; another deployment on the same server sees none of them.
func TestNodesShareOneDeploymentOnly(t *testing.T) {
	url := natsURL(t)
	p := "test" + rest.RandomHex(8)
	a, b, other := connect(t, url, p), connect(t, url, p), connect(t, url, p+"x")
	var onB, onOther recorder
	sb, _ := b.Subscribe("chat.>", onB.add)
	so, _ := other.Subscribe(">", onOther.add)
	defer sb.Unsubscribe()
	defer so.Unsubscribe()
	time.Sleep(50 * time.Millisecond)
	if err := a.Publish(context.Background(), "chat.CH1", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	got := onB.waitFor(t, 1)
	if len(got) != 1 || got[0].Subject != "chat.CH1" || string(got[0].Data) != "hi" {
		t.Fatalf("node B got %v, want chat.CH1 hi", got)
	}
	time.Sleep(100 * time.Millisecond)
	if got := onOther.waitFor(t, 0); len(got) != 0 {
		t.Fatalf("another deployment saw %v", got)
	}
}

// With no server to talk to, the bus still starts (it keeps trying), says
// why it is unhealthy, and refuses to publish at once rather than buffer.
func TestUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	b, err := natsbus.New("nats://"+addr, natsbus.Options{ReconnectWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	herr := b.Healthy()
	if herr == nil || !strings.Contains(herr.Error(), "nats") {
		t.Fatalf("Healthy() = %v, want an error naming nats", herr)
	}
	start := time.Now()
	if err := b.Publish(context.Background(), "chat.CH1", []byte("x")); err == nil {
		t.Fatal("publish while disconnected succeeded; it must fail (no reconnect buffer)")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("publish while disconnected blocked for %s", d)
	}
	if _, err := b.Subscribe("chat.>", func(bus.Msg) {}); err != nil {
		t.Fatalf("subscribe while disconnected: %v (it must be re-sent on connect)", err)
	}
}

func TestBadPrefix(t *testing.T) {
	for _, p := range []string{"a b", "a.*", "a.>", ".a", "a.", "a..b"} {
		if _, err := natsbus.New("nats://127.0.0.1:1", natsbus.Options{Prefix: p}); err == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
}

func TestClosed(t *testing.T) {
	b := connect(t, natsURL(t), "test"+rest.RandomHex(8))
	sub, err := b.Subscribe("x", func(bus.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := sub.Unsubscribe(); err != nil {
		t.Errorf("unsubscribe after close: %v", err)
	}
	if err := b.Publish(context.Background(), "x", nil); err != bus.ErrClosed {
		t.Errorf("publish after close = %v, want bus.ErrClosed", err)
	}
	if b.Healthy() == nil {
		t.Error("closed bus reports healthy")
	}
}
