package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/obs"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/token"
)

const tokenUsage = `Usage:
  parley token -identity NAME (-key SK... | -guest) [grant flags] [config flags]
      prints an access token (a Twilio-format JWT) on stdout
  parley token rotate-guest-key [-account AC...] [-drop-previous] [config flags]
      gives the account a new guest signing key; the previous one keeps
      verifying for one guest-token lifetime unless -drop-previous

The config flags and PARLEY_* variables are serve's (the same data dir or
database). Flags:
`

// tokenCmd parses `parley token` flags; internal/app does the work.
func tokenCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "rotate-guest-key" {
		return rotateGuestKeyCmd(args[1:], stdout, stderr)
	}
	fs := newTokenFlags(stderr)
	var g token.Grant
	fs.StringVar(&g.Identity, "identity", "", "the token's identity (required)")
	fs.StringVar(&g.AccountSID, "account", "", "account SID (default: the main account)")
	fs.StringVar(&g.KeySID, "key", "", "API key SID that signs the token (its secret is read from the store)")
	fs.BoolVar(&g.Guest, "guest", false, "mint a guest token, signed by the account's guest key")
	fs.DurationVar(&g.TTL, "ttl", time.Hour, "lifetime, at most 24h")
	fs.StringVar(&g.ChatServiceSID, "chat-service", "", "chat grant: service SID (IS...)")
	fs.StringVar(&g.WorkspaceSID, "workspace", "", "task_router grant: workspace SID (WS...)")
	fs.StringVar(&g.WorkerSID, "worker", "", "task_router grant: worker SID (WK...)")
	fs.StringVar(&g.TaskRouterRole, "role", "", "task_router grant: role")
	cfg, code := loadTokenConfig(fs, args, stderr)
	if code != 0 {
		return code
	}
	if g.KeySID == "" && !g.Guest {
		fmt.Fprint(stderr, "parley token: pass -key SK... (an API key of the account) or -guest\n\n")
		fs.Usage()
		return 2
	}
	raw, exp, err := app.MintToken(context.Background(), cfg, obs.NewLogger(stderr, "warn", cfg.LogFormat), g)
	if err != nil {
		return tokenFailed(stderr, err)
	}
	fmt.Fprintln(stdout, raw)
	fmt.Fprintf(stderr, "expires %s\n", exp.UTC().Format(time.RFC3339))
	return 0
}

func rotateGuestKeyCmd(args []string, stdout, stderr io.Writer) int {
	fs := newTokenFlags(stderr)
	account := fs.String("account", "", "account SID (default: the main account)")
	drop := fs.Bool("drop-previous", false, "stop the previous guest key at once (it leaked); visitors get new tokens")
	cfg, code := loadTokenConfig(fs, args, stderr)
	if code != 0 {
		return code
	}
	sid, err := app.RotateGuestKey(context.Background(), cfg, obs.NewLogger(stderr, "warn", cfg.LogFormat), *account, *drop)
	if err != nil {
		return tokenFailed(stderr, err)
	}
	fmt.Fprintf(stdout, "new guest key %s\n", sid)
	return 0
}

func newTokenFlags(stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("parley token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, tokenUsage)
		fs.PrintDefaults()
	}
	return fs
}

func loadTokenConfig(fs *flag.FlagSet, args []string, stderr io.Writer) (config.Config, int) {
	cfg, err := config.Load(fs, args, os.LookupEnv)
	if err == flag.ErrHelp {
		return cfg, 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "parley token: configuration:\n%v\n", err)
		return cfg, 2
	}
	return cfg, 0
}

func tokenFailed(stderr io.Writer, err error) int {
	if e, ok := rest.AsError(err); ok {
		fmt.Fprintf(stderr, "parley token: %s\n", e.Message)
		return 1
	}
	fmt.Fprintf(stderr, "parley token: %v\n", err)
	return 1
}
