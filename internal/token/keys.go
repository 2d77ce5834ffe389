package token

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// key is a signing key as the verifier sees it.
type key struct {
	sid, account, secret string
	// guest: a server-managed guest key; its tokens are guest tokens.
	guest bool
	// retiredUntil: a rotated-out guest key verifies until then (zero: no limit).
	retiredUntil time.Time
	// missing: the store has no such key (cached so that floods of tokens
	// naming unknown keys do not each cost a query).
	missing bool
	checked time.Time
}

// secretBytes is the HMAC key. The conversion is not cached: a 32-byte
// copy is cheap next to parsing.
func (k key) secretBytes() []byte { return []byte(k.secret) }

func (k key) usable(now time.Time) bool {
	return k.retiredUntil.IsZero() || now.Before(k.retiredUntil)
}

// keyRefusal says why key k (named iss) may not sign a token for account
// sub now, or nil: the one check of both a full verify and a cache hit.
func keyRefusal(k key, iss, sub string, now time.Time) error {
	if k.missing || !k.usable(now) {
		return refuse(CodeIssuerSubject, "Invalid Access Token issuer: signing key %s does not exist or was revoked", iss)
	}
	if k.account != sub {
		return refuse(CodeIssuerSubject, "Invalid Access Token issuer/subject: key %s does not belong to account %s", iss, sub)
	}
	return nil
}

// keyCache keeps signing keys in memory so that verifying costs no query.
//
// Invariant: an evicted key is never put back by a lookup that began
// before the eviction. evict bumps gen under mu; a fill records gen
// before reading the store and stores its result only if gen is
// unchanged. So a keys.deleted message can never be undone by a
// concurrent verify that read the key just before the delete committed.
type keyCache struct {
	mu   sync.RWMutex
	keys map[string]key
	gen  uint64
}

// maxCachedKeys bounds the cache; past it, the cache starts over (a cold
// read per key is cheap, unbounded growth from forged key SIDs is not).
const maxCachedKeys = 100_000

func newKeyCache() *keyCache { return &keyCache{keys: make(map[string]key)} }

func (c *keyCache) get(sid string) (key, bool, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	k, ok := c.keys[sid]
	return k, ok, c.gen
}

func (c *keyCache) put(k key, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.keys) >= maxCachedKeys {
		c.keys = make(map[string]key)
	}
	c.keys[k.sid] = k
}

func (c *keyCache) evict(sid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keys, sid)
	c.gen++
}

// lookup returns the key sid from the cache, reading the store when the
// entry is absent or older than KeyRecheck.
func (s *Service) lookup(ctx context.Context, sid string) (key, error) {
	now := s.now()
	k, ok, gen := s.cache.get(sid)
	if ok && now.Sub(k.checked) < s.opts.KeyRecheck {
		return k, nil
	}
	k, err := s.readKey(ctx, sid)
	if err != nil {
		return key{}, err
	}
	k.checked = now
	s.cache.put(k, gen)
	return k, nil
}

// readKey reads a key from the guest key table, then from the accounts'
// API keys.
func (s *Service) readKey(ctx context.Context, sid string) (key, error) {
	gk, err := s.st.guestKey(ctx, s.db, sid)
	if err == nil {
		return gk.verifierKey(s.opts.GuestTTL), nil
	}
	if !errors.Is(err, errNotFound) {
		return key{}, err
	}
	acct, secret, err := s.keys.LookupKeySecret(ctx, sid)
	if errors.Is(err, ErrKeyNotFound) {
		return key{sid: sid, missing: true}, nil
	}
	if err != nil {
		return key{}, fmt.Errorf("token: look up key: %w", err)
	}
	return key{sid: sid, account: acct, secret: secret}, nil
}
