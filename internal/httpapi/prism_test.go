package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bizsec/bizsec/internal/httpapi"
)

// prism starts Prism (BIZSEC_PRISM, the prism binary of
// @stoplight/prism-cli) as a validating proxy in front of the env's
// server, with the tenant's own document, and returns its URL and what it
// has logged so far. Without BIZSEC_PRISM the test skips, or fails when
// BIZSEC_REQUIRE_PRISM is set (as CI does).
func prism(t *testing.T, e *env) (string, func() string) {
	t.Helper()
	bin := os.Getenv("BIZSEC_PRISM")
	if bin == "" {
		if os.Getenv("BIZSEC_REQUIRE_PRISM") != "" {
			t.Fatal("BIZSEC_PRISM (the path of the prism binary) is not set and BIZSEC_REQUIRE_PRISM is")
		}
		t.Skip("BIZSEC_PRISM is not set (npm install @stoplight/prism-cli)")
	}
	r := e.do(call{method: "GET", path: "/api/openapi.json?tenant=" + tenant})
	if r.status != http.StatusOK {
		t.Fatalf("the tenant's document: %d %s", r.status, r.body)
	}
	doc := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(doc, r.body, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "proxy", doc, e.srv.URL, "--errors", "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logged strings.Builder
	listening := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			logged.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "is listening on") {
				once.Do(func() { close(listening) })
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cmd.Wait() })
	select {
	case <-listening:
	case <-done:
		t.Fatalf("prism exited before listening:\n%s", logged.String())
	}
	return "http://127.0.0.1:" + strconv.Itoa(port), func() string {
		mu.Lock()
		defer mu.Unlock()
		return logged.String()
	}
}

// TestPrism replays the API's exchanges through Prism as a validating
// proxy over the per-tenant document: login, every settings object's GET
// and PUT in JSON and XML, challenges, 2FA, reset, accounts, audit and
// faults. Prism must report no violation of the document by either side.
func TestPrism(t *testing.T) {
	e := newEnv(t)
	base, logged := prism(t, e)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var violations []string
	xmlUnchecked := 0
	var lastFound []string
	send := func(c call) reply {
		t.Helper()
		req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Accept", "application/json")
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		if c.as != nil {
			req.AddCookie(&http.Cookie{Name: httpapi.AuthCookie(c.as.tenant), Value: c.as.token})
			if !c.noCSRF && c.as.csrf != "" {
				req.Header.Set(httpapi.CSRFHeader(c.as.tenant), c.as.csrf)
			}
		}
		for _, ck := range c.cookies {
			req.AddCookie(ck)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		resp.Header["Set-Cookie"] = splitCookies(resp.Header["Set-Cookie"])
		found := prismViolations(resp.Header.Get("Sl-Violations"), body)
		if len(found) > 0 && allXMLUnparsed(found) && strings.Contains(req.Header.Get("Content-Type")+req.Header.Get("Accept"), "xml") {
			xmlUnchecked++
		} else if len(found) > 0 && c.header["X-Canary"] == "" {
			violations = append(violations, fmt.Sprintf("%s %s: %v", c.method, c.path, found))
		}
		lastFound = found
		if testing.Verbose() {
			t.Logf("%s %s: %d %.1500s %q", c.method, c.path, resp.StatusCode, body, resp.Header["Set-Cookie"])
		}
		return reply{resp.StatusCode, resp.Header, body}
	}
	login := func(email string) *session {
		t.Helper()
		r := send(call{method: "POST", path: "/api/login", body: `{"email":"` + email + `","password":"` + password + `","captchaResponse":"human"}`})
		if r.status != http.StatusOK {
			t.Fatalf("login through prism: %d %s", r.status, r.body)
		}
		return sessionOf(tenant, r)
	}
	biz := "/api/businesses/" + business + "/"
	admin := login("admin@acme.example")
	adminID := e.users["admin@acme.example"]
	devID := e.users["dev@acme.example"]
	send(call{method: "PUT", path: "/api/users/" + adminID + "/challenges", as: admin, body: answersBody(adminID, answersFor)})
	xmlBody := func(mt string) map[string]string { return map[string]string{"Content-Type": mt, "Accept": mt} }
	for _, res := range []string{"twofasettings", "loginpolicy", "securitysettings", "challenges", "passwordpolicy", "sessionpolicy"} {
		send(call{method: "GET", path: biz + res, as: admin})
		send(call{method: "GET", path: biz + res, as: admin, header: map[string]string{"Accept": "application/xml"}})
		send(call{method: "GET", path: biz + res, as: admin, header: map[string]string{"Accept": "application/vnd.soa.v81+json"}})
	}
	for res, b := range bodies {
		send(call{method: "PUT", path: biz + res, as: admin, body: b[0]})
		send(call{method: "PUT", path: biz + res, as: admin, body: b[1], header: xmlBody("application/xml")})
		send(call{method: "PUT", path: biz + res, as: admin, body: b[1], header: xmlBody("application/vnd.soa.v80+xml")})
	}
	send(call{method: "PUT", path: biz + "passwordpolicy", as: admin, body: `{"MinimumLength":"14","HistoryCount":2}`})
	send(call{method: "PUT", path: biz + "passwordpolicy", as: admin, body: `<PasswordPolicy><MinimumLength>12</MinimumLength></PasswordPolicy>`, header: xmlBody("application/xml")})
	send(call{method: "PUT", path: biz + "sessionpolicy", as: admin, body: `{"MaximumSessions":"50"}`})
	send(call{method: "PUT", path: biz + "sessionpolicy", as: admin, body: `<SessionPolicy><MaximumSessions>40</MaximumSessions></SessionPolicy>`, header: xmlBody("application/xml")})
	// Faults: bad input, a stale If-Match, no session, no such business, a missing CSRF header.
	send(call{method: "PUT", path: biz + "loginpolicy", as: admin, body: `{"AttemptsPeriod":"-1"}`})
	send(call{method: "PUT", path: biz + "loginpolicy", as: admin, body: `{"AttemptsPeriod":"3"}`, header: map[string]string{"If-Match": `"0"`}})
	send(call{method: "GET", path: "/api/businesses/tenantbusiness.nosuch/loginpolicy", as: admin})
	send(call{method: "GET", path: biz + "challenges?IncludeInactive=true"})
	// Accounts, audit, security check, files.
	send(call{method: "GET", path: biz + "audit?limit=5", as: admin})
	send(call{method: "GET", path: biz + "users?q=acme&limit=2", as: admin})
	send(call{method: "GET", path: biz + "suspendedusers", as: admin})
	send(call{method: "GET", path: biz + "securitycheck", as: admin})
	send(call{method: "GET", path: biz + "myrole", as: admin})
	send(call{method: "POST", path: biz + "users/" + devID + "/disable", as: admin})
	send(call{method: "POST", path: biz + "users/" + devID + "/enable", as: admin})
	send(call{method: "GET", path: "/api/users/" + adminID + "/sessions", as: admin})
	send(call{method: "DELETE", path: "/api/users/" + adminID + "/devices", as: admin})
	send(call{method: "GET", path: "/api/users/" + adminID + "/factors", as: admin})
	send(call{method: "POST", path: "/api/users/" + adminID + "/factors/totp", as: admin, body: `{"Name":"phone"}`})
	send(call{method: "GET", path: "/api/users/" + adminID + "/challenges", as: admin})
	send(call{method: "GET", path: "/api/login/status", as: admin})
	admin = sessionOf(tenant, send(call{method: "POST", path: "/api/login/renewToken", as: admin}))
	send(call{method: "GET", path: "/api/settingsschema"})
	// A wrong password, then 2FA: the mailed code, through pendingtasks.
	send(call{method: "POST", path: "/api/login", body: `{"email":"dev@acme.example","password":"nope","captchaResponse":"human"}`})
	send(call{method: "PUT", path: biz + "twofasettings", as: admin, body: `{"TwoFAEnabled":true}`})
	r := send(call{method: "POST", path: "/api/login", body: `{"email":"dev@acme.example","password":"` + password + `","captchaResponse":"human"}`})
	pending := sessionOf(tenant, r)
	send(call{method: "POST", path: "/api/login/pendingtasks", as: pending, body: `{"parameters":{"2fa.verification.code":"000000","Action":"validate"},"taskName":"2fa.verification.code"}`})
	r = send(call{method: "POST", path: "/api/login/pendingtasks", as: pending,
		body: `{"parameters":{"2fa.verification.code":"` + e.lastCode("dev@acme.example") + `","Action":"validate"},"taskName":"2fa.verification.code"}`})
	if r.status != http.StatusOK {
		t.Errorf("2FA through prism: %d %s", r.status, r.body)
	}
	dev := sessionOf(tenant, r)
	send(call{method: "PUT", path: biz + "twofasettings", as: admin, body: `{"TwoFAEnabled":false}`})
	// Password reset: asked for, a wrong code checked, then used.
	send(call{method: "POST", path: "/api/passwordmanagement/sendPasswordResetCode?emailAddress=dev@acme.example"})
	send(call{method: "POST", path: "/api/passwordmanagement/validatePasswordResetCode?emailAddress=dev@acme.example&passwordResetCode=" + url.QueryEscape("no such code")})
	send(call{method: "POST", path: "/api/login/authenticateWithPasswordResetCode", body: `{"Email":"dev@acme.example","PasswordResetCode":"nope","NewPassword":"long enough passphrase"}`})
	send(call{method: "GET", path: "/healthz"})
	send(call{method: "POST", path: "/api/login/logout", as: dev})
	send(call{method: "GET", path: "/api/login/endsession", as: admin})
	send(call{method: "GET", path: biz + "loginpolicy", as: admin})
	// Prism is checking: a body the document refuses is reported.
	send(call{method: "PUT", path: biz + "loginpolicy", as: admin, body: `{"NoSuchField":"1"}`, header: map[string]string{"X-Canary": "1"}})
	if len(lastFound) == 0 {
		t.Error("prism reported nothing for a body with a field the document does not have")
	}
	log := logged()
	t.Logf("%d XML bodies Prism could not check (it validates XML text as if it were JSON)", xmlUnchecked)
	if len(violations) > 0 {
		t.Errorf("prism reported %d violations:\n%s\nprism's log:\n%s", len(violations), strings.Join(violations, "\n"), log)
	}
	if !strings.Contains(log, "Forwarding") && !strings.Contains(log, "forward") {
		t.Errorf("prism forwarded nothing (is it a proxy?):\n%s", log)
	}
}

// prismViolations returns the messages of the violations Prism reports
// for one exchange: in its sl-violations header, or, with --errors, in
// the problem document it answers instead.
func prismViolations(header string, body []byte) []string {
	var items []struct {
		Location []string
		Message  string
	}
	if header != "" {
		json.Unmarshal([]byte(header), &items)
	}
	if bytes.Contains(body, []byte("stoplight.io/prism/errors")) {
		var problem struct {
			Type       string
			Validation []struct {
				Location []string
				Message  string
			}
		}
		json.Unmarshal(body, &problem)
		items = append(items, problem.Validation...)
		if len(problem.Validation) == 0 {
			items = append(items, struct {
				Location []string
				Message  string
			}{nil, problem.Type})
		}
	}
	var out []string
	for _, it := range items {
		out = append(out, strings.Join(it.Location, ".")+": "+it.Message)
	}
	return out
}

// allXMLUnparsed reports whether each violation is what Prism says of
// every XML body: it does not parse XML, so it validates the text
// against the object schema. Those bodies are checked by TestXMLRoundTrip
// and TestMediaTypes instead.
func allXMLUnparsed(found []string) bool {
	for _, f := range found {
		if !strings.HasSuffix(f, "body: Request body must be object") && !strings.HasSuffix(f, "body: Response body must be object") {
			return false
		}
	}
	return true
}

// splitCookies undoes Prism's joining of the Set-Cookie headers it
// forwards into one, comma-separated (a comma followed by a space is
// inside an Expires date; one followed by a name and = starts a cookie).
func splitCookies(in []string) []string {
	var out []string
	for _, h := range in {
		start := 0
		for i := 0; i < len(h); i++ {
			if h[i] == ',' && i+1 < len(h) && h[i+1] != ' ' {
				out = append(out, h[start:i])
				start = i + 1
			}
		}
		out = append(out, h[start:])
	}
	return out
}
