package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/store"
)

// TestTransact: what a Transact's function wrote commits with it, or not at
// all when it fails; concurrent Transacts, some failing, leave exactly the
// others' writes (SQLite commits them in groups, PostgreSQL one by one).
func TestTransact(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		ctx := context.Background()
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		const users = 12
		ids := make([]string, users)
		if err := st.CreateTenant(ctx, "acme", ""); err != nil {
			t.Fatal(err)
		}
		for i := range ids {
			u, err := st.CreateUser(ctx, store.User{TenantID: "acme", Email: fmt.Sprintf("u%d@acme.example", i), Name: "U", PasswordHash: "x"})
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = u.ID
		}
		boom := errors.New("boom")
		var wg sync.WaitGroup
		results := make([]error, users)
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = st.Transact(ctx, func(tx *store.Tx) error {
					if err := tx.PutReset(id, []byte("code"), now); err != nil {
						return err
					}
					if err := tx.AskReset(id, "Q1"); err != nil {
						return err
					}
					if i%3 == 0 {
						return boom
					}
					return nil
				})
			}()
		}
		wg.Wait()
		for i, id := range ids {
			r, err := st.ResetFor(ctx, id, []byte("code"))
			failed := i%3 == 0
			switch {
			case failed && !errors.Is(results[i], boom):
				t.Errorf("user %d: Transact returned %v, want its function's error", i, results[i])
			case failed && fault.CodeOf(err) != fault.Unauthorized:
				t.Errorf("user %d: a failed Transact left a reset (%+v, %v)", i, r, err)
			case !failed && (results[i] != nil || err != nil || r.ChallengeCode != "Q1"):
				t.Errorf("user %d: Transact %v; reset %+v, %v; want it committed with its question", i, results[i], r, err)
			}
		}
	})
}
