package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/bizsec/bizsec/internal/captcha"
	"github.com/bizsec/bizsec/internal/httpapi"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/store"
)

// serveAtLocalhost restarts e's server on a port of its own, with
// http://localhost:PORT as its public URL: WebAuthn wants a host name, not
// an address, as the relying party, and browsers take localhost as a
// secure context. It returns that URL.
func (e *env) serveAtLocalhost() string {
	e.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	public := "http://localhost:" + strings.TrimPrefix(l.Addr().String(), "127.0.0.1:")
	e.stop()
	key, err := secret.LoadOrCreateKey(filepath.Join(e.dir, "secret.key"))
	if err != nil {
		e.t.Fatal(err)
	}
	box, err := secret.New(key)
	if err != nil {
		e.t.Fatal(err)
	}
	st, err := store.Open(context.Background(), e.database, e.dir, store.WithSecretBox(box))
	if err != nil {
		e.t.Fatal(err)
	}
	e.box = box
	api, svc := wire(login.Config{Hasher: e.hasher, Captcha: captcha.New(e.siteverify.URL),
		Mailer: &mail.SMTP{Addr: e.smtp.Addr, From: "bizsec@acme.example"}, Box: box, Limits: e.limits, PublicURL: public},
		httpapi.Config{Store: st, Now: e.clock.Now, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), DBTimeout: e.dbTimeout})
	srv := httptest.NewUnstartedServer(api.Handler())
	srv.Listener = httpapi.GuardListener(srv.Config, l, 0)
	srv.Start()
	e.store, e.svc, e.srv = st, svc, srv
	e.t.Cleanup(e.stop)
	return public
}

// TestConsoleFactors drives the My account page and the login's factor
// step in headless Chromium: a user with no role enrols an authenticator
// app from its QR code's key, makes recovery codes, registers a passkey in
// Chromium's virtual authenticator, and logs in with the passkey, then
// with the app's code, then removes the passkey.
func TestConsoleFactors(t *testing.T) {
	e := newEnv(t)
	public := e.serveAtLocalhost()
	c := newConsole(t, e)
	e.twoFAOn(e.login("admin@acme.example"))

	c.do(chromedp.Navigate(public+"/console/"), chromedp.WaitVisible("#email"))
	c.logIn(devEmail, true)
	c.do(chromedp.Click("#account-link"), chromedp.WaitReady(`#settings-view[data-page="account"]`))
	if got := c.text("#no-factors"); !strings.Contains(got, "no factor") {
		t.Errorf("a user without factors: %q", got)
	}
	c.audit("account")

	// An authenticator app, from the key shown beside its QR code.
	c.do(chromedp.Click("#add-totp"), chromedp.WaitVisible("#totp-secret"))
	c.do(chromedp.Poll[chromedp.Void](`document.getElementById("totp-qr").naturalWidth > 0`))
	secretKey := c.text("#totp-secret")
	c.do(chromedp.SendKeys("#totp-code", e.totp(secretKey, 0)), chromedp.Click("#totp-confirm"),
		chromedp.WaitVisible(`//p[@id="account-status" and contains(., "Authenticator app added")]`))
	if !c.truth(`!!document.querySelector('#factors tr[data-type="totp"]')`) {
		t.Error("the app is not in the factor list")
	}

	// Recovery codes, shown once.
	c.do(chromedp.Click("#new-codes"), chromedp.WaitVisible("#recovery-codes"))
	if n := c.eval(`String(document.querySelectorAll("#recovery-codes li").length)`); n != "10" {
		t.Errorf("%s recovery codes shown, want 10", n)
	}

	// A passkey, in Chromium's virtual authenticator.
	c.do(func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: "internal",
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return chromedp.Void{}, err
	})
	c.do(chromedp.Click("#add-key"), chromedp.WaitVisible(`//p[@id="account-status" and contains(., "Security key added")]`))
	if !c.truth(`!!document.querySelector('#factors tr[data-type="webauthn"]')`) {
		t.Fatal("the passkey is not in the factor list")
	}
	c.audit("account-factors")

	// Log in with the passkey: the factor step offers it, and no mail goes out.
	mails := e.mailsTo(devEmail)
	c.do(chromedp.Click("#logout"), chromedp.WaitVisible("#email"))
	c.do(chromedp.SetValue("#email", devEmail), chromedp.SetValue("#password", password), chromedp.Click("#login-button"),
		chromedp.WaitVisible("#use-key"))
	if help := c.text("#code-help"); !strings.Contains(help, "authenticator app") || !strings.Contains(help, "10 recovery codes") {
		t.Errorf("factor step help: %q", help)
	}
	if !c.truth(`document.getElementById("resend").hidden`) {
		t.Error("the factor step offers to mail a code to a user with stronger factors")
	}
	c.audit("login-factors")
	c.do(chromedp.Click("#use-key"), chromedp.WaitReady(`#settings-view[data-page]`))
	if e.mailsTo(devEmail) != mails {
		t.Error("a code was mailed to a user with a passkey")
	}

	// And with the app's code, in the same step.
	e.clock.Advance(30 * time.Second)
	c.do(chromedp.Click("#logout"), chromedp.WaitVisible("#email"))
	c.do(chromedp.SetValue("#email", devEmail), chromedp.SetValue("#password", password), chromedp.Click("#login-button"),
		chromedp.WaitVisible("#code"))
	c.do(chromedp.SendKeys("#code", e.totp(secretKey, 0)), chromedp.Click("#code-button"), chromedp.WaitReady(`#settings-view[data-page]`))

	// Remove the passkey from the page.
	c.do(chromedp.Click("#account-link"), chromedp.WaitReady(`#settings-view[data-page="account"]`))
	c.do(chromedp.Click(`#factors tr[data-type="webauthn"] button`),
		chromedp.WaitVisible(`//p[@id="account-status" and contains(., "Removed")]`))
	if c.truth(`!!document.querySelector('#factors tr[data-type="webauthn"]')`) {
		t.Error("the removed passkey is still listed")
	}
	list, _ := e.factors(e.loginWithTOTP(devEmail, secretKey), devEmail)
	if len(list.Factors) != 1 || list.Factors[0].Type != "totp" {
		t.Errorf("factors after the removal: %+v", list)
	}
}

// loginWithTOTP logs in with the app's code of the next time step.
func (e *env) loginWithTOTP(email, secret string) *session {
	e.t.Helper()
	e.clock.Advance(30 * time.Second)
	pending, _ := e.strongLogin(email)
	r := e.enterCode(pending, e.totp(secret, 0))
	if r.status != 200 {
		e.t.Fatalf("app login: %d %s", r.status, r.body)
	}
	return sessionOf(tenant, r)
}
