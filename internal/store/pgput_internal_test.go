package store

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
)

// pgPair opens two instances (A, B) over one new PostgreSQL schema with
// the business tenantbusiness.acme; without BIZSEC_TEST_POSTGRES the test
// skips, saying what it needs it for (why).
func pgPair(t *testing.T, why string) (a, b *Store) {
	t.Helper()
	base := os.Getenv("BIZSEC_TEST_POSTGRES")
	if base == "" {
		t.Skip("SKIP: needs BIZSEC_TEST_POSTGRES (" + why + ")")
	}
	ctx := context.Background()
	database, drop, err := ScratchSchema(ctx, base, "t_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	dir := t.TempDir()
	open := func() *Store {
		st, err := Open(ctx, database, dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, b = open(), open()
	if err := a.CreateTenant(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	return a, b
}

const pgBiz = "tenantbusiness.acme"

func setPolicy(st *Store, w Write, fn func(*settings.LoginPolicy)) (settings.LoginPolicy, int64, error) {
	return Update(context.Background(), st, settings.LoginPolicyKind, pgBiz, w, func(p *settings.LoginPolicy) error {
		fn(p)
		return nil
	})
}

var anyWrite = Write{IfMatch: AnyVersion, Actor: "t"}

func mustNot(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestPipelineAnotherInstanceWritesBetween injects the fault the pipeline's
// version checks guard against: instance A computes a write from what it
// knows, and before it is sent another instance, B, writes (its
// notification may be on its way to A). A's pipeline must roll back and
// its write be made again from what is stored: no lost update, and a
// rule across objects judged on what B wrote.
func TestPipelineAnotherInstanceWritesBetween(t *testing.T) {
	type result struct {
		Policy      settings.LoginPolicy
		Version     int64
		Code        fault.Code
		Challenges  int // ChallengeCount stored
		AuditRows   int
		RolledBack  int64
		PipedWrites int64
	}
	policy := func(period, attempts int) settings.LoginPolicy {
		p := settings.DefaultLoginPolicy()
		p.AttemptsPeriod, p.MaxSequentialFailureAttemptsAllowed = period, attempts
		return p
	}
	def := settings.DefaultLoginPolicy()
	// putPolicy is a write of the login policy by an instance, through Update.
	putPolicy := func(fn func(*settings.LoginPolicy)) func(*Store) error {
		return func(st *Store) error {
			_, _, err := setPolicy(st, anyWrite, fn)
			return err
		}
	}
	tests := []struct {
		name string
		// a writes first (warm: A now knows the objects), then b between A's
		// computing and sending w, A's write.
		a, b, w func(st *Store) error
		want    result
	}{{
		name: "A and B change different fields: both stay",
		a:    putPolicy(func(p *settings.LoginPolicy) { p.AttemptsPeriod = 11 }),
		b:    putPolicy(func(p *settings.LoginPolicy) { p.MaxSequentialFailureAttemptsAllowed = 7 }),
		w:    putPolicy(func(p *settings.LoginPolicy) { p.AttemptsPeriod = 12 }),
		want: result{Policy: policy(12, 7), Version: 3, AuditRows: 3, RolledBack: 1, Challenges: 3},
	}, {
		name: "A's write changes nothing as A knows it, but B changed it",
		a:    putPolicy(func(p *settings.LoginPolicy) { p.AttemptsPeriod = 11 }),
		b:    putPolicy(func(p *settings.LoginPolicy) { p.AttemptsPeriod = 20 }),
		w:    putPolicy(func(p *settings.LoginPolicy) { p.AttemptsPeriod = 11 }),
		want: result{Policy: policy(11, def.MaxSequentialFailureAttemptsAllowed), Version: 3, AuditRows: 3, RolledBack: 1, Challenges: 3},
	}, {
		name: "A's If-Match was current as A knew it, but B wrote",
		a:    putPolicy(func(p *settings.LoginPolicy) { p.AttemptsPeriod = 11 }),
		b:    putPolicy(func(p *settings.LoginPolicy) { p.AttemptsPeriod = 20 }),
		w: func(st *Store) error {
			_, _, err := setPolicy(st, Write{IfMatch: 1, Actor: "t"}, func(p *settings.LoginPolicy) { p.AttemptsPeriod = 30 })
			return err
		},
		want: result{Policy: policy(20, def.MaxSequentialFailureAttemptsAllowed), Version: 2, Code: fault.PreconditionErr,
			AuditRows: 2, RolledBack: 1, Challenges: 3},
	}, {
		name: "B deactivated the challenges A's ChallengeCount needs",
		a: func(st *Store) error {
			_, _, err := Update(context.Background(), st, settings.SecurityKind, pgBiz, anyWrite, func(s *settings.Security) error {
				s.ChallengeCount = 2
				return nil
			})
			return err
		},
		b: func(st *Store) error {
			_, _, err := Update(context.Background(), st, settings.ChallengesKind, pgBiz, anyWrite, func(cs *[]settings.Challenge) error {
				c := append([]settings.Challenge(nil), *cs...)
				c[0].Active, c[1].Active = false, false
				*cs = c
				return nil
			})
			return err
		},
		w: func(st *Store) error {
			_, _, err := Update(context.Background(), st, settings.SecurityKind, pgBiz, anyWrite, func(s *settings.Security) error {
				s.ChallengeCount = 3
				return nil
			})
			return err
		},
		want: result{Policy: def, Code: fault.Invalid, AuditRows: 2, RolledBack: 1, Challenges: 2},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			a, b := pgPair(t, "PostgreSQL's pipelined settings writes")
			// A loads what the writes' rules read, as a server does when it
			// serves them: only objects its cache holds are written from memory.
			_, _, err := Get(ctx, a, settings.ChallengesKind, pgBiz)
			mustNot(t, err)
			mustNot(t, tt.a(a))
			a.pgBatch.wait()
			var once sync.Once
			var bErr error
			a.pgBatch.beforeSend = func(int) { once.Do(func() { bErr = tt.b(b) }) }
			werr := tt.w(a)
			mustNot(t, bErr)
			got := result{Code: fault.CodeOf(werr), RolledBack: a.pgBatch.rolledBack.Load()}
			if werr == nil {
				got.Code = ""
			}
			// Read what is stored, from a third instance that caches nothing yet.
			_, c := pgPairOn(t, a)
			p, v, err := Get(ctx, c, settings.LoginPolicyKind, pgBiz)
			mustNot(t, err)
			got.Policy, got.Version = p, v
			sec, _, err := Get(ctx, c, settings.SecurityKind, pgBiz)
			mustNot(t, err)
			got.Challenges = sec.ChallengeCount
			audit, err := c.Audit(ctx, pgBiz, "", 100, 0)
			mustNot(t, err)
			got.AuditRows = len(audit)
			if tt.want.Code == fault.Invalid { // the security case: read its versions instead
				got.Policy, got.Version = def, 0
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("after A, B between A's computing and sending, then A's write (%v) (-want +got):\n%s", werr, diff)
			}
		})
	}
}

// pgPairOn opens another instance over st's database.
func pgPairOn(t *testing.T, st *Store) (*Store, *Store) {
	t.Helper()
	c, err := Open(context.Background(), st.dsn, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return st, c
}

// TestPipelineOneWriteFailsARule sends one batch of writes in which one
// breaks the rule across objects (ChallengeCount above the active
// challenges), one has a stale If-Match and one panics in its change: each
// fails alone and the others are committed, in the pipeline, or, when
// another instance wrote meanwhile and the pipeline rolled back, on the
// locked path, each exactly once (the pipeline is one transaction: a
// raise in its last statement undoes the ones before it).
func TestPipelineOneWriteFailsARule(t *testing.T) {
	tests := []struct {
		name string
		// move is another instance's write between the batch's computing
		// and sending its pipeline.
		move              func(b *Store) error
		piped, rolledBack int64
	}{{
		name: "pipeline commits", piped: 5,
	}, {
		name: "another instance wrote the object: pipeline rolls back",
		move: func(b *Store) error {
			_, _, err := setPolicy(b, anyWrite, func(p *settings.LoginPolicy) { p.ConcurrentLogin = !p.ConcurrentLogin })
			return err
		},
		piped: 1, rolledBack: 1,
	}, {
		name: "another instance wrote what the last write's rule reads: pipeline rolls back",
		move: func(b *Store) error {
			_, _, err := Update(context.Background(), b, settings.ChallengesKind, pgBiz, anyWrite, func(cs *[]settings.Challenge) error {
				c := append([]settings.Challenge(nil), *cs...)
				c[0].Active = false
				*cs = c
				return nil
			})
			return err
		},
		piped: 1, rolledBack: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			a, b := pgPair(t, "PostgreSQL's pipelined settings writes")
			_, _, err := Get(ctx, a, settings.ChallengesKind, pgBiz)
			mustNot(t, err)
			_, _, err = setPolicy(a, anyWrite, func(p *settings.LoginPolicy) { p.AttemptsPeriod = 1 })
			mustNot(t, err)
			_, _, err = Update(ctx, a, settings.SecurityKind, pgBiz, anyWrite, func(s *settings.Security) error { s.ChallengeCount = 2; return nil })
			mustNot(t, err)
			a.pgBatch.wait()

			const good = 4 // the first is held in a batch of its own until the others wait behind it
			var writes []batchWrite
			for range good {
				writes = append(writes, batchWrite{"policy", func() error {
					_, _, err := setPolicy(a, anyWrite, func(p *settings.LoginPolicy) { p.SuspensionMinutes++ })
					return err
				}, ""})
			}
			security := func(count int) func() error {
				return func() error {
					_, _, err := Update(ctx, a, settings.SecurityKind, pgBiz, anyWrite, func(s *settings.Security) error { s.ChallengeCount = count; return nil })
					return err
				}
			}
			writes = append(writes, batchWrite{"security", security(1), ""},
				batchWrite{"rule", security(5), fault.Invalid},
				batchWrite{"stale", func() error {
					_, _, err := setPolicy(a, Write{IfMatch: 1 << 40, Actor: "t"}, func(p *settings.LoginPolicy) { p.AttemptsPeriod = 99 })
					return err
				}, fault.PreconditionErr},
				batchWrite{"panic", func() error {
					_, _, err := setPolicy(a, anyWrite, func(*settings.LoginPolicy) { panic("a change that fails") })
					return err
				}, fault.Internal})

			held, release := make(chan struct{}), make(chan struct{})
			var sends int
			var bErr error
			a.pgBatch.beforeSend = func(int) {
				sends++
				switch {
				case sends == 1:
					close(held)
					<-release
				case sends == 2 && tt.move != nil:
					bErr = tt.move(b)
				}
			}
			piped, rolled := a.pgBatch.piped.Load(), a.pgBatch.rolledBack.Load()
			results := make([]outcome, len(writes))
			var wg sync.WaitGroup
			for i, w := range writes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := w.run()
					results[i] = outcome{w.name, fault.CodeOf(err)}
					if err == nil {
						results[i].Code = ""
					}
				}()
				if i == 0 {
					<-held
				} else {
					waitPending(t, a, i) // in this order in the next batch
				}
			}
			close(release)
			wg.Wait()
			mustNot(t, bErr)

			var want []outcome
			for _, w := range writes {
				want = append(want, outcome{w.name, w.want})
			}
			if diff := cmp.Diff(want, results); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			_, c := pgPairOn(t, a) // caches nothing yet: reads what is stored
			p, _, err := Get(ctx, c, settings.LoginPolicyKind, pgBiz)
			mustNot(t, err)
			if want := settings.DefaultLoginPolicy().SuspensionMinutes + good; p.SuspensionMinutes != want || p.AttemptsPeriod != 1 {
				t.Errorf("SuspensionMinutes %d, AttemptsPeriod %d: want %d, 1 (every good write once, the stale one not)",
					p.SuspensionMinutes, p.AttemptsPeriod, want)
			}
			sec, _, err := Get(ctx, c, settings.SecurityKind, pgBiz)
			mustNot(t, err)
			if sec.ChallengeCount != 1 {
				t.Errorf("ChallengeCount %d, want 1: the good security write lost, or the one that broke the rule stored", sec.ChallengeCount)
			}
			got := [2]int64{a.pgBatch.piped.Load() - piped, a.pgBatch.rolledBack.Load() - rolled}
			if want := [2]int64{tt.piped, tt.rolledBack}; got != want {
				t.Errorf("pipelined writes, pipelines rolled back: %v, want %v", got, want)
			}
		})
	}
}

type outcome struct {
	Name string
	Code fault.Code
}

// batchWrite is one write of a batch, and the code it must fail with.
type batchWrite struct {
	name string
	run  func() error
	want fault.Code
}

// waitPending waits until n writes of the business wait for its next batch.
func waitPending(t *testing.T, st *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		st.pgBatch.mu.Lock()
		got := len(st.pgBatch.pending[pgBiz])
		st.pgBatch.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes wait for the next batch, want %d", got, n)
		}
	}
}

// TestPipelineAnsweredOnceFlushed holds the flush of a pipeline that
// committed asynchronously: its write is visible (another instance reads
// it), the business's lock is free (another instance writes), and it is
// not answered until the flush is done; a flush that fails is answered as
// a failure, never as done.
func TestPipelineAnsweredOnceFlushed(t *testing.T) {
	a, b := pgPair(t, "the flush after an asynchronous commit")
	ctx := context.Background()
	if _, _, err := setPolicy(a, anyWrite, func(p *settings.LoginPolicy) { p.AttemptsPeriod = 6 }); err != nil {
		t.Fatal(err) // the first write of an object never seen takes the locked path
	}
	stored := func() (v int64) {
		t.Helper()
		if err := b.db.QueryRowContext(ctx, `SELECT version FROM settings WHERE business_id = ? AND kind = ?`,
			pgBiz, settings.LoginPolicyKind.Name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	flushing, release := make(chan struct{}), make(chan error)
	var hold atomic.Bool
	a.pgBatch.beforeFlush = func() error {
		if !hold.Load() {
			return nil
		}
		flushing <- struct{}{}
		return <-release
	}
	for _, c := range []struct {
		name  string
		flush error // what the held flush ends with
	}{
		{"flushed", nil},
		{"flush failed", errors.New("connection reset (injected)")},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A learns what is stored (B's write of the case before): once
			// its cache has it, one more write of its own, on the locked path.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				if _, v, err := Get(ctx, a, settings.LoginPolicyKind, pgBiz); err == nil && v == stored() {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("A's cache did not follow B's write within 10 s")
				}
			}
			if _, _, err := setPolicy(a, anyWrite, func(p *settings.LoginPolicy) { p.AttemptsPeriod++ }); err != nil {
				t.Fatal(err)
			}
			hold.Store(true)
			defer hold.Store(false)
			piped := a.pgBatch.piped.Load()
			before := stored()
			answered := make(chan error, 1)
			go func() {
				_, _, err := setPolicy(a, anyWrite, func(p *settings.LoginPolicy) { p.AttemptsPeriod++ })
				answered <- err
			}()
			select {
			case <-flushing:
			case err := <-answered:
				t.Fatalf("the write was answered (%v) with no flush of its commit", err)
			}
			if a.pgBatch.piped.Load() != piped+1 {
				t.Fatal("the write did not go through the pipeline")
			}
			if got := stored(); got != before+1 {
				t.Fatalf("version %d stored while the flush is held, want %d: the pipeline commits first", got, before+1)
			}
			select {
			case err := <-answered:
				t.Fatalf("the write was answered (%v) before its commit was flushed", err)
			case <-time.After(100 * time.Millisecond):
			}
			// The commit released the business's settings lock: another
			// instance's write goes through while the flush is held.
			if _, _, err := setPolicy(b, anyWrite, func(p *settings.LoginPolicy) { p.AttemptsPeriod++ }); err != nil {
				t.Fatal(err)
			}
			release <- c.flush
			if err := <-answered; (err == nil) != (c.flush == nil) {
				t.Errorf("answered %v after a flush that ended with %v", err, c.flush)
			}
		})
	}
}

// TestPipelineStatementLost: when the server no longer has a statement
// pgx keeps as prepared on a connection (a DISCARD or DEALLOCATE by a
// pooler or an operator), the batch on it is still made, and the statement
// is prepared again: the batches after it go through the pipeline, rather
// than each failing in turn. A lost write or first statement rolls its
// batch back to the locked path; a lost flush is run unprepared, since
// the batch has committed.
func TestPipelineStatementLost(t *testing.T) {
	for _, c := range []struct {
		name, sql  string
		rolledBack int64 // pipelines rolled back by the loss
	}{
		{"write", updateSettingSQL, 1},
		{"first statement", beginSQL, 1},
		{"flush", flushSQL, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, _ := pgPair(t, "a prepared statement the server lost: "+c.name)
			ctx := context.Background()
			a.w.DB.SetMaxOpenConns(1) // every batch on the one connection
			for range 3 {             // the first takes the locked path, the others the pipeline
				_, _, err := setPolicy(a, anyWrite, func(p *settings.LoginPolicy) { p.AttemptsPeriod++ })
				mustNot(t, err)
			}
			conn, err := a.w.DB.Conn(ctx)
			mustNot(t, err)
			var name string
			mustNot(t, conn.QueryRowContext(ctx, `SELECT name FROM pg_prepared_statements WHERE statement = $1`, c.sql).Scan(&name))
			_, err = conn.ExecContext(ctx, `DEALLOCATE "`+name+`"`)
			mustNot(t, err)
			conn.Close()
			rolledBack, piped := a.pgBatch.rolledBack.Load(), a.pgBatch.piped.Load()
			for i := range 10 {
				if _, _, err := setPolicy(a, anyWrite, func(p *settings.LoginPolicy) { p.AttemptsPeriod++ }); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
			}
			if n := a.pgBatch.rolledBack.Load() - rolledBack; n != c.rolledBack {
				t.Errorf("%d pipelines rolled back after the statement was lost, want %d", n, c.rolledBack)
			}
			if n, want := a.pgBatch.piped.Load()-piped, 10-c.rolledBack; n != want {
				t.Errorf("%d of 10 writes went through the pipeline, want %d", n, want)
			}
		})
	}
}

// TestPipelineFirstWrite: an object never written, known here at version 0
// (the write of another object whose rule reads it read it so), is inserted
// by the pipeline, at version 1 and with its audit row, as the locked path
// would have; a third instance reads it so, and A's next write of it,
// planned on version 1, goes through the pipeline too.
func TestPipelineFirstWrite(t *testing.T) {
	ctx := context.Background()
	a, _ := pgPair(t, "the pipeline's insert of an object never written")
	_, _, err := Get(ctx, a, settings.ChallengesKind, pgBiz) // cached, at version 0
	mustNot(t, err)
	_, _, err = Update(ctx, a, settings.SecurityKind, pgBiz, anyWrite, func(s *settings.Security) error {
		s.ChallengeCount = 2
		return nil
	})
	mustNot(t, err) // the locked path: it read the challenges at version 0
	deactivate := func(i int) func(*[]settings.Challenge) error {
		return func(cs *[]settings.Challenge) error {
			c := append([]settings.Challenge(nil), *cs...)
			c[i].Active = false
			*cs = c
			return nil
		}
	}
	piped := a.pgBatch.piped.Load()
	_, v, err := Update(ctx, a, settings.ChallengesKind, pgBiz, anyWrite, deactivate(0))
	mustNot(t, err)
	_, v2, err := Update(ctx, a, settings.ChallengesKind, pgBiz, anyWrite, deactivate(1))
	mustNot(t, err)
	_, c := pgPairOn(t, a)
	cs, stored, err := Get(ctx, c, settings.ChallengesKind, pgBiz)
	mustNot(t, err)
	audit, err := c.Audit(ctx, pgBiz, "", 100, 0)
	mustNot(t, err)
	active := 0
	for _, ch := range cs {
		if ch.Active {
			active++
		}
	}
	type result struct {
		Versions        [2]int64 // the two writes' answers
		Stored          int64
		Active          int
		AuditRows       int
		ThroughPipeline int64
	}
	got := result{[2]int64{v, v2}, stored, active, len(audit), a.pgBatch.piped.Load() - piped}
	want := result{[2]int64{1, 2}, 2, len(settings.DefaultChallenges()) - 2, 3, 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the first writes of the challenges (-want +got):\n%s", diff)
	}
}
