package httpapi_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestRequestIDs: every answer carries X-Request-Id: the client's own when
// it is short and plain, else one the server makes (16 hex digits, a new
// one per request). The access log line and the security events of the
// request carry the same ID, so one failed login can be followed from the
// client's trace to the server's records.
func TestRequestIDs(t *testing.T) {
	e := newEnv(t)
	made := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for _, tc := range []struct {
		name, sent string
		echoed     bool
	}{
		{"none sent", "", false},
		{"plain", "trace-7f3a:span/1+x=y", true},
		{"with a space", "two words", false},
		{"with a quote", `a"b`, false},
		{"too long", strings.Repeat("a", 65), false},
		{"longest", strings.Repeat("b", 64), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.sent != "" {
				h["X-Request-Id"] = tc.sent
			}
			r := e.do(call{method: "POST", path: "/api/login", host: "acme.example", header: h,
				body: `{"email":"dev@acme.example","password":"not the password"}`})
			got := r.header.Get("X-Request-Id")
			switch {
			case tc.echoed && got != tc.sent:
				t.Fatalf("X-Request-Id %q, want the client's %q", got, tc.sent)
			case !tc.echoed && !made.MatchString(got):
				t.Fatalf("X-Request-Id %q, want 16 hex digits of the server's", got)
			}
			var access, event bool
			for _, line := range strings.Split(e.logs.String(), "\n") {
				var rec map[string]any
				if json.Unmarshal([]byte(line), &rec) != nil || rec["request_id"] != got {
					continue
				}
				access = access || rec["msg"] == "request" && rec["path"] == "/api/login"
				event = event || rec["event.action"] == "login" && rec["event.outcome"] == "failure"
			}
			if !access || !event {
				t.Errorf("request_id %q: access log line %v, failed-login event %v; want both", got, access, event)
			}
		})
	}
	a := e.do(call{method: "GET", path: "/healthz"}).header.Get("X-Request-Id")
	b := e.do(call{method: "GET", path: "/healthz"}).header.Get("X-Request-Id")
	if a == b {
		t.Errorf("two requests got one ID %q", a)
	}
}
