package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// procFigures are a set of processes' resident memory and CPU time.
type procFigures struct {
	rssKiB int64
	cpu    time.Duration
}

// clockTick is USER_HZ, which Linux fixes at 100 for /proc/<pid>/stat.
const clockTick = 10 * time.Millisecond

// readProc sums the figures of pids from /proc; ok is false when there
// are none to read.
func readProc(pids []int) (procFigures, bool) {
	var f procFigures
	ok := false
	for _, pid := range pids {
		p := "/proc/" + strconv.Itoa(pid)
		if st, err := os.ReadFile(p + "/stat"); err == nil {
			// Fields after the parenthesised command name: utime and stime
			// are fields 14 and 15 of the whole line.
			rest := string(st[strings.LastIndexByte(string(st), ')')+2:])
			fields := strings.Fields(rest)
			if len(fields) > 12 {
				u, _ := strconv.ParseInt(fields[11], 10, 64)
				s, _ := strconv.ParseInt(fields[12], 10, 64)
				f.cpu += time.Duration(u+s) * clockTick
				ok = true
			}
		}
		if status, err := os.ReadFile(p + "/status"); err == nil {
			for _, line := range strings.Split(string(status), "\n") {
				if v, found := strings.CutPrefix(line, "VmRSS:"); found {
					n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
					f.rssKiB += n
				}
			}
		}
	}
	return f, ok
}
