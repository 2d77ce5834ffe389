package account

import (
	"context"
	"fmt"

	"github.com/parleychat/parley/internal/store"
)

// Account is a tenant: everything else belongs to one.
type Account struct {
	SID          string
	FriendlyName string
	AuthToken    string
	Status       string
	Main         bool
	Created      int64
	Updated      int64
}

// Key is an API key. Its secret is kept (not hashed) because Parley signs
// and verifies HS256 access tokens with it.
type Key struct {
	Seq          int64
	SID          string
	AccountSID   string
	FriendlyName string
	Secret       string
	Created      int64
	Updated      int64
}

type accountStore struct{ db *store.DB }

const accountCols = "sid, friendly_name, auth_token, status, is_main, date_created, date_updated"

func scanAccount(row store.Scanner) (Account, error) {
	var a Account
	err := row.Scan(&a.SID, &a.FriendlyName, &a.AuthToken, &a.Status, &a.Main, &a.Created, &a.Updated)
	return a, store.NoRows(err)
}

func (s *accountStore) insertAccount(ctx context.Context, q store.Querier, a Account) error {
	_, err := q.ExecContext(ctx, "INSERT INTO accounts ("+accountCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		a.SID, a.FriendlyName, a.AuthToken, a.Status, a.Main, a.Created, a.Updated)
	if err != nil {
		return fmt.Errorf("account: insert: %w", err)
	}
	return nil
}

func (s *accountStore) account(ctx context.Context, q store.Querier, sid string) (Account, error) {
	return scanAccount(q.QueryRowContext(ctx, "SELECT "+accountCols+" FROM accounts WHERE sid = ?", sid))
}

func (s *accountStore) mainAccount(ctx context.Context, q store.Querier) (Account, error) {
	return scanAccount(q.QueryRowContext(ctx, "SELECT "+accountCols+" FROM accounts WHERE is_main = ? ORDER BY seq LIMIT 1", true))
}

func (s *accountStore) setAuthToken(ctx context.Context, q store.Querier, sid, token string, now int64) error {
	_, err := q.ExecContext(ctx, "UPDATE accounts SET auth_token = ?, date_updated = ? WHERE sid = ?", token, now, sid)
	return err
}

const keyCols = "seq, sid, account_sid, friendly_name, secret, date_created, date_updated"

func scanKey(row store.Scanner) (Key, error) {
	var k Key
	err := row.Scan(&k.Seq, &k.SID, &k.AccountSID, &k.FriendlyName, &k.Secret, &k.Created, &k.Updated)
	return k, store.NoRows(err)
}

func (s *accountStore) insertKey(ctx context.Context, k Key) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO api_keys (sid, account_sid, friendly_name, secret, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?)",
		k.SID, k.AccountSID, k.FriendlyName, k.Secret, k.Created, k.Updated)
	if err != nil {
		return fmt.Errorf("account: insert key: %w", err)
	}
	return nil
}

func (s *accountStore) key(ctx context.Context, sid string) (Key, error) {
	return scanKey(s.db.QueryRowContext(ctx, "SELECT "+keyCols+" FROM api_keys WHERE sid = ?", sid))
}

// keys reads one keyset page of an account's keys.
func (s *accountStore) keys(ctx context.Context, accountSID string, after, before int64, limit int) ([]Key, error) {
	cond, tail := store.Keyset("seq", after, before, limit)
	rows, err := s.db.QueryContext(ctx, "SELECT "+keyCols+" FROM api_keys WHERE account_sid = ?"+cond+tail, accountSID)
	if err != nil {
		return nil, fmt.Errorf("account: list keys: %w", err)
	}
	return store.Collect(rows, scanKey)
}

func (s *accountStore) renameKey(ctx context.Context, accountSID, sid, name string, now int64) error {
	return store.Affected(s.db.ExecContext(ctx, "UPDATE api_keys SET friendly_name = ?, date_updated = ? WHERE sid = ? AND account_sid = ?", name, now, sid, accountSID))
}

func (s *accountStore) deleteKey(ctx context.Context, accountSID, sid string) error {
	return store.Affected(s.db.ExecContext(ctx, "DELETE FROM api_keys WHERE sid = ? AND account_sid = ?", sid, accountSID))
}
