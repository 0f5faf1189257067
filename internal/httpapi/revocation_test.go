package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/store"
)

// TestRevocationIsImmediate: sessions and roles are served from memory, yet
// once a revoking request is answered, the revoked session or role is
// refused at once by the same instance. Each case warms the cache first.
func TestRevocationIsImmediate(t *testing.T) {
	e := newEnv(t)
	read := func(s *session) int {
		return e.do(call{method: "GET", path: settingsPath + "loginpolicy", as: s}).status
	}
	cases := []struct {
		name   string
		revoke func(s *session)
		want   int // the revoked session's next read
	}{
		{"logout", func(s *session) {
			e.do(call{method: "POST", path: "/api/login/logout", as: s})
		}, 401},
		{"endsession", func(s *session) {
			e.do(call{method: "GET", path: "/api/login/endsession", as: s})
		}, 401},
		{"renewal", func(s *session) {
			e.do(call{method: "POST", path: "/api/login/renewToken", as: s})
		}, 401},
		{"a login with ConcurrentLogin off", func(*session) {
			e.setPolicy(`{"ConcurrentLogin":"false"}`)
			e.login("admin@acme.example")
			e.setPolicy(`{"ConcurrentLogin":"true"}`)
		}, 401},
		{"a role change", func(*session) {
			if err := e.store.GrantRole(context.Background(), e.users["admin@acme.example"], business, auth.RoleAuditor); err != nil {
				t.Fatal(err)
			}
		}, 200}, // still may read as Auditor; the write below is refused
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for round := range 20 {
				e.store.GrantRole(context.Background(), e.users["admin@acme.example"], business, auth.RoleSiteAdmin)
				s := e.login("admin@acme.example")
				if got := read(s); got != 200 {
					t.Fatalf("round %d: warm read %d", round, got)
				}
				c.revoke(s)
				if got := read(s); got != c.want {
					t.Fatalf("round %d: read after %s: %d, want %d", round, c.name, got, c.want)
				}
				if c.want == 200 {
					if r := e.do(call{method: "PUT", path: settingsPath + "loginpolicy", body: `{"AttemptsPeriod":"7"}`, as: s}); r.status != 403 {
						t.Fatalf("round %d: write after the role change: %d, want 403", round, r.status)
					}
				}
			}
		})
	}
	t.Run("password reset", func(t *testing.T) {
		s := e.login("dev@acme.example")
		devID := e.users["dev@acme.example"]
		if r := e.do(call{method: "GET", path: "/api/users/" + devID + "/challenges", as: s}); r.status != 200 {
			t.Fatalf("warm: %d", r.status)
		}
		e.do(call{method: "POST", path: "/api/passwordmanagement/sendPasswordResetCode?emailAddress=dev@acme.example"})
		msgs := e.smtp.Messages()
		code := resetCodePattern.FindStringSubmatch(msgs[len(msgs)-1].Data)[1]
		r := e.do(call{method: "POST", path: "/api/login/authenticateWithPasswordResetCode",
			body: `{"Email":"dev@acme.example","PasswordResetCode":"` + code + `","NewPassword":"another password"}`})
		if r.status != 200 {
			t.Fatalf("reset: %d %s", r.status, r.body)
		}
		if r := e.do(call{method: "GET", path: "/api/users/" + devID + "/challenges", as: s}); r.status != 401 {
			t.Errorf("a session from before the reset: %d", r.status)
		}
	})
}

// TestRevocationAcrossInstances: instance B serves a session from memory;
// a logout and a role change on A are refused by B within the propagation
// bound (one second).
func TestRevocationAcrossInstances(t *testing.T) {
	e := twoInstances(t)
	b := e.instance()
	for range 5 {
		s := e.login("admin@acme.example")
		if r := e.do(call{method: "GET", path: settingsPath + "loginpolicy", as: s, via: b}); r.status != 200 {
			t.Fatalf("B warm: %d", r.status)
		}
		e.do(call{method: "POST", path: "/api/login/logout", as: s})
		d := waitFor(t, "logout on A seen by B", func() bool {
			return e.do(call{method: "GET", path: settingsPath + "loginpolicy", as: s, via: b}).status == 401
		})
		t.Logf("logout reached B in %v", d)
	}
	s := e.login("admin@acme.example")
	e.do(call{method: "GET", path: settingsPath + "loginpolicy", as: s, via: b})
	if err := e.store.GrantRole(context.Background(), e.users["admin@acme.example"], business, auth.RoleAuditor); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "role change seen by B", func() bool {
		return e.do(call{method: "PUT", path: settingsPath + "loginpolicy", body: `{"AttemptsPeriod":"7"}`, as: s, via: b}).status == 403
	})
}

// TestRoleChangeByAnotherProcess: on SQLite, a role changed by another
// process (the CLI) reaches the server's memory within a second.
func TestRoleChangeByAnotherProcess(t *testing.T) {
	e := newEnv(t)
	if e.database != "" {
		t.Skip("the change counter is SQLite's path; PostgreSQL notifies")
	}
	s := e.login("admin@acme.example")
	if r := e.do(call{method: "PUT", path: settingsPath + "loginpolicy", body: `{"AttemptsPeriod":"6"}`, as: s}); r.status != 200 {
		t.Fatalf("warm: %d", r.status)
	}
	other, err := store.OpenSQLite(context.Background(), e.dir) // as the CLI would
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.GrantRole(context.Background(), e.users["admin@acme.example"], business, auth.RoleAuditor); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, "role change by another process", func() bool {
		return e.do(call{method: "PUT", path: settingsPath + "loginpolicy", body: `{"AttemptsPeriod":"7"}`, as: s}).status == 403
	})
	t.Logf("seen after %v", time.Since(start))
}
