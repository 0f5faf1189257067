package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/factor"
)

const devEmail = "dev@acme.example"

// twoFAOn turns 2FA on at each login with MaxAttempts 3.
func (e *env) twoFAOn(admin *session) {
	e.t.Helper()
	e.put(admin, "twofasettings", `{"TwoFAEnabled":"true","RecurrenceMode":"twofa.each.login","CodeValidSeconds":"120","MaxAttempts":"3"}`)
}

func factorsPath(userID string) string { return "/api/users/" + userID + "/factors" }

// enrolTOTP enrols and confirms an authenticator app for the session's
// user and returns the factor's ID and secret. The confirming code spends
// the clock's current step.
func (e *env) enrolTOTP(s *session, email string) (id, secret string) {
	e.t.Helper()
	r := e.do(call{method: "POST", path: factorsPath(e.users[email]) + "/totp", body: `{"Name":"phone"}`, as: s})
	var out struct{ FactorID, Secret, URI string }
	if err := json.Unmarshal(r.body, &out); r.status != http.StatusCreated || err != nil {
		e.t.Fatalf("enrol TOTP: %d %s", r.status, r.body)
	}
	if !strings.HasPrefix(out.URI, "otpauth://totp/") || !strings.Contains(out.URI, "secret="+out.Secret) {
		e.t.Fatalf("URI %q does not carry the secret", out.URI)
	}
	if r := e.confirm(s, email, out.FactorID, e.totp(out.Secret, 0)); r.status != 200 {
		e.t.Fatalf("confirm TOTP: %d %s", r.status, r.body)
	}
	return out.FactorID, out.Secret
}

func (e *env) confirm(s *session, email, id, code string) reply {
	return e.do(call{method: "POST", path: factorsPath(e.users[email]) + "/" + id + "/confirm", body: `{"Code":"` + code + `"}`, as: s})
}

// totp is the app's code for the clock's time step plus offset.
func (e *env) totp(secret string, offset int64) string {
	e.t.Helper()
	code, err := factor.TOTPCode(secret, factor.Step(e.clock.Now())+offset)
	if err != nil {
		e.t.Fatal(err)
	}
	return code
}

func (e *env) mailsTo(addr string) int {
	n := 0
	for _, m := range e.smtp.Messages() {
		if m.To == addr {
			n++
		}
	}
	return n
}

type pendingAnswer struct {
	PendingTasks []string `json:"pendingTasks"`
	TwoFactor    *struct {
		Factors           []string
		RecoveryCodesLeft int
		WebAuthn          json.RawMessage
	} `json:"twoFactor"`
}

// strongLogin logs in with the password and returns the pending session
// and its answer.
func (e *env) strongLogin(email string) (*session, pendingAnswer) {
	e.t.Helper()
	r := e.tryLogin(email, password)
	var a pendingAnswer
	if err := json.Unmarshal(r.body, &a); r.status != 200 || err != nil || len(a.PendingTasks) == 0 {
		e.t.Fatalf("login %s: %d %s", email, r.status, r.body)
	}
	return sessionOf(tenant, r), a
}

// TestTOTPLogin: a user who enrolled an app logs in with its code, no mail
// is sent, each step works once, one step of drift either way.
func TestTOTPLogin(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	dev := e.login(devEmail)
	_, secret := e.enrolTOTP(dev, devEmail)
	e.twoFAOn(admin)

	mails := e.mailsTo(devEmail)
	pending, a := e.strongLogin(devEmail)
	if fmt.Sprint(a.PendingTasks) != "[2fa.verification.code]" || a.TwoFactor == nil || fmt.Sprint(a.TwoFactor.Factors) != "[totp]" {
		t.Fatalf("pending answer: %+v", a)
	}
	if got := e.mailsTo(devEmail); got != mails {
		t.Errorf("a user with an app was mailed a code: %d mails, want %d", got, mails)
	}
	// The step the confirmation spent is refused: a code works once.
	if r := e.enterCode(pending, e.totp(secret, 0)); r.status != 401 {
		t.Fatalf("the confirming code logged in: %d %s", r.status, r.body)
	}
	e.clock.Advance(30 * time.Second)
	code := e.totp(secret, 0)
	r := e.enterCode(pending, code)
	if r.status != 200 {
		t.Fatalf("app code: %d %s", r.status, r.body)
	}
	if s := sessionOf(tenant, r); s.token == pending.token || s.csrf == "" {
		t.Fatal("the app code gave no live session")
	}
	pending, _ = e.strongLogin(devEmail)
	if r := e.enterCode(pending, code); r.status != 401 {
		t.Errorf("the same code in a new login: %d %s", r.status, r.body)
	}

	for _, c := range []struct {
		name   string
		offset int64
		ok     bool
	}{
		{"two steps ahead", 2, false},
		{"one step ahead", 1, true},
		{"two steps behind", -2, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.clock.Advance(90 * time.Second) // past every step used so far
			pending, _ := e.strongLogin(devEmail)
			r := e.enterCode(pending, e.totp(secret, c.offset))
			if (r.status == 200) != c.ok {
				t.Errorf("status %d, want success %v: %s", r.status, c.ok, r.body)
			}
			if c.ok {
				// A step before the one just accepted is refused from now on.
				pending, _ := e.strongLogin(devEmail)
				if r := e.enterCode(pending, e.totp(secret, 0)); r.status != 401 {
					t.Errorf("an earlier step after a later one: %d", r.status)
				}
			}
		})
	}
	e.clock.Advance(90 * time.Second)
	pending, _ = e.strongLogin(devEmail)
	if r := e.enterCode(pending, e.totp(secret, -1)); r.status != 200 {
		t.Errorf("one step behind: %d %s", r.status, r.body)
	}
	if got := e.mailsTo(devEmail); got != mails {
		t.Errorf("mail sent during app logins: %d, want %d", got, mails)
	}
}

// TestTOTPWrongCodes: wrong app codes count exactly as wrong mailed ones:
// MaxAttempts voids the pending login, and each is a failure of the account.
func TestTOTPWrongCodes(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	dev := e.login(devEmail)
	_, secret := e.enrolTOTP(dev, devEmail)
	e.twoFAOn(admin)
	e.put(admin, "loginpolicy", `{"MaxSequentialFailureAttemptsAllowed":"5","AttemptsPeriod":"60","SuspensionMinutes":"30"}`)
	e.clock.Advance(30 * time.Second)
	wrong := "000000"
	if wrong == e.totp(secret, 0) || wrong == e.totp(secret, 1) || wrong == e.totp(secret, -1) {
		wrong = "111111"
	}
	pending, _ := e.strongLogin(devEmail)
	for i, want := range []string{"The verification code is incorrect.", "The verification code is incorrect.",
		"The verification code has expired or was entered wrongly too often; log in again."} {
		if _, msg := e.enterCode(pending, wrong).fault(); msg != want {
			t.Fatalf("wrong entry %d: %q, want %q", i+1, msg, want)
		}
	}
	if r := e.enterCode(pending, e.totp(secret, 0)); r.status != 401 {
		t.Fatalf("the right code after MaxAttempts wrong ones: %d", r.status)
	}
	// Three failures so far; two more suspend the account (5 allowed).
	pending, _ = e.strongLogin(devEmail)
	e.enterCode(pending, wrong)
	r := e.enterCode(pending, wrong)
	if code, _ := r.fault(); code != "AccountSuspended" {
		t.Fatalf("the fifth failure: %d %s, want AccountSuspended", r.status, r.body)
	}
	// Suspended: neither the password nor any factor works.
	if r := e.tryLogin(devEmail, password); r.status == 200 {
		t.Errorf("a suspended account logged in: %s", r.body)
	}
	e.clock.Advance(31 * time.Minute)
	pending, _ = e.strongLogin(devEmail)
	if r := e.enterCode(pending, e.totp(secret, 0)); r.status != 200 {
		t.Errorf("after the suspension: %d %s", r.status, r.body)
	}
}

var recoveryPattern = regexp.MustCompile(`^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$`)

// TestRecoveryCodes: ten codes, each works once in the platform's task,
// the count shows, a new set voids the old.
func TestRecoveryCodes(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	dev := e.login(devEmail)
	e.enrolTOTP(dev, devEmail)
	codes := e.recoveryCodes(dev, devEmail)
	if len(codes) != 10 {
		t.Fatalf("%d codes, want 10", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !recoveryPattern.MatchString(c) || seen[c] {
			t.Fatalf("code %q: malformed or repeated", c)
		}
		seen[c] = true
		if e.storedInClear(c) {
			t.Fatalf("code %q is stored in clear", c)
		}
	}
	e.twoFAOn(admin)

	pending, a := e.strongLogin(devEmail)
	if a.TwoFactor == nil || a.TwoFactor.RecoveryCodesLeft != 10 || fmt.Sprint(a.TwoFactor.Factors) != "[totp recovery]" {
		t.Fatalf("pending answer: %s", mustJSON(a))
	}
	if r := e.enterCode(pending, strings.ToUpper(codes[0])); r.status != 200 {
		t.Fatalf("recovery code: %d %s", r.status, r.body)
	}
	pending, a = e.strongLogin(devEmail)
	if a.TwoFactor.RecoveryCodesLeft != 9 {
		t.Errorf("codes left after one use: %d, want 9", a.TwoFactor.RecoveryCodesLeft)
	}
	if r := e.enterCode(pending, codes[0]); r.status != 401 {
		t.Errorf("a recovery code used twice: %d", r.status)
	}
	if r := e.enterCode(pending, strings.ReplaceAll(codes[1], "-", "")); r.status != 200 {
		t.Errorf("a second code, without dashes: %d %s", r.status, r.body)
	}
	dev = e.loginWithRecovery(devEmail, codes[2])
	fresh := e.recoveryCodes(dev, devEmail)
	pending, a = e.strongLogin(devEmail)
	if a.TwoFactor.RecoveryCodesLeft != 10 {
		t.Errorf("codes left in a new set: %d", a.TwoFactor.RecoveryCodesLeft)
	}
	if r := e.enterCode(pending, codes[3]); r.status != 401 {
		t.Errorf("a code of the old set: %d", r.status)
	}
	if r := e.enterCode(pending, fresh[0]); r.status != 200 {
		t.Errorf("a code of the new set: %d %s", r.status, r.body)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func (e *env) recoveryCodes(s *session, email string) []string {
	e.t.Helper()
	r := e.do(call{method: "POST", path: "/api/users/" + e.users[email] + "/recoverycodes", as: s})
	var out struct{ Codes []string }
	if err := json.Unmarshal(r.body, &out); r.status != 200 || err != nil {
		e.t.Fatalf("recovery codes: %d %s", r.status, r.body)
	}
	return out.Codes
}

func (e *env) loginWithRecovery(email, code string) *session {
	e.t.Helper()
	pending, _ := e.strongLogin(email)
	r := e.enterCode(pending, code)
	if r.status != 200 {
		e.t.Fatalf("recovery login: %d %s", r.status, r.body)
	}
	return sessionOf(tenant, r)
}

type factorList struct {
	Factors []struct {
		FactorID, Type, Name, Created, LastUsed string
		Active                                  bool
	}
	RecoveryCodesLeft int
}

func (e *env) factors(s *session, email string) (factorList, reply) {
	e.t.Helper()
	r := e.do(call{method: "GET", path: factorsPath(e.users[email]), as: s})
	var out factorList
	if r.status == 200 {
		if err := json.Unmarshal(r.body, &out); err != nil {
			e.t.Fatal(err)
		}
	}
	return out, r
}

// TestFactorListAndRemoval: the list shows no secret; who may list,
// enrol and remove; a Site Admin's removal is audited, mailed, ends the
// user's sessions, and the user is back to the emailed code.
func TestFactorListAndRemoval(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	auditor := e.login("auditor@acme.example")
	dev := e.login(devEmail)
	id, secret := e.enrolTOTP(dev, devEmail)
	e.recoveryCodes(dev, devEmail)

	list, r := e.factors(dev, devEmail)
	if r.status != 200 || len(list.Factors) != 1 || list.Factors[0].FactorID != id || list.Factors[0].Type != "totp" ||
		list.Factors[0].Name != "phone" || !list.Factors[0].Active || list.Factors[0].Created == "" || list.RecoveryCodesLeft != 10 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), secret) {
		t.Fatal("the list shows the secret")
	}
	if e.storedInClear(secret) {
		t.Fatal("the TOTP secret is stored in clear")
	}
	devID := e.users[devEmail]
	for _, c := range []struct {
		name string
		call call
		want int
	}{
		{"no session lists", call{method: "GET", path: factorsPath(devID)}, 401},
		{"an auditor lists another's", call{method: "GET", path: factorsPath(devID), as: auditor}, 200},
		{"an auditor enrols for another", call{method: "POST", path: factorsPath(devID) + "/totp", as: auditor}, 403},
		{"an auditor reads an enrolment's QR code", call{method: "GET", path: factorsPath(devID) + "/" + id + "/qr.png", as: auditor}, 403},
		{"a Site Admin lists", call{method: "GET", path: factorsPath(devID), as: admin}, 200},
		{"a Site Admin enrols for another", call{method: "POST", path: factorsPath(devID) + "/totp", as: admin}, 403},
		{"another user removes", call{method: "DELETE", path: factorsPath(devID) + "/" + id, as: auditor}, 403},
		{"a removal without CSRF header", call{method: "DELETE", path: factorsPath(devID) + "/" + id, as: admin, noCSRF: true}, 401},
		{"an unknown factor", call{method: "DELETE", path: factorsPath(devID) + "/nope", as: admin}, 404},
		{"the wrong confirm code", call{method: "POST", path: factorsPath(devID) + "/" + id + "/confirm", body: `{"Code":"12"}`, as: dev}, 404},
		{"an unknown field", call{method: "POST", path: factorsPath(devID) + "/totp", body: `{"name":"x"}`, as: dev}, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r := e.do(c.call); r.status != c.want {
				t.Errorf("status %d, want %d: %s", r.status, c.want, r.body)
			}
		})
	}

	// An enrolment needs a recent login; the user's own removal too.
	e.clock.Advance(16 * time.Minute)
	if r := e.do(call{method: "POST", path: factorsPath(devID) + "/totp", as: dev}); r.status != 401 {
		t.Errorf("enrolment with a 16-minute-old login: %d", r.status)
	}
	if r := e.do(call{method: "DELETE", path: factorsPath(devID) + "/" + id, as: dev}); r.status != 401 {
		t.Errorf("own removal with a 16-minute-old login: %d", r.status)
	}

	e.twoFAOn(admin)
	mails := e.mailsTo(devEmail)
	if r := e.do(call{method: "DELETE", path: factorsPath(devID) + "/" + id, as: admin}); r.status != 204 {
		t.Fatalf("Site Admin removal: %d %s", r.status, r.body)
	}
	if e.canRead(dev) || e.do(call{method: "GET", path: factorsPath(devID), as: dev}).status != 401 {
		t.Error("the user's session outlived a Site Admin's removal")
	}
	if n := e.waitMail(devEmail, "A sign-in factor was removed from your account"); n != 1 || e.mailsTo(devEmail) != mails+1 {
		t.Errorf("removal notices: %d (of %d mails, %d before), want 1", n, e.mailsTo(devEmail), mails)
	}
	audit := e.get(admin, "audit?setting=account")
	if !strings.Contains(string(audit), `"Event":"factor.removed"`) || !strings.Contains(string(audit), id) {
		t.Errorf("no audit entry of the removal: %s", audit)
	}
	// Back to the emailed code (the recovery codes remain).
	pending, a := e.strongLogin(devEmail)
	if fmt.Sprint(a.TwoFactor.Factors) != "[recovery email]" {
		t.Errorf("factors after removal: %v", a.TwoFactor.Factors)
	}
	if r := e.enterCode(pending, e.lastCode(devEmail)); r.status != 200 {
		t.Errorf("emailed code after removal: %d %s", r.status, r.body)
	}
}

// TestEmailCodeFlowUnchanged: a user without factors sees exactly the
// platform's answer: one pending task, no twoFactor member.
func TestEmailCodeFlowUnchanged(t *testing.T) {
	e := newEnv(t)
	e.twoFAOn(e.login("admin@acme.example"))
	r := e.tryLogin(devEmail, password)
	if r.status != 200 || strings.Contains(string(r.body), "twoFactor") || !strings.Contains(string(r.body), `"pendingTasks":["2fa.verification.code"]`) {
		t.Fatalf("email-only pending answer: %d %s", r.status, r.body)
	}
	if r := e.enterCode(sessionOf(tenant, r), e.lastCode(devEmail)); r.status != 200 {
		t.Fatalf("emailed code: %d %s", r.status, r.body)
	}
}

// TestFactorsObeyRecurrence: an app's code passes 2FA like the emailed
// code does, so twofa.login.new.device remembers the device after it.
func TestFactorsObeyRecurrence(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	dev := e.login(devEmail)
	_, secret := e.enrolTOTP(dev, devEmail)
	e.put(admin, "twofasettings", `{"TwoFAEnabled":true,"RecurrenceMode":"twofa.login.new.device","DeviceCookieName":"acme_device","RecurrenceIntervalMinutes":60,"MaxAttempts":3}`)
	e.clock.Advance(30 * time.Second)
	pending, _ := e.strongLogin(devEmail)
	r := e.enterCode(pending, e.totp(secret, 0))
	device := r.cookie("acme_device")
	if r.status != 200 || device == nil {
		t.Fatalf("app code: %d, device cookie %v", r.status, device)
	}
	direct := e.do(call{method: "POST", path: "/api/login", cookies: []*http.Cookie{device},
		body: `{"email":"` + devEmail + `","password":"` + password + `"}`})
	if direct.status != 200 || !strings.Contains(string(direct.body), `"pendingTasks":[]`) {
		t.Errorf("a remembered device was asked again: %d %s", direct.status, direct.body)
	}
	if _, a := e.strongLogin(devEmail); fmt.Sprint(a.PendingTasks) != "[2fa.verification.code]" {
		t.Errorf("a new device was not asked: %v", a.PendingTasks)
	}
}
