package token

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/rest"
)

// originCache keeps each account's allow-list in memory for KeyRecheck,
// because the realtime socket and the WebChannel call ask on every
// connection. Changes made through this node apply at once; other nodes
// pick them up within KeyRecheck.
type originCache struct {
	s  *Service
	mu sync.Mutex
	m  map[string]originEntry
}

type originEntry struct {
	list    []string
	checked time.Time
}

func newOriginCache(s *Service) *originCache {
	return &originCache{s: s, m: make(map[string]originEntry)}
}

func (c *originCache) get(ctx context.Context, accountSID string) ([]string, error) {
	now := c.s.now()
	c.mu.Lock()
	e, ok := c.m[accountSID]
	c.mu.Unlock()
	if ok && now.Sub(e.checked) < c.s.opts.KeyRecheck {
		return e.list, nil
	}
	list, err := c.s.st.origins(ctx, accountSID)
	if err != nil {
		return nil, err
	}
	if accountSID == c.s.opts.MainAccountSID {
		list = append(list, c.s.opts.MainOrigins...)
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedKeys {
		c.m = make(map[string]originEntry)
	}
	c.m[accountSID] = originEntry{list: list, checked: now}
	c.mu.Unlock()
	return list, nil
}

func (c *originCache) forget(accountSID string) {
	c.mu.Lock()
	delete(c.m, accountSID)
	c.mu.Unlock()
}

// OriginAllowed reports whether a browser page from origin may use the
// account's guest endpoints, web channels and realtime socket. An empty
// allow-list allows any origin; Parley's own origin is always allowed.
// With a non-empty list, a request without an Origin header is refused
// (browsers always send one on these calls). On a store error it fails
// closed and logs.
func (s *Service) OriginAllowed(ctx context.Context, accountSID, origin string) bool {
	list, err := s.origins.get(ctx, accountSID)
	if err != nil {
		s.log.ErrorContext(ctx, "read allowed origins", slog.String("account_sid", accountSID), slog.Any("error", err))
		return false
	}
	if len(list) == 0 {
		return true
	}
	o, ok := NormalizeOrigin(origin)
	if !ok {
		return false
	}
	if o == s.opts.SelfOrigin {
		return true
	}
	for _, allowed := range list {
		if allowed == o {
			return true
		}
	}
	return false
}

// AllowedOrigins returns the account's stored allow-list (plus the
// configured ones for the main account).
func (s *Service) AllowedOrigins(ctx context.Context, accountSID string) ([]string, error) {
	return s.origins.get(ctx, accountSID)
}

// SetAllowedOrigins replaces the account's stored allow-list; an empty
// list allows any origin again.
func (s *Service) SetAllowedOrigins(ctx context.Context, accountSID string, origins []string) ([]string, error) {
	clean, err := normalizeAll(origins)
	if err != nil {
		return nil, err
	}
	if err := s.st.setOrigins(ctx, accountSID, clean); err != nil {
		return nil, err
	}
	s.origins.forget(accountSID)
	return s.origins.get(ctx, accountSID)
}

// normalizeAll normalizes a list of origins and drops duplicates.
func normalizeAll(origins []string) ([]string, error) {
	clean := make([]string, 0, len(origins))
	seen := map[string]bool{}
	for _, raw := range origins {
		o, ok := NormalizeOrigin(raw)
		if !ok {
			return nil, rest.InvalidParam("AllowedOrigin", "%q is not an origin such as https://www.example.com", raw)
		}
		if !seen[o] {
			seen[o] = true
			clean = append(clean, o)
		}
	}
	return clean, nil
}

// NormalizeOrigin returns origin as browsers send it (scheme://host[:port],
// lower case, default ports dropped), or false if it is not one.
func NormalizeOrigin(origin string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(origin))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	scheme := strings.ToLower(u.Scheme)
	host = strings.TrimSuffix(host, map[string]string{"http": ":80", "https": ":443"}[scheme])
	return scheme + "://" + host, true
}
