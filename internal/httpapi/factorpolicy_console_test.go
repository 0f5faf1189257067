package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleFactorPolicy: the factor policy's page saves through its
// controls, and a Site Admin resets a user's factors from the Users page,
// which puts the user back to enrolment under a policy that requires it.
func TestConsoleFactorPolicy(t *testing.T) {
	e := newEnv(t)
	c := newConsole(t, e)
	admin := e.login("admin@acme.example")
	dev := e.login(devEmail)
	e.enrolTOTP(dev, devEmail)
	e.recoveryCodes(dev, devEmail)
	c.open("")
	c.logIn("admin@acme.example", false)

	c.goTo("factorpolicy")
	c.do(chromedp.SetValue("#f-StrongFactorRequired", "Everyone"), input("f-StrongFactorRequired"),
		chromedp.SetValue("#f-EnrolmentGraceDays", "0"), input("f-EnrolmentGraceDays"))
	c.save()
	if got := string(e.get(admin, "factorpolicy")); !strings.Contains(got, `"StrongFactorRequired":"Everyone"`) || !strings.Contains(got, `"EnrolmentGraceDays":0`) {
		t.Errorf("the server holds %s", got)
	}
	c.audit("factorpolicy")

	c.goTo("users")
	c.do(chromedp.Click(`//button[@aria-label="Details of dev@acme.example"]`), chromedp.WaitVisible("#user-factors"))
	if got := c.text("#user-factors-box"); !strings.Contains(got, "10 recovery codes left") {
		t.Errorf("the factors box reads %q", got)
	}
	c.audit("user-factors-reset")
	c.confirmed("#act-reset-factors", "Reset all factors")
	c.userStatus("Reset")
	// admin's session is from before the policy, so it is live.
	if list, r := e.factors(admin, devEmail); r.status != 200 || len(list.Factors) != 0 {
		t.Errorf("after the reset dev's factors: %d %s", r.status, r.body)
	}
	r := e.tryLogin(devEmail, password)
	if !strings.Contains(string(r.body), `"pendingTasks":["factor.enrolment"]`) || e.ownSessions(sessionOf(tenant, r), devEmail) != 401 {
		t.Errorf("dev's login after the reset: %d %s, want a session held for enrolment", r.status, r.body)
	}
}

// TestConsoleEnrolment: the login step asks for the enrolment the policy
// requires: within the grace it can wait ("Later"); after it the user sets
// up an app there, and the login goes on with a live session.
func TestConsoleEnrolment(t *testing.T) {
	e := newEnv(t)
	c := newConsole(t, e)
	admin := e.login("admin@acme.example")
	e.put(admin, "factorpolicy", `{"StrongFactorRequired":"Everyone","EnrolmentGraceDays":1}`)
	c.open("")
	c.do(chromedp.SetValue("#email", devEmail), chromedp.SetValue("#password", password), chromedp.Click("#login-button"),
		chromedp.WaitVisible("#enrol-later"))
	c.audit("enrolment-grace")
	c.do(chromedp.Click("#enrol-later"), chromedp.WaitReady(`#settings-view[data-page]`))
	c.do(chromedp.Click("#logout"), chromedp.WaitVisible("#email"))

	e.clock.Advance(25 * time.Hour)
	c.do(chromedp.SetValue("#email", devEmail), chromedp.SetValue("#password", password), chromedp.Click("#login-button"),
		chromedp.WaitVisible("#enrol-app"))
	if c.truth(`!document.getElementById("enrol-later").hidden`) {
		t.Error("past the grace the enrolment can still wait")
	}
	c.do(chromedp.Click("#enrol-app"), chromedp.WaitVisible("#enrol-secret"))
	c.audit("enrolment-app")
	secret := c.text("#enrol-secret")
	c.do(chromedp.SendKeys("#enrol-code", e.totp(secret, 0)), chromedp.Click("#enrol-confirm"),
		chromedp.WaitReady(`#settings-view[data-page]`))
	if list, r := e.factors(e.login("admin@acme.example"), devEmail); r.status != 200 || len(list.Factors) != 1 || !list.Factors[0].Active {
		t.Errorf("after the console's enrolment: %d %s", r.status, r.body)
	}
}

// TestConsoleForgotPassword: "Forgot password?" on the login page runs the
// platform's reset: the code mailed, checked (a wrong one said), a new
// password set, and the login works with it.
func TestConsoleForgotPassword(t *testing.T) {
	e := newEnv(t)
	c := newConsole(t, e)
	c.open("")
	c.do(chromedp.SetValue("#email", devEmail), chromedp.Click("#forgot"), chromedp.WaitVisible("#reset-code"))
	c.audit("reset-code")
	code := e.resetCode(devEmail)
	c.do(chromedp.SendKeys("#reset-code", "WRONG-CODE"), chromedp.Click("#reset-button"),
		chromedp.WaitVisible(`//p[@id="login-error" and normalize-space(.) != ""]`))
	if !c.truth(`document.getElementById("reset-pw").hidden`) {
		t.Error("a wrong code led on to the new password")
	}
	c.do(chromedp.SetValue("#reset-code", code), chromedp.Click("#reset-button"), chromedp.WaitVisible("#reset-password"))
	c.audit("reset-password")
	const newPassword = "a brand new passphrase 93"
	c.do(chromedp.SendKeys("#reset-password", newPassword), chromedp.Click("#reset-button"), chromedp.WaitVisible("#reset-done"))
	if r := e.tryLogin(devEmail, newPassword); r.status != 200 {
		t.Errorf("login with the new password: %d %s", r.status, r.body)
	}
	if r := e.tryLogin(devEmail, password); r.status == 200 {
		t.Error("the old password still works")
	}
}
