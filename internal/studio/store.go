package studio

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// FlowRecord is a flow, or one of its revisions, as stored.
type FlowRecord struct {
	Seq                                 int64
	SID, AccountSID, AuthorSID          string
	FriendlyName, Status, CommitMessage string
	Revision                            int
	Definition                          json.RawMessage
	Warnings                            []Problem
	TestUsers                           []string
	DateCreated, DateUpdated            int64
}

func notFound(err error) error {
	if errors.Is(store.NoRows(err), store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

const flowCols = `seq, sid, account_sid, author_sid, friendly_name, status, revision, commit_message, definition, warnings, test_users, date_created, date_updated`

func scanFlow(row store.Scanner) (FlowRecord, error) {
	var r FlowRecord
	var def, warnings, users string
	err := row.Scan(&r.Seq, &r.SID, &r.AccountSID, &r.AuthorSID, &r.FriendlyName, &r.Status, &r.Revision,
		&r.CommitMessage, &def, &warnings, &users, &r.DateCreated, &r.DateUpdated)
	if err != nil {
		return r, notFound(err)
	}
	r.Definition = json.RawMessage(def)
	_ = json.Unmarshal([]byte(warnings), &r.Warnings)
	_ = json.Unmarshal([]byte(users), &r.TestUsers)
	return r, nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func insertFlow(ctx context.Context, q store.Querier, r *FlowRecord) error {
	_, err := q.ExecContext(ctx, `INSERT INTO studio_flows (sid, account_sid, author_sid, friendly_name, status, revision,
		commit_message, definition, warnings, test_users, date_created, date_updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.SID, r.AccountSID, r.AuthorSID, r.FriendlyName, r.Status, r.Revision, r.CommitMessage, string(r.Definition),
		jsonText(nonNil(r.Warnings)), jsonText(nonNilStrings(r.TestUsers)), r.DateCreated, r.DateUpdated)
	return err
}

func nonNil(ps []Problem) []Problem {
	if ps == nil {
		return []Problem{}
	}
	return ps
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func updateFlow(ctx context.Context, q store.Querier, r FlowRecord) error {
	_, err := q.ExecContext(ctx, `UPDATE studio_flows SET author_sid=?, friendly_name=?, status=?, revision=?, commit_message=?,
		definition=?, warnings=?, date_updated=? WHERE sid=?`,
		r.AuthorSID, r.FriendlyName, r.Status, r.Revision, r.CommitMessage, string(r.Definition), jsonText(nonNil(r.Warnings)), r.DateUpdated, r.SID)
	return err
}

func insertRevision(ctx context.Context, q store.Querier, r FlowRecord) error {
	_, err := q.ExecContext(ctx, `INSERT INTO studio_flow_revisions (sid, flow_sid, account_sid, author_sid, friendly_name, status,
		revision, commit_message, definition, warnings, date_created, date_updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.SID+"/"+strconv.Itoa(r.Revision), r.SID, r.AccountSID, r.AuthorSID, r.FriendlyName, r.Status, r.Revision,
		r.CommitMessage, string(r.Definition), jsonText(nonNil(r.Warnings)), r.DateUpdated, r.DateUpdated)
	return err
}

func getFlow(ctx context.Context, q store.Querier, accountSID, sid string) (FlowRecord, error) {
	return scanFlow(q.QueryRowContext(ctx, `SELECT `+flowCols+` FROM studio_flows WHERE sid=? AND account_sid=?`, sid, accountSID))
}

func listFlows(ctx context.Context, q store.Querier, accountSID string, p rest.Page) ([]FlowRecord, error) {
	cond, tail := store.Keyset("seq", p.After, p.Before, p.Fetch())
	rows, err := q.QueryContext(ctx, `SELECT `+flowCols+` FROM studio_flows WHERE account_sid=?`+cond+tail, accountSID)
	if err != nil {
		return nil, err
	}
	return store.Collect(rows, scanFlow)
}

func deleteFlow(ctx context.Context, db *store.DB, accountSID, sid string) error {
	return db.InTx(ctx, func(q store.Querier) error {
		if _, err := getFlow(ctx, q, accountSID, sid); err != nil {
			return err
		}
		// Children first: the foreign keys cascade too, but SQLite only
		// enforces them with the pragma on, and explicit is clearer.
		for _, stmt := range []string{
			`DELETE FROM studio_inbox WHERE execution_sid IN (SELECT sid FROM studio_executions WHERE flow_sid=?)`,
			`DELETE FROM studio_steps WHERE flow_sid=?`,
			`DELETE FROM studio_executions WHERE flow_sid=?`,
			`DELETE FROM studio_flow_revisions WHERE flow_sid=?`,
			`DELETE FROM studio_flows WHERE sid=?`,
		} {
			if _, err := q.ExecContext(ctx, stmt, sid); err != nil {
				return err
			}
		}
		return nil
	})
}

const revisionCols = `seq, flow_sid, account_sid, author_sid, friendly_name, status, revision, commit_message, definition, warnings, '[]', date_created, date_updated`

func getRevision(ctx context.Context, q store.Querier, accountSID, flowSID, revision string) (FlowRecord, error) {
	if revision == "LatestPublished" {
		return scanFlow(q.QueryRowContext(ctx, `SELECT `+revisionCols+` FROM studio_flow_revisions
			WHERE flow_sid=? AND account_sid=? AND status='published' ORDER BY revision DESC LIMIT 1`, flowSID, accountSID))
	}
	n, err := strconv.Atoi(revision)
	if err != nil || n < 1 {
		return FlowRecord{}, ErrNotFound
	}
	return scanFlow(q.QueryRowContext(ctx, `SELECT `+revisionCols+` FROM studio_flow_revisions
		WHERE flow_sid=? AND account_sid=? AND revision=?`, flowSID, accountSID, n))
}

func listRevisions(ctx context.Context, q store.Querier, accountSID, flowSID string, p rest.Page) ([]FlowRecord, error) {
	cond, tail := store.Keyset("seq", p.After, p.Before, p.Fetch())
	rows, err := q.QueryContext(ctx, `SELECT `+revisionCols+` FROM studio_flow_revisions WHERE flow_sid=? AND account_sid=?`+cond+tail, flowSID, accountSID)
	if err != nil {
		return nil, err
	}
	return store.Collect(rows, scanFlow)
}

func setTestUsers(ctx context.Context, q store.Querier, accountSID, flowSID string, users []string) error {
	res, err := q.ExecContext(ctx, `UPDATE studio_flows SET test_users=? WHERE sid=? AND account_sid=?`,
		jsonText(nonNilStrings(users)), flowSID, accountSID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// ---- executions ----

// Execution is one run of a flow, with its persisted position.
type Execution struct {
	Seq                          int64
	SID, AccountSID, FlowSID     string
	FlowRevision                 int
	ContactAddress, ContactSID   string
	Status, Trigger, InitiatedBy string
	ChannelSID                   string
	Context                      map[string]any
	State                        string
	StepCount                    int
	LastStepSID                  string
	WaitKind                     string
	WaitDeadline, WaitAfterIndex int64
	DateCreated, DateUpdated     int64

	// inboxUpTo is the last inbox message this run has dealt with; the
	// save that records its effect removes it and those before it.
	inboxUpTo int64
}

const execCols = `seq, sid, account_sid, flow_sid, flow_revision, contact_address, contact_sid, status, trigger_event,
	initiated_by, channel_sid, context, state, step_count, last_step_sid, wait_kind, wait_deadline, wait_after_index,
	date_created, date_updated`

func scanExecution(row store.Scanner) (Execution, error) {
	var e Execution
	var ctxJSON string
	err := row.Scan(&e.Seq, &e.SID, &e.AccountSID, &e.FlowSID, &e.FlowRevision, &e.ContactAddress, &e.ContactSID, &e.Status,
		&e.Trigger, &e.InitiatedBy, &e.ChannelSID, &ctxJSON, &e.State, &e.StepCount, &e.LastStepSID, &e.WaitKind,
		&e.WaitDeadline, &e.WaitAfterIndex, &e.DateCreated, &e.DateUpdated)
	if err != nil {
		return e, notFound(err)
	}
	if err := json.Unmarshal([]byte(ctxJSON), &e.Context); err != nil || e.Context == nil {
		e.Context = map[string]any{}
	}
	return e, nil
}

// insertExecution stores a new execution already leased to its creator.
// A second active execution for one channel of a flow is ErrConflict.
func insertExecution(ctx context.Context, q store.Querier, e Execution, leaseToken string, leaseUntil int64) error {
	_, err := q.ExecContext(ctx, `INSERT INTO studio_executions (sid, account_sid, flow_sid, flow_revision, contact_address,
		contact_sid, status, trigger_event, initiated_by, channel_sid, context, state, step_count, last_step_sid, wait_kind,
		wait_deadline, wait_after_index, lease_token, lease_until, date_created, date_updated)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		e.SID, e.AccountSID, e.FlowSID, e.FlowRevision, e.ContactAddress, e.ContactSID, e.Status, e.Trigger, e.InitiatedBy,
		e.ChannelSID, jsonText(e.Context), e.State, e.StepCount, e.LastStepSID, e.WaitKind, e.WaitDeadline, e.WaitAfterIndex,
		leaseToken, leaseUntil, e.DateCreated, e.DateUpdated)
	return err
}

func getExecution(ctx context.Context, q store.Querier, accountSID, flowSID, sid string) (Execution, error) {
	return scanExecution(q.QueryRowContext(ctx, `SELECT `+execCols+` FROM studio_executions WHERE sid=? AND flow_sid=? AND account_sid=?`,
		sid, flowSID, accountSID))
}

func loadExecution(ctx context.Context, q store.Querier, sid string) (Execution, error) {
	return scanExecution(q.QueryRowContext(ctx, `SELECT `+execCols+` FROM studio_executions WHERE sid=?`, sid))
}

// activeForChannel finds the active execution of a flow on a chat channel.
func activeForChannel(ctx context.Context, q store.Querier, flowSID, channelSID string) (string, error) {
	var sid string
	err := q.QueryRowContext(ctx, `SELECT sid FROM studio_executions WHERE flow_sid=? AND channel_sid=? AND status='active'`,
		flowSID, channelSID).Scan(&sid)
	return sid, notFound(err)
}

// ExecutionFilter narrows an executions list.
type ExecutionFilter struct {
	Status      string
	CreatedFrom int64
	CreatedTo   int64
}

func listExecutions(ctx context.Context, q store.Querier, accountSID, flowSID string, f ExecutionFilter, p rest.Page) ([]Execution, error) {
	where, args := `account_sid=? AND flow_sid=?`, []any{accountSID, flowSID}
	if f.Status != "" {
		where, args = where+` AND status=?`, append(args, f.Status)
	}
	if f.CreatedFrom > 0 {
		where, args = where+` AND date_created>=?`, append(args, f.CreatedFrom)
	}
	if f.CreatedTo > 0 {
		where, args = where+` AND date_created<=?`, append(args, f.CreatedTo)
	}
	cond, tail := store.Keyset("seq", p.After, p.Before, p.Fetch())
	rows, err := q.QueryContext(ctx, `SELECT `+execCols+` FROM studio_executions WHERE `+where+cond+tail, args...)
	if err != nil {
		return nil, err
	}
	return store.Collect(rows, scanExecution)
}

// claim leases an active execution that nobody holds. It is one
// conditional UPDATE, so among racing goroutines and nodes one wins.
func claim(ctx context.Context, q store.Querier, sid, token string, now, until int64) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE studio_executions SET lease_token=?, lease_until=?
		WHERE sid=? AND status='active' AND lease_until < ?`, token, until, sid, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// errLeaseLost: the execution was ended, deleted or taken over meanwhile.
var errLeaseLost = errors.New("studio: execution lease lost")

// saveExecution writes the execution's position under its lease.
func saveExecution(ctx context.Context, q store.Querier, e Execution, token string, leaseUntil int64) error {
	res, err := q.ExecContext(ctx, `UPDATE studio_executions SET status=?, context=?, state=?, step_count=?, last_step_sid=?,
		wait_kind=?, wait_deadline=?, wait_after_index=?, lease_until=?, date_updated=?
		WHERE sid=? AND lease_token=? AND status='active'`,
		e.Status, jsonText(e.Context), e.State, e.StepCount, e.LastStepSID, e.WaitKind, e.WaitDeadline, e.WaitAfterIndex,
		leaseUntil, e.DateUpdated, e.SID, token)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errLeaseLost
	}
	return nil
}

// endExecution ends an execution from outside the engine (REST).
func endExecution(ctx context.Context, q store.Querier, accountSID, flowSID, sid string) error {
	res, err := q.ExecContext(ctx, `UPDATE studio_executions SET status='ended', wait_kind='', wait_deadline=0, lease_until=0, date_updated=?
		WHERE sid=? AND flow_sid=? AND account_sid=? AND status='active'`, store.Now(), sid, flowSID, accountSID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		_, err := getExecution(ctx, q, accountSID, flowSID, sid)
		return err // ended already: not an error; missing: ErrNotFound
	}
	_, err = q.ExecContext(ctx, `DELETE FROM studio_inbox WHERE execution_sid=?`, sid)
	return err
}

func deleteExecution(ctx context.Context, db *store.DB, accountSID, flowSID, sid string) error {
	return db.InTx(ctx, func(q store.Querier) error {
		if _, err := getExecution(ctx, q, accountSID, flowSID, sid); err != nil {
			return err
		}
		for _, stmt := range []string{`DELETE FROM studio_inbox WHERE execution_sid=?`, `DELETE FROM studio_steps WHERE execution_sid=?`,
			`DELETE FROM studio_executions WHERE sid=?`} {
			if _, err := q.ExecContext(ctx, stmt, sid); err != nil {
				return err
			}
		}
		return nil
	})
}

// dueExecutions are active, unleased executions with work: a reply wait
// past its deadline, messages in the inbox, or a run whose node died
// (not waiting, lease expired).
func dueExecutions(ctx context.Context, q store.Querier, now int64, limit int) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT sid FROM studio_executions e WHERE status='active' AND lease_until < ? AND (
		(wait_kind='reply' AND wait_deadline > 0 AND wait_deadline <= ?) OR wait_kind='' OR
		EXISTS (SELECT 1 FROM studio_inbox i WHERE i.execution_sid = e.sid)) ORDER BY wait_deadline LIMIT `+strconv.Itoa(limit), now, now)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var sids []string
	for rows.Next() {
		var sid string
		if err := rows.Scan(&sid); err != nil {
			return nil, err
		}
		sids = append(sids, sid)
	}
	return sids, rows.Err()
}

// ---- inbox: messages for an execution that may be waiting ----

func addInbox(ctx context.Context, q store.Querier, accountSID, executionSID string, m inbound) error {
	_, err := q.ExecContext(ctx, `INSERT INTO studio_inbox (sid, account_sid, execution_sid, msg_index, message, date_created)
		VALUES (?,?,?,?,?,?)`, executionSID+"/"+m.MessageSID, accountSID, executionSID, m.Index, jsonText(m), store.Now())
	if errors.Is(err, store.ErrConflict) {
		return nil // the same message delivered twice
	}
	return err
}

// readInbox returns the execution's pending messages, oldest first, and
// the seq of the last one (0 when there are none). They stay in the inbox
// until dropInbox runs in the transaction that saves what they caused, so
// a crash in between loses no reply.
func readInbox(ctx context.Context, q store.Querier, executionSID string) ([]inbound, int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, message FROM studio_inbox WHERE execution_sid=? ORDER BY seq`, executionSID)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []inbound
	var last int64
	for rows.Next() {
		var s string
		if err := rows.Scan(&last, &s); err != nil {
			return nil, 0, err
		}
		var m inbound
		if json.Unmarshal([]byte(s), &m) == nil {
			out = append(out, m)
		}
	}
	return out, last, rows.Err()
}

// dropInbox removes the execution's messages up to seq upTo.
func dropInbox(ctx context.Context, q store.Querier, executionSID string, upTo int64) error {
	_, err := q.ExecContext(ctx, `DELETE FROM studio_inbox WHERE execution_sid=? AND seq<=?`, executionSID, upTo)
	return err
}

// ---- steps ----

// Step is one widget run: the transition it took and what it produced.
type Step struct {
	Seq                                               int64
	SID, AccountSID, FlowSID, ExecutionSID, ParentSID string
	Name, From, To, Type                              string
	Context                                           json.RawMessage
	DateCreated, DateUpdated                          int64
}

const stepCols = `seq, sid, account_sid, flow_sid, execution_sid, parent_step_sid, name, transitioned_from, transitioned_to, type, context, date_created, date_updated`

func scanStep(row store.Scanner) (Step, error) {
	var s Step
	var c string
	err := row.Scan(&s.Seq, &s.SID, &s.AccountSID, &s.FlowSID, &s.ExecutionSID, &s.ParentSID, &s.Name, &s.From, &s.To, &s.Type,
		&c, &s.DateCreated, &s.DateUpdated)
	s.Context = json.RawMessage(c)
	return s, notFound(err)
}

func insertStep(ctx context.Context, q store.Querier, s Step) error {
	_, err := q.ExecContext(ctx, `INSERT INTO studio_steps (sid, account_sid, flow_sid, execution_sid, parent_step_sid, name,
		transitioned_from, transitioned_to, type, context, date_created, date_updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		s.SID, s.AccountSID, s.FlowSID, s.ExecutionSID, s.ParentSID, s.Name, s.From, s.To, s.Type, string(s.Context), s.DateCreated, s.DateUpdated)
	return err
}

func getStep(ctx context.Context, q store.Querier, accountSID, flowSID, executionSID, sid string) (Step, error) {
	return scanStep(q.QueryRowContext(ctx, `SELECT `+stepCols+` FROM studio_steps WHERE sid=? AND execution_sid=? AND flow_sid=? AND account_sid=?`,
		sid, executionSID, flowSID, accountSID))
}

func listSteps(ctx context.Context, q store.Querier, accountSID, flowSID, executionSID string, p rest.Page) ([]Step, error) {
	cond, tail := store.Keyset("seq", p.After, p.Before, p.Fetch())
	rows, err := q.QueryContext(ctx, `SELECT `+stepCols+` FROM studio_steps WHERE execution_sid=? AND flow_sid=? AND account_sid=?`+cond+tail,
		executionSID, flowSID, accountSID)
	if err != nil {
		return nil, err
	}
	return store.Collect(rows, scanStep)
}
