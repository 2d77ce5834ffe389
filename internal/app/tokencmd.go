package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/token"
)

// MintToken is `parley token`: it opens the node's store, mints one
// access token for g (g.AccountSID empty: the main account) and closes.
func MintToken(ctx context.Context, cfg config.Config, logger *slog.Logger, g token.Grant) (string, time.Time, error) {
	a, err := New(ctx, cfg, logger)
	if err != nil {
		return "", time.Time{}, err
	}
	defer a.Close()
	if g.AccountSID == "" {
		g.AccountSID = a.Main.SID
	}
	return a.Tokens.Mint(ctx, g)
}

// RotateGuestKey is `parley token rotate-guest-key`: the account (empty:
// the main account) gets a new guest signing key. Running servers pick
// it up within PARLEY_TOKEN_KEY_RECHECK; the previous key keeps
// verifying for one guest-token lifetime unless dropPrevious.
func RotateGuestKey(ctx context.Context, cfg config.Config, logger *slog.Logger, accountSID string, dropPrevious bool) (string, error) {
	a, err := New(ctx, cfg, logger)
	if err != nil {
		return "", err
	}
	defer a.Close()
	if accountSID == "" {
		accountSID = a.Main.SID
	}
	return a.Tokens.RotateGuestKey(ctx, accountSID, dropPrevious)
}
