package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp" // cmp is benchload.go's

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/store/storetest"
	"github.com/bizsec/bizsec/internal/throttle"
)

// TestCreateTenantAndUsers runs the subcommands against a real database and
// checks what they stored.
func TestCreateTenantAndUsers(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"tenant", "create", "-data", dir, "-id", "acme", "-admin-email", "Admin@Acme.example"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	pw := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())
	if pw == nil || len(pw[1]) < 16 {
		t.Fatalf("no generated password in %q", out.String())
	}
	if err := run(ctx, []string{"user", "create", "-data", dir, "-tenant", "acme", "-email", "aud@acme.example",
		"-role", "Auditor", "-password-stdin"}, strings.NewReader("s3cret-enough\n"), &out); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for email, role := range map[string]auth.Role{"admin@acme.example": auth.RoleSiteAdmin, "aud@acme.example": auth.RoleAuditor} {
		u, err := st.UserByEmail(ctx, "acme", email)
		if err != nil {
			t.Fatalf("%s: %v", email, err)
		}
		if strings.Contains(u.PasswordHash, pw[1]) || !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Errorf("%s: stored hash %q", email, u.PasswordHash)
		}
		if got, _ := st.Role(ctx, u.ID, "tenantbusiness.acme"); got != role {
			t.Errorf("%s: role %q, want %q", email, got, role)
		}
	}
	for _, bad := range [][]string{
		{"tenant", "create", "-data", dir, "-id", "acme", "-admin-email", "x@acme.example"}, // exists
		{"tenant", "create", "-data", dir, "-id", "bad id!", "-admin-email", "x@y.example"},
		{"user", "create", "-data", dir, "-tenant", "nosuch", "-email", "x@y.example"},
		{"user", "create", "-data", dir, "-tenant", "acme", "-email", "aud@acme.example"}, // duplicate
		{"user", "create", "-data", dir, "-tenant", "acme", "-email", "z@acme.example", "-role", "King"},
		{"user", "create", "-data", dir, "-tenant", "acme", "-email", "not-an-email"},
		{"frobnicate"},
	} {
		if err := run(ctx, bad, strings.NewReader(""), &out); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// TestRejectedUserIsNotStored checks that a bad role stores nothing.
func TestRejectedUserIsNotStored(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"tenant", "create", "-data", dir, "-id", "acme", "-admin-email", "a@acme.example"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"user", "create", "-data", dir, "-tenant", "acme", "-email", "z@acme.example", "-role", "King"}, nil, &out); err == nil {
		t.Fatal("bad role accepted")
	}
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.UserByEmail(ctx, "acme", "z@acme.example"); err == nil {
		t.Error("the user was stored despite the bad role")
	}
}

// TestBench runs the bench command briefly, at two GOMAXPROCS and with the
// scale scenario, and checks its tables; against PostgreSQL (with
// propagation) when BIZSEC_TEST_POSTGRES is set.
func TestBench(t *testing.T) {
	args := []string{"-self", bin, "-client", "bizsec", "-duration", "200ms", "-rounds", "1", "-connections", "2",
		"-put-clients", "2", "-login-clients", "1", "-gomaxprocs", "1"}
	if dsn := os.Getenv(storetest.EnvPostgres); dsn != "" {
		args = append(args, "-database", dsn)
	}
	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"bench"}, args...), nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []*regexp.Regexp{
		// Rates under 1000/s print with a decimal.
		regexp.MustCompile(`\| GET loginpolicy .*\| 2 \| [0-9.]+/s, p99 [0-9.]+ ms \| [0-9.]+/s, p99 [0-9.]+ ms \| .* \| [0-9.]+ \|`),
		regexp.MustCompile(`\| PUT loginpolicy .*\| 2 \| [0-9.]+/s`),
		regexp.MustCompile(`\| POST /api/login .*\| 1 \| [0-9.]+/s`),
		regexp.MustCompile(`\| [0-9-]+ \| 1 \| [0-9.]+/s`),
	} {
		if !want.MatchString(out.String()) {
			t.Errorf("no %s in\n%s", want, out.String())
		}
	}
}

// TestUserUnlock suspends a user through the store, unlocks them with the
// CLI, and checks the suspension is gone and the unlock audited as "cli".
func TestUserUnlock(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"tenant", "create", "-data", dir, "-id", "acme", "-admin-email", "a@acme.example"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	unlock := []string{"user", "unlock", "-data", dir, "-tenant", "acme", "-email", "a@acme.example"}
	if err := run(ctx, unlock, nil, &out); err == nil || !strings.Contains(err.Error(), "not suspended") {
		t.Fatalf("unlocking a user who is not suspended: %v", err)
	}
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := st.UserByEmail(ctx, "acme", "a@acme.example")
	now := time.Now()
	err = st.Transact(ctx, func(tx *store.Tx) error {
		return tx.PutLockout("acme", u.Email, auth.Lockout{LockedUntil: now.Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	// A server's queued resets and the account's spent failure budget: the
	// unlock must leave the first to the server and reset the second.
	for range 3 {
		if err := st.EnqueueReset(ctx, "acme", "a@acme.example", now); err != nil {
			t.Fatal(err)
		}
	}
	spent := throttle.Charge{Key: throttle.Sub("fail:acme/a@acme.example", "192.0.2.1"), Rate: throttle.Rate{N: 1, Per: time.Hour}}
	if i, _, err := st.Take(ctx, now, []throttle.Charge{spent}); i >= 0 || err != nil {
		t.Fatalf("spending the budget: %d %v", i, err)
	}
	st.Close()
	if err := run(ctx, unlock, nil, &out); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"user", "unlock", "-data", dir, "-tenant", "acme", "-email", "nobody@acme.example"}, nil, &out); err == nil {
		t.Error("unlocking an unknown user: no error")
	}
	st, err = store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if list, _ := st.Suspensions(ctx, "acme", time.Now()); len(list) != 0 {
		t.Errorf("still suspended: %+v", list)
	}
	if i, _, err := st.Take(ctx, now, []throttle.Charge{spent}); i >= 0 || err != nil {
		t.Errorf("the unlock left the failure budget spent: %d %v", i, err)
	}
	queued := 0
	for {
		_, _, ok, err := st.NextReset(ctx)
		if err != nil || !ok {
			break
		}
		queued++
	}
	if queued != 3 {
		t.Errorf("%d resets queued after the CLI's unlock, want the 3 the server queued", queued)
	}
	entries, err := st.Audit(ctx, "tenantbusiness.acme", store.AccountKind, 10, 0)
	// The suspension was written straight to the store (no audit entry of
	// its own): the one entry is the CLI's unlock.
	if err != nil || len(entries) != 1 || entries[0].Actor != "cli" || !strings.Contains(string(entries[0].New), `"Event":"unlocked"`) {
		t.Errorf("audit %+v (%v): want one entry, unlocked by cli", entries, err)
	}
}

// TestUserCommands: list, role, set-password and delete, against a real database.
func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db := []string{"-data", dir, "-tenant", "acme"}
	var out bytes.Buffer
	if err := run(ctx, []string{"tenant", "create", "-data", dir, "-id", "acme", "-admin-email", "a@acme.example"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, append([]string{"user", "create", "-email", "b@acme.example"}, db...), nil, &out); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, append([]string{"user", "role", "-email", "b@acme.example", "-role", "Auditor"}, db...), nil, &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, append([]string{"user", "list"}, db...), nil, &out); err != nil {
		t.Fatal(err)
	}
	type role struct{ Business, Role string }
	type listed struct {
		Email string
		Roles []role
	}
	var list []listed
	var js bytes.Buffer
	if err := run(ctx, append([]string{"user", "list", "-o", "json"}, db...), nil, &js); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js.Bytes(), &list); err != nil {
		t.Fatalf("user list -o json: %v\n%s", err, js.String())
	}
	want := []listed{{"a@acme.example", []role{{"tenantbusiness.acme", "SiteAdmin"}}}, {"b@acme.example", []role{{"tenantbusiness.acme", "Auditor"}}}}
	if d := gocmp.Diff(want, list); d != "" {
		t.Errorf("user list -o json (-want +got):\n%s", d)
	}
	if !regexp.MustCompile(`a@acme.example .*SiteAdmin of tenantbusiness.acme`).MatchString(out.String()) ||
		!regexp.MustCompile(`b@acme.example .*Auditor of tenantbusiness.acme`).MatchString(out.String()) {
		t.Errorf("user list:\n%s", out.String())
	}
	if err := run(ctx, append([]string{"user", "set-password", "-email", "b@acme.example"}, db...), strings.NewReader("a fresh password\n"), &out); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := st.UserByEmail(ctx, "acme", "b@acme.example")
	if ok, _ := auth.NewHasher(auth.DefaultParams, 1).Verify(ctx, "a fresh password", u.PasswordHash); !ok {
		t.Error("set-password did not set the password")
	}
	st.Close()
	// The tenant's password policy (the default: 12 to 128 characters, no
	// known-bad password) and login's own limit decide.
	policy := settings.DefaultPasswordPolicy()
	for _, pw := range []string{"x7#kq9!mzpa" /* 11 */, "password1234", "Acme20262026", strings.Repeat("l", login.MaxPassword+1)} {
		err := run(ctx, append([]string{"user", "set-password", "-email", "b@acme.example"}, db...), strings.NewReader(pw+"\n"), &out)
		if code := exitCode(err, io.Discard); code != exitRefused {
			t.Errorf("a password of %d bytes: exit %d (%v), want %d: login refuses it", len(pw), code, err, exitRefused)
		}
		err = run(ctx, append([]string{"user", "create", "-email", "c@acme.example", "-password-stdin"}, db...), strings.NewReader(pw+"\n"), &out)
		if code := exitCode(err, io.Discard); code != exitRefused {
			t.Errorf("user create with a password of %d bytes: exit %d (%v), want %d", len(pw), code, err, exitRefused)
		}
	}
	longest := strings.Repeat("x", policy.MaximumLength)
	if err := run(ctx, append([]string{"user", "set-password", "-email", "b@acme.example"}, db...), strings.NewReader(longest+"\n"), &out); err != nil {
		t.Errorf("a password of the policy's MaximumLength: %v", err)
	}
	if err := run(ctx, append([]string{"user", "role", "-email", "b@acme.example", "-role", "none"}, db...), nil, &out); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, append([]string{"user", "delete", "-email", "b@acme.example"}, db...), nil, &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	run(ctx, append([]string{"user", "list"}, db...), nil, &out)
	if strings.Contains(out.String(), "b@acme.example") {
		t.Errorf("deleted user still listed:\n%s", out.String())
	}
}

// TestUserAccountCommands: the CLI lists and ends a user's sessions and
// disables and enables them, through the login service.
func TestUserAccountCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"tenant", "create", "-data", dir, "-id", "acme", "-admin-email", "a@acme.example"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := st.UserByEmail(ctx, "acme", "a@acme.example")
	now := time.Now()
	for _, secret := range []string{"one", "two"} {
		if err := st.CreateSession(store.WithClient(ctx, store.ClientInfo{Addr: "192.0.2.9", Method: "password"}), auth.Session{TokenHash: auth.HashSecret(secret),
			CSRFHash: []byte("c"), UserID: u.ID, TenantID: "acme", State: auth.StateActive, IssuedAt: now, LastSeenAt: now}, false); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	user := []string{"-data", dir, "-tenant", "acme", "-email", "a@acme.example"}
	out.Reset()
	if err := run(ctx, append([]string{"user", "sessions", "-o", "json"}, user...), nil, &out); err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal(out.Bytes(), &list); err != nil || len(list) != 2 || list[0]["ClientAddr"] != "192.0.2.9" {
		t.Fatalf("user sessions -o json: %v %s", err, out.String())
	}
	out.Reset()
	if err := run(ctx, append([]string{"user", "sessions", "-end"}, user...), nil, &out); err != nil || !strings.Contains(out.String(), "2 sessions") {
		t.Fatalf("user sessions -end: %v %s", err, out.String())
	}
	if err := run(ctx, append([]string{"user", "disable"}, user...), nil, &out); err != nil {
		t.Fatal(err)
	}
	st, _ = store.OpenSQLite(ctx, dir)
	d, err := st.Disabled(ctx, u.ID)
	st.Close()
	if err != nil || !d {
		t.Fatalf("after disable: %v %v", d, err)
	}
	if err := run(ctx, append([]string{"user", "enable"}, user...), nil, &out); err != nil {
		t.Fatal(err)
	}
	st, _ = store.OpenSQLite(ctx, dir)
	defer st.Close()
	if d, _ := st.Disabled(ctx, u.ID); d {
		t.Error("still disabled after enable")
	}
}
