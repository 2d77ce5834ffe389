package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// target is what a scenario loads: Parley or the relay.
type target interface {
	name() string
	pids() []int
	// connect opens channel i's two sockets; the receiver reports every
	// message it gets to rec.
	connect(ctx context.Context, i int, rec *recorder) (sender, error)
}

// sender is a channel's sending socket (and closes both).
type sender interface {
	// send sends body and returns once the server acknowledged it.
	send(ctx context.Context, seq int64, body string) error
	close()
}

// epoch is the clock bodies carry: nanoseconds since the tool started
// (sender and receiver are in this process, so one clock serves both).
var epoch = time.Now()

func stamp(seq int64) string {
	return strconv.FormatInt(seq, 10) + " " + strconv.FormatInt(int64(time.Since(epoch)), 10)
}

// parseStamp reads a body stamp back.
func parseStamp(body string) (seq, sent int64, ok bool) {
	a, b, found := strings.Cut(body, " ")
	if !found {
		return 0, 0, false
	}
	seq, err1 := strconv.ParseInt(a, 10, 64)
	sent, err2 := strconv.ParseInt(b, 10, 64)
	return seq, sent, err1 == nil && err2 == nil
}

// recorder collects one channel's deliveries.
type recorder struct {
	run *runStats

	mu        sync.Mutex
	seen      []bool
	lastIndex int64
	acked     int64
}

// runStats collects a whole run's deliveries.
type runStats struct {
	measuring atomic.Bool
	delivered atomic.Int64 // while measuring
	total     atomic.Int64
	dups      atomic.Int64
	disorder  atomic.Int64
	bad       atomic.Int64

	mu        sync.Mutex
	latencies []int64
}

// deliver records one message the receiver got; index is Parley's
// message index (-1 for the relay, which has none).
func (r *recorder) deliver(body string, index int64) {
	now := int64(time.Since(epoch))
	seq, sent, ok := parseStamp(body)
	if !ok || seq < 0 || seq > 1<<30 {
		r.run.bad.Add(1)
		return
	}
	r.mu.Lock()
	for int64(len(r.seen)) <= seq {
		r.seen = append(r.seen, false)
	}
	dup := r.seen[seq]
	r.seen[seq] = true
	if index >= 0 {
		if index <= r.lastIndex {
			r.run.disorder.Add(1)
		}
		r.lastIndex = index
	}
	r.mu.Unlock()
	if dup {
		r.run.dups.Add(1)
		return
	}
	r.run.total.Add(1)
	if r.run.measuring.Load() {
		r.run.delivered.Add(1)
		r.run.mu.Lock()
		r.run.latencies = append(r.run.latencies, now-sent)
		r.run.mu.Unlock()
	}
}

// missing counts acknowledged messages never delivered.
func (r *recorder) missing() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var got int64
	for _, s := range r.seen {
		if s {
			got++
		}
	}
	return max(r.acked-got, 0)
}

// result is one run's figures.
type result struct {
	connectTotal, connectP50, connectP99 float64 // seconds, ms, ms
	deliveredPS                          float64
	p50, p90, p99, max                   float64 // ms
	rssIdleKiB, rssPerSocket             float64
	cpuPerMsgUS                          float64
	hasServer                            bool

	acked, delivered, dups, missing, disorder, sendErrors int64
}

func (r result) short() string {
	return fmt.Sprintf("connect %.1fs, %.0f msgs/s, p50 %.2f p99 %.2f max %.1f ms, %d/%d delivered, %d dup, %d missing, %.1f KiB/socket, %.1f µs CPU/msg",
		r.connectTotal, r.deliveredPS, r.p50, r.p99, r.max, r.delivered, r.acked, r.dups, r.missing, r.rssPerSocket, r.cpuPerMsgUS)
}

// runScenario connects every channel, sends for the duration (or holds
// idle sockets), waits for the last deliveries and closes everything.
func runScenario(ctx context.Context, o options, t target) (result, error) {
	var res result
	run := &runStats{}
	before, hasServer := readProc(t.pids())
	res.hasServer = hasServer
	senders, recs, times, err := connectAll(ctx, o, t, run)
	defer func() {
		for _, s := range senders {
			if s != nil {
				s.close()
			}
		}
	}()
	if err != nil {
		return res, err
	}
	res.connectTotal = times.total.Seconds()
	res.connectP50, res.connectP99 = percentileMS(times.each, 0.50), percentileMS(times.each, 0.99)
	if o.idle {
		sleep(ctx, o.idleHold)
	}
	idle, _ := readProc(t.pids())
	res.rssIdleKiB = float64(idle.rssKiB)
	res.rssPerSocket = float64(idle.rssKiB-before.rssKiB) / float64(2*o.channels)
	if o.idle {
		return res, nil
	}

	start, _ := readProc(t.pids())
	run.measuring.Store(true)
	began := time.Now()
	var sendErrors atomic.Int64
	traffic(ctx, o, senders, recs, &sendErrors)
	elapsed := time.Since(began)
	run.measuring.Store(false)
	end, _ := readProc(t.pids())
	drain(ctx, o.drain, recs)

	res.deliveredPS = float64(run.delivered.Load()) / elapsed.Seconds()
	if d := run.delivered.Load(); d > 0 && hasServer {
		res.cpuPerMsgUS = float64(end.cpu-start.cpu) / float64(time.Microsecond) / float64(d)
	}
	slices.Sort(run.latencies)
	res.p50, res.p90, res.p99 = percentileMS(run.latencies, 0.5), percentileMS(run.latencies, 0.9), percentileMS(run.latencies, 0.99)
	if n := len(run.latencies); n > 0 {
		res.max = float64(run.latencies[n-1]) / 1e6
	}
	for _, r := range recs {
		res.acked += r.acked
		res.missing += r.missing()
	}
	res.delivered, res.dups, res.disorder = run.total.Load(), run.dups.Load(), run.disorder.Load()
	res.sendErrors = sendErrors.Load() + run.bad.Load()
	return res, nil
}

type connectTimes struct {
	total time.Duration
	each  []int64 // nanoseconds per channel (both sockets), sorted
}

// connectAll opens every channel's sockets, o.connectPar at a time.
func connectAll(ctx context.Context, o options, t target, run *runStats) ([]sender, []*recorder, connectTimes, error) {
	senders := make([]sender, o.channels)
	recs := make([]*recorder, o.channels)
	each := make([]int64, o.channels)
	var firstErr atomic.Pointer[error]
	work := make(chan int)
	var wg sync.WaitGroup
	began := time.Now()
	for range o.connectPar {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				recs[i] = &recorder{run: run, lastIndex: -1}
				s := time.Now()
				snd, err := t.connect(ctx, i, recs[i])
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				each[i] = int64(time.Since(s))
				senders[i] = snd
			}
		}()
	}
	for i := range o.channels {
		if firstErr.Load() != nil || ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	times := connectTimes{total: time.Since(began), each: each}
	slices.Sort(times.each)
	if p := firstErr.Load(); p != nil {
		return senders, recs, times, fmt.Errorf("connect %s: %w", t.name(), *p)
	}
	return senders, recs, times, ctx.Err()
}

// traffic sends on every channel until the duration ends: at the rate
// (never more than the window in flight), or flat out with the window
// always full.
func traffic(ctx context.Context, o options, senders []sender, recs []*recorder, errs *atomic.Int64) {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var wg sync.WaitGroup
	for i, s := range senders {
		var seq atomic.Int64
		one := func() {
			n := seq.Add(1) - 1
			sctx, c := context.WithTimeout(context.Background(), 30*time.Second)
			defer c()
			if err := s.send(sctx, n, stamp(n)); err != nil {
				errs.Add(1)
				return
			}
			recs[i].mu.Lock()
			recs[i].acked++
			recs[i].mu.Unlock()
		}
		if o.rate == 0 {
			for range o.window {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						one()
					}
				}()
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			paced(ctx, o, one)
		}()
	}
	wg.Wait()
}

// paced calls one at the rate, from a random phase, with at most the
// window of calls running.
func paced(ctx context.Context, o options, one func()) {
	interval := time.Duration(float64(time.Second) / o.rate)
	if !sleep(ctx, time.Duration(rand.Int64N(int64(interval)))) {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	slots := make(chan struct{}, o.window)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case slots <- struct{}{}:
			wg.Add(1)
			go func() {
				defer wg.Done()
				one()
				<-slots
			}()
		default: // the window is full: this tick's message is skipped
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// drain waits until every acknowledged message was delivered, or the
// drain time is up.
func drain(ctx context.Context, d time.Duration, recs []*recorder) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var missing int64
		for _, r := range recs {
			missing += r.missing()
		}
		if missing == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// percentileMS reads a percentile of sorted nanoseconds, in milliseconds.
func percentileMS(sorted []int64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(int(p*float64(len(sorted))), len(sorted)-1)
	return float64(sorted[i]) / 1e6
}
