package flex

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/storetest"
)

// TestHandOver: after an agent's transfer the old task's end leaves the
// chat open (and is Superseded, so Studio keeps its execution), the new
// task's end closes it; a closed chat or another account's is refused.
func TestHandOver(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		ctx := context.Background()
		taskAttrs := func(c Channel) string { return `{"channelSid":"` + c.SID + `"}` }
		c := e.open(e.studioFlow(url.Values{"JanitorEnabled": {"false"}}), "t", "")
		if e.svc.Superseded(ctx, e.account, c.SID, "WTold") {
			t.Fatal("a chat that was never transferred has its task superseded")
		}
		if err := e.svc.HandOver(ctx, e.other, c.SID, "WTnew"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another account's hand-over: %v", err)
		}
		if err := e.svc.HandOver(ctx, e.account, c.SID, "WTnew"); err != nil {
			t.Fatal(err)
		}
		if !e.svc.Superseded(ctx, e.account, c.SID, "WTold") || e.svc.Superseded(ctx, e.account, c.SID, "WTnew") {
			t.Fatal("Superseded does not follow the hand-over")
		}
		e.svc.TaskEnded(ctx, e.account, "WS1", "WTold", TaskCompleted, taskAttrs(c))
		if e.status(c.SID) != StatusActive {
			t.Fatal("completing the transferred (old) task closed the chat")
		}
		e.svc.TaskEnded(ctx, e.account, "WS1", "WTnew", TaskCompleted, taskAttrs(c))
		if e.status(c.SID) != StatusInactive {
			t.Fatal("completing the new task left the chat open")
		}
		if err := e.svc.HandOver(ctx, e.account, c.SID, "WTlater"); !errors.Is(err, ErrChatClosed) {
			t.Fatalf("hand-over of a closed chat: %v", err)
		}
	})
}
