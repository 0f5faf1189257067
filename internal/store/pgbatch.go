package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/bizsec/bizsec/internal/fault"
)

// pgBatcher groups concurrent settings writes of one business on
// PostgreSQL into one transaction: writes of one business serialize on its
// settings lock (each must see the version the previous wrote), so written
// one transaction each they cost one commit each, one after the other. In a
// batch they cost one commit together, as independent rows do. Businesses
// batch apart, so a batch holds one business's lock and two instances'
// batches can never wait on each other in a cycle.
//
// A batch is first tried as one pipeline: each write is computed from the
// object as this instance last saw it committed (known, trusted only while
// the settings cache, which other instances' notifications invalidate,
// holds no later version), later writes of the batch from what the earlier
// ones wrote, and all are sent in one round trip that is one implicit
// transaction and one commit (beginSQL, updateSettingSQL).
// That commit is asynchronous, so the business's lock is free for the next
// batch at once, and the batch's writes are answered only after a flush
// has put it on disk (flush): the batches of one business share fsyncs
// instead of taking one each in turn.
// If any object is no longer at the version a write was computed from, the
// function raises, the whole pipeline rolls back, and its writes are made
// again on the locked path: one transaction in which each write reads its
// object and writes it under the business's settings lock. A write that
// changes nothing is a check of the versions in the pipeline. Writes that
// cannot be computed from what is known (never seen, another instance wrote
// since) or are refused take the locked path at once, where the refusal is
// decided on what is stored.
type pgBatcher struct {
	s       *Store
	mu      sync.Mutex
	pending map[string][]pgJob // business -> writes waiting for its next batch
	wg      sync.WaitGroup     // running batches
	known   sync.Map           // cacheKey -> storedDoc: committed documents, as last seen here
	// piped counts the writes a pipeline committed, locked those that took
	// the locked path, rolledBack the pipelines that rolled back.
	piped, locked, rolledBack atomic.Int64
	// beforeSend, when set (by tests), runs before a pipeline of n
	// statements is sent: after its writes were computed. beforeFlush
	// runs before a committed pipeline's flush; an error it returns
	// stands for the flush's.
	beforeSend  func(n int)
	beforeFlush func() error
}

// pgJob is one write in a batch.
type pgJob struct {
	ctx context.Context
	// plan computes the write from p's view of the objects, for the
	// pipeline; false: it cannot be, and the write takes the locked path.
	plan func(p *pipeline) (pipeWrite, bool)
	// fn makes the write in a transaction of the locked path; after the
	// transaction commits with fn's write in it, committed runs.
	fn        func(context.Context, *txn) error
	committed func()
	done      chan error
}

// storedDoc is a settings object as committed at version: it never
// changes, since versions only grow (doc is invalid at version 0, never
// written).
type storedDoc struct {
	doc     sql.NullString
	version int64
}

// pipeWrite is one statement of a pipeline: a write
// (updateSettingSQL, insertSettingSQL) or the check of a write that changes
// nothing (bizsec_check_setting).
type pipeWrite struct {
	sql       string
	args      []any
	key       string // a write's notification key, for ownWrites; "" for a check
	committed func() // after the pipeline committed
}

// maxBatchWait bounds a batch when no write in it has a deadline.
const maxBatchWait = 30 * time.Second

// The statements of a pipeline: its first, which makes its commit
// asynchronous and takes the business's settings lock; a write (an update,
// or the insert of an object never written), or the check of a write that
// changes nothing (migration 0016); and the flush, after the pipeline's
// sync. A write whose object, or the one its rule reads, moved writes no
// row and calls bizsec_moved (migration 0018), and the check raises: either
// raises SQLSTATE BZ001, and like any ERROR in the pipeline that rolls it
// all back (rolledBack).
const (
	// beginSQL, first in a pipeline, makes its commit asynchronous: it
	// returns (and the business's settings lock is released) before the
	// WAL is flushed, so the next batch need not wait for the disk; flush
	// waits for it instead, before any of its writes is answered. It takes
	// the lock the locked path's bizsec_put_setting takes, once for the
	// batch; each statement after it reads as of after the lock was taken
	// (read committed: a snapshot per statement), so the versions it
	// checks cannot move before the commit.
	beginSQL = `SELECT set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(hashtextextended('settings:' || $1, 0))`
	// updateSettingSQL writes an object at version $3 ($3 > 0), its audit
	// row, and the notification other instances apply, if the object is
	// still at $3 and the one its rule reads ($9, if any) at $10.
	updateSettingSQL = `WITH up AS (
	UPDATE settings SET doc = $4, version = $3::bigint + 1, updated_at = $5
	WHERE business_id = $1 AND kind = $2 AND version = $3::bigint` + otherAtBase + `
	RETURNING version
)` + auditAndNotify
	// insertSettingSQL is updateSettingSQL for an object never written
	// ($3 = 0): it inserts it at version 1, unless it exists.
	insertSettingSQL = `WITH up AS (
	INSERT INTO settings (business_id, kind, doc, version, updated_at)
	SELECT $1, $2, $4, 1, $5 WHERE $3::bigint = 0` + otherAtBase + `
	ON CONFLICT (business_id, kind) DO NOTHING
	RETURNING version
)` + auditAndNotify
	otherAtBase = `
	AND ($9 = '' OR COALESCE((SELECT version FROM settings WHERE business_id = $1 AND kind = $9), 0) = $10::bigint)`
	// auditAndNotify ends a write: the audit row of the row written, its
	// notification, and the version written; with no row written,
	// bizsec_moved raises.
	auditAndNotify = `, audited AS (
	INSERT INTO audit (business_id, kind, version, at, actor, old_doc, new_doc)
	SELECT $1, $2, version, $5, $6, $7, $8 FROM up
)
SELECT CASE WHEN count(*) = 1 THEN max(version) ELSE bizsec_moved($1, $2) END, pg_notify('` + channel + `', $11) FROM up`
	checkSettingSQL = `SELECT bizsec_check_setting($1, $2, $3, $4, $5)`
	// flushSQL is a transaction that writes WAL (a transactional logical
	// message, which logical decoding plugins ignore unless asked for
	// messages): PostgreSQL flushes the WAL at a commit, synchronously, only
	// for a transaction that wrote some. One that merely took a transaction
	// ID (txid_current) commits without a flush.
	flushSQL = `SELECT pg_logical_emit_message(true, 'bizsec_flush', '')`
)

// fixedSQL are the statements of every pipeline besides its writes: the
// first and the last.
var fixedSQL = [...]string{beginSQL, flushSQL}

func newPGBatcher(s *Store) *pgBatcher {
	return &pgBatcher{s: s, pending: map[string][]pgJob{}}
}

// do runs j in the next batch of business's writes and returns once that
// batch is durable (or j failed). It waits even if j.ctx ends meanwhile: a
// write that has begun may commit, and the caller must know.
func (b *pgBatcher) do(business string, j pgJob) error {
	j.done = make(chan error, 1)
	b.mu.Lock()
	q, running := b.pending[business]
	b.pending[business] = append(q, j)
	if !running { // no batch of this business is running: start one
		b.wg.Add(1)
		go b.run(business)
	}
	b.mu.Unlock()
	return <-j.done
}

// run commits business's waiting writes, batch after batch, until none
// waits. While it runs, pending[business] exists (perhaps empty), so that
// writers join its next batch instead of starting another.
func (b *pgBatcher) run(business string) {
	defer b.wg.Done()
	for {
		runtime.Gosched() // as the SQLite writer does: writes under way join this batch
		b.mu.Lock()
		jobs := b.pending[business]
		if len(jobs) == 0 {
			delete(b.pending, business)
			b.mu.Unlock()
			return
		}
		b.pending[business] = jobs[:0:0]
		b.mu.Unlock()
		b.commit(business, jobs)
	}
}

// commit makes jobs' writes: those it can plan in one pipeline, then the
// others, and the pipeline's if it rolled back, on the locked path.
func (b *pgBatcher) commit(business string, jobs []pgJob) {
	ctx, cancel := batchContext(jobs)
	defer cancel()
	p := &pipeline{b: b, business: business, seen: map[string]storedDoc{}}
	var piped, locked []pgJob
	var writes []pipeWrite
	for _, j := range jobs {
		if err := j.ctx.Err(); err != nil {
			j.done <- err // its caller gave up before it began: nothing of it is written
			continue
		}
		if w, ok := planSafely(j, p); ok {
			piped, writes = append(piped, j), append(writes, w)
		} else {
			locked = append(locked, j)
		}
	}
	if len(writes) > 0 {
		if b.beforeSend != nil {
			b.beforeSend(len(writes))
		}
		committed := make(chan error, 1)
		b.wg.Add(1)
		go b.send(business, writes, piped, committed)
		switch err := <-committed; {
		case err == nil: // send answers piped once flushed
		case rolledBack(err):
			b.rolledBack.Add(1)
			locked = append(piped, locked...)
		default: // whether it committed is unknown: as a commit whose answer was lost
			for _, j := range piped {
				j.done <- err
			}
		}
	}
	if len(locked) > 0 {
		b.commitLocked(ctx, locked)
	}
}

// planSafely is j.plan, a panic in the caller's change taken as a write
// the pipeline cannot make (the locked path reports it).
func planSafely(j pgJob, p *pipeline) (w pipeWrite, ok bool) {
	if j.plan == nil {
		return w, false
	}
	defer func() {
		if recover() != nil {
			w, ok = pipeWrite{}, false
		}
	}()
	return j.plan(p)
}

// send runs writes as one pipeline on one connection, one round trip: an
// implicit transaction that commits asynchronously, then the flush, a
// transaction that commits synchronously and so flushes the WAL up to its
// own commit record, which follows the pipeline's. Once the first is done
// (the business's lock is free) send reports on committed, and once the
// flush is done it answers jobs: the flushes of successive batches (and
// instances) share fsyncs, as PostgreSQL's concurrent commits do. It
// answers nothing unless the pipeline committed.
func (b *pgBatcher) send(business string, writes []pipeWrite, jobs []pgJob, committed chan<- error) {
	defer b.wg.Done()
	ctx, cancel := batchContext(jobs)
	defer cancel()
	conn, err := b.s.w.DB.Conn(ctx)
	if err != nil {
		committed <- notSent{err}
		return
	}
	defer conn.Close()
	reported := false
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return notSent{fmt.Errorf("store: the driver's connection is a %T, not pgx's", dc)}
		}
		pc := sc.Conn()
		// Every statement is prepared once per connection (pgx keeps
		// them by name), so a batch costs the server no parse or plan,
		// and is sent with the description pgx keeps of it, so the
		// server is not asked to describe its result again.
		var fixed [len(fixedSQL)]*pgconn.StatementDescription
		for i, q := range fixedSQL {
			var err error
			if fixed[i], err = pc.Prepare(ctx, q, q); err != nil {
				return notSent{err}
			}
		}
		stmts := make([]*pgconn.StatementDescription, len(writes))
		args := make([][][]byte, len(writes))
		for i, w := range writes {
			var err error
			if stmts[i], err = pc.Prepare(ctx, w.sql, w.sql); err != nil {
				return notSent{err}
			}
			if args[i], err = textArgs(w.args); err != nil {
				return notSent{err}
			}
		}
		pid, now := pc.PgConn().PID(), time.Now()
		p := pc.PgConn().StartPipeline(ctx)
		p.SendQueryStatement(fixed[0], [][]byte{[]byte(business)}, nil, nil)
		for i, w := range writes {
			if w.key != "" {
				b.s.own.wrote(pid, w.key, now) // before the commit sends its notification
			}
			p.SendQueryStatement(stmts[i], args[i], nil, nil)
		}
		p.SendPipelineSync()
		p.SendQueryStatement(fixed[1], nil, nil, nil)
		p.SendPipelineSync()
		if err := p.Flush(); err != nil {
			p.Close()
			return err // perhaps sent: unknown
		}
		err := pipelineResult(p)
		if err == nil {
			b.piped.Add(int64(len(jobs)))
			for _, w := range writes {
				w.committed() // the next batch plans on what this one committed
			}
		}
		committed <- err
		reported = true
		// The server may have lost or outgrown a statement pgx keeps as
		// prepared (a DISCARD, a changed function): prepare them again
		// next time instead of failing every batch.
		forget := func() {
			for _, q := range fixedSQL {
				pc.Deallocate(ctx, q)
			}
			for _, w := range writes {
				pc.Deallocate(ctx, w.sql)
			}
		}
		if err != nil {
			p.Close()
			if lostStatement(err) {
				forget()
			}
			return nil
		}
		if b.beforeFlush != nil {
			err = b.beforeFlush()
		}
		if err == nil {
			err = pipelineResult(p)
		}
		if cerr := p.Close(); err == nil {
			err = cerr
		}
		if lostStatement(err) { // the flush never ran: run it unprepared
			forget()
			_, err = pc.PgConn().Exec(ctx, flushSQL).ReadAll()
		}
		if err != nil { // committed, but perhaps not durable: as a commit whose answer was lost
			err = fmt.Errorf("store: the commit of a batch of settings writes may not be on disk: %w", err)
		}
		for _, j := range jobs {
			j.done <- err
		}
		return nil
	})
	if !reported {
		committed <- err
	}
}

// lostStatement reports whether err says the server no longer has a
// statement as it was prepared: it was deallocated, or what it calls
// changed.
func lostStatement(err error) bool {
	e, ok := errors.AsType[*pgconn.PgError](err)
	return ok && (e.Code == "26000" || e.Code == "0A000")
}

// pipelineResult reads the results of a pipeline's statements up to the
// sync that ends their transaction: the first error, if any.
func pipelineResult(p *pgconn.Pipeline) error {
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	for {
		res, err := p.GetResults()
		if err != nil {
			keep(err)
			if _, ok := errors.AsType[*pgconn.PgError](err); !ok {
				return first // the connection is gone
			}
			continue // the server skips the rest, up to the sync
		}
		switch r := res.(type) {
		case *pgconn.ResultReader:
			if _, err := r.Close(); err != nil {
				keep(err)
			}
		case *pgconn.PipelineSync:
			return first
		case nil:
			keep(errors.New("store: a pipeline ended before its sync"))
			return first
		}
	}
}

// textArgs encodes a pipeline statement's arguments in PostgreSQL's text
// format; they are strings and integers.
func textArgs(args []any) ([][]byte, error) {
	out := make([][]byte, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = append([]byte{}, v...) // never nil, which is NULL
		case int64:
			out[i] = strconv.AppendInt(nil, v, 10)
		case int:
			out[i] = strconv.AppendInt(nil, int64(v), 10)
		default:
			return nil, fmt.Errorf("store: a pipeline argument of type %T", a)
		}
	}
	return out, nil
}

// notSent is an error before a pipeline was sent.
type notSent struct{ err error }

func (e notSent) Error() string { return e.err.Error() }
func (e notSent) Unwrap() error { return e.err }

// rolledBack reports whether err from send means that nothing of the
// pipeline was committed: it was never sent (pgx says so of an error it
// met before sending anything), or the server answered an
// ERROR (a statement's, or the commit's), which ends the implicit
// transaction in a rollback. Anything else (a lost connection, a FATAL
// after the commit) leaves the outcome unknown.
func rolledBack(err error) bool {
	if _, ok := errors.AsType[notSent](err); ok || pgconn.SafeToRetry(err) {
		return true
	}
	e, ok := errors.AsType[*pgconn.PgError](err)
	return ok && e.Severity == "ERROR"
}

// pipeline is a batch's view of its business's objects while its writes
// are planned: each as known committed, then as the batch's earlier
// writes left it.
type pipeline struct {
	b        *pgBatcher
	business string
	seen     map[string]storedDoc // kind -> the object as the writes planned so far leave it
}

// current is what a write of kind (whose rule reads other) starts from;
// false when an object is not known or may have changed since.
func (p *pipeline) current(kind, other string) (current, bool) {
	d, ok := p.object(kind)
	if !ok {
		return current{}, false
	}
	cur := current{doc: d.doc, version: d.version}
	if other != "" {
		o, ok := p.object(other)
		if !ok {
			return current{}, false
		}
		cur.other, cur.otherV = o.doc, o.version
	}
	return cur, true
}

func (p *pipeline) object(kind string) (storedDoc, bool) {
	if d, ok := p.seen[kind]; ok {
		return d, true
	}
	key := cacheKey{kind: kind, id: p.business}
	v, ok := p.b.known.Load(key)
	if !ok {
		return storedDoc{}, false
	}
	d := v.(storedDoc)
	// Another instance's write drops the cache entry (its notification),
	// and a read after it loads a later version than known: either way the
	// write would fail its version check, so it takes the locked path at
	// once. An entry older than known is this instance's own write whose
	// writer has not yet put it back.
	c, ok := p.b.s.cache.get(key)
	if !ok || c.(cachedDoc).version > d.version {
		return storedDoc{}, false
	}
	p.seen[kind] = d
	return d, true
}

// wrote records a planned write: the batch's later writes start from it.
func (p *pipeline) wrote(kind, doc string, version int64) {
	p.seen[kind] = storedDoc{sql.NullString{String: doc, Valid: true}, version}
}

// remember records objects as committed at their versions; a later write
// plans from them.
func (b *pgBatcher) remember(business string, objects map[string]storedDoc) {
	for kind, d := range objects {
		key := cacheKey{kind: kind, id: business}
		if v, ok := b.known.Load(key); ok && v.(storedDoc).version > d.version {
			continue
		}
		b.known.Store(key, d)
	}
}

// commitLocked runs jobs in one transaction. A write that fails with a
// fault (a precondition, a rule) wrote nothing and leaves the transaction
// usable; any other error aborts it, and then each write that was not
// refused runs again in a transaction of its own, so that one bad write
// fails alone.
func (b *pgBatcher) commitLocked(ctx context.Context, jobs []pgJob) {
	b.locked.Add(int64(len(jobs)))
	results := make([]error, len(jobs))
	err := b.s.runTx(ctx, func(tx *txn) error { // each write takes the business's lock (bizsec_put_setting)
		for i, j := range jobs {
			if results[i] = safely(func(tx *txn) error { return j.fn(ctx, tx) }, tx); results[i] != nil && !isFault(results[i]) {
				return results[i]
			}
		}
		return nil
	})
	if err == nil {
		for i, j := range jobs {
			if results[i] == nil && j.committed != nil {
				j.committed()
			}
			j.done <- results[i]
		}
		return
	}
	if len(jobs) == 1 {
		jobs[0].done <- err
		return
	}
	for _, j := range jobs {
		err := b.s.runTx(ctx, func(tx *txn) error {
			return safely(func(tx *txn) error { return j.fn(ctx, tx) }, tx)
		})
		if err == nil && j.committed != nil {
			j.committed()
		}
		j.done <- err
	}
}

// batchContext is the context of a batch: no caller's cancellation ends
// it (the others still wait on it), and it lasts until the latest of its
// writes' deadlines.
func batchContext(jobs []pgJob) (context.Context, context.CancelFunc) {
	var last time.Time
	for _, j := range jobs {
		d, ok := j.ctx.Deadline()
		if !ok {
			last = time.Now().Add(maxBatchWait)
			break
		}
		if d.After(last) {
			last = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(jobs[0].ctx), last)
}

// isFault reports whether err is a refusal with a client-facing code, which
// writes nothing, rather than a database error.
func isFault(err error) bool {
	c := fault.CodeOf(err)
	return c != fault.Internal && c != fault.Unavailable
}

// wait returns when no batch runs.
func (b *pgBatcher) wait() { b.wg.Wait() }
