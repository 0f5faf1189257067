package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// TestConcurrentWritesOneObject sends many concurrent writes of one object,
// some refused (a stale If-Match), one that panics in its change: on
// SQLite they share the writer's batches, on PostgreSQL the business's
// batches (pgBatcher). Every good write is applied exactly once, in some
// order, each at its own version; a refused or failing write changes
// nothing and fails alone.
func TestConcurrentWritesOneObject(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		seed(t, st)
		ctx := context.Background()
		const biz, good, stale = "tenantbusiness.acme", 40, 10
		var wg sync.WaitGroup
		versions := make(chan int64, good)
		errs := make(chan error, good+stale+1)
		for i := range good + stale + 1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := store.Write{IfMatch: store.AnyVersion, Actor: "test"}
				if i >= good && i < good+stale {
					w.IfMatch = 1 << 40 // no object has this version
				}
				_, v, err := store.Update(ctx, st, settings.LoginPolicyKind, biz, w, func(p *settings.LoginPolicy) error {
					if i == good+stale {
						panic("a change that fails")
					}
					p.AttemptsPeriod++
					return nil
				})
				switch {
				case i < good && err != nil:
					errs <- err
				case i < good:
					versions <- v
				case i < good+stale && fault.CodeOf(err) != fault.PreconditionErr:
					errs <- errors.New("stale write: want PreconditionFailed, got " + errString(err))
				case i == good+stale && err == nil:
					errs <- errors.New("the failing change was acknowledged")
				}
			}()
		}
		wg.Wait()
		close(versions)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		seen := map[int64]bool{}
		for v := range versions {
			if seen[v] {
				t.Errorf("version %d answered twice", v)
			}
			seen[v] = true
		}
		p, v, err := store.Get(ctx, st, settings.LoginPolicyKind, biz)
		if err != nil {
			t.Fatal(err)
		}
		if want := settings.DefaultLoginPolicy().AttemptsPeriod + good; p.AttemptsPeriod != want || v != good || len(seen) != good {
			t.Errorf("after %d good writes: AttemptsPeriod %d (want %d), version %d, %d distinct versions answered",
				good, p.AttemptsPeriod, want, v, len(seen))
		}
		if p2, v2, err := store.Get(ctx, open(), settings.LoginPolicyKind, biz); err != nil || v2 != v || p2 != p {
			t.Errorf("another instance reads version %d (%d), this one %d (%d): %v", v2, p2.AttemptsPeriod, v, p.AttemptsPeriod, err)
		}
		audit, err := st.Audit(ctx, biz, "loginpolicy", 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(audit) != good {
			t.Errorf("%d audit entries, want one per good write (%d)", len(audit), good)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
