package store

import (
	"context"
	"sync"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
)

// pgBatcher groups concurrent settings writes of one business on
// PostgreSQL into one transaction: writes of one business serialize on its
// settings lock (each must see the version the previous wrote), so written
// one transaction each they cost one commit each, one after the other. In a
// batch they cost one commit together, as independent rows do. Businesses
// batch apart, so a batch holds one business's lock and two instances'
// batches can never wait on each other in a cycle.
type pgBatcher struct {
	s       *Store
	mu      sync.Mutex
	pending map[string][]pgJob // business -> writes waiting for its next batch
	wg      sync.WaitGroup     // running batches
}

// pgJob is one write in a batch: fn runs in the batch's transaction.
type pgJob struct {
	ctx  context.Context
	fn   func(context.Context, *txn) error
	done chan error
}

// maxBatchWait bounds a batch when no write in it has a deadline.
const maxBatchWait = 30 * time.Second

func newPGBatcher(s *Store) *pgBatcher {
	return &pgBatcher{s: s, pending: map[string][]pgJob{}}
}

// do runs fn in the next batch of business's writes and returns once that
// batch is durable (or fn failed). It waits even if ctx ends meanwhile: a
// write that has begun may commit, and the caller must know.
func (b *pgBatcher) do(ctx context.Context, business string, fn func(context.Context, *txn) error) error {
	j := pgJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
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
		b.mu.Lock()
		jobs := b.pending[business]
		if len(jobs) == 0 {
			delete(b.pending, business)
			b.mu.Unlock()
			return
		}
		b.pending[business] = jobs[:0:0]
		b.mu.Unlock()
		b.commit(jobs)
	}
}

// commit runs jobs in one transaction. A write that fails with a fault
// (a precondition, a rule) wrote nothing and leaves the transaction usable;
// any other error aborts it, and then each write that was not refused runs
// again in a transaction of its own, so that one bad write fails alone.
func (b *pgBatcher) commit(jobs []pgJob) {
	ctx, cancel := batchContext(jobs)
	defer cancel()
	results := make([]error, len(jobs))
	err := b.s.runTx(ctx, func(tx *txn) error { // each write takes the business's lock (bizsec_put_setting)
		for i, j := range jobs {
			if results[i] = j.ctx.Err(); results[i] != nil {
				continue // its caller gave up before it began: nothing of it is written
			}
			if results[i] = safely(func(tx *txn) error { return j.fn(ctx, tx) }, tx); results[i] != nil && !isFault(results[i]) {
				return results[i]
			}
		}
		return nil
	})
	if err == nil {
		for i, j := range jobs {
			j.done <- results[i]
		}
		return
	}
	if len(jobs) == 1 {
		jobs[0].done <- err
		return
	}
	for _, j := range jobs {
		j.done <- b.s.runTx(ctx, func(tx *txn) error {
			return safely(func(tx *txn) error { return j.fn(ctx, tx) }, tx)
		})
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
