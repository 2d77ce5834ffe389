package flex

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/storetest"
	"github.com/parleychat/parley/internal/webhook"
)

func (e *env) open(flow Flow, identity, pre string) Channel {
	e.t.Helper()
	c, err := e.svc.CreateWebChannel(context.Background(), Caller{AccountSID: e.account},
		WebChannelInput{FlexFlowSID: flow.SID, Identity: identity, CustomerFriendlyName: identity, ChatFriendlyName: "chat", PreEngagementData: pre})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// say publishes message.added as chat would after committing a message.
func (e *env) say(c Channel, from, body string, index int64) {
	e.t.Helper()
	data, _ := json.Marshal(map[string]any{"v": 1, "type": "message.added", "data": map[string]any{
		"sid": "IM" + c.SID[2:], "channel_sid": c.SID, "service_sid": c.ChatServiceSID, "account_sid": c.AccountSID,
		"from": from, "body": body, "index": index, "attributes": "{}", "date_created": "2026-01-01T00:00:00Z"}})
	if err := e.bus.Publish(context.Background(), "chat."+c.SID, data); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) status(sid string) string {
	c, err := e.svc.WebChannel(context.Background(), e.account, sid)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Status
}

func TestTaskIntegration(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		ws, wf := e.tasks.addWorkflow(e.account)
		task := url.Values{"IntegrationType": {"task"}, "Integration.WorkspaceSid": {ws}, "Integration.WorkflowSid": {wf},
			"Integration.Channel": {"chat"}, "Integration.Priority": {"7"}, "Integration.Timeout": {"120"}}
		atOnce, _ := e.flow(task)
		c := e.open(atOnce, "v1", `{"friendlyName":"Vera","topic":"billing","location":"https://shop.example/"}`)
		tasks := e.tasks.all()
		if len(tasks) != 1 || c.TaskSID == "" {
			t.Fatalf("task at once: %v (channel task %q)", tasks, c.TaskSID)
		}
		got := tasks[c.TaskSID]
		a := attrs(t, got.attributes)
		pre, _ := a["pre_engagement_data"].(map[string]any)
		visitor, _ := a["context"].(map[string]any)
		if got.channel != "chat" || got.priority != 7 || got.timeout != 120 || got.workflow != wf || a["name"] != "Vera" ||
			a["channelSid"] != c.SID || a["channelType"] != "web" || pre["topic"] != "billing" || visitor["location"] != "https://shop.example/" {
			t.Fatalf("task %+v attributes %v", got, a)
		}

		task.Set("Integration.CreationOnMessage", "true")
		onMessage, _ := e.flow(task)
		c = e.open(onMessage, "v2", "")
		if c.TaskSID != "" || len(e.tasks.all()) != 1 {
			t.Fatal("CreationOnMessage created the task before any message")
		}
		e.say(c, "agent-bot", "hello from us", 0)
		e.say(c, "v2", "hi", 1)
		e.say(c, "v2", "anyone?", 2)
		eventually(t, "the first-message task", func() bool {
			c, _ = e.svc.WebChannel(context.Background(), e.account, c.SID)
			return c.TaskSID != "" && c.TaskSID != "pending"
		})
		time.Sleep(50 * time.Millisecond) // the second message must not add a task
		if n := len(e.tasks.all()); n != 2 {
			t.Fatalf("%d tasks, want 2 (one per engagement)", n)
		}
	})
}

func TestExternalIntegration(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		var hits atomic.Int32
		got := make(chan url.Values, 10)
		var secret string
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			if !webhook.Valid(secret, "http://"+r.Host+r.URL.RequestURI(), r.PostForm, r.Header.Get("X-Twilio-Signature")) {
				w.WriteHeader(403)
				return
			}
			if hits.Add(1) == 1 {
				w.WriteHeader(503) // the first attempt fails: retried
				return
			}
			got <- r.PostForm
		}))
		defer hook.Close()
		e := newEnv(t, db, Options{})
		secret = e.secret
		flow, _ := e.flow(url.Values{"IntegrationType": {"external"}, "Integration.Url": {hook.URL + "/bot?x=1"}, "Integration.RetryCount": {"2"}})
		c := e.open(flow, "v1", "")
		e.say(c, "v1", "first", 0)
		// A second node would get the same event: it must not post again.
		raw, _ := json.Marshal(map[string]any{"v": 1, "type": "message.added", "data": map[string]any{"from": "v1", "body": "first", "index": 0}})
		if err := e.svc.HandleChatEvent(context.Background(), c.SID, raw); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-got:
			if p.Get("Body") != "first" || p.Get("ChannelSid") != c.SID || p.Get("EventType") != "onMessageSent" || p.Get("From") != "v1" || p.Get("FlexFlowSid") != flow.SID {
				t.Fatalf("posted %v", p)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("nothing posted")
		}
		e.say(c, "v1", "second", 1)
		select {
		case p := <-got:
			if p.Get("Index") != "1" {
				t.Fatalf("second post %v", p)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("second message not posted")
		}
		time.Sleep(50 * time.Millisecond)
		if n := hits.Load(); n != 3 {
			t.Fatalf("%d requests, want 3 (one failed attempt, then each message once)", n)
		}
	})
}

func TestJanitorTaskEnds(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		ctx := context.Background()
		taskAttrs := func(c Channel) string { return `{"channelSid":"` + c.SID + `","name":"x"}` }
		off := e.studioFlow(url.Values{"JanitorEnabled": {"false"}})
		on := e.studioFlow(url.Values{"JanitorEnabled": {"true"}})

		c := e.open(off, "a", "")
		e.svc.TaskEnded(ctx, e.account, "WS1", "WT1", TaskCanceled, taskAttrs(c))
		e.svc.TaskEnded(ctx, e.other, "WS1", "WT1", TaskCompleted, taskAttrs(c)) // another account's task names it
		if e.status(c.SID) != StatusActive {
			t.Fatal("a canceled task closed a chat without JanitorEnabled, or another account's task closed it")
		}
		e.svc.TaskEnded(ctx, e.account, "WS1", "WT1", TaskCompleted, taskAttrs(c))
		if e.status(c.SID) != StatusInactive || len(e.chat.get(c.SID).webhooks) != 0 || attrs(t, e.chat.get(c.SID).attrs)["status"] != "INACTIVE" {
			t.Fatalf("completed task: status %s chat %+v", e.status(c.SID), e.chat.get(c.SID))
		}

		for _, end := range []string{TaskCanceled, TaskTimeout, TaskDeleted} {
			c := e.open(on, "b-"+end, "")
			e.svc.TaskEnded(ctx, e.account, "WS1", "WT9", end, taskAttrs(c))
			if e.status(c.SID) != StatusInactive {
				t.Fatalf("%s with JanitorEnabled left the chat open", end)
			}
		}

		// Several nodes get the same task end: exactly one closes.
		c = e.open(on, "many", "")
		e.chat.mu.Lock()
		before := e.chat.attrSets
		e.chat.mu.Unlock()
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.svc.TaskEnded(ctx, e.account, "WS1", "WT2", TaskCompleted, taskAttrs(c))
			}()
		}
		wg.Wait()
		e.chat.mu.Lock()
		sets := e.chat.attrSets - before
		e.chat.mu.Unlock()
		if sets != 1 {
			t.Fatalf("the chat was closed %d times, want once", sets)
		}
	})
}

func TestVisitorEndsAndIdleSweep(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{IdleTimeout: time.Hour})
		ctx := context.Background()
		flow := e.studioFlow(nil)

		// The widget's "end chat" sets the attribute; the janitor follows.
		c := e.open(flow, "leaver", "")
		a := attrs(t, e.chat.get(c.SID).attrs)
		a["status"] = "INACTIVE"
		b, _ := json.Marshal(a)
		if err := e.chat.SetChannelAttributes(ctx, e.account, c.ChatServiceSID, c.SID, string(b)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the janitor to see the visitor leave", func() bool {
			return e.status(c.SID) == StatusInactive && len(e.chat.get(c.SID).webhooks) == 0
		})

		idle := e.open(flow, "idle", "")
		ws, wf := e.tasks.addWorkflow(e.account)
		taskFlow, _ := e.flow(url.Values{"IntegrationType": {"task"}, "Integration.WorkspaceSid": {ws}, "Integration.WorkflowSid": {wf}})
		withTask := e.open(taskFlow, "waiting", "")
		if n, err := e.svc.SweepIdle(ctx, time.Now()); err != nil || n != 0 {
			t.Fatalf("fresh channels swept: %d %v", n, err)
		}
		n, err := e.svc.SweepIdle(ctx, time.Now().Add(2*time.Hour))
		if err != nil || n != 1 || e.status(idle.SID) != StatusInactive || e.status(withTask.SID) != StatusActive {
			t.Fatalf("sweep closed %d (%v): idle %s, with task %s", n, err, e.status(idle.SID), e.status(withTask.SID))
		}
	})
}

func TestLongLivedReengages(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		ctx := context.Background()
		flow := e.studioFlow(url.Values{"LongLived": {"true"}})
		c := e.open(flow, "regular", "")
		if attrs(t, e.chat.get(c.SID).attrs)["long_lived"] != true {
			t.Fatal("long_lived attribute")
		}
		e.svc.TaskEnded(ctx, e.account, "WS1", "WT1", TaskCompleted, `{"channelSid":"`+c.SID+`"}`)
		if e.status(c.SID) != StatusInactive {
			t.Fatal("not closed")
		}
		e.say(c, "agent", "bye", 3) // an agent's message does not re-engage
		e.say(c, "regular", "back again", 4)
		eventually(t, "re-engagement", func() bool {
			e.studio.mu.Lock()
			defer e.studio.mu.Unlock()
			return e.status(c.SID) == StatusActive && len(e.studio.delivered) > 0
		})
		ch := e.chat.get(c.SID)
		if len(ch.webhooks) != 1 || attrs(t, ch.attrs)["status"] != "ACTIVE" {
			t.Fatalf("re-engaged channel %+v", ch)
		}
		e.studio.mu.Lock()
		d := e.studio.delivered
		e.studio.mu.Unlock()
		if len(d) != 1 || d[0].msg.Body != "back again" || d[0].flow != flow.Integration.FlowSID {
			t.Fatalf("studio got %+v, want the re-engaging message", d)
		}
		// Re-creating returns the same long-lived channel, also once closed.
		e.svc.TaskEnded(ctx, e.account, "WS1", "WT2", TaskCompleted, `{"channelSid":"`+c.SID+`"}`)
		if again := e.open(flow, "regular", ""); again.SID != c.SID || e.status(c.SID) != StatusActive {
			t.Fatalf("long-lived re-create gave %s, want %s active", again.SID, c.SID)
		}
	})
}

func TestDefaultSetup(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{})
		ctx := context.Background()
		first, err := e.svc.EnsureDefaults(ctx, e.account)
		if err != nil || !first.Created {
			t.Fatalf("first: %+v %v", first, err)
		}
		second, err := e.svc.EnsureDefaults(ctx, e.account)
		if err != nil || second.Created || second.FlexFlowSID != first.FlexFlowSID {
			t.Fatalf("second: %+v %v", second, err)
		}
		f, err := e.svc.DefaultFlow(ctx, e.account)
		if err != nil || f.FriendlyName != DefaultFlowName || f.ChannelType != "web" || !f.Enabled || f.IntegrationType != IntegrationStudio ||
			f.Integration.FlowSID != first.StudioFlowSID || !f.JanitorEnabled || f.ChatServiceSID != first.ChatServiceSID {
			t.Fatalf("default flow %+v %v", f, err)
		}
		if c := e.open(f, "visitor", ""); len(e.chat.get(c.SID).webhooks) != 1 {
			t.Fatal("the default flow does not attach its studio flow")
		}
		got := EmbedSnippet("https://chat.example", e.account, f.SID)
		want := `<script src="https://chat.example/webchat.js" data-account-sid="` + e.account + `" data-flex-flow-sid="` + f.SID + `" async></script>`
		if got != want {
			t.Fatalf("snippet %s", got)
		}
	})
}

func FuzzHandleChatEvent(f *testing.F) {
	for _, s := range []string{`{"v":1,"type":"message.added","data":{"from":"a","index":3}}`, `{"v":1,"type":"channel.updated","data":{"attributes":"{\"status\":\"INACTIVE\"}"}}`,
		`{"v":2}`, `null`, `{"v":1,"type":"message.added","data":"x"}`, ``} {
		f.Add(s)
	}
	e := newEnv(f, storetest.OpenSQLite(f), Options{})
	flow := e.studioFlow(nil)
	c := e.open(flow, "fuzz", "")
	f.Fuzz(func(t *testing.T, data string) {
		if err := e.svc.HandleChatEvent(context.Background(), c.SID, []byte(data)); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
	})
}

func TestJanitorCancelsTasksForClosedChats(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), Options{})
	ctx := context.Background()
	flow := e.studioFlow(nil)
	open, closed := e.open(flow, "stays", ""), e.open(flow, "left", "")
	if _, err := e.svc.UpdateWebChannel(ctx, e.account, closed.SID, true, nil); err != nil {
		t.Fatal(err)
	}
	reservation := func(c Channel) (string, []byte) {
		task, _ := e.tasks.CreateTask(ctx, e.account, "WS1", "WW1", "chat", `{"channelSid":"`+c.SID+`"}`, 0, 60)
		b, _ := json.Marshal(map[string]any{"v": 1, "type": "reservation.created", "account_sid": e.account, "workspace_sid": "WS1",
			"data": map[string]any{"task": map[string]any{"sid": task, "attributes": `{"channelSid":"` + c.SID + `"}`}}})
		return task, b
	}
	_, live := reservation(open)
	e.svc.HandleReservation(ctx, live)
	ghost, late := reservation(closed)
	e.svc.HandleReservation(ctx, late)
	e.svc.HandleReservation(ctx, []byte(`{"type":"reservation.created","data":{"task":{"attributes":"not json"}}}`))
	e.tasks.mu.Lock()
	defer e.tasks.mu.Unlock()
	if len(e.tasks.canceled) != 1 || e.tasks.canceled[0] != ghost {
		t.Fatalf("canceled %v, want only the closed chat's task %s", e.tasks.canceled, ghost)
	}
}
