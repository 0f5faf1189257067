package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/go-cmp/cmp"
)

// TestOpenAPI checks the served document, then checks real exchanges with
// the server against it: each request is one the document allows, each
// JSON answer has the documented status and shape, and every documented
// operation is served.
func TestOpenAPI(t *testing.T) {
	e := newEnv(t)
	r := e.do(call{method: "GET", path: "/api/openapi.json"})
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(r.body)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	seen := map[string]bool{}
	check := func(c call) reply {
		t.Helper()
		rep := e.do(c)
		req, _ := http.NewRequest(c.method, "http://localhost"+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s is not in the document: %v", c.method, c.path, err)
			return rep
		}
		seen[route.Method+" "+route.Path] = true
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		if c.body != "" && req.Header.Get("Content-Type") == "application/json" {
			if err := openapi3filter.ValidateRequest(ctx, in); err != nil && rep.status < 400 {
				t.Errorf("%s %s: the document refuses a request the server took: %v", c.method, c.path, err)
			}
		}
		ct := rep.header.Get("Content-Type")
		if !strings.HasPrefix(ct, "application/json") && len(rep.body) > 0 && !strings.HasPrefix(route.Path, "/api/businesses/{BusinessID}/files") && route.Path != "/metrics" &&
			!strings.HasSuffix(route.Path, "/qr.png") {
			t.Errorf("%s %s: answered %s", c.method, c.path, ct)
			return rep
		}
		if !strings.HasPrefix(ct, "application/json") {
			return rep
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rep.status, Header: rep.header,
			Body: io.NopCloser(bytes.NewReader(rep.body)), Options: opts}
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s %s: the %d answer does not match the document: %v\n%s", c.method, c.path, rep.status, err, rep.body)
		}
		return rep
	}
	biz := "/api/businesses/" + business + "/"
	admin := e.login("admin@acme.example")
	adminID := e.users["admin@acme.example"]
	for _, res := range []string{"twofasettings", "loginpolicy", "securitysettings", "challenges", "passwordpolicy", "sessionpolicy", "factorpolicy"} {
		check(call{method: "GET", path: biz + res, as: admin})
	}
	check(call{method: "PUT", path: biz + "twofasettings", as: admin, body: sample(t, "twofa-put.request.json")})
	check(call{method: "PUT", path: biz + "loginpolicy", as: admin, body: sample(t, "loginpolicy-put.request.json")})
	check(call{method: "PUT", path: biz + "securitysettings", as: admin, body: sample(t, "security-put-2.request.json")})
	check(call{method: "PUT", path: biz + "challenges", as: admin, body: sample(t, "challenges-put.request.json")})
	check(call{method: "PUT", path: biz + "passwordpolicy", as: admin, body: `{"MinimumLength":"14","HistoryCount":2}`})
	check(call{method: "PUT", path: biz + "passwordpolicy", as: admin, body: `{"MinimumLength":0}`})
	check(call{method: "PUT", path: biz + "sessionpolicy", as: admin, body: `{"MaximumSessions":"50"}`})
	check(call{method: "PUT", path: biz + "factorpolicy", as: admin, body: `{"StrongFactorRequired":"SiteAdmins","EnrolmentGraceDays":"7"}`})
	devID := e.users["dev@acme.example"]
	check(call{method: "GET", path: biz + "users?q=acme&limit=2", as: admin})
	check(call{method: "GET", path: "/api/settingsschema"})
	check(call{method: "GET", path: "/api/users/" + adminID + "/factors", as: admin})
	enrol := check(call{method: "POST", path: "/api/users/" + adminID + "/factors/totp", as: admin, body: `{"Name":"phone"}`})
	var enrolled struct{ FactorID string }
	json.Unmarshal(enrol.body, &enrolled)
	check(call{method: "GET", path: "/api/users/" + adminID + "/factors/" + enrolled.FactorID + "/qr.png", as: admin})
	check(call{method: "POST", path: "/api/users/" + adminID + "/factors/" + enrolled.FactorID + "/confirm", as: admin, body: `{"Code":"000000"}`})
	check(call{method: "DELETE", path: "/api/users/" + adminID + "/factors/" + enrolled.FactorID, as: admin})
	check(call{method: "POST", path: "/api/users/" + adminID + "/recoverycodes", as: admin})
	check(call{method: "POST", path: biz + "users/" + devID + "/disable", as: admin})
	check(call{method: "POST", path: biz + "users/" + devID + "/enable", as: admin})
	check(call{method: "GET", path: "/api/users/" + adminID + "/sessions", as: admin})
	check(call{method: "DELETE", path: "/api/users/" + adminID + "/devices", as: admin})
	check(call{method: "DELETE", path: "/api/users/" + devID + "/sessions", as: admin})
	check(call{method: "DELETE", path: "/api/users/" + devID + "/sessions/00000000000000000000000000000000", as: admin})
	check(call{method: "PUT", path: "/api/users/" + devID, as: admin, body: `{"Email":"dev@acme.example"}`})
	check(call{method: "POST", path: "/api/users/" + adminID + "/email/confirm", as: admin, body: `{"Code":"123456"}`})
	check(call{method: "GET", path: biz + "challenges?IncludeInactive=true"})
	check(call{method: "PUT", path: biz + "loginpolicy", as: admin, body: `{"AttemptsPeriod":"-1"}`})
	check(call{method: "PUT", path: biz + "loginpolicy", as: admin, body: `{"AttemptsPeriod":"3"}`, header: map[string]string{"If-Match": `"0"`}})
	check(call{method: "GET", path: biz + "loginpolicy"})
	check(call{method: "GET", path: "/api/businesses/tenantbusiness.nosuch/loginpolicy", as: admin})
	check(call{method: "GET", path: biz + "audit?limit=5", as: admin})
	check(call{method: "GET", path: biz + "audit?setting=account", as: admin})
	check(call{method: "GET", path: biz + "suspendedusers", as: admin})
	check(call{method: "GET", path: biz + "securitycheck", as: admin})
	check(call{method: "GET", path: biz + "myrole", as: admin})
	check(call{method: "POST", path: biz + "suspendedusers/" + e.users["dev@acme.example"] + "/unlock", as: admin})
	check(call{method: "PUT", path: biz + "files/a.json", as: admin, body: `{"a":1}`})
	check(call{method: "GET", path: biz + "files/a.json", as: admin})
	check(call{method: "GET", path: "/api/users/" + adminID + "/challenges", as: admin})
	check(call{method: "PUT", path: "/api/users/" + adminID + "/challenges", as: admin, body: answersBody(adminID, answersFor)})
	check(call{method: "PUT", path: "/api/users/" + e.users["auditor@acme.example"] + "/password", as: admin, body: `{"NewPassword":"a temporary passphrase"}`})
	check(call{method: "PUT", path: "/api/users/" + adminID + "/password", as: admin, body: `{"OldPassword":"wrong","NewPassword":"x"}`})
	check(call{method: "GET", path: "/api/login/status", as: admin})
	check(call{method: "POST", path: "/api/login/renewToken", as: admin})
	check(call{method: "POST", path: "/api/login", body: `{"email":"dev@acme.example","password":"nope","captchaResponse":"human"}`})
	rep := check(call{method: "POST", path: "/api/login", body: `{"email":"dev@acme.example","password":"` + password + `","captchaResponse":"human"}`})
	dev := sessionOf(tenant, rep)
	check(call{method: "POST", path: "/api/login/pendingtasks", as: dev, body: `{"parameters":{"Action":"validate"}}`})
	check(call{method: "POST", path: "/api/passwordmanagement/sendPasswordResetCode?emailAddress=admin@acme.example"})
	check(call{method: "POST", path: "/api/passwordmanagement/validatePasswordResetCode?emailAddress=admin@acme.example&passwordResetCode=" + url.QueryEscape("nope")})
	check(call{method: "POST", path: "/api/login/authenticateWithPasswordResetCode", body: `{"Email":"admin@acme.example","PasswordResetCode":"nope","NewPassword":"long enough"}`})
	check(call{method: "GET", path: "/healthz"})
	check(call{method: "GET", path: "/readyz"})
	check(call{method: "GET", path: "/metrics"})
	check(call{method: "GET", path: "/api/openapi.json"})
	check(call{method: "POST", path: "/api/login/logout", as: dev})
	check(call{method: "GET", path: "/api/login/endsession", as: admin})
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !seen[method+" "+path] {
				t.Errorf("%s %s is documented but not exercised here", method, path)
			}
		}
	}
}

// TestOpenAPIForTenant: ?tenant= answers the document with the tenant's
// real cookie and CSRF header names in its security schemes, still valid
// OpenAPI; a value that is not a tenant ID, or no tenant, is a fault.
func TestOpenAPIForTenant(t *testing.T) {
	e := newEnv(t)
	r := e.do(call{method: "GET", path: "/api/openapi.json?tenant=" + tenant})
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the tenant's document is not valid OpenAPI: %v", err)
	}
	got := map[string]string{}
	for name, s := range doc.Components.SecuritySchemes {
		got[name] = s.Value.In + " " + s.Value.Name
	}
	want := map[string]string{"AtmoAuthToken": "cookie AtmoAuthToken_" + tenant, "CsrfToken": "header X-Csrf-Token_" + tenant, "BearerToken": " "}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("security schemes (-want +got):\n%s", d)
	}
	if bytes.Contains(r.body, []byte("_{tenant}")) {
		t.Error("the tenant's document still names a cookie or header by template")
	}
	for _, tc := range []struct {
		query  string
		status int
		code   string
	}{
		{"tenant=nosuchtenant", 404, "NotFound"},
		{"tenant=" + url.QueryEscape("acme\"}"), 400, "InvalidRequest"},
		{"tenant=", 400, "InvalidRequest"},
		{"tenant=" + tenant + "&tenant=other", 400, "InvalidRequest"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			r := e.do(call{method: "GET", path: "/api/openapi.json?" + tc.query})
			code, _ := r.fault()
			if r.status != tc.status || code != tc.code {
				t.Errorf("status %d %q, want %d %q: %s", r.status, code, tc.status, tc.code, r.body)
			}
		})
	}
}
