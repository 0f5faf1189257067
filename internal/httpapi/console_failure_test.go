package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// input fires the input event that typing would, after a SetValue.
func input(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`document.getElementById("` + id + `").dispatchEvent(new Event("input", {bubbles: true}))`)
}

// TestConsoleExpiredSession lets the session end mid-edit: Save opens the
// login dialog over the page, the edit stays, and after the password and
// the 2FA code the same Save goes through.
func TestConsoleExpiredSession(t *testing.T) {
	e := newEnv(t)
	c := newConsole(t, e)
	admin := e.login("admin@acme.example")
	e.put(admin, "twofasettings", `{"TwoFAEnabled":true,"RecurrenceMode":"twofa.each.login"}`)
	c.open("#/" + business + "/loginpolicy")
	c.logIn("admin@acme.example", true)
	c.page("loginpolicy")
	c.do(chromedp.SetValue("#f-AttemptsPeriod", "17"), input("f-AttemptsPeriod"))
	// The idle timeout (30 minutes) passes on the server's clock.
	e.clock.Advance(31 * time.Minute)
	c.do(chromedp.Click("#save"), chromedp.WaitVisible("#reauth"))
	if v, email := c.eval(`document.getElementById("f-AttemptsPeriod").value`), c.eval(`document.getElementById("r-email").value`); v != "17" || email != "admin@acme.example" {
		t.Errorf("behind the login dialog the edit reads %q; the dialog's email %q", v, email)
	}
	if shown := c.text("#reauth"); strings.Contains(shown, "AtmoAuthToken") {
		t.Errorf("the dialog shows the API's developer message: %q", shown)
	}
	c.audit("session-expired")
	c.do(chromedp.SetValue("#r-password", password), chromedp.Click("#r-login-button"), chromedp.WaitVisible("#r-code"))
	c.do(chromedp.SendKeys("#r-code", e.lastCode("admin@acme.example")), chromedp.Click("#r-code-button"),
		chromedp.WaitVisible(`//p[@id="form-status" and contains(., "Saved")]`), chromedp.WaitNotVisible("#reauth"))
	pending := e.pendingLogin("admin@acme.example")
	admin = sessionOf(tenant, e.enterCode(pending, e.lastCode("admin@acme.example")))
	if got := string(e.get(admin, "loginpolicy")); !strings.Contains(got, `"AttemptsPeriod":"17"`) {
		t.Errorf("after the login dialog the server holds %s", got)
	}
	if loc := read(t, c.ctx, chromedp.Location()); !strings.HasSuffix(loc, "#/"+business+"/loginpolicy") {
		t.Errorf("the page moved to %s", loc)
	}
}

// TestConsoleConflict saves over a change made meanwhile by someone else:
// the console shows both versions, then keeps the admin's, or loads theirs;
// Revert after a conflict clears the error and shows the server's copy.
func TestConsoleConflict(t *testing.T) {
	e := newEnv(t)
	c := newConsole(t, e)
	other := e.login("admin@acme.example")
	c.open("")
	c.logIn("admin@acme.example", false)
	c.page("loginpolicy")
	conflictWith := func(mine, theirs string) {
		t.Helper()
		c.do(chromedp.SetValue("#f-AttemptsPeriod", mine), input("f-AttemptsPeriod"))
		e.put(other, "loginpolicy", `{"AttemptsPeriod":"`+theirs+`"}`)
		c.do(chromedp.Click("#save"), chromedp.WaitVisible("#conflict-table"))
		row := c.eval(`[...document.querySelectorAll("#conflict-table tbody tr")].map(r => r.innerText.replace(/\s+/g, " ")).join("|")`)
		if row != "Counting window "+theirs+" minutes "+mine+" minutes" {
			t.Errorf("the conflict shows %q", row)
		}
	}
	conflictWith("20", "9")
	c.audit("conflict")
	c.do(chromedp.Click("#keep-mine"), chromedp.WaitVisible(`//p[@id="form-status" and contains(., "Saved")]`))
	if got := string(e.get(other, "loginpolicy")); !strings.Contains(got, `"AttemptsPeriod":"20"`) {
		t.Errorf("after keeping mine the server holds %s", got)
	}
	conflictWith("21", "8")
	c.do(chromedp.Click("#load-theirs"), chromedp.WaitNotVisible("#conflict"))
	if v := c.eval(`document.getElementById("f-AttemptsPeriod").value`); v != "8" {
		t.Errorf("their version loaded as %q", v)
	}
	conflictWith("22", "7")
	c.do(chromedp.Click("#revert"), chromedp.WaitVisible(`//p[@id="form-status" and contains(., "Reverted")]`))
	if v, msg, shown := c.eval(`document.getElementById("f-AttemptsPeriod").value`), c.text("#form-error"),
		c.truth(`!document.getElementById("conflict").hidden`); v != "7" || msg != "" || shown {
		t.Errorf("after Revert: value %q, error %q, conflict shown %v", v, msg, shown)
	}
	c.do(chromedp.WaitVisible(`//ol[@id="history-list"]/li[1][contains(., "Counting window: 22 minutes → 7 minutes") or contains(., "→ 7 minutes")]`))
}

// TestConsoleLoginStates walks the login's other states: the code step
// sends a new code and goes back to another account; a login refused for
// suspension says so in a state of its own.
func TestConsoleLoginStates(t *testing.T) {
	e := newEnv(t)
	c := newConsole(t, e)
	admin := e.setPolicy(`{"MaxSequentialFailureAttemptsAllowed":"2"}`)
	e.put(admin, "twofasettings", `{"TwoFAEnabled":true,"RecurrenceMode":"twofa.each.login"}`)
	mails := func() int {
		n := 0
		for _, m := range e.smtp.Messages() {
			if m.To == "auditor@acme.example" {
				n++
			}
		}
		return n
	}
	c.open("")
	c.do(chromedp.SetValue("#email", "auditor@acme.example"), chromedp.SetValue("#password", password),
		chromedp.Click("#login-button"), chromedp.WaitVisible("#code"))
	c.do(chromedp.Click("#resend"), chromedp.WaitVisible(`//p[@id="login-error" and contains(., "A new code was sent")]`))
	if n := mails(); n != 2 {
		t.Errorf("%d codes mailed after Send a new code, want 2", n)
	}
	c.do(chromedp.Click("#another"), chromedp.WaitVisible("#email"))
	if v := c.eval(`document.getElementById("email").value`); v != "" {
		t.Errorf("another account starts with %q", v)
	}
	e.tryLogin("dev@acme.example", "nope")
	e.tryLogin("dev@acme.example", "nope")
	c.do(chromedp.SetValue("#email", "dev@acme.example"), chromedp.SetValue("#password", password),
		chromedp.Click("#login-button"), chromedp.WaitVisible("#suspended"))
	if s := c.text("#suspended"); !strings.Contains(s, "Account suspended") || !strings.Contains(s, "dev@acme.example") {
		t.Errorf("suspended state says %q", s)
	}
	c.audit("login-suspended")
	c.do(chromedp.Click("#suspended-back"), chromedp.WaitVisible("#email"))
	if v := c.eval(`document.getElementById("email").value`); v != "" {
		t.Errorf("another account starts with %q", v)
	}
}

// TestConsoleHistoryPages pages through a long history, 20 entries at a time.
func TestConsoleHistoryPages(t *testing.T) {
	e := newEnv(t)
	c := newConsole(t, e)
	admin := e.login("admin@acme.example")
	for i := range 25 {
		e.put(admin, "loginpolicy", fmt.Sprintf(`{"AttemptsPeriod":"%d"}`, 10+i))
	}
	c.open("")
	c.logIn("admin@acme.example", false)
	c.do(chromedp.WaitVisible("#history-more"))
	count := `document.querySelectorAll("#history-list > li").length`
	if n := read(t, c.ctx, chromedp.Evaluate[int](count)); n != 20 {
		t.Errorf("first page: %d entries", n)
	}
	c.do(chromedp.Click("#history-more"), chromedp.WaitVisible("#history-list > li:nth-child(25)"), chromedp.WaitNotVisible("#history-more"))
	if n := read(t, c.ctx, chromedp.Evaluate[int](count)); n != 25 {
		t.Errorf("both pages: %d entries", n)
	}
	if last := c.text("#history-list > li:last-child"); !strings.Contains(last, "Counting window: 5 minutes → 10 minutes") {
		t.Errorf("the oldest entry reads %q", last)
	}
}
