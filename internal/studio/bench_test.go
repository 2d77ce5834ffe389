package studio_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	chatv2 "github.com/twilio/twilio-go/rest/chat/v2"
	studiov2 "github.com/twilio/twilio-go/rest/studio/v2"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/store/storetest"
)

// replyWatch forwards the flow's sends to the real chat service and
// tells, per channel, when a reply has been committed.
type replyWatch struct {
	next interface {
		SendMessage(ctx context.Context, accountSID, serviceSID, channelSID, from, body, attributes, clientMessageID string) (json.RawMessage, int64, error)
	}
	mu      sync.Mutex
	waiters map[string]chan struct{}
}

func (w *replyWatch) SendMessage(ctx context.Context, accountSID, serviceSID, channelSID, from, body, attributes, clientMessageID string) (json.RawMessage, int64, error) {
	raw, index, err := w.next.SendMessage(ctx, accountSID, serviceSID, channelSID, from, body, attributes, clientMessageID)
	w.mu.Lock()
	if ch := w.waiters[channelSID]; ch != nil {
		close(ch)
		delete(w.waiters, channelSID)
	}
	w.mu.Unlock()
	return raw, index, err
}

func (w *replyWatch) expect(channel string) chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	w.waiters[channel] = ch
	w.mu.Unlock()
	return ch
}

// benchRig is a whole server with a greeting flow and a chat service.
type benchRig struct {
	srv     *parleytest.Server
	watch   *replyWatch
	service string
	flow    string
}

func newBenchRig(b *testing.B, backend string) *benchRig {
	srv := parleytest.Start(b, parleytest.Backend(b, backend))
	tw := srv.Admin()
	fp := &studiov2.CreateFlowParams{}
	var def any
	json.Unmarshal([]byte(greetingFlow), &def)
	fp.SetFriendlyName("Bench").SetStatus("published").SetDefinition(def)
	flow, err := tw.StudioV2.CreateFlow(fp)
	if err != nil {
		b.Fatal(err)
	}
	sp := &chatv2.CreateServiceParams{}
	sp.SetFriendlyName("bench")
	svc, err := tw.ChatV2.CreateService(sp)
	if err != nil {
		b.Fatal(err)
	}
	w := &replyWatch{next: srv.App.Chat, waiters: map[string]chan struct{}{}}
	srv.App.Studio.SetChat(w)
	return &benchRig{srv: srv, watch: w, service: *svc.Sid, flow: *flow.Sid}
}

// channel opens a web chat channel attached to the flow.
func (r *benchRig) channel(b *testing.B) string {
	ctx := context.Background()
	ch, err := r.srv.App.Chat.CreatePrivateChannel(ctx, r.srv.AccountSID, r.service, "visitor", "",
		`{"from":"Ada","channel_type":"web","pre_engagement_data":{"friendlyName":"Ada"}}`, "system")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.srv.App.Chat.AttachStudioWebhook(ctx, r.srv.AccountSID, r.service, ch, r.flow, 0); err != nil {
		b.Fatal(err)
	}
	return ch
}

func (r *benchRig) say(b *testing.B, channel string) {
	if _, _, err := r.srv.App.Chat.SendMessage(context.Background(), r.srv.AccountSID, r.service, channel, "guest-1", "hi", "", ""); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkVisitorToReply measures the time from a visitor's first
// message (committed by chat) to the flow's greeting being committed:
// webhook dispatch, a new execution, two widgets, Liquid, the reply.
func BenchmarkVisitorToReply(b *testing.B) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		b.Run(backend, func(b *testing.B) {
			rig := newBenchRig(b, backend)
			channels := make([]string, b.N)
			for i := range channels {
				channels[i] = rig.channel(b)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for _, ch := range channels {
				done := rig.watch.expect(ch)
				start := time.Now()
				rig.say(b, ch)
				<-done
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkExecutionsStarted measures how many executions a node starts
// and finishes per second when many visitors write at once.
func BenchmarkExecutionsStarted(b *testing.B) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		b.Run(backend, func(b *testing.B) {
			rig := newBenchRig(b, backend)
			channels := make([]string, b.N)
			dones := make([]chan struct{}, b.N)
			for i := range channels {
				channels[i] = rig.channel(b)
				dones[i] = rig.watch.expect(channels[i])
			}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < len(channels); i += 8 {
						rig.say(b, channels[i])
					}
				}()
			}
			wg.Wait()
			for _, d := range dones {
				<-d
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "executions/s")
		})
	}
}
