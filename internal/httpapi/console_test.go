package httpapi_test

import (
	"context"
	"os"
	"os/exec"
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

// TestConsole drives the web console in headless Chromium: log in, edit
// the login policy and a security setting, see a validation error inline.
func TestConsole(t *testing.T) {
	e := newEnv(t)
	// A real browser drops cookies that expired by its own clock.
	e.clock.Advance(time.Since(e.clock.Now()))
	ctx := browser(t)
	steps(t, ctx,
		chromedp.Navigate(e.srv.URL+"/console/"),
		chromedp.WaitVisible("#email"),
		chromedp.SendKeys("#email", "admin@acme.example"),
		chromedp.SendKeys("#password", password),
		chromedp.Click("#login-button"),
		chromedp.WaitVisible("#f-AttemptsPeriod"),
		chromedp.SetValue("#f-AttemptsPeriod", "12"),
		chromedp.Click("#save"),
		chromedp.WaitVisible(`//p[@id="form-status" and contains(., "Saved")]`),
	)
	status := read(t, ctx, chromedp.Text("#form-status"))
	value := read(t, ctx, chromedp.Value("#f-AttemptsPeriod"))
	if !strings.Contains(status, "Saved (version 1)") || value != "12" {
		t.Errorf("after saving the page shows %q and AttemptsPeriod %q", status, value)
	}
	admin := e.login("admin@acme.example")
	if got := string(e.get(admin, "loginpolicy")); !strings.Contains(got, `"AttemptsPeriod":"12"`) {
		t.Errorf("the server holds %s", got)
	}

	steps(t, ctx,
		chromedp.SetValue("#f-AttemptsPeriod", "-3"),
		chromedp.Click("#save"),
		chromedp.WaitVisible(`//p[@id="form-error" and contains(., "AttemptsPeriod")]`),
	)
	errText := read(t, ctx, chromedp.Text("#form-error"))
	rowClass := read(t, ctx, chromedp.AttributeValue(`//div[@data-name="AttemptsPeriod"]`, "class")).Value
	if !strings.Contains(errText, "AttemptsPeriod must be between 1 and") || !strings.Contains(rowClass, "invalid") {
		t.Errorf("inline error %q, field class %q", errText, rowClass)
	}
	if got := string(e.get(admin, "loginpolicy")); !strings.Contains(got, `"AttemptsPeriod":"12"`) {
		t.Errorf("a refused save changed the server: %s", got)
	}

	steps(t, ctx,
		chromedp.Click(`button[data-tab="securitysettings"]`),
		chromedp.WaitVisible("#f-AuthTokenCookieSameSite"),
		chromedp.SetValue("#f-AuthTokenCookieSameSite", "Strict"),
		chromedp.Click("#save"),
		chromedp.WaitVisible(`//p[@id="form-status" and contains(., "Saved")]`),
	)
	sameSite := read(t, ctx, chromedp.Value("#f-AuthTokenCookieSameSite"))
	if got := string(e.get(admin, "securitysettings")); sameSite != "Strict" || !strings.Contains(got, `"AuthTokenCookieSameSite":"Strict"`) {
		t.Errorf("page shows %q, server holds %s", sameSite, got)
	}
	if path := os.Getenv("BIZSEC_CONSOLE_SCREENSHOT"); path != "" {
		os.WriteFile(path, read(t, ctx, chromedp.FullScreenshot(100)), 0o644)
	}
}
