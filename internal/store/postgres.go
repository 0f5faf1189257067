package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// IsPostgres reports whether a -database value names PostgreSQL.
func IsPostgres(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// OpenPostgres opens the PostgreSQL database at dsn (a postgres:// URL)
// and migrates it.
func OpenPostgres(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to postgres: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	s, err := open(ctx, db, db, postgresDialect, opts)
	if err != nil {
		return nil, err
	}
	s.dsn = dsn
	beats, err := sql.Open("pgx", dsn)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	beats.SetMaxOpenConns(1)
	id := make([]byte, 8)
	rand.Read(id)
	s.beats.id = hex.EncodeToString(id)
	s.beats.now = make(chan struct{}, 1)
	ctx, s.stopListen = context.WithCancel(context.Background())
	s.listening = make(chan struct{})
	ready := make(chan error, 1)
	go func() {
		defer close(s.listening)
		done := make(chan struct{})
		go func() { defer close(done); s.heartbeat(ctx, beats) }()
		s.listen(ctx, ready)
		<-done
		beats.Close()
	}()
	if err := <-ready; err != nil {
		s.Close()
		return nil, fmt.Errorf("store: listen for settings changes: %w", err)
	}
	// Serve once the feed is proven live (one round trip), so that a new
	// instance is ready from its first request; past the bound it starts
	// anyway, with its caches off, and /readyz says why.
	for deadline := time.Now().Add(connectTimeout); !s.feed.live() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return s, nil
}

// Open opens PostgreSQL when database is a postgres:// URL, else the
// embedded SQLite database in dataDir.
func Open(ctx context.Context, database, dataDir string, opts ...Option) (*Store, error) {
	if IsPostgres(database) {
		return OpenPostgres(ctx, database, opts...)
	}
	if database != "" {
		return nil, fmt.Errorf("store: -database must be a postgres:// URL or empty for SQLite, got %q", redact(database))
	}
	return OpenSQLite(ctx, dataDir, opts...)
}

// redact hides a password in a database URL before it is shown.
func redact(dsn string) string {
	if i := strings.Index(dsn, "@"); i >= 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return dsn[:j+3] + "***" + dsn[i:]
		}
	}
	return dsn
}

// ScratchSchema creates an empty schema named prefix plus random hex in the
// PostgreSQL database at dsn, and returns a URL whose connections use it and
// a function that drops it. Tests and the bench work in such schemas.
func ScratchSchema(ctx context.Context, dsn, prefix string) (string, func(), error) {
	u, err := url.Parse(dsn)
	if err != nil || !IsPostgres(dsn) {
		return "", nil, fmt.Errorf("store: %q is not a postgres:// URL", redact(dsn))
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := prefix + hex.EncodeToString(b)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, err
	}
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("store: create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
		db.Close()
	}
	return u.String(), drop, nil
}
