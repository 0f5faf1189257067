package settingsvc_test

import (
	"context"
	"testing"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/settingsvc"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/store/storetest"
)

func newService(t *testing.T) (*settingsvc.Service, store.Business) {
	t.Helper()
	database, dir := storetest.Database(t, storetest.Default())
	st, err := store.Open(context.Background(), database, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateTenant(context.Background(), "acme", ""); err != nil {
		t.Fatal(err)
	}
	return settingsvc.New(st, nil), store.Business{ID: store.RootBusinessID("acme"), TenantID: "acme"}
}

// TestUpdateChecks: a change passes the object's rules, including those
// that need where it comes from; a refused change stores nothing, and
// what did not change is not checked again.
func TestUpdateChecks(t *testing.T) {
	svc, biz := newService(t)
	ctx := context.Background()
	from := settingsvc.Change{Actor: "admin", IfMatch: store.AnyVersion, Host: "console.acme.example"}
	domain := func(d string) func(*settings.Security) {
		return func(s *settings.Security) { s.AuthTokenCookieDomain = d }
	}
	for _, tc := range []struct {
		name   string
		change settingsvc.Change
		apply  func(*settings.Security)
		want   fault.Code // "" for success
	}{
		{"parent domain", from, domain("acme.example"), ""},
		{"public suffix", from, domain("example"), fault.Invalid},
		{"not a parent of the host", from, domain("other.example"), fault.Invalid},
		{"unchanged domain from another host", settingsvc.Change{Actor: "admin", IfMatch: store.AnyVersion, Host: "elsewhere.test"},
			func(s *settings.Security) { s.AllowUserEnum = settings.Disabled }, ""},
		{"SameSite None over plain HTTP", from, func(s *settings.Security) { s.AuthTokenCookieSameSite = "None" }, fault.Invalid},
		{"SameSite None with Secure cookies", settingsvc.Change{Actor: "admin", IfMatch: store.AnyVersion, Host: "console.acme.example", Secure: true},
			func(s *settings.Security) { s.AuthTokenCookieSameSite = "None" }, ""},
		{"Validate's rule", from, func(s *settings.Security) { s.ChallengeCount = -1 }, fault.Invalid},
		{"stale If-Match", settingsvc.Change{Actor: "admin", IfMatch: 99}, func(s *settings.Security) {}, fault.PreconditionErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, version, err := settingsvc.Get(ctx, svc, settings.SecurityKind, biz.ID)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = settingsvc.Update(ctx, svc, settings.SecurityKind, biz, tc.change, tc.apply)
			if got := fault.CodeOf(err); err != nil && got != tc.want || err == nil && tc.want != "" {
				t.Fatalf("Update: %v, want code %q", err, tc.want)
			}
			after, afterVersion, _ := settingsvc.Get(ctx, svc, settings.SecurityKind, biz.ID)
			if tc.want != "" && (afterVersion != version || after != before) {
				t.Errorf("a refused change was stored: version %d -> %d", version, afterVersion)
			}
		})
	}
}

// TestQuestionsFollowTheTextRules: the business's text rules (its
// refused keywords) apply to the questions a Site Admin writes.
func TestQuestionsFollowTheTextRules(t *testing.T) {
	svc, biz := newService(t)
	ctx := context.Background()
	from := settingsvc.Change{Actor: "admin", IfMatch: store.AnyVersion, Host: "acme.example"}
	if _, _, err := settingsvc.Update(ctx, svc, settings.SecurityKind, biz, from,
		func(s *settings.Security) { s.XssKeywords, s.ChallengeCount = "script,onload", 1 }); err != nil {
		t.Fatal(err)
	}
	question := func(q string) func(*[]settings.Challenge) {
		return func(cs *[]settings.Challenge) {
			*cs = []settings.Challenge{{ChallengeCode: "pet", ChallengeQuestion: q, Active: true}}
		}
	}
	if _, _, err := settingsvc.Update(ctx, svc, settings.ChallengesKind, biz, from, question("Your first <script>?")); fault.CodeOf(err) != fault.Invalid {
		t.Errorf("a question with a refused keyword: %v, want Invalid", err)
	}
	if _, _, err := settingsvc.Update(ctx, svc, settings.ChallengesKind, biz, from, question("Your first pet?")); err != nil {
		t.Errorf("a plain question: %v", err)
	}
}

// TestAuditNames: the audit filter takes the objects' names (not their
// CLI aliases), the challenges and the account events.
func TestAuditNames(t *testing.T) {
	svc, biz := newService(t)
	ctx := context.Background()
	for _, tc := range []struct {
		kind string
		ok   bool
	}{{"", true}, {"loginpolicy", true}, {"factorpolicy", true}, {"challenges", true}, {store.AccountKind, true},
		{"login", false}, {"nosuch", false}} {
		t.Run(tc.kind, func(t *testing.T) {
			_, err := svc.Audit(ctx, biz.ID, tc.kind, 10, 0)
			if (err == nil) != tc.ok || err != nil && fault.CodeOf(err) != fault.Invalid {
				t.Errorf("Audit(%q): %v, want ok %v", tc.kind, err, tc.ok)
			}
		})
	}
	if _, err := svc.Audit(ctx, biz.ID, "", 501, 0); fault.CodeOf(err) != fault.Invalid {
		t.Errorf("limit 501: %v, want Invalid", err)
	}
}
