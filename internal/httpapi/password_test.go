package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const passwordPath = settingsPath + "passwordpolicy"

// TestPasswordPolicyObject: the password policy behaves like the other
// settings objects: defaults that pass the standards check, merge on PUT in
// JSON and XML, bad input refused with nothing changed, Auditors read and
// cannot write, and every change in the audit history.
func TestPasswordPolicyObject(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	auditor := e.login("auditor@acme.example")
	var got map[string]any
	if err := json.Unmarshal(e.get(admin, "passwordpolicy"), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"MinimumLength": 12.0, "MaximumLength": 128.0, "MinimumAlphaCount": 0.0, "MinimumNumberCount": 0.0,
		"MinimumUpperCaseLetterCount": 0.0, "MinimumSpecialCharacterCount": 0.0, "CanContainSpaces": true,
		"KnownBadCheck": true, "HistoryCount": 0.0}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("default policy (-want +got):\n%s", d)
	}
	e.put(admin, "passwordpolicy", `{"MinimumLength":"14","HistoryCount":3,"AllowedSpecialCharacters":{"AllowedSpecialCharacter":["!","#"]}}`)
	r := e.do(call{method: "PUT", path: passwordPath, as: admin, header: map[string]string{"Content-Type": "application/xml", "Accept": "application/xml"},
		body: `<PasswordPolicy><MaximumLength>64</MaximumLength></PasswordPolicy>`})
	if r.status != 200 || !strings.Contains(string(r.body), "<MinimumLength>14</MinimumLength>") ||
		!strings.Contains(string(r.body), "<MaximumLength>64</MaximumLength>") || !strings.Contains(string(r.body), "<AllowedSpecialCharacter>#</AllowedSpecialCharacter>") {
		t.Fatalf("XML PUT merged: %d %s", r.status, r.body)
	}
	// "Any" is the way back to any special character, as a merge keeps a list left out.
	r = e.do(call{method: "PUT", path: passwordPath, as: admin, body: `{"AllowedSpecialCharacters":{"Any":true}}`})
	if r.status != 200 || strings.Contains(string(r.body), "AllowedSpecialCharacters") {
		t.Errorf("back to any special character: %d %s", r.status, r.body)
	}
	r = e.do(call{method: "PUT", path: passwordPath, as: admin, body: `{"AllowedSpecialCharacters":{"AllowedSpecialCharacter":[]}}`})
	if r.status != 200 || !strings.Contains(string(r.body), `"AllowedSpecialCharacters":{"AllowedSpecialCharacter":[]}`) {
		t.Errorf("no special character: %d %s", r.status, r.body)
	}
	before := string(e.get(admin, "passwordpolicy"))
	for _, bad := range []string{
		`{"MinimumLength":200}`,   // over MaximumLength
		`{"MinimumLength":0}`,     // no password is that short
		`{"MaximumLength":5000}`,  // over what a login takes
		`{"HistoryCount":-1}`,     // negative
		`{"minimumlength":12}`,    // not the field's name
		`{"MinimumLength":"12 "}`, // not a number
		`{"MinimumSpecialCharacterCount":1,"AllowedSpecialCharacters":{"AllowedSpecialCharacter":[]}}`,
		`{"AllowedSpecialCharacters":{"Any":true,"AllowedSpecialCharacter":["!"]}}`,
	} {
		if r := e.do(call{method: "PUT", path: passwordPath, as: admin, body: bad}); r.status != 400 {
			t.Errorf("PUT %s: %d, want 400", bad, r.status)
		}
	}
	if after := string(e.get(admin, "passwordpolicy")); after != before {
		t.Errorf("refused PUTs changed the policy:\n%s\n%s", before, after)
	}
	if r := e.do(call{method: "GET", path: passwordPath, as: auditor}); r.status != 200 {
		t.Errorf("Auditor GET: %d", r.status)
	}
	if r := e.do(call{method: "PUT", path: passwordPath, as: auditor, body: `{"MinimumLength":8}`}); r.status != 403 {
		t.Errorf("Auditor PUT: %d, want 403", r.status)
	}
	r = e.do(call{method: "GET", path: settingsPath + "audit?setting=passwordpolicy", as: admin})
	if r.status != 200 || strings.Count(string(r.body), `"Setting":"passwordpolicy"`) != 4 {
		t.Errorf("audit of the password policy: %d %s", r.status, r.body)
	}
}

// TestPasswordRules: every way a password is set through the API obeys the
// policy: the user's own change, a Site Admin's set and the reset; known-bad
// passwords and the account's own words are refused; the error names the
// broken rule.
func TestPasswordRules(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	dev := e.login("dev@acme.example")
	own := func(old, new string) reply {
		body, _ := json.Marshal(map[string]string{"OldPassword": old, "NewPassword": new})
		return e.do(call{method: "PUT", path: "/api/users/" + e.users["dev@acme.example"] + "/password", as: dev, body: string(body)})
	}
	set := func(new string) reply {
		body, _ := json.Marshal(map[string]string{"NewPassword": new})
		return e.do(call{method: "PUT", path: "/api/users/" + e.users["dev@acme.example"] + "/password", as: admin, body: string(body)})
	}
	for _, tc := range []struct {
		password, rule string
	}{
		{"x7#kq9!mzpa", "at least 12 characters"},
		{"password1234", "commonly used"},
		{"Password1!Password1!", ""}, // not on the list as a whole, and its core is two words: allowed
		{"Password1!", "at least 12"},
		{tenant + "2026", `"` + tenant + `"`},
		{"dev@acme.example", `"dev@acme.example"`},
	} {
		// The own change first: an admin's set ends the user's sessions.
		for _, way := range []struct {
			name string
			try  func(string) reply
		}{{"own change", func(p string) reply { return own(password, p) }}, {"admin set", set}} {
			name, try := way.name, way.try
			r := try(tc.password)
			code, msg := r.fault()
			if tc.rule == "" {
				if r.status != 204 {
					t.Errorf("%s to %q: %d %s", name, tc.password, r.status, msg)
				}
				continue
			}
			if r.status != 400 || !strings.Contains(msg, tc.rule) {
				t.Errorf("%s to %q: %d %s %q, want 400 naming %q", name, tc.password, r.status, code, msg, tc.rule)
			}
		}
		if tc.rule == "" {
			break // the passwords changed: the rest of the table would need the new one
		}
	}
	// The reset flow obeys the same rules.
	e.do(call{method: "POST", path: "/api/passwordmanagement/sendPasswordResetCode?emailAddress=auditor@acme.example"})
	code := e.resetCode("auditor@acme.example")
	body, _ := json.Marshal(map[string]any{"Email": "auditor@acme.example", "PasswordResetCode": code, "NewPassword": "password1234"})
	if r := e.do(call{method: "POST", path: "/api/login/authenticateWithPasswordResetCode", body: string(body)}); r.status != 400 ||
		!strings.Contains(string(r.body), "commonly used") {
		t.Errorf("reset to a known-bad password: %d %s", r.status, r.body)
	}
}

// TestOwnPasswordChange: a user changes their password with the current
// one; the user's other sessions end at once, this one goes on; a wrong
// current password is a failed login; with HistoryCount, a recent
// password cannot come back.
func TestOwnPasswordChange(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "passwordpolicy", `{"HistoryCount":2}`)
	e.setPolicy(`{"MaxSequentialFailureAttemptsAllowed":"3"}`)
	here, there := e.login("dev@acme.example"), e.login("dev@acme.example")
	path := "/api/users/" + e.users["dev@acme.example"] + "/password"
	change := func(as *session, old, new string) reply {
		body, _ := json.Marshal(map[string]string{"OldPassword": old, "NewPassword": new})
		return e.do(call{method: "PUT", path: path, as: as, body: string(body)})
	}
	status := func(as *session) int { return e.do(call{method: "GET", path: "/api/login/status", as: as}).status }
	if r := change(here, "not my password", "a brand new passphrase"); r.status != 401 {
		t.Fatalf("wrong current password: %d %s", r.status, r.body)
	}
	if r := e.do(call{method: "PUT", path: path, as: here, noCSRF: true, body: `{"OldPassword":"x","NewPassword":"y"}`}); r.status != 401 {
		t.Errorf("no CSRF header: %d, want 401", r.status)
	}
	if r := change(here, password, "a brand new passphrase"); r.status != 204 {
		t.Fatalf("change: %d %s", r.status, r.body)
	}
	if got := status(there); got != 401 {
		t.Errorf("the other session after the change: %d, want 401", got)
	}
	if got := status(here); got != 200 {
		t.Errorf("the changing session after the change: %d, want 200", got)
	}
	if r := e.tryLogin("dev@acme.example", password); r.status != 401 {
		t.Errorf("the old password still logs in: %d", r.status)
	}
	if r := e.tryLogin("dev@acme.example", "a brand new passphrase"); r.status != 200 {
		t.Errorf("the new password: %d", r.status)
	}
	// HistoryCount 2: the current and the one before cannot be set again.
	if r := change(here, "a brand new passphrase", password); r.status != 400 || !strings.Contains(string(r.body), "last 2 passwords") {
		t.Errorf("back to the previous password: %d %s", r.status, r.body)
	}
	if r := change(here, "a brand new passphrase", "a third passphrase here"); r.status != 204 {
		t.Fatalf("a third password: %d %s", r.status, r.body)
	}
	if r := change(here, "a third passphrase here", "a fourth passphrase here"); r.status != 204 {
		t.Fatalf("a fourth password: %d %s", r.status, r.body)
	}
	if r := change(here, "a fourth passphrase here", password); r.status != 204 {
		t.Errorf("three passwords later the first may return: %d %s", r.status, r.body)
	}
}

// TestTemporaryPassword: a Site Admin's set makes the next login answer the
// pending task change.password; that session can do nothing else; the
// change completes the login (through 2FA when due).
func TestTemporaryPassword(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	old := e.login("dev@acme.example")
	path := "/api/users/" + e.users["dev@acme.example"] + "/password"
	if r := e.do(call{method: "PUT", path: path, as: admin, body: `{"NewPassword":"given by the admin 42"}`}); r.status != 204 {
		t.Fatalf("admin set: %d %s", r.status, r.body)
	}
	if r := e.do(call{method: "GET", path: "/api/login/status", as: old}); r.status != 401 {
		t.Errorf("the user's session after an admin's set: %d, want 401", r.status)
	}
	r := e.tryLogin("dev@acme.example", "given by the admin 42")
	if r.status != 200 || !strings.Contains(string(r.body), `"pendingTasks":["change.password"]`) {
		t.Fatalf("login with the temporary password: %d %s", r.status, r.body)
	}
	pending := sessionOf(tenant, r)
	if r := e.do(call{method: "GET", path: "/api/users/" + e.users["dev@acme.example"] + "/challenges", as: pending}); r.status != 401 {
		t.Errorf("the pending session reads the user's questions: %d, want 401", r.status)
	}
	if r := e.do(call{method: "GET", path: "/api/login/status", as: pending}); r.status != 200 || !strings.Contains(string(r.body), "change.password") {
		t.Errorf("status of the pending login: %d %s", r.status, r.body)
	}
	if r := e.do(call{method: "PUT", path: path, as: pending, body: `{"NewPassword":"password1234"}`}); r.status != 400 {
		t.Errorf("a known-bad password from the pending login: %d", r.status)
	}
	r = e.do(call{method: "PUT", path: path, as: pending, body: `{"NewPassword":"chosen by me at last"}`})
	if r.status != 200 || !strings.Contains(string(r.body), `"loginState":"LoggedIn"`) {
		t.Fatalf("the change from the pending login: %d %s", r.status, r.body)
	}
	live := sessionOf(tenant, r)
	if r := e.do(call{method: "GET", path: "/api/users/" + e.users["dev@acme.example"] + "/challenges", as: live}); r.status != 200 {
		t.Errorf("the session after the change: %d %s", r.status, r.body)
	}
	if r := e.tryLogin("dev@acme.example", "chosen by me at last"); r.status != 200 || strings.Contains(string(r.body), "change.password") {
		t.Errorf("the next login: %d %s", r.status, r.body)
	}

	// With 2FA on, the change leads to the code.
	e.put(admin, "twofasettings", `{"TwoFAEnabled":"true","RecurrenceMode":"twofa.each.login"}`)
	if r := e.do(call{method: "PUT", path: path, as: admin, body: `{"NewPassword":"given again by the admin"}`}); r.status != 204 {
		t.Fatalf("admin set: %d", r.status)
	}
	pending = sessionOf(tenant, e.tryLogin("dev@acme.example", "given again by the admin"))
	r = e.do(call{method: "PUT", path: path, as: pending, body: `{"NewPassword":"mine once more please"}`})
	if r.status != 200 || !strings.Contains(string(r.body), `"pendingTasks":["2fa.verification.code"]`) {
		t.Fatalf("the change with 2FA on: %d %s", r.status, r.body)
	}
}

// resetCode waits for the reset mail to addr and returns its code.
func (e *env) resetCode(addr string) string {
	e.t.Helper()
	e.waitMail(addr, "Reset your password")
	msgs := e.smtp.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if m := resetCodePattern.FindStringSubmatch(msgs[i].Data); msgs[i].To == addr && m != nil {
			return m[1]
		}
	}
	e.t.Fatalf("no reset code mailed to %s", addr)
	return ""
}
