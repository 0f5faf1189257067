package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
)

// maxBatch bounds the writes one SQLite transaction commits together.
const maxBatch = 64

// errClosed answers writes that arrive after Close.
var errClosed = errors.New("store: closed")

// writeJob is one write transaction waiting for the SQLite writer.
type writeJob struct {
	ctx  context.Context
	fn   func(*txn) error
	done chan error
}

// inTx runs fn in a transaction and commits it unless fn fails; it returns
// once the transaction is durable. On PostgreSQL each runs in its own
// transaction. On SQLite, which has one writer, writes queue here in the
// process instead of in SQLite's busy loop, and the writer commits
// whatever is waiting together (group commit): one fsync for the batch,
// each write in a savepoint of its own, so one that fails leaves the
// others alone.
func (s *Store) inTx(ctx context.Context, fn func(*txn) error) error {
	if s.queue == nil {
		return s.runTx(ctx, fn)
	}
	j := writeJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.queue <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return errClosed
	}
	return <-j.done // even if ctx ends now: the write may commit, and the caller must know
}

// runTx runs fn in a transaction of its own, through database/sql's Tx.
func (s *Store) runTx(ctx context.Context, fn func(*txn) error) error {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &txn{q: sqlTx, d: s.w.d}
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// writer commits the queued writes, in the order they came, until the
// store closes.
func (s *Store) writer() {
	defer s.done.Done()
	var w *writerConn
	defer func() { w.close() }() // before done: the last flush of session uses writes through s.w
	for {
		var batch []writeJob
		select {
		case j := <-s.queue:
			batch = append(batch, j)
		case <-s.stop:
			return
		}
		// Let the writes already under way on this core (requests being
		// read and checked) reach the queue first: they share this
		// batch's fsync instead of each waiting for one of their own.
		runtime.Gosched()
	more:
		for len(batch) < maxBatch {
			select {
			case j := <-s.queue:
				batch = append(batch, j)
			default:
				break more
			}
		}
		if w == nil {
			w = s.openWriterConn() // nil: this batch goes through a Tx, and the next tries again
		}
		run := s.runTx
		if w != nil {
			run = w.run
		}
		s.commitBatch(run, batch)
		if w != nil && w.broken {
			w.close()
			w = nil
		}
	}
}

// commitBatch runs batch in one transaction of run, each job in a
// savepoint of its own, and answers each job.
func (s *Store) commitBatch(run func(context.Context, func(*txn) error) error, batch []writeJob) {
	if len(batch) == 1 {
		j := batch[0]
		if err := j.ctx.Err(); err != nil {
			j.done <- err
			return
		}
		j.done <- run(j.ctx, func(tx *txn) error { return safely(j.fn, tx) })
		return
	}
	ctx := context.Background()
	results := make([]error, len(batch))
	err := run(ctx, func(tx *txn) error {
		ok := 0
		for i, j := range batch {
			tx.prev, tx.last = tx.last, nil // what the job before left, if a settings write that stood
			if results[i] = j.ctx.Err(); results[i] != nil {
				continue
			}
			if _, err := tx.ExecContext(ctx, `SAVEPOINT write`); err != nil {
				return err
			}
			if results[i] = safely(j.fn, tx); results[i] != nil {
				tx.last = nil // rolled back: it left nothing
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO write`); err != nil {
					return err
				}
			} else {
				ok++
			}
			if _, err := tx.ExecContext(ctx, `RELEASE write`); err != nil {
				return err
			}
		}
		if ok == 0 {
			return errNothing
		}
		return nil
	})
	for i, j := range batch {
		switch {
		case results[i] != nil:
			j.done <- results[i]
		case err != nil && err != errNothing:
			j.done <- err
		default:
			j.done <- nil
		}
	}
}

// writerConn is SQLite's write connection as the writer holds it, with
// its transactions' statements (BEGIN and COMMIT among them) prepared on
// it once: modernc's SQLite spends more on compiling a statement than on
// running it, and database/sql's Tx adds a goroutine per transaction and
// a copy of each prepared statement per use. Only the writer's goroutine
// uses it.
type writerConn struct {
	c      *sql.Conn
	d      dialect
	stmts  map[string]*sql.Stmt // by query
	broken bool                 // the connection failed: the writer takes a new one
}

// maxStmts bounds the statements a writerConn keeps prepared; past it a
// query is compiled on each run (a query built per call, say).
const maxStmts = 256

func (s *Store) openWriterConn() *writerConn {
	c, err := s.w.Conn(context.Background())
	if err != nil {
		s.log.Error("store: the writer's connection", "err", err.Error())
		return nil
	}
	return &writerConn{c: c, d: s.w.d, stmts: make(map[string]*sql.Stmt)}
}

// stmt returns q prepared on the connection; nil on a nil writerConn,
// past maxStmts, or when q does not compile (its run says why).
func (w *writerConn) stmt(q string) *sql.Stmt {
	if w == nil {
		return nil
	}
	if st, ok := w.stmts[q]; ok {
		return st
	}
	if len(w.stmts) >= maxStmts {
		return nil
	}
	st, err := w.c.PrepareContext(context.Background(), w.d.rebind(q))
	if err != nil {
		w.failed(err)
		return nil
	}
	w.stmts[q] = st
	return st
}

// run runs fn between BEGIN IMMEDIATE and COMMIT, and rolls back when fn
// or the COMMIT fails. ctx bounds the wait for the write lock (another
// process may hold it) and fn's statements; COMMIT and ROLLBACK take no
// context: one cut off half way would leave the connection's state unknown.
func (w *writerConn) run(ctx context.Context, fn func(*txn) error) error {
	if err := w.exec(ctx, `BEGIN IMMEDIATE`); err != nil {
		// A transaction left open (a connection given back in the middle
		// of one) refuses BEGIN: a ROLLBACK that succeeds ends it, and
		// BEGIN is tried once more.
		if w.exec(context.Background(), `ROLLBACK`) != nil || w.exec(ctx, `BEGIN IMMEDIATE`) != nil {
			return fmt.Errorf("store: begin: %w", err)
		}
	}
	if err := fn(&txn{q: w.c, w: w, d: w.d}); err != nil {
		w.failed(err)
		w.exec(context.Background(), `ROLLBACK`)
		return err
	}
	if err := w.exec(context.Background(), `COMMIT`); err != nil {
		w.exec(context.Background(), `ROLLBACK`) // a COMMIT that failed (a full disk, an I/O error) may leave the transaction open
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// exec runs one of the transaction's own statements (BEGIN, COMMIT,
// ROLLBACK) as fn's statements run, noting a lost connection.
func (w *writerConn) exec(ctx context.Context, q string) error {
	_, err := (&txn{q: w.c, w: w, d: w.d}).ExecContext(ctx, q)
	w.failed(err)
	return err
}

// failed notes an error that says the connection is gone.
func (w *writerConn) failed(err error) {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		w.broken = true
	}
}

func (w *writerConn) close() {
	if w == nil {
		return
	}
	for _, st := range w.stmts {
		st.Close()
	}
	w.c.Close()
}

// errNothing rolls back a batch in which every write failed.
var errNothing = errors.New("store: nothing to commit")

// safely runs fn, turning a panic into an error so the writer survives it.
func safely(fn func(*txn) error, tx *txn) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("store: panic in a write: %v", v)
		}
	}()
	return fn(tx)
}

// exec runs one writing statement, which is atomic on its own: on
// PostgreSQL as its own implicit transaction (one round trip, where BEGIN,
// it and COMMIT are three); on SQLite as a job of the writer's batch.
func (s *Store) exec(ctx context.Context, q string, args ...any) (res sql.Result, err error) {
	if s.queue == nil {
		return s.w.ExecContext(ctx, q, args...)
	}
	err = s.inTx(ctx, func(tx *txn) error {
		res, err = tx.ExecContext(ctx, q, args...)
		return err
	})
	return res, err
}
