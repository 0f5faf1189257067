package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/bizsec/bizsec/internal/settings"
)

// TestGroupCommitIsolatesFailures: writes that SQLite's writer commits
// together each run in a savepoint of their own, so one that fails (or
// panics) rolls back alone and the others commit; what it wrote before
// failing is gone.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	st := openSQLite(t)
	ctx := context.Background()
	boom := errors.New("boom")
	const writes = 60
	var wg sync.WaitGroup
	results := make([]error, writes)
	for i := range writes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = st.inTx(ctx, func(tx *txn) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO budgets (key, tat) VALUES (?, ?)`, fmt.Sprint("k", i), i); err != nil {
					return err
				}
				switch i % 3 {
				case 1:
					return boom
				case 2:
					if i%2 == 0 {
						panic("a write panics")
					}
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range results {
		var n int
		if err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM budgets WHERE key = ?`, fmt.Sprint("k", i)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		failed := i%3 == 1 || i%3 == 2 && i%2 == 0
		if failed != (err != nil) || failed == (n == 1) {
			t.Errorf("write %d: err %v, row kept %v; want failed=%v and its row gone only then", i, err, n == 1, failed)
		}
	}
}

// TestBatchCarriesTheObject: in one batch of the SQLite writer, a settings
// write that directly follows one of the same object starts from what that
// one left; one that follows anything else (another job that changed the
// row, a write that failed) reads it again. Every write lands at its own
// version and none is lost.
func TestBatchCarriesTheObject(t *testing.T) {
	st := sqliteWithTenant(t)
	ctx := context.Background()
	biz := RootBusinessID("acme")
	add := func(n int) func(*settings.LoginPolicy) error {
		return func(p *settings.LoginPolicy) error { p.AttemptsPeriod += n; return nil }
	}
	job := func(fn func(*txn) error) writeJob {
		return writeJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	}
	put := func(fn func(*settings.LoginPolicy) error) writeJob {
		var c change[settings.LoginPolicy]
		return job(putSQLite(ctx, st, settings.LoginPolicyKind, biz, Write{Actor: "t", IfMatch: AnyVersion}, fn, &c))
	}
	// Another kind of job changes the stored object under the batch (as a
	// restore or a migration might): the write after it must see that.
	bump := job(func(tx *txn) error {
		p := settings.DefaultLoginPolicy()
		p.AttemptsPeriod = 1000
		doc, _ := json.Marshal(p)
		_, err := tx.ExecContext(ctx, `UPDATE settings SET doc = ?, version = version + 1 WHERE business_id = ? AND kind = ?`,
			string(doc), biz, settings.LoginPolicyKind.Name)
		return err
	})
	failing := put(func(p *settings.LoginPolicy) error { p.AttemptsPeriod = 1; return errors.New("refused") })
	batch := []writeJob{put(add(1)), put(add(1)), bump, put(add(1)), failing, put(add(1)), put(add(1))}
	// The batch runs inside a job of the writer, which holds the one
	// connection: its savepoints nest in that job's transaction.
	if err := st.inTx(ctx, func(tx *txn) error {
		st.commitBatch(func(_ context.Context, fn func(*txn) error) error { return fn(tx) }, batch)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, j := range batch {
		if err := <-j.done; (err != nil) != (i == 4) {
			t.Errorf("job %d: %v", i, err)
		}
	}
	p, version, err := Get(ctx, st, settings.LoginPolicyKind, biz)
	if err != nil {
		t.Fatal(err)
	}
	// 1000 from the bump, then three more; versions 1, 2, the bump's 3, then 4, 5, 6.
	if p.AttemptsPeriod != 1003 || version != 6 {
		t.Errorf("AttemptsPeriod %d at version %d, want 1003 at 6", p.AttemptsPeriod, version)
	}
	var audited int
	if err := st.db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT version) FROM audit WHERE business_id = ? AND kind = ?`,
		biz, settings.LoginPolicyKind.Name).Scan(&audited); err != nil || audited != 5 {
		t.Errorf("%d audited versions (%v), want 5: each write at its own", audited, err)
	}
}

// openSQLite opens a store on a new SQLite database, closed when the test
// ends.
func openSQLite(t testing.TB) *Store {
	t.Helper()
	st, err := OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// sqliteWithTenant is openSQLite with the tenant acme.
func sqliteWithTenant(t testing.TB) *Store {
	t.Helper()
	st := openSQLite(t)
	if err := st.CreateTenant(context.Background(), "acme", ""); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestWriterReplacesALostConnection: a write that loses the writer's
// connection in the middle of its transaction fails alone; the writer
// takes a new connection (and ends the transaction the lost one left
// open), and the writes after it commit.
func TestWriterReplacesALostConnection(t *testing.T) {
	st := sqliteWithTenant(t)
	ctx := context.Background()
	biz := RootBusinessID("acme")
	bump := func() error {
		_, _, err := Update(ctx, st, settings.LoginPolicyKind, biz, Write{Actor: "t", IfMatch: AnyVersion},
			func(p *settings.LoginPolicy) error { p.AttemptsPeriod++; return nil })
		return err
	}
	if err := bump(); err != nil {
		t.Fatal(err)
	}
	err := st.inTx(ctx, func(tx *txn) error {
		if tx.w == nil {
			return errors.New("the write ran without the writer's connection")
		}
		tx.w.c.Close() // the connection goes back to the pool with the transaction open
		_, err := tx.ExecContext(ctx, `UPDATE businesses SET id = id WHERE id = ?`, biz)
		return err
	})
	if !errors.Is(err, sql.ErrConnDone) {
		t.Fatalf("the write that lost the connection: %v, want sql.ErrConnDone", err)
	}
	for i := range 3 {
		if err := bump(); err != nil {
			t.Fatalf("write %d after the lost connection: %v", i, err)
		}
	}
	st.cache.invalidate(settingCacheKey(settings.LoginPolicyKind.Name, biz))
	p, version, err := Get(ctx, st, settings.LoginPolicyKind, biz)
	if want := settings.DefaultLoginPolicy().AttemptsPeriod + 4; err != nil || p.AttemptsPeriod != want || version != 4 {
		t.Errorf("AttemptsPeriod %d at version %d (%v), want %d at 4", p.AttemptsPeriod, version, err, want)
	}
}
