// Package natsbus is the NATS implementation of the bus seam: core NATS
// pub/sub (no JetStream), so that several Parley nodes of one deployment
// see each other's events.
//
// It keeps bus.Bus's contract the cheap way NATS allows: delivery is at
// most once. While the connection is down, Publish fails at once (the
// reconnect buffer is disabled, so nothing stale is replayed minutes
// later and memory stays bounded) and subscribers miss what others
// published meanwhile; the store is the truth and subscribers fill gaps
// from it. The connection reconnects forever, and Healthy says what is
// wrong until it is back, for /readyz.
//
// Every subject is prefixed with the deployment's name, so that several
// deployments (or test runs) can share one NATS server without seeing each
// other: Parley's "chat.CH..." travels as "<prefix>.chat.CH...".
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parleychat/parley/internal/bus"
)

// Options are the bus's knobs. Zero values take the defaults.
type Options struct {
	// Prefix is the deployment's name, the first subject token(s) of
	// everything this bus sends (default "parley").
	Prefix string
	// Name names the connection in NATS's monitoring (default "parley").
	Name string
	// PingInterval is how often the client pings the server; two missed
	// pongs mark a silent server as gone (default 5s, so an unreachable
	// server shows in Healthy within about 15s).
	PingInterval time.Duration
	// ReconnectWait is the pause between reconnect attempts (default 1s,
	// with jitter).
	ReconnectWait time.Duration
	// PendingMsgs and PendingBytes bound what one subscription may have
	// received but not yet handled; beyond them NATS drops (and Dropped
	// counts) rather than grow (defaults 65536 messages, 64 MiB).
	PendingMsgs  int
	PendingBytes int
	Logger       *slog.Logger
}

func (o *Options) defaults() {
	if o.Prefix == "" {
		o.Prefix = "parley"
	}
	if o.Name == "" {
		o.Name = "parley"
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 5 * time.Second
	}
	if o.ReconnectWait <= 0 {
		o.ReconnectWait = time.Second
	}
	if o.PendingMsgs <= 0 {
		o.PendingMsgs = 65536
	}
	if o.PendingBytes <= 0 {
		o.PendingBytes = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// prefixPattern is one or more subject tokens without wildcards.
var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// ValidPrefix reports whether p can prefix subjects (config validation uses it).
func ValidPrefix(p string) bool { return prefixPattern.MatchString(p) }

// Bus is a bus.Bus over one NATS connection.
type Bus struct {
	nc      *nats.Conn
	prefix  string // with its trailing dot
	log     *slog.Logger
	pending [2]int   // a subscription's limits: messages, bytes
	subs    sync.Map // *subscription -> struct{}, for Dropped
	closed  atomic.Bool
}

var _ bus.Bus = (*Bus)(nil)

// New connects to the NATS server(s) in url (comma-separated for a
// cluster). If none answers yet, New still returns a bus that keeps
// trying; Healthy reports the failure meanwhile.
func New(url string, opts Options) (*Bus, error) {
	opts.defaults()
	if !ValidPrefix(opts.Prefix) {
		return nil, fmt.Errorf("natsbus: prefix %q is not dot-separated letters, digits, _ and -", opts.Prefix)
	}
	b := &Bus{prefix: opts.Prefix + ".", log: opts.Logger.With("component", "natsbus"),
		pending: [2]int{opts.PendingMsgs, opts.PendingBytes}}
	nc, err := nats.Connect(url,
		nats.Name(opts.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(opts.ReconnectWait),
		nats.ReconnectJitter(opts.ReconnectWait/2, opts.ReconnectWait/2),
		nats.ReconnectBufSize(-1), // publish fails fast while disconnected
		nats.PingInterval(opts.PingInterval),
		nats.MaxPingsOutstanding(2),
		nats.ConnectHandler(func(nc *nats.Conn) {
			b.log.Info("nats connected", slog.String("server", nc.ConnectedUrlRedacted()))
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if !b.closed.Load() { // Close disconnects too: that is no news
				b.log.Warn("nats disconnected; reconnecting", slog.Any("error", err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("nats reconnected", slog.String("server", nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(b.asyncError),
	)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect: %w", err)
	}
	b.nc = nc
	return b, nil
}

// asyncError logs what NATS reports outside any call: mostly a
// subscription too slow to keep up, whose excess NATS dropped.
func (b *Bus) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	attrs := []any{slog.Any("error", err)}
	if sub != nil {
		attrs = append(attrs, slog.String("subject", sub.Subject))
	}
	b.log.Warn("nats asynchronous error (a slow subscriber loses messages; readers fill gaps from the store)", attrs...)
}

// Publish sends data on the prefixed subject. While disconnected it fails
// at once: the caller has committed, and subscribers fill the gap.
func (b *Bus) Publish(ctx context.Context, subject string, data []byte) error {
	if b.closed.Load() {
		return bus.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.nc.Publish(b.prefix+subject, data); err != nil {
		return fmt.Errorf("natsbus: publish %s: %w", subject, err)
	}
	return nil
}

// Subscribe calls fn for each message on subject (wildcards allowed), in
// order, on the subscription's own goroutine.
func (b *Bus) Subscribe(subject string, fn func(bus.Msg)) (bus.Subscription, error) {
	if b.closed.Load() {
		return nil, bus.ErrClosed
	}
	prefix := b.prefix
	ns, err := b.nc.Subscribe(prefix+subject, func(m *nats.Msg) {
		fn(bus.Msg{Subject: strings.TrimPrefix(m.Subject, prefix), Data: m.Data})
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: subscribe %s: %w", subject, err)
	}
	if err := ns.SetPendingLimits(b.pending[0], b.pending[1]); err != nil {
		_ = ns.Unsubscribe()
		return nil, fmt.Errorf("natsbus: subscribe %s: %w", subject, err)
	}
	s := &subscription{ns: ns, bus: b}
	b.subs.Store(s, struct{}{})
	return s, nil
}

type subscription struct {
	ns   *nats.Subscription
	bus  *Bus
	once sync.Once
}

// Unsubscribe stops delivery; a second call, or one after the bus closed,
// does nothing.
func (s *subscription) Unsubscribe() error {
	var err error
	s.once.Do(func() {
		s.bus.subs.Delete(s)
		err = s.ns.Unsubscribe()
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
			err = nil
		}
	})
	return err
}

// Healthy reports whether the connection is up, and if not, its state and
// the last error, with any password in the URL redacted.
func (b *Bus) Healthy() error {
	if b.closed.Load() {
		return bus.ErrClosed
	}
	st := b.nc.Status()
	if st == nats.CONNECTED {
		return nil
	}
	msg := fmt.Sprintf("nats %s", strings.ToLower(st.String()))
	if err := b.nc.LastError(); err != nil {
		msg += ": " + err.Error()
	}
	return errors.New(msg)
}

// Dropped counts messages NATS dropped for live subscriptions that fell
// behind.
func (b *Bus) Dropped() int64 {
	var n int64
	b.subs.Range(func(k, _ any) bool {
		if d, err := k.(*subscription).ns.Dropped(); err == nil {
			n += int64(d)
		}
		return true
	})
	return n
}

// Close closes the connection; subscriptions end with it.
func (b *Bus) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.nc.Close()
	return nil
}
