package flex_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	flexv1 "github.com/twilio/twilio-go/rest/flex/v1"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rest"
)

// BenchmarkEngagement measures full engagements set up, over real HTTP on
// SQLite: guest token -> WebChannel -> the visitor's first message (chat
// REST with the guest token) -> the integration (the default Studio flow,
// or Flex's task integration) -> task -> a reservation pushed for a worker.
// It reports engagements/s and the p50/p99 of that path. Many visitors
// run at once (-cpu sets how many per core through RunParallel).
//
//	go test ./internal/flex/ -run '^$' -bench Engagement -benchtime 2000x
func BenchmarkEngagement(b *testing.B) {
	for _, integration := range []string{"studio", "task"} {
		b.Run(integration, func(b *testing.B) {
			// One client IP asks for every token here: no per-IP limit.
			srv := parleytest.Start(b, func(c *config.Config) { c.GuestTokenRate = 0 })
			setup := srv.App.FlexSetup
			flow := setup.FlexFlowSID
			if integration == "task" {
				p := (&flexv1.CreateFlexFlowParams{}).SetFriendlyName("tasks").SetChatServiceSid(setup.ChatServiceSID).
					SetChannelType("web").SetEnabled(true).SetIntegrationType("task").SetIntegrationWorkspaceSid(setup.WorkspaceSID).
					SetIntegrationWorkflowSid(setup.WorkflowSID).SetIntegrationChannel("chat").SetIntegrationCreationOnMessage(true)
				f, err := srv.Admin().FlexV1.CreateFlexFlow(p)
				if err != nil {
					b.Fatal(err)
				}
				flow = *f.Sid
			}
			benchWorkers(b, srv, setup.WorkspaceSID, 20)
			w := newReservationWatch(b, srv.App.Bus)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			var mu sync.Mutex
			var lat []time.Duration
			b.SetParallelism(4)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					d := engage(b, client, srv, w, flow, setup.ChatServiceSID)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "engagements/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// engage runs one visitor's path and returns how long it took.
func engage(b *testing.B, client *http.Client, srv *parleytest.Server, w *reservationWatch, flow, chatService string) time.Duration {
	t0 := time.Now()
	var tok struct{ Token, Identity string }
	post(b, client, srv.URL+"/iam/v1/Accounts/"+srv.AccountSID+"/Tokens", "application/json", `{"products":["flex"]}`, "", 200, &tok)
	form := url.Values{"FlexFlowSid": {flow}, "Identity": {tok.Identity}, "CustomerFriendlyName": {"Visitor"},
		"ChatFriendlyName": {"Flex WebChat"}, "PreEngagementData": {`{"friendlyName":"Visitor","question":"Where is my order?"}`}}
	var ch struct{ Sid string }
	post(b, client, srv.URL+"/flex-api/v1/WebChannels", "application/x-www-form-urlencoded", form.Encode(), tok.Token, 201, &ch)
	done := w.expect(ch.Sid)
	msg := url.Values{"Body": {"Hello, I have a question"}}
	post(b, client, srv.URL+"/chat/v2/Services/"+chatService+"/Channels/"+ch.Sid+"/Messages", "application/x-www-form-urlencoded",
		msg.Encode(), tok.Token, 201, nil)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.Fatalf("no reservation for channel %s", ch.Sid)
	}
	return time.Since(t0)
}

func post(b *testing.B, client *http.Client, u, ct, body, tok string, want int, out any) {
	req, _ := http.NewRequest("POST", u, strings.NewReader(body))
	req.Header.Set("Content-Type", ct)
	if tok != "" {
		req.SetBasicAuth("token", tok)
	}
	res, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		b.Fatalf("POST %s: %d %s", u, res.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			b.Fatal(err)
		}
	}
}

// benchWorkers makes n available workers with room for many chats each.
func benchWorkers(b *testing.B, srv *parleytest.Server, ws string, n int) {
	ctx := context.Background()
	tr := srv.App.TaskRouter
	acts, err := tr.Activities(ctx, srv.AccountSID, ws, "Available", nil, rest.Page{Size: 1})
	if err != nil || len(acts) == 0 {
		b.Fatalf("activity: %v", err)
	}
	for i := 0; i < n; i++ {
		w, err := tr.CreateWorker(ctx, srv.AccountSID, ws, fmt.Sprintf("agent%d", i), acts[0].SID, `{"contact_uri":"client:agent"}`)
		if err != nil {
			b.Fatal(err)
		}
		chans, err := tr.WorkerChannels(ctx, srv.AccountSID, ws, w.SID, rest.Page{Size: 50})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range chans {
			if c.TaskChannelUniqueName == "chat" {
				capacity := 100000
				if _, err := tr.UpdateWorkerChannel(ctx, srv.AccountSID, ws, w.SID, c.SID, &capacity, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// reservationWatch reports when a reservation is pushed for a channel's
// task (the push a worker's realtime socket receives).
type reservationWatch struct {
	mu      sync.Mutex
	waiting map[string]chan struct{}
}

func newReservationWatch(b *testing.B, bs bus.Bus) *reservationWatch {
	w := &reservationWatch{waiting: map[string]chan struct{}{}}
	sub, err := bs.Subscribe("worker.>", func(m bus.Msg) {
		var ev struct {
			Type string `json:"type"`
			Data struct {
				Task struct {
					Attributes string `json:"attributes"`
				} `json:"task"`
			} `json:"data"`
		}
		if json.Unmarshal(m.Data, &ev) != nil || ev.Type != "reservation.created" {
			return
		}
		var a struct {
			ChannelSid string `json:"channelSid"`
		}
		_ = json.Unmarshal([]byte(ev.Data.Task.Attributes), &a)
		w.mu.Lock()
		if c, ok := w.waiting[a.ChannelSid]; ok {
			close(c)
			delete(w.waiting, a.ChannelSid)
		}
		w.mu.Unlock()
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sub.Unsubscribe() })
	return w
}

func (w *reservationWatch) expect(channelSID string) <-chan struct{} {
	c := make(chan struct{})
	w.mu.Lock()
	w.waiting[channelSID] = c
	w.mu.Unlock()
	return c
}
