package scaleout_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	chatv2 "github.com/twilio/twilio-go/rest/chat/v2"
	studiov2 "github.com/twilio/twilio-go/rest/studio/v2"

	"github.com/parleychat/parley/internal/parleytest"
)

// askFlow asks a question and, when nobody answers within a second, says
// so: the timeout's side effect is one message.
const askFlow = `{"initial_state":"Trigger","states":[
 {"name":"Trigger","type":"trigger","transitions":[{"event":"incomingMessage","next":"ask"}]},
 {"name":"ask","type":"send-and-wait-for-reply","properties":{"body":"What is your order number?","timeout":"1"},
  "transitions":[{"event":"incomingMessage"},{"event":"timeout","next":"late"},{"event":"deliveryFailure"}]},
 {"name":"late","type":"send-message","properties":{"body":"Still there?"},"transitions":[{"event":"sent"},{"event":"failed"}]}]}`

// With three nodes running Studio's timer loop on one database, a wait's
// timeout fires once: the flow says "Still there?" once per channel.
func TestStudioWaitTimeoutFiresOnce(t *testing.T) {
	nodes := cluster(t, 3)
	tw := nodes[0].Admin()
	var def map[string]any
	if err := json.Unmarshal([]byte(askFlow), &def); err != nil {
		t.Fatal(err)
	}
	fp := &studiov2.CreateFlowParams{}
	fp.SetFriendlyName("ask").SetStatus("published").SetDefinition(def)
	flow, err := tw.StudioV2.CreateFlow(fp)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := tw.ChatV2.CreateService(&chatv2.CreateServiceParams{FriendlyName: ptr("web chat")})
	if err != nil {
		t.Fatal(err)
	}
	const channels = 5
	var chs []string
	for i := range channels {
		ch, err := tw.ChatV2.CreateChannel(*svc.Sid, &chatv2.CreateChannelParams{FriendlyName: ptr("visitor")})
		if err != nil {
			t.Fatal(err)
		}
		wp := &chatv2.CreateChannelWebhookParams{}
		wp.SetType("studio").SetConfigurationFlowSid(*flow.Sid).SetConfigurationFilters([]string{"onMessageSent"})
		if _, err := tw.ChatV2.CreateChannelWebhook(*svc.Sid, *ch.Sid, wp); err != nil {
			t.Fatal(err)
		}
		// The visitor's first message, posted on a node in turn (as the
		// realtime layer would), starts an execution.
		srv := nodes[i%len(nodes)]
		if _, _, err := srv.App.Chat.SendMessage(context.Background(), srv.AccountSID, *svc.Sid, *ch.Sid, "guest", "hi", "", ""); err != nil {
			t.Fatal(err)
		}
		chs = append(chs, *ch.Sid)
	}
	want := "hi\nWhat is your order number?\nStill there?"
	for _, ch := range chs {
		waitTranscript(t, nodes[1], *svc.Sid, ch, want)
	}
	time.Sleep(2 * time.Second) // room for a second timeout to show
	for _, ch := range chs {
		if got := transcript(t, nodes[2], *svc.Sid, ch); got != want {
			t.Fatalf("channel %s transcript:\n%s\nwant:\n%s", ch, got, want)
		}
	}
}

func transcript(t *testing.T, srv *parleytest.Server, service, channel string) string {
	t.Helper()
	msgs, err := srv.Admin().ChatV2.ListMessage(service, channel, &chatv2.ListMessageParams{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, *m.Body)
	}
	return strings.Join(out, "\n")
}

func waitTranscript(t *testing.T, srv *parleytest.Server, service, channel, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := transcript(t, srv, service, channel)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("channel %s transcript:\n%s\nwant:\n%s", channel, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
