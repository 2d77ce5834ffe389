package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/parleychat/parley/internal/agent"
	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/obs"
)

const agentsUsage = `Usage:
  parley agents create -email EMAIL -name NAME [-role agent|supervisor] [-skills a,b] [-capacity N] [-attributes JSON]
      creates an agent (a TaskRouter worker in the "Flex Task Assignment" workspace
      with a sign-in for /agent); the password is read from the first line of stdin
  parley agents list
  parley agents passwd -email EMAIL
      sets a new password (first line of stdin) and ends the agent's sessions

Common flags: -account AC... (default: the main account) and serve's config flags
and PARLEY_* variables (the same data dir or database).
`

// stdin is where passwords are read (a variable for tests).
var stdin io.Reader = os.Stdin

func agentsCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, agentsUsage)
		return 2
	}
	fs := flag.NewFlagSet("parley agents "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, agentsUsage); fs.PrintDefaults() }
	account := fs.String("account", "", "account SID (default: the main account)")
	var n agent.NewAgent
	var skills string
	switch args[0] {
	case "create":
		fs.StringVar(&n.Email, "email", "", "the agent's sign-in email (required)")
		fs.StringVar(&n.FriendlyName, "name", "", "the agent's name (required)")
		fs.StringVar(&n.Role, "role", agent.RoleAgent, "agent or supervisor")
		fs.StringVar(&skills, "skills", "", "comma-separated skills (worker attribute routing.skills)")
		fs.IntVar(&n.ChatCapacity, "capacity", 2, "chats at once")
		fs.StringVar(&n.Attributes, "attributes", "", "extra worker attributes (a JSON object)")
	case "passwd":
		fs.StringVar(&n.Email, "email", "", "the agent's sign-in email (required)")
	case "list":
	default:
		fmt.Fprintf(stderr, "parley agents: unknown command %q\n\n%s", args[0], agentsUsage)
		return 2
	}
	cfg, code := loadTokenConfig(fs, args[1:], stderr)
	if code != 0 {
		return code
	}
	logger := obs.NewLogger(stderr, "warn", cfg.LogFormat)
	ctx := context.Background()
	var err error
	switch args[0] {
	case "create":
		if skills != "" {
			n.Skills = strings.Split(skills, ",")
		}
		if n.Password, err = readPassword(); err == nil {
			var a agent.Agent
			if a, err = app.CreateAgent(ctx, cfg, logger, *account, n); err == nil {
				fmt.Fprintf(stdout, "created agent %s (%s, %s), worker %s\n", a.SID, a.Email, a.Role, a.WorkerSID)
			}
		}
	case "passwd":
		if n.Password, err = readPassword(); err == nil {
			if err = app.SetAgentPassword(ctx, cfg, logger, n.Email, n.Password); err == nil {
				fmt.Fprintln(stdout, "password changed; the agent's sessions are ended")
			}
		}
	case "list":
		var list []agent.Agent
		if list, err = app.ListAgents(ctx, cfg, logger, *account); err == nil {
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SID\tEMAIL\tNAME\tROLE\tWORKER")
			for _, a := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.SID, a.Email, a.FriendlyName, a.Role, a.WorkerSID)
			}
			tw.Flush()
		}
	}
	if errors.Is(err, agent.ErrNotFound) {
		fmt.Fprintf(stderr, "parley agents: no agent with email %q\n", n.Email)
		return 1
	}
	if err != nil {
		return tokenFailed(stderr, err)
	}
	return 0
}

// readPassword reads the first line of stdin (so it never shows in the
// process list or the shell history).
func readPassword() (string, error) {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("give the password on the first line of stdin")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
