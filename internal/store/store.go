// Package store keeps bizsec's state in SQL: SQLite (the embedded default)
// through modernc.org/sqlite. Every method is scoped by business, tenant or
// user, and every write is one transaction that is durable when it returns.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/secret"
)

//go:embed migrations
var migrations embed.FS

// Store is the database.
type Store struct {
	schemaUpTo int // 0: every migration
	db         conn
	now        func() time.Time
	box        *secret.Box // seals secrets kept inside settings documents
	dsn        string      // PostgreSQL URL, for the notification listener

	cache      *cache
	auth       *authCache
	feed       *feed      // proof that other instances' changes are applied
	beats      heartbeats // PostgreSQL: the proofs sent to our own listener
	authMax    int
	stopListen context.CancelFunc
	listening  chan struct{}
	log        *slog.Logger

	w       conn          // writes: on SQLite one connection, fed by the writer goroutine
	queue   chan writeJob // SQLite's write queue; nil on PostgreSQL
	pgBatch *pgBatcher    // PostgreSQL's settings writes, batched per business
	own     ownWrites     // PostgreSQL: the backends this instance's settings writes went through
	touches sync.Map      // string(token hash) -> unix ms of last use, written in batches
	stop    chan struct{}
	done    sync.WaitGroup

	closing  sync.Once
	closeErr error
	closed   atomic.Bool
}

// DefaultAuthCacheSize bounds the sessions and roles kept in memory.
const DefaultAuthCacheSize = 500_000

// WithAuthCacheSize bounds the sessions and roles kept in memory (0: none).
func WithAuthCacheSize(n int) Option { return func(s *Store) { s.authMax = n } }

// Option configures a Store when it is opened.
type Option func(*Store)

// WithLogger sends the store's own messages (the change listener's) to l
// instead of discarding them.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// withSchemaVersion stops the migrations at version n, as an older bizsec
// left the database (tests of upgrades).
func withSchemaVersion(n int) Option { return func(s *Store) { s.schemaUpTo = n } }

// WithSecretBox gives the key that seals secrets inside settings; without
// one, settings holding a secret cannot be stored.
func WithSecretBox(b *secret.Box) Option { return func(s *Store) { s.box = b } }

// PrivateDir makes dir the private data directory Open wants (created 0700;
// refused when others may write it), so that a caller may keep its own
// files there (the secret key) before the database is opened.
func PrivateDir(dir string) error { return privateDir(dir) }

// privateDir makes the data directory and the database files readable by
// their owner only (0700, 0600), whatever mode they had, and refuses a
// directory that others can write: they could swap the database. A
// directory its group may write is accepted as it is when that group is
// the process's own (a Kubernetes volume with fsGroup: mode 2775, owned
// by root): the files in it are still 0600 and the process's.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: create data directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("store: data directory: %w", err)
	}
	perm := fi.Mode().Perm()
	gid, own := ownGroup(fi)
	switch {
	case perm&0o002 != 0:
		return fmt.Errorf("the data directory %s can be written by other users (mode %04o); "+
			"make it private (chmod 700 %s) or choose another -data", dir, perm, dir)
	case perm&0o020 != 0 && !own:
		return fmt.Errorf("the data directory %s can be written by its group %d, which this process is not in (mode %04o); "+
			"make it private (chmod 700 %s), give it the process's group, or choose another -data", dir, gid, perm, dir)
	case perm&0o020 != 0:
		// Shared with our own group: not ours to chmod (the volume's owner is
		// often root), and tightening it would lock the group out.
	default:
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("store: make the data directory private: %w", err)
		}
	}
	db := filepath.Join(dir, "bizsec.db")
	// Created here, 0600, so that SQLite (which gives the -wal and -shm
	// files the database's mode) never makes them readable to others.
	f, err := os.OpenFile(db, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: create the database: %w", err)
	}
	f.Close()
	for _, name := range []string{db, db + "-wal", db + "-shm"} {
		if err := os.Chmod(name, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("store: make %s private: %w", name, err)
		}
	}
	return nil
}

// SQLiteDSN is how the store opens the SQLite database in dir: WAL,
// synchronous=FULL (a commit is on disk when it returns), foreign keys.
// The bench opens its raw baseline with it too.
func SQLiteDSN(dir string) string {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate") // writers queue at BEGIN instead of failing at upgrade
	return "file:" + filepath.Join(dir, "bizsec.db") + "?" + q.Encode()
}

// OpenSQLite opens (creating if needed) the database in dir and migrates it.
func OpenSQLite(ctx context.Context, dir string, opts ...Option) (*Store, error) {
	if err := privateDir(dir); err != nil {
		return nil, err
	}
	dsn := SQLiteDSN(dir)
	// Readers get a pool as wide as the machine, kept open (WAL readers do
	// not block each other or the writer); writers share one connection.
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	readers := max(4, 4*runtime.NumCPU())
	db.SetMaxOpenConns(readers)
	db.SetMaxIdleConns(readers)
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	s, err := open(ctx, db, w, sqliteDialect, opts)
	if err != nil {
		return nil, err
	}
	n, err := s.changeCount(ctx)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store: read the change counter: %w", err)
	}
	s.done.Add(1)
	go s.pollChanges(n)
	return s, nil
}

func open(ctx context.Context, db, w *sql.DB, d dialect, opts []Option) (*Store, error) {
	// With SQLite this process is the only writer of settings, so its cache
	// is always right; PostgreSQL's turns on once the change listener runs.
	// On SQLite settings change only through this process; users and roles
	// also through the CLI, which the change poll notices. On PostgreSQL the
	// listener's heartbeats prove both caches current.
	changes := newFeed(false)
	settingsFeed := changes
	if d.oneWriter {
		settingsFeed = newFeed(true)
	}
	s := &Store{db: conn{db, d}, w: conn{w, d}, now: time.Now, cache: newCache(d.oneWriter, settingsFeed),
		log: slog.New(slog.DiscardHandler), authMax: DefaultAuthCacheSize, stop: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	s.auth = newAuthCache(&s.cache.on, changes, s.authMax)
	s.feed = changes
	if d.oneWriter {
		s.queue = make(chan writeJob)
		s.done.Add(1)
		go s.writer()
	} else {
		s.pgBatch = newPGBatcher(s)
	}
	if err := s.migrateWhenFree(ctx); err != nil {
		close(s.stop)
		s.done.Wait()
		db.Close()
		if w != db {
			w.Close()
		}
		return nil, err
	}
	s.done.Add(1)
	go s.flushTouches()
	return s, nil
}

// Close stops the background work, writes the last session uses, and
// closes the database.
func (s *Store) Close() error {
	s.closing.Do(func() {
		s.closed.Store(true)
		if s.stopListen != nil {
			s.stopListen()
			<-s.listening
		}
		close(s.stop)
		s.done.Wait()
		if s.pgBatch != nil {
			s.pgBatch.wait() // writes acknowledged or refused before the database closes
		}
		s.cache.setOn(false) // nothing is served from memory once the database is gone
		s.auth.flush()
		s.closeErr = s.db.Close()
		if s.w.DB != s.db.DB {
			s.closeErr = errors.Join(s.closeErr, s.w.Close())
		}
	})
	return s.closeErr
}

// Ready reports whether the store can serve: the database answers, and the
// change feed (PostgreSQL's listener, SQLite's poll) was proven live within
// StaleBound.
func (s *Store) Ready(ctx context.Context) (err error) {
	defer fault.Wrap(&err, "store.Ready")
	if st := s.Feed(); !st.Live {
		if st.Lag == time.Duration(math.MaxInt64) {
			return errors.New("store: the change feed is not connected")
		}
		return fmt.Errorf("store: the change feed was last proven live %v ago (the bound is %v)", st.Lag.Round(time.Millisecond), StaleBound)
	}
	return s.db.PingContext(ctx)
}

// migrateWhenFree migrates, waiting while another process holds SQLite's
// lock as it opens the same file: the first connection to turn a new
// database to WAL answers others SQLITE_BUSY without waiting for the busy
// timeout. PostgreSQL's advisory lock makes instances wait their turn.
func (s *Store) migrateWhenFree(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		err := s.migrate(ctx)
		if err == nil || !sqliteBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// sqliteBusy reports whether err is SQLite's SQLITE_BUSY (or one of its
// extended codes, which keep it in their low byte).
func sqliteBusy(err error) bool {
	e, ok := errors.AsType[*sqlite.Error](err)
	return ok && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// migrate applies the migrations not yet applied, in one transaction,
// under a lock, so instances starting together take turns. The migrations
// are one tree for both databases (schema.go): NNNN_name.sql for both,
// NNNN_name.postgres.sql or NNNN_name.sqlite.sql for one, which the other
// records as applied without running.
func (s *Store) migrate(ctx context.Context) error {
	list, err := readMigrations()
	if err != nil {
		return err
	}
	known := list[len(list)-1].version
	return s.inTx(ctx, func(tx *txn) error {
		if err := tx.lock(ctx, "bizsec:migrate"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
			return err
		}
		var newest int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
			return err
		}
		if newest > known {
			return fmt.Errorf("the database was written by a newer bizsec (schema version %d; this one knows up to %d): "+
				"run that version, or restore a backup made for this one", newest, known)
		}
		for _, m := range list {
			if s.schemaUpTo > 0 && m.version > s.schemaUpTo {
				break
			}
			var done int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&done); err != nil {
				return err
			}
			if done > 0 {
				continue
			}
			if m.only == "" || m.only == s.db.d.name {
				if _, err := tx.ExecContext(ctx, s.db.d.schema(m.body)); err != nil {
					return fmt.Errorf("store: migration %s: %w", m.name, err)
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, m.version); err != nil {
				return err
			}
		}
		return nil
	})
}

func notFoundIf(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fault.New(fault.NotFound, format, args...)
	}
	return err
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// DBPools returns the connection pools by name, for their metrics.
func (s *Store) DBPools() map[string]*sql.DB {
	if s.w.DB == s.db.DB {
		return map[string]*sql.DB{"main": s.db.DB}
	}
	return map[string]*sql.DB{"read": s.db.DB, "write": s.w.DB}
}
