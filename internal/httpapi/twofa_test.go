package httpapi_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"testing"
	"time"
)

var codePattern = regexp.MustCompile(`verification code is (\d{6})\.`)

// lastCode returns the code in the newest email to addr.
func (e *env) lastCode(addr string) string {
	e.t.Helper()
	msgs := e.smtp.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == addr {
			if m := codePattern.FindStringSubmatch(msgs[i].Data); m != nil {
				return m[1]
			}
		}
	}
	e.t.Fatalf("no code mailed to %s", addr)
	return ""
}

// enterCode posts a code for the pending session s.
func (e *env) enterCode(s *session, code string, cookies ...*http.Cookie) reply {
	return e.do(call{method: "POST", path: "/api/login/pendingtasks", as: s, cookies: cookies,
		body: `{"parameters":{"2fa.verification.code":"` + code + `","Action":"validate"},"taskName":"2fa.verification.code"}`})
}

// pendingLogin logs in under 2FA and checks that the code is asked for.
func (e *env) pendingLogin(email string, cookies ...*http.Cookie) *session {
	e.t.Helper()
	body := `{"email":"` + email + `","password":"` + password + `","captchaResponse":"human"}`
	r := e.do(call{method: "POST", path: "/api/login", body: body, cookies: cookies})
	var resp struct {
		PendingTasks []string
		LoginState   string
	}
	if err := json.Unmarshal(r.body, &resp); err != nil || r.status != 200 {
		e.t.Fatalf("login: %d %s", r.status, r.body)
	}
	if len(resp.PendingTasks) != 1 || resp.PendingTasks[0] != "2fa.verification.code" || resp.LoginState != "PendingTasks" {
		e.t.Fatalf("login did not ask for the 2FA code: %s", r.body)
	}
	return sessionOf(tenant, r)
}

// loginAny logs in, entering the mailed code when 2FA asks for one.
func (e *env) loginAny(email string) *session {
	e.t.Helper()
	r := e.tryLogin(email, password)
	if r.status != 200 {
		e.t.Fatalf("login %s: %d %s", email, r.status, r.body)
	}
	if !regexp.MustCompile(`"pendingTasks":\["2fa`).Match(r.body) {
		return sessionOf(tenant, r)
	}
	r = e.enterCode(sessionOf(tenant, r), e.lastCode(email))
	if r.status != 200 {
		e.t.Fatalf("code for %s: %d %s", email, r.status, r.body)
	}
	return sessionOf(tenant, r)
}

func (e *env) canRead(s *session) bool {
	return e.do(call{method: "GET", path: settingsPath + "twofasettings", as: s}).status == 200
}

// TestTwoFA walks the code rules: mailed over SMTP, needed before the
// session works, single use, MaxAttempts, CodeValidSeconds.
func TestTwoFA(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "twofasettings", `{"TwoFAEnabled":"true","RecurrenceMode":"twofa.each.login","CodeValidSeconds":"60","MaxAttempts":"3"}`)
	const user = "auditor@acme.example"

	pending := e.pendingLogin(user)
	if e.canRead(pending) {
		t.Fatal("a session waiting for its code can read settings")
	}
	if r := e.do(call{method: "GET", path: "/api/login/status", as: pending}); r.status != 200 || !json.Valid(r.body) ||
		!regexp.MustCompile(`"pendingTasks":\["2fa.verification.code"\]`).Match(r.body) {
		t.Errorf("status of a pending login: %d %s", r.status, r.body)
	}
	code := e.lastCode(user)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if r := e.enterCode(pending, wrong); r.status != 401 {
		t.Fatalf("wrong code: %d %s", r.status, r.body)
	}
	r := e.enterCode(pending, code)
	if r.status != 200 {
		t.Fatalf("right code: %d %s", r.status, r.body)
	}
	full := sessionOf(tenant, r)
	if full.token == pending.token || !e.canRead(full) {
		t.Fatal("the code did not give a new, working session")
	}
	if r := e.enterCode(pending, code); r.status != 401 {
		t.Errorf("code used twice: %d", r.status)
	}

	// MaxAttempts: the third wrong entry voids the code, even for the right one after.
	pending = e.pendingLogin(user)
	code = e.lastCode(user)
	for i, want := range []string{"The verification code is incorrect.", "The verification code is incorrect.",
		"The verification code has expired or was entered wrongly too often; log in again."} {
		if _, msg := e.enterCode(pending, wrong).fault(); msg != want {
			t.Fatalf("wrong entry %d: %q, want %q", i+1, msg, want)
		}
	}
	if r := e.enterCode(pending, code); r.status != 401 {
		t.Errorf("right code after MaxAttempts wrong ones: %d", r.status)
	}

	// CodeValidSeconds.
	pending = e.pendingLogin(user)
	code = e.lastCode(user)
	e.clock.Advance(60 * time.Second)
	if r := e.enterCode(pending, code); r.status != 401 {
		t.Errorf("code after CodeValidSeconds: %d", r.status)
	}

	// Each login asks again; the bad requests are refused.
	pending = e.pendingLogin(user)
	for _, body := range []string{`{"parameters":{"2fa.verification.code":"1","Action":"resend"}}`, `{"parameters":{"Action":"validate"}}`, `{`} {
		if r := e.do(call{method: "POST", path: "/api/login/pendingtasks", as: pending, body: body}); r.status != 400 {
			t.Errorf("%s: %d", body, r.status)
		}
	}
	if r := e.enterCode(&session{tenant: tenant, token: "TokenID%3Dnope"}, "123456"); r.status != 401 {
		t.Errorf("no pending session: %d", r.status)
	}
}

// TestTwoFARecurrence checks twofa.once.each.interval and twofa.login.new.device.
func TestTwoFARecurrence(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	const user = "auditor@acme.example"
	passTwoFA := func(cookies ...*http.Cookie) reply {
		t.Helper()
		pending := e.pendingLogin(user, cookies...)
		r := e.enterCode(pending, e.lastCode(user))
		if r.status != 200 {
			t.Fatalf("code: %d %s", r.status, r.body)
		}
		return r
	}
	direct := func(cookies ...*http.Cookie) bool {
		r := e.do(call{method: "POST", path: "/api/login", cookies: cookies,
			body: `{"email":"` + user + `","password":"` + password + `"}`})
		return r.status == 200 && regexp.MustCompile(`"pendingTasks":\[\]`).Match(r.body) && e.canRead(sessionOf(tenant, r))
	}

	e.put(admin, "twofasettings", `{"TwoFAEnabled":true,"RecurrenceMode":"twofa.once.each.interval","RecurrenceIntervalMinutes":60}`)
	passTwoFA()
	e.clock.Advance(59 * time.Minute)
	if !direct() {
		t.Error("once.each.interval: 2FA asked again within the interval")
	}
	e.clock.Advance(time.Minute)
	passTwoFA() // fails the test if no code is asked for

	admin = e.loginAny("admin@acme.example")
	e.put(admin, "twofasettings", `{"RecurrenceMode":"twofa.login.new.device","DeviceCookieName":"acme_device","RecurrenceIntervalMinutes":120}`)
	r := passTwoFA()
	device := r.cookie("acme_device")
	if device == nil || !device.HttpOnly || !device.Expires.Equal(e.clock.Now().Add(120*time.Minute)) {
		t.Fatalf("device cookie: %v", device)
	}
	if !direct(device) {
		t.Error("login.new.device: 2FA asked on a known device")
	}
	passTwoFA() // a new device (no cookie) is asked
	if direct(&http.Cookie{Name: "acme_device", Value: "forged"}) {
		t.Error("a forged device cookie skipped 2FA")
	}
	e.clock.Advance(120 * time.Minute)
	passTwoFA(device) // the device's 2FA is older than the interval

	admin = e.loginAny("admin@acme.example")
	e.put(admin, "twofasettings", `{"TwoFAEnabled":false}`)
	if !direct() {
		t.Error("2FA asked while disabled")
	}
}
