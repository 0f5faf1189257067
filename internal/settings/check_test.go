package settings

import (
	"testing"
)

func TestCheck(t *testing.T) {
	base := func() Snapshot {
		return Snapshot{TwoFA: DefaultTwoFA(), Login: DefaultLoginPolicy(), Security: DefaultSecurity(), Challenges: DefaultChallenges(),
			Password: DefaultPasswordPolicy(), Factors: DefaultFactorPolicy()}
	}
	tests := []struct {
		name   string
		change func(*Snapshot)
		id     string
		want   Status
	}{
		{"lockout off by default", func(*Snapshot) {}, "lockout", Fail},
		{"default password policy: known-bad check", func(*Snapshot) {}, "password-known-bad", Pass},
		{"known-bad check off", func(s *Snapshot) { s.Password.KnownBadCheck = false }, "password-known-bad", Fail},
		{"default password length", func(*Snapshot) {}, "password-length", Pass},
		{"passwords of 10", func(s *Snapshot) { s.Password.MinimumLength = 10 }, "password-length", Warn},
		{"passwords of 6", func(s *Snapshot) { s.Password.MinimumLength = 6 }, "password-length", Fail},
		{"at most 32", func(s *Snapshot) { s.Password.MaximumLength = 32 }, "password-length", Warn},
		{"no composition rules", func(*Snapshot) {}, "password-composition", Pass},
		{"a digit required", func(s *Snapshot) { s.Password.MinimumNumberCount = 1 }, "password-composition", Warn},
		{"lockout at 10", func(s *Snapshot) { s.Login.MaxSequentialFailureAttemptsAllowed = 10 }, "lockout", Pass},
		{"lockout past NIST's 100", func(s *Snapshot) { s.Login.MaxSequentialFailureAttemptsAllowed = 101 }, "lockout", Fail},
		{"idle 30 minutes", func(*Snapshot) {}, "session-idle", Pass},
		{"idle 31 minutes", func(s *Snapshot) { s.Login.InactiveSessionTimeout = 31 }, "session-idle", Fail},
		{"absolute 12 hours", func(s *Snapshot) { s.Login.ActiveSessionTimeout = 720 }, "session-absolute", Pass},
		{"absolute a week", func(s *Snapshot) { s.Login.ActiveSessionTimeout = 7 * 24 * 60 }, "session-absolute", Warn},
		{"absolute two months", func(s *Snapshot) { s.Login.ActiveSessionTimeout = 60 * 24 * 60 }, "session-absolute", Fail},
		{"2FA off", func(*Snapshot) {}, "second-factor", Fail},
		{"2FA by email", func(s *Snapshot) { s.TwoFA.TwoFAEnabled = true }, "second-factor", Warn},
		{"email only", func(s *Snapshot) {
			s.TwoFA.TwoFAEnabled, s.Factors.AllowTOTP, s.Factors.AllowWebAuthn = true, false, false
		}, "second-factor", Warn},
		{"strong factor for Site Admins only", func(s *Snapshot) {
			s.TwoFA.TwoFAEnabled, s.Factors.StrongFactorRequired = true, RequiredOfSiteAdmins
		}, "second-factor", Warn},
		{"strong factor for everyone: AAL2", func(s *Snapshot) {
			s.TwoFA.TwoFAEnabled, s.Factors.StrongFactorRequired = true, RequiredOfEveryone
		}, "second-factor", Pass},
		{"strong factor with the emailed fallback", func(s *Snapshot) {
			s.TwoFA.TwoFAEnabled, s.Factors.StrongFactorRequired, s.Factors.EmailCodeFallback = true, RequiredOfEveryone, true
		}, "second-factor", Warn},
		{"strong factor required but 2FA off", func(s *Snapshot) { s.Factors.StrongFactorRequired = RequiredOfEveryone }, "second-factor", Fail},
		{"admins may use app codes", func(s *Snapshot) {
			s.TwoFA.TwoFAEnabled, s.Factors.StrongFactorRequired = true, RequiredOfSiteAdmins
		}, "admin-phishing-resistant", Warn},
		{"admins must use keys", func(s *Snapshot) {
			s.TwoFA.TwoFAEnabled, s.Factors.StrongFactorRequired, s.Factors.AllowTOTP = true, RequiredOfSiteAdmins, false
		}, "admin-phishing-resistant", Pass},
		{"no keys allowed", func(s *Snapshot) { s.TwoFA.TwoFAEnabled, s.Factors.AllowWebAuthn = true, false }, "admin-phishing-resistant", Warn},
		{"keys without user verification", func(s *Snapshot) {
			s.TwoFA.TwoFAEnabled, s.Factors.WebAuthnUserVerification = true, VerificationDiscouraged
		}, "webauthn-user-verification", Warn},
		{"code for 5 minutes", func(s *Snapshot) { s.TwoFA.TwoFAEnabled = true }, "code-lifetime", Pass},
		{"code for an hour", func(s *Snapshot) { s.TwoFA.TwoFAEnabled, s.TwoFA.CodeValidSeconds = true, 3600 }, "code-lifetime", Fail},
		{"20 tries per code", func(s *Snapshot) { s.TwoFA.TwoFAEnabled, s.TwoFA.MaxAttempts = true, 20 }, "code-attempts", Warn},
		{"questions active", func(*Snapshot) {}, "security-questions", Fail},
		{"no question active", func(s *Snapshot) {
			for i := range s.Challenges {
				s.Challenges[i].Active = false
			}
		}, "security-questions", Pass},
		{"encrypted answers", func(s *Snapshot) { s.Security.EncryptChallengeAnswers = Enabled }, "answer-storage", Warn},
		{"write CSRF off", func(s *Snapshot) { s.Security.WriteRequestCSRFSupport = Disabled }, "csrf-writes", Fail},
		{"SameSite None", func(s *Snapshot) { s.Security.AuthTokenCookieSameSite = "None" }, "cookie-samesite", Warn},
		{"enumeration allowed", func(*Snapshot) {}, "user-enumeration", Warn},
		{"enumeration masked", func(s *Snapshot) { s.Security.AllowUserEnum = Disabled }, "user-enumeration", Pass},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.change(&s)
			var got *Finding
			for _, f := range Check(s) {
				if f.ID == tc.id {
					got = &f
				}
			}
			if got == nil {
				t.Fatalf("no finding %q", tc.id)
			}
			if got.Status != tc.want || got.Requirement == "" || got.Reason == "" {
				t.Errorf("%s: got %+v, want %s", tc.id, *got, tc.want)
			}
		})
	}
	if !Failing(Check(base())) {
		t.Error("the platform's defaults (no lockout, no 2FA) should fail")
	}
}
