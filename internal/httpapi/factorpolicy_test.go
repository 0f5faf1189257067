package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

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

// ownSessions reads the user's own sessions: what only a live session may do.
func (e *env) ownSessions(s *session, email string) int {
	return e.do(call{method: "GET", path: "/api/users/" + e.users[email] + "/sessions", as: s}).status
}

// TestFactorPolicyAllows: a factor the policy disallows cannot be enrolled
// (403 in the platform's fault format) nor used at login; the emailed code
// as a fallback mails a user with an app, and either answers.
func TestFactorPolicyAllows(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	dev := e.login(devEmail)
	_, secret := e.enrolTOTP(dev, devEmail)
	e.twoFAOn(admin)

	e.put(admin, "factorpolicy", `{"AllowTOTP":false,"AllowRecoveryCodes":false}`)
	for _, kind := range []string{"totp", "../recoverycodes"} {
		path := factorsPath(e.users[devEmail]) + "/" + kind
		if kind == "../recoverycodes" {
			path = "/api/users/" + e.users[devEmail] + "/recoverycodes"
		}
		r := e.do(call{method: "POST", path: path, as: dev})
		if code, msg := r.fault(); r.status != 403 || code == "" || !strings.Contains(msg, "factor policy") {
			t.Errorf("POST %s while disallowed: %d %s, want a 403 fault naming the factor policy", path, r.status, r.body)
		}
	}
	// The app is not asked for, and its code does not log in; the emailed code does.
	mails := e.mailsTo(devEmail)
	e.clock.Advance(30 * time.Second)
	pending := e.pendingLogin(devEmail)
	if e.mailsTo(devEmail) != mails+1 {
		t.Fatalf("a user whose app is disallowed was not mailed a code")
	}
	if r := e.enterCode(pending, e.totp(secret, 0)); r.status != 401 {
		t.Errorf("a disallowed app's code: %d %s, want 401", r.status, r.body)
	}
	if r := e.enterCode(pending, e.lastCode(devEmail)); r.status != 200 {
		t.Errorf("the emailed code: %d %s", r.status, r.body)
	}

	// With the fallback, a user with an app is mailed too and either works.
	e.put(admin, "factorpolicy", `{"AllowTOTP":true,"EmailCodeFallback":true}`)
	for _, c := range []struct {
		name string
		code func() string
	}{
		{"the app's code", func() string { return e.totp(secret, 0) }},
		{"the emailed code", func() string { return e.lastCode(devEmail) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.clock.Advance(30 * time.Second)
			mails := e.mailsTo(devEmail)
			pending, a := e.strongLogin(devEmail)
			if d := cmp.Diff("[totp email]", fmt.Sprint(a.TwoFactor.Factors)); d != "" {
				t.Errorf("factors (-want +got):\n%s", d)
			}
			if e.mailsTo(devEmail) != mails+1 {
				t.Errorf("no code mailed with EmailCodeFallback")
			}
			if r := e.enterCode(pending, c.code()); r.status != 200 {
				t.Errorf("%s: %d %s", c.name, r.status, r.body)
			}
		})
	}
	// Without it (the default), no mail.
	e.put(admin, "factorpolicy", `{"EmailCodeFallback":false}`)
	mails = e.mailsTo(devEmail)
	e.strongLogin(devEmail)
	if e.mailsTo(devEmail) != mails {
		t.Error("a user with an app was mailed a code without the fallback")
	}
}

type enrolAnswer struct {
	LoginState   string   `json:"loginState"`
	PendingTasks []string `json:"pendingTasks"`
	TwoFactor    *struct {
		Factors  []string
		EnrolBy  string
		EnrolNow bool
	} `json:"twoFactor"`
}

func decodeEnrol(t *testing.T, r reply) enrolAnswer {
	t.Helper()
	var a enrolAnswer
	if err := json.Unmarshal(r.body, &a); r.status != 200 || err != nil {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	return a
}

// TestEnrolmentRequired: with StrongFactorRequired the login answers
// factor.enrolment: within the grace beside a live session (skipped by
// using it), after it with a session that only the enrolment routes take,
// live once an app is confirmed. A Site Admin's removal of the app puts
// the user back to enrolment, or with the policy off to the emailed code.
func TestEnrolmentRequired(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "factorpolicy", `{"StrongFactorRequired":"Everyone","EnrolmentGraceDays":2}`)

	r := e.tryLogin(devEmail, password)
	a := decodeEnrol(t, r)
	if d := cmp.Diff([]string{"factor.enrolment"}, a.PendingTasks); d != "" || a.TwoFactor == nil || a.TwoFactor.EnrolBy == "" {
		t.Fatalf("within the grace (-want +got):\n%s\n%s", d, r.body)
	}
	enrolBy, err := time.Parse(time.RFC3339, a.TwoFactor.EnrolBy)
	if err != nil || !enrolBy.Equal(e.clock.Now().Add(48*time.Hour).Truncate(time.Second)) {
		t.Errorf("EnrolBy %q, want two days from now (%v)", a.TwoFactor.EnrolBy, e.clock.Now().Add(48*time.Hour))
	}
	if dev := sessionOf(tenant, r); e.ownSessions(dev, devEmail) != 200 {
		t.Error("within the grace the session is not live: the task cannot be skipped")
	}
	// The grace counts from the first login under the requirement, not the latest.
	e.clock.Advance(47 * time.Hour)
	if a := decodeEnrol(t, e.tryLogin(devEmail, password)); a.TwoFactor == nil || a.TwoFactor.EnrolBy != rfc(enrolBy) {
		t.Errorf("a later login moved the grace: %+v", a.TwoFactor)
	}
	e.clock.Advance(2 * time.Hour)

	r = e.tryLogin(devEmail, password)
	a = decodeEnrol(t, r)
	held := sessionOf(tenant, r)
	if a.LoginState != "PendingTasks" || fmt.Sprint(a.PendingTasks) != "[factor.enrolment]" || held.token == "" || !a.TwoFactor.EnrolNow {
		t.Fatalf("past the grace: %s", r.body)
	}
	if st := e.ownSessions(held, devEmail); st != 401 {
		t.Errorf("a session held for enrolment read the user's sessions: %d, want 401", st)
	}
	// The login status describes the held session as its login did.
	status := e.do(call{method: "GET", path: "/api/login/status", host: "acme.example", as: held})
	if s := decodeEnrol(t, status); fmt.Sprint(s.PendingTasks) != "[factor.enrolment]" || s.TwoFactor == nil || !s.TwoFactor.EnrolNow {
		t.Errorf("login status of a held session: %d %s", status.status, status.body)
	}
	if st := e.do(call{method: "DELETE", path: factorsPath(e.users[devEmail]) + "/x", as: held}).status; st != 401 {
		t.Errorf("a session held for enrolment reached a removal: %d, want 401", st)
	}
	if st := e.do(call{method: "GET", path: factorsPath(e.users["admin@acme.example"]), as: held}).status; st != 403 {
		t.Errorf("a session held for enrolment listed another user's factors: %d, want 403", st)
	}
	if _, r := e.factors(held, devEmail); r.status != 200 {
		t.Errorf("a session held for enrolment cannot list its factors: %d %s", r.status, r.body)
	}
	// Enrolling and confirming an app makes the session live.
	enrol := e.do(call{method: "POST", path: factorsPath(e.users[devEmail]) + "/totp", as: held})
	var out struct{ FactorID, Secret string }
	if err := json.Unmarshal(enrol.body, &out); enrol.status != 201 || err != nil {
		t.Fatalf("enrol while held: %d %s", enrol.status, enrol.body)
	}
	done := e.confirm(held, devEmail, out.FactorID, e.totp(out.Secret, 0))
	live := sessionOf(tenant, done)
	if done.status != 200 || live.token == "" || live.token == held.token || live.csrf == "" {
		t.Fatalf("confirm while held: %d %s", done.status, done.body)
	}
	if e.ownSessions(live, devEmail) != 200 || e.ownSessions(held, devEmail) != 401 {
		t.Error("after the enrolment the new session is not live, or the held one still works")
	}
	r = e.tryLogin(devEmail, password)
	if a := decodeEnrol(t, r); len(a.PendingTasks) != 0 {
		t.Errorf("a user with an app is still asked to enrol: %s", r.body)
	}

	// A Site Admin's removal: back to enrolment (the grace is spent) ...
	admin = e.login("admin@acme.example") // within the admin's own grace
	if r := e.do(call{method: "DELETE", path: factorsPath(e.users[devEmail]) + "/" + out.FactorID, as: admin}); r.status != 204 {
		t.Fatalf("removal: %d %s", r.status, r.body)
	}
	r = e.tryLogin(devEmail, password)
	if a := decodeEnrol(t, r); fmt.Sprint(a.PendingTasks) != "[factor.enrolment]" || e.ownSessions(sessionOf(tenant, r), devEmail) != 401 {
		t.Errorf("after a Site Admin's removal: %s, want a session held for enrolment", r.body)
	}
	// ... or, with no requirement and 2FA on, to the emailed code.
	e.put(admin, "factorpolicy", `{"StrongFactorRequired":"Nobody"}`)
	e.twoFAOn(admin)
	pending := e.pendingLogin(devEmail)
	if r := e.enterCode(pending, e.lastCode(devEmail)); r.status != 200 || e.ownSessions(sessionOf(tenant, r), devEmail) != 200 {
		t.Errorf("the emailed code after the removal: %d %s", r.status, r.body)
	}
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// TestEnrolmentOfSiteAdmins: SiteAdmins asks Site Admins only; with 2FA
// on the emailed code comes first, then the enrolment; without the
// emailed code a Site Admin with no app is held for enrolment at once.
func TestEnrolmentOfSiteAdmins(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.twoFAOn(admin)
	e.put(admin, "factorpolicy", `{"StrongFactorRequired":"SiteAdmins","EnrolmentGraceDays":0}`)
	pending := e.pendingLogin("admin@acme.example")
	r := e.enterCode(pending, e.lastCode("admin@acme.example"))
	if a := decodeEnrol(t, r); fmt.Sprint(a.PendingTasks) != "[factor.enrolment]" || e.ownSessions(sessionOf(tenant, r), "admin@acme.example") != 401 {
		t.Errorf("a Site Admin after the emailed code: %s, want a session held for enrolment", r.body)
	}
	dev := e.pendingLogin(devEmail)
	if r := e.enterCode(dev, e.lastCode(devEmail)); r.status != 200 || e.ownSessions(sessionOf(tenant, r), devEmail) != 200 {
		t.Errorf("a user who is not a Site Admin: %d %s, want a live session", r.status, r.body)
	}
	e.put(admin, "factorpolicy", `{"StrongFactorRequired":"Everyone","AllowEmailCode":false}`)
	mails := e.mailsTo(devEmail)
	r = e.tryLogin(devEmail, password)
	if a := decodeEnrol(t, r); fmt.Sprint(a.PendingTasks) != "[factor.enrolment]" || e.mailsTo(devEmail) != mails {
		t.Errorf("no emailed code and no app: %s (mails %d, was %d), want enrolment and no mail", r.body, e.mailsTo(devEmail), mails)
	}
}

// TestFactorPolicyCheck: through the server, the standards check reports
// AAL2 out of reach with the emailed code alone and reachable once every
// user must enrol an app or key; a phishing-resistant factor for Site
// Admins is recommended until it is the only one.
func TestFactorPolicyCheck(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	auditor := e.login("auditor@acme.example")
	e.twoFAOn(admin)
	status := func() map[string]string {
		t.Helper()
		r := e.do(call{method: "GET", path: settingsPath + "securitycheck", as: auditor})
		var out struct{ Finding []struct{ ID, Status string } }
		if err := json.Unmarshal(r.body, &out); r.status != 200 || err != nil {
			t.Fatalf("securitycheck: %d %s", r.status, r.body)
		}
		m := map[string]string{}
		for _, f := range out.Finding {
			if f.ID == "second-factor" || f.ID == "admin-phishing-resistant" {
				m[f.ID] = f.Status
			}
		}
		return m
	}
	for _, c := range []struct {
		name, policy string
		want         map[string]string
	}{
		{"email only", `{"AllowTOTP":false,"AllowWebAuthn":false}`, map[string]string{"second-factor": "warn", "admin-phishing-resistant": "warn"}},
		{"apps and keys allowed, not required", `{"AllowTOTP":true,"AllowWebAuthn":true}`, map[string]string{"second-factor": "warn", "admin-phishing-resistant": "warn"}},
		{"required of everyone", `{"StrongFactorRequired":"Everyone"}`, map[string]string{"second-factor": "pass", "admin-phishing-resistant": "warn"}},
		{"keys only", `{"AllowTOTP":false}`, map[string]string{"second-factor": "pass", "admin-phishing-resistant": "pass"}},
		{"with the emailed fallback", `{"EmailCodeFallback":true}`, map[string]string{"second-factor": "warn", "admin-phishing-resistant": "warn"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.put(admin, "factorpolicy", c.policy)
			if d := cmp.Diff(c.want, status()); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
		})
	}
}

// TestFactorEvents: each factor enrolment, use, failure and removal is an
// audit entry of the user's account and a count in
// bizsec_factor_events_total.
func TestFactorEvents(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	dev := e.login(devEmail)
	devID := e.users[devEmail]
	enrol := e.do(call{method: "POST", path: factorsPath(devID) + "/totp", as: dev})
	var out struct{ FactorID, Secret string }
	json.Unmarshal(enrol.body, &out)
	if r := e.confirm(dev, devEmail, out.FactorID, "000000"); r.status != 400 && e.totp(out.Secret, 0) != "000000" {
		t.Fatalf("a wrong confirmation: %d %s", r.status, r.body)
	}
	if r := e.confirm(dev, devEmail, out.FactorID, e.totp(out.Secret, 0)); r.status != 200 {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	codes := e.recoveryCodes(dev, devEmail)
	e.twoFAOn(admin)
	e.clock.Advance(30 * time.Second)
	pending, _ := e.strongLogin(devEmail)
	wrong := "123456"
	if wrong == e.totp(out.Secret, 0) {
		wrong = "654321"
	}
	if r := e.enterCode(pending, wrong); r.status != 401 {
		t.Fatalf("a wrong app code: %d", r.status)
	}
	if r := e.enterCode(pending, e.totp(out.Secret, 0)); r.status != 200 {
		t.Fatalf("the app code: %d %s", r.status, r.body)
	}
	e.loginWithRecovery(devEmail, codes[0])
	if r := e.do(call{method: "DELETE", path: factorsPath(devID) + "/" + out.FactorID, as: admin}); r.status != 204 {
		t.Fatalf("removal: %d %s", r.status, r.body)
	}

	m := scrape(t, e)
	want := map[string]string{
		`bizsec_factor_events_total{action="enrol",factor="totp",outcome="failure"}`:     "1",
		`bizsec_factor_events_total{action="enrol",factor="totp",outcome="success"}`:     "1",
		`bizsec_factor_events_total{action="enrol",factor="recovery",outcome="success"}`: "1",
		`bizsec_factor_events_total{action="use",factor="totp",outcome="failure"}`:       "1",
		`bizsec_factor_events_total{action="use",factor="totp",outcome="success"}`:       "1",
		`bizsec_factor_events_total{action="use",factor="recovery",outcome="success"}`:   "1",
		`bizsec_factor_events_total{action="use",factor="email",outcome="success"}`:      "0",
		`bizsec_factor_events_total{action="remove",factor="totp",outcome="success"}`:    "1",
	}
	got := map[string]string{}
	for prefix := range want {
		got[prefix] = metric(t, m, prefix)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("metrics (-want +got):\n%s", d)
	}

	var page struct {
		AuditEntry []struct {
			New struct{ UserID, Event, FactorType string }
		}
	}
	if err := json.Unmarshal(e.get(admin, "audit?setting=account&limit=50"), &page); err != nil {
		t.Fatal(err)
	}
	audit := page.AuditEntry
	var events []string
	for i := len(audit) - 1; i >= 0; i-- {
		if a := audit[i].New; a.UserID == devID && a.Event != "" {
			events = append(events, a.Event+" "+a.FactorType)
		}
	}
	wantEvents := []string{"factor.enrolment.failed totp", "factor.enrolled totp", "recoverycodes.replaced recovery",
		"factor.failed totp", "factor.used totp", "factor.used recovery", "factor.removed totp"}
	if d := cmp.Diff(wantEvents, events); d != "" {
		t.Errorf("audit events, oldest first (-want +got):\n%s", d)
	}
}
