// Package token owns access tokens: Twilio-format JWTs minted and
// verified here, anonymous guest tokens for the web chat widget (signed
// by a server-managed key per account), their renewal, and the abuse
// limits of the anonymous endpoints.
package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// ErrKeyNotFound is what KeyLookup returns (wrapped) for an unknown key.
var ErrKeyNotFound = errors.New("token: key not found")

// ErrAccountNotFound is what Accounts.AccountExists reports through
// false; Mint returns it (wrapped) for an unknown account.
var ErrAccountNotFound = errors.New("token: account not found")

// KeyLookup finds API keys (internal/app adapts *account.Service).
type KeyLookup interface {
	// LookupKeySecret returns the account and secret of an API key, or an
	// error wrapping ErrKeyNotFound.
	LookupKeySecret(ctx context.Context, keySID string) (accountSID, secret string, err error)
	// AccountExists reports whether an account exists.
	AccountExists(ctx context.Context, accountSID string) (bool, error)
}

// ChatServices finds (or creates) the chat service guest tokens are bound
// to (internal/app adapts the chat domain).
type ChatServices interface {
	DefaultChatService(ctx context.Context, accountSID string) (string, error)
}

// Options are the service's knobs. Zero values take the defaults.
type Options struct {
	// GuestTTL is a guest token's lifetime (default one hour).
	GuestTTL time.Duration
	// KeyRecheck is how long a cached key is trusted before the store is
	// read again (default 30s), so a lost keys.deleted message only delays
	// a deleted key's cut-off this long.
	KeyRecheck time.Duration
	// GuestRatePerMinute and GuestBurst shape the per-client-IP token
	// buckets of the anonymous endpoints (rate 0: no limit).
	GuestRatePerMinute float64
	GuestBurst         int
	// SelfOrigin is Parley's own origin (from the public URL), always
	// allowed on the guest endpoints.
	SelfOrigin string
	// MainAccountSID and MainOrigins: the origins allowed for the main
	// account by configuration, in addition to any stored ones.
	MainAccountSID string
	MainOrigins    []string
	// TrustedProxies lists proxy networks whose X-Forwarded-For is believed.
	TrustedProxies []string
	// ChatServices, when set, binds guest tokens to the account's default
	// chat service; without it their chat grant has no service_sid.
	ChatServices ChatServices
	Logger       *slog.Logger
	// Now is the clock (tests move it).
	Now func() time.Time
}

// Service mints and verifies access tokens.
type Service struct {
	db    *store.DB
	bus   bus.Bus
	keys  KeyLookup
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	cache *keyCache
	// verified is nil when disabled (benchmarks of the cold path).
	verified *verifiedCache
	origins  *originCache
	limits   *limiter
	proxies  []netPrefix
	st       tokenStore
	sub      bus.Subscription
	// skew moves this service's clock (nanoseconds), for tests of expiry.
	skew atomic.Int64
}

// SubjectKeyDeleted is the bus subject internal/account publishes a
// deleted key's SID on; Parley also publishes a dropped guest key's SID.
const SubjectKeyDeleted = "keys.deleted"

// New builds the service and subscribes to key deletions on b.
func New(db *store.DB, b bus.Bus, keys KeyLookup, opts Options) (*Service, error) {
	if opts.GuestTTL <= 0 {
		opts.GuestTTL = time.Hour
	}
	if opts.GuestTTL > MaxLifetime {
		return nil, fmt.Errorf("token: guest token lifetime %s is over the 24h maximum", opts.GuestTTL)
	}
	if opts.KeyRecheck <= 0 {
		opts.KeyRecheck = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	proxies, err := parsePrefixes(opts.TrustedProxies)
	if err != nil {
		return nil, err
	}
	if opts.MainOrigins, err = normalizeAll(opts.MainOrigins); err != nil {
		return nil, err
	}
	opts.SelfOrigin, _ = NormalizeOrigin(opts.SelfOrigin)
	s := &Service{db: db, bus: b, keys: keys, log: opts.Logger.With("component", "token"),
		cache: newKeyCache(), verified: newVerifiedCache(), proxies: proxies, st: tokenStore{db: db}}
	clock := opts.Now
	s.now = func() time.Time { return clock().Add(time.Duration(s.skew.Load())) }
	opts.Now = s.now
	s.opts = opts
	s.limits = newLimiter(opts.GuestRatePerMinute, opts.GuestBurst, s.now)
	s.origins = newOriginCache(s)
	if b != nil {
		s.sub, err = b.Subscribe(SubjectKeyDeleted, func(m bus.Msg) { s.cache.evict(string(m.Data)) })
		if err != nil {
			return nil, fmt.Errorf("token: subscribe %s: %w", SubjectKeyDeleted, err)
		}
	}
	return s, nil
}

// SetChatServices plugs in the chat domain after construction (it may be
// built after this service).
func (s *Service) SetChatServices(c ChatServices) { s.opts.ChatServices = c }

// Close stops listening to the bus (a nil Service is fine).
func (s *Service) Close() error {
	if s != nil && s.sub != nil {
		return s.sub.Unsubscribe()
	}
	return nil
}

// Grant is what a minted token allows.
type Grant struct {
	AccountSID string
	// KeySID is the API key that signs the token. Empty: the account's
	// server-managed guest key, which makes the token a guest token.
	KeySID   string
	Identity string
	// TTL is the lifetime (default one hour, at most 24 hours).
	TTL            time.Duration
	ChatServiceSID string
	WorkspaceSID   string
	WorkerSID      string
	TaskRouterRole string
	// Guest asks for a guest token: signed by the guest key (KeySID must
	// be empty). Every token the guest key signs is a guest token.
	Guest bool
}

func (g Grant) validate() error {
	switch {
	case !rest.IsSID("AC", g.AccountSID):
		return rest.InvalidParam("AccountSid", "must be AC followed by 32 hex digits")
	case g.KeySID != "" && !rest.IsSID("SK", g.KeySID):
		return rest.InvalidParam("KeySid", "must be SK followed by 32 hex digits")
	case g.Guest && g.KeySID != "":
		return rest.InvalidParam("KeySid", "guest tokens are signed by the account's guest key; leave KeySid empty")
	case g.Identity == "" || len(g.Identity) > maxIdentity:
		return rest.InvalidParam("Identity", "must be 1 to %d characters", maxIdentity)
	case g.TTL < 0 || g.TTL > MaxLifetime:
		return rest.InvalidParam("Ttl", "must be at most 24 hours")
	case g.ChatServiceSID != "" && !rest.IsSID("IS", g.ChatServiceSID):
		return rest.InvalidParam("ChatServiceSid", "must be IS followed by 32 hex digits")
	case g.WorkspaceSID != "" && !rest.IsSID("WS", g.WorkspaceSID):
		return rest.InvalidParam("WorkspaceSid", "must be WS followed by 32 hex digits")
	case g.WorkerSID != "" && !rest.IsSID("WK", g.WorkerSID):
		return rest.InvalidParam("WorkerSid", "must be WK followed by 32 hex digits")
	}
	return nil
}

// Mint signs a token for g. The key must belong to g.AccountSID.
func (s *Service) Mint(ctx context.Context, g Grant) (string, time.Time, error) {
	if err := g.validate(); err != nil {
		return "", time.Time{}, err
	}
	k, err := s.signingKey(ctx, g)
	if err != nil {
		return "", time.Time{}, err
	}
	if g.TTL == 0 {
		g.TTL = time.Hour
	}
	now := s.now().Truncate(time.Second)
	exp := now.Add(g.TTL)
	c := &claims{ID: jti(k.sid, now), Issuer: k.sid, Subject: g.AccountSID,
		NotBefore: at(now), ExpiresAt: at(exp), Grants: grantsFor(g)}
	raw, err := sign(c, k.secret)
	return raw, exp, err
}

// signingKey picks the key that signs g: the named API key, or the
// account's current guest key.
func (s *Service) signingKey(ctx context.Context, g Grant) (key, error) {
	if g.KeySID == "" {
		return s.currentGuestKey(ctx, g.AccountSID)
	}
	k, err := s.lookup(ctx, g.KeySID)
	if err != nil {
		return key{}, err
	}
	if k.missing || k.account != g.AccountSID {
		return key{}, rest.NotFound("API key %s was not found in account %s", g.KeySID, g.AccountSID)
	}
	return k, nil
}

func grantsFor(g Grant) *grants {
	out := &grants{Identity: g.Identity}
	if g.ChatServiceSID != "" || g.KeySID == "" {
		out.Chat = &chatGrant{ServiceSID: g.ChatServiceSID}
	}
	if g.WorkspaceSID != "" || g.WorkerSID != "" || g.TaskRouterRole != "" {
		out.TaskRouter = &taskRouterGrant{WorkspaceSID: g.WorkspaceSID, WorkerSID: g.WorkerSID, Role: g.TaskRouterRole}
	}
	return out
}

// Verify checks raw completely (format, header, signature with a live
// key of the token's account, times, lifetime, grants) and returns who
// it acts as. Every refusal is a *rest.Error 401 with Twilio's code.
func (s *Service) Verify(ctx context.Context, raw string) (*rest.Principal, error) {
	if s.verified != nil {
		if p, ok := s.fromCache(ctx, raw); ok {
			return p, nil
		}
	}
	var k key
	c, err := parse(raw, func(c *claims) ([]byte, error) {
		if !rest.IsSID("SK", c.Issuer) || !rest.IsSID("AC", c.Subject) {
			return nil, refuse(CodeIssuerSubject, "Invalid Access Token issuer/subject: iss must be an API key SID and sub an account SID")
		}
		var err error
		if k, err = s.lookup(ctx, c.Issuer); err != nil {
			return nil, err
		}
		if err := keyRefusal(k, c.Issuer, c.Subject, s.now()); err != nil {
			return nil, err
		}
		return k.secretBytes(), nil
	})
	if err != nil {
		return nil, err
	}
	if err := checkClaims(c, s.now()); err != nil {
		return nil, err
	}
	p := &rest.Principal{AccountSID: c.Subject, CredentialSID: c.Issuer, Identity: c.Grants.Identity,
		TokenID: c.ID, ExpiresAt: c.ExpiresAt.Time(), Guest: k.guest, ChatServiceSID: c.Grants.chatService()}
	if tr := c.Grants.TaskRouter; tr != nil {
		p.WorkspaceSID, p.WorkerSID, p.TaskRouterRole = tr.WorkspaceSID, tr.WorkerSID, tr.Role
	}
	if s.verified != nil {
		e := verifiedEntry{p: *p}
		if c.NotBefore != nil {
			e.nbf = c.NotBefore.Time()
		}
		s.verified.put(raw, e, s.now())
	}
	return p, nil
}

// Authenticate recognises an access token sent as HTTP Basic with the
// username "token" (as Twilio's Flex WebChat UI sends it) or in the
// X-Twilio-Token header. It returns (nil, nil) when neither is present.
func (s *Service) Authenticate(r *http.Request) (*rest.Principal, error) {
	if user, pass, ok := r.BasicAuth(); ok && user == "token" {
		return s.Verify(r.Context(), pass)
	}
	if raw := strings.TrimSpace(r.Header.Get("X-Twilio-Token")); raw != "" {
		return s.Verify(r.Context(), raw)
	}
	return nil, nil
}
