package httpapi_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFactorPolicyObject: the factor policy is served like the other
// settings objects: defaults that keep today's behaviour, a PUT that
// merges, XML, ETags, strict decoding, policies that would lock users out
// refused with nothing stored, and an audit entry per change.
func TestFactorPolicyObject(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	auditor := e.login("auditor@acme.example")
	dev := e.login(devEmail)
	defaults := `{"AllowEmailCode":true,"AllowTOTP":true,"AllowWebAuthn":true,"AllowRecoveryCodes":true,"EmailCodeFallback":false,` +
		`"StrongFactorRequired":"Nobody","EnrolmentGraceDays":14,"WebAuthnUserVerification":"preferred"}`
	if d := cmp.Diff(compact(t, []byte(defaults)), compact(t, e.get(auditor, "factorpolicy"))); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}
	if r := e.do(call{method: "GET", path: settingsPath + "factorpolicy", as: dev}); r.status != 403 {
		t.Errorf("a plain user's GET: %d, want 403", r.status)
	}
	if r := e.do(call{method: "PUT", path: settingsPath + "factorpolicy", as: auditor, body: `{"AllowTOTP":false}`}); r.status != 403 {
		t.Errorf("an Auditor's PUT: %d, want 403", r.status)
	}
	got := e.put(admin, "factorpolicy", `{"StrongFactorRequired":"SiteAdmins","EnrolmentGraceDays":"3","EmailCodeFallback":"true"}`)
	want := strings.NewReplacer(`"Nobody"`, `"SiteAdmins"`, `:14`, `:3`, `"EmailCodeFallback":false`, `"EmailCodeFallback":true`).Replace(defaults)
	if d := cmp.Diff(compact(t, []byte(want)), compact(t, got)); d != "" {
		t.Errorf("a PUT merges (-want +got):\n%s", d)
	}
	xml := e.do(call{method: "GET", path: settingsPath + "factorpolicy", as: admin, header: map[string]string{"Accept": "application/vnd.soa.v81+xml"}})
	if xml.status != 200 || !strings.Contains(string(xml.body), "<StrongFactorRequired>SiteAdmins</StrongFactorRequired>") {
		t.Errorf("XML: %d %s", xml.status, xml.body)
	}
	etag := xml.header.Get("ETag")
	stale := e.do(call{method: "PUT", path: settingsPath + "factorpolicy", as: admin, body: `{"AllowTOTP":false}`,
		header: map[string]string{"If-Match": `"0"`}})
	if stale.status != 412 {
		t.Errorf("a PUT on an old version: %d, want 412", stale.status)
	}
	for _, c := range []struct{ name, body string }{
		{"unknown field", `{"AllowSMS":true}`},
		{"unknown choice", `{"StrongFactorRequired":"Interns"}`},
		{"grace out of bounds", `{"EnrolmentGraceDays":366}`},
		{"verification unknown", `{"WebAuthnUserVerification":"always"}`},
		{"no strong factor left to require", `{"AllowTOTP":false,"AllowWebAuthn":false}`},
		{"no email for users without a factor", `{"AllowEmailCode":false}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(call{method: "PUT", path: settingsPath + "factorpolicy", as: admin, body: c.body})
			if code, _ := r.fault(); r.status != 400 || code == "" {
				t.Errorf("PUT %s: %d %s, want a 400 fault", c.body, r.status, r.body)
			}
		})
	}
	after := e.do(call{method: "GET", path: settingsPath + "factorpolicy", as: admin})
	if after.header.Get("ETag") != etag {
		t.Errorf("a refused PUT changed the version: %s, was %s", after.header.Get("ETag"), etag)
	}
	e.put(admin, "factorpolicy", `{"AllowEmailCode":false,"StrongFactorRequired":"Everyone"}`)
	audit := string(e.do(call{method: "GET", path: settingsPath + "audit?setting=factorpolicy", as: admin}).body)
	if n := strings.Count(audit, `"Setting":"factorpolicy"`); n != 2 {
		t.Errorf("audit holds %d factorpolicy changes, want 2: %s", n, audit)
	}
}
