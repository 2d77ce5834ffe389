// Package chat is Programmable Chat v2 in Twilio's REST shape: services,
// roles, users, channels, members, messages and channel webhooks, with the
// message-index guarantee, webhooks and the events the realtime layer
// fans out.
//
// Invariants:
//   - A channel's messages get index 0, 1, 2, ... in the transaction that
//     inserts them: takeIndex bumps chat_channels.next_index, which locks
//     the channel row until commit (PostgreSQL) or runs under the single
//     writer (SQLite). A rolled-back send returns its index, so there is no
//     gap and no repeat. Deleting a message leaves a hole, as in Twilio.
//   - A send with a client message id is done once per channel: the id is
//     looked up after the channel row is locked, and a unique constraint
//     backs that up; a retry gets the original message back.
//   - Events are published on chat.<ChannelSid> after commit, never before;
//     webhooks that can refuse run before the transaction, never inside it.
package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/webhook"
)

// ErrNotFound: no such resource in this account and service.
var ErrNotFound = errors.New("chat: not found")

// Service is the chat domain.
type Service struct {
	db     *store.DB
	bus    bus.Bus
	hooks  *webhook.Client
	base   string
	logger *slog.Logger

	studioMu sync.RWMutex
	studio   StudioDispatcher
	serial   serial
}

// New returns the chat service. baseURL is the public URL every returned
// url is built on; hooks delivers outgoing webhooks (nil: none are sent).
func New(db *store.DB, b bus.Bus, hooks *webhook.Client, baseURL string, logger *slog.Logger) *Service {
	return &Service{db: db, bus: b, hooks: hooks, base: baseURL, logger: logger.With("component", "chat")}
}

// Close waits for queued Studio dispatches to finish.
func (s *Service) Close() { s.serial.wait() }

func (s *Service) url(path string) string { return s.base + path }

// notFound turns a store miss into Twilio's 404 for the resource named.
func notFound(err error, what, ref string) error {
	if errors.Is(err, store.ErrNotFound) {
		return rest.NotFound("The requested resource %s %s was not found", what, ref)
	}
	return err
}

// --- events ---

// Event is what chat publishes on chat.<ChannelSid> after a commit. Data
// is the resource's exact Chat v2 REST JSON.
type Event struct {
	V          int    `json:"v"`
	Type       string `json:"type"`
	AccountSID string `json:"account_sid"`
	ServiceSID string `json:"service_sid"`
	ChannelSID string `json:"channel_sid"`
	Index      *int64 `json:"index,omitempty"`
	Data       any    `json:"data"`
}

// Subject is the bus subject of a channel's events.
func Subject(channelSID string) string { return "chat." + channelSID }

func (s *Service) publish(ctx context.Context, typ string, ch Channel, index *int64, data any) {
	b, err := json.Marshal(Event{V: 1, Type: typ, AccountSID: ch.AccountSID, ServiceSID: ch.ServiceSID,
		ChannelSID: ch.SID, Index: index, Data: data})
	if err == nil {
		// The commit is done; the request's end must not cancel the publish.
		err = s.bus.Publish(context.WithoutCancel(ctx), Subject(ch.SID), b)
	}
	if err != nil {
		// At most once: subscribers fill gaps from the store.
		s.logger.WarnContext(ctx, "chat event not published", slog.String("type", typ),
			slog.String("channel_sid", ch.SID), slog.Any("error", err))
	}
}

// --- lookups shared by every operation ---

// instance loads a service the caller may act in.
func (s *Service) instance(ctx context.Context, c caller, serviceSID string) (Instance, error) {
	if err := c.inService(serviceSID); err != nil {
		return Instance{}, err
	}
	in, err := getInstance(ctx, s.db, c.account, serviceSID)
	return in, notFound(err, "Service", serviceSID)
}

// channel loads a channel (by SID or unique name) the caller may see: an
// access token must be a member.
func (s *Service) channel(ctx context.Context, c caller, serviceSID, ref string) (Instance, Channel, error) {
	in, err := s.instance(ctx, c, serviceSID)
	if err != nil {
		return in, Channel{}, err
	}
	ch, err := getChannel(ctx, s.db, serviceSID, ref)
	if err != nil {
		return in, ch, notFound(err, "Channel", ref)
	}
	if !c.admin {
		if _, err := memberByIdentity(ctx, s.db, ch.SID, c.identity); errors.Is(err, store.ErrNotFound) {
			return in, ch, notMember(c.identity, ch.SID)
		} else if err != nil {
			return in, ch, err
		}
	}
	return in, ch, nil
}

func (s *Service) channelWebhooks(ctx context.Context, c caller, ch Channel) []Webhook {
	if !c.hooks || s.hooks == nil && s.studioDispatcher() == nil {
		return nil
	}
	hooks, err := listWebhooks(ctx, s.db, ch.SID, 0, 0, MaxWebhooks+1)
	if err != nil {
		s.logger.WarnContext(ctx, "channel webhooks not read", slog.String("channel_sid", ch.SID), slog.Any("error", err))
	}
	return hooks
}

// Chat's conflict codes (Twilio's 50xxx family).
const (
	codeUserExists    = 50201
	codeChannelExists = 50307
	codeMemberExists  = 50404
)

func conflict(err error, code int, format string, args ...any) error {
	if errors.Is(err, store.ErrConflict) {
		return rest.Conflict(code, format, args...)
	}
	return err
}

// tooMany is a limit of the service refusing an addition.
func tooMany(format string, args ...any) *rest.Error {
	return rest.NewError(http.StatusForbidden, rest.CodeForbidden, format, args...)
}

// stamp fills a new resource's dates: now, unless the request set them
// (Twilio lets imports keep their original dates).
func stamp(created, updated *int64) {
	if *created == 0 {
		*created = store.Now()
	}
	if *updated == 0 {
		*updated = *created
	}
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := rest.AsError(err); ok {
		return err
	}
	return fmt.Errorf("chat: %s: %w", op, err)
}
