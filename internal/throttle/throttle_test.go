package throttle

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rate
		ok   bool
	}{
		{"120/1m", Rate{120, time.Minute}, true},
		{"3/15m", Rate{3, 15 * time.Minute}, true},
		{"0/1m", Rate{}, false},
		{"5", Rate{}, false},
		{"5/-1s", Rate{}, false},
		{"x/1m", Rate{}, false},
		{"10/5ns", Rate{}, false}, // an interval under a nanosecond
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRate(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("got %v, %v; want %v ok=%v", got, err, tc.want, tc.ok)
			}
		})
	}
}

// ledger is a GCRA in memory that counts how often it is asked: the store
// is the real ledger (its contract test covers it); this one lets the
// memory in front of it be tested alone.
type ledger struct {
	mu    sync.Mutex
	tat   map[string]time.Time
	asked int
}

func (l *ledger) Take(_ context.Context, now time.Time, cs []Charge) (int, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked++
	next := map[string]time.Time{}
	for i, c := range cs {
		t := l.tat[c.Key]
		if t.Before(now) {
			t = now
		}
		t = t.Add(c.Rate.Interval())
		if t.After(now.Add(c.Rate.Per)) {
			return i, t.Sub(now.Add(c.Rate.Per)), nil
		}
		next[c.Key] = t
	}
	for k, t := range next {
		l.tat[k] = t
	}
	return -1, 0, nil
}

func (l *ledger) GiveBack(_ context.Context, cs []Charge) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cs {
		l.tat[c.Key] = l.tat[c.Key].Add(-c.Rate.Interval())
	}
	return nil
}

func (l *ledger) ResetBudgets(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.tat {
		if k == key || strings.HasPrefix(k, key+"|") {
			delete(l.tat, k)
		}
	}
	return nil
}

func TestBudgets(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	real := now
	three := Rate{N: 3, Per: time.Minute}
	type step struct {
		name    string
		advance time.Duration // on both clocks, before the take
		real    time.Duration // on the real clock only
		charge  Charge
		reset   string
		ok      bool
		wait    time.Duration
		asked   int // the ledger's queries so far
	}
	a := Charge{Key: "a", Rate: three}
	aSub := Charge{Key: Sub("a", "x"), Rate: three}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"refusals are remembered for Recheck", []step{
			{name: "1", charge: a, ok: true, asked: 1},
			{name: "2", charge: a, ok: true, asked: 2},
			{name: "3", charge: a, ok: true, asked: 3},
			{name: "4 refused by the ledger", charge: a, wait: 20 * time.Second, asked: 4},
			{name: "5 refused from memory", charge: a, wait: 20 * time.Second, asked: 4},
			{name: "past Recheck the ledger is asked again", real: Recheck + time.Millisecond, charge: a, wait: 20 * time.Second, asked: 5},
			{name: "the refill is seen at once", advance: 20 * time.Second, charge: a, ok: true, asked: 6},
		}},
		{"reset clears the key and its sub-keys here", []step{
			{name: "1", charge: aSub, ok: true, asked: 1},
			{name: "2", charge: aSub, ok: true, asked: 2},
			{name: "3", charge: aSub, ok: true, asked: 3},
			{name: "4", charge: aSub, wait: 20 * time.Second, asked: 4},
			{name: "after reset", reset: "a", charge: aSub, ok: true, asked: 5},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &ledger{tat: map[string]time.Time{}}
			b := New(l, 10)
			b.clock = func() time.Time { return real }
			for _, s := range tc.steps {
				now, real = now.Add(s.advance), real.Add(s.advance+s.real)
				if s.reset != "" {
					if err := b.Reset(ctx, s.reset); err != nil {
						t.Fatal(err)
					}
				}
				ok, wait, err := b.Take(ctx, now, s.charge)
				if err != nil || ok != s.ok || wait != s.wait || l.asked != s.asked {
					t.Errorf("%s: ok %v wait %v asked %d (%v); want ok %v wait %v asked %d", s.name, ok, wait, l.asked, err, s.ok, s.wait, s.asked)
				}
			}
		})
	}
}

// TestBudgetsFullMemory: when the memory of refusals is full of keys an
// attacker invented, a real key's refusal is still a refusal (asked of the
// ledger), and a real key with tokens is never refused.
func TestBudgetsFullMemory(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	one := Rate{N: 1, Per: time.Hour}
	l := &ledger{tat: map[string]time.Time{}}
	b := New(l, 100)
	for i := range 1000 {
		k := Charge{Key: "invented" + string(rune('a'+i%26)) + strings.Repeat("x", i), Rate: one}
		b.Take(ctx, now, k)
		b.Take(ctx, now, k)
	}
	if len(b.refused) > 100 {
		t.Fatalf("%d refusals remembered, bound 100", len(b.refused))
	}
	real := Charge{Key: "real", Rate: one}
	if ok, _, _ := b.Take(ctx, now, real); !ok {
		t.Fatal("a real key with tokens was refused")
	}
	if ok, _, _ := b.Take(ctx, now, real); ok {
		t.Fatal("a real key without tokens was let through")
	}
}
