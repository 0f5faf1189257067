// Package storetest gives tests a fresh database of either kind: SQLite in
// a temporary directory, or, when BIZSEC_TEST_POSTGRES names a PostgreSQL
// server (a postgres:// URL), a schema of its own there, dropped afterwards.
package storetest

import (
	"context"
	"database/sql"
	"os"
	"testing"

	"github.com/bizsec/bizsec/internal/store"
)

// EnvPostgres names the variable that turns on the PostgreSQL runs.
const EnvPostgres = "BIZSEC_TEST_POSTGRES"

// Kinds returns the databases to test: "sqlite", and "postgres" when
// BIZSEC_TEST_POSTGRES is set.
func Kinds() []string {
	if os.Getenv(EnvPostgres) != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// Default is the database the HTTP tests use: PostgreSQL when
// BIZSEC_TEST_POSTGRES is set, else SQLite.
func Default() string { return Kinds()[len(Kinds())-1] }

// PostgresDSN creates an empty schema for the test and returns a URL whose
// connections use it. The schema is dropped when the test ends.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skip(EnvPostgres + " is not set")
	}
	dsn, drop, err := store.ScratchSchema(context.Background(), base, "t_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	return dsn
}

// Database returns the -database value and data directory for a fresh
// database of the given kind.
func Database(t testing.TB, kind string) (database, dir string) {
	t.Helper()
	if kind == "postgres" {
		return PostgresDSN(t), t.TempDir()
	}
	return "", t.TempDir()
}

// Query runs a query against the test's PostgreSQL schema directly, for
// checks no API exposes (what is stored in clear).
func Query(t testing.TB, dsn, query string, args ...any) *sql.Row {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.QueryRowContext(context.Background(), query, args...)
}
