package token

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

var errNotFound = store.ErrNotFound

// tokenStore is the token domain's SQL (tables token_guest_keys and
// token_allowed_origins).
type tokenStore struct{ db *store.DB }

// guestKey is a row of token_guest_keys.
type guestKey struct {
	SID, AccountSID, Secret string
	RetiredAt               int64 // 0: the account's current key
	Created, Updated        int64
}

// verifierKey is the key as the verifier sees it: a retired key verifies
// for one guest-token lifetime after it was rotated out.
func (g guestKey) verifierKey(guestTTL time.Duration) key {
	k := key{sid: g.SID, account: g.AccountSID, secret: g.Secret, guest: true}
	if g.RetiredAt != 0 {
		k.retiredUntil = rest.Millis(g.RetiredAt).Add(guestTTL)
	}
	return k
}

func (g guestKey) key() key {
	return key{sid: g.SID, account: g.AccountSID, secret: g.Secret, guest: true}
}

const guestKeyCols = "sid, account_sid, secret, retired_at, date_created, date_updated"

func scanGuestKey(row interface{ Scan(...any) error }) (guestKey, error) {
	var g guestKey
	var retired sql.NullInt64
	err := row.Scan(&g.SID, &g.AccountSID, &g.Secret, &retired, &g.Created, &g.Updated)
	g.RetiredAt = retired.Int64
	return g, store.NoRows(err)
}

func (s tokenStore) guestKey(ctx context.Context, q store.Querier, sid string) (guestKey, error) {
	return scanGuestKey(q.QueryRowContext(ctx, "SELECT "+guestKeyCols+" FROM token_guest_keys WHERE sid = ?", sid))
}

func (s tokenStore) currentGuestKey(ctx context.Context, q store.Querier, accountSID string) (guestKey, error) {
	return scanGuestKey(q.QueryRowContext(ctx, "SELECT "+guestKeyCols+
		" FROM token_guest_keys WHERE account_sid = ? AND retired_at IS NULL", accountSID))
}

func (s tokenStore) insertGuestKey(ctx context.Context, q store.Querier, g guestKey) error {
	_, err := q.ExecContext(ctx, "INSERT INTO token_guest_keys ("+guestKeyCols+") VALUES (?, ?, ?, NULL, ?, ?)",
		g.SID, g.AccountSID, g.Secret, g.Created, g.Updated)
	if err != nil {
		return fmt.Errorf("token: insert guest key: %w", err)
	}
	return nil
}

// retireGuestKeys rotates the account's current key out at now, and
// drops keys retired before dropBefore (they no longer verify anything).
// It returns the SIDs it dropped.
func (s tokenStore) retireGuestKeys(ctx context.Context, q store.Querier, accountSID string, now, dropBefore int64) ([]string, error) {
	if _, err := q.ExecContext(ctx, "UPDATE token_guest_keys SET retired_at = ?, date_updated = ? WHERE account_sid = ? AND retired_at IS NULL",
		now, now, accountSID); err != nil {
		return nil, fmt.Errorf("token: retire guest key: %w", err)
	}
	rows, err := q.QueryContext(ctx, "SELECT sid FROM token_guest_keys WHERE account_sid = ? AND retired_at < ?", accountSID, dropBefore)
	if err != nil {
		return nil, fmt.Errorf("token: old guest keys: %w", err)
	}
	var dropped []string
	for rows.Next() {
		var sid string
		if err := rows.Scan(&sid); err != nil {
			rows.Close()
			return nil, err
		}
		dropped = append(dropped, sid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if _, err := q.ExecContext(ctx, "DELETE FROM token_guest_keys WHERE account_sid = ? AND retired_at < ?", accountSID, dropBefore); err != nil {
		return nil, fmt.Errorf("token: drop old guest keys: %w", err)
	}
	return dropped, nil
}

// origins returns the account's allowed origins in insertion order.
func (s tokenStore) origins(ctx context.Context, accountSID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT origin FROM token_allowed_origins WHERE account_sid = ? ORDER BY seq", accountSID)
	if err != nil {
		return nil, fmt.Errorf("token: origins: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// setOrigins replaces the account's allowed origins (already normalized
// and without duplicates: in PostgreSQL a conflict would abort the
// transaction).
func (s tokenStore) setOrigins(ctx context.Context, accountSID string, origins []string) error {
	return s.db.InTx(ctx, func(q store.Querier) error {
		if _, err := q.ExecContext(ctx, "DELETE FROM token_allowed_origins WHERE account_sid = ?", accountSID); err != nil {
			return fmt.Errorf("token: clear origins: %w", err)
		}
		now := store.Now()
		for _, o := range origins {
			_, err := q.ExecContext(ctx, "INSERT INTO token_allowed_origins (sid, account_sid, origin, date_created, date_updated) VALUES (?, ?, ?, ?, ?)",
				rest.NewSID("OR"), accountSID, o, now, now)
			if err != nil {
				return fmt.Errorf("token: insert origin: %w", err)
			}
		}
		return nil
	})
}
