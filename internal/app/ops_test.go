package app_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/obs"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Health, readiness and metrics answer; the access log names the request
// but never the credentials, query string or body.
func TestOperations(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg.Addr = ln.Addr().String()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	a, err := app.New(context.Background(), cfg, obs.NewLogger(&logs, "info", "json"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Serve(ctx, ln) }()
	defer func() { cancel(); <-done; a.Close() }()

	get := func(path string, user, pass string) (int, string, http.Header) {
		req, _ := http.NewRequest("GET", cfg.PublicURL+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header
	}
	if code, body, _ := get("/healthz", "", ""); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("healthz %d %s", code, body)
	}
	if code, body, _ := get("/readyz", "", ""); code != 200 || !strings.Contains(body, `"database":"ok"`) {
		t.Fatalf("readyz %d %s", code, body)
	}
	keys := "/api/2010-04-01/Accounts/" + a.Main.SID + "/Keys.json?PageSize=7&Secret=querysecret"
	code, _, hdr := get(keys, a.Main.SID, a.Main.AuthToken)
	if code != 200 || !strings.HasPrefix(hdr.Get("Twilio-Request-Id"), "RQ") {
		t.Fatalf("keys %d %v", code, hdr)
	}
	_, metrics, _ := get("/metrics", "", "")
	for _, want := range []string{
		`parley_http_requests_total{method="GET",route="GET /api/2010-04-01/Accounts/{AccountSid}/Keys.json",status="200"} 1`,
		`parley_http_request_duration_seconds_bucket`, `go_sql_open_connections`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	out := logs.String()
	if !strings.Contains(out, hdr.Get("Twilio-Request-Id")) || !strings.Contains(out, `"status":200`) {
		t.Fatalf("access log lacks the request: %s", out)
	}
	for _, secret := range []string{a.Main.AuthToken, "querysecret"} {
		if strings.Contains(out, secret) {
			t.Fatalf("a secret reached the log: %s", out)
		}
	}
}
