package account

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/storetest"
)

func TestAccountService(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := bus.NewMemory(0)
		defer b.Close()
		s := New(db, b)

		main, created, err := s.EnsureMain(ctx, "", "")
		if err != nil || !created || !rest.IsSID("AC", main.SID) || len(main.AuthToken) != 32 {
			t.Fatalf("EnsureMain: %+v %v %v", main, created, err)
		}
		again, created, err := s.EnsureMain(ctx, "", "")
		if err != nil || created || again.SID != main.SID || again.AuthToken != main.AuthToken {
			t.Fatalf("EnsureMain twice: %+v %v %v", again, created, err)
		}
		newToken := rest.RandomHex(16)
		pinned, _, err := s.EnsureMain(ctx, main.SID, newToken)
		if err != nil || pinned.AuthToken != newToken {
			t.Fatalf("pinned token not applied: %+v %v", pinned, err)
		}
		if _, _, err := s.EnsureMain(ctx, rest.NewSID("AC"), newToken); err == nil {
			t.Fatal("a different pinned SID must be refused, not silently ignored")
		}

		other, err := s.Create(ctx, "Other")
		if err != nil {
			t.Fatal(err)
		}
		k, err := s.CreateKey(ctx, main.SID, "ci")
		if err != nil || !rest.IsSID("SK", k.SID) || len(k.Secret) != 32 {
			t.Fatalf("CreateKey: %+v %v", k, err)
		}
		if _, err := s.Key(ctx, other.SID, k.SID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another account's key must be not found, got %v", err)
		}
		if err := s.DeleteKey(ctx, other.SID, k.SID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another account deleted the key: %v", err)
		}
		renamed, err := s.RenameKey(ctx, main.SID, k.SID, "renamed")
		if err != nil || renamed.FriendlyName != "renamed" {
			t.Fatalf("RenameKey: %+v %v", renamed, err)
		}
		keys, err := s.Keys(ctx, main.SID, 0, 0, 10)
		if err != nil || len(keys) != 1 || keys[0].SID != k.SID {
			t.Fatalf("Keys: %v %v", keys, err)
		}

		auth := func(user, pass string) (*rest.Principal, error) {
			r := httptest.NewRequest("GET", "/", nil)
			r.SetBasicAuth(user, pass)
			return s.Authenticate(r)
		}
		if p, err := auth(main.SID, newToken); err != nil || p.AccountSID != main.SID || !p.Admin {
			t.Fatalf("account auth: %+v %v", p, err)
		}
		if p, err := auth(k.SID, k.Secret); err != nil || p.AccountSID != main.SID || p.CredentialSID != k.SID {
			t.Fatalf("key auth: %+v %v", p, err)
		}
		for _, bad := range [][2]string{{main.SID, main.AuthToken}, {k.SID, "x"}, {other.SID, newToken}, {rest.NewSID("SK"), "x"}, {"ACnope", "x"}} {
			if _, err := auth(bad[0], bad[1]); err == nil {
				t.Errorf("credentials %v accepted", bad)
			}
		}
		if p, err := auth("token", "jwt"); p != nil || err != nil {
			t.Fatalf("token credentials are another authenticator's: %v %v", p, err)
		}
		if err := s.DeleteKey(ctx, main.SID, k.SID); err != nil {
			t.Fatal(err)
		}
		if _, err := auth(k.SID, k.Secret); err == nil {
			t.Fatal("deleted key still authenticates")
		}
	})
}
