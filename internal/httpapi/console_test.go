package httpapi_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium for the test, or skips when none is
// installed (CI sets BIZSEC_REQUIRE_BROWSER=1 to make that a failure).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("BIZSEC_REQUIRE_BROWSER") != "" {
			t.Fatal("no Chromium found and BIZSEC_REQUIRE_BROWSER is set")
		}
		t.Skip("no Chromium installed (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first call starts the browser and must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// steps runs browser steps with a time limit, failing the test on error.
func steps(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		// Say what the page showed: the console reports errors on the page.
		shown, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("%v; the page shows:\n%s", err, shown)
	}
}

// read runs one browser query and returns its value.
func read[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// axe returns the WCAG 2.1 A/AA violations axe-core finds on the page, as
// "rule: target" lines. The axe-core script comes from BIZSEC_AXE (CI
// installs it from npm); without it the test fails where a browser is
// required and skips the audit elsewhere.
func axe(t *testing.T, ctx context.Context, page string) []string {
	t.Helper()
	path := os.Getenv("BIZSEC_AXE")
	if path == "" {
		if os.Getenv("BIZSEC_REQUIRE_BROWSER") != "" {
			t.Fatal("BIZSEC_AXE (the path of axe.min.js) is not set")
		}
		t.Log("BIZSEC_AXE not set: no accessibility audit")
		return nil
	}
	script, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	steps(t, ctx, chromedp.Evaluate[chromedp.Void](string(script)))
	out := read(t, ctx, chromedp.Evaluate[[]string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => r.violations.flatMap(v => v.nodes.map(n => v.id + " (" + v.impact + "): " + n.target.join(" "))))`, chromedp.EvalAwaitPromise))
	for _, v := range out {
		t.Errorf("%s: %s", page, v)
	}
	return out
}

// shoot saves a screenshot of the page as a test artifact, in
// BIZSEC_CONSOLE_SCREENSHOTS (default: a directory under the system's temp).
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("BIZSEC_CONSOLE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "bizsec-console-screenshots")
	}
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, name+".png"), read(t, ctx, chromedp.FullScreenshot(100)), 0o644); err != nil {
		t.Error(err)
	}
}

// console is one headless Chromium on one test server.
type console struct {
	t   *testing.T
	e   *env
	ctx context.Context
}

// newConsole starts a browser for e's server.
func newConsole(t *testing.T, e *env) *console {
	t.Helper()
	// A real browser drops cookies that expired by its own clock.
	e.clock.Advance(time.Since(e.clock.Now()))
	return &console{t: t, e: e, ctx: browser(t)}
}

func (c *console) do(actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	steps(c.t, c.ctx, actions...)
}

func (c *console) text(sel string) string {
	c.t.Helper()
	return read(c.t, c.ctx, chromedp.Text(sel))
}

func (c *console) eval(js string) string {
	c.t.Helper()
	return read(c.t, c.ctx, chromedp.Evaluate[string](js))
}

func (c *console) truth(js string) bool {
	c.t.Helper()
	return read(c.t, c.ctx, chromedp.Evaluate[bool](js))
}

// open loads the console at route (a hash such as "#/biz/check", or "").
func (c *console) open(route string) {
	c.t.Helper()
	c.do(chromedp.Navigate(c.e.srv.URL+"/console/"+route), chromedp.WaitVisible("#email"))
}

// logIn logs in through the form; with twoFA, with the code the server mailed.
func (c *console) logIn(email string, twoFA bool) {
	c.t.Helper()
	c.do(chromedp.SetValue("#email", email), chromedp.SetValue("#password", password), chromedp.Click("#login-button"))
	if twoFA {
		c.do(chromedp.WaitVisible("#code"))
		c.do(chromedp.SendKeys("#code", c.e.lastCode(email)), chromedp.Click("#code-button"))
	}
	c.do(chromedp.WaitReady(`#settings-view[data-page]`))
}

// page waits until the page tab has loaded.
func (c *console) page(tab string) {
	c.t.Helper()
	c.do(chromedp.WaitReady(`#settings-view[data-page="` + tab + `"]`))
}

// goTo opens a page by its route, as a link or a typed address would.
func (c *console) goTo(tab string) {
	c.t.Helper()
	c.do(chromedp.Evaluate[chromedp.Void](`location.hash = "#/` + business + `/` + tab + `"`))
	c.page(tab)
}

// save clicks Save and waits for the saved message.
func (c *console) save() {
	c.t.Helper()
	c.do(chromedp.Click("#save"), chromedp.WaitVisible(`//p[@id="form-status" and contains(., "Saved")]`))
}

// audit runs axe-core and takes screenshots at 1280 and 390 pixels, and
// checks that nothing is wider than the window at 390 and 320.
func (c *console) audit(page string) {
	c.t.Helper()
	for _, width := range []int64{1280, 390, 320} {
		c.do(chromedp.EmulateViewport(width, 900))
		if over := c.eval(overflow); over != "" {
			c.t.Errorf("%s at %dpx: wider than the window: %s", page, width, over)
		}
		if width == 320 {
			continue
		}
		axe(c.t, c.ctx, fmt.Sprintf("%s at %dpx", page, width))
		shoot(c.t, c.ctx, fmt.Sprintf("%s-%d", page, width))
	}
	c.do(chromedp.EmulateViewport(1280, 900))
}

// overflow names the visible elements that reach past the window's right
// edge outside a scroll region, or returns "".
const overflow = `(() => {
	const w = document.documentElement.clientWidth, out = [];
	if (document.documentElement.scrollWidth > w) out.push("the page is " + document.documentElement.scrollWidth + "px wide");
	for (const e of document.querySelectorAll("body *")) {
		if (!e.getClientRects().length || e.closest(".table-wrap")) continue;
		const r = e.getBoundingClientRect();
		if (r.right > w + 1) out.push(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : "") + " ends at " + Math.round(r.right));
	}
	return out.slice(0, 5).join("; ");
})()`

// TestConsole drives the web console in headless Chromium as a Site Admin
// would: log in with 2FA, edit each settings object through its controls,
// see errors in the field's terms next to the field, read the history,
// edit the security questions, unlock an account, work down the standards
// check, and then as an Auditor and as a user with no role see what they
// may. Every page is audited with axe-core at 1280 and 390 pixels wide,
// checked for overflow at 390 and 320, and photographed.
func TestConsole(t *testing.T) {
	e := newEnv(t)
	c := newConsole(t, e)
	admin := e.login("admin@acme.example")
	e.put(admin, "twofasettings", `{"TwoFAEnabled":true,"RecurrenceMode":"twofa.each.login"}`)
	e.put(admin, "loginpolicy", `{"MaxSequentialFailureAttemptsAllowed":"3"}`)
	c.open("")
	if title := read(t, c.ctx, chromedp.Title()); !strings.Contains(title, "Log in") {
		t.Errorf("login page title %q", title)
	}
	c.audit("login")

	// The code step names where the code went, masked, and offers a way back.
	c.do(chromedp.SetValue("#email", "admin@acme.example"), chromedp.SetValue("#password", password),
		chromedp.Click("#login-button"), chromedp.WaitVisible("#code"))
	if help := c.text("#code-help"); !strings.Contains(help, "a•••n@acme.example") || strings.Contains(help, "admin@") {
		t.Errorf("code step says %q", help)
	}
	c.audit("login-code")
	c.do(chromedp.SendKeys("#code", e.lastCode("admin@acme.example")), chromedp.Click("#code-button"))
	c.page("loginpolicy")

	// Each page its route and title.
	if loc, title := read(t, c.ctx, chromedp.Location()), read(t, c.ctx, chromedp.Title()); !strings.HasSuffix(loc, "#/"+business+"/loginpolicy") ||
		!strings.HasPrefix(title, "Lockout and sessions") {
		t.Errorf("at %s titled %q", loc, title)
	}
	// Human labels, help, units and limits before they are broken.
	label := c.text(`label[for="f-MaxSequentialFailureAttemptsAllowed"]`)
	help := c.text("#h-MaxSequentialFailureAttemptsAllowed")
	if label != "Failed attempts before suspension" || !strings.Contains(help, "0 turns suspension off") || !strings.Contains(help, "Allowed: 0 to 1000 attempts") {
		t.Errorf("label %q, help %q", label, help)
	}
	// Three tries per code and suspension at three: said before it bites.
	if w := c.text("#w-MaxSequentialFailureAttemptsAllowed"); !strings.Contains(w, "3 tries per code") {
		t.Errorf("lockout warning %q", w)
	}
	c.audit("loginpolicy")

	// Lockout and sessions: numbers and a switch; "Unsaved changes" is not
	// in the success colour.
	c.do(chromedp.SetValue("#f-AttemptsPeriod", "12"), chromedp.Click("#f-PersistentSession"),
		chromedp.WaitVisible(`//p[@id="form-status" and contains(., "Unsaved changes")]`))
	if c.truth(`getComputedStyle(document.getElementById("form-status")).color === "rgb(20, 90, 38)"`) {
		t.Error(`"Unsaved changes" is in the success green`)
	}
	c.save()
	if got := string(e.get(admin, "loginpolicy")); !strings.Contains(got, `"AttemptsPeriod":"12"`) || !strings.Contains(got, `"PersistentSession":"false"`) {
		t.Errorf("the server holds %s", got)
	}
	// A bad number is caught before it is sent, in the field's terms, with
	// its limits; a big number of minutes is said in words.
	c.do(chromedp.SetValue("#f-AttemptsPeriod", "-3"), chromedp.SetValue("#f-SuspensionMinutes", "525950"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("f-SuspensionMinutes").dispatchEvent(new Event("input", {bubbles: true}))`),
		chromedp.Click("#save"), chromedp.WaitVisible(`//p[@id="m-AttemptsPeriod" and contains(., "whole number")]`))
	message := c.text("#m-AttemptsPeriod")
	rowClass := read(t, c.ctx, chromedp.AttributeValue(`//div[@data-name="AttemptsPeriod"]`, "class")).Value
	if !strings.Contains(message, "from 1 to 1051200 minutes") || strings.Contains(message, "AttemptsPeriod") || !strings.Contains(rowClass, "invalid") {
		t.Errorf("inline error %q, field class %q", message, rowClass)
	}
	if d := c.text("#d-SuspensionMinutes"); !strings.Contains(d, "about a year") {
		t.Errorf("525950 minutes said as %q", d)
	}
	c.audit("loginpolicy-error")
	if got := string(e.get(admin, "loginpolicy")); !strings.Contains(got, `"AttemptsPeriod":"12"`) {
		t.Errorf("a refused save changed the server: %s", got)
	}
	// Revert clears the errors and shows the saved version; the history
	// says who changed what, old and new, in words, with a time zone.
	c.do(chromedp.Click("#revert"), chromedp.WaitVisible(`//p[@id="form-status" and contains(., "Reverted")]`),
		chromedp.WaitVisible(`//ol[@id="history-list"]/li[contains(., "admin@acme.example")]`))
	if v, m := c.eval(`document.getElementById("f-AttemptsPeriod").value`), c.text("#form-error"); v != "12" || m != "" {
		t.Errorf("after Revert: value %q, error %q", v, m)
	}
	history := c.text("#history-list")
	if !strings.Contains(history, "Counting window: 5 minutes → 12 minutes") || !strings.Contains(history, "Keep the session when the browser closes: On → Off") {
		t.Errorf("history shows %q", history)
	}
	if zone := c.eval(`document.querySelector("#history-list time").textContent`); !regexp.MustCompile(`(UTC|GMT|[A-Z]{2,5})([+-]\d+)?$`).MatchString(zone) {
		t.Errorf("history time %q names no zone", zone)
	}

	// Two-factor: a choice with readable names, a number, the interval in
	// words, and the tries-per-code warning.
	c.do(chromedp.Click(`#tabs a[data-tab="twofasettings"]`))
	c.page("twofasettings")
	if d := c.text("#d-RecurrenceIntervalMinutes"); !strings.Contains(d, "about a year") {
		t.Errorf("the default interval said as %q", d)
	}
	if w := c.text("#w-MaxAttempts"); !strings.Contains(w, "suspended") {
		t.Errorf("tries warning %q", w)
	}
	c.do(chromedp.SetValue("#f-CodeValidSeconds", "240"), chromedp.SetValue("#f-RecurrenceMode", "twofa.once.each.interval"),
		chromedp.Evaluate[chromedp.Void](`for (const id of ["f-CodeValidSeconds", "f-RecurrenceMode"]) document.getElementById(id).dispatchEvent(new Event("input", {bubbles: true}))`))
	c.save()
	mode := c.eval(`document.getElementById("f-RecurrenceMode").selectedOptions[0].textContent`)
	if got := string(e.get(admin, "twofasettings")); mode != "Once per interval" || !strings.Contains(got, `"CodeValidSeconds":240`) ||
		!strings.Contains(got, `"RecurrenceMode":"twofa.once.each.interval"`) {
		t.Errorf("page shows %q, server holds %s", mode, got)
	}
	c.audit("twofasettings")

	// Security: a select, an on/off switch over com.soa.feature.*, and the
	// cookie domain as a choice, not a constant to type.
	c.goTo("securitysettings")
	if dom := c.eval(`document.getElementById("f-AuthTokenCookieDomain").selectedOptions[0].textContent`); dom != "This host only (recommended)" {
		t.Errorf("cookie domain shows %q", dom)
	}
	c.do(chromedp.SetValue("#f-AuthTokenCookieSameSite", "Strict"), chromedp.Click("#f-AllowUserEnum"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("f-AuthTokenCookieSameSite").dispatchEvent(new Event("input", {bubbles: true}))`))
	c.save()
	if got := string(e.get(admin, "securitysettings")); !strings.Contains(got, `"AuthTokenCookieSameSite":"Strict"`) ||
		!strings.Contains(got, `"AllowUserEnum":"com.soa.feature.disabled"`) || !strings.Contains(got, `"AuthTokenCookieDomain":"com.soa.auth.token.cookie.domain.hostname"`) {
		t.Errorf("the server holds %s", got)
	}
	c.do(chromedp.WaitVisible(`//ol[@id="history-list"]/li[contains(., "Cookie SameSite")]`))
	if h := c.text("#history-list"); !strings.Contains(h, "Say whether an email is registered: On → Off") || strings.Contains(h, "com.soa") {
		t.Errorf("history shows %q", h)
	}
	// A rule the server checks across objects: its message in the
	// field's terms, next to the field.
	c.do(chromedp.SetValue("#f-ChallengeCount", "5"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("f-ChallengeCount").dispatchEvent(new Event("input", {bubbles: true}))`),
		chromedp.Click("#save"), chromedp.WaitVisible(`//p[@id="m-ChallengeCount" and contains(., "active")]`))
	if m := c.text("#m-ChallengeCount"); !strings.Contains(m, "“Questions each user answers” is 5 but only 4 questions are active") {
		t.Errorf("cross-object error %q", m)
	}
	c.audit("securitysettings-error")
	c.do(chromedp.Click("#revert"), chromedp.WaitVisible(`//p[@id="form-status" and contains(., "Reverted")]`))
	c.audit("securitysettings")

	// Security questions: each in full, its rules in words; edit one in
	// its editor, add one; an error lands in its question, counted from 1.
	c.goTo("challenges")
	if q := c.text("#questions .question:first-child .qtext"); q != "What is the city of your birth?" {
		t.Errorf("first question reads %q", q)
	}
	if r := c.text("#questions .question:first-child .rules"); !strings.Contains(r, "any special character") {
		t.Errorf("first question's rules %q", r)
	}
	c.do(chromedp.Click(`//button[@aria-label="Edit question 1"]`), chromedp.WaitVisible(`#questions .question:first-child .editor`))
	first := `#questions .question:first-child `
	c.do(chromedp.SendKeys(first+`input[id$="-MaximumAlphaCount"]`, "30"),
		chromedp.Click("#add-question"),
		chromedp.SendKeys(`#questions .question:last-child input[id$="-ChallengeCode"]`, "com.soa.challenge.question.color"),
		chromedp.SendKeys(`#questions .question:last-child textarea`, "What was the name of your first school?"),
		chromedp.SendKeys(`#questions .question:last-child input[id$="-MinimumLength"]`, "2"),
		chromedp.Click("#save"),
		chromedp.WaitVisible(`#questions .question.invalid`))
	invalid := c.eval(`[...document.querySelectorAll("#questions .question.invalid")].map(q => q.querySelector("h3").textContent + ": " + q.querySelector(".qmessage").textContent).join("|")`)
	if !strings.HasPrefix(invalid, "Question 5") || !strings.Contains(invalid, "“Code”") || strings.Contains(c.text("#form-error"), "Challenge[") {
		t.Errorf("the duplicate code shows as %q; summary %q", invalid, c.text("#form-error"))
	}
	if r := c.text(first + ".rules"); !strings.Contains(r, "at most 30 letters") {
		t.Errorf("edited rules read %q", r)
	}
	c.audit("challenges-error")
	code := `#questions .question:last-child input[id$="-ChallengeCode"]`
	c.do(chromedp.SetValue(code, "school"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+code+`').dispatchEvent(new Event("input", {bubbles: true}))`))
	c.save()
	got := string(e.get(admin, "challenges?IncludeInactive=true"))
	if !strings.Contains(got, `"ChallengeCode":"school"`) || !strings.Contains(got, `"MinimumLength":2`) || !strings.Contains(got, `"MaximumAlphaCount":30`) {
		t.Errorf("the server holds %s", got)
	}
	c.audit("challenges")

	// Users: a suspended user says so in the list; Unlock asks first, then
	// says it is done, and the row no longer says suspended.
	e.put(admin, "loginpolicy", `{"MaxSequentialFailureAttemptsAllowed":"2"}`)
	e.tryLogin("dev@acme.example", "nope")
	e.tryLogin("dev@acme.example", "nope")
	c.goTo("users")
	devState := `//table[@id="users"]//tr[td[contains(., "dev@acme.example")]]/td[@class="state"]`
	c.do(chromedp.WaitVisible(devState + `[contains(., "Suspended until")]`))
	c.audit("users")
	c.do(chromedp.Click(`//button[@aria-label="Details of dev@acme.example"]`), chromedp.WaitVisible("#act-unlock"),
		chromedp.Click("#act-unlock"), chromedp.WaitVisible("#confirm-dialog"))
	if q := c.text("#confirm-title"); q != "Unlock dev@acme.example?" {
		t.Errorf("the confirmation asks %q", q)
	}
	c.do(chromedp.Click("#confirm-yes"), chromedp.WaitVisible(`//p[@id="user-status" and contains(., "Unlocked dev@acme.example")]`))
	if st := c.text(devState); st != "Active" {
		t.Errorf("the unlocked account's row says %q", st)
	}
	if r := e.tryLogin("dev@acme.example", password); r.status != 200 {
		t.Errorf("login after the console's unlock: %d", r.status)
	}

	// The standards check is a to-do list: counts, and for each finding a
	// link to the setting that fixes it, in an order that works.
	c.goTo("check")
	summary := c.text("#check-summary")
	if !regexp.MustCompile(`\d+ to fix · \d+ to review · \d+ passing`).MatchString(summary) {
		t.Errorf("summary %q", summary)
	}
	if missing := c.eval(`[...document.querySelectorAll("#findings .finding:not(.pass)")].filter(f => !f.querySelector("a.fix")).map(f => f.dataset.id).join(",")`); missing != "" {
		t.Errorf("findings without a fix link: %s", missing)
	}
	c.audit("check")
	questions := `//li[@data-id="security-questions"]`
	c.do(chromedp.Click(questions + `//a[contains(., "to 0")]`))
	c.page("securitysettings")
	if f := c.eval(`document.activeElement.id`); f != "f-ChallengeCount" {
		t.Errorf("the fix link focused %q", f)
	}
	c.do(chromedp.SetValue("#f-ChallengeCount", "0"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("f-ChallengeCount").dispatchEvent(new Event("input", {bubbles: true}))`))
	c.save()
	// Back returns to the check, with its title.
	c.do(chromedp.NavigateBack())
	c.page("check")
	if title := read(t, c.ctx, chromedp.Title()); !strings.HasPrefix(title, "Standards check") {
		t.Errorf("after Back the title is %q", title)
	}
	c.do(chromedp.Click(questions + `//a[contains(., "deactivate")]`))
	c.page("challenges")
	if f := c.eval(`document.activeElement.id`); f != "deactivate-all" {
		t.Errorf("the second fix link focused %q", f)
	}
	c.do(chromedp.Click("#deactivate-all"))
	c.save()
	c.do(chromedp.NavigateBack())
	c.page("check")
	if st := c.eval(`document.querySelector('li[data-id="security-questions"]').className`); !strings.Contains(st, "pass") {
		t.Errorf("after both fixes the questions finding is %q", st)
	}

	// Every way out with unsaved changes asks first: Open, Log out, Back.
	c.goTo("loginpolicy")
	c.do(chromedp.SetValue("#f-AttemptsPeriod", "44"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("f-AttemptsPeriod").dispatchEvent(new Event("input", {bubbles: true}))`))
	for _, way := range []chromedp.Action[chromedp.Void]{chromedp.Click("#open-business"), chromedp.Click("#logout"),
		chromedp.Click(`#tabs a[data-tab="check"]`), chromedp.NavigateBack()} {
		c.do(way, chromedp.WaitVisible("#leave-dialog"))
		c.do(chromedp.Click("#leave-stay"), chromedp.WaitNotVisible("#leave-dialog"))
		if v := c.eval(`document.getElementById("f-AttemptsPeriod").value`); v != "44" || !strings.HasSuffix(read(t, c.ctx, chromedp.Location()), "/loginpolicy") {
			t.Errorf("after Stay the edit reads %q at %s", v, read(t, c.ctx, chromedp.Location()))
		}
	}
	c.audit("leave-dialog")
	c.do(chromedp.Click("#logout"), chromedp.WaitVisible("#leave-dialog"), chromedp.Click("#leave-discard"), chromedp.WaitVisible("#email"))

	// An Auditor: every page read-only, as text.
	c.logIn("auditor@acme.example", true)
	c.page("loginpolicy")
	c.do(chromedp.WaitVisible(`//p[@id="role-note" and contains(., "Auditor")]`))
	if !c.truth(`document.getElementById("save").hidden && !document.querySelector("#fields input, #fields select, #fields textarea")`) {
		t.Error("the Auditor's page has inputs or offers Save")
	}
	if v := c.text("#f-AttemptsPeriod"); v != "12 minutes" {
		t.Errorf("the Auditor reads the counting window as %q", v)
	}
	for _, tab := range []string{"loginpolicy", "twofasettings", "securitysettings", "passwordpolicy", "sessionpolicy", "factorpolicy", "challenges", "users", "check"} {
		c.goTo(tab)
		if tab == "challenges" {
			if q := c.text("#questions .question:first-child .qtext"); q != "What is the city of your birth?" {
				t.Errorf("the Auditor reads the first question as %q", q)
			}
		}
		// The users page's search and Details are reading, not acting.
		if c.truth(`!!document.querySelector("#settings-view input:not(#business):not(#user-q), #settings-view textarea, #panel button:not(.read)")`) {
			t.Errorf("the Auditor's %s page has an input or a button", tab)
		}
		c.audit("auditor-" + tab)
	}
	c.do(chromedp.Click("#logout"), chromedp.WaitVisible("#email"))

	// A user with no role: one clear message, no tabs, no 403s.
	c.logIn("dev@acme.example", true)
	c.page("none")
	if msg := c.text("#no-role"); !strings.Contains(msg, "no role") || c.truth(`!document.getElementById("tabs").hidden`) {
		t.Errorf("the no-role user sees %q", msg)
	}
	c.audit("no-role")
}
