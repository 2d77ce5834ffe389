package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/storetest"
	"github.com/parleychat/parley/internal/webhook"
)

const testToken = "0123456789abcdef0123456789abcdef"

// fixture is a chat service on a real database with one account, one
// chat service and one channel.
type fixture struct {
	s       *Service
	bus     *bus.Memory
	account string
	is      string
	ch      string
}

func newFixture(t testing.TB, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	acct := rest.NewSID("AC")
	if _, err := db.ExecContext(ctx, "INSERT INTO accounts (sid, friendly_name, auth_token, status, is_main, date_created, date_updated) "+
		"VALUES (?, 'test', ?, 'active', ?, 1, 1)", acct, testToken, false); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	hooks := webhook.New(func(context.Context, string) (string, error) { return testToken, nil }, logger,
		webhook.Options{Backoff: 10 * time.Millisecond, Timeout: 2 * time.Second})
	b := bus.NewMemory(100000)
	s := New(db, b, hooks, "https://parley.example", logger)
	t.Cleanup(func() { s.Close(); hooks.Close(); b.Close() })
	is, err := s.DefaultChatService(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.createChannel(ctx, system(acct), is, Channel{Type: "private", Attributes: `{"status":"ACTIVE"}`, CreatedBy: "system"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{s: s, bus: b, account: acct, is: is, ch: ch.SID}
}

func (f *fixture) join(t testing.TB, identity string) {
	t.Helper()
	if _, err := f.s.createMember(context.Background(), system(f.account), f.is, f.ch, Member{Identity: identity, Attributes: "{}"}); err != nil {
		t.Fatal(err)
	}
}

// events collects the channel's bus events.
func (f *fixture) events(t testing.TB) func(n int) []Event {
	t.Helper()
	ch := make(chan Event, 10000)
	sub, err := f.bus.Subscribe(Subject(f.ch), func(m bus.Msg) {
		var ev Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Errorf("event is not JSON: %v", err)
		}
		ch <- ev
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	return func(n int) []Event {
		t.Helper()
		var out []Event
		for len(out) < n {
			select {
			case ev := <-ch:
				out = append(out, ev)
			case <-time.After(5 * time.Second):
				t.Fatalf("got %d events, want %d", len(out), n)
			}
		}
		return out
	}
}

// Concurrent sends from many goroutines get indexes 0..n-1, each once.
func TestIndexGapFreeUnderConcurrentSends(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		const senders, each = 8, 25
		var wg sync.WaitGroup
		indexes := make(chan int64, senders*each)
		for g := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					_, idx, err := f.s.SendMessage(context.Background(), f.account, f.is, f.ch, fmt.Sprint("g", g), fmt.Sprint(i), "", "")
					if err != nil {
						t.Error(err)
						return
					}
					indexes <- idx
				}
			}()
		}
		wg.Wait()
		close(indexes)
		seen := map[int64]bool{}
		for idx := range indexes {
			if seen[idx] {
				t.Fatalf("index %d given twice", idx)
			}
			seen[idx] = true
		}
		for i := range int64(senders * each) {
			if !seen[i] {
				t.Fatalf("index %d missing: a gap", i)
			}
		}
		// The store agrees, in index order.
		msgs, err := f.s.MessagesAfter(context.Background(), f.account, f.is, f.ch, -1, 1000)
		if err != nil || len(msgs) != senders*each {
			t.Fatalf("%d messages stored, %v", len(msgs), err)
		}
		for i, raw := range msgs {
			var m struct{ Index int64 }
			json.Unmarshal(raw, &m)
			if m.Index != int64(i) {
				t.Fatalf("stored message %d has index %d", i, m.Index)
			}
		}
	})
}

// A retried send with the same client message id, even concurrent,
// returns the original message; other ids are not affected.
func TestClientMessageIDIsIdempotent(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		next := f.events(t)
		ctx := context.Background()
		first, idx, err := f.s.SendMessage(ctx, f.account, f.is, f.ch, "alice", "hi", `{"k":1}`, "c-1")
		if err != nil || idx != 0 {
			t.Fatalf("first send: %d %v", idx, err)
		}
		var wg sync.WaitGroup
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				again, idx2, err := f.s.SendMessage(ctx, f.account, f.is, f.ch, "alice", "hi", `{"k":1}`, "c-1")
				if err != nil || idx2 != 0 || string(again) != string(first) {
					t.Errorf("retry got %d %s %v, want the original", idx2, again, err)
				}
			}()
		}
		// Concurrent first sends of one new id: exactly one message.
		results := make(chan int64, 6)
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, idx, err := f.s.SendMessage(ctx, f.account, f.is, f.ch, "alice", "race", "", "c-2")
				if err != nil {
					t.Error(err)
				}
				results <- idx
			}()
		}
		wg.Wait()
		close(results)
		for idx := range results {
			if idx != 1 {
				t.Fatalf("concurrent sends of one id got index %d, want 1 for all", idx)
			}
		}
		_, idx, _ = f.s.SendMessage(ctx, f.account, f.is, f.ch, "alice", "other", "", "c-3")
		if idx != 2 {
			t.Fatalf("next new id got index %d, want 2 (no index was burnt)", idx)
		}
		// A client message id is the sender's own: another member using the
		// same id sends a message of its own, not alice's back.
		bobs, idx, err := f.s.SendMessage(ctx, f.account, f.is, f.ch, "bob", "bob's", "", "c-3")
		if err != nil || idx != 3 || !strings.Contains(string(bobs), "bob's") {
			t.Fatalf("another sender's equal id got %d %s %v, want a new message at index 3", idx, bobs, err)
		}
		evs := next(4)
		for i, ev := range evs {
			if ev.Type != "message.added" || ev.Index == nil || *ev.Index != int64(i) {
				t.Fatalf("event %d: %+v (a retry must not publish again)", i, ev)
			}
		}
	})
}

// Events carry the resource's REST JSON after each change.
func TestEvents(t *testing.T) {
	db := storetest.OpenSQLite(t)
	f := newFixture(t, db)
	next := f.events(t)
	ctx := context.Background()
	admin := system(f.account)
	f.join(t, "alice")
	raw, _, err := f.s.SendMessage(ctx, f.account, f.is, f.ch, "alice", "hello", "", "")
	if err != nil {
		t.Fatal(err)
	}
	var sent messageJSON
	json.Unmarshal(raw, &sent)
	if _, err := f.s.updateMessage(ctx, admin, f.is, f.ch, sent.SID, messagePatch{Body: ptr("edited")}); err != nil {
		t.Fatal(err)
	}
	if err := f.s.UpdateReadHorizon(ctx, f.account, f.is, f.ch, "alice", 7); err != nil {
		t.Fatal(err)
	}
	if err := f.s.UpdateReadHorizon(ctx, f.account, f.is, f.ch, "alice", 0); err != nil {
		t.Fatal(err) // not moved: it is there already (clamped to the last index 0)
	}
	if _, err := f.s.updateChannel(ctx, admin, f.is, f.ch, channelPatch{Attributes: ptr(`{"status":"CLOSED"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := f.s.deleteMessage(ctx, admin, f.is, f.ch, sent.SID); err != nil {
		t.Fatal(err)
	}
	if err := f.s.deleteMember(ctx, admin, f.is, f.ch, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.deleteChannel(ctx, admin, f.is, f.ch); err != nil {
		t.Fatal(err)
	}
	// Deleting the service announces its channels' removal too.
	ch2, err := f.s.createChannel(ctx, admin, f.is, Channel{Type: "public", Attributes: "{}", CreatedBy: "system"})
	if err != nil {
		t.Fatal(err)
	}
	f.ch = ch2.SID
	nextOther := f.events(t)
	if err := f.s.deleteInstance(ctx, admin, f.is); err != nil {
		t.Fatal(err)
	}
	if ev := nextOther(1)[0]; ev.Type != "channel.removed" || ev.ChannelSID != ch2.SID {
		t.Fatalf("service delete event %+v", ev)
	}
	f.ch = ""
	want := []string{"member.joined", "message.added", "message.updated", "member.updated", "channel.updated",
		"message.removed", "member.left", "channel.removed"}
	evs := next(len(want))
	for i, ev := range evs {
		data, _ := json.Marshal(ev.Data)
		if ev.Type != want[i] || ev.V != 1 || ev.AccountSID != f.account || ev.ServiceSID != f.is || ev.ChannelSID != evs[0].ChannelSID {
			t.Fatalf("event %d: %+v, want %s", i, ev, want[i])
		}
		isMessage := ev.Type[:8] == "message."
		if isMessage != (ev.Index != nil) {
			t.Fatalf("event %s index %v", ev.Type, ev.Index)
		}
		var body map[string]any
		json.Unmarshal(data, &body)
		if body["url"] == nil || body["account_sid"] != f.account {
			t.Fatalf("event %s data is not the REST JSON: %s", ev.Type, data)
		}
	}
	var horizon memberJSON
	b, _ := json.Marshal(evs[3].Data)
	json.Unmarshal(b, &horizon)
	if horizon.LastConsumedMessageIndex == nil || *horizon.LastConsumedMessageIndex != 0 {
		t.Fatalf("read horizon 7 on a channel whose last index is 0: %+v", horizon.LastConsumedMessageIndex)
	}
	var closed channelJSON
	b, _ = json.Marshal(evs[4].Data)
	json.Unmarshal(b, &closed)
	if closed.Attributes != `{"status":"CLOSED"}` {
		t.Fatalf("channel.updated data %s", b)
	}
}

// The methods other packages use, and their errors.
func TestExportedMethods(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		again, err := f.s.DefaultChatService(ctx, f.account)
		if err != nil || again != f.is {
			t.Fatalf("default service is not stable: %s %s %v", again, f.is, err)
		}
		// Concurrent first calls for a new account agree on one service.
		other := rest.NewSID("AC")
		if _, err := db.ExecContext(ctx, "INSERT INTO accounts (sid, friendly_name, auth_token, status, is_main, date_created, date_updated) "+
			"VALUES (?, 'other', ?, 'active', ?, 1, 1)", other, testToken, false); err != nil {
			t.Fatal(err)
		}
		sids := make(chan string, 6)
		var wg sync.WaitGroup
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sid, err := f.s.DefaultChatService(ctx, other)
				if err != nil {
					t.Error(err)
				}
				sids <- sid
			}()
		}
		wg.Wait()
		close(sids)
		first := <-sids
		for sid := range sids {
			if sid != first || !rest.IsSID("IS", sid) || sid == f.is {
				t.Fatalf("default services %s and %s", first, sid)
			}
		}
		ch, members, last, err := f.s.ChannelSnapshot(ctx, f.account, f.is, f.ch)
		if err != nil || last != -1 || string(members) != "[]" || len(ch) == 0 {
			t.Fatalf("empty snapshot: %s %s %d %v", ch, members, last, err)
		}
		f.join(t, "alice")
		f.join(t, "bob")
		for i := range 10 {
			if _, _, err := f.s.SendMessage(ctx, f.account, f.is, f.ch, "alice", fmt.Sprint(i), "", ""); err != nil {
				t.Fatal(err)
			}
		}
		_, members, last, err = f.s.ChannelSnapshot(ctx, f.account, f.is, f.ch)
		var ms []memberJSON
		json.Unmarshal(members, &ms)
		if err != nil || last != 9 || len(ms) != 2 || ms[0].Identity != "alice" {
			t.Fatalf("snapshot: %d members, last %d, %v", len(ms), last, err)
		}
		if ok, err := f.s.IsMember(ctx, f.account, f.is, f.ch, "bob"); !ok || err != nil {
			t.Fatalf("bob: %v %v", ok, err)
		}
		if ok, err := f.s.IsMember(ctx, f.account, f.is, f.ch, "eve"); ok || err != nil {
			t.Fatalf("eve: %v %v", ok, err)
		}
		chans, err := f.s.MemberChannels(ctx, f.account, f.is, "bob")
		if err != nil || len(chans) != 1 || chans[0] != f.ch {
			t.Fatalf("member channels %v %v", chans, err)
		}
		after, _ := f.s.MessagesAfter(ctx, f.account, f.is, f.ch, 6, 2)
		before, _ := f.s.MessagesBefore(ctx, f.account, f.is, f.ch, 5, 3)
		if got := indexes(after); fmt.Sprint(got) != "[7 8]" {
			t.Fatalf("after 6: %v", got)
		}
		if got := indexes(before); fmt.Sprint(got) != "[2 3 4]" {
			t.Fatalf("before 5: %v", got)
		}
		if err := f.s.UpdateReadHorizon(ctx, f.account, f.is, f.ch, "eve", 3); !isStatus(err, 403) {
			t.Fatalf("read horizon of a non-member: %v", err)
		}
		for _, err := range []error{
			second(f.s.MessagesAfter(ctx, f.account, f.is, rest.NewSID("CH"), 0, 1)),
			second(f.s.MessagesAfter(ctx, rest.NewSID("AC"), f.is, f.ch, 0, 1)),
			second(f.s.IsMember(ctx, f.account, rest.NewSID("IS"), f.ch, "bob")),
		} {
			if !isStatus(err, 404) {
				t.Fatalf("want a 404 rest.Error, got %v", err)
			}
		}
		long := make([]byte, MaxBodyBytes+1)
		for i := range long {
			long[i] = 'x'
		}
		if _, _, err := f.s.SendMessage(ctx, f.account, f.is, f.ch, "alice", string(long), "", ""); !isStatus(err, 400) {
			t.Fatalf("long body: %v", err)
		}
		if _, _, err := f.s.SendMessage(ctx, f.account, f.is, f.ch, "alice", "\xff", "", ""); !isStatus(err, 400) {
			t.Fatalf("invalid UTF-8: %v", err)
		}
		if _, _, err := f.s.SendMessage(ctx, f.account, f.is, f.ch, "alice", "x", "{", ""); !isStatus(err, 400) {
			t.Fatalf("bad attributes: %v", err)
		}
	})
}

func indexes(raws []json.RawMessage) []int64 {
	var out []int64
	for _, r := range raws {
		var m struct{ Index int64 }
		json.Unmarshal(r, &m)
		out = append(out, m.Index)
	}
	return out
}

func second[T any](_ T, err error) error { return err }

func isStatus(err error, status int) bool {
	e, ok := rest.AsError(err)
	return ok && e.Status == status
}

func ptr[T any](v T) *T { return &v }

// Limits.ChannelMembers holds when many identities join at once.
func TestMemberLimitUnderConcurrentJoins(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		if _, err := f.s.updateInstance(ctx, system(f.account), f.is, func(in *Instance) error {
			in.LimitChannelMembers = 3
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		joined, refused := 0, 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.s.createMember(ctx, system(f.account), f.is, f.ch, Member{Identity: fmt.Sprint("m", i), Attributes: "{}"})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					joined++
				case isStatus(err, 403):
					refused++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		_, ch, err := f.s.channel(ctx, system(f.account), f.is, f.ch)
		if joined != 3 || refused != 5 || err != nil || ch.MembersCount != 3 {
			t.Fatalf("joined %d, refused %d, members_count %d (%v); want 3, 5, 3", joined, refused, ch.MembersCount, err)
		}
	})
}
