package flex

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/webhook"
	"github.com/parleychat/parley/twiliohttp"
)

// The fakes stand in for chat, TaskRouter and Studio at the interfaces
// Flex declares; they keep what was asked so tests can look.

type fakeChannel struct {
	account, service, name, unique, attrs, createdBy string
	members                                          []string
	webhooks                                         map[string]string // WH -> flow
}

type fakeChat struct {
	mu       sync.Mutex
	bus      bus.Bus
	services map[string]string // IS -> account
	channels map[string]*fakeChannel
	attrSets int
}

func newFakeChat(b bus.Bus) *fakeChat {
	return &fakeChat{bus: b, services: map[string]string{}, channels: map[string]*fakeChannel{}}
}

func (c *fakeChat) addService(account string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	sid := rest.NewSID("IS")
	c.services[sid] = account
	return sid
}

func (c *fakeChat) ServiceExists(_ context.Context, account, service string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.services[service] == account, nil
}

func (c *fakeChat) CreateChannel(_ context.Context, s ChannelSpec) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.services[s.ServiceSID] != s.AccountSID {
		return "", errors.New("no such service")
	}
	sid := rest.NewSID("CH")
	c.channels[sid] = &fakeChannel{account: s.AccountSID, service: s.ServiceSID, name: s.FriendlyName, unique: s.UniqueName,
		attrs: s.Attributes, createdBy: s.CreatedBy, webhooks: map[string]string{}}
	return sid, nil
}

func (c *fakeChat) channel(sid string) (*fakeChannel, error) {
	ch, ok := c.channels[sid]
	if !ok {
		return nil, errors.New("no such channel")
	}
	return ch, nil
}

func (c *fakeChat) AddMember(_ context.Context, _, _, channel, identity string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, err := c.channel(channel)
	if err == nil {
		ch.members = append(ch.members, identity)
	}
	return err
}

func (c *fakeChat) ChannelAttributes(_ context.Context, _, _, channel string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, err := c.channel(channel)
	if err != nil {
		return "", err
	}
	return ch.attrs, nil
}

// SetChannelAttributes announces channel.updated, as chat does.
func (c *fakeChat) SetChannelAttributes(ctx context.Context, _, _, channel, attrs string) error {
	c.mu.Lock()
	ch, err := c.channel(channel)
	if err == nil {
		ch.attrs = attrs
		c.attrSets++
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	data, _ := json.Marshal(map[string]any{"v": 1, "type": "channel.updated", "data": map[string]any{"sid": channel, "attributes": attrs}})
	return c.bus.Publish(ctx, "chat."+channel, data)
}

func (c *fakeChat) AttachStudio(_ context.Context, _, _, channel, flow string, _ int) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, err := c.channel(channel)
	if err != nil {
		return "", err
	}
	sid := rest.NewSID("WH")
	ch.webhooks[sid] = flow
	return sid, nil
}

func (c *fakeChat) DetachWebhook(_ context.Context, _, _, channel, hook string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, err := c.channel(channel); err == nil {
		delete(ch.webhooks, hook)
	}
	return nil
}

func (c *fakeChat) DeleteChannel(_ context.Context, _, _, channel string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.channels, channel)
	return nil
}

func (c *fakeChat) get(sid string) fakeChannel {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.channels[sid]
	if !ok {
		return fakeChannel{}
	}
	cp := *ch
	cp.webhooks = map[string]string{}
	for k, v := range ch.webhooks {
		cp.webhooks[k] = v
	}
	return cp
}

type fakeTask struct {
	account, workspace, workflow, channel, attributes string
	priority, timeout                                 int
}

type fakeTasks struct {
	mu        sync.Mutex
	workflows map[string]string // WW -> account+WS
	tasks     map[string]fakeTask
	canceled  []string
}

func (t *fakeTasks) addWorkflow(account string) (ws, wf string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ws, wf = rest.NewSID("WS"), rest.NewSID("WW")
	t.workflows[wf] = account + ws
	return ws, wf
}

func (t *fakeTasks) WorkflowExists(_ context.Context, account, ws, wf string) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.workflows[wf] == account+ws, nil
}

func (t *fakeTasks) CreateTask(_ context.Context, account, ws, wf, channel, attrs string, priority, timeout int) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sid := rest.NewSID("WT")
	t.tasks[sid] = fakeTask{account, ws, wf, channel, attrs, priority, timeout}
	return sid, nil
}

func (t *fakeTasks) CancelTask(_ context.Context, _, _, task, _ string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.tasks[task]; !ok {
		return errors.New("no such task")
	}
	t.canceled = append(t.canceled, task)
	return nil
}

func (t *fakeTasks) all() map[string]fakeTask {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]fakeTask{}
	for k, v := range t.tasks {
		out[k] = v
	}
	return out
}

type delivered struct {
	flow string
	msg  Message
}

type fakeStudio struct {
	mu        sync.Mutex
	flows     map[string]string // FW -> account
	delivered []delivered
}

func (s *fakeStudio) addFlow(account string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sid := rest.NewSID("FW")
	s.flows[sid] = account
	return sid
}

func (s *fakeStudio) FlowExists(_ context.Context, account, flow string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flows[flow] == account, nil
}

func (s *fakeStudio) DeliverMessage(_ context.Context, flow string, m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delivered = append(s.delivered, delivered{flow, m})
	return nil
}

type fakeOrigins struct{ blocked string }

func (o fakeOrigins) OriginAllowed(_ context.Context, _, origin string) bool {
	return origin != o.blocked
}

type fakeDefaults struct {
	chat   *fakeChat
	tasks  *fakeTasks
	studio *fakeStudio
	mu     sync.Mutex
	made   map[string]string
}

func (d *fakeDefaults) once(key string, make func() string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.made[key]; ok {
		return v
	}
	d.made[key] = make()
	return d.made[key]
}

func (d *fakeDefaults) ChatService(_ context.Context, account string) (string, error) {
	return d.once("chat"+account, func() string { return d.chat.addService(account) }), nil
}

func (d *fakeDefaults) Workspace(_ context.Context, account string) (string, string, string, error) {
	v := d.once("ws"+account, func() string { ws, wf := d.tasks.addWorkflow(account); return ws + wf })
	return v[:34], v[34:], "chat", nil
}

func (d *fakeDefaults) WebchatFlow(_ context.Context, account, _, _, _ string) (string, error) {
	return d.once("fw"+account, func() string { return d.studio.addFlow(account) }), nil
}

// env is a Flex service over fakes, served on a loopback HTTP server.
type env struct {
	t       testing.TB
	db      *store.DB
	bus     *bus.Memory
	svc     *Service
	chat    *fakeChat
	tasks   *fakeTasks
	studio  *fakeStudio
	srv     *httptest.Server
	account string // the caller's account ("AC...:secret" authenticates as it)
	other   string // a second account
	secret  string
}

// Guests authenticate as token:<identity>@<account>@<chat service>.
func (e *env) authenticate(r *http.Request) (*rest.Principal, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		if tok := r.Header.Get("X-Twilio-Token"); tok != "" {
			user, pass, ok = "token", tok, true
		}
	}
	if !ok {
		return nil, nil
	}
	if user == "token" {
		parts := strings.Split(pass, "@")
		if len(parts) != 3 {
			return nil, rest.Unauthorized("bad token")
		}
		return &rest.Principal{Guest: true, Identity: parts[0], AccountSID: parts[1], ChatServiceSID: parts[2]}, nil
	}
	if (user == e.account || user == e.other) && pass == e.secret {
		return &rest.Principal{AccountSID: user, CredentialSID: user, Admin: true}, nil
	}
	return nil, rest.Unauthorized("bad credentials")
}

func newEnv(t testing.TB, db *store.DB, opts Options) *env {
	t.Helper()
	b := bus.NewMemory(0)
	t.Cleanup(func() { b.Close() })
	e := &env{t: t, db: db, bus: b, chat: newFakeChat(b), tasks: &fakeTasks{workflows: map[string]string{}, tasks: map[string]fakeTask{}},
		studio: &fakeStudio{flows: map[string]string{}}, secret: rest.RandomHex(16)}
	for _, acct := range []*string{&e.account, &e.other} {
		*acct = rest.NewSID("AC")
		if _, err := db.ExecContext(context.Background(), "INSERT INTO accounts (sid, friendly_name, auth_token, status, is_main, date_created, date_updated) VALUES (?, 'test', 'x', 'active', ?, 1, 1)", *acct, false); err != nil {
			t.Fatal(err)
		}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	hooks := webhook.New(func(context.Context, string) (string, error) { return e.secret, nil }, logger, webhook.Options{Backoff: 5e6})
	t.Cleanup(hooks.Close)
	e.svc = New(db, b, Deps{Chat: e.chat, Tasks: e.tasks, Studio: e.studio, Webhooks: hooks, Origins: fakeOrigins{blocked: "https://evil.example"},
		Defaults: &fakeDefaults{chat: e.chat, tasks: e.tasks, studio: e.studio, made: map[string]string{}}}, logger, opts)
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.svc.Routes(&rest.Router{Mux: mux, Auth: rest.AuthFunc(e.authenticate), BaseURL: e.srv.URL, MaxBody: 1 << 20})
	if err := e.svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.svc.Stop)
	return e
}

// tw is a twilio-go client for account acct.
func (e *env) tw(acct string) *twilio.RestClient {
	c := &client.Client{Credentials: client.NewCredentials(acct, e.secret), HTTPClient: twiliohttp.Client(e.srv.URL)}
	c.SetAccountSid(acct)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
}

// request sends a raw form request with the given Authorization and Origin.
func (e *env) request(method, path, form, auth, origin string) (int, string) {
	e.t.Helper()
	h := map[string]string{}
	if auth != "" {
		h["Authorization"] = auth
	}
	if origin != "" {
		h["Origin"] = origin
	}
	return e.requestWith(method, path, form, h)
}

func (e *env) requestWith(method, path, form string, headers map[string]string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
