package httpapi_test

import (
	"testing"

	"github.com/bizsec/bizsec/internal/auth"
)

// BenchmarkLoginFailure compares the cost of a login for an unknown email
// with that of a wrong password, with production argon2id parameters and
// AllowUserEnum disabled. Run: go test -run '^$' -bench LoginFailure ./internal/httpapi
func BenchmarkLoginFailure(b *testing.B) {
	e := newEnvWith(b, auth.DefaultParams)
	admin := e.login("admin@acme.example")
	e.put(admin, "securitysettings", `{"AllowUserEnum":"com.soa.feature.disabled"}`)
	for _, c := range []struct{ name, email string }{
		{"unknown-email", "nobody@acme.example"},
		{"wrong-password", "dev@acme.example"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if r := e.tryLogin(c.email, "not the password"); r.status != 401 {
					b.Fatalf("status %d", r.status)
				}
			}
		})
	}
}

// BenchmarkGetSettings measures an authenticated GET of the login policy.
func BenchmarkGetSettings(b *testing.B) {
	e := newEnv(b)
	admin := e.login("admin@acme.example")
	b.ResetTimer()
	for b.Loop() {
		e.get(admin, "loginpolicy")
	}
}
