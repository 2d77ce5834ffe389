package studio

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/storetest"
)

func channel() string { return rest.NewSID("CH") }

func TestGreetingRunsAndRecordsSteps(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		flow := e.publish(defJSON("greet", sendState("greet", "Hello {{trigger.message.From}}, this is {{flow.channel.address}}", "")))
		ch := channel()
		e.visitor(flow, ch, "hi", `{"from":"Ada"}`)
		e.waitBodies(ch, "Hello guest-1, this is Support Bot")
		ex := e.waitEnded(flow, e.onlyExecution(flow).SID)
		steps := e.steps(flow, ex.SID)
		got := []string{}
		for _, s := range steps {
			got = append(got, s.From+">"+s.Name+">"+s.To+":"+s.Type)
		}
		want := "Trigger>incomingMessage>greet:trigger,greet>sent>Ended:send-message"
		if strings.Join(got, ",") != want {
			t.Fatalf("steps %v, want %s", got, want)
		}
		if steps[1].ParentSID != steps[0].SID {
			t.Fatalf("parent step: %q, want %q", steps[1].ParentSID, steps[0].SID)
		}
		// The next message starts a new execution: the first one ended.
		e.visitor(flow, ch, "again", `{}`)
		e.waitBodies(ch, "Hello guest-1, this is Support Bot", "Hello guest-1, this is Support Bot")
	})
}

func TestOwnMessagesDoNotStartFlows(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	flow := e.publish(defJSON("greet", sendState("greet", "Hello", "")))
	ch := channel()
	e.visitor(flow, ch, "hi", `{}`)
	e.waitBodies(ch, "Hello")
	// The channel's studio webhook echoes the flow's own message back.
	echo := IncomingMessage{AccountSID: e.acct, FlowSID: flow.SID, ServiceSID: "IS" + strings.Repeat("0", 32), ChannelSID: ch,
		MessageSID: rest.NewSID("IM"), Index: 1, From: "Support Bot", Body: "Hello"}
	if err := e.svc.DeliverMessage(context.Background(), echo); err != nil {
		t.Fatal(err)
	}
	e.waitEnded(flow, e.onlyExecution(flow).SID)
	if got := e.chat.bodies(ch); len(got) != 1 {
		t.Fatalf("the echo started another execution: %v", got)
	}
}

func TestPreEngagementValueDrivesSplit(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		split := `{"name":"topic","type":"split-based-on","properties":{"input":"{{trigger.message.ChannelAttributes.pre_engagement_data.topic}}"},
			"transitions":[{"event":"noMatch","next":"other"},
			{"event":"match","next":"billing","conditions":[{"friendly_name":"billing","arguments":["{{trigger.message.ChannelAttributes.pre_engagement_data.topic}}"],"type":"equal_to","value":"Billing"}]}]}`
		flow := e.publish(defJSON("topic", split, endState("billing", "Billing for {{trigger.message.ChannelAttributes.pre_engagement_data.friendlyName}}"), endState("other", "Something else")))
		a, b := channel(), channel()
		e.visitor(flow, a, "hi", `{"pre_engagement_data":{"topic":"billing","friendlyName":"Ada"}}`)
		e.visitor(flow, b, "hi", `{"pre_engagement_data":{"topic":"sales"}}`)
		e.waitBodies(a, "Billing for Ada")
		e.waitBodies(b, "Something else")
	})
}

// askFlow asks a question and answers the reply or the timeout.
func askFlow(timeout string) string {
	ask := fmt.Sprintf(`{"name":"ask","type":"send-and-wait-for-reply","properties":{"body":"What is your name?","timeout":%q},
		"transitions":[{"event":"incomingMessage","next":"thanks"},{"event":"timeout","next":"late"},{"event":"deliveryFailure"}]}`, timeout)
	return defJSON("ask", ask, endState("thanks", "Thanks {{widgets.ask.inbound.Body}}"), endState("late", "Are you there?"))
}

func TestWaitForReplyGetsTheReply(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		flow := e.publish(askFlow("3600"))
		ch := channel()
		e.visitor(flow, ch, "hi", `{}`)
		e.waitBodies(ch, "What is your name?")
		ex := e.waitKind(flow, waitReply)
		e.visitor(flow, ch, "Ada", `{}`)
		e.waitBodies(ch, "What is your name?", "Thanks Ada")
		e.waitEnded(flow, ex.SID)
		if n := len(e.onlyExecution(flow).SID); n == 0 {
			t.Fatal("the reply started a second execution")
		}
	})
}

func TestReplyArrivingBeforeTheWaitIsSavedCounts(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	flow := e.publish(askFlow("3600"))
	ch := channel()
	e.visitor(flow, ch, "hi", `{}`)
	// Reply the moment the prompt is posted, without waiting for the
	// execution to record its wait: the inbox keeps the reply.
	e.waitBodies(ch, "What is your name?")
	e.visitor(flow, ch, "Grace", `{}`)
	e.waitBodies(ch, "What is your name?", "Thanks Grace")
}

func TestWaitForReplyTimesOut(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		flow := e.publish(askFlow("1"))
		ch := channel()
		e.visitor(flow, ch, "hi", `{}`)
		e.waitBodies(ch, "What is your name?", "Are you there?")
		ex := e.waitEnded(flow, e.onlyExecution(flow).SID)
		steps := e.steps(flow, ex.SID)
		if steps[1].From != "ask" || steps[1].Name != "timeout" || steps[1].To != "late" {
			t.Fatalf("timeout step %+v", steps[1])
		}
	})
}

func TestWaitSurvivesRestartAndTimeoutFiresAfterIt(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		replyFlow, timeoutFlow := e.publish(askFlow("3600")), e.publish(askFlow("1"))
		a, b := channel(), channel()
		e.visitor(replyFlow, a, "hi", `{}`)
		e.waitBodies(a, "What is your name?")
		e.waitKind(replyFlow, waitReply)
		e.svc.Stop()
		e.visitor(timeoutFlow, b, "hi", `{}`) // stored while no node runs
		e.svc = e.service()                   // the restart
		e.visitor(replyFlow, a, "Ada", `{}`)
		e.waitBodies(a, "What is your name?", "Thanks Ada")
		e.waitBodies(b, "What is your name?", "Are you there?")
	})
}

func TestTimeoutFiresOnceWithTwoNodes(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		second := e.service() // another node on the same database
		flow := e.publish(askFlow("1"))
		var channels []string
		for i := 0; i < 8; i++ {
			ch := channel()
			channels = append(channels, ch)
			e.visitor(flow, ch, "hi", `{}`)
		}
		for _, ch := range channels {
			e.waitBodies(ch, "What is your name?", "Are you there?")
		}
		_ = second
		// Nothing more arrives: each timeout fired exactly once.
		for _, ch := range channels {
			if got := e.chat.bodies(ch); len(got) != 2 {
				t.Fatalf("channel %s: %v", ch, got)
			}
		}
	})
}

func TestHTTPResponsePicksBranch(t *testing.T) {
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the flow's request carried Authorization")
		}
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"vip": r.Form.Get("from") == "guest-1", "name": "Ada"})
	}))
	defer ts.Close()
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		req := fmt.Sprintf(`{"name":"lookup","type":"make-http-request","properties":{"method":"POST","content_type":"application/x-www-form-urlencoded;charset=utf-8",
			"url":%q,"parameters":[{"key":"from","value":"{{trigger.message.From}}"}]},
			"transitions":[{"event":"success","next":"vip"},{"event":"failed","next":"down"}]}`, ts.URL+"/lookup")
		vip := `{"name":"vip","type":"split-based-on","properties":{"input":"{{widgets.lookup.parsed.vip}}"},
			"transitions":[{"event":"noMatch","next":"normal"},{"event":"match","next":"gold","conditions":[{"friendly_name":"vip","arguments":["{{widgets.lookup.parsed.vip}}"],"type":"equal_to","value":"true"}]}]}`
		flow := e.publish(defJSON("lookup", req, vip, endState("gold", "Welcome back {{widgets.lookup.parsed.name}}"),
			endState("normal", "Hello"), endState("down", "Down")))
		ch := channel()
		e.visitor(flow, ch, "hi", `{}`)
		e.waitBodies(ch, "Welcome back Ada")
	})
	if calls.Load() == 0 {
		t.Fatal("the server was never called")
	}
}

func TestHTTPFailureTakesFailed(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"no"}`, http.StatusServiceUnavailable)
	}))
	defer ts.Close()
	e := newEnv(t, storetest.OpenSQLite(t))
	req := fmt.Sprintf(`{"name":"lookup","type":"run-function","properties":{"url":%q,"parameters":[{"key":"a","value":"1"}]},
		"transitions":[{"event":"success","next":"ok"},{"event":"fail","next":"down"}]}`, ts.URL)
	flow := e.publish(defJSON("lookup", req, endState("ok", "ok"), endState("down", "status {{widgets.lookup.status_code}}")))
	ch := channel()
	e.visitor(flow, ch, "hi", `{}`)
	e.waitBodies(ch, "status 503")
}

func TestSendToFlexCreatesTaskWithMergedAttributes(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		workflow := rest.NewSID("WW")
		e.tasks.workflows[workflow] = true
		flex := func(name, wf string) string {
			return fmt.Sprintf(`{"name":%q,"type":"send-to-flex","properties":{"workflow":%q,"channel":"TC%s",
			"attributes":"{\"name\":\"{{trigger.message.ChannelAttributes.from}}\",\"channelType\":\"{{trigger.message.ChannelAttributes.channel_type}}\",\"channelSid\":\"{{trigger.message.ChannelSid}}\"}",
			"priority":"5","timeout":"600"},"transitions":[{"event":"callComplete"},{"event":"failedToEnqueue","next":"sorry"},{"event":"callFailure"}]}`, name, wf, strings.Repeat("1", 32))
		}
		good := e.publish(defJSON("flex", flex("flex", workflow), endState("sorry", "No agents")))
		bad := e.publish(defJSON("flex", flex("flex", rest.NewSID("WW")), endState("sorry", "No agents")))
		ch := channel()
		e.visitor(good, ch, "hi", `{"from":"Ada","channel_type":"web","pre_engagement_data":{"topic":"x"}}`)
		eventually(t, "a task", func() bool { return len(e.tasks.tasks()) == 1 })
		task := e.tasks.tasks()[0]
		var attrs map[string]any
		json.Unmarshal([]byte(task.Attributes), &attrs)
		if attrs["name"] != "Ada" || attrs["channelType"] != "web" || attrs["channelSid"] != ch || attrs["from"] != "Ada" ||
			attrs["pre_engagement_data"] == nil || task.Priority != 5 || task.Timeout != 600 || task.Workflow != workflow {
			t.Fatalf("task %+v", task)
		}
		// Handed to Flex: the execution stays with the channel, so the
		// visitor's next messages do not start the bot again.
		e.waitKind(good, waitHandedOff)
		e.visitor(good, ch, "hello?", `{}`)
		e.onlyExecution(good)

		other := channel()
		e.visitor(bad, other, "hi", `{}`)
		e.waitBodies(other, "No agents")
	})
}

func TestEndingAnExecutionStopsIt(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		flow := e.publish(askFlow("3600"))
		ch := channel()
		e.visitor(flow, ch, "hi", `{}`)
		e.waitBodies(ch, "What is your name?")
		ex := e.onlyExecution(flow)
		if _, err := e.svc.EndExecution(context.Background(), e.acct, flow.SID, ex.SID); err != nil {
			t.Fatal(err)
		}
		// The next message starts a fresh execution, which asks again.
		e.visitor(flow, ch, "Ada", `{}`)
		e.waitBodies(ch, "What is your name?", "What is your name?")
	})
}

func TestRESTExecutionUsesParametersAndVariables(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		set := `{"name":"vars","type":"set-variables","properties":{"variables":[{"key":"greeting","value":"Hi {{flow.data.name}}"},{"key":"n","value":"{{flow.data.count | plus: 1}}"}]},"transitions":[{"event":"next","next":"say"}]}`
		ch := channel()
		say := fmt.Sprintf(`{"name":"say","type":"send-message","properties":{"body":"{{flow.variables.greeting}} #{{flow.variables.n}} to {{contact.channel.address}}","service":"IS%s","channel":%q},"transitions":[{"event":"sent"},{"event":"failed"}]}`, strings.Repeat("2", 32), ch)
		flow := e.publish(defJSON("vars", set, say))
		ex, err := e.svc.CreateExecution(context.Background(), e.acct, flow.SID, ExecutionInput{To: "+15550001", From: "+15550002",
			Parameters: map[string]any{"name": "Zeke", "count": 41}})
		if err != nil {
			t.Fatal(err)
		}
		e.waitBodies(ch, "Hi Zeke #42 to +15550001")
		steps := e.steps(flow, e.waitEnded(flow, ex.SID).SID)
		if steps[0].Name != "incomingRequest" {
			t.Fatalf("first step %+v", steps[0])
		}
	})
}

func TestLoopingFlowEnds(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	loop := `{"name":"a","type":"set-variables","properties":{"variables":[{"key":"x","value":"1"}]},"transitions":[{"event":"next","next":"b"}]},
		{"name":"b","type":"set-variables","properties":{"variables":[{"key":"x","value":"2"}]},"transitions":[{"event":"next","next":"a"}]}`
	flow := e.publish(defJSON("a", loop))
	e.visitor(flow, channel(), "hi", `{}`)
	ex := e.waitEnded(flow, e.onlyExecution(flow).SID)
	steps := e.steps(flow, ex.SID)
	if last := steps[len(steps)-1]; last.Name != "failed" || !strings.Contains(string(last.Context), "loops") {
		t.Fatalf("last step %+v", last)
	}
}

func TestUnpublishedFlowDoesNotRun(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	name := "draft"
	rec, err := e.svc.CreateFlow(context.Background(), e.acct, FlowInput{FriendlyName: &name, Status: "draft", Definition: []byte(askFlow("5"))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.CreateExecution(context.Background(), e.acct, rec.SID, ExecutionInput{To: "a", From: "b"})
	if err != ErrNotPublished {
		t.Fatalf("got %v, want ErrNotPublished", err)
	}
}
