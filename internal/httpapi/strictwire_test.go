package httpapi_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// goNames are marks of Go internals that no error message may carry.
var goNames = regexp.MustCompile(`strconv|reflect|jsontext|json:|xml:|encoding/|httpapi|lenient(Int|Bool)|quoted(Int|Bool)|CharsetReader|\*[a-z]+\.[A-Z]`)

// TestStrictWire sends bodies that could mean two things, or that Go's
// decoders would quietly reinterpret. Each must be refused with its status
// and a plain message, and change nothing stored.
func TestStrictWire(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	resources := settingsResources
	snapshot := func() map[string]string { return e.snapshot(admin) }
	const xmlType = "application/xml"
	challenge := func(fields string) string {
		return `{"Challenge":[{"ChallengeCode":"a","ChallengeQuestion":"Q1?"},{"ChallengeCode":"b","ChallengeQuestion":"Q2?"},` +
			`{"ChallengeCode":"c","ChallengeQuestion":"Q3?"},{` + fields + `}]}`
	}
	cases := []struct {
		name      string
		resource  string
		header    map[string]string
		body      string
		status    int
		faultcode string
		mentions  string
	}{
		{"field name in another case", "securitysettings", nil, `{"ReadRequestCsrfSupport":"com.soa.feature.enabled"}`, 400, "InvalidRequest", `unknown field "ReadRequestCsrfSupport"`},
		{"lower-case field", "twofasettings", nil, `{"maxattempts":6}`, 400, "InvalidRequest", `unknown field "maxattempts"`},
		{"same field in two cases", "twofasettings", nil, `{"MaxAttempts":3,"maxattempts":7}`, 400, "InvalidRequest", "maxattempts"},
		{"duplicate field", "twofasettings", nil, `{"MaxAttempts":4,"MaxAttempts":5}`, 400, "InvalidRequest", `duplicate field "MaxAttempts"`},
		{"duplicate nested field", "challenges", nil, challenge(`"ChallengeCode":"d","ChallengeCode":"e","ChallengeQuestion":"Q4?"`), 400, "InvalidRequest", `duplicate field "Challenge[3].ChallengeCode"`},
		{"invalid UTF-8", "twofasettings", nil, "{\"DeviceCookieValue\":\"a\xffb\"}", 400, "InvalidRequest", "UTF-8"},
		{"NUL in ChallengeCode", "challenges", nil, challenge(`"ChallengeCode":"d\u0000","ChallengeQuestion":"Q4?"`), 400, "InvalidRequest", "control characters"},
		{"device cookie named as the auth cookie", "twofasettings", nil, `{"DeviceCookieName":"AtmoAuthToken_acmepaymentscorp"}`, 400, "InvalidRequest", "reserved"},
		{"device cookie named as the CSRF cookie", "twofasettings", nil, `{"DeviceCookieName":"csrf-token_acmepaymentscorp"}`, 400, "InvalidRequest", "reserved"},
		{"empty device cookie name", "twofasettings", nil, `{"DeviceCookieName":""}`, 400, "InvalidRequest", "DeviceCookieName"},
		{"null", "twofasettings", nil, `{"MaxAttempts":null}`, 400, "InvalidRequest", `"MaxAttempts": null is not allowed`},
		{"nested null", "challenges", nil, challenge(`"ChallengeCode":"d","ChallengeQuestion":null`), 400, "InvalidRequest", "null"},
		{"number with a space", "twofasettings", nil, `{"MaxAttempts":" 4"}`, 400, "InvalidRequest", "MaxAttempts"},
		{"number with a plus", "loginpolicy", nil, `{"AttemptsPeriod":"+4"}`, 400, "InvalidRequest", "AttemptsPeriod"},
		{"boolean in capitals", "twofasettings", nil, `{"TwoFAEnabled":"TRUE"}`, 400, "InvalidRequest", "TwoFAEnabled"},
		{"unknown cookie domain constant", "securitysettings", nil, `{"AuthTokenCookieDomain":"com.soa.auth.token.cookie.domain.other"}`, 400, "InvalidRequest", "AuthTokenCookieDomain"},
		{"XML attribute", "twofasettings", map[string]string{"Content-Type": xmlType}, `<TwoFASettings><MaxAttempts unit="x">4</MaxAttempts></TwoFASettings>`, 400, "InvalidRequest", "attribute"},
		{"XML DOCTYPE", "twofasettings", map[string]string{"Content-Type": xmlType}, `<!DOCTYPE TwoFASettings [<!ENTITY n "4">]><TwoFASettings><MaxAttempts>4</MaxAttempts></TwoFASettings>`, 400, "InvalidRequest", "DOCTYPE"},
		{"XML undeclared prefix", "twofasettings", map[string]string{"Content-Type": xmlType}, `<TwoFASettings><x:MaxAttempts>4</x:MaxAttempts></TwoFASettings>`, 400, "InvalidRequest", "not declared"},
		{"XML duplicate element", "twofasettings", map[string]string{"Content-Type": xmlType}, `<TwoFASettings><MaxAttempts>4</MaxAttempts><MaxAttempts>5</MaxAttempts></TwoFASettings>`, 400, "InvalidRequest", "duplicate element <MaxAttempts>"},
		{"XML duplicate under two namespaces", "twofasettings", map[string]string{"Content-Type": xmlType}, `<TwoFASettings xmlns:a="urn:a" xmlns:b="urn:b"><a:MaxAttempts>4</a:MaxAttempts><b:MaxAttempts>5</b:MaxAttempts></TwoFASettings>`, 400, "InvalidRequest", "duplicate element"},
		{"XML in ISO-8859-1", "twofasettings", map[string]string{"Content-Type": xmlType}, `<?xml version="1.0" encoding="ISO-8859-1"?><TwoFASettings><DeviceCookieValue>caf` + "\xe9" + `</DeviceCookieValue></TwoFASettings>`, 415, "UnsupportedMediaType", "send UTF-8"},
		{"gzip said, not sent", "twofasettings", map[string]string{"Content-Encoding": "gzip"}, `{"MaxAttempts":4}`, 415, "UnsupportedMediaType", "Content-Encoding"},
	}
	before := snapshot()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(call{method: "PUT", path: "/api/businesses/" + business + "/" + c.resource, body: c.body, header: c.header, as: admin})
			code, msg := r.fault()
			if r.status != c.status || code != c.faultcode {
				t.Fatalf("status %d faultcode %q, want %d %q; body %s", r.status, code, c.status, c.faultcode, r.body)
			}
			if !strings.Contains(msg, c.mentions) {
				t.Errorf("faultstring %q does not mention %q", msg, c.mentions)
			}
			if goNames.MatchString(msg) {
				t.Errorf("faultstring %q names Go internals", msg)
			}
		})
	}
	after := snapshot()
	for _, r := range resources {
		if before[r] != after[r] {
			t.Errorf("%s changed after refused input:\nbefore %s\nafter  %s", r, before[r], after[r])
		}
	}
}

// TestNoRedirects: a path the mux would clean gets a fault in the
// negotiated format, never a redirect to another resource.
func TestNoRedirects(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	before := string(e.get(admin, "loginpolicy"))
	for _, path := range []string{
		"/api/businesses/tenantbusiness.other/../" + business + "/loginpolicy",
		"//api/businesses/" + business + "/loginpolicy",
		"/api/businesses/" + business + "/./loginpolicy",
		"/api/businesses/" + business + "//loginpolicy",
	} {
		r := e.do(call{method: "PUT", path: path, body: `{"AttemptsPeriod":"9"}`, as: admin,
			header: map[string]string{"Accept": "application/xml"}})
		if r.status != http.StatusNotFound || r.header.Get("Location") != "" || !strings.Contains(string(r.body), "<faultcode>NotFound</faultcode>") {
			t.Errorf("PUT %s: %d %v %s", path, r.status, r.header.Get("Location"), r.body)
		}
	}
	if after := string(e.get(admin, "loginpolicy")); after != before {
		t.Errorf("a refused path changed the policy: %s", after)
	}
}

// TestCSRFHeaderIsTheCookie: the header must be the CSRF cookie's value
// exactly; the token part alone, or with another expirationTime, is refused.
func TestCSRFHeaderIsTheCookie(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	decoded, _ := url.QueryUnescape(admin.csrf)
	token := strings.Split(decoded, ",")[0]
	for name, header := range map[string]string{
		"token only":             token,
		"token only, escaped":    url.QueryEscape(token),
		"another expirationTime": url.QueryEscape(token + ",expirationTime=99999999999999"),
		"decoded cookie":         decoded,
	} {
		forged := &session{tenant: admin.tenant, token: admin.token, csrf: header}
		if r := e.do(call{method: "PUT", path: settingsPath + "loginpolicy", body: `{"AttemptsPeriod":"9"}`, as: forged}); r.status != 401 {
			t.Errorf("%s: %d, want 401", name, r.status)
		}
	}
	if r := e.do(call{method: "PUT", path: settingsPath + "loginpolicy", body: `{"AttemptsPeriod":"9"}`, as: admin}); r.status != 200 {
		t.Errorf("the cookie's value: %d %s", r.status, r.body)
	}
}
