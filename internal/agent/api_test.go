package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rtclient"
	"github.com/parleychat/parley/internal/store/storetest"
)

// desk is an agent's browser: a cookie jar and the desktop's origin.
type desk struct {
	t      *testing.T
	srv    *parleytest.Server
	client *http.Client
	origin string
}

func newDesk(t *testing.T, srv *parleytest.Server) *desk {
	jar, _ := cookiejar.New(nil)
	return &desk{t: t, srv: srv, client: &http.Client{Jar: jar}, origin: srv.URL}
}

// do sends a form (POST) or a GET and decodes the JSON answer into out.
func (d *desk) do(method, path string, form url.Values, out any) int {
	d.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, d.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if d.origin != "" && method != http.MethodGet {
		req.Header.Set("Origin", d.origin)
	}
	res, err := d.client.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			d.t.Fatalf("%s %s: %s: %v", method, path, b, err)
		}
	}
	return res.StatusCode
}

func (d *desk) must(method, path string, form url.Values, out any) {
	d.t.Helper()
	if code := d.do(method, path, form, out); code >= 300 {
		d.t.Fatalf("%s %s: status %d", method, path, code)
	}
}

func createAgent(t *testing.T, srv *parleytest.Server, email, role string) map[string]any {
	t.Helper()
	return createAgentAs(t, srv, "Ada "+email, email, role, 2)
}

// createAgentAs creates an agent whose password is "correct horse battery".
func createAgentAs(t *testing.T, srv *parleytest.Server, name, email, role string, capacity int) map[string]any {
	t.Helper()
	code, body := srv.Request(t, "POST", "/agents/v1/Agents", url.Values{"FriendlyName": {name}, "Email": {email},
		"Password": {"correct horse battery"}, "Role": {role}, "Skills": {"english", "billing"}, "ChatCapacity": {strconv.Itoa(capacity)}},
		srv.AccountSID, srv.AuthToken)
	if code != 201 {
		t.Fatalf("create agent: %d %s", code, body)
	}
	var a map[string]any
	_ = json.Unmarshal([]byte(body), &a)
	return a
}

func TestAgentsAdminAPI(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			a := createAgent(t, srv, "Ada@Example.com", "supervisor")
			if a["email"] != "ada@example.com" || a["role"] != "supervisor" || !strings.HasPrefix(a["worker_sid"].(string), "WK") {
				t.Fatalf("created agent: %v", a)
			}
			if _, ok := a["password_hash"]; ok {
				t.Fatal("the API shows the password hash")
			}
			w, err := srv.Admin().TaskrouterV1.FetchWorker(srv.App.FlexSetup.WorkspaceSID, a["worker_sid"].(string))
			if err != nil {
				t.Fatal(err)
			}
			var attrs map[string]any
			_ = json.Unmarshal([]byte(*w.Attributes), &attrs)
			if attrs["contact_uri"] != "client:ada@example.com" || fmt.Sprint(attrs["routing"]) != "map[skills:[english billing]]" {
				t.Fatalf("worker attributes: %s", *w.Attributes)
			}
			chans, err := srv.Admin().TaskrouterV1.ListWorkerChannel(srv.App.FlexSetup.WorkspaceSID, *w.Sid, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range chans {
				if *c.TaskChannelUniqueName == "chat" && c.ConfiguredCapacity != 2 {
					t.Fatalf("chat capacity %d, want 2", c.ConfiguredCapacity)
				}
			}

			for _, bad := range []url.Values{
				{"FriendlyName": {"x"}, "Email": {"not-an-email"}, "Password": {"longenough"}},
				{"FriendlyName": {"x"}, "Email": {"b@example.com"}, "Password": {"short"}},
				{"FriendlyName": {"x"}, "Email": {"b@example.com"}, "Password": {"longenough"}, "Role": {"admin"}},
				{"FriendlyName": {"x"}, "Email": {"b@example.com"}, "Password": {"longenough"}, "Attributes": {"[1]"}},
				{"Email": {"b@example.com"}, "Password": {"longenough"}},
			} {
				if code, body := srv.Request(t, "POST", "/agents/v1/Agents", bad, srv.AccountSID, srv.AuthToken); code != 400 || !strings.Contains(body, `"code":21`) && !strings.Contains(body, "Invalid parameter") && !strings.Contains(body, "Missing") {
					t.Fatalf("bad create %v: %d %s", bad, code, body)
				}
			}
			if code, _ := srv.Request(t, "POST", "/agents/v1/Agents", url.Values{"FriendlyName": {"x"}, "Email": {"ada@example.com"},
				"Password": {"longenough"}}, srv.AccountSID, srv.AuthToken); code != 409 {
				t.Fatalf("duplicate email: %d", code)
			}
			code, body := srv.Request(t, "GET", "/agents/v1/Agents", nil, srv.AccountSID, srv.AuthToken)
			if code != 200 || !strings.Contains(body, `"agents":[{`) || !strings.Contains(body, `"meta"`) {
				t.Fatalf("list: %d %s", code, body)
			}
			if code, _ := srv.Request(t, "GET", "/agents/v1/Agents", nil, "", ""); code != 401 {
				t.Fatalf("list without credentials: %d", code)
			}
			sid := a["sid"].(string)
			if code, _ := srv.Request(t, "DELETE", "/agents/v1/Agents/"+sid, nil, srv.AccountSID, srv.AuthToken); code != 204 {
				t.Fatalf("delete: %d", code)
			}
			if code, _ := srv.Request(t, "GET", "/agents/v1/Agents/"+sid, nil, srv.AccountSID, srv.AuthToken); code != 404 {
				t.Fatalf("deleted agent: %d", code)
			}
			if _, err := srv.Admin().TaskrouterV1.FetchWorker(srv.App.FlexSetup.WorkspaceSID, *w.Sid); err == nil {
				t.Fatal("the deleted agent's worker is still there")
			}
		})
	}
}

func TestSignInSessionAndCSRF(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			createAgent(t, srv, "bo@example.com", "agent")
			d := newDesk(t, srv)
			if code := d.do("GET", "/agent/token", nil, nil); code != 401 {
				t.Fatalf("token before sign-in: %d", code)
			}
			good := url.Values{"Email": {"bo@example.com"}, "Password": {"correct horse battery"}}
			d.origin = "https://evil.example"
			if code := d.do("POST", "/agent", good, nil); code != 403 {
				t.Fatalf("cross-site sign-in: %d", code)
			}
			d.origin = ""
			if code := d.do("POST", "/agent", good, nil); code != 403 {
				t.Fatalf("sign-in without Origin: %d", code)
			}
			d.origin = srv.URL
			if code := d.do("POST", "/agent", url.Values{"Email": {"bo@example.com"}, "Password": {"wrong password"}}, nil); code != 401 {
				t.Fatalf("wrong password: %d", code)
			}
			d.must("POST", "/agent", good, nil)
			u, _ := url.Parse(srv.URL + "/agent")
			cookies := d.client.Jar.Cookies(u)
			if len(cookies) != 1 {
				t.Fatalf("cookies: %v", cookies)
			}
			var tok struct {
				Token, Identity string
				Agent           struct {
					WorkerSID string `json:"worker_sid"`
				}
			}
			d.must("GET", "/agent/token", nil, &tok)
			if tok.Token == "" || tok.Agent.WorkerSID == "" {
				t.Fatalf("token: %+v", tok)
			}
			p, err := srv.App.Tokens.Verify(context.Background(), tok.Token)
			if err != nil || p.WorkerSID != tok.Agent.WorkerSID || p.Identity != "bo@example.com" || p.ChatServiceSID == "" || p.Guest {
				t.Fatalf("token grants: %+v %v", p, err)
			}
			// The agent's token is not an admin credential.
			if code, _ := srv.Request(t, "GET", "/agents/v1/Agents", nil, "token", tok.Token); code != 401 && code != 403 {
				t.Fatalf("agent token on the admin API: %d", code)
			}
			// State-changing desk calls need the desktop's origin too.
			d.origin = "https://evil.example"
			if code := d.do("POST", "/agent/signout", url.Values{}, nil); code != 403 {
				t.Fatalf("cross-site sign-out: %d", code)
			}
			d.origin = srv.URL
			d.must("POST", "/agent/signout", url.Values{}, nil)
			if code := d.do("GET", "/agent/token", nil, nil); code != 401 {
				t.Fatalf("token after sign-out: %d", code)
			}
			// A forged cookie is nobody.
			d.client.Jar.SetCookies(u, []*http.Cookie{{Name: "parley_agent", Value: "00ff", Path: "/agent"}})
			if code := d.do("GET", "/agent/token", nil, nil); code != 401 {
				t.Fatalf("forged cookie: %d", code)
			}
		})
	}
}

func TestSignInThrottled(t *testing.T) {
	srv := parleytest.Start(t)
	createAgent(t, srv, "cy@example.com", "agent")
	d := newDesk(t, srv)
	bad := url.Values{"Email": {"cy@example.com"}, "Password": {"not the password"}}
	for i := 0; i < 5; i++ {
		if code := d.do("POST", "/agent", bad, nil); code != 401 {
			t.Fatalf("failure %d: %d", i+1, code)
		}
	}
	if code := d.do("POST", "/agent", bad, nil); code != 429 {
		t.Fatalf("sixth failure: %d, want 429", code)
	}
	// Even the right password waits out the window.
	if code := d.do("POST", "/agent", url.Values{"Email": {"cy@example.com"}, "Password": {"correct horse battery"}}, nil); code != 429 {
		t.Fatalf("right password while throttled: %d, want 429", code)
	}
}

// TestDeskLifecycle: a visitor's chat reaches the signed-in agent, who
// accepts (and so joins the chat), chats, wraps up and completes; the
// janitor ends the chat for the visitor.
func TestDeskLifecycle(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			createAgent(t, srv, "di@example.com", "agent")
			d := newDesk(t, srv)
			d.must("POST", "/agent", url.Values{"Email": {"di@example.com"}, "Password": {"correct horse battery"}}, nil)
			var tok struct{ Token string }
			d.must("GET", "/agent/token", nil, &tok)
			events := &frames{}
			conn, err := rtclient.Dial(context.Background(), srv.URL, tok.Token, events.add)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })

			var acts struct {
				Activities []struct {
					SID          string `json:"sid"`
					FriendlyName string `json:"friendly_name"`
				}
				Worker struct{ Available bool }
			}
			d.must("GET", "/agent/desk/activities", nil, &acts)
			avail := ""
			for _, a := range acts.Activities {
				if a.FriendlyName == "Available" {
					avail = a.SID
				}
			}
			if avail == "" || acts.Worker.Available {
				t.Fatalf("activities: %+v", acts)
			}
			var ws struct{ Available bool }
			d.must("POST", "/agent/desk/activity", url.Values{"ActivitySid": {avail}}, &ws)
			if !ws.Available {
				t.Fatal("the worker is not available after choosing Available")
			}

			visitor, ch := startVisitor(t, srv, "Grace", "Hi, I need help")
			events.wait(t, "reservation.created on the agent's socket", func(f rtclient.Frame) bool { return f.Type == "reservation.created" })
			var list struct {
				Reservations []struct {
					SID        string `json:"sid"`
					Status     string `json:"reservation_status"`
					Queue      string `json:"task_queue_friendly_name"`
					Attributes string `json:"task_attributes"`
				}
			}
			d.must("GET", "/agent/desk/reservations", nil, &list)
			if len(list.Reservations) != 1 || list.Reservations[0].Status != "pending" || !strings.Contains(list.Reservations[0].Attributes, ch) {
				t.Fatalf("reservations: %+v", list)
			}
			res := list.Reservations[0].SID
			if code := d.do("POST", "/agent/desk/reservations/"+res+"/dance", url.Values{}, nil); code != 404 {
				t.Fatalf("unknown action: %d", code)
			}
			if code := d.do("POST", "/agent/desk/reservations/WR"+strings.Repeat("0", 32)+"/accept", url.Values{}, nil); code != 404 {
				t.Fatalf("someone else's (or no) reservation: %d, want 404", code)
			}
			var acc struct {
				ChannelSID string `json:"channel_sid"`
			}
			d.must("POST", "/agent/desk/reservations/"+res+"/accept", url.Values{}, &acc)
			if acc.ChannelSID != ch {
				t.Fatalf("accepted into %q, want %s", acc.ChannelSID, ch)
			}
			last := int64(-1)
			if _, err := conn.Subscribe(context.Background(), ch, &last); err != nil {
				t.Fatalf("the agent cannot follow the chat it accepted: %v", err)
			}
			if _, err := conn.Send(context.Background(), ch, "Hello, how can I help?", "agent-1"); err != nil {
				t.Fatal(err)
			}
			visitor.wait(t, "the agent's reply at the visitor", func(f rtclient.Frame) bool {
				return f.Type == "message.added" && strings.Contains(string(f.Data), "how can I help")
			})
			d.must("POST", "/agent/desk/reservations/"+res+"/wrapup", url.Values{}, nil)
			d.must("POST", "/agent/desk/reservations/"+res+"/complete", url.Values{}, nil)
			visitor.wait(t, "the chat's end at the visitor", func(f rtclient.Frame) bool {
				return f.Type == "channel.updated" && strings.Contains(string(f.Data), `INACTIVE`)
			})
			d.must("GET", "/agent/desk/reservations", nil, &list)
			if len(list.Reservations) != 0 {
				t.Fatalf("reservations after completing: %+v", list)
			}
		})
	}
}

// frames collects a socket's frames.
type frames struct {
	mu   sync.Mutex
	list []rtclient.Frame
}

func (f *frames) add(fr rtclient.Frame) { f.mu.Lock(); f.list = append(f.list, fr); f.mu.Unlock() }

func (f *frames) wait(t *testing.T, what string, ok func(rtclient.Frame) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		for _, fr := range f.list {
			if ok(fr) {
				f.mu.Unlock()
				return
			}
		}
		f.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never arrived", what)
}

// startVisitor opens a web chat on the default Flex Flow as the widget
// does and says hello (which sends the chat to Flex).
func startVisitor(t *testing.T, srv *parleytest.Server, name, hello string) (*visitor, string) {
	t.Helper()
	res, err := http.Post(srv.URL+"/iam/v1/Accounts/"+srv.AccountSID+"/Tokens", "application/json", strings.NewReader(`{"products":["flex"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Token, Identity string }
	json.NewDecoder(res.Body).Decode(&g)
	res.Body.Close()
	pre, _ := json.Marshal(map[string]string{"friendlyName": name, "question": "Where is my parcel?"})
	form := url.Values{"FlexFlowSid": {srv.App.FlexSetup.FlexFlowSID}, "Identity": {g.Identity}, "CustomerFriendlyName": {name},
		"ChatFriendlyName": {"Flex WebChat"}, "PreEngagementData": {string(pre)}}
	req, _ := http.NewRequest("POST", srv.URL+"/flex-api/v1/WebChannels", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("token", g.Token)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ch struct{ Sid string }
	json.NewDecoder(res.Body).Decode(&ch)
	res.Body.Close()
	if ch.Sid == "" {
		t.Fatalf("web channel: %d", res.StatusCode)
	}
	v := &visitor{frames: &frames{}}
	v.conn, err = rtclient.Dial(context.Background(), srv.URL, g.Token, v.add)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.conn.Close() })
	last := int64(-1)
	if _, err := v.conn.Subscribe(context.Background(), ch.Sid, &last); err != nil {
		t.Fatal(err)
	}
	v.say(t, ch.Sid, hello)
	return v, ch.Sid
}

// visitor is the widget's side of a chat, on the realtime socket.
type visitor struct {
	*frames
	conn *rtclient.Conn
	sent int
}

func (v *visitor) say(t *testing.T, ch, body string) int64 {
	t.Helper()
	v.sent++
	idx, err := v.conn.Send(context.Background(), ch, body, fmt.Sprintf("visitor-%d", v.sent))
	if err != nil {
		t.Fatalf("visitor says %q: %v", body, err)
	}
	return idx
}

func (v *visitor) request(t *testing.T, frame map[string]any) {
	t.Helper()
	if _, err := v.conn.Request(context.Background(), frame); err != nil {
		t.Fatalf("visitor %v: %v", frame, err)
	}
}
