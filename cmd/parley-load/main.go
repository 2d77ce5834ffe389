// Command parley-load measures Parley under realtime load and, in the
// same invocation, a minimal WebSocket relay (no auth, no storage, rooms
// in a map) doing the same work, so that figures taken on a noisy shared
// machine mean something as ratios.
//
// Each channel has two sockets: a guest that sends and an agent that
// receives. The tool reports connect time, delivered messages per second,
// publish-to-deliver latency (p50, p90, p99, max), completeness (every
// acknowledged message delivered to the agent exactly once; for Parley
// also in index order), and the server's RSS and CPU time per delivered
// message, read from /proc/<pid>.
//
// Typical runs (see docs/performance.md for the figures):
//
//	go build -o /tmp/parley ./cmd/parley
//	go run ./cmd/parley-load -parley /tmp/parley -channels 1000 -rate 1 -duration 20s
//	go run ./cmd/parley-load -parley /tmp/parley -channels 1000 -rate 0 -window 8 -duration 20s
//	ulimit -n 30000; go run ./cmd/parley-load -parley /tmp/parley -channels 5000 -idle
//
// Every socket is on loopback; every loop is bounded by -duration or a
// count. 10,000 sockets need about 10,000 descriptors in the tool and in
// each server: raise `ulimit -n` first.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	channels    int
	rate        float64
	window      int
	duration    time.Duration
	drain       time.Duration
	idle        bool
	idleHold    time.Duration
	runs        int
	connectPar  int
	parleyBin   string
	parleyURL   string
	account     string
	authToken   string
	pids        string
	databaseURL string
	natsURL     string
	nodes       int
	relay       bool
	dataDir     string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "relay" {
		os.Exit(runRelayServer(os.Args[2:], os.Stdout))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "parley-load:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := measure(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, "parley-load:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("parley-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.channels, "channels", 1000, "channels; each has a guest socket that sends and an agent socket that receives")
	fs.Float64Var(&o.rate, "rate", 1, "messages per second per channel; 0: flat out with -window messages in flight per channel")
	fs.IntVar(&o.window, "window", 8, "most messages in flight (sent, not yet acknowledged) per channel")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to send")
	fs.DurationVar(&o.drain, "drain", 5*time.Second, "how long to wait after sending for the last deliveries")
	fs.BoolVar(&o.idle, "idle", false, "connect every socket, hold them for -hold, send nothing: memory per idle socket")
	fs.DurationVar(&o.idleHold, "hold", 5*time.Second, "with -idle, how long the sockets stay connected before RSS is read")
	fs.IntVar(&o.runs, "runs", 1, "runs of each scenario; figures are the median")
	fs.IntVar(&o.connectPar, "connect-parallel", 64, "sockets connecting at once")
	fs.StringVar(&o.parleyBin, "parley", "", "parley binary to start (on loopback, with a fresh data dir); empty: use -url")
	fs.StringVar(&o.parleyURL, "url", "", "an already running Parley (with -account, -auth-token, and -pid for server figures)")
	fs.StringVar(&o.account, "account", os.Getenv("PARLEY_ACCOUNT_SID"), "with -url: the account SID (default $PARLEY_ACCOUNT_SID)")
	fs.StringVar(&o.authToken, "auth-token", os.Getenv("PARLEY_AUTH_TOKEN"), "with -url: the auth token (default $PARLEY_AUTH_TOKEN)")
	fs.StringVar(&o.pids, "pid", "", "with -url: comma-separated server pids whose /proc figures to report")
	fs.StringVar(&o.databaseURL, "database-url", "", "with -parley: PostgreSQL URL (empty: SQLite in a temporary data dir)")
	fs.StringVar(&o.natsURL, "nats-url", "", "with -parley and -nodes > 1: the NATS server the nodes share")
	fs.IntVar(&o.nodes, "nodes", 1, "with -parley: nodes to start (more than one needs -database-url and -nats-url); a channel's two sockets go to different nodes")
	fs.BoolVar(&o.relay, "relay", true, "also measure the minimal relay baseline in the same run")
	fs.StringVar(&o.dataDir, "data-dir", "", "with -parley: data dir root (default: a temporary directory, removed at the end)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []error
	if o.channels < 1 || o.channels > 50000 {
		errs = append(errs, errors.New("-channels must be between 1 and 50000"))
	}
	if o.rate < 0 || o.window < 1 || o.window > 1024 {
		errs = append(errs, errors.New("-rate must be 0 or more and -window between 1 and 1024"))
	}
	if o.duration <= 0 || o.duration > time.Hour || o.runs < 1 || o.runs > 50 {
		errs = append(errs, errors.New("-duration must be up to 1h and -runs between 1 and 50"))
	}
	if (o.parleyBin == "") == (o.parleyURL == "") {
		errs = append(errs, errors.New("give -parley (a binary to start) or -url (a running server), not both"))
	}
	if o.parleyURL != "" && (o.account == "" || o.authToken == "") {
		errs = append(errs, errors.New("-url needs -account and -auth-token"))
	}
	if o.parleyURL != "" && !strings.HasPrefix(o.parleyURL, "http://127.") && !strings.HasPrefix(o.parleyURL, "http://localhost") {
		errs = append(errs, errors.New("-url must be a loopback http:// address: this tool only loads loopback"))
	}
	if o.nodes < 1 || o.nodes > 8 || (o.nodes > 1 && (o.databaseURL == "" || o.natsURL == "")) {
		errs = append(errs, errors.New("-nodes must be 1 to 8; more than one needs -database-url and -nats-url"))
	}
	return o, errors.Join(errs...)
}

// measure runs every run of Parley and the relay and prints the medians.
func measure(ctx context.Context, o options, out io.Writer) error {
	target, err := openParley(ctx, o)
	if err != nil {
		return err
	}
	defer target.close()
	var relay *relayTarget
	if o.relay {
		if relay, err = startRelay(ctx); err != nil {
			return err
		}
		defer relay.close()
	}
	fmt.Fprintf(out, "# %s\n", describe(o, target))
	var pr, rr []result
	for i := range o.runs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := target.fresh(ctx); err != nil {
			return err
		}
		r, err := runScenario(ctx, o, target)
		if err != nil {
			return fmt.Errorf("parley run %d: %w", i+1, err)
		}
		pr = append(pr, r)
		fmt.Fprintf(out, "run %d parley: %s\n", i+1, r.short())
		if relay != nil {
			if err := relay.fresh(ctx); err != nil {
				return err
			}
			r, err := runScenario(ctx, o, relay)
			if err != nil {
				return fmt.Errorf("relay run %d: %w", i+1, err)
			}
			rr = append(rr, r)
			fmt.Fprintf(out, "run %d relay:  %s\n", i+1, r.short())
		}
	}
	report(out, o, median(pr), median(rr))
	return nil
}

func describe(o options, t *parleyTarget) string {
	mode := fmt.Sprintf("%g msg/s per channel", o.rate)
	if o.rate == 0 {
		mode = fmt.Sprintf("flat out, %d in flight per channel", o.window)
	}
	if o.idle {
		mode = fmt.Sprintf("idle, held %s", o.idleHold)
	}
	return fmt.Sprintf("%d channels (%d sockets), %s, %s per run, %d run(s); parley: %s", o.channels, 2*o.channels,
		mode, o.duration, o.runs, t.describe())
}

// median takes each figure's median over the runs.
func median(rs []result) *result {
	if len(rs) == 0 {
		return nil
	}
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	m := result{
		connectTotal: pick(func(r result) float64 { return r.connectTotal }),
		connectP50:   pick(func(r result) float64 { return r.connectP50 }),
		connectP99:   pick(func(r result) float64 { return r.connectP99 }),
		deliveredPS:  pick(func(r result) float64 { return r.deliveredPS }),
		p50:          pick(func(r result) float64 { return r.p50 }),
		p90:          pick(func(r result) float64 { return r.p90 }),
		p99:          pick(func(r result) float64 { return r.p99 }),
		max:          pick(func(r result) float64 { return r.max }),
		rssIdleKiB:   pick(func(r result) float64 { return r.rssIdleKiB }),
		rssPerSocket: pick(func(r result) float64 { return r.rssPerSocket }),
		cpuPerMsgUS:  pick(func(r result) float64 { return r.cpuPerMsgUS }),
		hasServer:    rs[0].hasServer,
	}
	for _, r := range rs {
		m.acked += r.acked
		m.delivered += r.delivered
		m.dups += r.dups
		m.missing += r.missing
		m.disorder += r.disorder
		m.sendErrors += r.sendErrors
	}
	return &m
}
