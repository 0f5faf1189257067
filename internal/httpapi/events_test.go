package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"time"

	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/throttle"
)

// records returns the log records whose event.action is action.
func (e *env) records(action string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(e.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["event.action"] == action {
			out = append(out, rec)
		}
	}
	return out
}

// TestSecurityEvents: every authentication decision is a log record with
// who (user.id, a masked user.email), what (event.action, event.outcome),
// where (client.address) and why; an operator finds every failed login of
// one account with its client address; no secret is ever logged.
func TestSecurityEvents(t *testing.T) {
	limits := unlimited
	limits.Client = throttle.Rate{N: 8, Per: time.Hour}
	e := newEnvLimited(t, testParams, limits)
	e.setPolicy(`{"MaxSequentialFailureAttemptsAllowed":"2","SuspensionMinutes":"10"}`)
	e.tryLogin("dev@acme.example", "wrong one")
	e.tryLogin("dev@acme.example", "wrong two")
	admin := e.login("admin@acme.example")
	e.do(call{method: "POST", path: settingsPath + "suspendedusers/" + e.users["dev@acme.example"] + "/unlock", as: admin})
	e.do(call{method: "PUT", path: "/api/users/" + e.users["dev@acme.example"] + "/password", as: admin, body: `{"NewPassword":"a temporary secret phrase"}`})
	for range 8 {
		e.tryLogin("nobody@acme.example", "guess")
	}
	for _, tc := range []struct {
		action, outcome string
		want            map[string]any // fields every such record has
		atLeast         int
	}{
		{"login", "failure", map[string]any{"user.email": "d***@acme.example", "client.address": "127.0.0.1", "user.id": e.users["dev@acme.example"]}, 2},
		{"login", "success", map[string]any{"user.id": e.users["admin@acme.example"], "user.email": "a***@acme.example", "client.address": "127.0.0.1"}, 1},
		{"account-suspend", "success", map[string]any{"user.id": e.users["dev@acme.example"], "client.address": "127.0.0.1", "tenant": tenant}, 1},
		{"account-unlock", "success", map[string]any{"user.id": e.users["dev@acme.example"], "by": e.users["admin@acme.example"]}, 1},
		{"password-set", "success", map[string]any{"user.id": e.users["dev@acme.example"], "temporary": true}, 1},
		{"throttle", "failure", map[string]any{"client.address": "127.0.0.1", "throttle.budget": "client"}, 1},
	} {
		t.Run(tc.action+" "+tc.outcome, func(t *testing.T) {
			n := 0
			for _, rec := range e.records(tc.action) {
				if rec["event.outcome"] != tc.outcome {
					continue
				}
				ok := true
				for k, v := range tc.want {
					if rec[k] != v {
						ok = false
					}
				}
				if ok {
					n++
				}
			}
			if n < tc.atLeast {
				t.Errorf("%d %s/%s records with %v, want at least %d; log:\n%s", n, tc.action, tc.outcome, tc.want, tc.atLeast, e.logs.String())
			}
		})
	}
	for _, secret := range []string{"wrong one", "wrong two", "a temporary secret phrase", password, "guess", admin.token, admin.csrf} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("the log holds a secret: %q", secret)
		}
	}
	if strings.Contains(e.logs.String(), `"user":`) {
		t.Error(`a record uses the key "user", which clashes with ECS's user object`)
	}
	if got := login.MaskEmail("dev@acme.example"); got != "d***@acme.example" {
		t.Errorf("MaskEmail: %q", got)
	}
}
