package httpapi_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/bizsec/bizsec/internal/auth"
)

func scrape(t *testing.T, e *env) string {
	t.Helper()
	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metric returns the value of the sample whose line starts with prefix.
func metric(t *testing.T, text, prefix string) string {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix+" ") {
			return strings.TrimPrefix(line, prefix+" ")
		}
	}
	return ""
}

// TestHealthAndMetrics checks /healthz, /readyz and the metrics that count
// requests, logins, suspensions and 2FA.
func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := e.do(call{method: "GET", path: path}); r.status != 200 {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	admin := e.login("admin@acme.example")
	e.get(admin, "loginpolicy")
	e.get(admin, "loginpolicy")
	e.put(admin, "loginpolicy", `{"MaxSequentialFailureAttemptsAllowed":"2"}`)
	e.tryLogin("dev@acme.example", "wrong")
	e.tryLogin("dev@acme.example", "wrong")
	e.put(admin, "twofasettings", `{"TwoFAEnabled":true,"RecurrenceMode":"twofa.each.login"}`)
	pending := e.pendingLogin("auditor@acme.example")
	e.enterCode(pending, "not-it")
	e.enterCode(pending, e.lastCode("auditor@acme.example"))

	m := scrape(t, e)
	for prefix, want := range map[string]string{
		`bizsec_http_requests_total{code="200",method="GET",route="GET /api/businesses/{BusinessID}/loginpolicy"}`: "2",
		`bizsec_logins_total{outcome="success"}`:         "1",
		`bizsec_logins_total{outcome="bad_credentials"}`: "1",
		`bizsec_logins_total{outcome="suspended"}`:       "1",
		`bizsec_logins_total{outcome="twofa_pending"}`:   "1",
		`bizsec_account_suspensions_total`:               "1",
		`bizsec_twofa_total{outcome="sent"}`:             "1",
		`bizsec_twofa_total{outcome="wrong"}`:            "1",
		`bizsec_twofa_total{outcome="ok"}`:               "1",
	} {
		if got := metric(t, m, prefix); got != want {
			t.Errorf("%s = %q, want %s", prefix, got, want)
		}
	}
	if !regexp.MustCompile(`bizsec_http_request_duration_seconds_count\{route="GET /api/businesses/\{BusinessID\}/loginpolicy"\} 2`).MatchString(m) {
		t.Error("no latency histogram for the loginpolicy route")
	}
	e.store.Close()
	if r := e.do(call{method: "GET", path: "/readyz"}); r.status != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database closed: %d", r.status)
	}
	if r := e.do(call{method: "GET", path: "/healthz"}); r.status != 200 {
		t.Errorf("healthz with the database closed: %d", r.status)
	}
}

// TestLogsHoldNoSecrets runs logins, 2FA and a password reset and checks
// that no password, token, code or answer reaches the log.
func TestLogsHoldNoSecrets(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "securitysettings", sample(t, "security-put-2.request.json"))
	e.tryLogin("dev@acme.example", "a wrong password")
	e.put(admin, "twofasettings", `{"TwoFAEnabled":true,"RecurrenceMode":"twofa.each.login"}`)
	pending := e.pendingLogin("auditor@acme.example")
	code := e.lastCode("auditor@acme.example")
	full := sessionOf(tenant, e.enterCode(pending, code))
	e.do(call{method: "POST", path: "/api/passwordmanagement/sendPasswordResetCode?emailAddress=dev@acme.example&captchaResponse=human"})
	msgs := e.smtp.Messages()
	reset := resetCodePattern.FindStringSubmatch(msgs[len(msgs)-1].Data)[1]
	e.do(call{method: "POST", path: "/api/passwordmanagement/validatePasswordResetCode?emailAddress=dev@acme.example&passwordResetCode=" + reset})
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"request"`) || !strings.Contains(logs, `"route":"POST /api/login"`) {
		t.Fatalf("no access log lines: %.300s", logs)
	}
	token, _ := auth.ParseToken(full.token)
	csrf, _ := auth.ParseToken(full.csrf)
	// The code is six digits: look for it as a token, not inside a timestamp.
	if regexp.MustCompile(`(^|[^0-9.])` + code + `($|[^0-9])`).MatchString(logs) {
		t.Error("the 2FA code is in the log")
	}
	secrets := map[string]string{"password": password, "wrong password": "a wrong password",
		"reset code": reset, "CAPTCHA secret": captchaSecret, "auth token": token, "CSRF token": csrf}
	for what, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the %s is in the log", what)
		}
	}
}
