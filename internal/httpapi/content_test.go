package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestXssKeywords checks that question text carrying an XssKeywords word
// is refused, that the list is the tenant's current one, and the allowlist.
func TestXssKeywords(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	put := func(question string) reply {
		return e.do(call{method: "PUT", path: settingsPath + "challenges", as: admin, body: `{"Challenge":[` +
			`{"ChallengeCode":"a","ChallengeQuestion":"A?"},{"ChallengeCode":"b","ChallengeQuestion":"B?"},` +
			`{"ChallengeCode":"c","ChallengeQuestion":` + question + `}]}`})
	}
	before := string(e.get(admin, "challenges"))
	if r := put(`"<img src=x onerror=alert(1)>"`); r.status != 400 || !strings.Contains(string(r.body), "onerror") {
		t.Errorf("onerror: %d %s", r.status, r.body)
	}
	if after := string(e.get(admin, "challenges")); after != before {
		t.Error("refused questions were stored")
	}
	if r := put(`"Your first evaluation?"`); r.status != 200 {
		t.Errorf("a word containing a keyword: %d %s", r.status, r.body)
	}
	e.put(admin, "securitysettings", `{"XssKeywords":"javascript"}`)
	if r := put(`"javascript:alert(1)"`); r.status != 400 {
		t.Errorf("new keyword: %d", r.status)
	}
	if r := put(`"onerror?"`); r.status != 200 {
		t.Errorf("keyword no longer listed: %d %s", r.status, r.body)
	}
	e.put(admin, "securitysettings", `{"WhiteListKeywordsSupport":"com.soa.feature.enabled","WhiteListKeywords":"?'"}`)
	if r := put(`"Your pet's name?"`); r.status != 200 {
		t.Errorf("allowed characters: %d %s", r.status, r.body)
	}
	if r := put(`"Your pet, please."`); r.status != 400 {
		t.Errorf("character outside the allowlist: %d", r.status)
	}
}

// TestCharacterReferences: question text that is a script URL or markup
// once its character references are decoded is refused, and nothing is
// stored (browsers decode references in attributes).
func TestCharacterReferences(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	before := string(e.get(admin, "challenges"))
	for _, q := range []string{"java&#115;cript:alert(1)", "javascript&colon;alert(1)", "&lt;img src=x onerror=alert(1)&gt;", "java&amp;#115;cript:x"} {
		r := e.do(call{method: "PUT", path: settingsPath + "challenges", as: admin, body: `{"Challenge":[` +
			`{"ChallengeCode":"a","ChallengeQuestion":"A?"},{"ChallengeCode":"b","ChallengeQuestion":"B?"},` +
			`{"ChallengeCode":"c","ChallengeQuestion":"` + q + `"}]}`})
		if r.status != http.StatusBadRequest {
			t.Errorf("%q: %d %s, want 400", q, r.status, r.body)
		}
	}
	if after := string(e.get(admin, "challenges")); after != before {
		t.Errorf("refused questions were stored: %s", after)
	}
}

// TestFileUpload checks AllowedFileTypes and the strict policy's sniffing.
func TestFileUpload(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	png := "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
	html := "<html><body><script>alert(1)</script></body></html>"
	upload := func(name, ct, body string, as *session) reply {
		return e.do(call{method: "PUT", path: settingsPath + "files/" + name, body: body, as: as,
			header: map[string]string{"Content-Type": ct}})
	}
	cases := []struct {
		name, ct, body string
		status         int
	}{
		{"logo.png", "image/png", png, 200},
		{"api.json", "application/json", `{"openapi":"3.0.0"}`, 200},
		{"service.wsdl", "application/wsdl+xml", `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"/>`, 200},
		{"fake.png", "image/png", html, 415},
		{"page.txt", "text/plain", html, 415},
		{"bad.json", "application/json", `{"a":`, 415},
		{"page.html", "text/html", html, 415},
		{"app.exe", "application/x-msdownload", "MZ\x90\x00", 415},
		{"onload.png", "image/png", png, 400}, // XSS keyword in the name
	}
	for _, c := range cases {
		if r := upload(c.name, c.ct, c.body, admin); r.status != c.status {
			t.Errorf("%s as %s: %d %s, want %d", c.name, c.ct, r.status, r.body, c.status)
		}
	}
	r := e.do(call{method: "GET", path: settingsPath + "files/logo.png", as: admin})
	if r.status != 200 || string(r.body) != png || r.header.Get("Content-Type") != "image/png" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("download: %d %q %v", r.status, r.body, r.header)
	}
	if r := e.do(call{method: "GET", path: settingsPath + "files/fake.png", as: admin}); r.status != http.StatusNotFound {
		t.Errorf("a refused file was stored: %d", r.status)
	}
	// Without the strict policy the claimed type decides.
	e.put(admin, "securitysettings", `{"AllowedFileTypesStrictPolicy":"com.soa.feature.disabled"}`)
	if r := upload("fake.png", "image/png", html, admin); r.status != 200 {
		t.Errorf("lax policy: %d %s", r.status, r.body)
	}
	if r := upload("logo2.png", "image/png", png, e.login("auditor@acme.example")); r.status != 403 {
		t.Errorf("auditor upload: %d", r.status)
	}
}
