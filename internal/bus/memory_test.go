package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/bus/bustest"
)

func TestMemoryConformance(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bus.Bus {
		b := bus.NewMemory(0)
		t.Cleanup(func() { b.Close() })
		return b
	})
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"a.b", "a.b", true}, {"a.*", "a.b", true}, {"a.*", "a.b.c", false}, {"a.>", "a.b.c", true},
		{"a.>", "a", false}, {"*.b", "x.b", true}, {"a.b", "a.c", false}, {">", "a", true},
	} {
		if got := bus.Match(tc.p, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

// A subscriber that does not keep up loses messages (counted) instead of
// blocking the publisher.
func TestMemorySlowSubscriberDrops(t *testing.T) {
	b := bus.NewMemory(4)
	defer b.Close()
	block := make(chan struct{})
	sub, _ := b.Subscribe("s", func(bus.Msg) { <-block })
	defer sub.Unsubscribe()
	done := make(chan struct{})
	go func() {
		for i := 0; i < 100; i++ {
			b.Publish(context.Background(), "s", nil)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publisher blocked by a slow subscriber")
	}
	close(block)
	if b.Dropped() < 90 {
		t.Fatalf("dropped %d, want at least 90", b.Dropped())
	}
}
