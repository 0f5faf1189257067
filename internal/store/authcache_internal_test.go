package store

import (
	"context"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
)

// TestCacheReadRacesRevocation is the race the auth cache promises to win:
// a session read from the database that started before a revocation
// committed, and finishes after the revocation was acknowledged, is not
// kept, so the revoked session is never served from memory afterwards. The
// control case (no revocation) shows the same read is kept and served.
func TestCacheReadRacesRevocation(t *testing.T) {
	st := sqliteWithTenant(t)
	ctx := context.Background()
	u, err := st.CreateUser(ctx, User{TenantID: "acme", Email: "a@acme.example", Name: "A", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !st.auth.feed.live(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the change feed was not live within 10 s: the cache would serve nothing")
		}
	}
	now := time.Now()
	for _, c := range []struct {
		name   string
		revoke func(hash []byte) error // nil: no revocation
	}{
		{"no revocation", nil},
		{"session ended", func(hash []byte) error { return st.DeleteSession(ctx, hash) }},
		{"password changed", func([]byte) error { return st.ChangePassword(ctx, PasswordChange{UserID: u.ID, Hash: "y"}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			hash := auth.HashSecret("token " + c.name)
			sess := auth.Session{TokenHash: hash, CSRFHash: auth.HashSecret("csrf " + c.name), UserID: u.ID, TenantID: "acme",
				State: auth.StateActive, IssuedAt: now, LastSeenAt: now}
			if err := st.CreateSession(ctx, sess, false); err != nil {
				t.Fatal(err)
			}
			st.auth.dropSession(hash) // the read below is the one that fills the cache
			// The read starts (SessionFromDB's ticket and query) ...
			ticket := st.auth.ticket()
			read, err := readSession(ctx, st.db, hash)
			if err != nil {
				t.Fatal(err)
			}
			// ... the revocation commits and is acknowledged ...
			if c.revoke != nil {
				if err := c.revoke(hash); err != nil {
					t.Fatal(err)
				}
			}
			// ... and only then does the read finish and offer what it saw.
			st.auth.storeSession(read, ticket)
			_, cached := st.auth.session(hash)
			_, err = st.Session(ctx, hash)
			if c.revoke == nil {
				if !cached || err != nil {
					t.Errorf("with no revocation: cached %v, Session %v; want the read kept and served", cached, err)
				}
				return
			}
			if cached {
				t.Error("the revoked session is in the cache after the revocation was acknowledged")
			}
			if fault.CodeOf(err) != fault.NotFound && fault.CodeOf(err) != fault.Unauthorized {
				t.Errorf("Session after the revocation: %v, want the session gone", err)
			}
		})
	}
}

// TestCreateSessionReadsTheLimitFromMemory: a login's session creation
// reads the session limit it enforces before its transaction, through the
// settings cache, so the next login finds it in memory; a change of the
// limit is enforced by the next login all the same.
func TestCreateSessionReadsTheLimitFromMemory(t *testing.T) {
	st := sqliteWithTenant(t)
	ctx := context.Background()
	u, err := st.CreateUser(ctx, User{TenantID: "acme", Email: "a@acme.example", Name: "A", PasswordHash: "x"})
	mustNot(t, err)
	for deadline := time.Now().Add(10 * time.Second); !st.cache.feed.live(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the change feed was not live within 10 s: the cache would serve nothing")
		}
	}
	key := settingCacheKey(settings.SessionPolicyKind.Name, RootBusinessID("acme"))
	st.cache.invalidate(key)
	login := func(name string) {
		t.Helper()
		now := time.Now()
		mustNot(t, st.CreateSession(ctx, auth.Session{TokenHash: auth.HashSecret("token " + name), CSRFHash: auth.HashSecret("csrf " + name),
			UserID: u.ID, TenantID: "acme", State: auth.StateActive, IssuedAt: now, LastSeenAt: now}, false))
	}
	login("first")
	if _, ok := st.cache.get(key); !ok {
		t.Fatal("the session limit a login enforced is not in the settings cache")
	}
	login("second")
	_, _, err = Update(ctx, st, settings.SessionPolicyKind, RootBusinessID("acme"), Write{Actor: u.ID}, func(p *settings.SessionPolicy) error {
		p.MaximumSessions, p.AtLimit = 1, settings.EndOldestSession
		return nil
	})
	mustNot(t, err)
	login("third")
	live, err := st.UserSessions(ctx, u.ID)
	mustNot(t, err)
	if len(live) != 1 {
		t.Errorf("%d live sessions after a login under a limit of 1, want 1: the login did not enforce the new limit", len(live))
	}
}
