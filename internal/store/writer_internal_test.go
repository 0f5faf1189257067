package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestGroupCommitIsolatesFailures: writes that SQLite's writer commits
// together each run in a savepoint of their own, so one that fails (or
// panics) rolls back alone and the others commit; what it wrote before
// failing is gone.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	st, err := OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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
