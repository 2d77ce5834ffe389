// Package storetest runs a test against every storage backend: SQLite in
// a temporary directory always, PostgreSQL in a fresh schema when
// PARLEY_TEST_POSTGRES_URL names a server.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/parleychat/parley/internal/store"
)

// Backends are the names ForEachBackend runs under.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// RequireAll reports whether skips must fail (PARLEY_TEST_REQUIRE_ALL=1,
// set by .ci/run so that CI never passes by skipping).
func RequireAll() bool { return os.Getenv("PARLEY_TEST_REQUIRE_ALL") == "1" }

// Skip skips t with msg, or fails it when every backend is required.
func Skip(t testing.TB, msg string) {
	t.Helper()
	if RequireAll() {
		t.Fatalf("%s (PARLEY_TEST_REQUIRE_ALL=1 turns this skip into a failure)", msg)
	}
	t.Skip(msg)
}

// ForEachBackend runs fn as a subtest per backend, each with an empty,
// migrated database of its own.
func ForEachBackend(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run(SQLite, func(t *testing.T) { fn(t, OpenSQLite(t)) })
	t.Run(Postgres, func(t *testing.T) { fn(t, OpenPostgres(t)) })
}

// OpenSQLite opens a migrated SQLite database in t.TempDir().
func OpenSQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresURL returns a database URL whose search_path is a fresh schema
// that is dropped when the test ends, or skips without a server.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("PARLEY_TEST_POSTGRES_URL")
	if base == "" {
		Skip(t, "PostgreSQL tests skipped: set PARLEY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("postgres: create schema (is PARLEY_TEST_POSTGRES_URL right?): %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err == nil {
			_, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE")
			admin.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgres: bad PARLEY_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenPostgres opens a migrated PostgreSQL database in a fresh schema.
func OpenPostgres(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), PostgresURL(t), "")
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
