package store

import (
	"context"
	"database/sql"
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

// runTx runs fn in a transaction of its own.
func (s *Store) runTx(ctx context.Context, fn func(*txn) error) error {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &txn{Tx: sqlTx, d: s.w.d}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// writer commits the queued writes, in the order they came, until the
// store closes.
func (s *Store) writer() {
	defer s.done.Done()
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
		s.commitBatch(batch)
	}
}

func (s *Store) commitBatch(batch []writeJob) {
	if len(batch) == 1 {
		j := batch[0]
		j.done <- s.runTx(j.ctx, func(tx *txn) error { return safely(j.fn, tx) })
		return
	}
	ctx := context.Background()
	results := make([]error, len(batch))
	err := s.runTx(ctx, func(tx *txn) error {
		ok := 0
		for i, j := range batch {
			tx.prev, tx.last = tx.last, nil // what the job before left, if a settings write that stood
			if results[i] = j.ctx.Err(); results[i] != nil {
				continue
			}
			if _, err := s.writeStmts(tx).ExecContext(ctx, `SAVEPOINT write`); err != nil {
				return err
			}
			if results[i] = safely(j.fn, tx); results[i] != nil {
				tx.last = nil // rolled back: it left nothing
				if _, err := s.writeStmts(tx).ExecContext(ctx, `ROLLBACK TO write`); err != nil {
					return err
				}
			} else {
				ok++
			}
			if _, err := s.writeStmts(tx).ExecContext(ctx, `RELEASE write`); err != nil {
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
