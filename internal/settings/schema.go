package settings

// The settings objects as a Site Admin sees them: one descriptor each, in
// one list. The console renders its forms from this list (served at GET
// /api/settingsschema), the CLI takes its short names from it, the audit
// history's filter its names, and tests check the wire structs, the
// OpenAPI document and each object's Validate against it field by field,
// so nothing here can drift from what the server does.

// Object describes one settings object.
type Object struct {
	Name      string  `json:"name"`  // the path segment: /api/businesses/{BusinessID}/{Name}
	Alias     string  `json:"alias"` // the CLI's short name: bizsec settings get {Alias}
	Title     string  `json:"title"`
	Intro     string  `json:"intro"`
	Extension bool    `json:"extension"` // bizsec's own, not the platform's
	Groups    []Group `json:"groups"`
}

// Group is a titled set of an object's fields, as the console shows them.
type Group struct {
	Title  string  `json:"title"`
	Fields []Field `json:"fields"`
}

// Field is one setting: its wire name, words for people, and its control.
type Field struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	// Kind is the control: feature (on/off over com.soa.feature.*), bool,
	// number (with Unit, Min, Max), choice (Options), domain (the cookie
	// domain), text, secret (write-only), specials (a list of special
	// characters, absent meaning any).
	Kind      string      `json:"kind"`
	Unit      string      `json:"unit,omitempty"`
	Min       *int        `json:"min,omitempty"`
	Max       *int        `json:"max,omitempty"`
	Options   [][2]string `json:"options,omitempty"` // value, label
	Optional  bool        `json:"optional,omitempty"`
	Help      string      `json:"help"`
	Extension bool        `json:"extension,omitempty"` // bizsec's own field in a platform object
	// NoEffect marks a setting kept for the platform's clients that
	// governs nothing in bizsec (the part of the platform it belongs to is
	// not here).
	NoEffect bool `json:"noEffect,omitempty"`
}

func bounds(lo, hi int) (*int, *int) { return &lo, &hi }

func number(name, label, unit string, lo, hi int, help string) Field {
	min, max := bounds(lo, hi)
	return Field{Name: name, Label: label, Kind: "number", Unit: unit, Min: min, Max: max, Help: help}
}

// Objects are the settings objects, in the console's order. Bounds are
// those Validate enforces (a test checks them).
var Objects = []Object{
	{Name: "loginpolicy", Alias: "login", Title: "Lockout and sessions",
		Intro: "How failed logins suspend an account, and how long sessions last.",
		Groups: []Group{
			{"Lockout", []Field{
				number("MaxSequentialFailureAttemptsAllowed", "Failed attempts before suspension", "attempts", 0, 1000,
					"Consecutive failed logins (passwords, verification codes, security answers) that suspend the account. 0 turns suspension off."),
				number("AttemptsPeriod", "Counting window", "minutes", 1, maxMinutes, "Minutes over which failed attempts are counted."),
				number("SuspensionMinutes", "Suspension", "minutes", 1, maxMinutes, "Minutes the account stays locked after too many failed attempts."),
			}},
			{"Sessions", []Field{
				number("InactiveSessionTimeout", "Idle timeout", "minutes", 1, maxMinutes, "Minutes of inactivity before the user is logged out."),
				number("ActiveSessionTimeout", "Absolute timeout", "minutes", 1, maxMinutes,
					"Minutes after login when the user is logged out even if active; renewing the session does not extend it."),
				{Name: "PersistentSession", Label: "Keep the session when the browser closes", Kind: "bool",
					Help: "Off sends a browser-session cookie, gone when the browser closes."},
				{Name: "ConcurrentLogin", Label: "Allow several sessions per user", Kind: "bool",
					Help: "Off ends a user's other sessions (other browsers, devices) when they log in."},
				{Name: "AutoLoginExternalDomain", Label: "Try external (LDAP) domain login", Kind: "choice",
					Options: [][2]string{{AutoLoginDisabled, "Off"}, {"com.soa.enabled", "On"}}, NoEffect: true,
					Help: "Kept for the platform's clients; bizsec has no external domains, so it changes nothing here."},
			}},
		}},
	{Name: "twofasettings", Alias: "twofa", Title: "Two-factor authentication",
		Intro: "A code mailed to the user after the password.",
		Groups: []Group{
			{"Two-factor login", []Field{
				{Name: "TwoFAEnabled", Label: "Require a verification code", Kind: "bool", Help: "Whether 2FA is enabled for logins to this tenant."},
				number("CodeValidSeconds", "Code lifetime", "seconds", 30, 86400, "Period for which a verification code is valid."),
				number("MaxAttempts", "Tries per code", "attempts", 1, 100,
					"Wrong entries of one code before the user must log in again; each also counts toward suspension."),
			}},
			{"When to ask", []Field{
				{Name: "RecurrenceMode", Label: "Ask for a code", Kind: "choice",
					Options: [][2]string{{EachLogin, "At every login"}, {OnceEachInterval, "Once per interval"}, {LoginNewDevice, "On a new device"}},
					Help:    "How often 2FA expires."},
				number("RecurrenceIntervalMinutes", "Interval", "minutes", 1, maxMinutes,
					"Period after which the user must do 2FA again (once per interval, or how long a device is remembered)."),
				{Name: "DeviceCookieName", Label: "Device cookie name", Kind: "text", Optional: true,
					Help: "Name of the cookie that marks a device that passed 2FA (default 2fa_cookie)."},
				{Name: "DeviceCookieValue", Label: "Device cookie value", Kind: "text", Optional: true,
					Help: "Kept and shown; each device gets its own random secret instead."},
			}},
		}},
	{Name: "securitysettings", Alias: "security", Title: "Security",
		Intro: "CSRF protection, cookies, enumeration, CAPTCHA and uploads.",
		Groups: []Group{
			{"CSRF and cookies", []Field{
				{Name: "WriteRequestCSRFSupport", Label: "CSRF header on changes", Kind: "feature", Help: "CSRF validation for POST, PUT and DELETE."},
				{Name: "ReadRequestCSRFSupport", Label: "CSRF header on reads", Kind: "feature", Help: "CSRF validation for GET."},
				{Name: "AuthTokenCookieSameSite", Label: "Cookie SameSite", Kind: "choice",
					Options: [][2]string{{"Lax", "Lax (recommended)"}, {"Strict", "Strict"}, {"None", "None (cross-site; needs HTTPS)"}},
					Help:    "Whether browsers send the session cookie on requests from other sites."},
				{Name: "AuthTokenCookieDomain", Label: "Cookie domain", Kind: "domain",
					Help: "Which hosts get the session cookie: this host only (recommended), or every host under a parent domain of it."},
			}},
			{"Accounts", []Field{
				{Name: "AllowUserEnum", Label: "Say whether an email is registered", Kind: "feature",
					Help: "Off gives unknown and known emails the same answers (stricter)."},
				{Name: "UserModifyEmail", Label: "Users may change their email", Kind: "feature",
					Help: "Whether a user can change their own email (confirmed by a code mailed to the new address)."},
				{Name: "SiteAdminModifyEmail", Label: "Site Admins may change users' emails", Kind: "feature",
					Help: "Whether a Site Admin can change another user's email."},
			}},
			{"Security questions", []Field{
				number("ChallengeCount", "Questions each user answers", "questions", 0, maxChallengeNeed,
					"Number of challenge questions a user must answer; at most the active questions."),
				{Name: "EncryptChallengeAnswers", Label: "Encrypt answers", Kind: "feature",
					Help: "On stores answers encrypted with the server key; off stores argon2id hashes."},
			}},
			{"CAPTCHA", []Field{
				{Name: "CaptchaSupport", Label: "Require a CAPTCHA at login and reset", Kind: "feature", Help: "Needs the site key and secret below."},
				{Name: "CaptchaSiteKey", Label: "Site key", Kind: "text", Optional: true, Help: "The CAPTCHA provider's public site key."},
				{Name: "CaptchaSiteSecret", Label: "Site secret", Kind: "secret", Optional: true,
					Help: "Write-only: shown masked; leave it to keep the stored secret."},
			}},
			{"Content and uploads", []Field{
				{Name: "XssKeywords", Label: "Refused keywords", Kind: "text", Help: "Comma-separated words refused in question text and file names."},
				{Name: "WhiteListKeywordsSupport", Label: "Only allowed special characters", Kind: "feature",
					Help: "On refuses special characters not in the list below."},
				{Name: "WhiteListKeywords", Label: "Allowed special characters", Kind: "text", Help: "The special characters allowed in user text."},
				{Name: "AllowedFileTypes", Label: "Allowed file types", Kind: "text", Help: "Comma-separated media types that may be uploaded."},
				{Name: "AllowedFileTypesStrictPolicy", Label: "Check file content", Kind: "feature",
					Help: "On checks that a file's content is its claimed type and carries no script."},
				{Name: "ExternalDocSupport", Label: "External documentation", Kind: "feature", NoEffect: true,
					Help: "Kept for the platform's clients; bizsec serves no documentation, so it changes nothing here."},
			}},
		}},
	{Name: "passwordpolicy", Alias: "password", Title: "Passwords",
		Intro: "The rules every new password meets: reset, the user's own change, a Site Admin's set, the CLI.",
		Groups: []Group{
			{"Length", []Field{
				number("MinimumLength", "Minimum length", "characters", 1, MaxPasswordLength, "Fewest characters; ASVS asks at least 12."),
				number("MaximumLength", "Maximum length", "characters", 1, MaxPasswordLength, "Most characters; ASVS and NIST ask that at least 64 be allowed."),
			}},
			{"Known-bad passwords", []Field{
				{Name: "KnownBadCheck", Label: "Refuse common and breached passwords", Kind: "bool", Extension: true,
					Help: "Compares a new password with 49,233 common and breached passwords and the account's own words (NIST SP 800-63B 5.1.1.2)."},
				number("HistoryCount", "Recent passwords that may not return", "passwords", 0, MaxPasswordHistory,
					"How many of the user's last passwords cannot be set again; 0 remembers none."),
			}},
			{"Composition (NIST advises against)", []Field{
				number("MinimumAlphaCount", "Minimum letters", "letters", 0, MaxPasswordLength, "Fewest letters."),
				number("MinimumNumberCount", "Minimum digits", "digits", 0, MaxPasswordLength, "Fewest digits."),
				number("MinimumUpperCaseLetterCount", "Minimum capital letters", "letters", 0, MaxPasswordLength, "Fewest upper-case letters."),
				number("MinimumSpecialCharacterCount", "Minimum special characters", "characters", 0, MaxPasswordLength, "Fewest special characters."),
				{Name: "AllowedSpecialCharacters", Label: "Special characters", Kind: "specials",
					Help: "Any special character, only those listed, or none."},
				{Name: "CanContainSpaces", Label: "Spaces allowed", Kind: "bool", Help: "Whether a password may contain spaces (passphrases)."},
			}},
		}},
	{Name: "sessionpolicy", Alias: "sessions", Title: "Session limit", Extension: true,
		Intro: "How many live sessions one user may have, beside the login policy's ConcurrentLogin.",
		Groups: []Group{
			{"Session limit", []Field{
				number("MaximumSessions", "Live sessions per user", "sessions", 0, MaxSessionsPerUser, "0 sets no limit."),
				{Name: "AtLimit", Label: "A login at the limit", Kind: "choice",
					Options: [][2]string{{EndOldestSession, "Ends the oldest session"}, {RefuseNewLogin, "Is refused"}},
					Help:    "What a login does when the user already has the most sessions allowed."},
			}},
		}},
	{Name: "factorpolicy", Alias: "factors", Title: "Second factors", Extension: true,
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
}

// ObjectNamed returns the descriptor of a settings object by name or CLI alias.
func ObjectNamed(name string) (Object, bool) {
	for _, o := range Objects {
		if o.Name == name || o.Alias == name {
			return o, true
		}
	}
	return Object{}, false
}
