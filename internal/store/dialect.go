package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// dialect is what differs between the two databases at run time.
type dialect struct {
	name string
	// oneWriter: one process writes, through one connection (SQLite's
	// write lock); settings change only through this process, so its
	// settings cache needs no feed to be trusted.
	oneWriter bool
	// numbered placeholders ($1, $2, ...) instead of ?
	numbered bool
	// lockSQL takes a transaction-scoped lock on a key; "" where the
	// database's own write lock already serializes transactions.
	lockSQL string
	// notifySQL tells other instances, at commit, that a key changed; ""
	// where there are no other instances.
	notifySQL string
	// greatest is the scalar maximum of its arguments.
	greatest string
}

var (
	sqliteDialect = dialect{name: "sqlite", oneWriter: true, greatest: "MAX"}
	// PostgreSQL runs transactions concurrently, so read-modify-write
	// transactions take an advisory lock on what they change.
	postgresDialect = dialect{name: "postgres", numbered: true,
		lockSQL:   `SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`,
		notifySQL: `SELECT pg_notify('` + channel + `', ?)`, greatest: "GREATEST"}
)

// rebind turns ? placeholders into the dialect's. Queries here never hold
// a literal question mark.
func (d dialect) rebind(q string) string {
	if !d.numbered {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// conn is a *sql.DB speaking the dialect.
type conn struct {
	*sql.DB
	d dialect
}

func (c conn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return c.DB.ExecContext(ctx, c.d.rebind(q), args...)
}

func (c conn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return c.DB.QueryContext(ctx, c.d.rebind(q), args...)
}

func (c conn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return c.DB.QueryRowContext(ctx, c.d.rebind(q), args...)
}

// txn is a write transaction speaking the dialect: a *sql.Tx, or on
// SQLite the writer's connection between its BEGIN and COMMIT, whose
// statements it prepares once (see writerConn).
type txn struct {
	q querier
	w *writerConn // nil but on SQLite's writer
	d dialect
	// last is what the transaction's latest settings write left (a batch
	// of writes to one object reads it once); nil when unknown. On SQLite,
	// whose writer batches writes of every kind, prev is what the job just
	// before left: a settings write's last if that job was one and stood,
	// else nil.
	last, prev *written
}

// querier is what *sql.Tx and *sql.Conn share.
type querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// written is a settings object as a write in this transaction left it.
type written struct {
	business, kind string
	cur            current
}

func (t *txn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.w.stmt(q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.q.ExecContext(ctx, t.d.rebind(q), args...)
}

func (t *txn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.w.stmt(q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.q.QueryContext(ctx, t.d.rebind(q), args...)
}

func (t *txn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.w.stmt(q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.q.QueryRowContext(ctx, t.d.rebind(q), args...)
}

// lock serializes the transactions that change key, until this one ends.
func (t *txn) lock(ctx context.Context, key string) error {
	if t.d.lockSQL == "" {
		return nil
	}
	_, err := t.ExecContext(ctx, t.d.lockSQL, key)
	return err
}

// notify tells the other instances, when this transaction commits, that key changed.
func (t *txn) notify(ctx context.Context, key string) error {
	if t.d.notifySQL == "" {
		return nil
	}
	_, err := t.ExecContext(ctx, t.d.notifySQL, key)
	return err
}
