package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// currentGuestKey returns the account's current guest signing key,
// creating it on first use. Two nodes racing to create it both end with
// the one that won (a unique index allows one current key per account).
func (s *Service) currentGuestKey(ctx context.Context, accountSID string) (key, error) {
	g, err := s.st.currentGuestKey(ctx, s.db, accountSID)
	if err == nil {
		return g.key(), nil
	}
	if !errors.Is(err, errNotFound) {
		return key{}, err
	}
	if err := s.requireAccount(ctx, accountSID); err != nil {
		return key{}, err
	}
	g = newGuestKey(accountSID)
	err = s.st.insertGuestKey(ctx, s.db, g)
	if errors.Is(err, store.ErrConflict) {
		g, err = s.st.currentGuestKey(ctx, s.db, accountSID)
	}
	if err != nil {
		return key{}, err
	}
	return g.key(), nil
}

func newGuestKey(accountSID string) guestKey {
	now := store.Now()
	return guestKey{SID: rest.NewSID("SK"), AccountSID: accountSID, Secret: rest.RandomHex(32), Created: now, Updated: now}
}

func (s *Service) requireAccount(ctx context.Context, accountSID string) error {
	ok, err := s.keys.AccountExists(ctx, accountSID)
	if err != nil {
		return fmt.Errorf("token: account: %w", err)
	}
	if !ok {
		return rest.NotFound("The requested resource /Accounts/%s was not found", accountSID)
	}
	return nil
}

// RotateGuestKey gives the account a new guest signing key. The previous
// key keeps verifying for one guest-token lifetime, so visitors are not
// logged out; with dropPrevious (a leaked key) it stops at once. It
// returns the new key's SID.
func (s *Service) RotateGuestKey(ctx context.Context, accountSID string, dropPrevious bool) (string, error) {
	if err := s.requireAccount(ctx, accountSID); err != nil {
		return "", err
	}
	g := newGuestKey(accountSID)
	dropBefore := g.Created - s.opts.GuestTTL.Milliseconds()
	if dropPrevious {
		dropBefore = g.Created + 1
	}
	var dropped []string
	var previous guestKey
	err := s.db.InTx(ctx, func(q store.Querier) error {
		var err error
		previous, err = s.st.currentGuestKey(ctx, q, accountSID)
		if err != nil && !errors.Is(err, errNotFound) {
			return err
		}
		if dropped, err = s.st.retireGuestKeys(ctx, q, accountSID, g.Created, dropBefore); err != nil {
			return err
		}
		return s.st.insertGuestKey(ctx, q, g)
	})
	if err != nil {
		return "", err
	}
	// This node re-reads the previous key at once to learn its retirement;
	// other nodes learn it at their next re-check, well within its grace.
	s.cache.evict(previous.SID)
	for _, sid := range dropped {
		s.announceDropped(ctx, sid)
	}
	s.log.Info("guest key rotated", slog.String("account_sid", accountSID), slog.String("key_sid", g.SID),
		slog.Int("dropped", len(dropped)))
	return g.SID, nil
}

// announceDropped tells this node's verifier (and every node, on a shared
// bus) that a key is gone; nodes that miss it stop trusting the key at
// their next re-check.
func (s *Service) announceDropped(ctx context.Context, sid string) {
	s.cache.evict(sid)
	if s.bus == nil {
		return
	}
	if err := s.bus.Publish(ctx, SubjectKeyDeleted, []byte(sid)); err != nil {
		s.log.Warn("announce dropped guest key", slog.String("key_sid", sid), slog.Any("error", err))
	}
}

// GuestTTL is the lifetime of the guest tokens this service mints.
func (s *Service) GuestTTL() time.Duration { return s.opts.GuestTTL }
