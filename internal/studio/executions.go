package studio

import (
	"context"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// Execution returns one execution of a flow.
func (s *Service) Execution(ctx context.Context, accountSID, flowSID, sid string) (Execution, error) {
	e, err := getExecution(ctx, s.db, accountSID, flowSID, sid)
	return e, wrap("get execution", err)
}

// Executions lists a flow's executions.
func (s *Service) Executions(ctx context.Context, accountSID, flowSID string, f ExecutionFilter, p rest.Page) ([]Execution, error) {
	if _, err := s.Flow(ctx, accountSID, flowSID); err != nil {
		return nil, err
	}
	rows, err := listExecutions(ctx, s.db, accountSID, flowSID, f, p)
	return rows, wrap("list executions", err)
}

// EndExecution ends an active execution (ending an ended one is a no-op).
// A node running it stops at its next save.
func (s *Service) EndExecution(ctx context.Context, accountSID, flowSID, sid string) (Execution, error) {
	if err := endExecution(ctx, s.db, accountSID, flowSID, sid); err != nil {
		return Execution{}, wrap("end execution", err)
	}
	return s.Execution(ctx, accountSID, flowSID, sid)
}

// DeleteExecution deletes an execution and its steps.
func (s *Service) DeleteExecution(ctx context.Context, accountSID, flowSID, sid string) error {
	return wrap("delete execution", deleteExecution(ctx, s.db, accountSID, flowSID, sid))
}

// Steps lists an execution's steps, in the order they ran.
func (s *Service) Steps(ctx context.Context, accountSID, flowSID, executionSID string, p rest.Page) ([]Step, error) {
	if _, err := s.Execution(ctx, accountSID, flowSID, executionSID); err != nil {
		return nil, err
	}
	rows, err := listSteps(ctx, s.db, accountSID, flowSID, executionSID, p)
	return rows, wrap("list steps", err)
}

// Step returns one step.
func (s *Service) Step(ctx context.Context, accountSID, flowSID, executionSID, sid string) (Step, error) {
	st, err := getStep(ctx, s.db, accountSID, flowSID, executionSID, sid)
	return st, wrap("get step", err)
}

// EndHandedOff ends the execution that handed a chat channel to Flex, once
// the task it created has ended: the channel's next conversation (a
// re-engaged web chat) starts the flow afresh.
func (s *Service) EndHandedOff(ctx context.Context, accountSID, channelSID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE studio_executions SET status='ended', wait_kind='', lease_until=0, date_updated=?
		WHERE account_sid=? AND channel_sid=? AND status='active' AND wait_kind=?`, store.Now(), accountSID, channelSID, waitHandedOff)
	return wrap("end handed-off execution", err)
}
