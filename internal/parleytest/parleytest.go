// Package parleytest starts a whole Parley in-process on a random
// loopback port, for tests: real store, real HTTP, real credentials, and
// a twilio-go client pointed at it through twiliohttp.
package parleytest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"

	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store/storetest"
	"github.com/parleychat/parley/internal/token"
	"github.com/parleychat/parley/twiliohttp"
)

// Server is one running Parley node under test.
type Server struct {
	URL        string
	AccountSID string
	AuthToken  string
	App        *app.App
	Config     config.Config

	t      testing.TB
	cancel context.CancelFunc
	done   chan error

	keysMu    sync.Mutex
	tokenKeys map[string]string // account SID -> API key SID that Token signs with
}

// Option changes the configuration before the server starts.
type Option func(*config.Config)

// Postgres runs the server on a fresh PostgreSQL schema (skipping the
// test when PARLEY_TEST_POSTGRES_URL is unset).
func Postgres(t testing.TB) Option {
	u := storetest.PostgresURL(t)
	return func(c *config.Config) { c.DatabaseURL = u }
}

// NATS connects the server to the NATS server in PARLEY_TEST_NATS_URL
// (skipping the test without it) under a deployment prefix of its own, so
// that tests sharing the server never see each other's events.
func NATS(t testing.TB) Option {
	u := os.Getenv("PARLEY_TEST_NATS_URL")
	if u == "" {
		storetest.Skip(t, "NATS tests skipped: set PARLEY_TEST_NATS_URL=nats://127.0.0.1:4222 to run them")
	}
	return NATSAt(u, "test"+rest.RandomHex(8))
}

// NATSAt connects the server to the NATS server at url with a deployment prefix.
func NATSAt(url, prefix string) Option {
	return func(c *config.Config) { c.NATSURL, c.NATSPrefix = url, prefix }
}

// Join makes the server another node of s's deployment: the same
// database and the same NATS server and prefix (its data dir stays its own).
func Join(s *Server) Option {
	return func(c *config.Config) {
		c.DatabaseURL, c.NATSURL, c.NATSPrefix = s.Config.DatabaseURL, s.Config.NATSURL, s.Config.NATSPrefix
	}
}

// Backend picks the store by storetest backend name.
func Backend(t testing.TB, name string) Option {
	if name == storetest.Postgres {
		return Postgres(t)
	}
	return func(*config.Config) {}
}

// Start runs a server with a temporary data dir. It is stopped when the
// test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.LogLevel = "warn"
	for _, o := range opts {
		o(&cfg)
	}
	return StartConfig(t, cfg)
}

// StartConfig runs a server with exactly cfg (its Addr is replaced by a
// free loopback port unless it names one).
func StartConfig(t testing.TB, cfg config.Config) *Server {
	t.Helper()
	addr := cfg.Addr
	if addr == config.Default().Addr {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("parleytest: listen: %v", err)
	}
	cfg.Addr = ln.Addr().String()
	if cfg.PublicURL == "" || strings.Contains(cfg.PublicURL, config.Default().Addr) {
		cfg.PublicURL = ""
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("parleytest: config: %v", err)
	}
	var w io.Writer = io.Discard
	if os.Getenv("PARLEY_TEST_LOG") == "1" {
		w = os.Stderr
	}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatalf("parleytest: start: %v", err)
	}
	s := &Server{URL: cfg.PublicURL, AccountSID: a.Main.SID, AuthToken: a.Main.AuthToken,
		App: a, Config: cfg, t: t, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- a.Serve(ctx, ln) }()
	t.Cleanup(s.Stop)
	return s
}

// Stop shuts the server down and closes its store (idempotent).
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	if err := <-s.done; err != nil {
		s.t.Errorf("parleytest: serve: %v", err)
	}
	s.App.Close()
	s.cancel = nil
}

// Restart stops the server and starts a new one on the same data dir,
// database and port.
func (s *Server) Restart(t testing.TB) *Server {
	t.Helper()
	s.Stop()
	cfg := s.Config
	return StartConfig(t, cfg)
}

// Twilio returns a twilio-go client with the given credentials, pointed
// at the server through twiliohttp. Its account is the username when that
// is an account SID, else the main account.
func (s *Server) Twilio(username, password string) *twilio.RestClient {
	c := &client.Client{Credentials: client.NewCredentials(username, password), HTTPClient: twiliohttp.Client(s.URL)}
	acct := s.AccountSID
	if strings.HasPrefix(username, "AC") {
		acct = username
	}
	c.SetAccountSid(acct)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
}

// Admin is a twilio-go client with the main account's credentials.
func (s *Server) Admin() *twilio.RestClient { return s.Twilio(s.AccountSID, s.AuthToken) }

// Request sends a raw request (form-encoded when form is non-nil) with
// HTTP Basic credentials when user is non-empty, and returns the status
// and body.
func (s *Server) Request(t testing.TB, method, path string, form url.Values, user, pass string) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Token mints an access token on the server. g.AccountSID defaults to
// the main account. With g.Guest the token is a guest token (signed by the
// account's guest key); otherwise, when g.KeySID is empty, it is signed
// by an API key the helper creates once per account and server.
func (s *Server) Token(t testing.TB, g token.Grant) string {
	t.Helper()
	if g.AccountSID == "" {
		g.AccountSID = s.AccountSID
	}
	if g.KeySID == "" && !g.Guest {
		g.KeySID = s.tokenKey(t, g.AccountSID)
	}
	raw, _, err := s.App.Tokens.Mint(context.Background(), g)
	if err != nil {
		t.Fatalf("parleytest: mint token: %v", err)
	}
	return raw
}

func (s *Server) tokenKey(t testing.TB, accountSID string) string {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if sid, ok := s.tokenKeys[accountSID]; ok {
		return sid
	}
	k, err := s.App.Accounts.CreateKey(context.Background(), accountSID, "parleytest tokens")
	if err != nil {
		t.Fatalf("parleytest: create API key for tokens: %v", err)
	}
	if s.tokenKeys == nil {
		s.tokenKeys = map[string]string{}
	}
	s.tokenKeys[accountSID] = k.SID
	return k.SID
}
