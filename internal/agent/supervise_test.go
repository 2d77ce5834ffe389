package agent_test

import (
	"context"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rtclient"
	"github.com/parleychat/parley/internal/store/storetest"
)

// overview is GET /agent/supervisor/overview.
type overview struct {
	WorkspaceSID string `json:"workspace_sid"`
	Now          int64  `json:"now_ms"`
	Queues       []struct {
		SID           string `json:"sid"`
		FriendlyName  string `json:"friendly_name"`
		Waiting       int    `json:"waiting"`
		LongestWait   int64  `json:"longest_wait"`
		OldestWaiting int64  `json:"oldest_waiting_ms"`
		Active        int    `json:"active"`
		Eligible      int    `json:"eligible"`
		Available     int    `json:"available"`
		Busy          int    `json:"busy"`
	} `json:"queues"`
	Agents []struct {
		WorkerSID    string `json:"worker_sid"`
		Name         string `json:"name"`
		ActivityName string `json:"activity_name"`
		Available    bool   `json:"available"`
		Chats        []struct {
			ReservationSID string `json:"reservation_sid"`
			TaskSID        string `json:"task_sid"`
			ChannelSID     string `json:"channel_sid"`
			Visitor        string `json:"visitor"`
			Status         string `json:"reservation_status"`
			Since          int64  `json:"since_ms"`
			Queue          string `json:"queue"`
		} `json:"chats"`
	} `json:"agents"`
}

func (d *desk) overview() overview {
	d.t.Helper()
	var ov overview
	d.must("GET", "/agent/supervisor/overview", nil, &ov)
	if len(ov.Queues) != 1 {
		d.t.Fatalf("the Flex workspace has one queue, the overview shows %+v", ov.Queues)
	}
	return ov
}

// get is a GET's status and raw answer.
func (d *desk) get(path string) (int, string) {
	d.t.Helper()
	res, err := d.client.Get(d.srv.URL + path)
	if err != nil {
		d.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (f *frames) snapshot() []rtclient.Frame {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.list)
}

func signedIn(t *testing.T, srv *parleytest.Server, email string) *desk {
	t.Helper()
	d := newDesk(t, srv)
	d.must("POST", "/agent", url.Values{"Email": {email}, "Password": {"correct horse battery"}}, nil)
	return d
}

// TestSupervisorView: only a supervisor reads the view; its figures follow
// a visitor's chat from waiting to offered to accepted; its socket hears
// of each change and monitors the chat read-only, unseen by the visitor.
func TestSupervisorView(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			createAgent(t, srv, "sam@example.com", "supervisor") // named "Ada sam@example.com"
			createAgent(t, srv, "ann@example.com", "agent")
			ann, sam := signInLive(t, srv, "ann@example.com"), signedIn(t, srv, "sam@example.com")

			if code, body := ann.get("/agent/supervisor/overview"); code != 403 || !strings.Contains(body, "for supervisors") {
				t.Fatalf("an agent read the overview: %d %s", code, body)
			}
			if code, _ := ann.get("/agent/supervisor/trend"); code != 403 {
				t.Fatalf("an agent read the trend: %d", code)
			}
			if code, _ := newDesk(t, srv).get("/agent/supervisor/overview"); code != 401 {
				t.Fatalf("the overview without a session: %d", code)
			}

			// The supervisor's token carries the role; the agent's does not.
			var tok, annTok struct{ Token string }
			sam.must("GET", "/agent/token", nil, &tok)
			ann.must("GET", "/agent/token", nil, &annTok)
			if p, err := srv.App.Tokens.Verify(context.Background(), tok.Token); err != nil || p.TaskRouterRole != "supervisor" {
				t.Fatalf("the supervisor's token: %+v %v", p, err)
			}
			if p, _ := srv.App.Tokens.Verify(context.Background(), annTok.Token); p.TaskRouterRole == "supervisor" {
				t.Fatal("an agent's token has the supervisor role")
			}
			watch := &frames{}
			conn, err := rtclient.Dial(context.Background(), srv.URL, tok.Token, watch.add)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			signalled := func(what, typ string) {
				t.Helper()
				watch.wait(t, what, func(f rtclient.Frame) bool {
					return f.Type == "statistics.changed" && strings.Contains(string(f.Data), `"`+typ+`"`)
				})
			}

			ov := sam.overview()
			if q := ov.Queues[0]; q.Waiting != 0 || q.Eligible != 2 || q.Available != 0 || q.Busy != 0 || ov.WorkspaceSID != srv.App.FlexSetup.WorkspaceSID {
				t.Fatalf("the quiet queue: %+v", ov)
			}
			names := []string{}
			for _, a := range ov.Agents {
				names = append(names, a.Name+"/"+a.ActivityName)
			}
			if !slices.Contains(names, "Ada ann@example.com/Offline") || !slices.Contains(names, "Ada sam@example.com/Offline") {
				t.Fatalf("agents: %v", names)
			}

			// A visitor waits: nobody is available.
			visitor, ch := startVisitor(t, srv, `Grace "<b>"`, "Hello?")
			signalled("the task's creation on the supervisor's socket", "task.created")
			q := sam.overview().Queues[0]
			if q.Waiting != 1 || q.OldestWaiting == 0 || q.LongestWait < 0 || q.Active != 0 {
				t.Fatalf("the queue with a waiting visitor: %+v", q)
			}

			// Ann goes available and is offered the chat.
			ann.available()
			offer := ann.offer(ch)
			signalled("the reservation on the supervisor's socket", "reservation.created")
			ov = sam.overview()
			if q := ov.Queues[0]; q.Waiting != 0 || q.OldestWaiting != 0 || q.Active != 1 || q.Available != 1 || q.Busy != 1 {
				t.Fatalf("the queue with the chat offered: %+v", q)
			}
			annChats := func(ov overview) (string, int, string, string, string) {
				for _, a := range ov.Agents {
					if a.Name == "Ada ann@example.com" {
						if len(a.Chats) != 1 {
							return a.ActivityName, len(a.Chats), "", "", ""
						}
						return a.ActivityName, 1, a.Chats[0].Status, a.Chats[0].Visitor, a.Chats[0].ChannelSID
					}
				}
				return "", 0, "", "", ""
			}
			if act, n, status, who, chSID := annChats(ov); act != "Available" || n != 1 || status != "pending" || who != `Grace "<b>"` || chSID != ch {
				t.Fatalf("Ann offered the chat: %s %d %s %q %s", act, n, status, who, chSID)
			}

			ann.accept(offer, ch)
			signalled("the acceptance on the supervisor's socket", "reservation.accepted")
			if _, n, status, _, _ := annChats(sam.overview()); n != 1 || status != "accepted" {
				t.Fatalf("Ann with the chat accepted: %d %s", n, status)
			}

			// The supervisor monitors the chat: history and live messages,
			// nothing more, and the visitor never sees a new member.
			last := int64(-1)
			sub, err := conn.Subscribe(context.Background(), ch, &last)
			if err != nil {
				t.Fatalf("the supervisor cannot monitor the chat: %v", err)
			}
			if strings.Contains(string(sub.Members), "sam@example.com") {
				t.Fatalf("monitoring made the supervisor a member: %s", sub.Members)
			}
			visitor.say(t, ch, "Are you there?")
			watch.wait(t, "the visitor's message on the supervisor's socket", func(f rtclient.Frame) bool {
				return f.Type == "message.added" && f.ChannelSID == ch && strings.Contains(string(f.Data), "Are you there?")
			})
			if _, err := conn.Send(context.Background(), ch, "psst", "sup-1"); err == nil || !strings.Contains(err.Error(), "20403") {
				t.Fatalf("the supervisor sent into a monitored chat: %v", err)
			}
			for _, f := range visitor.snapshot() {
				if f.Type == "member.joined" && strings.Contains(string(f.Data), "sam@example.com") {
					t.Fatal("the visitor saw the supervisor join")
				}
			}

			// The trend: the node's sampler wrote the buckets of the last hour.
			if err := srv.App.TaskRouter.RecordQueueSamples(context.Background(), time.Now(), 30*time.Second, 2*time.Hour); err != nil {
				t.Fatal(err)
			}
			var trend struct {
				Interval int   `json:"interval_s"`
				Since    int64 `json:"since_ms"`
				Now      int64 `json:"now_ms"`
				Points   []struct {
					T           int64 `json:"t"`
					Waiting     int   `json:"waiting"`
					LongestWait int64 `json:"longest_wait"`
				} `json:"points"`
			}
			sam.must("GET", "/agent/supervisor/trend", nil, &trend)
			if trend.Interval != 30 || len(trend.Points) == 0 || trend.Now-trend.Since != time.Hour.Milliseconds() {
				t.Fatalf("trend: %+v", trend)
			}
			for _, p := range trend.Points {
				if p.T < trend.Since-30_000 || p.T > trend.Now || p.Waiting < 0 {
					t.Fatalf("a trend point outside the last hour: %+v", trend)
				}
			}
		})
	}
}
