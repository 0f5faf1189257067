package store

import (
	"context"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/settings"
)

// TestOwnNotificationKeepsTheCache: on PostgreSQL an instance's own
// settings write stays served from its cache when the write's notification
// comes back (no database read after each write), while another
// instance's write of the same object, notified from another backend,
// drops it at once.
func TestOwnNotificationKeepsTheCache(t *testing.T) {
	a, b := pgPair(t, "the cache of one PostgreSQL instance among several")
	ctx := context.Background()
	const biz = "tenantbusiness.acme"
	key := settingCacheKey(settings.LoginPolicyKind.Name, biz)
	cached := func(st *Store) (int64, bool) {
		v, ok := st.cache.entries.Load(key)
		if !ok {
			return 0, false
		}
		return v.(cachedDoc).version, true
	}
	// waitApplied waits until st has applied n more notifications than before.
	waitApplied := func(st *Store, before int64, n int64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); st.Feed().Changes < before+n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("notifications applied: %d, want %d", st.Feed().Changes, before+n)
			}
		}
	}
	set := func(st *Store, period int) int64 {
		t.Helper()
		_, v, err := Update(ctx, st, settings.LoginPolicyKind, biz, Write{IfMatch: AnyVersion, Actor: "t"}, func(p *settings.LoginPolicy) error {
			p.AttemptsPeriod = period
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := a.Feed().Changes
	v := set(a, 11)
	waitApplied(a, before, 1) // its own notification came back
	if got, ok := cached(a); !ok || got != v {
		t.Fatalf("after its own write's notification A's cache holds version %d (%v), want %d", got, ok, v)
	}
	before = a.Feed().Changes
	v2 := set(b, 12)
	waitApplied(a, before, 1)
	if _, ok := cached(a); ok {
		t.Fatal("B's write was notified and A still holds its own older value")
	}
	if p, got, err := Get(ctx, a, settings.LoginPolicyKind, biz); err != nil || got != v2 || p.AttemptsPeriod != 12 {
		t.Fatalf("A reads version %d (%d), want B's %d: %v", got, p.AttemptsPeriod, v2, err)
	}
}
