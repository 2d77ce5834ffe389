// Package app is the composition root: the one place that opens the
// store, chooses the bus, builds every domain service, mounts all routes
// on one ServeMux, and shuts everything down in order.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleychat/parley/internal/account"
	"github.com/parleychat/parley/internal/agent"
	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/flex"
	"github.com/parleychat/parley/internal/obs"
	"github.com/parleychat/parley/internal/realtime"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/studio"
	"github.com/parleychat/parley/internal/taskrouter"
	"github.com/parleychat/parley/internal/token"
	"github.com/parleychat/parley/internal/webhook"
	"github.com/parleychat/parley/web"
)

// App is one running Parley node.
type App struct {
	cfg     config.Config
	logger  *slog.Logger
	db      *store.DB
	handler http.Handler

	// Bus carries events between the parts of this node (and, with NATS,
	// between nodes).
	Bus bus.Bus

	Accounts *account.Service
	// Tokens mints and verifies access tokens and serves /iam.
	Tokens *token.Service
	// Webhooks delivers every outgoing webhook, signed with the account's auth token.
	Webhooks *webhook.Client
	// Chat is Chat v2: services, channels, members, messages, webhooks.
	Chat *chat.Service
	// Realtime is the WebSocket protocol's hub ({base}/realtime/v1).
	Realtime *realtime.Service
	// Static serves the web files (SDK, widget, desktop) under a content hash.
	Static *web.Static
	// Studio is Studio v2: flows and the engine that runs them.
	Studio *studio.Service
	// TaskRouter is TaskRouter v1 and its assignment engine.
	TaskRouter *taskrouter.Service
	// Flex is Flex v1: Flex Flows, web channels, integrations and the janitor.
	Flex *flex.Service
	// Agents are the agent desktop's sign-ins (TaskRouter workers).
	Agents *agent.Service
	// sampler records the queues' trend for the supervisor view.
	sampler *taskrouter.Sampler
	// FlexSetup is the main account's default Flex setup (printed at start).
	FlexSetup flex.Setup
	// Main is the main account; MainCreated says it was made by this start.
	Main        account.Account
	MainCreated bool
}

// New opens the store and builds every service. The caller serves the
// handler and calls Close when done.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger) (*App, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	b, err := newBus(cfg, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	a := &App{cfg: cfg, logger: logger, db: db, Bus: b}
	a.Accounts = account.New(db, a.Bus)
	a.Webhooks = webhook.New(func(ctx context.Context, accountSID string) (string, error) {
		acct, err := a.Accounts.Get(ctx, accountSID)
		return acct.AuthToken, err
	}, logger, webhook.Options{})
	a.Main, a.MainCreated, err = a.Accounts.EnsureMain(ctx, cfg.AccountSID, cfg.AuthToken)
	if err != nil {
		a.Close()
		return nil, err
	}
	if a.MainCreated || cfg.AccountSID != "" {
		if err := writeCredentials(cfg.DataDir, a.Main); err != nil {
			a.Close()
			return nil, err
		}
	}
	if a.Tokens, err = newTokens(db, a.Bus, a.Accounts, cfg, a.Main.SID, logger); err != nil {
		a.Close()
		return nil, err
	}
	a.Chat = chat.New(db, a.Bus, a.Webhooks, cfg.PublicURL, logger)
	a.Tokens.SetChatServices(a.Chat)
	if a.Realtime, err = newRealtime(a, cfg, logger); err != nil {
		a.Close()
		return nil, err
	}
	if a.Static, err = web.NewStatic(cfg.WebDir); err != nil {
		a.Close()
		return nil, err
	}
	a.TaskRouter = taskrouter.New(db, a.Bus, a.Webhooks, logger, taskrouter.Options{BaseURL: cfg.PublicURL})
	a.TaskRouter.Start()
	a.Studio = newStudio(db, cfg, a.Chat, a.TaskRouter, logger)
	a.Studio.Start()
	a.Flex = a.newFlex(cfg.FlexIdleTimeout)
	a.TaskRouter.OnTaskEnded(a.endHandedOff) // before the janitor: Flex's record of the chat's task decides
	a.TaskRouter.OnTaskEnded(a.Flex.TaskEnded)
	if err := a.startFlex(ctx); err != nil {
		a.Close()
		return nil, err
	}
	a.Agents = a.newAgents()
	a.startSupervision()
	a.handler = a.routes()
	return a, nil
}

// newRealtime builds the WebSocket hub on chat (channels and messages)
// and tokens (verification and the origin allow-list).
func newRealtime(a *App, cfg config.Config, logger *slog.Logger) (*realtime.Service, error) {
	return realtime.New(a.Chat, a.Tokens, a.Tokens, a.Bus, realtime.Options{
		Heartbeat: cfg.RealtimeHeartbeat, TokenWarning: cfg.RealtimeTokenWarning, OutboxFrames: int(cfg.RealtimeOutbox),
		IdentitySendRate: float64(cfg.RealtimeIdentityRate), IdentitySendBurst: int(cfg.RealtimeIdentityBurst),
		ChannelSendRate: float64(cfg.RealtimeChannelRate), ChannelSendBurst: int(cfg.RealtimeChannelBurst),
		Logger: logger,
	})
}

// newTokens builds the token service on the account service's keys.
// Guest tokens get a chat grant for the account's default chat service
// once a ChatServices is plugged in (Tokens.SetChatServices); until then
// their chat grant has no service_sid.
func newTokens(db *store.DB, b bus.Bus, accts *account.Service, cfg config.Config, mainSID string, logger *slog.Logger) (*token.Service, error) {
	return token.New(db, b, tokenKeys{accts}, token.Options{
		GuestTTL: cfg.GuestTokenTTL, KeyRecheck: cfg.TokenKeyRecheck,
		GuestRatePerMinute: float64(cfg.GuestTokenRate), GuestBurst: int(cfg.GuestTokenBurst),
		SelfOrigin: cfg.PublicURL, MainAccountSID: mainSID, MainOrigins: config.SplitList(cfg.AllowedOrigins),
		TrustedProxies: config.SplitList(cfg.TrustedProxies), Logger: logger,
	})
}

// tokenKeys adapts the account service to token.KeyLookup.
type tokenKeys struct{ s *account.Service }

func (k tokenKeys) LookupKeySecret(ctx context.Context, sid string) (string, string, error) {
	key, err := k.s.LookupKey(ctx, sid)
	if errors.Is(err, account.ErrNotFound) {
		return "", "", fmt.Errorf("%w: %s", token.ErrKeyNotFound, sid)
	}
	return key.AccountSID, key.Secret, err
}

func (k tokenKeys) AccountExists(ctx context.Context, sid string) (bool, error) {
	_, err := k.s.Get(ctx, sid)
	if errors.Is(err, account.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// writeCredentials keeps the main account's credentials in the data dir
// (mode 0600), in a form a shell can source.
func writeCredentials(dir string, acct account.Account) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("app: data dir: %w", err)
	}
	body := fmt.Sprintf("PARLEY_ACCOUNT_SID=%s\nPARLEY_AUTH_TOKEN=%s\n", acct.SID, acct.AuthToken)
	path := filepath.Join(dir, "credentials")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return fmt.Errorf("app: write credentials: %w", err)
	}
	return os.Chmod(path, 0o600)
}

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	rt := &rest.Router{Mux: mux, BaseURL: a.cfg.PublicURL, MaxBody: a.cfg.MaxBodyBytes,
		Auth: rest.Chain(rest.AuthFunc(a.Accounts.Authenticate), rest.AuthFunc(a.Tokens.Authenticate))}
	a.Accounts.Routes(rt)
	a.Tokens.Routes(rt)
	a.Chat.Routes(rt)
	a.Realtime.Routes(rt)
	mux.Handle(web.Pattern, a.Static)
	mux.Handle(web.LoaderPattern, a.Static.Loader())
	mux.Handle(web.DemoPattern, a.Static.Demo(web.DemoSite{AccountSID: a.Main.SID, FlexFlowSID: a.FlexSetup.FlexFlowSID}))
	a.TaskRouter.Routes(rt)
	a.Studio.Routes(rt)
	a.Flex.Routes(rt)
	a.agentRoutes(rt)
	mux.Handle(web.DesktopPattern, a.Static.Desktop(a.cfg.AgentTokenURL))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(a.db.SQL(), a.db.Dialect().String()))
	reg.MustRegister(a.Realtime.Collectors()...)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_ = rest.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /readyz", rest.HandlerFunc(a.ready))
	return obs.Middleware(a.logger, obs.NewMetrics(reg), jsonMuxErrors(mux))
}

// ready reports whether this node can serve: the database answers.
func (a *App) ready(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok"}
	status := http.StatusOK
	if err := a.db.Ping(ctx); err != nil {
		checks["database"] = "unreachable: " + err.Error()
		status = http.StatusServiceUnavailable
	}
	checks["bus"] = "ok"
	if err := a.Bus.Healthy(); err != nil {
		checks["bus"] = "unhealthy: " + err.Error()
		status = http.StatusServiceUnavailable
	}
	return rest.WriteJSON(w, status, map[string]any{"status": http.StatusText(status), "checks": checks})
}

// Handler is the node's whole HTTP surface.
func (a *App) Handler() http.Handler { return a.handler }

// Serve serves on ln until ctx is done, then stops accepting, lets
// in-flight requests finish (up to the shutdown grace) and returns.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn)}
	srv.RegisterOnShutdown(a.Realtime.Close) // Shutdown does not wait for hijacked sockets
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.logger.Info("shutting down", slog.Duration("grace", a.cfg.ShutdownGrace))
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// Close releases the bus and the database. Call it after Serve returns.
func (a *App) Close() error {
	if a.Realtime != nil {
		a.Realtime.Close()
	}
	a.Tokens.Close()
	if a.Flex != nil {
		a.Flex.Stop() // before chat and TaskRouter, whose events it handles
	}
	if a.Studio != nil {
		a.Studio.Stop() // before chat: running flows post through it
	}
	if a.Chat != nil {
		a.Chat.Close()
	}
	if a.sampler != nil {
		a.sampler.Stop()
	}
	if a.TaskRouter != nil {
		a.TaskRouter.Stop() // its callbacks use webhooks and the bus
	}
	a.Webhooks.Close()
	a.Bus.Close()
	return a.db.Close()
}
