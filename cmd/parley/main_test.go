package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCommands(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "parley ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	out.Reset()
	if code := run(nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "parley serve") {
		t.Fatalf("no command: %d %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"serve", "-addr", "nope", "-log-level", "loud"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "PARLEY_ADDR") || !strings.Contains(errb.String(), "PARLEY_LOG_LEVEL") {
		t.Fatalf("bad config: %d %q", code, errb.String())
	}
}
