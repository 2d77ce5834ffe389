package token

import (
	"context"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/rest"
)

// verifiedCache remembers tokens whose signature and claims were already
// checked, keyed by the exact token text, so that a client sending the
// same token on every request costs a map read instead of JSON decoding
// and an HMAC. Only the parts that cannot change are cached: a hit still
// checks the clock against nbf/exp and that the signing key is still live
// (through the key cache), so deleting a key cuts its tokens off exactly
// as for a cold verify.
//
// Identical text means identical signature, so a hit is as good as a
// verify; a tampered token is different text and misses. Memory is
// bounded by maxVerified entries (a few hundred bytes each); expired
// entries are swept when the bound is reached, and if every entry is
// live the cache starts over.
type verifiedCache struct {
	mu sync.RWMutex
	m  map[string]verifiedEntry
}

type verifiedEntry struct {
	p   rest.Principal
	nbf time.Time // zero: none
}

const maxVerified = 20_000

func newVerifiedCache() *verifiedCache { return &verifiedCache{m: make(map[string]verifiedEntry)} }

func (c *verifiedCache) get(raw string) (verifiedEntry, bool) {
	c.mu.RLock()
	e, ok := c.m[raw]
	c.mu.RUnlock()
	return e, ok
}

func (c *verifiedCache) put(raw string, e verifiedEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxVerified {
		for k, v := range c.m {
			if !now.Before(v.p.ExpiresAt) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxVerified {
			c.m = make(map[string]verifiedEntry)
		}
	}
	c.m[raw] = e
}

// fromCache returns the principal of an already verified token when it
// is still within its times and its key is still live; otherwise false,
// and the caller verifies from scratch (which also finds the precise
// error).
func (s *Service) fromCache(ctx context.Context, raw string) (*rest.Principal, bool) {
	e, ok := s.verified.get(raw)
	if !ok {
		return nil, false
	}
	now := s.now()
	if !now.Before(e.p.ExpiresAt) || (!e.nbf.IsZero() && now.Add(notBeforeLeeway).Before(e.nbf)) {
		return nil, false
	}
	k, err := s.lookup(ctx, e.p.CredentialSID)
	if err != nil || keyRefusal(k, e.p.CredentialSID, e.p.AccountSID, now) != nil {
		return nil, false
	}
	p := e.p
	return &p, true
}
