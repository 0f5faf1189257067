package login_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/store/storetest"
	"github.com/bizsec/bizsec/internal/throttle"
)

const (
	tenant   = "acme"
	email    = "dev@acme.example"
	password = "correct horse battery"
)

// outbox records mail instead of sending it.
type outbox struct {
	mu   sync.Mutex
	msgs []mail.Message
	down bool // the mail server refuses everything
}

var errMailServer = errors.New("550 the mail server refuses")

func (o *outbox) Send(_ context.Context, m mail.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		return errMailServer
	}
	o.msgs = append(o.msgs, m)
	return nil
}

func (o *outbox) fail(down bool) { o.mu.Lock(); o.down = down; o.mu.Unlock() }

func (o *outbox) find(subject string) []mail.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []mail.Message
	for _, m := range o.msgs {
		if m.Subject == subject {
			out = append(out, m)
		}
	}
	return out
}

var codeRE = regexp.MustCompile(`code is (\S+?)\.?\n`)

func (o *outbox) lastCode(t *testing.T, subject string) string {
	t.Helper()
	ms := o.find(subject)
	if len(ms) == 0 {
		t.Fatalf("no %q mail", subject)
	}
	m := codeRE.FindStringSubmatch(ms[len(ms)-1].Body)
	if m == nil {
		t.Fatalf("no code in %q", ms[len(ms)-1].Body)
	}
	return m[1]
}

type fixture struct {
	svc   *login.Service
	store *store.Store
	mail  *outbox
	now   time.Time
	mu    sync.Mutex
	user  store.User
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }

func (f *fixture) advance(d time.Duration) { f.mu.Lock(); f.now = f.now.Add(d); f.mu.Unlock() }

var unlimited = login.Limits{Client: throttle.Rate{N: 1 << 30, Per: time.Second},
	AccountFailures: throttle.Rate{N: 1 << 30, Per: time.Second}, Mail: throttle.Rate{N: 1 << 30, Per: time.Second}, MaxKeys: 1 << 20}

// newFixture is a login service over a fresh database of the default kind
// with one tenant and one user, and a clock the test moves.
func newFixture(t *testing.T, limits login.Limits) *fixture {
	t.Helper()
	ctx := context.Background()
	database, dir := storetest.Database(t, storetest.Default())
	st, err := store.Open(ctx, database, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateTenant(ctx, tenant, ""); err != nil {
		t.Fatal(err)
	}
	hasher := auth.NewHasher(auth.Params{Memory: 1024, Time: 1, Threads: 1}, 4)
	hash, err := hasher.Hash(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.CreateUser(ctx, store.User{TenantID: tenant, Email: email, Name: "Dev", PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, mail: &outbox{}, now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), user: u}
	f.svc = login.New(login.Config{Store: st, Hasher: hasher, Mailer: f.mail, Now: f.clock, Limits: limits})
	f.svc.Start()
	t.Cleanup(f.svc.Close)
	t.Cleanup(f.svc.Wait)
	return f
}

// update changes one settings object of the tenant's root business.
func update[T any](t *testing.T, f *fixture, k store.Kind[T], mutate func(*T)) {
	t.Helper()
	_, _, err := store.Update(context.Background(), f.store, k, store.RootBusinessID(tenant),
		store.Write{IfMatch: store.AnyVersion}, func(v *T) error { mutate(v); return nil })
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) policy(t *testing.T, mutate func(*settings.LoginPolicy)) {
	update(t, f, settings.LoginPolicyKind, mutate)
}
func (f *fixture) twoFA(t *testing.T, mutate func(*settings.TwoFA)) {
	update(t, f, settings.TwoFAKind, mutate)
}
func (f *fixture) security(t *testing.T, mutate func(*settings.Security)) {
	update(t, f, settings.SecurityKind, mutate)
}

func (f *fixture) login(pw string) (login.Result, error) {
	return f.svc.Login(context.Background(), login.Attempt{Tenant: tenant, Email: email, Password: pw, ClientIP: "192.0.2.1"})
}

func TestLoginOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		enum     bool
		email    string
		password string
		want     error
	}{
		{"right password", true, email, password, nil},
		{"wrong password", true, email, "nope", login.ErrWrongPassword},
		{"unknown email", true, "nobody@acme.example", password, login.ErrUnknownEmail},
		{"wrong password, masked", false, email, "nope", login.ErrBadLogin},
		{"unknown email, masked", false, "nobody@acme.example", password, login.ErrBadLogin},
		{"email in other case", true, "DEV@acme.example", password, nil},
		{"no password", true, email, "", nil}, // Invalid: checked below
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, unlimited)
			if !tc.enum {
				f.security(t, func(s *settings.Security) { s.AllowUserEnum = settings.Disabled })
			}
			res, err := f.svc.Login(context.Background(), login.Attempt{Tenant: tenant, Email: tc.email, Password: tc.password})
			if tc.password == "" {
				if fault.CodeOf(err) != fault.Invalid {
					t.Fatalf("got %v, want InvalidRequest", err)
				}
				return
			}
			if err != tc.want {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err == nil && (res.Token == "" || res.CSRF == "" || res.Pending || res.User.ID != f.user.ID) {
				t.Errorf("result %+v: want a live session of %s", res, f.user.ID)
			}
		})
	}
}

// TestSuspensionAndUnlock: the Max-th failure suspends for SuspensionMinutes,
// the owner is mailed once, an admin's unlock lifts it, and every change is
// in the audit history with who and when.
func TestSuspensionAndUnlock(t *testing.T) {
	f := newFixture(t, unlimited)
	f.policy(t, func(p *settings.LoginPolicy) { p.MaxSequentialFailureAttemptsAllowed, p.SuspensionMinutes = 3, 10 })
	for i, want := range []error{login.ErrWrongPassword, login.ErrWrongPassword, login.ErrSuspended, login.ErrSuspended} {
		if _, err := f.login("nope"); err != want {
			t.Fatalf("failure %d: got %v, want %v", i+1, err, want)
		}
	}
	if _, err := f.login(password); err != login.ErrSuspended {
		t.Fatalf("right password while suspended: %v", err)
	}
	f.svc.Wait()
	if got := len(f.mail.find("Your account is suspended")); got != 1 {
		t.Errorf("%d suspension mails, want 1", got)
	}
	ctx := context.Background()
	list, err := f.svc.Suspensions(ctx, tenant)
	if err != nil || len(list) != 1 || list[0].UserID != f.user.ID || !list[0].Until.Equal(f.clock().Add(10*time.Minute)) {
		t.Fatalf("suspensions %+v (%v)", list, err)
	}
	if err := f.svc.Unlock(ctx, tenant, f.user.ID, "admin-id"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Unlock(ctx, tenant, f.user.ID, "admin-id"); fault.CodeOf(err) != fault.NotFound {
		t.Errorf("second unlock: %v, want NotFound", err)
	}
	if _, err := f.login(password); err != nil {
		t.Fatalf("login after unlock: %v", err)
	}
	// A second suspension that runs out by itself is recorded as expired.
	for range 3 {
		f.login("nope")
	}
	f.advance(10 * time.Minute)
	if _, err := f.login(password); err != nil {
		t.Fatalf("login after the suspension ran out: %v", err)
	}
	entries, err := f.store.Audit(ctx, store.RootBusinessID(tenant), store.AccountKind, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Actor+":"+regexp.MustCompile(`"Event":"(\w+)"`).FindStringSubmatch(string(e.New))[1])
	}
	want := []string{":expired", ":suspended", "admin-id:unlocked", ":suspended"}
	if len(got) != len(want) {
		t.Fatalf("audit %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("audit entry %d: %s, want %s", i, got[i], want[i])
		}
	}
}

// TestPruneRecordsEndedSuspensions: a suspension that runs out with no
// login after it is recorded as expired, at the time it ended, when
// pruning deletes its record; a live suspension is left alone.
func TestPruneRecordsEndedSuspensions(t *testing.T) {
	f := newFixture(t, unlimited)
	f.policy(t, func(p *settings.LoginPolicy) { p.MaxSequentialFailureAttemptsAllowed, p.SuspensionMinutes = 2, 10 })
	ctx := context.Background()
	for range 2 {
		f.login("nope")
	}
	ends := f.clock().Add(10 * time.Minute)
	events := func() []string {
		entries, err := f.store.Audit(ctx, store.RootBusinessID(tenant), store.AccountKind, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, regexp.MustCompile(`"Event":"(\w+)"`).FindStringSubmatch(string(e.New))[1]+"@"+e.At.UTC().Format(time.RFC3339))
		}
		return got
	}
	if _, err := f.svc.Prune(ctx, f.clock().Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if list, _ := f.svc.Suspensions(ctx, tenant); len(list) != 1 {
		t.Fatalf("pruning during the suspension: suspensions %+v, want the one", list)
	}
	suspended := "suspended@" + f.clock().UTC().Format(time.RFC3339)
	if d := cmp.Diff([]string{suspended}, events()); d != "" {
		t.Errorf("audit during the suspension (-want +got):\n%s", d)
	}
	if _, err := f.svc.Prune(ctx, ends.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"expired@" + ends.UTC().Format(time.RFC3339), suspended}, events()); d != "" {
		t.Errorf("audit after pruning (-want +got):\n%s", d)
	}
	if has, err := f.store.HasLockout(ctx, tenant, email); err != nil || has {
		t.Errorf("failure record after pruning: %v (%v), want gone", has, err)
	}
}

// TestTwoFAFailuresCountAcrossLogins: wrong codes count against the
// account with wrong passwords; logging in again neither clears the count
// nor leaves the earlier code alive.
func TestTwoFAFailuresCountAcrossLogins(t *testing.T) {
	f := newFixture(t, unlimited)
	f.policy(t, func(p *settings.LoginPolicy) { p.MaxSequentialFailureAttemptsAllowed, p.AttemptsPeriod = 7, 60 })
	f.twoFA(t, func(v *settings.TwoFA) { v.TwoFAEnabled, v.RecurrenceMode, v.MaxAttempts = true, settings.EachLogin, 3 })
	ctx := context.Background()
	guesses := 0
	var first login.Result
	for login := 0; ; login++ {
		res, err := f.login(password)
		if err != nil {
			if guesses != 7 || !errors.Is(err, errSuspended) {
				t.Fatalf("login %d after %d wrong codes: %v; want suspension after exactly 7", login+1, guesses, err)
			}
			break
		}
		if login == 0 {
			first = res
		}
		code := f.mail.lastCode(t, "Your verification code")
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		for range 2 {
			guesses++
			if _, err := f.svc.CompleteTwoFA(ctx, tenant, auth.FormatToken(res.Token), wrong, "192.0.2.1"); err == errSuspended {
				if guesses != 7 {
					t.Fatalf("suspended after %d wrong codes, want 7", guesses)
				}
				break
			}
		}
		if login > 10 {
			t.Fatal("no suspension after 11 logins")
		}
	}
	if _, err := f.svc.CompleteTwoFA(ctx, tenant, auth.FormatToken(first.Token), f.mail.lastCode(t, "Your verification code"), "192.0.2.1"); err == nil {
		t.Error("an earlier login's code still works")
	}
}

var errSuspended = login.ErrSuspended

// The platform's built-in questions.
const (
	cityQ   = "com.soa.challenge.question.city.birth"
	colorQ  = "com.soa.challenge.question.color"
	motherQ = "com.soa.challenge.question.mothers.name"
	petQ    = "com.soa.challenge.question.pet"
)

func TestResetKeepsQuestionAndLiftsSuspension(t *testing.T) {
	f := newFixture(t, unlimited)
	ctx := context.Background()
	f.policy(t, func(p *settings.LoginPolicy) { p.MaxSequentialFailureAttemptsAllowed, p.SuspensionMinutes = 4, 60 })
	answers := []settings.Answer{{ChallengeCode: cityQ, Answer: "Paris"}, {ChallengeCode: colorQ, Answer: "green"},
		{ChallengeCode: motherQ, Answer: "Smith"}}
	if err := f.svc.SetAnswers(ctx, f.user, answers); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		f.login("nope")
	}
	if _, err := f.login(password); err != errSuspended {
		t.Fatalf("not suspended: %v", err)
	}
	if err := f.svc.SendResetCode(ctx, login.ResetRequest{Tenant: tenant, Email: email}); err != nil {
		t.Fatal(err)
	}
	code := f.mail.lastCode(t, "Reset your password")
	step, err := f.svc.ValidateResetCode(ctx, tenant, email, code, "")
	if err != nil || step.Challenge == nil {
		t.Fatalf("validate: %+v %v", step, err)
	}
	asked := step.Challenge.ChallengeCode
	for i := range 2 {
		step, err = f.svc.ResetPassword(ctx, login.ResetAttempt{Tenant: tenant, Email: email, Code: code, NewPassword: "a new password",
			ChallengeCode: asked, Answer: "wrong"})
		if err != nil || step.Status != login.ResetWrongAnswer || step.Challenge.ChallengeCode != asked {
			t.Fatalf("wrong answer %d: %+v %v; want the same question %s", i+1, step, err, asked)
		}
		if again, _ := f.svc.ValidateResetCode(ctx, tenant, email, code, ""); again.Challenge.ChallengeCode != asked {
			t.Fatalf("validating again asked %s, want %s", again.Challenge.ChallengeCode, asked)
		}
	}
	right := map[string]string{cityQ: "Paris", colorQ: "green", motherQ: "Smith"}[asked]
	step, err = f.svc.ResetPassword(ctx, login.ResetAttempt{Tenant: tenant, Email: email, Code: code, NewPassword: "a new password",
		ChallengeCode: asked, Answer: right})
	if err != nil || step.Status != login.ResetValidAnswer {
		t.Fatalf("right answer while suspended: %+v %v", step, err)
	}
	if _, err := f.login("a new password"); err != nil {
		t.Fatalf("login after the reset: %v; the reset must lift the suspension", err)
	}
}

func TestResetCodeVoidAfterMaxAttempts(t *testing.T) {
	f := newFixture(t, unlimited)
	ctx := context.Background()
	f.twoFA(t, func(v *settings.TwoFA) { v.MaxAttempts = 2 })
	if err := f.svc.SetAnswers(ctx, f.user, []settings.Answer{{ChallengeCode: cityQ, Answer: "Paris"},
		{ChallengeCode: colorQ, Answer: "green"}, {ChallengeCode: petQ, Answer: "Rex"}}); err != nil {
		t.Fatal(err)
	}
	f.svc.SendResetCode(ctx, login.ResetRequest{Tenant: tenant, Email: email})
	code := f.mail.lastCode(t, "Reset your password")
	step, _ := f.svc.ValidateResetCode(ctx, tenant, email, code, "")
	attempt := login.ResetAttempt{Tenant: tenant, Email: email, Code: code, NewPassword: "a new password",
		ChallengeCode: step.Challenge.ChallengeCode, Answer: "wrong"}
	if _, err := f.svc.ResetPassword(ctx, attempt); err != nil {
		t.Fatalf("first wrong answer: %v", err)
	}
	if _, err := f.svc.ResetPassword(ctx, attempt); fault.CodeOf(err) != fault.Unauthorized {
		t.Fatalf("second wrong answer: %v, want the code void", err)
	}
	if _, err := f.svc.ValidateResetCode(ctx, tenant, email, code, ""); !errors.Is(err, login.ErrBadResetCode) {
		t.Errorf("the void code still validates: %v", err)
	}
}

func TestThrottle(t *testing.T) {
	limits := login.Limits{Client: throttle.Rate{N: 5, Per: time.Minute}, AccountFailures: throttle.Rate{N: 3, Per: time.Minute},
		Mail: throttle.Rate{N: 2, Per: 15 * time.Minute}, MaxKeys: 100}
	ctx := context.Background()
	t.Run("account failures, known and unknown alike", func(t *testing.T) {
		f := newFixture(t, limits)
		f.security(t, func(s *settings.Security) { s.AllowUserEnum = settings.Disabled })
		f.policy(t, func(p *settings.LoginPolicy) { p.MaxSequentialFailureAttemptsAllowed = 0 }) // no suspension: the budgets alone
		for n, addr := range []string{email, "nobody@acme.example"} {
			var errs []error
			for range 4 {
				_, err := f.svc.Login(ctx, login.Attempt{Tenant: tenant, Email: addr, Password: "nope", ClientIP: fmt.Sprintf("192.0.2.%d", n)})
				errs = append(errs, err)
			}
			if errs[2] != login.ErrBadLogin || fault.CodeOf(errs[3]) != fault.TooMany || fault.RetryAfterOf(errs[3]) <= 0 {
				t.Errorf("%s: %v; want 3 refusals then 429 with a wait", addr, errs)
			}
			// Every client has a budget of its own, up to ten clients' worth
			// for the account: the 31st failure from anywhere is refused.
			failed := 3
			for i := range 12 {
				for range 3 {
					_, err := f.svc.Login(ctx, login.Attempt{Tenant: tenant, Email: addr, Password: "nope", ClientIP: fmt.Sprintf("198.51.%d.%d", n, i)})
					if err == login.ErrBadLogin {
						failed++
					}
				}
			}
			if failed != 30 {
				t.Errorf("%s: %d failures over 13 clients, want 30 (ten clients' worth)", addr, failed)
			}
		}
	})
	t.Run("strangers' failures leave the owner a way in", func(t *testing.T) {
		f := newFixture(t, limits)
		for range 4 {
			f.svc.Login(ctx, login.Attempt{Tenant: tenant, Email: email, Password: "nope", ClientIP: "203.0.113.9"})
		}
		if _, err := f.svc.Login(ctx, login.Attempt{Tenant: tenant, Email: email, Password: password, ClientIP: "203.0.113.9"}); fault.CodeOf(err) != fault.TooMany {
			t.Errorf("the attacker's address: %v, want 429", err)
		}
		// The owner fails once from home, then gets in: the right password
		// gives its token back, so the owner's budget is whole again.
		f.svc.Login(ctx, login.Attempt{Tenant: tenant, Email: email, Password: "typo", ClientIP: "192.0.2.77"})
		for i := range 3 {
			if _, err := f.svc.Login(ctx, login.Attempt{Tenant: tenant, Email: email, Password: password, ClientIP: "192.0.2.77"}); err != nil {
				t.Fatalf("the owner's login %d from another address: %v", i+1, err)
			}
		}
	})
	t.Run("concurrent wrong passwords check at most the budget", func(t *testing.T) {
		f := newFixture(t, limits)
		f.policy(t, func(p *settings.LoginPolicy) { p.MaxSequentialFailureAttemptsAllowed = 0 })
		var wg sync.WaitGroup
		var checked atomic.Int32
		for range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.svc.Login(ctx, login.Attempt{Tenant: tenant, Email: email, Password: "nope", ClientIP: "192.0.2.5"})
				if fault.CodeOf(err) == fault.Unauthorized {
					checked.Add(1)
				}
			}()
		}
		wg.Wait()
		if checked.Load() != 3 {
			t.Errorf("30 concurrent wrong passwords: %d checked, want the budget of 3", checked.Load())
		}
	})
	t.Run("per client", func(t *testing.T) {
		f := newFixture(t, limits)
		for i := range 5 {
			if _, err := f.svc.Login(ctx, login.Attempt{Tenant: tenant, Email: email, Password: password, ClientIP: "2001:db8::1"}); err != nil {
				t.Fatalf("login %d: %v", i+1, err)
			}
		}
		// Another address of the same /64 is the same client.
		if _, err := f.svc.Login(ctx, login.Attempt{Tenant: tenant, Email: email, Password: password, ClientIP: "2001:db8::2"}); fault.CodeOf(err) != fault.TooMany {
			t.Errorf("6th login from the /64: %v, want 429", err)
		}
		if _, err := f.svc.Login(ctx, login.Attempt{Tenant: tenant, Email: email, Password: password, ClientIP: "198.51.100.7"}); err != nil {
			t.Errorf("another client: %v", err)
		}
		f.advance(time.Minute)
		if _, err := f.svc.Login(ctx, login.Attempt{Tenant: tenant, Email: email, Password: password, ClientIP: "2001:db8::1"}); err != nil {
			t.Errorf("after a minute: %v", err)
		}
	})
	t.Run("mail cooldown", func(t *testing.T) {
		f := newFixture(t, limits)
		for i, want := range []fault.Code{"", "", fault.TooMany} {
			err := f.svc.SendResetCode(ctx, login.ResetRequest{Tenant: tenant, Email: email, ClientIP: "192.0.2." + string(rune('1'+i))})
			if got := fault.CodeOf(err); err != nil && got != want || err == nil && want != "" {
				t.Errorf("reset mail %d: %v, want %q", i+1, err, want)
			}
		}
		if got := len(f.mail.find("Reset your password")); got != 2 {
			t.Errorf("%d reset mails, want 2", got)
		}
	})
}

// TestMailDown: when the mail server refuses, a login that needs a 2FA
// code answers 503 (Unavailable) and starts no session; once mail works
// again it succeeds.
func TestMailDown(t *testing.T) {
	f := newFixture(t, unlimited)
	ctx := context.Background()
	f.twoFA(t, func(v *settings.TwoFA) { v.TwoFAEnabled = true; v.RecurrenceMode = settings.EachLogin })
	f.mail.fail(true)
	if _, err := f.login(password); fault.CodeOf(err) != fault.Unavailable {
		t.Fatalf("2FA login with mail down: %v, want Unavailable", err)
	}
	if sessions, err := f.store.UserSessions(ctx, f.user.ID); err != nil || len(sessions) != 0 {
		t.Errorf("live sessions after the failed mail: %d %v", len(sessions), err)
	}
	f.mail.fail(false)
	r, err := f.login(password)
	if err != nil || !r.Pending {
		t.Fatalf("2FA login with mail back: %+v %v", r, err)
	}
}
