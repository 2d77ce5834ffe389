package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twilio/twilio-go/client/jwt"

	"github.com/parleychat/parley/internal/rtclient"
)

// parleyTarget is one or more Parley nodes, started here or already running.
type parleyTarget struct {
	o        options
	urls     []string
	procs    []*exec.Cmd
	pidList  []int
	tmp      string // a data dir root this tool made (removed at the end)
	root     string
	prefix   string // NATS subject prefix of the nodes
	account  string
	token    string
	key      apiKey
	service  string
	channels []string
}

type apiKey struct{ sid, secret string }

// openParley starts (or finds) the server and sets up the channels.
func openParley(ctx context.Context, o options) (*parleyTarget, error) {
	t := &parleyTarget{o: o, account: o.account, token: o.authToken}
	if o.parleyURL != "" {
		t.urls = []string{strings.TrimRight(o.parleyURL, "/")}
		for _, p := range strings.Split(o.pids, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil {
				t.pidList = append(t.pidList, n)
			}
		}
	} else if err := t.start(ctx); err != nil {
		t.close()
		return nil, err
	}
	if err := t.setup(ctx); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

func (t *parleyTarget) describe() string {
	db := "SQLite"
	if t.o.databaseURL != "" {
		db = "PostgreSQL"
	}
	bus := "in-process bus"
	if t.o.natsURL != "" {
		bus = "NATS"
	}
	if t.o.parleyURL != "" {
		return "running at " + t.o.parleyURL
	}
	return fmt.Sprintf("%d node(s), %s, %s", len(t.urls), db, bus)
}

// start runs the nodes as children, each on a free loopback port, with
// a fresh data dir the first time and the same one on a restart.
func (t *parleyTarget) start(ctx context.Context) error {
	if t.account == "" {
		t.account, t.token, t.prefix = "AC"+randomHex(16), randomHex(16), "load"+randomHex(4)
	}
	if t.root == "" {
		t.root = t.o.dataDir
		if t.root == "" {
			dir, err := os.MkdirTemp("", "parley-load-")
			if err != nil {
				return err
			}
			t.root, t.tmp = dir, dir
		}
	}
	t.procs, t.pidList, t.urls = nil, nil, nil
	for n := range t.o.nodes {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		cmd := exec.Command(t.o.parleyBin, "serve")
		cmd.Env = append(os.Environ(), "PARLEY_ADDR="+addr, "PARLEY_DATA_DIR="+filepath.Join(t.root, fmt.Sprint("node", n)),
			"PARLEY_DATABASE_URL="+t.o.databaseURL, "PARLEY_NATS_URL="+t.o.natsURL, "PARLEY_NATS_PREFIX="+t.prefix,
			"PARLEY_ACCOUNT_SID="+t.account, "PARLEY_AUTH_TOKEN="+t.token, "PARLEY_LOG_LEVEL=warn",
			// The load is the point: no send limits.
			"PARLEY_REALTIME_IDENTITY_RATE=0", "PARLEY_REALTIME_CHANNEL_RATE=0", "PARLEY_GUEST_TOKEN_RATE=0")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", t.o.parleyBin, err)
		}
		t.procs = append(t.procs, cmd)
		t.pidList = append(t.pidList, cmd.Process.Pid)
		t.urls = append(t.urls, "http://"+addr)
		if err := waitReady(ctx, "http://"+addr); err != nil {
			return err
		}
	}
	return nil
}

// fresh restarts the nodes this tool started (on the same data, so the
// channels stay), so that each run's memory figures start from a new
// process rather than one whose heap earlier runs grew.
func (t *parleyTarget) fresh(ctx context.Context) error {
	if t.o.parleyURL != "" {
		return nil
	}
	t.stop()
	return t.start(ctx)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(ctx context.Context, base string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not become ready", base)
}

func (t *parleyTarget) close() {
	t.stop()
	if t.tmp != "" {
		_ = os.RemoveAll(t.tmp)
	}
}

// stop interrupts the nodes and waits for them (killing a node that
// takes more than 10s).
func (t *parleyTarget) stop() {
	for _, c := range t.procs {
		_ = c.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
	}
	t.procs = nil
}

func (t *parleyTarget) name() string { return "parley" }
func (t *parleyTarget) pids() []int  { return t.pidList }

// setup creates an API key (which signs the sockets' tokens), a chat
// service and the channels, each with a guest and an agent member,
// through the REST API.
func (t *parleyTarget) setup(ctx context.Context) error {
	var key struct{ Sid, Secret string }
	if err := t.post(ctx, "/api/2010-04-01/Accounts/"+t.account+"/Keys.json", url.Values{"FriendlyName": {"parley-load"}}, &key); err != nil {
		return err
	}
	t.key = apiKey{key.Sid, key.Secret}
	var svc struct{ Sid string }
	if err := t.post(ctx, "/chat/v2/Services", url.Values{"FriendlyName": {"load"}}, &svc); err != nil {
		return err
	}
	t.service = svc.Sid
	t.channels = make([]string, t.o.channels)
	var firstErr atomic.Pointer[error]
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := t.setupChannel(ctx, i); err != nil {
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	for i := range t.o.channels {
		if firstErr.Load() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (t *parleyTarget) setupChannel(ctx context.Context, i int) error {
	var ch struct{ Sid string }
	base := "/chat/v2/Services/" + t.service + "/Channels"
	if err := t.post(ctx, base, url.Values{"FriendlyName": {fmt.Sprint("load ", i)}, "Type": {"private"}}, &ch); err != nil {
		return err
	}
	for _, who := range []string{"guest", "agent"} {
		if err := t.post(ctx, base+"/"+ch.Sid+"/Members", url.Values{"Identity": {fmt.Sprint(who, i)}}, nil); err != nil {
			return err
		}
	}
	t.channels[i] = ch.Sid
	return nil
}

var httpClient = &http.Client{Timeout: 30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

// post sends a form with the account's credentials and decodes the answer.
func (t *parleyTarget) post(ctx context.Context, path string, form url.Values, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.urls[0]+path, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(t.account, t.token)
	res, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		var e struct{ Message string }
		_ = json.NewDecoder(res.Body).Decode(&e)
		return fmt.Errorf("POST %s: %d %s", path, res.StatusCode, e.Message)
	}
	if into == nil {
		return nil
	}
	return json.NewDecoder(res.Body).Decode(into)
}

// tokenFor mints an access token the way a customer's backend does, with
// Twilio's own helper library and the API key.
func (t *parleyTarget) tokenFor(identity string) (string, error) {
	at := jwt.CreateAccessToken(jwt.AccessTokenParams{AccountSid: t.account, SigningKeySid: t.key.sid,
		Secret: t.key.secret, Identity: identity, Ttl: 6 * 3600})
	at.AddGrant(&jwt.ChatGrant{ServiceSid: t.service})
	return at.ToJwt()
}

// connect opens the agent's socket (which receives) and the guest's
// (which sends), each subscribed to the channel; with several nodes they
// are on different ones.
func (t *parleyTarget) connect(ctx context.Context, i int, rec *recorder) (sender, error) {
	ch := t.channels[i]
	agentURL, guestURL := t.urls[i%len(t.urls)], t.urls[(i+1)%len(t.urls)]
	atok, err := t.tokenFor(fmt.Sprint("agent", i))
	if err != nil {
		return nil, err
	}
	gtok, err := t.tokenFor(fmt.Sprint("guest", i))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	agent, err := rtclient.Dial(ctx, agentURL, atok, func(f rtclient.Frame) {
		if f.Type == "message.added" && f.ChannelSID == ch && f.Index != nil {
			if m, err := rtclient.DecodeMessage(f); err == nil {
				rec.deliver(m.Body, *f.Index)
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("agent %d: %w", i, err)
	}
	guest, err := rtclient.Dial(ctx, guestURL, gtok, nil)
	if err != nil {
		agent.Kill()
		return nil, fmt.Errorf("guest %d: %w", i, err)
	}
	s := &parleySender{guest: guest, agent: agent, channel: ch, run: randomHex(4)}
	for _, c := range []*rtclient.Conn{agent, guest} {
		if _, err := c.Subscribe(ctx, ch, nil); err != nil {
			s.close()
			return nil, fmt.Errorf("subscribe %d: %w", i, err)
		}
	}
	return s, nil
}

type parleySender struct {
	guest, agent *rtclient.Conn
	channel, run string
}

func (s *parleySender) send(ctx context.Context, seq int64, body string) error {
	_, err := s.guest.Send(ctx, s.channel, body, s.run+"-"+strconv.FormatInt(seq, 10))
	var rerr *rtclient.Error
	if errors.As(err, &rerr) {
		return fmt.Errorf("send refused: %w", err)
	}
	return err
}

func (s *parleySender) close() {
	s.guest.Kill()
	s.agent.Kill()
}
