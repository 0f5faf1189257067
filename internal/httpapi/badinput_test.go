package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestBadInput sends malformed, mistyped and out-of-range requests. Each
// must get its status and a platform error body, and leave every stored
// setting exactly as it was.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	resources := settingsResources
	snapshot := func() map[string]string { return e.snapshot(admin) }
	const xmlType = "application/xml"
	oversize := `{"XssKeywords":"` + strings.Repeat("a", 300<<10) + `"}`
	challenge := func(fields string) string {
		return `{"Challenge":[` +
			`{"ChallengeCode":"a","ChallengeQuestion":"Q1?"},{"ChallengeCode":"b","ChallengeQuestion":"Q2?"},` +
			`{"ChallengeCode":"c","ChallengeQuestion":"Q3?"},{` + fields + `}]}`
	}
	cases := []struct {
		name        string
		method      string
		resource    string
		contentType string
		accept      string
		body        string
		status      int
		faultcode   string
		mentions    string // the fault string must name the problem
	}{
		// twofasettings
		{"malformed JSON", "PUT", "twofasettings", "", "", `{"MaxAttempts":`, 400, "InvalidRequest", "malformed JSON"},
		{"JSON array instead of object", "PUT", "twofasettings", "", "", `[1,2]`, 400, "InvalidRequest", "JSON object"},
		{"JSON null", "PUT", "twofasettings", "", "", `null`, 400, "InvalidRequest", "JSON object"},
		{"boolean as word", "PUT", "twofasettings", "", "", `{"TwoFAEnabled":"yes"}`, 400, "InvalidRequest", "TwoFAEnabled"},
		{"integer as word", "PUT", "twofasettings", "", "", `{"CodeValidSeconds":"abc"}`, 400, "InvalidRequest", "CodeValidSeconds"},
		{"negative seconds", "PUT", "twofasettings", "", "", `{"CodeValidSeconds":-5}`, 400, "InvalidRequest", "CodeValidSeconds"},
		{"absurd seconds", "PUT", "twofasettings", "", "", `{"CodeValidSeconds":99999999}`, 400, "InvalidRequest", "CodeValidSeconds"},
		{"integer overflow", "PUT", "twofasettings", "", "", `{"MaxAttempts":"99999999999999999999"}`, 400, "InvalidRequest", "MaxAttempts"},
		{"zero attempts", "PUT", "twofasettings", "", "", `{"MaxAttempts":0}`, 400, "InvalidRequest", "MaxAttempts"},
		{"fractional attempts", "PUT", "twofasettings", "", "", `{"MaxAttempts":1.5}`, 400, "InvalidRequest", "MaxAttempts"},
		{"unknown recurrence mode", "PUT", "twofasettings", "", "", `{"RecurrenceMode":"twofa.sometimes"}`, 400, "InvalidRequest", "RecurrenceMode"},
		{"zero interval", "PUT", "twofasettings", "", "", `{"RecurrenceIntervalMinutes":"0"}`, 400, "InvalidRequest", "RecurrenceIntervalMinutes"},
		{"bad cookie name", "PUT", "twofasettings", "", "", `{"DeviceCookieName":"my cookie;"}`, 400, "InvalidRequest", "DeviceCookieName"},
		{"misspelt field", "PUT", "twofasettings", "", "", `{"MaxAtempts":4}`, 400, "InvalidRequest", "MaxAtempts"},
		{"trailing data", "PUT", "twofasettings", "", "", `{"MaxAttempts":4} {}`, 400, "InvalidRequest", "after the object"},
		{"empty body", "PUT", "twofasettings", "", "", ` `, 400, "InvalidRequest", "empty"},
		{"oversize body", "PUT", "securitysettings", "", "", oversize, 400, "InvalidRequest", "larger than"},
		{"malformed XML", "PUT", "twofasettings", xmlType, "", `<TwoFASettings><MaxAttempts>4</TwoFASettings>`, 400, "InvalidRequest", "malformed XML"},
		{"XML of another object", "PUT", "twofasettings", xmlType, "", `<LoginPolicy><ActiveSessionTimeout>5</ActiveSessionTimeout></LoginPolicy>`, 400, "InvalidRequest", "TwoFASettings"},
		{"XML unknown element", "PUT", "twofasettings", xmlType, "", `<TwoFASettings><Bogus>1</Bogus></TwoFASettings>`, 400, "InvalidRequest", "Bogus"},
		{"XML integer as word", "PUT", "twofasettings", xmlType, "", `<TwoFASettings><MaxAttempts>four</MaxAttempts></TwoFASettings>`, 400, "InvalidRequest", "integer"},
		{"unsupported Content-Type", "PUT", "twofasettings", "text/plain", "", `{"MaxAttempts":4}`, 415, "UnsupportedMediaType", "text/plain"},
		{"v71 not offered for 2FA (Content-Type)", "PUT", "twofasettings", "application/vnd.soa.v71+json", "", `{"MaxAttempts":4}`, 415, "UnsupportedMediaType", "v71"},
		{"v71 not offered for 2FA (Accept)", "GET", "twofasettings", "", "application/vnd.soa.v71+json", ``, 406, "NotAcceptable", "v71"},
		{"unacceptable Accept", "GET", "loginpolicy", "", "text/html", ``, 406, "NotAcceptable", "text/html"},
		{"non-UTF-8 charset", "PUT", "loginpolicy", "application/json; charset=latin1", "", `{"AttemptsPeriod":"8"}`, 415, "UnsupportedMediaType", "charset"},
		// loginpolicy
		{"negative max failures", "PUT", "loginpolicy", "", "", `{"MaxSequentialFailureAttemptsAllowed":"-1"}`, 400, "InvalidRequest", "MaxSequentialFailureAttemptsAllowed"},
		{"zero attempts period", "PUT", "loginpolicy", "", "", `{"AttemptsPeriod":"0"}`, 400, "InvalidRequest", "AttemptsPeriod"},
		{"zero suspension", "PUT", "loginpolicy", "", "", `{"SuspensionMinutes":0}`, 400, "InvalidRequest", "SuspensionMinutes"},
		{"timeout as word", "PUT", "loginpolicy", "", "", `{"ActiveSessionTimeout":"an hour"}`, 400, "InvalidRequest", "ActiveSessionTimeout"},
		{"absurd inactive timeout", "PUT", "loginpolicy", "", "", `{"InactiveSessionTimeout":"2000000"}`, 400, "InvalidRequest", "InactiveSessionTimeout"},
		{"boolean as maybe", "PUT", "loginpolicy", "", "", `{"PersistentSession":"maybe"}`, 400, "InvalidRequest", "PersistentSession"},
		{"boolean as number", "PUT", "loginpolicy", "", "", `{"ConcurrentLogin":1}`, 400, "InvalidRequest", "ConcurrentLogin"},
		{"unknown auto-login value", "PUT", "loginpolicy", "", "", `{"AutoLoginExternalDomain":"yes"}`, 400, "InvalidRequest", "AutoLoginExternalDomain"},
		// securitysettings
		{"unknown feature value", "PUT", "securitysettings", "", "", `{"ReadRequestCSRFSupport":"on"}`, 400, "InvalidRequest", "ReadRequestCSRFSupport"},
		{"string field as number", "PUT", "securitysettings", "", "", `{"XssKeywords":5}`, 400, "InvalidRequest", "XssKeywords"},
		{"count as word", "PUT", "securitysettings", "", "", `{"ChallengeCount":"three"}`, 400, "InvalidRequest", "ChallengeCount"},
		{"absurd count", "PUT", "securitysettings", "", "", `{"ChallengeCount":50}`, 400, "InvalidRequest", "ChallengeCount"},
		{"more questions than exist", "PUT", "securitysettings", "", "", `{"ChallengeCount":5}`, 400, "InvalidRequest", "active"},
		{"unknown SameSite", "PUT", "securitysettings", "", "", `{"AuthTokenCookieSameSite":"Sometimes"}`, 400, "InvalidRequest", "AuthTokenCookieSameSite"},
		{"bad cookie domain", "PUT", "securitysettings", "", "", `{"AuthTokenCookieDomain":"not a domain!"}`, 400, "InvalidRequest", "AuthTokenCookieDomain"},
		{"CAPTCHA without keys", "PUT", "securitysettings", "", "", `{"CaptchaSupport":"com.soa.feature.enabled"}`, 400, "InvalidRequest", "CaptchaSiteSecret"},
		{"file type not a media type", "PUT", "securitysettings", "", "", `{"AllowedFileTypes":"text/plain,pdf"}`, 400, "InvalidRequest", "AllowedFileTypes"},
		{"letters in allowlist", "PUT", "securitysettings", "", "", `{"WhiteListKeywords":"abc"}`, 400, "InvalidRequest", "WhiteListKeywords"},
		// challenges
		{"duplicate ChallengeCode", "PUT", "challenges", "", "", challenge(`"ChallengeCode":"a","ChallengeQuestion":"Q4?"`), 400, "InvalidRequest", "duplicate ChallengeCode"},
		{"duplicate question", "PUT", "challenges", "", "", challenge(`"ChallengeCode":"d","ChallengeQuestion":"q1?"`), 400, "InvalidRequest", "uniquely worded"},
		{"missing ChallengeCode", "PUT", "challenges", "", "", challenge(`"ChallengeQuestion":"Q4?"`), 400, "InvalidRequest", "ChallengeCode is required"},
		{"overlong ChallengeCode", "PUT", "challenges", "", "", challenge(`"ChallengeCode":"` + strings.Repeat("x", 256) + `","ChallengeQuestion":"Q4?"`), 400, "InvalidRequest", "ChallengeCode"},
		{"minimum above maximum", "PUT", "challenges", "", "", challenge(`"ChallengeCode":"d","ChallengeQuestion":"Q4?","MinimumLength":"5","MaximumLength":"2"`), 400, "InvalidRequest", "MinimumLength"},
		{"negative minimum", "PUT", "challenges", "", "", challenge(`"ChallengeCode":"d","ChallengeQuestion":"Q4?","MinimumAlphaCount":-1`), 400, "InvalidRequest", "MinimumAlphaCount"},
		{"unsatisfiable counts", "PUT", "challenges", "", "", challenge(`"ChallengeCode":"d","ChallengeQuestion":"Q4?","MaximumLength":2,"MinimumAlphaCount":2,"MinimumNumberCount":1`), 400, "InvalidRequest", "MaximumLength"},
		{"multi-character special", "PUT", "challenges", "", "", challenge(`"ChallengeCode":"d","ChallengeQuestion":"Q4?","AllowedSpecialCharacters":{"AllowedSpecialCharacter":["ab"]}`), 400, "InvalidRequest", "AllowedSpecialCharacter"},
		{"Challenge not a list", "PUT", "challenges", "", "", `{"Challenge":{"ChallengeCode":"a"}}`, 400, "InvalidRequest", "Challenge"},
		{"Active as word", "PUT", "challenges", "", "", challenge(`"ChallengeCode":"d","ChallengeQuestion":"Q4?","Active":"sometimes"`), 400, "InvalidRequest", "Active"},
		{"fewer active than ChallengeCount", "PUT", "challenges", "", "", `{"Challenge":[{"ChallengeCode":"a","ChallengeQuestion":"Q1?"},{"ChallengeCode":"b","ChallengeQuestion":"Q2?"}]}`, 400, "InvalidRequest", "ChallengeCount"},
		{"XML unknown nested element", "PUT", "challenges", xmlType, "", `<Challenges><Challenge><ChallengeCode>a</ChallengeCode><Colour>red</Colour></Challenge></Challenges>`, 400, "InvalidRequest", `Challenge[0]: unknown field "Colour"`},
		{"IncludeInactive not boolean", "GET", "challenges?IncludeInactive=maybe", "", "", ``, 400, "InvalidRequest", "IncludeInactive"},
		// verbs and resources
		{"DELETE is not offered", "DELETE", "loginpolicy", "", "", ``, 405, "MethodNotAllowed", "DELETE"},
		{"POST is not offered", "POST", "securitysettings", "", "", `{}`, 405, "MethodNotAllowed", "POST"},
	}
	before := snapshot()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{}
			if c.contentType != "" {
				h["Content-Type"] = c.contentType
			}
			if c.accept != "" {
				h["Accept"] = c.accept
			}
			r := e.do(call{method: c.method, path: "/api/businesses/" + business + "/" + c.resource, body: c.body, header: h, as: admin})
			code, msg := r.fault()
			if r.status != c.status || code != c.faultcode {
				t.Fatalf("status %d faultcode %q, want %d %q; body %s", r.status, code, c.status, c.faultcode, r.body)
			}
			if !strings.Contains(msg, c.mentions) {
				t.Errorf("faultstring %q does not mention %q", msg, c.mentions)
			}
			if got := r.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("error Content-Type %q, want application/json", got)
			}
		})
	}
	after := snapshot()
	for _, r := range resources {
		if before[r] != after[r] {
			t.Errorf("%s changed after bad input:\nbefore %s\nafter  %s", r, before[r], after[r])
		}
	}
	if len(cases) < 40 {
		t.Errorf("only %d bad inputs", len(cases))
	}
}

// TestErrorsInXML checks that an XML client gets the XML twin of the error body.
func TestErrorsInXML(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	r := e.do(call{method: "PUT", path: "/api/businesses/" + business + "/loginpolicy", as: admin,
		body:   `<LoginPolicy><AttemptsPeriod>-3</AttemptsPeriod></LoginPolicy>`,
		header: map[string]string{"Content-Type": "application/vnd.soa.v80+xml", "Accept": "application/vnd.soa.v80+xml"}})
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", r.status)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/vnd.soa.v80+xml" {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(string(r.body), "<Fault><faultcode>InvalidRequest</faultcode><faultstring>AttemptsPeriod") {
		t.Errorf("body %s", r.body)
	}
}

// TestUnknownBusinessAndPath checks 404s in the platform's error format.
func TestUnknownBusinessAndPath(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	for _, path := range []string{
		"/api/businesses/tenantbusiness.nosuch/loginpolicy",
		"/api/businesses/tenantbusiness.nosuch/challenges",
		"/api/nosuchservice",
	} {
		r := e.do(call{method: "GET", path: path, as: admin})
		if code, _ := r.fault(); r.status != http.StatusNotFound || code != "NotFound" {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
	}
}

// TestInternalErrorLeaksNothing breaks the database under a running server:
// the client gets a 500 in the platform's format with a generic message.
func TestInternalErrorLeaksNothing(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.store.Close()
	r := e.do(call{method: "GET", path: settingsPath + "loginpolicy", as: admin})
	code, msg := r.fault()
	if r.status != http.StatusInternalServerError || code != "InternalError" || msg != "An error occurred processing the call." {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if strings.Contains(strings.ToLower(string(r.body)), "sql") {
		t.Errorf("body leaks internals: %s", r.body)
	}
}

// settingsResources are the four settings objects of a business.
var settingsResources = []string{"twofasettings", "loginpolicy", "securitysettings", "challenges"}

// snapshot reads every settings object as it is stored, to check that a
// refused request changed none.
func (e *env) snapshot(as *session) map[string]string {
	m := map[string]string{}
	for _, r := range settingsResources {
		m[r] = string(e.do(call{method: "GET", path: "/api/businesses/" + business + "/" + r + "?IncludeInactive=true", as: as}).body)
	}
	return m
}
