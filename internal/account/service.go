// Package account owns accounts, their auth tokens and API keys, and
// authenticates requests made with them.
package account

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// ErrNotFound: no such account or key (in this account).
var ErrNotFound = errors.New("account: not found")

// Service is the account domain's rules.
type Service struct {
	db  *store.DB
	bus bus.Bus
	st  accountStore
}

// SubjectKeyDeleted is published (data: the key's SID) after a key is
// deleted, so that token verifiers drop cached keys and sockets close.
const SubjectKeyDeleted = "keys.deleted"

// New returns the account service on db, announcing key deletions on b.
func New(db *store.DB, b bus.Bus) *Service {
	return &Service{db: db, bus: b, st: accountStore{db: db}}
}

// EnsureMain returns the main account, creating it on first start. With
// pinned credentials (both set) the main account has exactly them. created
// says whether the credentials are new, so that the caller prints them once.
func (s *Service) EnsureMain(ctx context.Context, pinnedSID, pinnedToken string) (a Account, created bool, err error) {
	err = s.db.InTx(ctx, func(q store.Querier) error {
		main, err := s.st.mainAccount(ctx, q)
		switch {
		case err == nil && pinnedSID == "":
			a = main
			return nil
		case err == nil && main.SID != pinnedSID:
			return fmt.Errorf("account: the data already has main account %s, but PARLEY_ACCOUNT_SID is %s", main.SID, pinnedSID)
		case err == nil:
			a = main
			if main.AuthToken != pinnedToken {
				a.AuthToken = pinnedToken
				return s.st.setAuthToken(ctx, q, main.SID, pinnedToken, store.Now())
			}
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		a = newAccount("Main account", true)
		if pinnedSID != "" {
			a.SID, a.AuthToken = pinnedSID, pinnedToken
		}
		created = true
		return s.st.insertAccount(ctx, q, a)
	})
	return a, created, err
}

func newAccount(name string, main bool) Account {
	now := store.Now()
	return Account{SID: rest.NewSID("AC"), FriendlyName: name, AuthToken: rest.RandomHex(16),
		Status: "active", Main: main, Created: now, Updated: now}
}

// Create makes another account (a tenant of its own).
func (s *Service) Create(ctx context.Context, friendlyName string) (Account, error) {
	a := newAccount(friendlyName, false)
	return a, s.st.insertAccount(ctx, s.db, a)
}

// Get returns an account.
func (s *Service) Get(ctx context.Context, sid string) (Account, error) {
	a, err := s.st.account(ctx, s.db, sid)
	if errors.Is(err, store.ErrNotFound) {
		return a, ErrNotFound
	}
	return a, err
}

// Authenticate recognises HTTP Basic credentials whose username is an
// account SID (with its auth token) or an API key SID (with its secret).
// Other credentials (such as token:<jwt>) are left to other authenticators.
func (s *Service) Authenticate(r *http.Request) (*rest.Principal, error) {
	user, pass, ok := r.BasicAuth()
	if !ok || !(strings.HasPrefix(user, "AC") || strings.HasPrefix(user, "SK")) {
		return nil, nil
	}
	bad := rest.Unauthorized("Authenticate: the username or password is wrong")
	switch {
	case rest.IsSID("AC", user):
		a, err := s.st.account(r.Context(), s.db, user)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !equal(a.AuthToken, pass)) {
			return nil, bad
		}
		if err != nil {
			return nil, err
		}
		return &rest.Principal{AccountSID: a.SID, CredentialSID: a.SID, Admin: true}, nil
	case rest.IsSID("SK", user):
		k, err := s.st.key(r.Context(), user)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !equal(k.Secret, pass)) {
			return nil, bad
		}
		if err != nil {
			return nil, err
		}
		return &rest.Principal{AccountSID: k.AccountSID, CredentialSID: k.SID, Admin: true}, nil
	}
	return nil, bad
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// CreateKey makes an API key; its secret is returned here and never again.
func (s *Service) CreateKey(ctx context.Context, accountSID, friendlyName string) (Key, error) {
	now := store.Now()
	k := Key{SID: rest.NewSID("SK"), AccountSID: accountSID, FriendlyName: friendlyName,
		Secret: rest.RandomHex(16), Created: now, Updated: now}
	return k, s.st.insertKey(ctx, k)
}

// Key returns an API key of the account (with its secret, for signing).
func (s *Service) Key(ctx context.Context, accountSID, sid string) (Key, error) {
	k, err := s.st.key(ctx, sid)
	if errors.Is(err, store.ErrNotFound) || (err == nil && k.AccountSID != accountSID) {
		return Key{}, ErrNotFound
	}
	return k, err
}

// LookupKey returns an API key by SID alone, for verifying the tokens it
// signed; the caller checks the account.
func (s *Service) LookupKey(ctx context.Context, sid string) (Key, error) {
	k, err := s.st.key(ctx, sid)
	if errors.Is(err, store.ErrNotFound) {
		return k, ErrNotFound
	}
	return k, err
}

// Keys returns one page of the account's keys.
func (s *Service) Keys(ctx context.Context, accountSID string, after, before int64, limit int) ([]Key, error) {
	return s.st.keys(ctx, accountSID, after, before, limit)
}

// RenameKey changes a key's friendly name.
func (s *Service) RenameKey(ctx context.Context, accountSID, sid, name string) (Key, error) {
	if err := s.st.renameKey(ctx, accountSID, sid, name, store.Now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Key{}, ErrNotFound
		}
		return Key{}, err
	}
	return s.Key(ctx, accountSID, sid)
}

// DeleteKey removes a key: requests and tokens that use it fail at once.
func (s *Service) DeleteKey(ctx context.Context, accountSID, sid string) error {
	err := s.st.deleteKey(ctx, accountSID, sid)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	// Committed first, announced second; verifiers also re-read keys, so a
	// lost announcement only delays the cut-off until their next check.
	return s.bus.Publish(ctx, SubjectKeyDeleted, []byte(sid))
}
