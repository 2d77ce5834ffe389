// Package studio is Studio v2: flows (Twilio's definition JSON, run
// unchanged), their revisions, and an engine that runs executions for
// chat channels (trigger incomingMessage) and REST calls (incomingRequest).
//
// Executions are durable: their context, position and any wait deadline
// live in the database, so a wait for a reply survives a restart and its
// timeout fires afterwards. Work on one execution is serialised by a
// lease claimed with a conditional UPDATE, so with several nodes on one
// PostgreSQL a reply or a timeout is handled exactly once.
package studio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// ChatSender posts a message into a chat channel. clientMessageID makes a
// retried send return the first message instead of posting a copy.
// *chat.Service has exactly this method.
type ChatSender interface {
	SendMessage(ctx context.Context, accountSID, serviceSID, channelSID, from, body, attributes, clientMessageID string) (msg json.RawMessage, index int64, err error)
}

// TaskCreator creates a TaskRouter task in the workflow's workspace.
type TaskCreator interface {
	CreateTaskForWorkflow(ctx context.Context, accountSID, workflowSID, taskChannel, attributes string, priority, timeoutSeconds int) (taskSID string, err error)
}

// IncomingMessage is a visitor's message delivered by a chat channel's
// studio webhook.
type IncomingMessage struct {
	AccountSID, FlowSID, ServiceSID, ChannelSID, MessageSID string
	Index                                                   int64
	From, Body, Attributes                                  string
	ChannelAttributes                                       string // raw JSON
	Source                                                  string
	DateCreated                                             time.Time
}

// Options tune the engine. Zero values take the defaults.
type Options struct {
	// SelfOrigins are Parley's own origins (its public URL, its listen
	// address): a flow may not send credentials there.
	SelfOrigins []string
	// MaxHTTPTimeout bounds each outgoing request (default 10s).
	MaxHTTPTimeout time.Duration
	// MaxResponseBytes bounds each response read (default 64 KiB).
	MaxResponseBytes int64
	// HTTPClient replaces the outgoing client's transport (tests).
	HTTPClient *http.Client
	// Tick is how often due timeouts are looked for (default 250ms).
	Tick time.Duration
	// Lease is how long a node owns an execution while running it without
	// saving (default 2m): a node that dies mid-run is taken over after it.
	Lease time.Duration
	// MaxStepsPerRun ends an execution that runs this many widgets without
	// waiting: a loop in the flow (default 200).
	MaxStepsPerRun int
}

func (o *Options) defaults() {
	if o.MaxHTTPTimeout <= 0 {
		o.MaxHTTPTimeout = 10 * time.Second
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 64 << 10
	}
	if o.Tick <= 0 {
		o.Tick = 250 * time.Millisecond
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Lease < 2*o.MaxHTTPTimeout {
		o.Lease = 2 * o.MaxHTTPTimeout
	}
	if o.MaxStepsPerRun <= 0 {
		o.MaxStepsPerRun = 200
	}
}

// Errors the service returns (the HTTP layer maps them).
var (
	ErrNotFound     = errors.New("studio: not found")
	ErrNotPublished = errors.New("studio: the flow has no published revision")
)

// Service is Studio: flows, executions and the engine.
type Service struct {
	db     *store.DB
	logger *slog.Logger
	opts   Options
	http   *httpCaller
	chat   ChatSender
	tasks  TaskCreator
	own    ownSenders

	cacheMu sync.Mutex
	cache   map[string]*Flow // "FW...:revision" -> compiled flow (revisions never change)

	runMu   sync.Mutex
	running sync.WaitGroup
	closed  bool
	stop    chan struct{}
	loop    sync.WaitGroup
	// drives bounds the executions the timer loop runs at once.
	drives chan struct{}
}

// New builds the service. Call SetChat and SetTasks to plug in the other
// domains, then Start.
func New(db *store.DB, logger *slog.Logger, opts Options) *Service {
	opts.defaults()
	return &Service{db: db, logger: logger.With("component", "studio"), opts: opts, http: newHTTPCaller(opts),
		cache: map[string]*Flow{}, stop: make(chan struct{}), drives: make(chan struct{}, 16)}
}

// SetChat plugs in the chat channel sender.
func (s *Service) SetChat(c ChatSender) { s.chat = c }

// SetTasks plugs in TaskRouter.
func (s *Service) SetTasks(t TaskCreator) { s.tasks = t }

// Start runs the timer loop that fires reply timeouts and takes over
// executions whose node died mid-run.
func (s *Service) Start() {
	s.loop.Add(1)
	go s.timerLoop()
}

// Stop ends the timer loop and waits for running executions to reach a
// point where they are saved (each is bounded by its widgets' timeouts).
func (s *Service) Stop() {
	s.runMu.Lock()
	if s.closed {
		s.runMu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	s.runMu.Unlock()
	s.loop.Wait()
	s.running.Wait()
}

// spawn runs fn in the background unless the service is stopping (the
// work is in the database: another start picks it up). It reports
// whether fn will run.
func (s *Service) spawn(fn func()) bool {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.closed {
		return false
	}
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		fn()
	}()
	return true
}

// ---- flows ----

// FlowInput is what a create, update or validate carries.
type FlowInput struct {
	FriendlyName  *string
	Status        string
	Definition    []byte // nil: unchanged (update)
	CommitMessage *string
	AuthorSID     string
}

// InvalidDefinition is a definition with problems, all of them.
type InvalidDefinition struct{ Problems []Problem }

func (e *InvalidDefinition) Error() string { return Summary(e.Problems) }

// Validate checks a definition without saving anything.
func (s *Service) Validate(def []byte) (*Flow, error) {
	f, problems := ParseDefinition(def)
	if len(problems) > 0 {
		return nil, &InvalidDefinition{Problems: problems}
	}
	return f, nil
}

// CreateFlow validates and saves a new flow as revision 1.
func (s *Service) CreateFlow(ctx context.Context, accountSID string, in FlowInput) (FlowRecord, error) {
	f, err := s.Validate(in.Definition)
	if err != nil {
		return FlowRecord{}, err
	}
	now := store.Now()
	rec := FlowRecord{SID: rest.NewSID("FW"), AccountSID: accountSID, AuthorSID: in.AuthorSID, Status: in.Status,
		Revision: 1, Definition: canonical(f), Warnings: f.Warnings, DateCreated: now, DateUpdated: now}
	if in.FriendlyName != nil {
		rec.FriendlyName = *in.FriendlyName
	}
	if in.CommitMessage != nil {
		rec.CommitMessage = *in.CommitMessage
	}
	err = s.db.InTx(ctx, func(q store.Querier) error {
		if err := insertFlow(ctx, q, &rec); err != nil {
			return err
		}
		return insertRevision(ctx, q, rec)
	})
	if err != nil {
		return FlowRecord{}, fmt.Errorf("studio: create flow: %w", err)
	}
	return rec, nil
}

// UpdateFlow saves a new revision: the status (required) and whatever
// else the update names; the rest carries over.
func (s *Service) UpdateFlow(ctx context.Context, accountSID, sid string, in FlowInput) (FlowRecord, error) {
	var rec FlowRecord
	var f *Flow
	if in.Definition != nil {
		var err error
		if f, err = s.Validate(in.Definition); err != nil {
			return rec, err
		}
	}
	err := s.db.InTx(ctx, func(q store.Querier) error {
		var err error
		if rec, err = getFlow(ctx, q, accountSID, sid); err != nil {
			return err
		}
		rec.Status, rec.Revision, rec.DateUpdated = in.Status, rec.Revision+1, store.Now()
		if in.FriendlyName != nil {
			rec.FriendlyName = *in.FriendlyName
		}
		rec.CommitMessage = ""
		if in.CommitMessage != nil {
			rec.CommitMessage = *in.CommitMessage
		}
		if in.AuthorSID != "" {
			rec.AuthorSID = in.AuthorSID
		}
		if f != nil {
			rec.Definition, rec.Warnings = canonical(f), f.Warnings
		}
		if err := updateFlow(ctx, q, rec); err != nil {
			return err
		}
		return insertRevision(ctx, q, rec)
	})
	return rec, wrap("update flow", err)
}

// canonical is the definition as stored and returned: re-encoded from
// what was decoded, so it holds nothing the decoder did not accept.
func canonical(f *Flow) json.RawMessage {
	b, _ := json.Marshal(f.Def)
	return b
}

func wrap(op string, err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotPublished) {
		return err
	}
	var inv *InvalidDefinition
	var re *rest.Error
	if errors.As(err, &inv) || errors.As(err, &re) {
		return err
	}
	return fmt.Errorf("studio: %s: %w", op, err)
}

// Flow returns one flow of the account.
func (s *Service) Flow(ctx context.Context, accountSID, sid string) (FlowRecord, error) {
	rec, err := getFlow(ctx, s.db, accountSID, sid)
	return rec, wrap("get flow", err)
}

// Flows lists the account's flows.
func (s *Service) Flows(ctx context.Context, accountSID string, p rest.Page) ([]FlowRecord, error) {
	rows, err := listFlows(ctx, s.db, accountSID, p)
	return rows, wrap("list flows", err)
}

// DeleteFlow deletes a flow with its revisions, executions and steps.
func (s *Service) DeleteFlow(ctx context.Context, accountSID, sid string) error {
	return wrap("delete flow", deleteFlow(ctx, s.db, accountSID, sid))
}

// Revision returns one revision; "LatestPublished" names the newest published one.
func (s *Service) Revision(ctx context.Context, accountSID, flowSID, revision string) (FlowRecord, error) {
	rec, err := getRevision(ctx, s.db, accountSID, flowSID, revision)
	return rec, wrap("get revision", err)
}

// Revisions lists a flow's revisions, oldest first.
func (s *Service) Revisions(ctx context.Context, accountSID, flowSID string, p rest.Page) ([]FlowRecord, error) {
	if _, err := s.Flow(ctx, accountSID, flowSID); err != nil {
		return nil, err
	}
	rows, err := listRevisions(ctx, s.db, accountSID, flowSID, p)
	return rows, wrap("list revisions", err)
}

// SetTestUsers replaces the flow's test users.
func (s *Service) SetTestUsers(ctx context.Context, accountSID, flowSID string, users []string) (FlowRecord, error) {
	if err := setTestUsers(ctx, s.db, accountSID, flowSID, users); err != nil {
		return FlowRecord{}, wrap("set test users", err)
	}
	return s.Flow(ctx, accountSID, flowSID)
}

// published returns the latest published revision of a flow, compiled.
func (s *Service) published(ctx context.Context, accountSID, flowSID string) (*Flow, FlowRecord, error) {
	rec, err := getRevision(ctx, s.db, accountSID, flowSID, "LatestPublished")
	if errors.Is(err, ErrNotFound) {
		if _, ferr := getFlow(ctx, s.db, accountSID, flowSID); ferr != nil {
			return nil, rec, ferr
		}
		return nil, rec, ErrNotPublished
	}
	if err != nil {
		return nil, rec, err
	}
	f, err := s.compiled(rec)
	return f, rec, err
}

// revision returns a compiled revision, from the cache when it can:
// revisions never change once saved.
func (s *Service) revision(ctx context.Context, accountSID, flowSID string, revision int) (*Flow, error) {
	if f := s.cached(flowSID, revision); f != nil {
		return f, nil
	}
	rec, err := getRevision(ctx, s.db, accountSID, flowSID, strconv.Itoa(revision))
	if err != nil {
		return nil, err
	}
	return s.compiled(rec)
}

func (s *Service) cached(flowSID string, revision int) *Flow {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	return s.cache[fmt.Sprintf("%s:%d", flowSID, revision)]
}

// compiled returns the revision's flow, compiling it once.
func (s *Service) compiled(rec FlowRecord) (*Flow, error) {
	if f := s.cached(rec.SID, rec.Revision); f != nil {
		return f, nil
	}
	key := fmt.Sprintf("%s:%d", rec.SID, rec.Revision)
	f, problems := ParseDefinition(rec.Definition)
	if len(problems) > 0 {
		// Saved definitions were valid; this one no longer is (a newer
		// Parley is stricter). Say so rather than run half a flow.
		return nil, &InvalidDefinition{Problems: problems}
	}
	s.cacheMu.Lock()
	if len(s.cache) > 1000 {
		s.cache = map[string]*Flow{}
	}
	s.cache[key] = f
	s.cacheMu.Unlock()
	return f, nil
}
