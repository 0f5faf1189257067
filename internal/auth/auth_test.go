package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/settings"
)

func TestLockoutFail(t *testing.T) {
	p := settings.LoginPolicy{MaxSequentialFailureAttemptsAllowed: 3, AttemptsPeriod: 5, SuspensionMinutes: 10}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at      time.Duration
		suspend bool
	}{
		{0, false},
		{time.Minute, false},
		{5 * time.Minute, false}, // the window opened at 0 has closed: a new one starts here
		{6 * time.Minute, false},
		{7 * time.Minute, true},
		{8 * time.Minute, false}, // already suspended: not counted
	}
	var l Lockout
	for i, s := range steps {
		if got := l.Fail(t0.Add(s.at), p); got != s.suspend {
			t.Fatalf("step %d: suspended %v, want %v (%+v)", i, got, s.suspend, l)
		}
	}
	if !l.Locked(t0.Add(17*time.Minute-time.Nanosecond)) || l.Locked(t0.Add(17*time.Minute)) {
		t.Errorf("suspension should last exactly 10 minutes from 7: %+v", l)
	}
	var off Lockout
	for range 100 {
		if off.Fail(t0, settings.LoginPolicy{}) {
			t.Fatal("suspension with MaxSequentialFailureAttemptsAllowed 0")
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := settings.LoginPolicy{ActiveSessionTimeout: 60, InactiveSessionTimeout: 15}
	cases := []struct {
		seen, now time.Duration
		expired   bool
	}{
		{0, 14 * time.Minute, false},
		{0, 15 * time.Minute, true},
		{50 * time.Minute, 59 * time.Minute, false},
		{55 * time.Minute, 60 * time.Minute, true}, // active limit
	}
	for _, c := range cases {
		s := Session{IssuedAt: t0, LastSeenAt: t0.Add(c.seen)}
		if got := s.Expired(t0.Add(c.now), p); got != c.expired {
			t.Errorf("seen %v, now %v: expired %v, want %v", c.seen, c.now, got, c.expired)
		}
	}
}

func TestTokenFormat(t *testing.T) {
	v := FormatToken("s3cr3t", Field("expirationTime", "153"))
	if v != "TokenID%3Ds3cr3t%2CexpirationTime%3D153" {
		t.Errorf("FormatToken = %s", v)
	}
	for in, want := range map[string]string{v: "s3cr3t", "TokenID%3D": "", "garbage": "", "%zz": ""} {
		if got, ok := ParseToken(in); got != want || ok != (want != "") {
			t.Errorf("ParseToken(%q) = %q %v", in, got, ok)
		}
	}
	if a, b := NewSecret(), NewSecret(); a == b || len(a) != 43 {
		t.Errorf("secrets %q %q", a, b)
	}
}

func TestPasswords(t *testing.T) {
	h := NewHasher(Params{Memory: 1024, Time: 1, Threads: 1}, 2)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "pässword")
	if err != nil || !strings.HasPrefix(enc, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash %q %v", enc, err)
	}
	for pw, want := range map[string]bool{"pässword": true, "password": false, "": false} {
		if ok, err := h.Verify(ctx, pw, enc); ok != want || err != nil {
			t.Errorf("Verify(%q) = %v %v", pw, ok, err)
		}
	}
	if ok, err := h.Verify(ctx, "anything", ""); ok || err != nil {
		t.Errorf("unknown user (dummy hash) = %v %v", ok, err)
	}
	if _, err := h.Verify(ctx, "x", "$argon2id$v=19$m=1,t=0,p=1$AA$AA"); err == nil {
		t.Error("malformed hash accepted")
	}
}

func TestCodeCheck(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tf := settings.TwoFA{CodeValidSeconds: 60, MaxAttempts: 2}
	code, c := NewCode(t0, HashSecret)
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		t.Fatalf("code %q", code)
	}
	if r := c.Check(code, HashSecret, t0.Add(60*time.Second), tf); r != CodeVoid {
		t.Errorf("expired code: %v", r)
	}
	if r := c.Check("x", HashSecret, t0, tf); r != CodeWrong {
		t.Errorf("first wrong: %v", r)
	}
	if r := c.Check("x", HashSecret, t0, tf); r != CodeVoid {
		t.Errorf("last wrong: %v", r)
	}
	if r := c.Check(code, HashSecret, t0, tf); r != CodeVoid {
		t.Errorf("right code after MaxAttempts: %v", r)
	}
}

// TestHasherLoginsFirst: with new hashes (answers being set) queued for
// the hasher, a login's verification takes the next free slot before them,
// and new hashes never hold every slot.
func TestHasherLoginsFirst(t *testing.T) {
	ctx := context.Background()
	waiting := func(h *Hasher, p, n int) {
		for {
			h.mu.Lock()
			got := len(h.waiting[p])
			h.mu.Unlock()
			if got == n {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	h := NewHasher(Params{Memory: 1024, Time: 1, Threads: 1}, 1)
	if err := h.acquire(ctx, hashing); err != nil { // a new hash is running
		t.Fatal(err)
	}
	done := make(chan string, 6)
	for range 5 {
		go func() { h.Hash(ctx, "answer"); done <- "hash" }()
	}
	waiting(h, hashing, 5)
	// A login's verify, which keeps the slot it gets until the test gives
	// it back: what happens after the grant cannot race with the check.
	go func() { h.acquire(ctx, verifying); done <- "verify" }()
	waiting(h, verifying, 1)
	h.release(hashing) // the running hash ends: its slot must go to the login
	if first := <-done; first != "verify" {
		t.Errorf("first to get the slot after the running hash: %s, want the login's verify", first)
	}
	h.mu.Lock()
	hashes := len(h.waiting[hashing])
	h.mu.Unlock()
	if hashes != 5 {
		t.Errorf("%d new hashes still wait while the login holds the slot, want 5", hashes)
	}
	h.release(verifying)
	for range 5 {
		<-done
	}

	// With two slots, new hashes use at most one: a login never waits for them.
	h = NewHasher(Params{Memory: 1024, Time: 1, Threads: 1}, 2)
	if err := h.acquire(ctx, hashing); err != nil {
		t.Fatal(err)
	}
	go func() { h.Hash(ctx, "answer"); done <- "hash" }()
	waiting(h, hashing, 1)
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.acquire(tctx, verifying); err != nil {
		t.Fatalf("a login waited while new hashes held the slots: %v", err)
	}
	h.release(verifying)
	h.release(hashing)
	<-done
}

var tokenCases = []string{
	FormatToken("abc-DEF_123", Field("issueTime", "1"), Field("expirationTime", "2")),
	"TokenID=plain,issueTime=1",
	"issueTime%3D1%2CTokenID%3Dsecond",
	"TokenID%3D%2CTokenID%3Dafter-empty",
	"TokenID%3Dhas%2Bplus",
	"TokenID%3Dhas+space",
	"%54okenID%3Descaped-name",
	"TokenID%3Dx%2",
	"TokenID%3Dx%zz",
	"tokenid%3Dwrong-case",
	"TokenID",
	"",
	"a%2cTokenID%3dlower-hex",
	"TokenID%3D%3Dequals",
	"TokenID=%252C",
}

func TestParseTokenFastAgrees(t *testing.T) {
	for _, v := range tokenCases {
		t.Run(v, func(t *testing.T) {
			gotS, gotOK := ParseToken(v)
			wantS, wantOK := parseTokenGeneral(v)
			if gotS != wantS || gotOK != wantOK {
				t.Errorf("ParseToken(%q) = %q, %v; the general decoding gives %q, %v", v, gotS, gotOK, wantS, wantOK)
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { ParseToken(tokenCases[0]) }); n != 0 {
		t.Errorf("ParseToken of a FormatToken value allocates %v times, want 0", n)
	}
}

func FuzzParseToken(f *testing.F) {
	for _, v := range tokenCases {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		gotS, gotOK := ParseToken(v)
		wantS, wantOK := parseTokenGeneral(v)
		if gotS != wantS || gotOK != wantOK {
			t.Errorf("ParseToken(%q) = %q, %v; the general decoding gives %q, %v", v, gotS, gotOK, wantS, wantOK)
		}
	})
}
