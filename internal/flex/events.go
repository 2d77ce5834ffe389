package flex

import (
	"context"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/bus"
)

// eventShards handles chat events on several goroutines, so that one slow
// channel (a task being created, a webhook claim) does not hold up every
// other conversation. A channel's events always go to the same shard and
// so are handled in the order chat published them.
type eventShards struct {
	svc    *Service
	queues []chan bus.Msg
	stop   chan struct{}
	wg     sync.WaitGroup
}

// shardCount and shardQueue bound the handling: a full shard makes the
// bus subscription wait, and the bus drops (and counts) past its buffer.
const (
	shardCount = 8
	shardQueue = 256
)

func newEventShards(s *Service) *eventShards {
	e := &eventShards{svc: s, queues: make([]chan bus.Msg, shardCount), stop: make(chan struct{})}
	for i := range e.queues {
		e.queues[i] = make(chan bus.Msg, shardQueue)
		e.wg.Add(1)
		go e.run(e.queues[i])
	}
	return e
}

// dispatch queues m on its channel's shard (the bus's subscription callback).
func (e *eventShards) dispatch(m bus.Msg) {
	h := fnv.New32a()
	h.Write([]byte(m.Subject))
	select {
	case e.queues[h.Sum32()%shardCount] <- m:
	case <-e.stop:
	}
}

func (e *eventShards) run(q chan bus.Msg) {
	defer e.wg.Done()
	for {
		select {
		case <-e.stop:
			return
		case m := <-q:
			e.handle(m)
		}
	}
}

func (e *eventShards) handle(m bus.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sid := m.Subject[len("chat."):]
	if err := e.svc.HandleChatEvent(ctx, sid, m.Data); err != nil {
		e.svc.logger.WarnContext(ctx, "chat event", slog.String("channel_sid", sid), slog.Any("error", err))
	}
}

// close stops the shards; events still queued are dropped (the bus is at
// most once; the idle sweep and the next event catch up).
func (e *eventShards) close() {
	close(e.stop)
	e.wg.Wait()
}
