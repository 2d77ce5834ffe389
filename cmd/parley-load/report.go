package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// report prints the medians as a Markdown table, Parley beside the
// relay and as a ratio to it, then the targets that apply.
func report(out io.Writer, o options, p, r *result) {
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| figure (median) | Parley | relay | Parley / relay |")
	fmt.Fprintln(out, "| --- | ---: | ---: | ---: |")
	row := func(name, format string, f func(*result) float64) {
		pv := f(p)
		if r == nil {
			fmt.Fprintf(out, "| %s | "+format+" | | |\n", name, pv)
			return
		}
		rv := f(r)
		ratio := "n/a"
		if rv != 0 {
			ratio = fmt.Sprintf("%.2f", pv/rv)
		}
		fmt.Fprintf(out, "| %s | "+format+" | "+format+" | %s |\n", name, pv, rv, ratio)
	}
	row("connect all sockets (s)", "%.2f", func(x *result) float64 { return x.connectTotal })
	row("connect one channel p50 (ms)", "%.1f", func(x *result) float64 { return x.connectP50 })
	row("connect one channel p99 (ms)", "%.1f", func(x *result) float64 { return x.connectP99 })
	if p.hasServer {
		row("server RSS with sockets connected (MiB)", "%.1f", func(x *result) float64 { return x.rssIdleKiB / 1024 })
		row("server RSS per socket (KiB)", "%.1f", func(x *result) float64 { return x.rssPerSocket })
	}
	if !o.idle {
		row("delivered msgs/s", "%.0f", func(x *result) float64 { return x.deliveredPS })
		row("latency p50 (ms)", "%.2f", func(x *result) float64 { return x.p50 })
		row("latency p90 (ms)", "%.2f", func(x *result) float64 { return x.p90 })
		row("latency p99 (ms)", "%.2f", func(x *result) float64 { return x.p99 })
		row("latency max (ms)", "%.1f", func(x *result) float64 { return x.max })
		if p.hasServer {
			row("server CPU per delivered msg (µs)", "%.1f", func(x *result) float64 { return x.cpuPerMsgUS })
		}
		fmt.Fprintf(out, "\nParley completeness over all runs: %d acknowledged, %d delivered to the agent, %d duplicates, %d missing, %d out of index order, %d send errors.\n",
			p.acked, p.delivered, p.dups, p.missing, p.disorder, p.sendErrors)
		if r != nil {
			fmt.Fprintf(out, "Relay completeness over all runs: %d acknowledged, %d delivered, %d duplicates, %d missing, %d send errors.\n",
				r.acked, r.delivered, r.dups, r.missing, r.sendErrors)
		}
	}
	targets(out, o, p, r)
}

// targets says which of the targets this scenario speaks to.
func targets(out io.Writer, o options, p, r *result) {
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	switch {
	case o.idle && p.hasServer:
		fmt.Fprintf(out, "Target (c) RSS per idle socket <= 40 KiB: %.1f KiB, %s.\n", p.rssPerSocket, verdict(p.rssPerSocket <= 40))
	case r == nil:
	case o.rate > 0:
		fmt.Fprintf(out, "Target (a) p99 <= 2x the relay's: %.2fx, %s.\n", p.p99/r.p99, verdict(p.p99 <= 2*r.p99))
	default:
		fmt.Fprintf(out, "Target (b) delivered msgs/s >= 0.8x the relay's: %.2fx, %s.\n", p.deliveredPS/r.deliveredPS, verdict(p.deliveredPS >= 0.8*r.deliveredPS))
	}
	if !o.idle && (p.missing > 0 || p.dups > 0 || p.disorder > 0) {
		fmt.Fprintln(out, "WARNING: Parley did not deliver every acknowledged message exactly once in order.")
	}
}
