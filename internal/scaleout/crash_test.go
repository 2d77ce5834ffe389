package scaleout_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	chatv2 "github.com/twilio/twilio-go/rest/chat/v2"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store/storetest"
	"github.com/parleychat/parley/twiliohttp"
)

// buildParley compiles the real binary into a temporary directory.
func buildParley(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "parley")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "build", "-o", bin, "github.com/parleychat/parley/cmd/parley").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a parley binary running as a child.
type process struct {
	t       *testing.T
	bin     string
	env     []string
	url     string
	account string
	token   string
	cmd     *exec.Cmd
}

func newProcess(t *testing.T, bin, dataDir, databaseURL string) *process {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &process{t: t, bin: bin, url: "http://" + addr, account: "AC" + rest.RandomHex(16), token: rest.RandomHex(16)}
	p.env = append(os.Environ(), "PARLEY_ADDR="+addr, "PARLEY_DATA_DIR="+dataDir, "PARLEY_DATABASE_URL="+databaseURL,
		"PARLEY_ACCOUNT_SID="+p.account, "PARLEY_AUTH_TOKEN="+p.token, "PARLEY_LOG_LEVEL=warn", "PARLEY_NATS_URL=")
	t.Cleanup(p.kill)
	return p
}

// start runs the binary and waits until /readyz answers 200.
func (p *process) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, "serve")
	p.cmd.Env = p.env
	log, err := os.OpenFile(filepath.Join(p.t.TempDir(), "parley.log"), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	defer log.Close()
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(p.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log.Name())
			p.t.Fatalf("parley did not become ready: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL: no shutdown, no flush, no goodbye.
func (p *process) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.cmd = nil
}

func (p *process) twilio() *twilio.RestClient {
	c := &client.Client{Credentials: client.NewCredentials(p.account, p.token), HTTPClient: twiliohttp.Client(p.url)}
	c.SetAccountSid(p.account)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
}

type acked struct {
	sid, body string
	index     int
}

// testKillDuringStream streams messages from several writers over REST,
// kills the server with SIGKILL mid-stream, restarts it on the same data,
// and checks that every acknowledged message is there, in order, once.
func testKillDuringStream(t *testing.T, databaseURL string) {
	bin := buildParley(t)
	p := newProcess(t, bin, t.TempDir(), databaseURL)
	p.start()
	tw := p.twilio().ChatV2
	svc, err := tw.CreateService(&chatv2.CreateServiceParams{FriendlyName: ptr("crash")})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := tw.CreateChannel(*svc.Sid, &chatv2.CreateChannelParams{FriendlyName: ptr("stream")})
	if err != nil {
		t.Fatal(err)
	}

	const writers, enough = 4, 150
	var mu sync.Mutex
	var acks []acked
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && i < 100000; i++ {
				body := fmt.Sprintf("w%d-%06d", w, i)
				m, err := tw.CreateMessage(*svc.Sid, *ch.Sid, &chatv2.CreateMessageParams{Body: &body})
				if err != nil {
					return // the server is gone: this request was not acknowledged
				}
				mu.Lock()
				acks = append(acks, acked{sid: *m.Sid, body: body, index: m.Index})
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		if n >= enough || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.kill() // while the writers are still sending
	stop()
	wg.Wait()
	if len(acks) < enough {
		t.Fatalf("only %d messages acknowledged before the kill", len(acks))
	}

	p.start()
	msgs, err := p.twilio().ChatV2.ListMessage(*svc.Sid, *ch.Sid, &chatv2.ListMessageParams{PageSize: ptr(1000)})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]chatv2.ChatV2Message{}
	bodies := map[string]bool{}
	lastOf := map[string]string{} // writer -> last body seen, to check each writer's order
	for i, m := range msgs {
		if m.Index != i {
			t.Fatalf("message %d has index %d: indexes must be 0, 1, 2, ... without gaps", i, m.Index)
		}
		if bodies[*m.Body] {
			t.Fatalf("%q is stored twice", *m.Body)
		}
		bodies[*m.Body] = true
		stored[*m.Sid] = m
		w := (*m.Body)[:2]
		if *m.Body <= lastOf[w] {
			t.Fatalf("%q is stored after %q", *m.Body, lastOf[w])
		}
		lastOf[w] = *m.Body
	}
	for _, a := range acks {
		m, ok := stored[a.sid]
		if !ok {
			t.Fatalf("acknowledged message %s (%q, index %d) is missing after the crash", a.sid, a.body, a.index)
		}
		if *m.Body != a.body || m.Index != a.index {
			t.Fatalf("acknowledged message %s was %q at %d, is %q at %d", a.sid, a.body, a.index, *m.Body, m.Index)
		}
	}
	t.Logf("%d acknowledged, %d stored (the rest were in flight at the kill)", len(acks), len(msgs))
}

func TestKillDuringStreamSQLite(t *testing.T) {
	testKillDuringStream(t, "")
}

func TestKillDuringStreamPostgres(t *testing.T) {
	testKillDuringStream(t, storetest.PostgresURL(t))
}
