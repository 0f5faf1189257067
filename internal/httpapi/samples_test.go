package httpapi_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

func sample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/samples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSamples replays every sample request of the five API pages, with the
// pages' headers, and checks status, Content-Type and body against the
// pages' sample responses byte for byte (after JSON compaction, so value
// types such as "6" versus 6 and the field order must match).
func TestSamples(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	base := "/api/businesses/" + business + "/"
	steps := []struct {
		name        string
		method      string
		resource    string
		accept      string
		contentType string
		request     string // file name, or "" for no body
		response    string // file name, or literal JSON when it starts with {
		wantType    string
	}{
		{"GET twofasettings on a new business", "GET", "twofasettings", "application/vnd.soa.v81+json", "", "",
			"twofa-get.response.json", "application/vnd.soa.v81+json"},
		{"PUT twofasettings", "PUT", "twofasettings", "application/vnd.soa.v81+json", "application/vnd.soa.v81+json",
			"twofa-put.request.json",
			// The page shows no body; the object is the GET sample with the PUT's changes.
			`{"TwoFAEnabled":false,"CodeValidSeconds":300,"MaxAttempts":4,"RecurrenceMode":"twofa.login.new.device","RecurrenceIntervalMinutes":525950,"DeviceCookieName":"2fa_cookie"}`,
			"application/vnd.soa.v81+json"},
		{"PUT loginpolicy", "PUT", "loginpolicy", "application/json", "application/json",
			"loginpolicy-put.request.json", "loginpolicy-put.response.json", "application/json"},
		{"GET loginpolicy returns what PUT returned", "GET", "loginpolicy", "application/json", "", "",
			"loginpolicy-put.response.json", "application/json"},
		{"PUT securitysettings without CAPTCHA", "PUT", "securitysettings", "application/json", "application/json",
			"security-put-1.request.json", "security-put-1.response.json", "application/json"},
		{"PUT securitysettings with CAPTCHA", "PUT", "securitysettings", "application/json", "application/json",
			"security-put-2.request.json", "security-put-2.response.json", "application/json"},
		// The PUT answer echoes the secret the request sent, as sample
		// response #2 does; GET masks it (write-only).
		{"GET securitysettings returns what PUT returned, the secret masked", "GET", "securitysettings", "application/vnd.soa.v81+json", "", "",
			"security-get-2.response.json", "application/vnd.soa.v81+json"},
		{"PUT challenges", "PUT", "challenges", "application/vnd.soa.v72+json", "application/json",
			"challenges-put.request.json", "challenges-put.response.json", "application/vnd.soa.v72+json"},
		{"GET challenges returns the set", "GET", "challenges", "application/vnd.soa.v81+json", "", "",
			"challenges-put.response.json", "application/vnd.soa.v81+json"},
	}
	for _, s := range steps {
		c := call{method: s.method, path: base + s.resource, as: admin,
			header: map[string]string{"Accept": s.accept}}
		if s.request != "" {
			c.body = sample(t, s.request)
			c.header["Content-Type"] = s.contentType
		}
		r := e.do(c)
		if r.status != http.StatusOK {
			t.Fatalf("%s: status %d, want 200: %s", s.name, r.status, r.body)
		}
		if got := r.header.Get("Content-Type"); got != s.wantType {
			t.Errorf("%s: Content-Type %q, want %q", s.name, got, s.wantType)
		}
		want := s.response
		if !strings.HasPrefix(want, "{") {
			want = sample(t, want)
		}
		if got, want := compact(t, r.body), compact(t, []byte(want)); got != want {
			t.Errorf("%s: body\n got %s\nwant %s", s.name, got, want)
		}
	}
}

// TestCaptchaSecretSealed checks that CaptchaSiteSecret is stored sealed,
// still works after a restart, and is answered only masked, except to the
// PUT that carried it: write-only.
func TestCaptchaSecretSealed(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "securitysettings", sample(t, "security-put-2.request.json"))
	const plain = "6Le_vcgUAAAAALW3ZsmB_MlZZi1kk2OOvl-Ql6jb"
	e.stop()
	if e.storedInClear(plain) {
		t.Fatal("CaptchaSiteSecret is in the database in clear")
	}
	e.start()
	r := e.do(call{method: "POST", path: "/api/login", // CAPTCHA is on now
		body: `{"email":"admin@acme.example","password":"` + password + `","captchaResponse":"human"}`})
	if r.status != 200 {
		t.Fatalf("login with CAPTCHA after restart: %d %s", r.status, r.body)
	}
	admin = sessionOf(tenant, r)
	if got := string(e.get(admin, "securitysettings")); !strings.Contains(got, `"CaptchaSiteSecret":"********"`) || strings.Contains(got, plain) {
		t.Errorf("GET after restart: %s", got)
	}
	auditor := e.login("auditor@acme.example")
	if got := string(e.get(auditor, "securitysettings")); strings.Contains(got, plain) {
		t.Errorf("an Auditor reads the secret: %s", got)
	}
	// Sending the mask back (a client that PUTs what it GOT) keeps the secret.
	if got := string(e.put(admin, "securitysettings", `{"CaptchaSiteSecret":"********","XssKeywords":"eval"}`)); strings.Contains(got, plain) ||
		!strings.Contains(got, `"CaptchaSiteSecret":"********"`) {
		t.Errorf("a PUT that did not send the secret shows it: %s", got)
	}
	// A PUT of other fields does not show the stored secret either.
	if got := string(e.put(admin, "securitysettings", `{"XssKeywords":"eval"}`)); strings.Contains(got, plain) {
		t.Errorf("a PUT without the secret shows it: %s", got)
	}
	// A PUT that sends a new secret sees that one echoed, and GET masks it.
	const other = "6Le_othersecretvalue0000000000000000000"
	if got := string(e.put(admin, "securitysettings", `{"CaptchaSiteSecret":"`+other+`"}`)); !strings.Contains(got, `"CaptchaSiteSecret":"`+other+`"`) {
		t.Errorf("PUT of a new secret does not echo it: %s", got)
	}
	if got := string(e.get(admin, "securitysettings")); strings.Contains(got, other) {
		t.Errorf("GET shows the new secret: %s", got)
	}
	e.put(admin, "securitysettings", `{"CaptchaSiteSecret":"`+plain+`"}`)
	r = e.do(call{method: "POST", path: "/api/login",
		body: `{"email":"admin@acme.example","password":"` + password + `","captchaResponse":"human"}`})
	if r.status != 200 {
		t.Errorf("login with CAPTCHA after the mask was sent back: %d %s", r.status, r.body)
	}
}
