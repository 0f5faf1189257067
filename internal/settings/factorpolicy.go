package settings

// FactorPolicy is bizsec's own settings object: which second factors a
// tenant's users may enrol and log in with, and who must enrol one
// stronger than the emailed code. Its defaults are the server without it:
// every factor allowed, the emailed code only for users with no app or
// key, nobody required to enrol.
type FactorPolicy struct {
	// AllowEmailCode: the platform's emailed code may be used at login.
	AllowEmailCode bool
	// AllowTOTP: authenticator apps (RFC 6238) may be enrolled and used.
	AllowTOTP bool
	// AllowWebAuthn: security keys and passkeys may be enrolled and used.
	AllowWebAuthn bool
	// AllowRecoveryCodes: recovery codes may be made and used.
	AllowRecoveryCodes bool
	// EmailCodeFallback: a user with an app or key is mailed a code too,
	// and may answer with either (off: no mail to such a user).
	EmailCodeFallback bool
	// StrongFactorRequired is who must enrol an app or key: Nobody,
	// SiteAdmins or Everyone.
	StrongFactorRequired string
	// EnrolmentGraceDays is how long after the requirement first applies
	// to a user they may put enrolment off; 0: at once.
	EnrolmentGraceDays int
	// WebAuthnUserVerification is what security keys and passkeys are asked
	// for: preferred, required or discouraged (WebAuthn's values).
	WebAuthnUserVerification string
}

// Who must enrol a strong factor.
const (
	RequiredOfNobody     = "Nobody"
	RequiredOfSiteAdmins = "SiteAdmins"
	RequiredOfEveryone   = "Everyone"
)

// WebAuthn's user verification requirements.
const (
	VerificationPreferred   = "preferred"
	VerificationRequired    = "required"
	VerificationDiscouraged = "discouraged"
)

// MaxEnrolmentGraceDays bounds EnrolmentGraceDays.
const MaxEnrolmentGraceDays = 365

// DefaultFactorPolicy keeps the server's behaviour without a policy.
func DefaultFactorPolicy() FactorPolicy {
	return FactorPolicy{AllowEmailCode: true, AllowTOTP: true, AllowWebAuthn: true, AllowRecoveryCodes: true,
		StrongFactorRequired: RequiredOfNobody, EnrolmentGraceDays: 14, WebAuthnUserVerification: VerificationPreferred}
}

// Validate reports whether p is a usable policy: one no user is locked
// out by.
func (p FactorPolicy) Validate() error {
	var v invalid
	v.oneOf("StrongFactorRequired", p.StrongFactorRequired, RequiredOfNobody, RequiredOfSiteAdmins, RequiredOfEveryone)
	v.between("EnrolmentGraceDays", p.EnrolmentGraceDays, 0, MaxEnrolmentGraceDays)
	v.oneOf("WebAuthnUserVerification", p.WebAuthnUserVerification, VerificationPreferred, VerificationRequired, VerificationDiscouraged)
	if !p.AllowTOTP && !p.AllowWebAuthn {
		if p.StrongFactorRequired != RequiredOfNobody {
			v.addf("StrongFactorRequired %s needs AllowTOTP or AllowWebAuthn", p.StrongFactorRequired)
		}
		if !p.AllowEmailCode {
			v.addf("at least one of AllowEmailCode, AllowTOTP and AllowWebAuthn must be true")
		}
	}
	// Without the emailed code, a user with no app or key could not pass
	// two-factor login; they must be made to enrol one.
	if !p.AllowEmailCode && p.StrongFactorRequired != RequiredOfEveryone {
		v.addf("AllowEmailCode false needs StrongFactorRequired Everyone: users with no app or key have no other factor")
	}
	return v.err()
}

// Allows reports whether a factor kind (email, totp, webauthn, recovery) may be used.
func (p FactorPolicy) Allows(kind string) bool {
	switch kind {
	case "email":
		return p.AllowEmailCode
	case "totp":
		return p.AllowTOTP
	case "webauthn":
		return p.AllowWebAuthn
	case "recovery":
		return p.AllowRecoveryCodes
	}
	return false
}

// Requires reports whether a user (a Site Admin of the tenant or not)
// must enrol a strong factor.
func (p FactorPolicy) Requires(siteAdmin bool) bool {
	return p.StrongFactorRequired == RequiredOfEveryone || (siteAdmin && p.StrongFactorRequired == RequiredOfSiteAdmins)
}

// FactorPolicyKind is bizsec's own factor policy object.
var FactorPolicyKind = register(Kind[FactorPolicy]{Object: &Object{Order: 6, Name: "factorpolicy", Alias: "factors", Title: "Second factors", Extension: true,
	Intro: "Which second factors users may enrol and log in with, and who must enrol one stronger than the emailed code.",
	Groups: []Group{
		{"Allowed factors", []Field{
			{Name: "AllowEmailCode", Label: "Emailed code", Kind: "bool",
				Help: "The platform's code mailed at login. NIST SP 800-63B does not accept email for AAL2."},
			{Name: "AllowTOTP", Label: "Authenticator apps", Kind: "bool", Help: "Six-digit codes from an app (RFC 6238)."},
			{Name: "AllowWebAuthn", Label: "Security keys and passkeys", Kind: "bool", Help: "WebAuthn: phishing-resistant."},
			{Name: "AllowRecoveryCodes", Label: "Recovery codes", Kind: "bool", Help: "Single-use codes in place of an app or key."},
			{Name: "EmailCodeFallback", Label: "Emailed code also for users with an app or key", Kind: "bool",
				Help: "On mails a code to every user at login; off mails none to a user who has an app or key."},
		}},
		{"Enrolment", []Field{
			{Name: "StrongFactorRequired", Label: "Must enrol an app or key", Kind: "choice",
				Options: [][2]string{{RequiredOfNobody, "Nobody"}, {RequiredOfSiteAdmins, "Site Admins"}, {RequiredOfEveryone, "Everyone"}},
				Help:    "Who is asked at login to enrol an authenticator app or security key; after the grace period they must."},
			number("EnrolmentGraceDays", "Grace period", "days", 0, MaxEnrolmentGraceDays,
				"Days from when the requirement first applies to a user during which they may put enrolment off; 0: at once."),
			{Name: "WebAuthnUserVerification", Label: "Security key user verification", Kind: "choice",
				Options: [][2]string{{VerificationPreferred, "Preferred"}, {VerificationRequired, "Required (PIN or biometric)"}, {VerificationDiscouraged, "Discouraged"}},
				Help:    "Whether a key or passkey must also check a PIN or biometric."},
		}},
	}},
	Default: DefaultFactorPolicy, Validate: FactorPolicy.Validate})
