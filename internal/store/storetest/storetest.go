// Package storetest gives tests a fresh database of either kind: SQLite in
// a temporary directory, or, when BIZSEC_TEST_POSTGRES names a PostgreSQL
// server (a postgres:// URL), a schema of its own there, dropped afterwards.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
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
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
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
