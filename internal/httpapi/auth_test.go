package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/httpapi"
)

const settingsPath = "/api/businesses/" + business + "/"

// TestLoginRequired checks that settings need a live session of the
// business's own tenant, and that GET challenges needs none.
func TestLoginRequired(t *testing.T) {
	e := newEnv(t)
	if err := e.store.CreateTenant(context.Background(), "globex", "globex.example"); err != nil {
		t.Fatal(err)
	}
	e.addUser("globex", "boss@globex.example", "SiteAdmin")
	r := e.do(call{method: "POST", path: "/api/login", host: "globex.example",
		body: `{"email":"boss@globex.example","password":"` + password + `"}`})
	if r.status != http.StatusOK {
		t.Fatalf("globex login: %d %s", r.status, r.body)
	}
	globex := sessionOf("globex", r)
	// The globex session, presented under acme's cookie name, is no acme session.
	foreign := &session{tenant: tenant, token: globex.token, csrf: globex.csrf}
	cases := []struct {
		name string
		as   *session
	}{
		{"no cookie", nil},
		{"garbage cookie", &session{tenant: tenant, token: "garbage"}},
		{"well-formed unknown token", &session{tenant: tenant, token: "TokenID%3Dnot-a-real-token%2CexpirationTime%3D1"}},
		{"another tenant's session", foreign},
	}
	for _, c := range cases {
		for _, method := range []string{"GET", "PUT"} {
			r := e.do(call{method: method, path: settingsPath + "loginpolicy", body: bodies["loginpolicy"][0], as: c.as})
			if code, _ := r.fault(); r.status != http.StatusUnauthorized || code != "Unauthorized" {
				t.Errorf("%s, %s: %d %s, want 401", c.name, method, r.status, r.body)
			}
		}
	}
	if r := e.do(call{method: "GET", path: "/api/businesses/tenantbusiness.globex/loginpolicy", as: globex}); r.status != http.StatusOK {
		t.Errorf("globex admin on globex: %d %s", r.status, r.body)
	}
	if r := e.do(call{method: "GET", path: settingsPath + "challenges"}); r.status != http.StatusOK {
		t.Errorf("anonymous GET challenges: %d %s", r.status, r.body)
	}
}

// TestRoles checks that only a Site Admin changes settings, an Auditor
// reads them, and a user with no role in the business does neither.
func TestRoles(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		email    string
		get, put int
	}{
		{"admin@acme.example", 200, 200},
		{"auditor@acme.example", 200, 403},
		{"dev@acme.example", 403, 403},
	}
	for _, c := range cases {
		s := e.login(c.email)
		for _, resource := range []string{"twofasettings", "loginpolicy", "securitysettings", "challenges"} {
			if r := e.do(call{method: "PUT", path: settingsPath + resource, body: bodies[resource][0], as: s}); r.status != c.put {
				t.Errorf("%s PUT %s: %d, want %d: %s", c.email, resource, r.status, c.put, r.body)
			}
			if resource == "challenges" {
				continue // readable by anyone
			}
			if r := e.do(call{method: "GET", path: settingsPath + resource, as: s}); r.status != c.get {
				t.Errorf("%s GET %s: %d, want %d: %s", c.email, resource, r.status, c.get, r.body)
			}
		}
	}
}

// TestCSRF checks that the X-Csrf-Token header is required exactly as
// ReadRequestCSRFSupport and WriteRequestCSRFSupport say, and that a token
// is good only with the session it was issued to.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	other := e.login("admin@acme.example")
	if admin.csrf == "" || !strings.HasPrefix(admin.csrf, "TokenID%3D") {
		t.Fatalf("login set no CSRF cookie in the platform format: %q", admin.csrf)
	}
	status := func(method string, as *session, noCSRF bool, header string) int {
		c := call{method: method, path: settingsPath + "loginpolicy", as: as, noCSRF: noCSRF}
		if method == "PUT" {
			c.body = `{"AttemptsPeriod":"7"}`
		}
		if header != "" {
			c.header = map[string]string{httpapi.CSRFHeader(tenant): header}
		}
		return e.do(c).status
	}
	mixed := &session{tenant: tenant, token: admin.token, csrf: other.csrf}
	steps := []struct {
		name     string
		settings string // PUT before the checks, with a valid header
		method   string
		as       *session
		noCSRF   bool
		header   string
		want     int
	}{
		{"default: write without header", "", "PUT", admin, true, "", 401},
		{"default: write with garbage header", "", "PUT", admin, true, "garbage", 401},
		{"default: write with another session's token", "", "PUT", mixed, false, "", 401},
		{"default: write with header", "", "PUT", admin, false, "", 200},
		{"default: read without header", "", "GET", admin, true, "", 200},
		{"read on: read without header", `{"ReadRequestCSRFSupport":"com.soa.feature.enabled"}`, "GET", admin, true, "", 401},
		{"read on: read with header", "", "GET", admin, false, "", 200},
		{"read on: read with another session's token", "", "GET", mixed, false, "", 401},
		{"write off: write without header", `{"WriteRequestCSRFSupport":"com.soa.feature.disabled"}`, "PUT", admin, true, "", 200},
		{"both off: read without header", `{"ReadRequestCSRFSupport":"com.soa.feature.disabled"}`, "GET", admin, true, "", 200},
	}
	for _, s := range steps {
		if s.settings != "" {
			e.put(admin, "securitysettings", s.settings)
		}
		if got := status(s.method, s.as, s.noCSRF, s.header); got != s.want {
			t.Errorf("%s: %d, want %d", s.name, got, s.want)
		}
	}
	// With both settings off, login sends no CSRF cookie.
	if s := e.login("auditor@acme.example"); s.csrf != "" {
		t.Errorf("CSRF cookie sent with CSRF off: %q", s.csrf)
	}
	// GET challenges is exempt even with read CSRF on.
	e.put(admin, "securitysettings", `{"ReadRequestCSRFSupport":"com.soa.feature.enabled"}`)
	if r := e.do(call{method: "GET", path: settingsPath + "challenges", as: admin, noCSRF: true}); r.status != 200 {
		t.Errorf("GET challenges without CSRF header: %d", r.status)
	}
}

// TestCookieAttributes checks the cookies against the security settings
// and the login policy.
func TestCookieAttributes(t *testing.T) {
	e := newEnv(t)
	r := e.tryLogin("admin@acme.example", password)
	auth, csrf := r.cookie(httpapi.AuthCookie(tenant)), r.cookie(httpapi.CSRFCookie(tenant))
	if auth == nil || csrf == nil {
		t.Fatalf("cookies missing: %v", r.header["Set-Cookie"])
	}
	now := e.clock.Now()
	if !auth.HttpOnly || csrf.HttpOnly {
		t.Errorf("HttpOnly: auth %v (want true), csrf %v (want false)", auth.HttpOnly, csrf.HttpOnly)
	}
	if auth.SameSite != http.SameSiteLaxMode || auth.Domain != "" || auth.Path != "/" {
		t.Errorf("default auth cookie: SameSite %v Domain %q Path %q", auth.SameSite, auth.Domain, auth.Path)
	}
	if want := now.Add(30 * time.Minute); !auth.Expires.Equal(want) {
		t.Errorf("persistent cookie expires %v, want %v (ActiveSessionTimeout)", auth.Expires, want)
	}
	if !strings.HasPrefix(auth.Value, "TokenID%3D") || !strings.Contains(auth.Value, "%2CexpirationTime%3D") {
		t.Errorf("auth cookie not in the platform format: %s", auth.Value)
	}
	admin := sessionOf(tenant, r)
	// The domain must be the host's or a parent of it: the console is at www.acme.example.
	const host = "www.acme.example"
	if r := e.do(call{method: "PUT", path: settingsPath + "securitysettings", host: host, as: admin,
		body: `{"AuthTokenCookieSameSite":"Strict","AuthTokenCookieDomain":"acme.example"}`}); r.status != 200 {
		t.Fatalf("cookie domain: %d %s", r.status, r.body)
	}
	e.put(admin, "loginpolicy", `{"PersistentSession":"false"}`)
	r = e.do(call{method: "POST", path: "/api/login", host: host, body: `{"email":"admin@acme.example","password":"` + password + `"}`})
	auth = r.cookie(httpapi.AuthCookie(tenant))
	if auth.SameSite != http.SameSiteStrictMode || auth.Domain != "acme.example" {
		t.Errorf("auth cookie: SameSite %v Domain %q, want Strict acme.example", auth.SameSite, auth.Domain)
	}
	if !auth.Expires.IsZero() || auth.MaxAge != 0 {
		t.Errorf("PersistentSession false: cookie expires %v max-age %d, want a session cookie", auth.Expires, auth.MaxAge)
	}
	// SameSite None needs Secure cookies, which plain HTTP cannot carry: refused here ...
	if r := e.do(call{method: "PUT", path: settingsPath + "securitysettings", as: admin, body: `{"AuthTokenCookieSameSite":"None"}`}); r.status != 400 {
		t.Errorf("SameSite None over plain HTTP: %d", r.status)
	}
	// ... and accepted behind a TLS proxy (-secure-cookies).
	e.secure = true
	e.restart()
	admin = e.login("admin@acme.example")
	e.put(admin, "securitysettings", `{"AuthTokenCookieSameSite":"None","AuthTokenCookieDomain":"com.soa.auth.token.cookie.domain.hostname"}`)
	if auth = e.tryLogin("admin@acme.example", password).cookie(httpapi.AuthCookie(tenant)); auth.SameSite != http.SameSiteNoneMode || !auth.Secure {
		t.Errorf("SameSite None: %v secure %v, want None and Secure", auth.SameSite, auth.Secure)
	}
}

// TestCookieSettingsThatLockOut: settings that would keep every browser
// from logging in are refused with a message that says why.
func TestCookieSettingsThatLockOut(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	for _, c := range []struct{ name, host, body, mentions string }{
		{"public suffix", "www.acme.example", `{"AuthTokenCookieDomain":"example"}`, "public suffix"},
		{"public suffix com", "www.acme.com", `{"AuthTokenCookieDomain":"com"}`, "public suffix"},
		{"public suffix co.uk", "www.acme.co.uk", `{"AuthTokenCookieDomain":"co.uk"}`, "public suffix"},
		{"foreign domain", "www.acme.example", `{"AuthTokenCookieDomain":"evil.example"}`, "www.acme.example"},
		{"domain on an IP host", "127.0.0.1", `{"AuthTokenCookieDomain":"acme.example"}`, "127.0.0.1"},
		{"SameSite None on plain HTTP", "www.acme.example", `{"AuthTokenCookieSameSite":"None"}`, "Secure"},
		{"device cookie as the auth cookie", "www.acme.example", "", "reserved"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resource, body := "securitysettings", c.body
			if body == "" {
				resource, body = "twofasettings", `{"DeviceCookieName":"AtmoAuthToken_`+tenant+`"}`
			}
			r := e.do(call{method: "PUT", path: settingsPath + resource, host: c.host, as: admin, body: body})
			if _, msg := r.fault(); r.status != 400 || !strings.Contains(msg, c.mentions) {
				t.Errorf("%d %s, want 400 mentioning %q", r.status, r.body, c.mentions)
			}
		})
	}
	if r := e.tryLogin("admin@acme.example", password); r.status != 200 {
		t.Errorf("login after the refused settings: %d", r.status)
	}
}

// setPolicy writes the login policy as the admin and returns the admin session.
func (e *env) setPolicy(body string) *session {
	e.t.Helper()
	admin := e.login("admin@acme.example")
	e.put(admin, "loginpolicy", body)
	return admin
}

// TestLockout walks the suspension rule with a controlled clock.
func TestLockout(t *testing.T) {
	e := newEnv(t)
	e.setPolicy(`{"MaxSequentialFailureAttemptsAllowed":"3","AttemptsPeriod":"5","SuspensionMinutes":"10"}`)
	const user = "dev@acme.example"
	expect := func(step, pw string, status int, faultcode string) {
		t.Helper()
		r := e.tryLogin(user, pw)
		if code, _ := r.fault(); r.status != status || code != faultcode {
			t.Fatalf("%s: %d %s, want %d %s", step, r.status, r.body, status, faultcode)
		}
	}
	expect("wrong 1", "nope", 401, "Unauthorized")
	expect("wrong 2", "nope", 401, "Unauthorized")
	expect("right password resets the count", password, 200, "")
	expect("wrong 1 again", "nope", 401, "Unauthorized")
	expect("wrong 2 again", "nope", 401, "Unauthorized")
	e.clock.Advance(5 * time.Minute)
	expect("wrong after the period starts a new window", "nope", 401, "Unauthorized")
	expect("second in the new window", "nope", 401, "Unauthorized")
	expect("third in the window suspends", "nope", 401, "AccountSuspended")
	expect("right password while suspended", password, 401, "AccountSuspended")
	e.clock.Advance(10*time.Minute - time.Millisecond)
	expect("a millisecond before the end", password, 401, "AccountSuspended")
	e.clock.Advance(time.Millisecond)
	expect("suspension over", password, 200, "")
}

// TestLockoutUnderConcurrency sends 100 wrong passwords at once: exactly
// MaxSequentialFailureAttemptsAllowed of them count, the account is then
// suspended for exactly SuspensionMinutes, and not a moment longer.
func TestLockoutUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	e.setPolicy(`{"MaxSequentialFailureAttemptsAllowed":"5","AttemptsPeriod":"8","SuspensionMinutes":"30"}`)
	const n = 100
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.tryLogin("dev@acme.example", "wrong password")
			code, msg := r.fault()
			mu.Lock()
			counts[code+": "+msg]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	wrong := counts["Unauthorized: The password is incorrect."]
	suspended := counts["AccountSuspended: The account is suspended after too many failed logins; try again later."]
	if wrong != 4 || suspended != n-4 {
		t.Fatalf("got %v; want 4 counted failures before the 5th suspends, and %d suspended", counts, n-4)
	}
	if r := e.tryLogin("dev@acme.example", password); r.status != 401 {
		t.Fatalf("right password during suspension: %d", r.status)
	}
	e.clock.Advance(30*time.Minute - time.Millisecond)
	if r := e.tryLogin("dev@acme.example", password); r.status != 401 {
		t.Fatalf("right password just before the suspension ends: %d", r.status)
	}
	e.clock.Advance(time.Millisecond)
	if r := e.tryLogin("dev@acme.example", password); r.status != 200 {
		t.Fatalf("right password once the suspension ends: %d %s", r.status, r.body)
	}
}

// TestSessionTimeouts checks both timeouts, and that a policy change
// applies to sessions that already exist, on their next request.
func TestSessionTimeouts(t *testing.T) {
	e := newEnv(t)
	e.setPolicy(`{"InactiveSessionTimeout":"5","ActiveSessionTimeout":"12"}`)
	dev := e.login("auditor@acme.example")
	alive := func(s *session) bool {
		return e.do(call{method: "GET", path: settingsPath + "twofasettings", as: s}).status == 200
	}
	e.clock.Advance(4 * time.Minute)
	if !alive(dev) {
		t.Fatal("session ended after 4 minutes, inactive timeout is 5")
	}
	e.clock.Advance(4 * time.Minute)
	if !alive(dev) {
		t.Fatal("session ended 4 minutes after its last use")
	}
	e.clock.Advance(4 * time.Minute) // 12 minutes since login
	if alive(dev) {
		t.Fatal("session outlived ActiveSessionTimeout")
	}
	dev = e.login("auditor@acme.example")
	e.clock.Advance(5 * time.Minute)
	if alive(dev) {
		t.Fatal("session outlived InactiveSessionTimeout")
	}
	// A shorter timeout applies to a live session at once.
	admin := e.setPolicy(`{"InactiveSessionTimeout":"60","ActiveSessionTimeout":"60"}`)
	dev = e.login("auditor@acme.example")
	e.clock.Advance(20 * time.Minute)
	if !alive(dev) {
		t.Fatal("session ended early")
	}
	e.put(admin, "loginpolicy", `{"ActiveSessionTimeout":"15"}`)
	if alive(dev) {
		t.Fatal("a shortened ActiveSessionTimeout did not end the older session at once")
	}
}

// TestConcurrentLogin checks that ConcurrentLogin false ends a user's
// earlier sessions at a new login, and true keeps them.
func TestConcurrentLogin(t *testing.T) {
	e := newEnv(t)
	alive := func(s *session) bool {
		return e.do(call{method: "GET", path: settingsPath + "twofasettings", as: s}).status == 200
	}
	first := e.login("auditor@acme.example")
	second := e.login("auditor@acme.example")
	if !alive(first) || !alive(second) {
		t.Fatal("ConcurrentLogin true: both sessions should live")
	}
	e.setPolicy(`{"ConcurrentLogin":"false"}`)
	third := e.login("auditor@acme.example")
	if alive(first) || alive(second) {
		t.Error("ConcurrentLogin false: earlier sessions still live")
	}
	if !alive(third) {
		t.Error("ConcurrentLogin false: the new session does not work")
	}
}

// TestUserEnumeration checks that with AllowUserEnum disabled an unknown
// email and a wrong password get identical answers, and that with it
// enabled (the default) the user is told which one was wrong.
func TestUserEnumeration(t *testing.T) {
	e := newEnv(t)
	unknown := e.tryLogin("nobody@acme.example", "whatever1")
	wrong := e.tryLogin("dev@acme.example", "whatever1")
	if string(unknown.body) == string(wrong.body) {
		t.Errorf("AllowUserEnum enabled: answers should differ, both %s", wrong.body)
	}
	admin := e.login("admin@acme.example")
	e.put(admin, "securitysettings", `{"AllowUserEnum":"com.soa.feature.disabled"}`)
	e.put(admin, "loginpolicy", `{"MaxSequentialFailureAttemptsAllowed":"2"}`)
	for i := range 3 { // the third attempt meets a suspended account, which must not show either
		unknown = e.tryLogin("nobody@acme.example", "whatever1")
		wrong = e.tryLogin("dev@acme.example", "whatever1")
		if unknown.status != wrong.status || string(unknown.body) != string(wrong.body) {
			t.Errorf("attempt %d: unknown email %d %s, wrong password %d %s", i, unknown.status, unknown.body, wrong.status, wrong.body)
		}
		for _, h := range []string{"Content-Type", "Content-Length", "Set-Cookie", "Cache-Control"} {
			if unknown.header.Get(h) != wrong.header.Get(h) {
				t.Errorf("attempt %d: header %s differs: %q vs %q", i, h, unknown.header.Get(h), wrong.header.Get(h))
			}
		}
	}
}

// TestLoginService covers status, renewToken and endsession.
func TestLoginService(t *testing.T) {
	e := newEnv(t)
	s := e.login("admin@acme.example")
	r := e.do(call{method: "GET", path: "/api/login/status", as: s})
	var status struct {
		UserFDN, LoginDomainID, Status string
		PendingTasks                   []string
		AuthTokenValidUntil            string
	}
	if err := json.Unmarshal(r.body, &status); r.status != 200 || err != nil {
		t.Fatalf("status: %d %s", r.status, r.body)
	}
	if status.UserFDN != e.users["admin@acme.example"] || status.LoginDomainID != "siteusers."+tenant || status.Status != "Success" {
		t.Errorf("status body %s", r.body)
	}
	if want := strconv.FormatInt(e.clock.Now().Add(30*time.Minute).UnixMilli(), 10); status.AuthTokenValidUntil != want {
		t.Errorf("authTokenValidUntil %q, want %q", status.AuthTokenValidUntil, want)
	}
	if r := e.do(call{method: "GET", path: "/api/login/status"}); r.status != 401 {
		t.Errorf("status without a session: %d", r.status)
	}
	// Renewal: a new token works and the old one is dead, but the absolute
	// lifetime counts from the login: renewing never extends it.
	e.clock.Advance(25 * time.Minute)
	r = e.do(call{method: "POST", path: "/api/login/renewToken", as: s})
	if r.status != 200 {
		t.Fatalf("renewToken: %d %s", r.status, r.body)
	}
	renewed := sessionOf(tenant, r)
	if renewed.token == "" || renewed.token == s.token {
		t.Fatalf("renewToken gave no new token")
	}
	e.clock.Advance(4 * time.Minute) // 29 minutes after login, 4 after renewal
	if r := e.do(call{method: "GET", path: settingsPath + "loginpolicy", as: s}); r.status != 401 {
		t.Errorf("old token after renewal: %d", r.status)
	}
	if r := e.do(call{method: "PUT", path: settingsPath + "loginpolicy", body: `{"AttemptsPeriod":"6"}`, as: renewed}); r.status != 200 {
		t.Errorf("renewed token (and its CSRF token): %d %s", r.status, r.body)
	}
	e.clock.Advance(time.Minute) // 30 minutes after login: ActiveSessionTimeout
	if r := e.do(call{method: "GET", path: settingsPath + "loginpolicy", as: renewed}); r.status != 401 {
		t.Errorf("renewed token past the login's absolute lifetime: %d", r.status)
	}
	renewed = e.login("admin@acme.example")
	// Logout ends the session and clears the cookies.
	r = e.do(call{method: "GET", path: "/api/login/endsession", as: renewed})
	if c := r.cookie(httpapi.AuthCookie(tenant)); r.status != 204 || c == nil || c.MaxAge >= 0 {
		t.Errorf("endsession: %d, cookie %v", r.status, c)
	}
	if r := e.do(call{method: "GET", path: settingsPath + "loginpolicy", as: renewed}); r.status != 401 {
		t.Errorf("token after endsession: %d", r.status)
	}
}

// TestLoginBadInput checks the login request's own validation.
func TestLoginBadInput(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		body   string
		status int
	}{
		{`{"email":"admin@acme.example"}`, 400},
		{`{"email":"","password":"x"}`, 400},
		{`{"email":"admin@acme.example","password":"` + strings.Repeat("p", 2000) + `"}`, 400},
		{`{"email":`, 400},
	}
	for _, c := range cases {
		if r := e.do(call{method: "POST", path: "/api/login", body: c.body}); r.status != c.status {
			t.Errorf("%.40s: %d %s, want %d", c.body, r.status, r.body, c.status)
		}
	}
	if r := e.do(call{method: "GET", path: "/api/login"}); r.status != 405 {
		t.Errorf("GET /api/login: %d", r.status)
	}
}

// TestCaptcha checks that with CaptchaSupport enabled a login needs a
// response the siteverify service accepts for the stored (sealed) secret.
func TestCaptcha(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "securitysettings", `{"CaptchaSupport":"com.soa.feature.enabled","CaptchaSiteKey":"site-key","CaptchaSiteSecret":"`+captchaSecret+`"}`)
	login := func(captcha string) reply {
		return e.do(call{method: "POST", path: "/api/login",
			body: `{"email":"dev@acme.example","password":"` + password + `","captchaResponse":"` + captcha + `"}`})
	}
	for _, c := range []struct {
		response string
		status   int
	}{{"", 401}, {"robot", 401}, {"human", 200}} {
		if r := login(c.response); r.status != c.status {
			t.Errorf("captcha %q: %d %s, want %d", c.response, r.status, r.body, c.status)
		}
	}
	e.siteverify.Close()
	if r := login("human"); r.status != http.StatusServiceUnavailable {
		t.Errorf("siteverify down: %d %s, want 503 (fail closed)", r.status, r.body)
	}
	e.put(admin, "securitysettings", `{"CaptchaSupport":"com.soa.feature.disabled"}`)
	if r := login(""); r.status != 200 {
		t.Errorf("CAPTCHA off: %d %s", r.status, r.body)
	}
}
