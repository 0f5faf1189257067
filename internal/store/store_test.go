package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/store/storetest"
)

// eachStore runs the contract against every database kind available:
// SQLite always, PostgreSQL when BIZSEC_TEST_POSTGRES is set.
func eachStore(t *testing.T, test func(t *testing.T, open func() *store.Store)) {
	eachStoreWith(t, func(t *testing.T, open func(...store.Option) *store.Store) {
		test(t, func() *store.Store { return open() })
	})
}

// eachStoreWith is eachStore with open taking the store's options; each
// open is another instance over the same database.
func eachStoreWith(t *testing.T, test func(t *testing.T, open func(...store.Option) *store.Store)) {
	if len(storetest.Kinds()) == 1 {
		t.Run("postgres", func(t *testing.T) { t.Skip("SKIP: the PostgreSQL half needs " + storetest.EnvPostgres) })
	}
	for _, kind := range storetest.Kinds() {
		t.Run(kind, func(t *testing.T) {
			database, dir := storetest.Database(t, kind)
			open := func(opts ...store.Option) *store.Store {
				st, err := store.Open(context.Background(), database, dir, opts...)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
			test(t, open)
		})
	}
}

func seed(t *testing.T, st *store.Store) (userID string) {
	t.Helper()
	ctx := context.Background()
	if err := st.CreateTenant(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	u, err := st.CreateUser(ctx, store.User{TenantID: "acme", Email: "A@acme.example", Name: "A", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestMigrationsConcurrent opens one new database from several instances at
// once, then again: every open succeeds and the schema is there once.
func TestMigrationsConcurrent(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		var wg sync.WaitGroup
		stores := make([]*store.Store, 4)
		for i := range stores {
			wg.Add(1)
			go func() { defer wg.Done(); stores[i] = open() }()
		}
		wg.Wait()
		seed(t, stores[0])
		if _, err := open().Business(context.Background(), "tenantbusiness.acme"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSettingsContract(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		seed(t, st)
		ctx := context.Background()
		const biz = "tenantbusiness.acme"
		if p, _, err := store.Get(ctx, st, settings.LoginPolicyKind, biz); err != nil || p != settings.DefaultLoginPolicy() {
			t.Fatalf("default policy: %+v %v", p, err)
		}
		if _, _, err := store.Get(ctx, st, settings.LoginPolicyKind, "tenantbusiness.nosuch"); fault.CodeOf(err) != fault.NotFound {
			t.Errorf("unknown business: %v", err)
		}
		anyVersion := store.Write{IfMatch: store.AnyVersion}
		got, _, err := store.Update(ctx, st, settings.LoginPolicyKind, biz, anyVersion, func(p *settings.LoginPolicy) error { p.AttemptsPeriod = 9; return nil })
		if err != nil || got.AttemptsPeriod != 9 {
			t.Fatalf("update: %+v %v", got, err)
		}
		if p, _, _ := store.Get(ctx, st, settings.LoginPolicyKind, biz); p.AttemptsPeriod != 9 {
			t.Errorf("read after update (cached): %d", p.AttemptsPeriod)
		}
		_, _, err = store.Update(ctx, st, settings.LoginPolicyKind, biz, anyVersion, func(p *settings.LoginPolicy) error {
			p.AttemptsPeriod = 11
			return fault.New(fault.Invalid, "no")
		})
		if fault.CodeOf(err) != fault.Invalid {
			t.Errorf("failed update: %v", err)
		}
		if p, _, _ := store.Get(ctx, open(), settings.LoginPolicyKind, biz); p.AttemptsPeriod != 9 {
			t.Errorf("a failed update was stored: %d", p.AttemptsPeriod)
		}
		// Concurrent read-modify-writes each count.
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := store.Update(ctx, st, settings.TwoFAKind, biz, anyVersion, func(t *settings.TwoFA) error { t.MaxAttempts++; return nil }); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if tf, _, _ := store.Get(ctx, open(), settings.TwoFAKind, biz); tf.MaxAttempts != settings.DefaultTwoFA().MaxAttempts+20 {
			t.Errorf("20 concurrent increments gave %d", tf.MaxAttempts)
		}
	})
}

func TestLockoutContract(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		seed(t, st)
		ctx := context.Background()
		policy := settings.LoginPolicy{MaxSequentialFailureAttemptsAllowed: 5, AttemptsPeriod: 10, SuspensionMinutes: 30}
		now := time.UnixMilli(1_700_000_000_000)
		var mu sync.Mutex
		suspensions, counted := 0, 0
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := st.Transact(ctx, func(tx *store.Tx) error {
					l, err := tx.Lockout("acme", "a@acme.example")
					if err != nil || l.Locked(now) {
						return err
					}
					mu.Lock()
					counted++
					if l.Fail(now, policy) {
						suspensions++
					}
					mu.Unlock()
					return tx.PutLockout("acme", "A@acme.example", l) // the email as another spelling: one record
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if counted != 5 || suspensions != 1 {
			t.Errorf("counted %d failures and %d suspensions, want 5 and 1", counted, suspensions)
		}
	})
}

func TestSessionContract(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		user := seed(t, st)
		ctx := context.Background()
		now := time.UnixMilli(1_700_000_000_000)
		mk := func(secret string, state string) auth.Session {
			return auth.Session{TokenHash: auth.HashSecret(secret), CSRFHash: auth.HashSecret("c" + secret), UserID: user,
				TenantID: "acme", State: state, IssuedAt: now, LastSeenAt: now}
		}
		for _, s := range []string{"one", "two"} {
			if err := st.CreateSession(ctx, mk(s, auth.StateActive), false); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.CreateSession(ctx, mk("three", auth.StateActive), true); err != nil {
			t.Fatal(err)
		}
		for s, want := range map[string]bool{"one": false, "two": false, "three": true} {
			if _, err := st.Session(ctx, auth.HashSecret(s)); (err == nil) != want {
				t.Errorf("session %s exists: %v, want %v", s, err == nil, want)
			}
		}
		if err := st.ReplaceSession(ctx, auth.HashSecret("gone"), mk("four", auth.StateActive)); fault.CodeOf(err) != fault.Unauthorized {
			t.Errorf("replacing a missing session: %v", err)
		}
		// 2FA: ten concurrent wrong guesses under MaxAttempts 3 use up the
		// code exactly: two are told "wrong", the rest find it void.
		pending := mk("pending", auth.StatePending)
		code, c := auth.NewCode(now, auth.HashSecret)
		pending.Code = c
		if err := st.CreateSession(ctx, pending, false); err != nil {
			t.Fatal(err)
		}
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		tf := settings.TwoFA{CodeValidSeconds: 300, MaxAttempts: 3}
		var mu sync.Mutex
		results := map[auth.CodeResult]int{}
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// As login's factor transaction: the session's lock
				// serializes the tries.
				r := auth.CodeVoid
				err := st.Transact(ctx, func(tx *store.Tx) error {
					r = auth.CodeVoid
					old, err := tx.LockSession(pending.TokenHash)
					if fault.CodeOf(err) == fault.NotFound {
						return nil
					} else if err != nil {
						return err
					}
					switch r = old.Code.Check(wrong, auth.HashSecret, now, tf); r {
					case auth.CodeWrong:
						return tx.SetCodeAttempts(pending.TokenHash, old.Code.Attempts)
					case auth.CodeVoid:
						return tx.EndSession(pending.TokenHash)
					}
					return tx.StartSession(mk("next"+string(rune('a'+i)), auth.StateActive), false)
				})
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				results[r]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if results[auth.CodeWrong] != 2 || results[auth.CodeVoid] != 8 {
			t.Errorf("results %v, want 2 wrong and 8 void", results)
		}
	})
}

func TestUsersContract(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		user := seed(t, st)
		ctx := context.Background()
		if _, err := st.CreateUser(ctx, store.User{TenantID: "acme", Email: " a@ACME.example", PasswordHash: "x"}); fault.CodeOf(err) != fault.Conflict {
			t.Errorf("duplicate email: %v", err)
		}
		if err := st.CreateTenant(ctx, "acme", ""); fault.CodeOf(err) != fault.Conflict {
			t.Errorf("duplicate tenant: %v", err)
		}
		if err := st.CreateTenant(ctx, "globex", "globex.example"); err != nil {
			t.Fatal(err)
		}
		if err := st.GrantRole(ctx, user, "tenantbusiness.globex", auth.RoleSiteAdmin); fault.CodeOf(err) != fault.Invalid {
			t.Errorf("role in another tenant: %v", err)
		}
		for host, want := range map[string]string{"globex.example": "globex", "anything.example": "acme"} {
			if got, err := st.TenantForHost(ctx, host); got != want || err != nil {
				t.Errorf("TenantForHost(%s) = %q, %v; want %q", host, got, err, want)
			}
		}
	})
}

func TestPruneContract(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		user := seed(t, st)
		ctx := context.Background()
		now := time.UnixMilli(1_800_000_000_000)
		sessIn := func(state, secret string, issued, seen time.Duration) {
			err := st.CreateSession(ctx, auth.Session{TokenHash: auth.HashSecret(secret), CSRFHash: []byte("c"), UserID: user,
				TenantID: "acme", State: state, IssuedAt: now.Add(-issued), LastSeenAt: now.Add(-seen)}, false)
			if err != nil {
				t.Fatal(err)
			}
		}
		sess := func(secret string, issued, seen time.Duration) { sessIn(auth.StateActive, secret, issued, seen) }
		sess("live", 10*time.Minute, time.Minute)        // default policy: 30 and 30 minutes
		sess("inactive", 20*time.Minute, 31*time.Minute) // idle too long
		sess("old", 31*time.Minute, time.Minute)         // active too long
		// Logins that stopped halfway: held a day, then gone.
		for _, state := range []string{auth.StatePending, auth.StatePassword, auth.StateEnrol} {
			sessIn(state, state+" abandoned", 25*time.Hour, 25*time.Hour)
			sessIn(state, state+" recent", time.Hour, time.Hour)
		}
		fail := func(email string, l auth.Lockout) {
			if err := st.Transact(ctx, func(tx *store.Tx) error { return tx.PutLockout("acme", email, l) }); err != nil {
				t.Fatal(err)
			}
		}
		fail("stale@x", auth.Lockout{Failures: 1, WindowStart: now.Add(-time.Hour)})
		fail("recent@x", auth.Lockout{Failures: 1, WindowStart: now.Add(-time.Minute)})
		fail("suspended@x", auth.Lockout{LockedUntil: now.Add(time.Minute), WindowStart: now.Add(-time.Hour)})
		st.Transact(ctx, func(tx *store.Tx) error { return tx.PutReset(user, []byte("old"), now.Add(-time.Hour)) })
		n, err := st.Prune(ctx, now, 30*time.Minute)
		if err != nil || n != 7 {
			t.Fatalf("pruned %d rows (%v), want 7: five sessions, one failure record, one reset", n, err)
		}
		for s, want := range map[string]bool{"live": true, "inactive": false, "old": false,
			"pending abandoned": false, "password abandoned": false, "enrol abandoned": false,
			"pending recent": true, "password recent": true, "enrol recent": true} {
			if _, err := st.Session(ctx, auth.HashSecret(s)); (err == nil) != want {
				t.Errorf("session %s kept: %v", s, err == nil)
			}
		}
		var kept auth.Lockout
		st.Transact(ctx, func(tx *store.Tx) (err error) { kept, err = tx.Lockout("acme", "suspended@x"); return err })
		if !kept.Locked(now) {
			t.Error("a live suspension was pruned")
		}
	})
}

// TestDataDirectoryPrivate: whatever modes the directory and files had,
// the store makes them private, and refuses a directory others can write.
func TestDataDirectoryPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // as packages and systemd's StateDirectory create it
	st, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	seed(t, st) // writes, so the WAL exists
	st.Close()
	for _, name := range []string{"", "bizsec.db", "bizsec.db-wal", "bizsec.db-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %04o, want private", filepath.Join(dir, name), fi.Mode().Perm())
		}
	}
	os.Chmod(filepath.Join(dir, "bizsec.db"), 0o644)
	if st, err := store.OpenSQLite(context.Background(), dir); err != nil {
		t.Fatal(err)
	} else {
		st.Close()
	}
	if fi, _ := os.Stat(filepath.Join(dir, "bizsec.db")); fi.Mode().Perm() != 0o600 {
		t.Errorf("a 0644 database was left %04o", fi.Mode().Perm())
	}
	os.Chmod(dir, 0o777)
	if _, err := store.OpenSQLite(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "can be written by other users") {
		t.Errorf("a world-writable directory: %v", err)
	}
}

// TestNewerDatabaseRefused: a database migrated by a newer bizsec is not
// served by this one.
func TestNewerDatabaseRefused(t *testing.T) {
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", store.SQLiteDSN(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version) VALUES (9999)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := store.OpenSQLite(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "written by a newer bizsec") {
		t.Errorf("open: %v", err)
	}
}

// TestSetPasswordEndsEverything: a new password ends the user's sessions
// and forgets their remembered devices in the same write.
func TestSetPasswordEndsEverything(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		user := seed(t, st)
		ctx := context.Background()
		now := time.UnixMilli(1_800_000_000_000)
		if err := st.CreateSession(ctx, auth.Session{TokenHash: auth.HashSecret("s"), CSRFHash: []byte("c"), UserID: user,
			TenantID: "acme", State: auth.StateActive, IssuedAt: now, LastSeenAt: now}, false); err != nil {
			t.Fatal(err)
		}
		if err := st.AddDevice(ctx, auth.HashSecret("device"), user, now); err != nil {
			t.Fatal(err)
		}
		if err := st.SetPassword(ctx, user, "new hash"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Session(ctx, auth.HashSecret("s")); err == nil {
			t.Error("a session outlived the password change")
		}
		if added, err := st.DeviceAdded(ctx, auth.HashSecret("device"), user); err != nil || !added.IsZero() {
			t.Errorf("a remembered device outlived the password change: %v %v", added, err)
		}
	})
}
