// Package flex is Flex v1: Flex Flows (which chat service hosts a
// channel type's conversations and what handles them), WebChannels (an
// anonymous visitor's chat, wired to that handler), the integrations
// (studio, task, external), the janitor that closes finished
// conversations, and the default setup a fresh account starts with.
//
// Flex owns no chat, task or flow: it reaches them through the small
// interfaces below (Chat, Tasks, Studio, Webhooks, Origins, Defaults),
// which internal/app implements over the other domains.
package flex

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/webhook"
)

// ErrNotFound: no such flow or web channel in the account.
var ErrNotFound = errors.New("flex: not found")

// ChannelSpec is a chat channel to create for a web channel.
type ChannelSpec struct {
	AccountSID, ServiceSID string
	FriendlyName           string
	UniqueName             string
	Attributes             string // JSON text
	CreatedBy              string // the visitor's identity
}

// Chat is what Flex needs from Programmable Chat.
type Chat interface {
	// ServiceExists reports whether the account has the chat service.
	ServiceExists(ctx context.Context, accountSID, serviceSID string) (bool, error)
	// CreateChannel creates a private channel and returns its SID (CH).
	CreateChannel(ctx context.Context, spec ChannelSpec) (string, error)
	// AddMember makes identity a member of the channel (creating its chat user).
	AddMember(ctx context.Context, accountSID, serviceSID, channelSID, identity string) error
	// ChannelAttributes returns the channel's attributes (JSON text).
	ChannelAttributes(ctx context.Context, accountSID, serviceSID, channelSID string) (string, error)
	// SetChannelAttributes replaces them and announces channel.updated to
	// the channel's members (the widget shows "chat ended" from it).
	SetChannelAttributes(ctx context.Context, accountSID, serviceSID, channelSID, attributes string) error
	// AttachStudio adds a studio-type channel webhook (onMessageSent) for
	// flowSID and returns its SID (WH).
	AttachStudio(ctx context.Context, accountSID, serviceSID, channelSID, flowSID string, retryCount int) (string, error)
	// DetachWebhook removes a channel webhook; a missing one is not an error.
	DetachWebhook(ctx context.Context, accountSID, serviceSID, channelSID, webhookSID string) error
	// DeleteChannel deletes the chat channel; a missing one is not an error.
	DeleteChannel(ctx context.Context, accountSID, serviceSID, channelSID string) error
}

// Tasks is what Flex needs from TaskRouter.
type Tasks interface {
	// WorkflowExists reports whether the account's workspace has the workflow.
	WorkflowExists(ctx context.Context, accountSID, workspaceSID, workflowSID string) (bool, error)
	// CreateTask creates a task and returns its SID (WT). taskChannel is a
	// task channel SID or unique name.
	CreateTask(ctx context.Context, accountSID, workspaceSID, workflowSID, taskChannel, attributes string, priority, timeoutSeconds int) (string, error)
	// CancelTask cancels a pending or reserved task.
	CancelTask(ctx context.Context, accountSID, workspaceSID, taskSID, reason string) error
}

// Studio is what Flex needs from Studio.
type Studio interface {
	// FlowExists reports whether the account has the Studio flow.
	FlowExists(ctx context.Context, accountSID, flowSID string) (bool, error)
	// DeliverMessage hands one chat message to the flow, as the channel's
	// studio webhook would have (used when a long-lived channel is
	// re-engaged by the very message that re-attaches the webhook).
	DeliverMessage(ctx context.Context, flowSID string, m Message) error
}

// Webhooks sends signed webhooks in the background (internal/webhook).
type Webhooks interface {
	Send(req webhook.Request)
}

// Origins is the website allow-list guests are checked against.
type Origins interface {
	OriginAllowed(ctx context.Context, accountSID, origin string) bool
}

// Defaults finds or creates, in the other domains, what the default Flex
// setup needs. Each call is idempotent (safe on every start and node).
type Defaults interface {
	// ChatService is the account's "Flex Chat Service".
	ChatService(ctx context.Context, accountSID string) (string, error)
	// Workspace is "Flex Task Assignment" with its activities, task
	// channels, the queue "Everyone" and the workflow "Assign to Anyone".
	Workspace(ctx context.Context, accountSID string) (workspaceSID, workflowSID, chatTaskChannel string, err error)
	// WebchatFlow is the Studio flow "Webchat Flow": trigger -> send-to-flex.
	WebchatFlow(ctx context.Context, accountSID, workspaceSID, workflowSID, taskChannel string) (string, error)
}

// Deps are the other domains, as Flex sees them. Any may be nil until its
// domain exists: what needs it then fails with a clear error.
type Deps struct {
	Chat     Chat
	Tasks    Tasks
	Studio   Studio
	Webhooks Webhooks
	Origins  Origins
	Defaults Defaults
}

// Options tune the janitor.
type Options struct {
	// IdleTimeout closes an active channel with no task after this long
	// without activity (0: 24h; negative: never).
	IdleTimeout time.Duration
	// SweepEvery is how often the janitor looks for idle channels (0: 1m).
	SweepEvery time.Duration
}

// Service is Flex's rules.
type Service struct {
	db     *store.DB
	st     flexStore
	bus    bus.Bus
	deps   Deps
	opts   Options
	logger *slog.Logger

	mu     sync.Mutex
	subs   []bus.Subscription
	shards *eventShards
	stop   chan struct{}
	done   chan struct{}
}

// New returns the Flex service.
func New(db *store.DB, b bus.Bus, deps Deps, logger *slog.Logger, opts Options) *Service {
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 24 * time.Hour
	}
	if opts.SweepEvery <= 0 {
		opts.SweepEvery = time.Minute
	}
	return &Service{db: db, st: flexStore{db: db}, bus: b, deps: deps, opts: opts,
		logger: logger.With("component", "flex")}
}

// SetDeps replaces the dependencies (internal/app fills them in as the
// other services are built).
func (s *Service) SetDeps(d Deps) { s.deps = d }

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}
