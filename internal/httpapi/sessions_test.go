package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/store/storetest"
)

type sessionsAnswer struct {
	Session []struct {
		SessionID, Created, LastUsed, ClientAddress, UserAgent, Method string
		Current                                                        bool
	}
}

func (e *env) sessionsOf(t *testing.T, as *session, userID string) sessionsAnswer {
	t.Helper()
	r := e.do(call{method: "GET", path: "/api/users/" + userID + "/sessions", as: as})
	if r.status != 200 {
		t.Fatalf("GET sessions: %d %s", r.status, r.body)
	}
	var out sessionsAnswer
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUserSessions: a user sees their sessions (never a token) with where
// and how each logged in, ends one (its cookie is refused at once, on every
// instance within the bound), and ends all others; a Site Admin sees and
// ends them too; an Auditor and other users cannot; each end is in the
// account history.
func TestUserSessions(t *testing.T) {
	e := newEnv(t)
	dev := e.users["dev@acme.example"]
	login := func(agent string) *session {
		r := e.do(call{method: "POST", path: "/api/login", header: map[string]string{"User-Agent": agent},
			body: `{"email":"dev@acme.example","password":"` + password + `"}`})
		if r.status != 200 {
			t.Fatalf("login: %d", r.status)
		}
		return sessionOf(tenant, r)
	}
	first, second := login("browser one"), login("browser two")
	list := e.sessionsOf(t, second, dev)
	if len(list.Session) != 2 {
		t.Fatalf("two logins, %d sessions: %+v", len(list.Session), list)
	}
	var firstID string
	for _, s := range list.Session {
		if s.ClientAddress != "127.0.0.1" || s.Method != "password" || s.Created == "" || len(s.SessionID) != 32 {
			t.Errorf("session %+v: want the client's address, the method and an ID", s)
		}
		if strings.Contains(first.token, s.SessionID) || strings.Contains(second.token, s.SessionID) {
			t.Error("a SessionID gives the token away")
		}
		if s.Current != (s.UserAgent == "browser two") {
			t.Errorf("Current is %v for %q", s.Current, s.UserAgent)
		}
		if s.UserAgent == "browser one" {
			firstID = s.SessionID
		}
	}
	status := func(as *session) int { return e.do(call{method: "GET", path: "/api/login/status", as: as}).status }
	for _, who := range []string{"auditor@acme.example", "admin@acme.example"} {
		want := 200 // an Auditor reads, and cannot end them (below)
		if r := e.do(call{method: "GET", path: "/api/users/" + dev + "/sessions", as: e.login(who)}); r.status != want {
			t.Errorf("%s reads dev's sessions: %d, want %d", who, r.status, want)
		}
	}
	if r := e.do(call{method: "DELETE", path: "/api/users/" + dev + "/sessions/" + firstID, as: e.login("auditor@acme.example")}); r.status != 403 {
		t.Errorf("an Auditor ends a session: %d, want 403", r.status)
	}
	if r := e.do(call{method: "DELETE", path: "/api/users/" + dev + "/sessions/" + firstID, as: second}); r.status != 204 {
		t.Fatalf("end one session: %d %s", r.status, r.body)
	}
	if got := status(first); got != 401 {
		t.Errorf("the ended session: %d, want 401", got)
	}
	if got := status(second); got != 200 {
		t.Errorf("the other session: %d, want 200", got)
	}
	if r := e.do(call{method: "DELETE", path: "/api/users/" + dev + "/sessions/" + firstID, as: second}); r.status != 404 {
		t.Errorf("ending it again: %d, want 404", r.status)
	}
	// Sign out everywhere else: the caller's stays.
	third := login("browser three")
	r := e.do(call{method: "DELETE", path: "/api/users/" + dev + "/sessions", as: second})
	if r.status != 200 || !strings.Contains(string(r.body), `"Ended":1`) || status(third) != 401 || status(second) != 200 {
		t.Errorf("sign out everywhere else: %d %s; third %d, second %d", r.status, r.body, status(third), status(second))
	}
	// A Site Admin's ends them all.
	admin := e.login("admin@acme.example")
	if r := e.do(call{method: "DELETE", path: "/api/users/" + dev + "/sessions", as: admin}); r.status != 200 || status(second) != 401 {
		t.Errorf("a Site Admin's sign-out of all: %d, second %d", r.status, status(second))
	}
	r = e.do(call{method: "GET", path: settingsPath + "audit?setting=account", as: admin})
	if n := strings.Count(string(r.body), "session ended"); n != 3 {
		t.Errorf("%d session ends in the account history, want 3: %s", n, r.body)
	}
}

// TestSessionEndAcrossInstances: a session ended on A is refused by B at once.
func TestSessionEndAcrossInstances(t *testing.T) {
	if storetest.Default() != "postgres" {
		t.Skip("SKIP: several instances share a database only on PostgreSQL; set " + storetest.EnvPostgres)
	}
	e := newEnv(t)
	b := e.instance()
	dev := e.users["dev@acme.example"]
	gone, kept := e.login("dev@acme.example"), e.login("dev@acme.example")
	on := func(as *session) int {
		return e.do(call{method: "GET", path: "/api/login/status", as: as, via: b}).status
	}
	if on(gone) != 200 || on(kept) != 200 {
		t.Fatal("B does not serve the sessions")
	}
	var id string
	for _, s := range e.sessionsOf(t, kept, dev).Session {
		if !s.Current {
			id = s.SessionID
		}
	}
	if r := e.do(call{method: "DELETE", path: "/api/users/" + dev + "/sessions/" + id, as: kept}); r.status != 204 {
		t.Fatalf("end: %d", r.status)
	}
	d := waitFor(t, "B refuses the ended session", func() bool { return on(gone) == 401 })
	t.Logf("ended on A, refused on B after %v", d)
	if on(kept) != 200 {
		t.Error("B refuses the session that was kept")
	}
}

// TestSessionLimit: with a limit of 2 and EndOldestSession a third login
// ends the first; with RefuseNewLogin it is refused.
func TestSessionLimit(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "sessionpolicy", `{"MaximumSessions":2,"AtLimit":"EndOldestSession"}`)
	status := func(as *session) int { return e.do(call{method: "GET", path: "/api/login/status", as: as}).status }
	first := e.login("dev@acme.example")
	e.clock.Advance(time.Second)
	second := e.login("dev@acme.example")
	e.clock.Advance(time.Second)
	third := e.login("dev@acme.example")
	if status(first) != 401 || status(second) != 200 || status(third) != 200 {
		t.Errorf("end the oldest: first %d, second %d, third %d; want 401, 200, 200", status(first), status(second), status(third))
	}
	e.put(admin, "sessionpolicy", `{"AtLimit":"RefuseNewLogin"}`)
	if r := e.tryLogin("dev@acme.example", password); r.status != 409 {
		t.Errorf("a third login with RefuseNewLogin: %d %s, want 409", r.status, r.body)
	}
	if status(second) != 200 || status(third) != 200 {
		t.Error("a refused login ended a session")
	}
	for _, bad := range []string{`{"MaximumSessions":-1}`, `{"AtLimit":"Sometimes"}`, `{"MaximumSessions":5000}`} {
		if r := e.do(call{method: "PUT", path: settingsPath + "sessionpolicy", as: admin, body: bad}); r.status != 400 {
			t.Errorf("PUT %s: %d, want 400", bad, r.status)
		}
	}
}

// TestUsersAndDisable: a Site Admin finds users by part of the email and
// disables one: their live session is refused at once and they cannot log
// in until enabled. Auditors read the list and cannot act.
func TestUsersAndDisable(t *testing.T) {
	e := newEnv(t)
	admin, auditor := e.login("admin@acme.example"), e.login("auditor@acme.example")
	devSession := e.login("dev@acme.example")
	dev := e.users["dev@acme.example"]
	var list struct {
		User []struct {
			UserID, Email string
			Disabled      bool
			Sessions      int
			Roles         []struct{ BusinessID, Role string }
		}
		Next string
	}
	r := e.do(call{method: "GET", path: settingsPath + "users?q=DEV", as: auditor})
	if err := json.Unmarshal(r.body, &list); err != nil || r.status != 200 || len(list.User) != 1 || list.User[0].UserID != dev || list.User[0].Sessions != 1 {
		t.Fatalf("search for dev: %d %s", r.status, r.body)
	}
	r = e.do(call{method: "GET", path: settingsPath + "users?limit=2", as: admin})
	json.Unmarshal(r.body, &list)
	if len(list.User) != 2 || list.Next == "" {
		t.Fatalf("first page of 2: %s", r.body)
	}
	r = e.do(call{method: "GET", path: settingsPath + "users?limit=2&before=" + list.Next, as: admin})
	list.User, list.Next = nil, ""
	json.Unmarshal(r.body, &list)
	if len(list.User) != 1 || list.Next != "" {
		t.Errorf("second page: %s", r.body)
	}
	if r := e.do(call{method: "GET", path: settingsPath + "users", as: devSession}); r.status != 403 {
		t.Errorf("a user with no role lists users: %d, want 403", r.status)
	}
	if r := e.do(call{method: "POST", path: settingsPath + "users/" + dev + "/disable", as: auditor}); r.status != 403 {
		t.Errorf("an Auditor disables: %d, want 403", r.status)
	}
	if r := e.do(call{method: "POST", path: settingsPath + "users/" + dev + "/disable", as: admin}); r.status != 204 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	if r := e.do(call{method: "GET", path: "/api/login/status", as: devSession}); r.status != 401 {
		t.Errorf("the disabled user's session: %d, want 401", r.status)
	}
	if r := e.tryLogin("dev@acme.example", password); r.status != 401 {
		t.Errorf("the disabled user logs in: %d, want 401", r.status)
	}
	if r := e.do(call{method: "POST", path: settingsPath + "users/" + e.users["admin@acme.example"] + "/disable", as: admin}); r.status != 400 {
		t.Errorf("a Site Admin disables themself: %d, want 400", r.status)
	}
	if r := e.do(call{method: "POST", path: settingsPath + "users/" + dev + "/enable", as: admin}); r.status != 204 {
		t.Fatalf("enable: %d", r.status)
	}
	if r := e.tryLogin("dev@acme.example", password); r.status != 200 {
		t.Errorf("the enabled user logs in: %d", r.status)
	}
}

// TestEmailChange: UserModifyEmail and SiteAdminModifyEmail decide; the
// user's change needs the password and the code mailed to the new address;
// the old address is told.
func TestEmailChange(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	dev := e.login("dev@acme.example")
	path := "/api/users/" + e.users["dev@acme.example"]
	e.put(admin, "securitysettings", `{"UserModifyEmail":"com.soa.feature.disabled","SiteAdminModifyEmail":"com.soa.feature.disabled"}`)
	own := `{"Email":"dev2@acme.example","Password":"` + password + `"}`
	if r := e.do(call{method: "PUT", path: path, as: dev, body: own}); r.status != 403 || !strings.Contains(string(r.body), "UserModifyEmail") {
		t.Errorf("own change with UserModifyEmail disabled: %d %s", r.status, r.body)
	}
	if r := e.do(call{method: "PUT", path: path, as: admin, body: `{"Email":"dev2@acme.example"}`}); r.status != 403 || !strings.Contains(string(r.body), "SiteAdminModifyEmail") {
		t.Errorf("admin change with SiteAdminModifyEmail disabled: %d %s", r.status, r.body)
	}
	e.put(admin, "securitysettings", `{"UserModifyEmail":"com.soa.feature.enabled","SiteAdminModifyEmail":"com.soa.feature.enabled"}`)
	if r := e.do(call{method: "PUT", path: path, as: dev, body: `{"Email":"dev2@acme.example","Password":"wrong"}`}); r.status != 401 {
		t.Errorf("own change with a wrong password: %d", r.status)
	}
	if r := e.do(call{method: "PUT", path: path, as: dev, body: `{"Email":"admin@acme.example","Password":"` + password + `"}`}); r.status == 200 {
		// The code is mailed; the confirmation must then refuse the taken address.
		code := e.lastCode("admin@acme.example")
		if r := e.do(call{method: "POST", path: path + "/email/confirm", as: dev, body: `{"Code":"` + code + `"}`}); r.status != 409 {
			t.Errorf("confirming a taken address: %d", r.status)
		}
	}
	r := e.do(call{method: "PUT", path: path, as: dev, body: own})
	if r.status != 200 || !strings.Contains(string(r.body), "ConfirmationCodeSent") {
		t.Fatalf("own change: %d %s", r.status, r.body)
	}
	if r := e.tryLogin("dev2@acme.example", password); r.status != 401 {
		t.Errorf("the new address works before the code: %d", r.status)
	}
	if r := e.do(call{method: "POST", path: path + "/email/confirm", as: dev, body: `{"Code":"000000"}`}); r.status != 401 {
		t.Errorf("a wrong code: %d", r.status)
	}
	code := e.lastCode("dev2@acme.example")
	if r := e.do(call{method: "POST", path: path + "/email/confirm", as: dev, body: `{"Code":"` + code + `"}`}); r.status != 204 {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	if r := e.tryLogin("dev2@acme.example", password); r.status != 200 {
		t.Errorf("login with the new address: %d", r.status)
	}
	e.waitMail("dev@acme.example", "Your account's email address changed")
	// A Site Admin's change applies at once.
	if r := e.do(call{method: "PUT", path: path, as: admin, body: `{"Email":"dev3@acme.example"}`}); r.status != 200 || !strings.Contains(string(r.body), `"Changed"`) {
		t.Fatalf("admin change: %d %s", r.status, r.body)
	}
	if r := e.tryLogin("dev3@acme.example", password); r.status != 200 {
		t.Errorf("login after the admin's change: %d", r.status)
	}
}
