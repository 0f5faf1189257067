package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/throttle"
)

// TestBudgetContract: a budget's tokens are exact under concurrency and
// across two stores on one database (two instances on PostgreSQL, the
// server and the CLI on SQLite), survive a reopen, refill at the rate, come
// back when given back, and a reset gives the key and its sub-keys full
// buckets while other keys keep theirs.
func TestBudgetContract(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		a, b := open(), open()
		ctx := context.Background()
		now := time.UnixMilli(1_800_000_000_000)
		rate := throttle.Rate{N: 10, Per: 10 * time.Minute} // one token a minute
		acct := throttle.Charge{Key: "fail:acme/a@x", Rate: rate}
		sub := throttle.Charge{Key: throttle.Sub("fail:acme/a@x", "client:192.0.2.1"), Rate: rate}
		other := throttle.Charge{Key: "fail:acme/a@x.evil", Rate: rate}

		// concurrently makes 40 takes of charges at once, alternately on
		// the two stores, and counts those that went through.
		concurrently := func(charges ...throttle.Charge) int64 {
			var took atomic.Int64
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st := a
					if i%2 == 1 {
						st = b
					}
					i, _, err := st.Take(ctx, now, charges)
					if err != nil {
						t.Error(err)
					}
					if i < 0 {
						took.Add(1)
					}
				}()
			}
			wg.Wait()
			return took.Load()
		}
		if took := concurrently(acct); took != 10 {
			t.Fatalf("40 concurrent takes over two stores from a budget of 10 took %d", took)
		}

		// Concurrent takes of two charges, all or none: of 40 on a first
		// budget of 10, 10 go through, and the 30 refused leave the
		// second budget as they found it.
		p := throttle.Charge{Key: "pair:p", Rate: rate}
		q := throttle.Charge{Key: "pair:q", Rate: throttle.Rate{N: 100, Per: 100 * time.Minute}}
		took := concurrently(q, p)
		left := 0
		for left < 200 {
			if i, _, _ := a.Take(ctx, now, []throttle.Charge{q}); i >= 0 {
				break
			}
			left++
		}
		if took != 10 || left != 90 {
			t.Fatalf("40 concurrent pair takes: %d went through (want 10), the second budget has %d left (want 90)", took, left)
		}

		i, wait, err := a.Take(ctx, now, []throttle.Charge{acct})
		if err != nil || i != 0 || wait != time.Minute {
			t.Fatalf("a spent budget: refused %d, wait %v, %v; want 0, 1m0s", i, wait, err)
		}
		// All or none: a take whose second charge is refused takes nothing
		// from the first.
		if i, wait, err := b.Take(ctx, now, []throttle.Charge{other, acct}); i != 1 || wait != time.Minute || err != nil {
			t.Fatalf("the spent charge is %d, wait %v, %v; want 1, 1m0s", i, wait, err)
		}
		for range 10 {
			if i, _, _ := b.Take(ctx, now, []throttle.Charge{other}); i >= 0 {
				t.Fatal("a refused take charged the other key")
			}
		}

		// A reopened store sees the spent budget.
		c := open()
		if i, _, _ := c.Take(ctx, now, []throttle.Charge{acct}); i != 0 {
			t.Fatal("a reopened store forgot the spent budget")
		}
		// One token per minute comes back.
		if i, _, _ := c.Take(ctx, now.Add(time.Minute), []throttle.Charge{acct}); i >= 0 {
			t.Fatal("no token a minute later")
		}
		if i, _, _ := c.Take(ctx, now.Add(time.Minute), []throttle.Charge{acct}); i != 0 {
			t.Fatal("two tokens a minute later")
		}
		// A token given back can be taken again.
		if err := a.GiveBack(ctx, []throttle.Charge{acct}); err != nil {
			t.Fatal(err)
		}
		if i, _, _ := b.Take(ctx, now.Add(time.Minute), []throttle.Charge{acct}); i >= 0 {
			t.Fatal("the token given back is not there")
		}

		// Charges given back together: each key gets back its own token
		// (its own interval) for each time it is given, and a key not given
		// back gets nothing.
		takes := func(ch throttle.Charge) int {
			for n := 0; n < 50; n++ {
				i, _, err := a.Take(ctx, now, []throttle.Charge{ch})
				if err != nil {
					t.Fatal(err)
				}
				if i >= 0 {
					return n
				}
			}
			return 50
		}
		x := throttle.Charge{Key: "client:198.51.100.1", Rate: rate}
		y := throttle.Charge{Key: "client:198.51.100.2", Rate: throttle.Rate{N: 20, Per: 10 * time.Minute}}
		z := throttle.Charge{Key: "client:198.51.100.3", Rate: rate}
		for _, ch := range []throttle.Charge{x, y, z} {
			takes(ch)
		}
		if err := b.GiveBack(ctx, []throttle.Charge{x, y, y}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			ch   throttle.Charge
			want int
		}{{x, 1}, {y, 2}, {z, 0}} {
			if n := takes(c.ch); n != c.want {
				t.Errorf("%s: %d takes after the give-back, want %d", c.ch.Key, n, c.want)
			}
		}

		// Reset: the key and its sub-keys are full, a key that merely shares
		// the prefix is not.
		for range 10 {
			a.Take(ctx, now, []throttle.Charge{sub})
		}
		if err := b.ResetBudgets(ctx, "fail:acme/a@x"); err != nil {
			t.Fatal(err)
		}
		for _, ch := range []throttle.Charge{acct, sub} {
			for n := range 10 {
				if i, _, _ := a.Take(ctx, now.Add(time.Minute), []throttle.Charge{ch}); i >= 0 {
					t.Fatalf("%s after reset: take %d refused", ch.Key, n+1)
				}
			}
		}
		if i, _, _ := a.Take(ctx, now, []throttle.Charge{other}); i != 0 {
			t.Fatal("resetting a key reset another key with the same prefix")
		}

		// Full buckets are pruned, spent ones are not.
		if _, err := a.Prune(ctx, now.Add(time.Hour), 30*time.Minute); err != nil {
			t.Fatal(err)
		}
		if i, _, _ := a.Take(ctx, now.Add(time.Hour), []throttle.Charge{other}); i >= 0 {
			t.Fatal("an hour later the budget is not full")
		}
	})
}
