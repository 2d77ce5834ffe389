// Package store is the storage seam: one SQL code path over two dialects,
// SQLite (the default, one file, pure Go) and PostgreSQL (for production
// and several nodes). Domain packages write their own SQL with ?
// placeholders against Querier; store rebinds them for the dialect.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Dialect names the SQL dialect behind a DB.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Errors domain stores return (wrapped with their own context).
var (
	// ErrNotFound: no row matched.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique constraint refused the write.
	ErrConflict = errors.New("conflict")
)

// Querier is what domain stores run SQL against: the DB itself or a
// transaction. Queries use ? placeholders in both dialects.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	Dialect() Dialect
}

// DB is an open database with its dialect.
//
// SQLite has one writer at a time. Rather than let writers collide and
// poll in SQLite's busy handler (which sleeps in growing steps and spoils
// latency), writes queue on writeMu in Go: InTx and ExecContext hold it
// on SQLite; reads never do. PostgreSQL needs no such lock.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	writeMu sync.Mutex
	rebinds sync.Map // query string -> rebound string (Postgres)
}

var _ Querier = (*DB)(nil)
var _ Querier = (*Tx)(nil)

// SQL exposes the pool, for metrics and for the migration runner.
func (db *DB) SQL() *sql.DB { return db.sql }

// Dialect reports the database's dialect.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes the pool.
func (db *DB) Close() error { return db.sql.Close() }

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// rebind turns ? placeholders into $1, $2, ... for PostgreSQL. Queries
// never carry ? inside string literals (values are always bound).
func (db *DB) rebind(q string) string {
	if db.dialect != Postgres || !strings.Contains(q, "?") {
		return q
	}
	if r, ok := db.rebinds.Load(q); ok {
		return r.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	r := b.String()
	db.rebinds.Store(q, r)
	return r
}

func (db *DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if db.dialect == SQLite {
		db.writeMu.Lock()
		defer db.writeMu.Unlock()
	}
	res, err := db.sql.ExecContext(ctx, db.rebind(q), args...)
	return res, db.classify(err)
}

func (db *DB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.sql.QueryContext(ctx, db.rebind(q), args...)
}

func (db *DB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return db.sql.QueryRowContext(ctx, db.rebind(q), args...)
}

// Tx is a transaction; it rebinds like DB.
type Tx struct {
	tx *sql.Tx
	db *DB
}

func (t *Tx) Dialect() Dialect { return t.db.dialect }

func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := t.tx.ExecContext(ctx, t.db.rebind(q), args...)
	return res, t.db.classify(err)
}

func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.db.rebind(q), args...)
}

func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.db.rebind(q), args...)
}

// InTx runs fn in a transaction, committing if it returns nil. On SQLite
// the transaction begins IMMEDIATE (it holds the write lock from the
// start), so it never fails half-way on an upgrade from read to write.
func (db *DB) InTx(ctx context.Context, fn func(q Querier) error) (err error) {
	if db.dialect == SQLite {
		db.writeMu.Lock()
		defer db.writeMu.Unlock()
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(&Tx{tx: tx, db: db}); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", db.classify(err))
	}
	return nil
}

// classify wraps unique-constraint violations as ErrConflict.
func (db *DB) classify(err error) error {
	if err == nil {
		return nil
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// NoRows maps sql.ErrNoRows to ErrNotFound.
func NoRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// Now is the current time in unix milliseconds, the unit every table uses
// for times (one integer type, the same in both dialects).
func Now() int64 { return time.Now().UnixMilli() }

// Keyset returns the SQL that reads one page of a list ordered by a
// strictly increasing column: a condition to AND into the WHERE clause,
// and an ORDER BY ... LIMIT tail. With before > 0 the rows before that
// value are read in descending order (the caller's list reverses them).
// The values are integers, so they are written into the SQL directly.
func Keyset(col string, after, before int64, limit int) (cond, tail string) {
	switch {
	case before > 0:
		return fmt.Sprintf(" AND %s < %d", col, before), fmt.Sprintf(" ORDER BY %s DESC LIMIT %d", col, limit)
	case after > 0:
		return fmt.Sprintf(" AND %s > %d", col, after), fmt.Sprintf(" ORDER BY %s ASC LIMIT %d", col, limit)
	}
	return "", fmt.Sprintf(" ORDER BY %s ASC LIMIT %d", col, limit)
}
