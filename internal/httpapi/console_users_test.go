package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// confirmed clicks an action's button, checks that it asks first, and
// goes ahead.
func (c *console) confirmed(button, asks string) {
	c.t.Helper()
	c.do(chromedp.Click(button), chromedp.WaitVisible("#confirm-dialog"))
	if q := c.text("#confirm-title"); !strings.Contains(q, asks) {
		c.t.Errorf("%s asks %q, want %q", button, q, asks)
	}
	c.do(chromedp.Click("#confirm-yes"), chromedp.WaitNotVisible("#confirm-dialog"))
}

// status waits for the Users page's result message and returns it.
func (c *console) userStatus(contains string) string {
	c.t.Helper()
	c.do(chromedp.WaitVisible(`//p[@id="user-status" and contains(., "` + contains + `")]`))
	return c.text("#user-status")
}

// TestConsoleSchemaPages renders every settings object from the server's
// descriptors: each field's label is the descriptor's, the password
// policy and bizsec's session limit have pages with no page-specific
// code, bizsec's own objects and fields say so, and settings with no
// effect say that; the password policy's special characters and the
// session limit save through their controls.
func TestConsoleSchemaPages(t *testing.T) {
	e := newEnv(t)
	c := newConsole(t, e)
	admin := e.login("admin@acme.example")
	var served struct {
		Object []struct {
			Name      string
			Extension bool
			Groups    []struct {
				Fields []struct {
					Name, Label string
					Extension   bool
					NoEffect    bool
				}
			}
		}
	}
	if r := e.do(call{method: "GET", path: "/api/settingsschema"}); r.status != 200 || json.Unmarshal(r.body, &served) != nil {
		t.Fatalf("schema: %d %s", r.status, r.body)
	}
	c.open("")
	c.logIn("admin@acme.example", false)
	for _, o := range served.Object {
		c.goTo(o.Name)
		if !c.truth(`!!document.querySelector('#tabs a[data-tab="` + o.Name + `"][aria-current="page"]')`) {
			t.Errorf("%s: no current tab", o.Name)
		}
		if own := c.truth(`!!document.querySelector("#settings-intro .own")`); own != o.Extension {
			t.Errorf("%s: marked bizsec's own %v, want %v", o.Name, own, o.Extension)
		}
		for _, g := range o.Groups {
			for _, f := range g.Fields {
				label := c.eval(`(() => { const l = document.querySelector('label[for="f-` + f.Name + `"]'); return l ? l.firstChild.textContent : "(none)"; })()`)
				if label != f.Label {
					t.Errorf("%s.%s: label %q, want the descriptor's %q", o.Name, f.Name, label, f.Label)
				}
				if own := c.truth(`!!document.querySelector('label[for="f-` + f.Name + `"] .own')`); own != f.Extension {
					t.Errorf("%s.%s: marked bizsec's own %v, want %v", o.Name, f.Name, own, f.Extension)
				}
				help := c.text("#h-" + f.Name)
				if said := strings.Contains(help, "Kept for the platform's clients; no effect in bizsec."); said != f.NoEffect {
					t.Errorf("%s.%s: help %q (no effect: %v)", o.Name, f.Name, help, f.NoEffect)
				}
			}
		}
	}

	// The password policy: special characters as any / only these / none.
	c.goTo("passwordpolicy")
	if v := c.eval(`document.getElementById("f-AllowedSpecialCharacters").value`); v != "any" {
		t.Errorf("the default specials read %q", v)
	}
	c.do(chromedp.SetValue("#f-AllowedSpecialCharacters", "only"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("f-AllowedSpecialCharacters").dispatchEvent(new Event("change", {bubbles: true}))`),
		chromedp.WaitVisible("#fx-AllowedSpecialCharacters"),
		chromedp.SendKeys("#fx-AllowedSpecialCharacters", "!-!"), chromedp.SetValue("#f-MinimumLength", "14"), input("f-MinimumLength"))
	c.save()
	if got := string(e.get(admin, "passwordpolicy")); !strings.Contains(got, `"AllowedSpecialCharacters":{"AllowedSpecialCharacter":["!","-"]}`) ||
		!strings.Contains(got, `"MinimumLength":14`) {
		t.Errorf("the server holds %s", got)
	}
	c.audit("passwordpolicy")
	c.do(chromedp.SetValue("#f-AllowedSpecialCharacters", "none"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("f-AllowedSpecialCharacters").dispatchEvent(new Event("input", {bubbles: true}))`))
	c.save()
	if got := string(e.get(admin, "passwordpolicy")); !strings.Contains(got, `"AllowedSpecialCharacters":{"AllowedSpecialCharacter":[]}`) {
		t.Errorf("after None the server holds %s", got)
	}
	c.do(chromedp.WaitVisible(`//ol[@id="history-list"]/li[contains(., "Special characters: only ! - → none")]`))

	// Bizsec's own session limit.
	c.goTo("sessionpolicy")
	c.do(chromedp.SetValue("#f-MaximumSessions", "3"), input("f-MaximumSessions"),
		chromedp.SetValue("#f-AtLimit", "RefuseNewLogin"), input("f-AtLimit"))
	c.save()
	if got := string(e.get(admin, "sessionpolicy")); !strings.Contains(got, `"MaximumSessions":3`) || !strings.Contains(got, `"AtLimit":"RefuseNewLogin"`) {
		t.Errorf("the server holds %s", got)
	}
	c.audit("sessionpolicy")
}

// TestConsoleUsers drives the Users page as a Site Admin: search by part
// of the email, page on, open a user, and act on the account, each action
// asking first and saying what it did, checked against the API; then as
// an Auditor, who reads and cannot act.
func TestConsoleUsers(t *testing.T) {
	e := newEnv(t)
	c := newConsole(t, e)
	for i := range 22 {
		e.addUser(tenant, fmt.Sprintf("user%02d@acme.example", i), "")
	}
	dev := e.login(devEmail)
	e.login(devEmail)
	e.enrolTOTP(dev, devEmail)
	c.open("")
	c.logIn("admin@acme.example", false)
	c.goTo("users")
	rows := `document.querySelectorAll("#users tbody tr").length`
	if n := read(t, c.ctx, chromedp.Evaluate[int](rows)); n != 20 {
		t.Errorf("first page: %d users", n)
	}
	c.do(chromedp.Click("#users-more"), chromedp.WaitVisible("#users tbody tr:nth-child(25)"), chromedp.WaitNotVisible("#users-more"))
	c.do(chromedp.SendKeys("#user-q", "user1"), chromedp.Click("#user-search-button"),
		chromedp.WaitVisible(`//table[@id="users"]/caption[contains(., "user1")]`))
	if n := read(t, c.ctx, chromedp.Evaluate[int](rows)); n != 10 {
		t.Errorf("users whose email contains user1: %d", n)
	}
	c.do(chromedp.SetValue("#user-q", "dev@"), chromedp.Click("#user-search-button"),
		chromedp.WaitVisible(`//table[@id="users"]/caption[contains(., "dev@")]`))
	c.do(chromedp.Click(`//button[@aria-label="Details of dev@acme.example"]`), chromedp.WaitVisible("#user-sessions"))
	if n := read(t, c.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#user-sessions tbody tr").length`)); n != 2 {
		t.Errorf("dev's sessions: %d rows", n)
	}
	if f := c.text("#user-factors tbody"); !strings.Contains(f, "Authenticator app") {
		t.Errorf("dev's factors read %q", f)
	}
	c.audit("user-detail")

	// Cancel does nothing.
	c.do(chromedp.Click(`//button[@aria-label="Remove the factor phone"]`), chromedp.WaitVisible("#confirm-dialog"))
	c.audit("user-confirm")
	c.do(chromedp.Click("#confirm-no"), chromedp.WaitNotVisible("#confirm-dialog"))
	if list, _ := e.factors(e.login("admin@acme.example"), devEmail); len(list.Factors) != 1 {
		t.Errorf("after Cancel dev has %d factors", len(list.Factors))
	}
	c.confirmed("#act-forget-devices", "Forget")
	c.userStatus("Forgot")
	c.confirmed(`[aria-label="Remove the factor phone"]`, "Remove phone")
	c.userStatus("Removed phone")
	if list, _ := e.factors(e.login("admin@acme.example"), devEmail); len(list.Factors) != 0 {
		t.Errorf("after Remove dev has %d factors", len(list.Factors))
	}
	dev = e.login(devEmail)
	c.do(chromedp.Click(`//button[@aria-label="Details of dev@acme.example"]`), chromedp.WaitVisible("#user-sessions"))
	c.confirmed("#act-end-sessions", "End all sessions")
	if s := c.userStatus("Ended"); !strings.Contains(s, "Ended 1 sessions") {
		t.Errorf("end sessions says %q", s)
	}
	if r := e.do(call{method: "GET", path: "/api/login/status", as: dev}); r.status != 401 {
		t.Errorf("dev's session after End all sessions: %d", r.status)
	}
	c.confirmed("#act-disable", "Disable")
	c.userStatus("Disabled dev@acme.example")
	if r := e.tryLogin(devEmail, password); r.status == 200 {
		t.Error("a disabled user logged in")
	}
	if st := c.text(`//table[@id="users"]//tr[td[contains(., "dev@acme.example")]]/td[@class="state"]`); !strings.Contains(st, "Disabled") {
		t.Errorf("the disabled user's row says %q", st)
	}
	c.confirmed("#act-enable", "Enable")
	c.userStatus("Enabled")
	if r := e.tryLogin(devEmail, password); r.status != 200 {
		t.Errorf("login after Enable: %d", r.status)
	}
	// A password the rules refuse: said in plain words; then a good one.
	c.do(chromedp.SendKeys("#temp-password", "password1234"))
	c.confirmed("#act-set-password", "temporary password")
	c.do(chromedp.WaitVisible(`//p[@id="user-error" and contains(., "not allowed")]`))
	c.do(chromedp.SetValue("#temp-password", "given by the admin 42"))
	c.confirmed("#act-set-password", "temporary password")
	c.userStatus("Set a temporary password")
	if r := e.tryLogin(devEmail, "given by the admin 42"); r.status != 200 || !strings.Contains(string(r.body), `"pendingTasks":["change.password"]`) {
		t.Errorf("login with the temporary password: %d %s", r.status, r.body)
	}

	// An Auditor reads the same and has nothing to act with.
	c.do(chromedp.Click("#logout"), chromedp.WaitVisible("#email"))
	c.logIn("auditor@acme.example", false)
	c.goTo("users")
	c.do(chromedp.Click(`//button[@aria-label="Details of dev@acme.example"]`), chromedp.WaitVisible("#user-facts"))
	c.do(chromedp.WaitVisible("#user-no-factors"))
	if d := c.text("#user-detail"); !strings.Contains(d, "Sessions") || !strings.Contains(d, "No factor besides the emailed code") {
		t.Errorf("the Auditor does not see the user's sessions and factors: %q", d)
	}
	if c.truth(`!!document.querySelector("#user-detail button, #user-detail input")`) {
		t.Error("the Auditor's user detail offers actions")
	}
	c.audit("auditor-user-detail")
}

// TestConsoleMyAccount: a user sees their sessions and signs one out, then
// all the others; changes their password (a wrong current password and a
// refused new one said next to their fields); and changes their email,
// refused while the setting is off (named), then confirmed with the code.
func TestConsoleMyAccount(t *testing.T) {
	e := newEnv(t)
	c := newConsole(t, e)
	admin := e.login("admin@acme.example")
	other := e.login(devEmail)
	c.open("")
	c.logIn(devEmail, false)
	c.do(chromedp.Click("#account-link"), chromedp.WaitReady(`#settings-view[data-page="account"]`))
	mine := `document.querySelectorAll("#my-sessions tbody tr").length`
	if n, cur := read(t, c.ctx, chromedp.Evaluate[int](mine)), c.text("#my-sessions tr.current"); n != 2 || !strings.Contains(cur, "This session") {
		t.Errorf("%d sessions; the current reads %q", n, cur)
	}
	c.do(chromedp.Click("#my-sessions button.sign-out"), chromedp.WaitVisible(`//p[@id="account-status" and contains(., "Signed out the session")]`))
	if r := e.do(call{method: "GET", path: "/api/login/status", as: other}); r.status != 401 {
		t.Errorf("the signed-out session: %d", r.status)
	}
	e.login(devEmail)
	e.login(devEmail)
	c.do(chromedp.Evaluate[chromedp.Void](`location.hash = "#/account"; location.reload()`), chromedp.WaitReady(`#settings-view[data-page="account"]`))
	c.do(chromedp.Click("#sign-out-others"), chromedp.WaitVisible(`//p[@id="account-status" and contains(., "2 sessions ended")]`))
	if n := read(t, c.ctx, chromedp.Evaluate[int](mine)); n != 1 {
		t.Errorf("after Sign out everywhere else: %d sessions", n)
	}

	// The password.
	c.do(chromedp.SendKeys("#old-password", "not it"), chromedp.SendKeys("#new-password", "a much better passphrase"),
		chromedp.Click("#change-password"), chromedp.WaitVisible(`//p[@id="old-password-message" and contains(., "not your current password")]`))
	c.do(chromedp.SetValue("#old-password", password), chromedp.SetValue("#new-password", "short"),
		chromedp.Click("#change-password"), chromedp.WaitVisible(`//p[@id="new-password-message" and contains(., "at least")]`))
	if inv := c.eval(`document.getElementById("new-password").getAttribute("aria-invalid")`); inv != "true" {
		t.Errorf("the refused password's field is aria-invalid=%q", inv)
	}
	c.audit("account-password-error")
	c.do(chromedp.SetValue("#new-password", "a much better passphrase"),
		chromedp.Click("#change-password"), chromedp.WaitVisible(`//p[@id="account-status" and contains(., "Password changed")]`))
	if r := e.tryLogin(devEmail, "a much better passphrase"); r.status != 200 {
		t.Errorf("login with the new password: %d", r.status)
	}

	// The email: refused, naming the setting; then allowed and confirmed.
	e.put(admin, "securitysettings", `{"UserModifyEmail":"com.soa.feature.disabled"}`)
	c.do(chromedp.SendKeys("#new-email", "dev2@acme.example"), chromedp.SendKeys("#email-password", "a much better passphrase"),
		chromedp.Click("#change-email"), chromedp.WaitVisible(`//p[@id="email-message" and contains(., "Users may change their email")]`))
	e.put(admin, "securitysettings", `{"UserModifyEmail":"com.soa.feature.enabled"}`)
	c.do(chromedp.Click("#change-email"), chromedp.WaitVisible("#email-code"))
	e.waitMail("dev2@acme.example", "Confirm your new email address")
	c.do(chromedp.SendKeys("#email-code", e.lastCode("dev2@acme.example")), chromedp.Click("#confirm-email"),
		chromedp.WaitVisible(`//p[@id="account-status" and contains(., "Your email is now dev2@acme.example")]`))
	c.audit("account")
	if r := e.tryLogin("dev2@acme.example", "a much better passphrase"); r.status != 200 {
		t.Errorf("login with the new email: %d", r.status)
	}
}

// TestConsoleTemporaryPassword logs in with a password a Site Admin set:
// the login asks for a new password (a refused one said in plain words),
// then the 2FA code, then the user is in; the old temporary one is gone.
func TestConsoleTemporaryPassword(t *testing.T) {
	e := newEnv(t)
	c := newConsole(t, e)
	admin := e.login("admin@acme.example")
	e.twoFAOn(admin)
	if r := e.do(call{method: "PUT", path: "/api/users/" + e.users[devEmail] + "/password", as: admin,
		body: `{"NewPassword":"given by the admin 42"}`}); r.status != 204 {
		t.Fatalf("admin set: %d %s", r.status, r.body)
	}
	c.open("")
	c.do(chromedp.SetValue("#email", devEmail), chromedp.SetValue("#password", "given by the admin 42"),
		chromedp.Click("#login-button"), chromedp.WaitVisible("#new-login-password"))
	c.do(chromedp.SendKeys("#new-login-password", "password1234"), chromedp.Click("#newpw-button"),
		chromedp.WaitVisible(`//p[@id="login-error" and contains(., "not allowed")]`))
	c.audit("login-new-password")
	c.do(chromedp.SetValue("#new-login-password", "chosen by me at last"), chromedp.Click("#newpw-button"), chromedp.WaitVisible("#code"))
	c.do(chromedp.SendKeys("#code", e.lastCode(devEmail)), chromedp.Click("#code-button"))
	c.page("none")
	if r := e.tryLogin(devEmail, "given by the admin 42"); r.status == 200 {
		t.Error("the temporary password still works")
	}
}
