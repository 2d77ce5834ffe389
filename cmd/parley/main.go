// Command parley runs the Parley contact-center web chat server.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/flex"
	"github.com/parleychat/parley/internal/obs"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Parley: a self-hosted contact-center web chat.

Usage:
  parley serve [flags]   run the server (flags and PARLEY_* variables: parley serve -h)
  parley token [flags]   mint an access token, or rotate a guest key (parley token -h)
  parley agents ...      create, list agents or set a password (parley agents)
  parley version         print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "token":
		return tokenCmd(args[1:], stdout, stderr)
	case "agents":
		return agentsCmd(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "parley", version)
		return 0
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "parley: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := config.Load(fs, args, os.LookupEnv)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintf(stderr, "parley: configuration:\n%v\n", err)
		}
		return 2
	}
	logger := obs.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	slog.SetDefault(logger)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		logger.Error("start failed", slog.Any("error", err))
		return 1
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		logger.Error("listen failed", slog.String("addr", cfg.Addr), slog.Any("error", err))
		return 1
	}
	if a.MainCreated {
		// Printed once, on the start that created them; they are also in the
		// data dir's credentials file (mode 0600). Never logged.
		fmt.Fprintf(stdout, "Parley created the main account. Keep these credentials:\n"+
			"  PARLEY_ACCOUNT_SID=%s\n  PARLEY_AUTH_TOKEN=%s\n(also saved in %s/credentials)\n\n",
			a.Main.SID, a.Main.AuthToken, cfg.DataDir)
	}
	fmt.Fprintf(stdout, "Parley %s serving on %s (public URL %s, account %s)\n", version, ln.Addr(), cfg.PublicURL, a.Main.SID)
	printFlexSetup(stdout, cfg.PublicURL, a.FlexSetup)
	if err := a.Serve(ctx, ln); err != nil {
		logger.Error("server failed", slog.Any("error", err))
		return 1
	}
	logger.Info("stopped cleanly")
	return 0
}

// printFlexSetup prints the default Flex setup's SIDs and the snippet a
// website adds to show the chat widget.
func printFlexSetup(w io.Writer, publicURL string, s flex.Setup) {
	if s.FlexFlowSID == "" {
		return
	}
	fmt.Fprintf(w, "Flex setup: chat service %s, workspace %s (workflow %s, chat task channel %s), Studio flow %s, Flex Flow %s\n"+
		"Embed the chat widget in a website with:\n  %s\n"+
		"Agents answer at %s/agent; create one with:\n  echo 'a long password' | parley agents create -email ada@example.com -name \"Ada Lovelace\"\n",
		s.ChatServiceSID, s.WorkspaceSID, s.WorkflowSID, s.TaskChannel, s.StudioFlowSID, s.FlexFlowSID,
		flex.EmbedSnippet(publicURL, s.AccountSID, s.FlexFlowSID), publicURL)
}
