package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// The relay is the baseline: a WebSocket server with no authentication
// and no storage, whose rooms are a map. A frame a socket sends goes to
// every other socket in its room, and the sender gets a small ack, the
// least a client needs to know its message went out. It runs as a child
// process (parley-load relay), so that its memory and CPU are its own.

// runRelayServer serves the relay on a loopback port and prints its
// address on the first line of stdout.
func runRelayServer(args []string, stdout io.Writer) int {
	fs := flag.NewFlagSet("parley-load relay", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		return 1
	}
	fmt.Fprintln(stdout, ln.Addr().String())
	r := &relay{rooms: map[string]map[*websocket.Conn]struct{}{}}
	srv := &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		return 1
	}
	return 0
}

type relay struct {
	mu    sync.RWMutex
	rooms map[string]map[*websocket.Conn]struct{}
}

var ack = []byte(`{"type":"ack"}`)

func (r *relay) serve(w http.ResponseWriter, req *http.Request) {
	room := req.URL.Query().Get("room")
	c, err := websocket.Accept(w, req, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	r.mu.Lock()
	if r.rooms[room] == nil {
		r.rooms[room] = map[*websocket.Conn]struct{}{}
	}
	r.rooms[room][c] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.rooms[room], c)
		if len(r.rooms[room]) == 0 {
			delete(r.rooms, room)
		}
		r.mu.Unlock()
	}()
	ctx := context.Background()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		r.mu.RLock()
		peers := make([]*websocket.Conn, 0, len(r.rooms[room]))
		for p := range r.rooms[room] {
			if p != c {
				peers = append(peers, p)
			}
		}
		r.mu.RUnlock()
		for _, p := range peers {
			_ = p.Write(ctx, websocket.MessageText, data)
		}
		if c.Write(ctx, websocket.MessageText, ack) != nil {
			return
		}
	}
}

// relayTarget is a relay child process.
type relayTarget struct {
	cmd  *exec.Cmd
	addr string
}

// fresh replaces the relay process by a new one (see parleyTarget.fresh).
func (t *relayTarget) fresh(ctx context.Context) error {
	t.close()
	n, err := startRelay(ctx)
	if err != nil {
		return err
	}
	*t = *n
	return nil
}

func startRelay(ctx context.Context) (*relayTarget, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "relay")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start relay: %w", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("relay did not say where it listens: %w", err)
	}
	return &relayTarget{cmd: cmd, addr: strings.TrimSpace(line)}, nil
}

func (t *relayTarget) name() string { return "relay" }
func (t *relayTarget) pids() []int  { return []int{t.cmd.Process.Pid} }

func (t *relayTarget) close() {
	_ = t.cmd.Process.Kill()
	_ = t.cmd.Wait()
}

type relayFrame struct {
	Type string `json:"type"`
	Body string `json:"body,omitempty"`
}

func (t *relayTarget) connect(ctx context.Context, i int, rec *recorder) (sender, error) {
	url := "ws://" + t.addr + "/?room=" + strconv.Itoa(i)
	agent, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	guest, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		agent.CloseNow()
		return nil, err
	}
	s := &relaySender{guest: guest, agent: agent}
	go s.readAgent(rec)
	go s.readGuest()
	return s, nil
}

// relaySender sends on the guest socket; acks come back in order, so a
// queue of waiters matches them.
type relaySender struct {
	guest, agent *websocket.Conn
	mu           sync.Mutex
	waiting      []chan struct{}
}

func (s *relaySender) readAgent(rec *recorder) {
	for {
		_, data, err := s.agent.Read(context.Background())
		if err != nil {
			return
		}
		var f relayFrame
		if json.Unmarshal(data, &f) == nil && f.Type == "send" {
			rec.deliver(f.Body, -1)
		}
	}
}

func (s *relaySender) readGuest() {
	for {
		_, data, err := s.guest.Read(context.Background())
		s.mu.Lock()
		if err != nil {
			for _, w := range s.waiting {
				close(w)
			}
			s.waiting = nil
			s.mu.Unlock()
			return
		}
		var f relayFrame
		if json.Unmarshal(data, &f) == nil && f.Type == "ack" && len(s.waiting) > 0 {
			s.waiting[0] <- struct{}{}
			s.waiting = s.waiting[1:]
		}
		s.mu.Unlock()
	}
}

func (s *relaySender) send(ctx context.Context, _ int64, body string) error {
	frame, _ := json.Marshal(relayFrame{Type: "send", Body: body})
	w := make(chan struct{}, 1)
	s.mu.Lock()
	s.waiting = append(s.waiting, w)
	err := s.guest.Write(ctx, websocket.MessageText, frame)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case _, ok := <-w:
		if !ok {
			return errors.New("relay socket closed")
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *relaySender) close() {
	s.guest.CloseNow()
	s.agent.CloseNow()
}
