package settings

import "fmt"

// Status rates one requirement.
type Status string

// Statuses, from best to worst.
const (
	Pass Status = "pass"
	Warn Status = "warn" // meets the letter, or a level below the strictest; worth a look
	Fail Status = "fail"
)

// Finding is one requirement rated against a business's settings.
type Finding struct {
	ID          string // stable rule ID, e.g. "lockout"
	Requirement string // the standards it comes from, by their own IDs
	Status      Status
	Reason      string // one line, in the settings' own terms
}

// Snapshot is a business's settings, as Check reads them.
type Snapshot struct {
	TwoFA      TwoFA
	Login      LoginPolicy
	Security   Security
	Challenges []Challenge
	Password   PasswordPolicy
	Factors    FactorPolicy
}

// Check rates a business's settings against named requirements of OWASP
// ASVS 4.0.3, NIST SP 800-63B and the OWASP Web Security Testing Guide.
// It is pure: the same settings give the same findings.
func Check(s Snapshot) []Finding {
	var out []Finding
	add := func(id, req string, st Status, format string, args ...any) {
		out = append(out, Finding{ID: id, Requirement: req, Status: st, Reason: fmt.Sprintf(format, args...)})
	}

	const lockoutReq = "ASVS 4.0.3 V2.2.1; NIST SP 800-63B 5.2.2"
	switch max := s.Login.MaxSequentialFailureAttemptsAllowed; {
	case max == 0:
		add("lockout", lockoutReq, Fail, "account suspension is off: only the per-account throttle bounds password and code guessing")
	case max > 100:
		add("lockout", lockoutReq, Fail, "%d failures before suspension: NIST allows at most 100 consecutive failed attempts", max)
	default:
		add("lockout", lockoutReq, Pass, "an account is suspended after %d failures within %d minutes, for %d minutes",
			max, s.Login.AttemptsPeriod, s.Login.SuspensionMinutes)
	}

	const pwReq = "ASVS 4.0.3 V2.1.1, V2.1.7, V2.1.9; NIST SP 800-63B 5.1.1.2"
	pw := s.Password
	switch {
	case !pw.KnownBadCheck:
		add("password-known-bad", pwReq, Fail, "known-bad passwords are accepted: NIST asks that new passwords be compared with common and breached ones")
	default:
		add("password-known-bad", pwReq, Pass, "new passwords are compared with %d common and breached passwords and the account's own words", KnownBadPasswords())
	}
	switch {
	case pw.MinimumLength < 8:
		add("password-length", pwReq, Fail, "passwords may be %d characters: NIST asks at least 8, ASVS 12", pw.MinimumLength)
	case pw.MinimumLength < 12:
		add("password-length", pwReq, Warn, "passwords may be %d characters: ASVS asks at least 12 (8 only with other controls)", pw.MinimumLength)
	case pw.MaximumLength < 64:
		add("password-length", pwReq, Warn, "passwords may be at most %d characters: ASVS and NIST ask that at least 64 be allowed", pw.MaximumLength)
	default:
		add("password-length", pwReq, Pass, "passwords have %d to %d characters", pw.MinimumLength, pw.MaximumLength)
	}
	if pw.Composition() {
		add("password-composition", pwReq, Warn, "composition rules (character classes, special characters, no spaces) are set: NIST says verifiers SHALL NOT impose them")
	} else {
		add("password-composition", pwReq, Pass, "no composition rules: every printable character and spaces are allowed")
	}

	const idleReq = "ASVS 4.0.3 V3.3.2; NIST SP 800-63B 7.2"
	switch idle := s.Login.InactiveSessionTimeout; {
	case idle <= 15:
		add("session-idle", idleReq, Pass, "sessions end after %d idle minutes (L3: 15)", idle)
	case idle <= 30:
		add("session-idle", idleReq, Pass, "sessions end after %d idle minutes (L2 and AAL2: 30; L3 asks 15)", idle)
	default:
		add("session-idle", idleReq, Fail, "sessions end only after %d idle minutes: L2 and AAL2 ask at most 30", idle)
	}
	switch abs := s.Login.ActiveSessionTimeout; {
	case abs <= 12*60:
		add("session-absolute", idleReq, Pass, "sessions end %d minutes after login, renewed or not (L2 and AAL2: 12 hours)", abs)
	case abs <= 30*24*60:
		add("session-absolute", idleReq, Warn, "sessions last %d minutes: within L1's 30 days, beyond L2's 12 hours", abs)
	default:
		add("session-absolute", idleReq, Fail, "sessions last %d minutes: more than L1's 30 days", abs)
	}

	switch {
	case !s.TwoFA.TwoFAEnabled:
		add("second-factor", "NIST SP 800-63B 4.2.1; ASVS 4.0.3 V2.7", Fail, "two-factor login is off: a password alone logs in")
	default:
		checkFactors(s.Factors, add)
		if s.TwoFA.RecurrenceMode != EachLogin {
			add("second-factor-recurrence", "NIST SP 800-63B 4.2.3; ASVS 4.0.3 V3.3.2", Warn,
				"2FA is asked %s, not at each login (AAL2 reauthenticates with both factors at least every 12 hours)", recurrenceWords(s.TwoFA))
		}
		const oobReq = "NIST SP 800-63B 5.1.3.2"
		if s.TwoFA.CodeValidSeconds <= 600 {
			add("code-lifetime", oobReq, Pass, "codes work for %d seconds (at most 10 minutes)", s.TwoFA.CodeValidSeconds)
		} else {
			add("code-lifetime", oobReq, Fail, "codes work for %d seconds: NIST allows 10 minutes", s.TwoFA.CodeValidSeconds)
		}
		if s.TwoFA.MaxAttempts <= 5 {
			add("code-attempts", "NIST SP 800-63B 5.2.2", Pass, "a code takes %d tries, and each wrong one counts toward suspension", s.TwoFA.MaxAttempts)
		} else {
			add("code-attempts", "NIST SP 800-63B 5.2.2", Warn, "a code takes %d tries before a new login is needed", s.TwoFA.MaxAttempts)
		}
	}

	active := 0
	for _, c := range s.Challenges {
		if c.Active {
			active++
		}
	}
	const kbaReq = "ASVS 4.0.3 V2.5.2; NIST SP 800-63B 5.1.1.2"
	if active > 0 {
		add("security-questions", kbaReq, Fail,
			"%d security questions are active and password reset asks one: knowledge-based answers are guessable and researchable", active)
	} else {
		add("security-questions", kbaReq, Pass, "no security question is active")
	}
	if Feature(s.Security.EncryptChallengeAnswers) {
		add("answer-storage", "ASVS 4.0.3 V2.4.1", Warn, "answers are stored encrypted, so the server key opens them; hashed answers cannot be read back")
	} else {
		add("answer-storage", "ASVS 4.0.3 V2.4.1", Pass, "answers are stored as argon2id hashes")
	}

	const csrfReq = "ASVS 4.0.3 V4.2.2"
	if Feature(s.Security.WriteRequestCSRFSupport) {
		add("csrf-writes", csrfReq, Pass, "changes need the CSRF header")
	} else {
		add("csrf-writes", csrfReq, Fail, "changes are taken without the CSRF header: another site can make them in a user's session")
	}
	if Feature(s.Security.ReadRequestCSRFSupport) {
		add("csrf-reads", csrfReq, Pass, "reads need the CSRF header too")
	} else {
		add("csrf-reads", csrfReq, Pass, "reads need no CSRF header; they change nothing, and answers are not readable cross-site")
	}
	switch s.Security.AuthTokenCookieSameSite {
	case "None":
		add("cookie-samesite", "ASVS 4.0.3 V3.4.3", Warn, "the session cookie is sent on cross-site requests (SameSite None); only the CSRF header stops forgery")
	default:
		add("cookie-samesite", "ASVS 4.0.3 V3.4.3", Pass, "the session cookie is SameSite %s", s.Security.AuthTokenCookieSameSite)
	}
	if Feature(s.Security.AllowUserEnum) {
		add("user-enumeration", "OWASP WSTG-IDNT-04; ASVS 4.0.3 V2.2.1", Warn,
			"answers tell whether an email is registered (AllowUserEnum enabled)")
	} else {
		add("user-enumeration", "OWASP WSTG-IDNT-04; ASVS 4.0.3 V2.2.1", Pass, "known and unknown emails get the same answers")
	}
	return out
}

// checkFactors rates the factor policy under two-factor login: AAL2 needs
// every user to hold an app or key (NIST does not accept email as
// out-of-band), with the emailed code no fallback beside it.
func checkFactors(fp FactorPolicy, add func(id, req string, st Status, format string, args ...any)) {
	const aal2 = "NIST SP 800-63B 4.2.1, 5.1.3.1; ASVS 4.0.3 V2.7"
	switch {
	case !fp.AllowTOTP && !fp.AllowWebAuthn:
		add("second-factor", aal2, Warn,
			"the only second factor is a code sent by email, which NIST does not accept as out-of-band (it proves no device): AAL2 is out of reach")
	case fp.StrongFactorRequired == RequiredOfNobody:
		add("second-factor", aal2, Warn,
			"users may enrol an app or key but need not: those who do not log in with a code sent by email, which NIST does not accept as out-of-band; AAL2 is out of reach (factorpolicy StrongFactorRequired)")
	case fp.StrongFactorRequired == RequiredOfSiteAdmins:
		add("second-factor", aal2, Warn,
			"only Site Admins must enrol an app or key: other users may log in with a code sent by email, which NIST does not accept for AAL2")
	case fp.EmailCodeFallback:
		add("second-factor", aal2, Warn,
			"every user must enrol an app or key, but the emailed code stays a fallback beside it, so AAL2 is not reached (factorpolicy EmailCodeFallback)")
	default:
		add("second-factor", aal2, Pass,
			"AAL2 is reachable: every user must enrol an authenticator app or security key (within %d days), and the emailed code is no fallback", fp.EnrolmentGraceDays)
	}
	const phish = "NIST SP 800-63B 5.2.5; OMB M-22-09"
	adminsStrong := fp.StrongFactorRequired != RequiredOfNobody
	switch {
	case !fp.AllowWebAuthn:
		add("admin-phishing-resistant", phish, Warn,
			"security keys and passkeys are not allowed: no factor resists phishing; recommended for Site Admins at least (factorpolicy AllowWebAuthn)")
	case adminsStrong && !fp.AllowTOTP && !fp.EmailCodeFallback:
		add("admin-phishing-resistant", phish, Pass, "Site Admins must enrol a security key or passkey, which resists phishing")
	default:
		add("admin-phishing-resistant", phish, Warn,
			"Site Admins may log in with an app's or an emailed code, which a phishing site can relay; a security key or passkey is recommended for them")
	}
	if fp.AllowWebAuthn && fp.WebAuthnUserVerification == VerificationDiscouraged {
		add("webauthn-user-verification", "NIST SP 800-63B 5.1.9.1", Warn,
			"security keys are asked not to verify the user (no PIN or biometric): a stolen key is one factor")
	}
}

func recurrenceWords(t TwoFA) string {
	switch t.RecurrenceMode {
	case OnceEachInterval:
		return fmt.Sprintf("once every %d minutes", t.RecurrenceIntervalMinutes)
	case LoginNewDevice:
		return fmt.Sprintf("on a new device, remembered for %d minutes", t.RecurrenceIntervalMinutes)
	}
	return "at each login"
}

// Failing reports whether any finding fails.
func Failing(fs []Finding) bool {
	for _, f := range fs {
		if f.Status == Fail {
			return true
		}
	}
	return false
}
