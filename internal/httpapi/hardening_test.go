package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/httpapi"
	"github.com/bizsec/bizsec/internal/login"
)

// TestMetricsLabelsBounded: invented methods and long paths cannot grow
// the metrics or the log: methods outside the standard ones count as OTHER.
func TestMetricsLabelsBounded(t *testing.T) {
	e := newEnv(t)
	for i := range 20 {
		e.do(call{method: "FROB" + strings.Repeat("X", 1000+i), path: "/api/login"})
	}
	e.do(call{method: "GET", path: "/api/" + strings.Repeat("a", 16<<10)})
	m := string(e.do(call{method: "GET", path: "/metrics"}).body)
	if strings.Contains(m, "FROBX") || !strings.Contains(m, `method="OTHER"`) {
		t.Errorf("metrics carry invented methods or lack OTHER")
	}
	if len(m) > 200<<10 {
		t.Errorf("/metrics is %d bytes", len(m))
	}
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if len(line) > 2<<10 {
			t.Errorf("a log line of %d bytes: the client's path is not clipped", len(line))
			break
		}
	}
}

// TestOpsListener: with OpsSeparate the public handler shows neither
// /metrics nor /readyz; the ops handler does.
func TestOpsListener(t *testing.T) {
	e := newEnv(t)
	api, svc := wire(login.Config{Hasher: e.hasher}, httpapi.Config{Store: e.store, OpsSeparate: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer svc.Close()
	public := httptest.NewServer(api.Handler())
	defer public.Close()
	ops := httptest.NewServer(api.OpsHandler())
	defer ops.Close()
	for _, path := range []string{"/metrics", "/readyz"} {
		if r := e.do(call{method: "GET", path: path, via: public}); r.status != 404 {
			t.Errorf("public %s: %d, want 404", path, r.status)
		}
		if r := e.do(call{method: "GET", path: path, via: ops}); r.status != 200 {
			t.Errorf("ops %s: %d, want 200", path, r.status)
		}
	}
}

// TestAuthenticationBeforeExistence: an anonymous request gets the same
// 401 for an ID that exists and one that does not.
func TestAuthenticationBeforeExistence(t *testing.T) {
	e := newEnv(t)
	for _, pair := range [][2]string{
		{settingsPath + "loginpolicy", "/api/businesses/tenantbusiness.nosuch/loginpolicy"},
		{"/api/users/" + e.users["dev@acme.example"] + "/challenges", "/api/users/00000000-0000-0000-0000-000000000000.acmepaymentscorp/challenges"},
	} {
		known, unknown := e.do(call{method: "GET", path: pair[0]}), e.do(call{method: "GET", path: pair[1]})
		if known.status != 401 || unknown.status != 401 || string(known.body) != string(unknown.body) {
			t.Errorf("%s: %d %s; %s: %d %s", pair[0], known.status, known.body, pair[1], unknown.status, unknown.body)
		}
	}
	admin := e.login("admin@acme.example")
	if r := e.do(call{method: "GET", path: "/api/businesses/tenantbusiness.nosuch/loginpolicy", as: admin}); r.status != 404 {
		t.Errorf("a logged-in user asking for an unknown business: %d, want 404", r.status)
	}
}

// TestResetRequestsAlike: with AllowUserEnum disabled, a reset for a known
// and an unknown email get the same answer and do the same work in the
// request path (a queued row); the known one's code is mailed after.
func TestResetRequestsAlike(t *testing.T) {
	e := newEnv(t)
	e.put(e.login("admin@acme.example"), "securitysettings", `{"AllowUserEnum":"com.soa.feature.disabled"}`)
	before := len(e.smtp.Messages())
	known := e.do(call{method: "POST", path: "/api/passwordmanagement/sendPasswordResetCode?emailAddress=dev@acme.example"})
	unknown := e.do(call{method: "POST", path: "/api/passwordmanagement/sendPasswordResetCode?emailAddress=ghost@acme.example"})
	if known.status != 200 || unknown.status != 200 || string(known.body) != string(unknown.body) {
		t.Fatalf("known %d %q, unknown %d %q", known.status, known.body, unknown.status, unknown.body)
	}
	e.waitMail("dev@acme.example", "Reset your password")
	e.settle()
	if n := len(e.smtp.Messages()) - before; n != 1 {
		t.Errorf("%d mails, want 1 (to the known email only)", n)
	}
}

// TestCodesStoredAsMAC: a pending 2FA code is stored as a MAC under the
// server key, not as a bare hash of six digits.
func TestCodesStoredAsMAC(t *testing.T) {
	e := newEnv(t)
	e.put(e.login("admin@acme.example"), "twofasettings", `{"TwoFAEnabled":true,"RecurrenceMode":"twofa.each.login"}`)
	pending := e.pendingLogin("dev@acme.example")
	code := e.lastCode("dev@acme.example")
	token, _ := auth.ParseToken(pending.token)
	sess, err := e.store.SessionFromDB(context.Background(), auth.HashSecret(token))
	if err != nil {
		t.Fatal(err)
	}
	if string(sess.Code.Hash) == string(auth.HashSecret(code)) || string(sess.Code.Hash) != string(e.box.MAC(code)) {
		t.Errorf("the stored code is not its MAC under the server key")
	}
}

// TestSessionEdges: logout and renewal need the CSRF header of a live
// session; a reset forgets remembered devices; a user can forget theirs.
func TestSessionEdges(t *testing.T) {
	e := newEnv(t)
	s := e.login("dev@acme.example")
	for _, c := range []call{
		{method: "POST", path: "/api/login/logout", as: s, noCSRF: true},
		{method: "GET", path: "/api/login/endsession", as: s, noCSRF: true},
		{method: "POST", path: "/api/login/renewToken", as: s, noCSRF: true},
	} {
		if r := e.do(c); r.status != 401 {
			t.Errorf("%s %s without the CSRF header: %d", c.method, c.path, r.status)
		}
	}
	if r := e.do(call{method: "GET", path: "/api/login/status", as: s}); r.status != 200 {
		t.Fatalf("the session did not survive the cross-site attempts: %d", r.status)
	}

	admin := e.login("admin@acme.example")
	e.put(admin, "twofasettings", `{"TwoFAEnabled":true,"RecurrenceMode":"twofa.login.new.device"}`)
	device := func() *http.Cookie {
		p := e.pendingLogin("dev@acme.example")
		r := e.enterCode(p, e.lastCode("dev@acme.example"))
		c := r.cookie("2fa_cookie")
		if c == nil {
			t.Fatalf("no device cookie: %v", r.header)
		}
		return c
	}
	direct := func(c *http.Cookie) bool {
		r := e.do(call{method: "POST", path: "/api/login", cookies: []*http.Cookie{c},
			body: `{"email":"dev@acme.example","password":"` + password + `"}`})
		return r.status == 200 && !regexp.MustCompile(`"pendingTasks":\["2fa`).Match(r.body)
	}
	c := device()
	if !direct(c) {
		t.Fatal("the remembered device was asked for a code")
	}
	live := sessionOf(tenant, e.enterCode(e.pendingLogin("dev@acme.example"), e.lastCode("dev@acme.example")))
	if r := e.do(call{method: "DELETE", path: "/api/users/" + e.users["dev@acme.example"] + "/devices", as: live}); r.status != 204 {
		t.Fatalf("forget devices: %d %s", r.status, r.body)
	}
	if direct(c) {
		t.Error("a forgotten device skipped 2FA")
	}
	c = device()
	e.do(call{method: "POST", path: "/api/passwordmanagement/sendPasswordResetCode?emailAddress=dev@acme.example"})
	msgs := e.smtp.Messages()
	code := resetCodePattern.FindStringSubmatch(msgs[len(msgs)-1].Data)[1]
	body, _ := json.Marshal(map[string]string{"Email": "dev@acme.example", "PasswordResetCode": code, "NewPassword": "a new password"})
	if r := e.do(call{method: "POST", path: "/api/login/authenticateWithPasswordResetCode", body: string(body)}); r.status != 200 {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	r := e.do(call{method: "POST", path: "/api/login", cookies: []*http.Cookie{c},
		body: `{"email":"dev@acme.example","password":"a new password"}`})
	if !regexp.MustCompile(`"pendingTasks":\["2fa`).Match(r.body) {
		t.Errorf("a device remembered before the reset skipped 2FA: %s", r.body)
	}
}

// TestActiveContent: question text and file names must be plain text,
// and the strict upload policy refuses files that carry script.
func TestActiveContent(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "securitysettings", `{"AllowedFileTypes":"image/png,image/svg+xml,application/xml"}`)
	for _, q := range []string{`<script>alert(1)</script>`, `<details open ontoggle=alert(1)>`, `<a href=javascript:alert(1)>x</a>`, "Pet\u202Eeman?"} {
		body, _ := json.Marshal(map[string]any{"Challenge": []map[string]any{
			{"ChallengeCode": "a", "ChallengeQuestion": "Q1?"}, {"ChallengeCode": "b", "ChallengeQuestion": "Q2?"},
			{"ChallengeCode": "c", "ChallengeQuestion": "Q3?"}, {"ChallengeCode": "d", "ChallengeQuestion": q}}})
		if r := e.do(call{method: "PUT", path: settingsPath + "challenges", body: string(body), as: admin}); r.status != 400 {
			t.Errorf("question %q: %d", q, r.status)
		}
	}
	upload := func(name, ct, body string) int {
		return e.do(call{method: "PUT", path: settingsPath + "files/" + name, body: body, as: admin,
			header: map[string]string{"Content-Type": ct}}).status
	}
	png := "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
	for _, c := range []struct {
		name, ct, body string
		status         int
	}{
		{"logo.svg", "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, 415},
		{"page.xml", "application/xml", `<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>`, 415},
		{"poly.png", "image/png", png + "<html><script>alert(1)</script></html>", 415},
		{"report\u202Efdp.png", "image/png", png, 400},
		{"ok.svg", "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>`, 200},
	} {
		if got := upload(c.name, c.ct, c.body); got != c.status {
			t.Errorf("%s: %d, want %d", c.name, got, c.status)
		}
	}
	r := e.do(call{method: "GET", path: settingsPath + "files/ok.svg", as: admin})
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("file served with CSP %q", csp)
	}
}

// TestSecurityCheck: the standards check rates the business's current
// settings, for Auditors too, and follows a change at once.
func TestSecurityCheck(t *testing.T) {
	e := newEnv(t)
	auditor := e.login("auditor@acme.example")
	status := func() (map[string]string, bool) {
		r := e.do(call{method: "GET", path: settingsPath + "securitycheck", as: auditor})
		var out struct {
			Finding []struct{ ID, Requirement, Status, Reason string }
			Failing bool
		}
		if err := json.Unmarshal(r.body, &out); r.status != 200 || err != nil {
			t.Fatalf("securitycheck: %d %s", r.status, r.body)
		}
		m := map[string]string{}
		for _, f := range out.Finding {
			m[f.ID] = f.Status
		}
		return m, out.Failing
	}
	got, failing := status()
	if got["lockout"] != "fail" || got["second-factor"] != "fail" || !failing {
		t.Errorf("defaults: %v failing %v", got, failing)
	}
	e.setPolicy(`{"MaxSequentialFailureAttemptsAllowed":"10","AttemptsPeriod":"15","SuspensionMinutes":"15"}`)
	if got, _ := status(); got["lockout"] != "pass" {
		t.Errorf("after turning suspension on: %v", got)
	}
	if r := e.do(call{method: "GET", path: settingsPath + "securitycheck"}); r.status != 401 {
		t.Errorf("anonymous: %d", r.status)
	}
}

// TestMetricsFromTheStart: the build is described, and outcome counters
// exist at zero before their first event.
func TestMetricsFromTheStart(t *testing.T) {
	e := newEnv(t)
	m := string(e.do(call{method: "GET", path: "/metrics"}).body)
	for _, want := range []string{`bizsec_build_info{goversion="go`, `bizsec_logins_total{outcome="captcha_refused"} 0`,
		`bizsec_logins_total{outcome="throttled"} 0`, `bizsec_twofa_total{outcome="void"} 0`,
		"bizsec_change_feed_live 1", "bizsec_change_feed_lag_seconds 0."} {
		if !strings.Contains(m, want) {
			t.Errorf("no %s in /metrics", want)
		}
	}
}

// TestBearerToken: the auth cookie's value works as a bearer token, for
// tools that cannot name a per-tenant cookie; it needs no CSRF header (no
// browser sends it by itself), and a wrong one is refused.
func TestBearerToken(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	do := func(method, path, token, body string) int {
		return e.do(call{method: method, path: path, body: body, header: map[string]string{"Authorization": "Bearer " + token}}).status
	}
	if got := do("GET", settingsPath+"loginpolicy", admin.token, ""); got != 200 {
		t.Errorf("GET with the bearer token: %d", got)
	}
	if got := do("PUT", settingsPath+"loginpolicy", admin.token, `{"AttemptsPeriod":"7"}`); got != 200 {
		t.Errorf("PUT with the bearer token, no CSRF header: %d", got)
	}
	if got := do("GET", settingsPath+"loginpolicy", "TokenID%3Dforged", ""); got != 401 {
		t.Errorf("a forged bearer token: %d", got)
	}
	// With the cookie, the CSRF header is still needed.
	if r := e.do(call{method: "PUT", path: settingsPath + "loginpolicy", body: `{"AttemptsPeriod":"8"}`, as: admin, noCSRF: true,
		header: map[string]string{"Authorization": "Bearer " + admin.token}}); r.status != 401 {
		t.Errorf("cookie and bearer, no CSRF header: %d", r.status)
	}
}
