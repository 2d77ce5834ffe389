// Package bustest is the conformance suite every bus.Bus implementation
// must pass: run it with a factory that returns a fresh bus.
package bustest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/bus"
)

// Run runs the suite. newBus returns a fresh, connected bus; several may
// be open at once (as several nodes), and they must see each other's
// messages when they share a backend.
func Run(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	t.Run("DeliversInOrder", func(t *testing.T) { deliversInOrder(t, newBus) })
	t.Run("Wildcards", func(t *testing.T) { wildcards(t, newBus) })
	t.Run("Unsubscribe", func(t *testing.T) { unsubscribe(t, newBus) })
	t.Run("FanOutAcrossInstances", func(t *testing.T) { fanOut(t, newBus) })
	t.Run("Healthy", func(t *testing.T) {
		if err := newBus(t).Healthy(); err != nil {
			t.Fatalf("fresh bus unhealthy: %v", err)
		}
	})
}

type collector struct {
	mu   sync.Mutex
	msgs []bus.Msg
	cond chan struct{}
}

func newCollector() *collector { return &collector{cond: make(chan struct{}, 1)} }

func (c *collector) add(m bus.Msg) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	select {
	case c.cond <- struct{}{}:
	default:
	}
}

func (c *collector) wait(t *testing.T, n int) []bus.Msg {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		got := append([]bus.Msg(nil), c.msgs...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-c.cond:
		case <-deadline:
			t.Fatalf("received %d messages, want %d", len(got), n)
		}
	}
}

// settle gives a remote bus time to register a subscription before the
// first publish (NATS subscriptions propagate asynchronously).
func settle() { time.Sleep(50 * time.Millisecond) }

func deliversInOrder(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	b := newBus(t)
	c := newCollector()
	sub, err := b.Subscribe("chat.CH1", c.add)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	settle()
	const n = 500
	for i := 0; i < n; i++ {
		if err := b.Publish(context.Background(), "chat.CH1", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	got := c.wait(t, n)
	for i, m := range got {
		if string(m.Data) != fmt.Sprint(i) || m.Subject != "chat.CH1" {
			t.Fatalf("message %d = %s %q: out of order or duplicated", i, m.Subject, m.Data)
		}
	}
}

func wildcards(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	b := newBus(t)
	all, one := newCollector(), newCollector()
	s1, _ := b.Subscribe("worker.>", all.add)
	s2, _ := b.Subscribe("worker.*", one.add)
	defer s1.Unsubscribe()
	defer s2.Unsubscribe()
	settle()
	ctx := context.Background()
	b.Publish(ctx, "worker.WK1", []byte("a"))
	b.Publish(ctx, "worker.WK1.sub", []byte("b"))
	b.Publish(ctx, "other.WK1", []byte("c"))
	b.Publish(ctx, "worker", []byte("d"))
	if got := all.wait(t, 2); len(got) != 2 || string(got[0].Data) != "a" || string(got[1].Data) != "b" {
		t.Fatalf("worker.> got %v", got)
	}
	if got := one.wait(t, 1); string(got[0].Data) != "a" {
		t.Fatalf("worker.* got %v", got)
	}
	time.Sleep(100 * time.Millisecond)
	if got := one.wait(t, 1); len(got) != 1 {
		t.Fatalf("worker.* matched too much: %v", got)
	}
}

func unsubscribe(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	b := newBus(t)
	c := newCollector()
	sub, _ := b.Subscribe("keys.deleted", c.add)
	settle()
	b.Publish(context.Background(), "keys.deleted", []byte("1"))
	c.wait(t, 1)
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatalf("second Unsubscribe: %v", err)
	}
	b.Publish(context.Background(), "keys.deleted", []byte("2"))
	time.Sleep(100 * time.Millisecond)
	if got := c.wait(t, 1); len(got) != 1 {
		t.Fatalf("delivered after unsubscribe: %v", got)
	}
}

func fanOut(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	a, b := newBus(t), newBus(t)
	ca, cb := newCollector(), newCollector()
	sa, _ := a.Subscribe("chat.>", ca.add)
	sb, _ := b.Subscribe("chat.>", cb.add)
	defer sa.Unsubscribe()
	defer sb.Unsubscribe()
	settle()
	a.Publish(context.Background(), "chat.CH9", []byte("x"))
	ca.wait(t, 1)
	// Separate in-process buses share nothing; buses on one backend (NATS)
	// must see each other's messages. Both behaviours are legal, so the
	// suite only checks that the second copy, when present, is exact.
	time.Sleep(100 * time.Millisecond)
	cb.mu.Lock()
	defer cb.mu.Unlock()
	for _, m := range cb.msgs {
		if m.Subject != "chat.CH9" || string(m.Data) != "x" {
			t.Fatalf("other instance got %v", m)
		}
	}
}
