package realtime

import (
	"context"
	"errors"
	"sync"
)

// errOutboxFull: the client reads slower than events arrive.
var errOutboxFull = errors.New("realtime: outbound queue full")

// errOutboxClosed: the socket is closing.
var errOutboxClosed = errors.New("realtime: socket closed")

// outbox is a socket's bounded outbound queue, counted in frames and in
// bytes. Live events never wait for space: a full queue means a slow
// consumer, which is disconnected rather than allowed to slow the hub.
// Replays (a resume's missed messages) wait instead, but only while the
// queue is less than half full, so that live events keep the other half.
//
// The writer goroutine is started by the push that finds the queue idle
// and exits when it drains it, so an idle socket costs no writer.
type outbox struct {
	mu        sync.Mutex
	frames    [][]byte
	bytes     int
	maxFrames int
	maxBytes  int
	writing   bool
	closed    bool
	space     chan struct{} // signalled (cap 1) when a frame leaves
}

func newOutbox(maxFrames, maxBytes int) *outbox {
	return &outbox{maxFrames: maxFrames, maxBytes: maxBytes, space: make(chan struct{}, 1)}
}

// push queues frame unless the queue is full. startWriter says that no
// writer is running and the caller must start one.
func (o *outbox) push(frame []byte) (startWriter bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pushLocked(frame, o.maxFrames, o.maxBytes)
}

func (o *outbox) pushLocked(frame []byte, maxFrames, maxBytes int) (bool, error) {
	if o.closed {
		return false, errOutboxClosed
	}
	if len(o.frames) >= maxFrames || (len(o.frames) > 0 && o.bytes+len(frame) > maxBytes) {
		return false, errOutboxFull
	}
	o.frames = append(o.frames, frame)
	o.bytes += len(frame)
	start := !o.writing
	o.writing = true
	return start, nil
}

// pushWait queues frame once the queue is at most half full.
func (o *outbox) pushWait(ctx context.Context, frame []byte) (startWriter bool, err error) {
	for {
		o.mu.Lock()
		start, err := o.pushLocked(frame, o.maxFrames/2, o.maxBytes/2)
		o.mu.Unlock()
		if !errors.Is(err, errOutboxFull) {
			return start, err
		}
		select {
		case <-o.space:
		case <-ctx.Done():
			return false, errOutboxFull
		}
	}
}

// pop takes the oldest frame. When the queue is empty it marks the
// writer stopped and returns ok=false: the writer must exit.
func (o *outbox) pop() (frame []byte, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.frames) == 0 || o.closed {
		o.writing = false
		return nil, false
	}
	frame = o.frames[0]
	o.frames[0] = nil
	o.frames = o.frames[1:]
	if len(o.frames) == 0 {
		o.frames = nil // let the backing array go
	}
	o.bytes -= len(frame)
	select {
	case o.space <- struct{}{}:
	default:
	}
	return frame, true
}

// close drops what is queued and refuses more.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.frames, o.bytes = nil, 0
	o.mu.Unlock()
	select {
	case o.space <- struct{}{}:
	default:
	}
}

func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.frames)
}
