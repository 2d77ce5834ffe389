package agent

import (
	"context"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

type agentStore struct{ db *store.DB }

const agentCols = "seq, sid, account_sid, workspace_sid, worker_sid, email, friendly_name, role, password_hash, date_created, date_updated"

func scanAgent(r store.Scanner) (Agent, error) {
	var a Agent
	err := r.Scan(&a.seq, &a.SID, &a.AccountSID, &a.WorkspaceSID, &a.WorkerSID, &a.Email, &a.FriendlyName, &a.Role,
		&a.passwordHash, &a.Created, &a.Updated)
	return a, store.NoRows(err)
}

func (s *agentStore) insert(ctx context.Context, a Agent) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO agents (sid, account_sid, workspace_sid, worker_sid, email, friendly_name, role, "+
		"password_hash, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		a.SID, a.AccountSID, a.WorkspaceSID, a.WorkerSID, a.Email, a.FriendlyName, a.Role, a.passwordHash, a.Created, a.Updated)
	return err
}

func (s *agentStore) one(ctx context.Context, where string, arg any) (Agent, error) {
	return scanAgent(s.db.QueryRowContext(ctx, "SELECT "+agentCols+" FROM agents WHERE "+where, arg))
}

func (s *agentStore) bySID(ctx context.Context, sid string) (Agent, error) {
	return s.one(ctx, "sid = ?", sid)
}

func (s *agentStore) byEmail(ctx context.Context, email string) (Agent, error) {
	return s.one(ctx, "email = ?", email)
}

func (s *agentStore) byWorker(ctx context.Context, accountSID, workerSID string) (Agent, error) {
	return scanAgent(s.db.QueryRowContext(ctx, "SELECT "+agentCols+" FROM agents WHERE account_sid = ? AND worker_sid = ?", accountSID, workerSID))
}

func (s *agentStore) list(ctx context.Context, accountSID string, page rest.Page) ([]Agent, error) {
	cond, tail := store.Keyset("seq", page.After, page.Before, page.Fetch())
	return store.QueryAll(ctx, s.db, "SELECT "+agentCols+" FROM agents WHERE account_sid = ?"+cond+tail, scanAgent, accountSID)
}

func (s *agentStore) delete(ctx context.Context, sid string) error {
	return s.db.InTx(ctx, func(q store.Querier) error {
		if _, err := q.ExecContext(ctx, "DELETE FROM agent_sessions WHERE agent_sid = ?", sid); err != nil {
			return err
		}
		_, err := q.ExecContext(ctx, "DELETE FROM agents WHERE sid = ?", sid)
		return err
	})
}

// setPassword changes the hash and ends every session of the agent.
func (s *agentStore) setPassword(ctx context.Context, sid, hash string) error {
	return s.db.InTx(ctx, func(q store.Querier) error {
		if _, err := q.ExecContext(ctx, "UPDATE agents SET password_hash = ?, date_updated = ? WHERE sid = ?", hash, store.Now(), sid); err != nil {
			return err
		}
		_, err := q.ExecContext(ctx, "DELETE FROM agent_sessions WHERE agent_sid = ?", sid)
		return err
	})
}

func (s *agentStore) insertSession(ctx context.Context, sid string, a Agent, tokenHash string, expires, now int64) error {
	// Expired sessions of this agent go on each sign-in, so the table stays small.
	if _, err := s.db.ExecContext(ctx, "DELETE FROM agent_sessions WHERE agent_sid = ? AND expires < ?", a.SID, now); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, "INSERT INTO agent_sessions (sid, account_sid, agent_sid, token_hash, expires, date_created) "+
		"VALUES (?, ?, ?, ?, ?, ?)", sid, a.AccountSID, a.SID, tokenHash, expires, now)
	return err
}

func (s *agentStore) session(ctx context.Context, tokenHash string) (Agent, int64, error) {
	var expires int64
	var a Agent
	err := s.db.QueryRowContext(ctx, "SELECT s.expires, a.seq, a.sid, a.account_sid, a.workspace_sid, a.worker_sid, a.email, "+
		"a.friendly_name, a.role, a.password_hash, a.date_created, a.date_updated FROM agent_sessions s "+
		"JOIN agents a ON a.sid = s.agent_sid WHERE s.token_hash = ?", tokenHash).
		Scan(&expires, &a.seq, &a.SID, &a.AccountSID, &a.WorkspaceSID, &a.WorkerSID, &a.Email, &a.FriendlyName, &a.Role,
			&a.passwordHash, &a.Created, &a.Updated)
	return a, expires, store.NoRows(err)
}

func (s *agentStore) deleteSession(ctx context.Context, tokenHash string) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM agent_sessions WHERE token_hash = ?", tokenHash)
	return err
}
