// Package rtclient is a small Go client of Parley's realtime protocol
// (docs/realtime-protocol.md), for the multi-node tests and the load tool:
// authenticate, subscribe from an index, send with a client message id,
// answer pings, and hand every pushed frame to a callback.
//
// It is written from the protocol, not from the server's code, so that
// what it proves is what any client gets.
package rtclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
)

// Subprotocol is the protocol's WebSocket subprotocol.
const Subprotocol = "parley.v1"

// Frame is a server frame; fields that a frame's type does not use are zero.
type Frame struct {
	V          int             `json:"v"`
	Type       string          `json:"type"`
	Re         string          `json:"re,omitempty"`
	ChannelSID string          `json:"channel_sid,omitempty"`
	WorkerSID  string          `json:"worker_sid,omitempty"`
	Index      *int64          `json:"index,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Error      *Error          `json:"error,omitempty"`
	Reason     string          `json:"reason,omitempty"`
}

// Error is an error frame's body (Twilio's error shape).
type Error struct {
	Status  int    `json:"status"`
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %d: %s", e.Status, e.Code, e.Message) }

// Message is the part of a message's JSON clients read.
type Message struct {
	SID   string `json:"sid"`
	Index int64  `json:"index"`
	From  string `json:"from"`
	Body  string `json:"body"`
}

// Conn is one authenticated socket.
type Conn struct {
	ws      *websocket.Conn
	onEvent func(Frame)
	nextID  atomic.Int64

	mu      sync.Mutex
	waiting map[string]chan Frame
	err     error // why the socket ended
	done    chan struct{}

	// Auth is the auth frame's reply.
	Auth AuthReply
}

// AuthReply is what the server says about the token.
type AuthReply struct {
	Identity   string   `json:"identity"`
	AccountSID string   `json:"account_sid"`
	ServiceSID string   `json:"service_sid"`
	WorkerSID  string   `json:"worker_sid"`
	Channels   []string `json:"channels"`
}

// Dial connects to base (http://host:port) and authenticates with token.
// onEvent receives every frame that is not a reply or a ping, on the
// reading goroutine (so a slow onEvent is a slow reader).
func Dial(ctx context.Context, base, token string, onEvent func(Frame)) (*Conn, error) {
	url := "ws" + strings.TrimPrefix(base, "http") + "/realtime/v1"
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	if err != nil {
		return nil, fmt.Errorf("rtclient: dial: %w", err)
	}
	ws.SetReadLimit(4 << 20)
	if onEvent == nil {
		onEvent = func(Frame) {}
	}
	c := &Conn{ws: ws, onEvent: onEvent, waiting: map[string]chan Frame{}, done: make(chan struct{})}
	go c.read()
	r, err := c.Request(ctx, map[string]any{"type": "auth", "token": token})
	if err != nil {
		ws.CloseNow()
		return nil, err
	}
	if err := json.Unmarshal(r.Data, &c.Auth); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("rtclient: auth reply: %w", err)
	}
	return c, nil
}

func (c *Conn) read() {
	defer close(c.done)
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.fail(err)
			return
		}
		var f Frame
		if err := json.Unmarshal(data, &f); err != nil {
			c.fail(fmt.Errorf("rtclient: bad frame: %w", err))
			c.ws.CloseNow()
			return
		}
		switch {
		case f.Type == "ping":
			go c.write(context.Background(), map[string]any{"type": "pong"})
		case f.Type == "pong":
		case (f.Type == "reply" || f.Type == "error") && f.Re != "":
			c.mu.Lock()
			ch := c.waiting[f.Re]
			delete(c.waiting, f.Re)
			c.mu.Unlock()
			if ch != nil {
				ch <- f
			}
		default:
			c.onEvent(f)
		}
	}
}

// fail records why the socket ended and wakes every waiting request.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	for id, ch := range c.waiting {
		close(ch)
		delete(c.waiting, id)
	}
}

// Err is why the socket ended (nil while it is open).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Done is closed when the socket has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// CloseStatus is the close code the server sent, or -1.
func (c *Conn) CloseStatus() int { return int(websocket.CloseStatus(c.Err())) }

func (c *Conn) write(ctx context.Context, frame map[string]any) error {
	frame["v"] = 1
	b, err := json.Marshal(frame)
	if err != nil {
		return err
	}
	return c.ws.Write(ctx, websocket.MessageText, b)
}

// Request sends frame with a fresh id and waits for its reply; an error
// frame comes back as *Error.
func (c *Conn) Request(ctx context.Context, frame map[string]any) (Frame, error) {
	id := strconv.FormatInt(c.nextID.Add(1), 10)
	frame["id"] = id
	ch := make(chan Frame, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return Frame{}, fmt.Errorf("rtclient: socket ended: %w", c.err)
	}
	c.waiting[id] = ch
	c.mu.Unlock()
	if err := c.write(ctx, frame); err != nil {
		return Frame{}, fmt.Errorf("rtclient: write: %w", err)
	}
	select {
	case f, ok := <-ch:
		if !ok {
			return f, fmt.Errorf("rtclient: socket ended: %w", c.Err())
		}
		if f.Type == "error" {
			if f.Error == nil {
				return f, errors.New("rtclient: error frame without a body")
			}
			return f, f.Error
		}
		return f, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
		return Frame{}, ctx.Err()
	}
}

// SubscribeReply is the channel's state when a subscription starts.
type SubscribeReply struct {
	ChannelSID string          `json:"channel_sid"`
	Channel    json.RawMessage `json:"channel"`
	Members    json.RawMessage `json:"members"`
	LastIndex  int64           `json:"last_index"`
	Replayed   int             `json:"replayed"`
}

// Subscribe starts a channel's events; with lastIndex the messages after
// it are replayed (as message.added events) before the reply.
func (c *Conn) Subscribe(ctx context.Context, channelSID string, lastIndex *int64) (SubscribeReply, error) {
	frame := map[string]any{"type": "subscribe", "channel_sid": channelSID}
	if lastIndex != nil {
		frame["last_index"] = *lastIndex
	}
	var r SubscribeReply
	f, err := c.Request(ctx, frame)
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(f.Data, &r)
}

// Send sends a message and returns its index once the server committed it.
func (c *Conn) Send(ctx context.Context, channelSID, body, clientMessageID string) (int64, error) {
	f, err := c.Request(ctx, map[string]any{"type": "send", "channel_sid": channelSID, "body": body,
		"client_message_id": clientMessageID})
	if err != nil {
		return 0, err
	}
	var r struct {
		Index int64 `json:"index"`
	}
	return r.Index, json.Unmarshal(f.Data, &r)
}

// Close closes the socket normally.
func (c *Conn) Close() error { return c.ws.Close(websocket.StatusNormalClosure, "") }

// Kill drops the socket without a close handshake (a lost connection).
func (c *Conn) Kill() { c.ws.CloseNow() }

// DecodeMessage reads a message.added event's message.
func DecodeMessage(f Frame) (Message, error) {
	var m Message
	err := json.Unmarshal(f.Data, &m)
	return m, err
}
