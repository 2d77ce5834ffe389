// Package agent holds the agent desktop's people: agents are TaskRouter
// workers linked to a sign-in (email, password, role). It signs agents in
// with a session cookie, mints their access tokens through a Tokens
// interface, and serves the desktop's few orchestrated actions (accept =
// accept the reservation and join the chat) through a Desk interface.
// internal/app plugs TaskRouter, chat and tokens into those interfaces.
package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// Roles an agent may have.
const (
	RoleAgent      = "agent"
	RoleSupervisor = "supervisor"
)

// Agent is one sign-in linked to a TaskRouter worker.
type Agent struct {
	SID          string
	AccountSID   string
	WorkspaceSID string
	WorkerSID    string
	Email        string
	FriendlyName string
	Role         string
	Created      int64
	Updated      int64

	seq          int64
	passwordHash string
}

// Identity is the agent's chat identity (and the worker's contact_uri
// without "client:").
func (a Agent) Identity() string { return a.Email }

// NewAgent is what an admin gives to create an agent.
type NewAgent struct {
	FriendlyName string
	Email        string
	Password     string
	Role         string
	// Attributes are extra worker attributes (JSON object text, may be
	// empty); Skills become the worker's "routing.skills".
	Attributes   string
	Skills       []string
	ChatCapacity int
}

// WorkerSpec is what Workers.CreateWorker needs.
type WorkerSpec struct {
	FriendlyName string
	Identity     string
	Attributes   string // JSON object text, complete
	ChatCapacity int
}

// Workers creates and deletes the TaskRouter workers behind agents (in
// the account's default Flex workspace).
type Workers interface {
	CreateWorker(ctx context.Context, accountSID string, w WorkerSpec) (workspaceSID, workerSID string, err error)
	DeleteWorker(ctx context.Context, accountSID, workspaceSID, workerSID string) error
}

// Tokens mints an agent's access token: a chat grant for the account's
// default chat service and a TaskRouter grant for its worker.
type Tokens interface {
	AgentToken(ctx context.Context, a Agent, ttl time.Duration) (token string, expires time.Time, chatServiceSID string, err error)
}

// Options tune the service; zero values take the defaults.
type Options struct {
	SessionTTL time.Duration // default 12 hours
	TokenTTL   time.Duration // default 1 hour
	// MaxFailures failed sign-ins for one email (or from one address)
	// within FailureWindow lock further attempts until the window passes.
	MaxFailures   int
	FailureWindow time.Duration
	Now           func() time.Time
}

// Service is the agent domain.
type Service struct {
	db      *store.DB
	workers Workers
	tokens  Tokens
	desk    Desk
	// supervision feeds the supervisor view (SetSupervision; nil: 503).
	supervision Supervision
	logger      *slog.Logger
	opts        Options
	throttle    *throttle
}

// New builds the service. desk may be nil (the desktop actions then
// answer 503).
func New(db *store.DB, workers Workers, tokens Tokens, desk Desk, logger *slog.Logger, opts Options) *Service {
	if opts.SessionTTL == 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.MaxFailures == 0 {
		opts.MaxFailures = 5
	}
	if opts.FailureWindow == 0 {
		opts.FailureWindow = 15 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{db: db, workers: workers, tokens: tokens, desk: desk, logger: logger.With("component", "agent"),
		opts: opts, throttle: newThrottle(opts.MaxFailures, opts.FailureWindow, opts.Now)}
}

// codeDuplicate is Twilio's "resource already exists" code.
const codeDuplicate = 20409

// ErrNotFound: no such agent or session.
var ErrNotFound = errors.New("agent: not found")

// Create validates n, creates the worker and then the agent. If storing
// the agent fails, the worker is deleted again.
func (s *Service) Create(ctx context.Context, accountSID string, n NewAgent) (Agent, error) {
	n, attrs, err := validateNew(n)
	if err != nil {
		return Agent{}, err
	}
	if _, err := s.st().byEmail(ctx, n.Email); err == nil {
		return Agent{}, rest.Conflict(codeDuplicate, "An agent with email %s already exists", n.Email)
	}
	hash, err := hashPassword(n.Password)
	if err != nil {
		return Agent{}, err
	}
	ws, wk, err := s.workers.CreateWorker(ctx, accountSID, WorkerSpec{FriendlyName: n.FriendlyName, Identity: n.Email,
		Attributes: attrs, ChatCapacity: n.ChatCapacity})
	if err != nil {
		return Agent{}, fmt.Errorf("agent: create worker: %w", err)
	}
	now := store.Now()
	a := Agent{SID: rest.NewSID("UA"), AccountSID: accountSID, WorkspaceSID: ws, WorkerSID: wk, Email: n.Email,
		FriendlyName: n.FriendlyName, Role: n.Role, Created: now, Updated: now, passwordHash: hash}
	if err := s.st().insert(ctx, a); err != nil {
		_ = s.workers.DeleteWorker(ctx, accountSID, ws, wk)
		if errors.Is(err, store.ErrConflict) {
			return Agent{}, rest.Conflict(codeDuplicate, "An agent with email %s already exists", n.Email)
		}
		return Agent{}, fmt.Errorf("agent: create: %w", err)
	}
	s.logger.InfoContext(ctx, "agent created", slog.String("agent_sid", a.SID), slog.String("worker_sid", wk))
	return a, nil
}

// validateNew checks n and returns it normalized with the worker's
// attributes.
func validateNew(n NewAgent) (NewAgent, string, error) {
	n.Email = strings.ToLower(strings.TrimSpace(n.Email))
	n.FriendlyName = strings.TrimSpace(n.FriendlyName)
	if n.Role == "" {
		n.Role = RoleAgent
	}
	if n.ChatCapacity == 0 {
		n.ChatCapacity = 2
	}
	switch {
	case n.FriendlyName == "" || len(n.FriendlyName) > 128:
		return n, "", rest.InvalidParam("FriendlyName", "must be 1 to 128 characters")
	case !validEmail(n.Email):
		return n, "", rest.InvalidParam("Email", "%q is not an email address", n.Email)
	case n.Role != RoleAgent && n.Role != RoleSupervisor:
		return n, "", rest.InvalidParam("Role", "%q is not one of agent, supervisor", n.Role)
	case n.ChatCapacity < 1 || n.ChatCapacity > 50:
		return n, "", rest.InvalidParam("ChatCapacity", "must be between 1 and 50")
	}
	if err := checkPassword(n.Password); err != nil {
		return n, "", err
	}
	attrs, err := workerAttributes(n)
	return n, attrs, err
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && len(s) <= 254
}

func checkPassword(pw string) error {
	if len(pw) < 8 || len(pw) > 256 {
		return rest.InvalidParam("Password", "must be 8 to 256 characters")
	}
	return nil
}

// Get returns one agent of the account.
func (s *Service) Get(ctx context.Context, accountSID, sid string) (Agent, error) {
	a, err := s.st().bySID(ctx, sid)
	if err != nil || a.AccountSID != accountSID {
		return Agent{}, ErrNotFound
	}
	return a, nil
}

// List returns the account's agents, oldest first.
func (s *Service) List(ctx context.Context, accountSID string, page rest.Page) ([]Agent, error) {
	return s.st().list(ctx, accountSID, page)
}

// Delete removes the agent, its sessions and its worker.
func (s *Service) Delete(ctx context.Context, accountSID, sid string) error {
	a, err := s.Get(ctx, accountSID, sid)
	if err != nil {
		return err
	}
	if err := s.st().delete(ctx, a.SID); err != nil {
		return fmt.Errorf("agent: delete: %w", err)
	}
	if err := s.workers.DeleteWorker(ctx, accountSID, a.WorkspaceSID, a.WorkerSID); err != nil {
		s.logger.WarnContext(ctx, "agent deleted but not its worker", slog.String("worker_sid", a.WorkerSID), slog.Any("error", err))
	}
	return nil
}

// SetPassword changes an agent's password (by email) and ends its sessions.
func (s *Service) SetPassword(ctx context.Context, email, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	a, err := s.st().byEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if err != nil {
		return ErrNotFound
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	return s.st().setPassword(ctx, a.SID, hash)
}

// ByEmail finds an agent by its sign-in.
func (s *Service) ByEmail(ctx context.Context, email string) (Agent, error) {
	a, err := s.st().byEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if err != nil {
		return Agent{}, ErrNotFound
	}
	return a, nil
}

// ErrBadSignIn is a wrong email or password (which one is not said).
var ErrBadSignIn = rest.Unauthorized("The email or password is not correct")

// SignIn checks the password and opens a session. It returns the raw
// cookie value. Repeated failures for one email or from one client
// address are refused with 429 until the window passes.
func (s *Service) SignIn(ctx context.Context, email, password, clientIP string) (string, Agent, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if wait := s.throttle.blocked(email, clientIP); wait > 0 {
		return "", Agent{}, rest.TooManyRequests(int(wait.Seconds()) + 1)
	}
	a, err := s.st().byEmail(ctx, email)
	ok := err == nil && verifyPassword(a.passwordHash, password)
	if err != nil {
		verifyPassword(dummyHash(), password) // same work whether the email exists or not
	}
	if !ok {
		s.throttle.fail(email, clientIP)
		s.logger.InfoContext(ctx, "agent sign-in refused", slog.String("client_ip", clientIP))
		return "", Agent{}, ErrBadSignIn
	}
	s.throttle.clear(email, clientIP)
	raw := rest.RandomHex(32)
	now := s.opts.Now()
	err = s.st().insertSession(ctx, rest.NewSID("US"), a, hashToken(raw), now.Add(s.opts.SessionTTL).UnixMilli(), now.UnixMilli())
	if err != nil {
		return "", Agent{}, fmt.Errorf("agent: session: %w", err)
	}
	s.logger.InfoContext(ctx, "agent signed in", slog.String("agent_sid", a.SID))
	return raw, a, nil
}

// Session returns the agent of a live session cookie value.
func (s *Service) Session(ctx context.Context, raw string) (Agent, error) {
	if raw == "" || len(raw) > 128 {
		return Agent{}, ErrNotFound
	}
	a, expires, err := s.st().session(ctx, hashToken(raw))
	if err != nil || expires <= s.opts.Now().UnixMilli() {
		return Agent{}, ErrNotFound
	}
	return a, nil
}

// SignOut ends the session.
func (s *Service) SignOut(ctx context.Context, raw string) error {
	return s.st().deleteSession(ctx, hashToken(raw))
}

// TokenAgent is the agent an access token minted elsewhere (by the
// business's own backend, with a Parley API key) stands for: its
// TaskRouter grant names the worker and the role (a supervisor only with
// role "supervisor": the same grant gives the socket its supervisor
// signals and monitoring), its identity is the chat identity. A worker
// created as a Parley agent keeps that agent's name; any other worker of
// the grant's workspace goes by the worker's name.
func (s *Service) TokenAgent(ctx context.Context, p *rest.Principal) (Agent, error) {
	if p == nil || p.Guest || p.WorkspaceSID == "" || p.WorkerSID == "" || p.Identity == "" || p.ChatServiceSID == "" {
		return Agent{}, rest.Forbidden("The agent desktop needs an access token with a chat grant and a TaskRouter grant for a worker (workspace_sid and worker_sid)")
	}
	role := RoleAgent
	if p.TaskRouterRole == RoleSupervisor {
		role = RoleSupervisor
	}
	a, err := s.st().byWorker(ctx, p.AccountSID, p.WorkerSID)
	if err == nil {
		if a.WorkspaceSID != p.WorkspaceSID {
			return Agent{}, rest.Forbidden("Worker %s is not in workspace %s", p.WorkerSID, p.WorkspaceSID)
		}
		a.Email, a.Role = p.Identity, role
		return a, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return Agent{}, err
	}
	if s.desk == nil {
		return Agent{}, rest.NewError(http.StatusServiceUnavailable, 20503, "The agent desktop's services are not available on this node")
	}
	a = Agent{AccountSID: p.AccountSID, WorkspaceSID: p.WorkspaceSID, WorkerSID: p.WorkerSID, Email: p.Identity, Role: role}
	w, err := s.desk.Worker(ctx, a)
	if err != nil {
		if e, ok := rest.AsError(err); ok && e.Status == http.StatusNotFound {
			return Agent{}, rest.Forbidden("The token's worker %s is not in workspace %s", p.WorkerSID, p.WorkspaceSID)
		}
		return Agent{}, err
	}
	a.FriendlyName = w.FriendlyName
	return a, nil
}

// Token mints the agent's access token.
func (s *Service) Token(ctx context.Context, a Agent) (string, time.Time, string, error) {
	return s.tokens.AgentToken(ctx, a, s.opts.TokenTTL)
}

func hashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

func (s *Service) st() *agentStore { return &agentStore{db: s.db} }
