// Package throttle bounds how often a key (a client address, an account's
// failures, an address's mail) may do something. The budgets live in a
// Ledger that every instance shares (the database), so N instances allow
// the configured rate, not N times it, and a restart resets nothing. In
// front of the ledger a short memory of refusals keeps a flood of refused
// requests from costing the database a query each.
package throttle

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate is N events per Per, in bursts of up to N.
type Rate struct {
	N   int
	Per time.Duration
}

// ParseRate reads "N/duration", such as "120/1m" or "3/15m".
func ParseRate(s string) (Rate, error) {
	n, per, ok := strings.Cut(s, "/")
	r := Rate{}
	var err error
	if ok {
		r.N, err = strconv.Atoi(n)
		if err == nil {
			r.Per, err = time.ParseDuration(per)
		}
	}
	if !ok || err != nil || r.N < 1 || r.Per <= 0 || r.Per/time.Duration(r.N) <= 0 {
		return Rate{}, fmt.Errorf("rate %q: want N/duration with N >= 1, such as 120/1m", s)
	}
	return r, nil
}

func (r Rate) String() string { return strconv.Itoa(r.N) + "/" + r.Per.String() }

// Times is the rate with n times the events over the same period.
func (r Rate) Times(n int) Rate { return Rate{N: r.N * n, Per: r.Per} }

// Interval is the time one event's token takes to come back (GCRA's
// emission interval).
func (r Rate) Interval() time.Duration { return r.Per / time.Duration(r.N) }

// Charge is one token from one key's budget.
type Charge struct {
	Key  string
	Rate Rate
}

// Ledger keeps the budgets: a GCRA per key, where a full bucket is no row.
type Ledger interface {
	// Take takes one token from each charge's key, all or none. When one
	// has none it takes nothing and reports which (its index) and how long
	// until it has one.
	Take(ctx context.Context, now time.Time, charges []Charge) (refused int, wait time.Duration, err error)
	// GiveBack returns the tokens of a Take that turned out not to count
	// (the password was right).
	GiveBack(ctx context.Context, charges []Charge) error
	// ResetBudgets gives key, and every key below it (key + "|" + ...), a
	// full bucket again.
	ResetBudgets(ctx context.Context, key string) error
}

// Sub names a key below key, which ResetBudgets(key) resets too.
func Sub(key, sub string) string { return key + "|" + sub }

// Budgets takes from a Ledger. A refusal is remembered for at most
// Recheck, so a client hammering a spent budget costs the ledger one query
// per key per Recheck; memory holds at most maxKeys refusals, and when it
// is full new refusals are simply not remembered (asked of the ledger
// again), so keys an attacker invents can neither evict nor block others.
type Budgets struct {
	ledger  Ledger
	maxKeys int
	clock   func() time.Time // real time, for how long a refusal is trusted

	mu      sync.Mutex
	refused map[string]refusal
}

type refusal struct {
	until   time.Time // on the caller's clock: when the ledger said a token returns
	recheck time.Time // on the real clock: ask the ledger again after this
}

// Recheck is how long a refusal is answered from memory. An unlock or a
// refill that another instance made is seen within it.
const Recheck = time.Second

// New returns Budgets over l remembering at most maxKeys refusals.
func New(l Ledger, maxKeys int) *Budgets {
	return &Budgets{ledger: l, maxKeys: maxKeys, clock: time.Now, refused: map[string]refusal{}}
}

// Take takes one token from each charge's budget, all or none, at now. It
// reports whether it did and, if not, how long until it could.
func (b *Budgets) Take(ctx context.Context, now time.Time, charges ...Charge) (bool, time.Duration, error) {
	if wait, ok := b.remembered(now, charges); ok {
		return false, wait, nil
	}
	i, wait, err := b.ledger.Take(ctx, now, charges)
	if err != nil || i < 0 {
		return err == nil, 0, err
	}
	b.remember(charges[i].Key, now.Add(wait))
	return false, wait, nil
}

// GiveBack returns a Take's tokens.
func (b *Budgets) GiveBack(ctx context.Context, charges ...Charge) error {
	return b.ledger.GiveBack(ctx, charges)
}

// Reset gives key and the keys below it full budgets, here at once and on
// other instances within Recheck.
func (b *Budgets) Reset(ctx context.Context, key string) error {
	if err := b.ledger.ResetBudgets(ctx, key); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.refused {
		if k == key || strings.HasPrefix(k, key+"|") {
			delete(b.refused, k)
		}
	}
	return nil
}

func (b *Budgets) remembered(now time.Time, charges []Charge) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	real := b.clock()
	for _, c := range charges {
		r, ok := b.refused[c.Key]
		if !ok {
			continue
		}
		if real.After(r.recheck) || !now.Before(r.until) {
			delete(b.refused, c.Key)
			continue
		}
		return r.until.Sub(now), true
	}
	return 0, false
}

func (b *Budgets) remember(key string, until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	real := b.clock()
	if len(b.refused) >= b.maxKeys {
		for k, r := range b.refused {
			if real.After(r.recheck) {
				delete(b.refused, k)
			}
		}
		if len(b.refused) >= b.maxKeys {
			return
		}
	}
	b.refused[key] = refusal{until: until, recheck: real.Add(Recheck)}
}
