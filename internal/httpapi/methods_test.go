package httpapi_test

import (
	"net/http"
	"testing"
)

// TestMethodNotAllowedEverywhere: a wrong method on a route that exists
// gets 405 with Allow (and the fault body), not the catch-all's 404.
func TestMethodNotAllowedEverywhere(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ method, path, allow string }{
		{"GET", "/api/passwordmanagement/sendPasswordResetCode", "POST"},
		{"PUT", "/api/passwordmanagement/validatePasswordResetCode", "POST"},
		{"GET", "/api/login/authenticateWithPasswordResetCode", "POST"},
		{"POST", "/healthz", "GET, HEAD"},
		{"DELETE", "/readyz", "GET, HEAD"},
		{"POST", "/metrics", "GET, HEAD"},
		{"PUT", "/api/openapi.json", "GET, HEAD"},
		{"GET", "/api/login", "POST"},
	} {
		r := e.do(call{method: c.method, path: c.path})
		code, _ := r.fault()
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != c.allow || code != "MethodNotAllowed" {
			t.Errorf("%s %s: %d Allow %q fault %q, want 405 Allow %q", c.method, c.path, r.status, r.header.Get("Allow"), code, c.allow)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/api/openapi.json"} {
		if r := e.do(call{method: "GET", path: path}); r.status != http.StatusOK {
			t.Errorf("GET %s: %d", path, r.status)
		}
	}
	if r := e.do(call{method: "GET", path: "/no/such/thing"}); r.status != http.StatusNotFound {
		t.Errorf("an unknown path: %d, want 404", r.status)
	}
}

// TestAcceptQZero: a type with q=0 is never chosen, also when a wildcard
// in the same header would stand for it (RFC 9110 12.4.2); with nothing
// left the answer is 406.
func TestAcceptQZero(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	for _, c := range []struct {
		accept, want string
		status       int
	}{
		{"application/json;q=0, */*;q=0.1", "application/xml", 200},
		{"application/json;q=0, application/*", "application/xml", 200},
		{"application/json;q=0, application/xml;q=0, */*", "application/vnd.soa.v71+json", 200},
		{"application/json;q=0", "", 406},
		{"*/*;q=0", "", 406},
		{"application/xml;q=0, application/json;q=0.5", "application/json", 200},
	} {
		r := e.do(call{method: "GET", path: "/api/businesses/" + business + "/loginpolicy", as: admin,
			header: map[string]string{"Accept": c.accept}})
		if r.status != c.status || c.status == 200 && r.header.Get("Content-Type") != c.want {
			t.Errorf("Accept %q: %d %q, want %d %q", c.accept, r.status, r.header.Get("Content-Type"), c.status, c.want)
		}
	}
}
