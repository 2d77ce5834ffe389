package bus

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Memory is the in-process bus: a list of subscriptions under a lock, each
// with a bounded buffer drained by its own goroutine. A full buffer drops
// the message (and counts it) rather than slow the publisher: the store is
// the truth, and subscribers fill gaps from it.
type Memory struct {
	mu      sync.RWMutex
	subs    map[*memSub]struct{}
	closed  bool
	buffer  int
	dropped atomic.Int64
}

var _ Bus = (*Memory)(nil)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("bus: closed")

// NewMemory returns an in-process bus whose subscribers each buffer up to
// buffer messages (1024 when buffer <= 0).
func NewMemory(buffer int) *Memory {
	if buffer <= 0 {
		buffer = 1024
	}
	return &Memory{subs: map[*memSub]struct{}{}, buffer: buffer}
}

type memSub struct {
	bus     *Memory
	pattern string
	ch      chan Msg
	once    sync.Once
	done    chan struct{}
}

func (m *Memory) Publish(ctx context.Context, subject string, data []byte) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	for s := range m.subs {
		if !Match(s.pattern, subject) {
			continue
		}
		select {
		case s.ch <- Msg{Subject: subject, Data: data}:
		default:
			m.dropped.Add(1)
		}
	}
	return nil
}

func (m *Memory) Subscribe(subject string, fn func(Msg)) (Subscription, error) {
	s := &memSub{bus: m, pattern: subject, ch: make(chan Msg, m.buffer), done: make(chan struct{})}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	m.subs[s] = struct{}{}
	m.mu.Unlock()
	go func() {
		for {
			select {
			case msg := <-s.ch:
				fn(msg)
			case <-s.done:
				return
			}
		}
	}()
	return s, nil
}

func (s *memSub) Unsubscribe() error {
	s.once.Do(func() {
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
		close(s.done)
	})
	return nil
}

// Dropped counts messages dropped because a subscriber's buffer was full.
func (m *Memory) Dropped() int64 { return m.dropped.Load() }

func (m *Memory) Healthy() error { return nil }

func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	subs := m.subs
	m.subs = map[*memSub]struct{}{}
	m.mu.Unlock()
	for s := range subs {
		s.once.Do(func() { close(s.done) })
	}
	return nil
}
