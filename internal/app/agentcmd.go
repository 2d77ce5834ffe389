package app

import (
	"context"
	"log/slog"

	"github.com/parleychat/parley/internal/agent"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/rest"
)

// withAgents opens the node's store, runs fn on the agent service with
// the account (empty: the main account) and closes.
func withAgents(ctx context.Context, cfg config.Config, logger *slog.Logger, accountSID string,
	fn func(s *agent.Service, accountSID string) error) error {
	a, err := New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	if accountSID == "" {
		accountSID = a.Main.SID
	}
	return fn(a.Agents, accountSID)
}

// CreateAgent is `parley agents create`.
func CreateAgent(ctx context.Context, cfg config.Config, logger *slog.Logger, accountSID string, n agent.NewAgent) (agent.Agent, error) {
	var out agent.Agent
	err := withAgents(ctx, cfg, logger, accountSID, func(s *agent.Service, acct string) error {
		var err error
		out, err = s.Create(ctx, acct, n)
		return err
	})
	return out, err
}

// ListAgents is `parley agents list` (the first 1000).
func ListAgents(ctx context.Context, cfg config.Config, logger *slog.Logger, accountSID string) ([]agent.Agent, error) {
	var out []agent.Agent
	err := withAgents(ctx, cfg, logger, accountSID, func(s *agent.Service, acct string) error {
		var err error
		out, err = s.List(ctx, acct, rest.Page{Size: 1000})
		return err
	})
	return out, err
}

// SetAgentPassword is `parley agents passwd`; it ends the agent's sessions.
func SetAgentPassword(ctx context.Context, cfg config.Config, logger *slog.Logger, email, password string) error {
	return withAgents(ctx, cfg, logger, "", func(s *agent.Service, _ string) error {
		return s.SetPassword(ctx, email, password)
	})
}
