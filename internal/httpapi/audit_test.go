package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestETagIfMatch checks optimistic concurrency on settings: a write on a
// stale version is refused with 412 and changes nothing.
func TestETagIfMatch(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	path := settingsPath + "loginpolicy"
	put := func(match, body string) reply {
		c := call{method: "PUT", path: path, body: body, as: admin}
		if match != "" {
			c.header = map[string]string{"If-Match": match}
		}
		return e.do(c)
	}
	if r := e.do(call{method: "GET", path: path, as: admin}); r.header.Get("ETag") != `"0"` {
		t.Fatalf("ETag of defaults: %q", r.header.Get("ETag"))
	}
	if r := put(`"0"`, `{"AttemptsPeriod":"8"}`); r.status != 200 || r.header.Get("ETag") != `"1"` {
		t.Fatalf("PUT If-Match 0: %d %q", r.status, r.header.Get("ETag"))
	}
	before := string(e.get(admin, "loginpolicy"))
	for _, match := range []string{`"0"`, `"7"`, `garbage`} {
		r := put(match, `{"AttemptsPeriod":"9"}`)
		if code, _ := r.fault(); r.status != http.StatusPreconditionFailed || code != "PreconditionFailed" {
			t.Errorf("If-Match %s: %d %s", match, r.status, r.body)
		}
	}
	if after := string(e.get(admin, "loginpolicy")); after != before {
		t.Error("a refused write changed the settings")
	}
	if r := put(`W/"1"`, `{"AttemptsPeriod":"9"}`); r.status != 200 || r.header.Get("ETag") != `"2"` {
		t.Errorf("PUT weak If-Match 1: %d %q", r.status, r.header.Get("ETag"))
	}
	if r := put(`"2"`, `{"AttemptsPeriod":"9"}`); r.status != 200 || r.header.Get("ETag") != `"2"` {
		t.Errorf("a PUT that changes nothing makes no version: %d %q", r.status, r.header.Get("ETag"))
	}
	if r := put(`*`, `{"AttemptsPeriod":"10"}`); r.status != 200 {
		t.Errorf("If-Match *: %d", r.status)
	}
	// Two admins read version 3 and write at once: one wins, one is told.
	other := e.login("admin@acme.example")
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i, s := range []*session{admin, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do(call{method: "PUT", path: path, as: s, body: `{"SuspensionMinutes":"` + []string{"11", "12"}[i] + `"}`,
				header: map[string]string{"If-Match": `"3"`}}).status
		}()
	}
	wg.Wait()
	if !(statuses[0] == 200 && statuses[1] == 412 || statuses[0] == 412 && statuses[1] == 200) {
		t.Errorf("concurrent writes on one version: %v, want one 200 and one 412", statuses)
	}
}

type auditPage struct {
	AuditEntry []struct {
		ID            int64
		UserID, Email string
		Setting, Time string
		Version       int64
		Old, New      map[string]any
	}
}

// TestAuditHistory checks that each change is recorded with who, when,
// before and after, secrets masked, and who may read it.
func TestAuditHistory(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "loginpolicy", `{"AttemptsPeriod":"8"}`)
	e.put(admin, "securitysettings", sample(t, "security-put-2.request.json"))
	e.put(admin, "loginpolicy", `{"AttemptsPeriod":"8"}`) // no change, no entry
	read := func(query string, as *session) (int, auditPage, string) {
		r := e.do(call{method: "GET", path: settingsPath + "audit" + query, as: as})
		var p auditPage
		json.Unmarshal(r.body, &p)
		return r.status, p, string(r.body)
	}
	status, page, raw := read("", admin)
	if status != 200 || len(page.AuditEntry) != 2 {
		t.Fatalf("audit: %d %s", status, raw)
	}
	sec, lp := page.AuditEntry[0], page.AuditEntry[1]
	if sec.Setting != "securitysettings" || lp.Setting != "loginpolicy" || sec.ID <= lp.ID {
		t.Errorf("not newest first: %s", raw)
	}
	type who struct {
		UserID, Email string
		Version       int64
		Dated         bool
	}
	if d := cmp.Diff(who{e.users["admin@acme.example"], "admin@acme.example", 1, true}, who{lp.UserID, lp.Email, lp.Version, lp.Time != ""}); d != "" {
		t.Errorf("who and when (-want +got):\n%s", d)
	}
	changed := map[string][2]any{}
	for k, v := range lp.New {
		if !cmp.Equal(lp.Old[k], v) {
			changed[k] = [2]any{lp.Old[k], v}
		}
	}
	if d := cmp.Diff(map[string][2]any{"AttemptsPeriod": {5.0, 8.0}}, changed); d != "" {
		t.Errorf("old and new differ in (-want +got):\n%s", d)
	}
	if sec.New["CaptchaSiteSecret"] != "********" || strings.Contains(raw, captchaSecret) || strings.Contains(raw, "sealed:") {
		t.Errorf("secret not masked: %s", raw)
	}
	if _, p, _ := read("?setting=loginpolicy", admin); len(p.AuditEntry) != 1 || p.AuditEntry[0].Setting != "loginpolicy" {
		t.Errorf("filter: %+v", p)
	}
	if _, p, _ := read("?limit=1", admin); len(p.AuditEntry) != 1 || p.AuditEntry[0].ID != sec.ID {
		t.Errorf("limit: %+v", p)
	}
	if _, p, _ := read("?before="+strconv.FormatInt(sec.ID, 10), admin); len(p.AuditEntry) != 1 || p.AuditEntry[0].ID != lp.ID {
		t.Errorf("paging: %+v", p)
	}
	if status, _, _ := read("", e.login("auditor@acme.example")); status != 200 {
		t.Errorf("auditor: %d", status)
	}
	if status, _, _ := read("", e.login("dev@acme.example")); status != 403 {
		t.Errorf("user with no role: %d", status)
	}
	for _, q := range []string{"?setting=bogus", "?limit=0", "?limit=9999", "?before=x"} {
		if status, _, _ := read(q, admin); status != 400 {
			t.Errorf("%s: %d", q, status)
		}
	}
}
