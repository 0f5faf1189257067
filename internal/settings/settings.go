// Package settings holds a business's security settings: the four objects
// of the platform's API (TwoFASettings, LoginPolicy, BusinessSecuritySettings
// and Challenges), their platform defaults and their validation. Field names
// are the wire names so that storage, API and documentation speak alike.
package settings

import (
	"fmt"
	"mime"
	"net"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"

	"github.com/bizsec/bizsec/internal/fault"
)

// Feature flag values used by BusinessSecuritySettings.
const (
	Enabled  = "com.soa.feature.enabled"
	Disabled = "com.soa.feature.disabled"
)

// LoginPolicy uses its own spelling for AutoLoginExternalDomain.
const (
	AutoLoginEnabled  = "com.soa.enabled"
	AutoLoginDisabled = "com.soa.disabled"
)

// CookieDomainHostname makes the auth cookie host-only (no Domain attribute).
const CookieDomainHostname = "com.soa.auth.token.cookie.domain.hostname"

// Recurrence modes of two-factor authentication.
const (
	EachLogin         = "twofa.each.login"
	OnceEachInterval  = "twofa.once.each.interval"
	LoginNewDevice    = "twofa.login.new.device"
	DefaultDeviceName = "2fa_cookie"
)

// Upper bounds that keep numbers meaningful; the platform documents none.
const (
	maxMinutes       = 2 * 525600 // two years
	maxAttempts      = 1000
	maxCodeSeconds   = 86400
	maxChallenges    = 100
	maxAnswerLength  = 2048 // the platform's limit on UserIdentificationChallenge.Answer
	maxCodeLength    = 255  // the platform's limit on ChallengeCode
	maxQuestionLen   = 1024
	maxListLength    = 8192
	maxChallengeNeed = 20
)

// TwoFA is the TwoFASettings object.
type TwoFA struct {
	TwoFAEnabled              bool
	CodeValidSeconds          int
	MaxAttempts               int
	RecurrenceMode            string
	RecurrenceIntervalMinutes int
	DeviceCookieName          string
	DeviceCookieValue         string
}

// LoginPolicy is the LoginPolicy object. MaxSequentialFailureAttemptsAllowed
// of 0 turns account suspension off, the platform's default.
type LoginPolicy struct {
	MaxSequentialFailureAttemptsAllowed int
	AttemptsPeriod                      int
	SuspensionMinutes                   int
	AutoLoginExternalDomain             string
	InactiveSessionTimeout              int
	ActiveSessionTimeout                int
	PersistentSession                   bool
	ConcurrentLogin                     bool
}

// Security is the BusinessSecuritySettings object.
type Security struct {
	ReadRequestCSRFSupport       string
	WriteRequestCSRFSupport      string
	AllowUserEnum                string
	EncryptChallengeAnswers      string
	ChallengeCount               int
	UserModifyEmail              string
	SiteAdminModifyEmail         string
	AuthTokenCookieDomain        string
	AuthTokenCookieSameSite      string
	CaptchaSupport               string
	CaptchaSiteKey               string
	CaptchaSiteSecret            string
	ExternalDocSupport           string
	XssKeywords                  string
	AllowedFileTypes             string
	WhiteListKeywords            string
	WhiteListKeywordsSupport     string
	AllowedFileTypesStrictPolicy string
}

// Challenge is one security question with the constraints on its answers.
// A nil constraint is unset: no limit, and omitted on the wire.
// AllowedSpecialCharacters nil allows any special character; non-nil
// (even empty) allows only those listed.
type Challenge struct {
	ChallengeCode                string
	ChallengeQuestion            string
	MinimumLength                *int
	MaximumLength                *int
	MinimumAlphaCount            *int
	MaximumAlphaCount            *int
	MinimumNumberCount           *int
	MaximumNumberCount           *int
	MinimumUpperCaseLetterCount  *int
	MinimumSpecialCharacterCount *int
	CanContainSpaces             bool
	IsCaseSensitive              bool
	Active                       bool
	AllowedSpecialCharacters     []string
}

// DefaultTwoFA returns the platform's 2FA settings for a new business:
// 2FA off, codes valid five minutes, three tries, a new device triggers 2FA.
func DefaultTwoFA() TwoFA {
	return TwoFA{
		CodeValidSeconds:          300,
		MaxAttempts:               3,
		RecurrenceMode:            LoginNewDevice,
		RecurrenceIntervalMinutes: 525950,
	}
}

// DefaultLoginPolicy returns the platform's login policy: suspension off
// (the documented default), 30-minute sessions, persistent cookies,
// concurrent logins allowed. AttemptsPeriod and SuspensionMinutes are
// pre-filled so that turning suspension on needs only one field.
func DefaultLoginPolicy() LoginPolicy {
	return LoginPolicy{
		AttemptsPeriod:          5,
		SuspensionMinutes:       30,
		AutoLoginExternalDomain: AutoLoginDisabled,
		InactiveSessionTimeout:  30,
		ActiveSessionTimeout:    30,
		PersistentSession:       true,
		ConcurrentLogin:         true,
	}
}

// DefaultSecurity returns the platform's security settings: CSRF checked on
// writes but not reads, user enumeration allowed, answers hashed, three
// security questions, host-only Lax cookies, CAPTCHA off.
func DefaultSecurity() Security {
	return Security{
		ReadRequestCSRFSupport:       Disabled,
		WriteRequestCSRFSupport:      Enabled,
		AllowUserEnum:                Enabled,
		EncryptChallengeAnswers:      Disabled,
		ChallengeCount:               3,
		UserModifyEmail:              Enabled,
		SiteAdminModifyEmail:         Enabled,
		AuthTokenCookieDomain:        CookieDomainHostname,
		AuthTokenCookieSameSite:      "Lax",
		CaptchaSupport:               Disabled,
		ExternalDocSupport:           Enabled,
		XssKeywords:                  "onload,onerror,onmouseout,onmouseover,eval",
		AllowedFileTypes:             "text/plain,text/x-yaml,application/json,application/xml,application/wsdl+xml,image/png,image/jpeg,application/pdf,application/zip,image/bmp,image/gif",
		WhiteListKeywords:            "/#[]()'\":;?!_<=>@`~&*$",
		WhiteListKeywordsSupport:     Disabled,
		AllowedFileTypesStrictPolicy: Enabled,
	}
}

// DefaultChallenges returns the platform's four built-in questions.
func DefaultChallenges() []Challenge {
	q := func(code, question string) Challenge {
		return Challenge{ChallengeCode: code, ChallengeQuestion: question, CanContainSpaces: true, Active: true}
	}
	return []Challenge{
		q("com.soa.challenge.question.city.birth", "What is the city of your birth?"),
		q("com.soa.challenge.question.color", "What is your favorite color?"),
		q("com.soa.challenge.question.mothers.name", "What is your mother's maiden name?"),
		q("com.soa.challenge.question.pet", "What is the name of your pet?"),
	}
}

// invalid collects validation problems so one response can name them all.
type invalid []string

func (v *invalid) addf(format string, args ...any) { *v = append(*v, fmt.Sprintf(format, args...)) }

func (v invalid) err() error {
	if len(v) == 0 {
		return nil
	}
	return fault.New(fault.Invalid, "%s", strings.Join(v, "; "))
}

func (v *invalid) between(name string, n, lo, hi int) {
	if n < lo || n > hi {
		v.addf("%s must be between %d and %d, got %d", name, lo, hi, n)
	}
}

func (v *invalid) oneOf(name, got string, allowed ...string) {
	for _, a := range allowed {
		if got == a {
			return
		}
	}
	v.addf("%s must be one of %s, got %q", name, strings.Join(allowed, ", "), got)
}

// Validate reports whether t is a usable configuration.
func (t TwoFA) Validate() error {
	var v invalid
	v.between("CodeValidSeconds", t.CodeValidSeconds, 30, maxCodeSeconds)
	v.between("MaxAttempts", t.MaxAttempts, 1, 100)
	v.oneOf("RecurrenceMode", t.RecurrenceMode, EachLogin, OnceEachInterval, LoginNewDevice)
	v.between("RecurrenceIntervalMinutes", t.RecurrenceIntervalMinutes, 1, maxMinutes)
	if t.DeviceCookieName != "" {
		if err := CheckDeviceCookieName(t.DeviceCookieName); err != nil {
			v.addf("%s", fault.MessageOf(err))
		}
	}
	if len(t.DeviceCookieValue) > 256 {
		v.addf("DeviceCookieValue must be at most 256 characters")
	}
	return v.err()
}

// reservedCookies are the prefixes of the platform's own cookie names.
var reservedCookies = []string{"AtmoAuthToken_", "Csrf-Token_"}

// CheckDeviceCookieName refuses a name that is not a cookie name, or that is
// one of the platform's own cookies, which the device cookie would clobber.
func CheckDeviceCookieName(name string) error {
	if name == "" {
		return fault.New(fault.Invalid, "DeviceCookieName must not be empty; leave it out to keep %s", DefaultDeviceName)
	}
	if !validCookieName(name) {
		return fault.New(fault.Invalid, "DeviceCookieName %q is not a valid cookie name", name)
	}
	for _, p := range reservedCookies {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return fault.New(fault.Invalid, "DeviceCookieName %q is reserved: the platform's %s{tenant} cookie", name, p)
		}
	}
	return nil
}

// DeviceCookie returns the name of the cookie that marks a verified device.
func (t TwoFA) DeviceCookie() string {
	if t.DeviceCookieName == "" {
		return DefaultDeviceName
	}
	return t.DeviceCookieName
}

// Validate reports whether p is a usable configuration.
func (p LoginPolicy) Validate() error {
	var v invalid
	v.between("MaxSequentialFailureAttemptsAllowed", p.MaxSequentialFailureAttemptsAllowed, 0, maxAttempts)
	v.between("AttemptsPeriod", p.AttemptsPeriod, 1, maxMinutes)
	v.between("SuspensionMinutes", p.SuspensionMinutes, 1, maxMinutes)
	v.between("InactiveSessionTimeout", p.InactiveSessionTimeout, 1, maxMinutes)
	v.between("ActiveSessionTimeout", p.ActiveSessionTimeout, 1, maxMinutes)
	v.oneOf("AutoLoginExternalDomain", p.AutoLoginExternalDomain, AutoLoginEnabled, AutoLoginDisabled, Enabled, Disabled)
	return v.err()
}

// Validate reports whether s is a usable configuration.
func (s Security) Validate() error {
	var v invalid
	for _, f := range []struct{ name, value string }{
		{"ReadRequestCSRFSupport", s.ReadRequestCSRFSupport},
		{"WriteRequestCSRFSupport", s.WriteRequestCSRFSupport},
		{"AllowUserEnum", s.AllowUserEnum},
		{"EncryptChallengeAnswers", s.EncryptChallengeAnswers},
		{"UserModifyEmail", s.UserModifyEmail},
		{"SiteAdminModifyEmail", s.SiteAdminModifyEmail},
		{"CaptchaSupport", s.CaptchaSupport},
		{"ExternalDocSupport", s.ExternalDocSupport},
		{"WhiteListKeywordsSupport", s.WhiteListKeywordsSupport},
		{"AllowedFileTypesStrictPolicy", s.AllowedFileTypesStrictPolicy},
	} {
		v.oneOf(f.name, f.value, Enabled, Disabled)
	}
	v.between("ChallengeCount", s.ChallengeCount, 0, maxChallengeNeed)
	if s.AuthTokenCookieDomain != CookieDomainHostname && strings.HasPrefix(strings.ToLower(s.AuthTokenCookieDomain), "com.soa.") {
		v.addf("AuthTokenCookieDomain %q is not a known constant; use %s or a domain name", s.AuthTokenCookieDomain, CookieDomainHostname)
	} else if s.AuthTokenCookieDomain != CookieDomainHostname && !validDomain(s.AuthTokenCookieDomain) {
		v.addf("AuthTokenCookieDomain must be %s or a domain name, got %q", CookieDomainHostname, s.AuthTokenCookieDomain)
	}
	v.oneOf("AuthTokenCookieSameSite", s.AuthTokenCookieSameSite, "Lax", "Strict", "None")
	if s.CaptchaSupport == Enabled && (s.CaptchaSiteKey == "" || s.CaptchaSiteSecret == "") {
		v.addf("CaptchaSiteKey and CaptchaSiteSecret are required when CaptchaSupport is enabled")
	}
	if len(s.CaptchaSiteKey) > 256 || len(s.CaptchaSiteSecret) > 256 {
		v.addf("CaptchaSiteKey and CaptchaSiteSecret must be at most 256 characters")
	}
	for _, f := range []struct{ name, value string }{
		{"XssKeywords", s.XssKeywords}, {"AllowedFileTypes", s.AllowedFileTypes}, {"WhiteListKeywords", s.WhiteListKeywords},
	} {
		if len(f.value) > maxListLength {
			v.addf("%s must be at most %d characters", f.name, maxListLength)
		}
	}
	for _, k := range SplitList(s.XssKeywords) {
		if strings.ContainsFunc(k, unicode.IsSpace) {
			v.addf("XssKeywords entry %q must not contain spaces", k)
		}
	}
	for _, t := range SplitList(s.AllowedFileTypes) {
		if mt, params, err := mime.ParseMediaType(t); err != nil || len(params) > 0 || !strings.Contains(mt, "/") {
			v.addf("AllowedFileTypes entry %q is not a media type", t)
		}
	}
	for _, r := range s.WhiteListKeywords {
		if r > unicode.MaxASCII || !unicode.IsPunct(r) && !unicode.IsSymbol(r) {
			v.addf("WhiteListKeywords may hold only ASCII special characters, got %q", r)
			break
		}
	}
	return v.err()
}

// Feature reports whether a feature flag value is enabled.
func Feature(value string) bool { return value == Enabled }

// SplitList splits a comma-separated setting into trimmed, non-empty entries.
func SplitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ValidateChallenges checks a whole set of questions as PUT replaces it.
func ValidateChallenges(cs []Challenge) error {
	var v invalid
	if len(cs) > maxChallenges {
		v.addf("at most %d challenges are allowed, got %d", maxChallenges, len(cs))
		return v.err()
	}
	codes := map[string]bool{}
	questions := map[string]bool{}
	for i, c := range cs {
		name := fmt.Sprintf("Challenge[%d]", i)
		switch {
		case strings.TrimSpace(c.ChallengeCode) == "":
			v.addf("%s: ChallengeCode is required", name)
		case strings.ContainsFunc(c.ChallengeCode, unicode.IsControl):
			v.addf("%s: ChallengeCode must not contain control characters", name)
		case utf8.RuneCountInString(c.ChallengeCode) > maxCodeLength:
			v.addf("%s: ChallengeCode must be at most %d characters", name, maxCodeLength)
		case codes[c.ChallengeCode]:
			v.addf("%s: duplicate ChallengeCode %q", name, c.ChallengeCode)
		}
		codes[c.ChallengeCode] = true
		q := strings.ToLower(strings.Join(strings.Fields(c.ChallengeQuestion), " "))
		switch {
		case q == "":
			v.addf("%s: ChallengeQuestion is required", name)
		case strings.ContainsFunc(c.ChallengeQuestion, unicode.IsControl):
			v.addf("%s: ChallengeQuestion must not contain control characters", name)
		case utf8.RuneCountInString(c.ChallengeQuestion) > maxQuestionLen:
			v.addf("%s: ChallengeQuestion must be at most %d characters", name, maxQuestionLen)
		case questions[q]:
			v.addf("%s: ChallengeQuestion %q must be uniquely worded", name, c.ChallengeQuestion)
		}
		questions[q] = true
		c.validateConstraints(name, &v)
	}
	return v.err()
}

func (c Challenge) validateConstraints(name string, v *invalid) {
	get := func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	}
	for _, f := range []struct {
		field string
		value *int
	}{
		{"MinimumLength", c.MinimumLength}, {"MaximumLength", c.MaximumLength},
		{"MinimumAlphaCount", c.MinimumAlphaCount}, {"MaximumAlphaCount", c.MaximumAlphaCount},
		{"MinimumNumberCount", c.MinimumNumberCount}, {"MaximumNumberCount", c.MaximumNumberCount},
		{"MinimumUpperCaseLetterCount", c.MinimumUpperCaseLetterCount},
		{"MinimumSpecialCharacterCount", c.MinimumSpecialCharacterCount},
	} {
		if f.value != nil {
			v.between(name+": "+f.field, *f.value, 0, maxAnswerLength)
		}
	}
	pairs := []struct {
		lo, hi     string
		min, limit *int
	}{
		{"MinimumLength", "MaximumLength", c.MinimumLength, c.MaximumLength},
		{"MinimumAlphaCount", "MaximumAlphaCount", c.MinimumAlphaCount, c.MaximumAlphaCount},
		{"MinimumNumberCount", "MaximumNumberCount", c.MinimumNumberCount, c.MaximumNumberCount},
		{"MinimumUpperCaseLetterCount", "MaximumAlphaCount", c.MinimumUpperCaseLetterCount, c.MaximumAlphaCount},
	}
	for _, p := range pairs {
		if p.min != nil && p.limit != nil && *p.min > *p.limit {
			v.addf("%s: %s (%d) is greater than %s (%d)", name, p.lo, *p.min, p.hi, *p.limit)
		}
	}
	if c.MaximumLength != nil {
		need := max(get(c.MinimumAlphaCount), get(c.MinimumUpperCaseLetterCount)) +
			get(c.MinimumNumberCount) + get(c.MinimumSpecialCharacterCount)
		if need > *c.MaximumLength {
			v.addf("%s: the minimum counts need %d characters but MaximumLength is %d", name, need, *c.MaximumLength)
		}
	}
	if c.AllowedSpecialCharacters != nil && len(c.AllowedSpecialCharacters) == 0 && get(c.MinimumSpecialCharacterCount) > 0 {
		v.addf("%s: MinimumSpecialCharacterCount needs at least one AllowedSpecialCharacter", name)
	}
	for _, s := range c.AllowedSpecialCharacters {
		r, size := utf8.DecodeRuneInString(s)
		if size == 0 || size != len(s) || !isSpecial(r) {
			v.addf("%s: AllowedSpecialCharacter %q must be a single special character", name, s)
		}
	}
}

// isSpecial reports whether r counts as a special character in an answer.
func isSpecial(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsSpace(r) && unicode.IsPrint(r)
}

func validCookieName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) {
			return false
		}
	}
	return true
}

func validDomain(s string) bool {
	s = strings.TrimPrefix(s, ".")
	if s == "" || len(s) > 253 || net.ParseIP(s) != nil {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// CheckChallengeCount keeps users able to answer count questions: at least
// that many of the set must be active. It spans two objects (the security
// settings' ChallengeCount and the challenges), so the store applies it in
// the write transaction of either.
func CheckChallengeCount(count int, cs []Challenge) error {
	active := 0
	for _, c := range cs {
		if c.Active {
			active++
		}
	}
	if active < count {
		return fault.New(fault.Invalid, "ChallengeCount is %d but only %d challenges are active", count, active)
	}
	return nil
}

// Question returns the challenge with that code, or the zero Challenge.
func Question(cs []Challenge, code string) Challenge {
	for _, c := range cs {
		if c.ChallengeCode == code {
			return c
		}
	}
	return Challenge{}
}

// TwoFAKind is the TwoFASettings object.
var TwoFAKind = register(Kind[TwoFA]{Object: &Object{Order: 2, Name: "twofasettings", Alias: "twofa", Title: "Two-factor authentication",
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
	Default: DefaultTwoFA, Validate: TwoFA.Validate, Check: checkTwoFA})

func checkTwoFA(t, before TwoFA, o Origin) error {
	if t.DeviceCookieName != before.DeviceCookieName {
		if err := CheckDeviceCookieName(t.DeviceCookieName); err != nil {
			return err
		}
	}
	if t.DeviceCookieValue != before.DeviceCookieValue {
		return o.Security.CheckText("DeviceCookieValue", t.DeviceCookieValue)
	}
	return nil
}

// LoginPolicyKind is the LoginPolicy object.
var LoginPolicyKind = register(Kind[LoginPolicy]{Object: &Object{Order: 1, Name: "loginpolicy", Alias: "login", Title: "Lockout and sessions",
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
	Default: DefaultLoginPolicy, Validate: LoginPolicy.Validate})

// SecurityKind is the BusinessSecuritySettings object. Its
// ChallengeCount may not exceed the active challenge questions.
var SecurityKind = register(Kind[Security]{Object: &Object{Order: 3, Name: "securitysettings", Alias: "security", Title: "Security",
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
	Default: DefaultSecurity, Validate: Security.Validate, Check: checkCookies,
	Secrets: func(s *Security) []*string { return []*string{&s.CaptchaSiteSecret} },
	Other:   challengesName,
	Rule: func(s Security, read func(any) error) error {
		cs := DefaultChallenges()
		if err := read(&cs); err != nil {
			return err
		}
		return CheckChallengeCount(s.ChallengeCount, cs)
	}})

// ChallengesKind is the business's challenge questions. A list, not a
// form, it is not among Objects: the console gives it a page of its own.
// Its descriptor describes one question, as the console's question
// editor shows it.
var ChallengesKind = Kind[[]Challenge]{Object: &Object{Name: challengesName, Alias: challengesName, Title: "Security questions",
	Intro: "The questions users answer to reset their password, and the rules the answers follow.",
	Groups: []Group{{"Question", []Field{
		{Name: "ChallengeCode", Label: "Code", Kind: "text", Help: "A stable identifier; users' answers are kept under it."},
		{Name: "ChallengeQuestion", Label: "Question", Kind: "textarea", Help: "The question as users read it."},
		{Name: "Active", Label: "Active", Kind: "bool", Help: "Users answer active questions only."},
		{Name: "IsCaseSensitive", Label: "Case-sensitive answers", Kind: "bool", Help: "Whether an answer must match in case."},
		{Name: "CanContainSpaces", Label: "Spaces allowed in answers", Kind: "bool", Help: "Whether an answer may contain spaces."},
		answerCount("MinimumLength", "Minimum length"),
		answerCount("MaximumLength", "Maximum length"),
		answerCount("MinimumAlphaCount", "Minimum letters"),
		answerCount("MaximumAlphaCount", "Maximum letters"),
		answerCount("MinimumNumberCount", "Minimum digits"),
		answerCount("MaximumNumberCount", "Maximum digits"),
		answerCount("MinimumUpperCaseLetterCount", "Minimum capital letters"),
		answerCount("MinimumSpecialCharacterCount", "Minimum special characters"),
		{Name: "AllowedSpecialCharacters", Label: "Special characters", Kind: "specials",
			Help: "Any special character, only those listed, or none."},
	}}}},
	Default: DefaultChallenges, Validate: ValidateChallenges, Check: checkQuestions,
	Other: securityName,
	Rule: func(cs []Challenge, read func(any) error) error {
		s := DefaultSecurity()
		if err := read(&s); err != nil {
			return err
		}
		return CheckChallengeCount(s.ChallengeCount, cs)
	}}

// answerCount describes an optional bound on an answer's characters.
func answerCount(name, label string) Field {
	min, max := bounds(0, maxAnswerLength)
	return Field{Name: name, Label: label, Kind: "count", Min: min, Max: max, Optional: true,
		Help: fmt.Sprintf("0 to %d; empty for no limit.", maxAnswerLength)}
}

// The names the cross-object rules read; a Kind cannot refer to the other
// Kind variable without an initialization cycle.
const (
	securityName   = "securitysettings"
	challengesName = "challenges"
)

func checkQuestions(cs, _ []Challenge, o Origin) error {
	for i, ch := range cs {
		if err := o.Security.CheckText(fmt.Sprintf("Challenge[%d].ChallengeQuestion", i), ch.ChallengeQuestion); err != nil {
			return err
		}
	}
	return nil
}

// checkCookies refuses cookie settings with which no browser could log in:
// SameSite None without Secure cookies, and a cookie domain that is a
// public suffix or not the Site Admin's host or a parent of it (browsers
// drop such cookies).
func checkCookies(s, before Security, o Origin) error {
	if s.AuthTokenCookieSameSite == "None" && before.AuthTokenCookieSameSite != "None" && !o.Secure {
		return fault.New(fault.Invalid, "AuthTokenCookieSameSite None needs Secure cookies, which browsers keep only over HTTPS: "+
			"serve bizsec over TLS, or start it with -secure-cookies behind a TLS proxy")
	}
	d := s.AuthTokenCookieDomain
	if d == before.AuthTokenCookieDomain || d == CookieDomainHostname || strings.HasPrefix(strings.ToLower(d), "com.soa.") {
		return nil // unchanged, the constant, or refused by Validate
	}
	domain := strings.ToLower(strings.TrimPrefix(d, "."))
	if suffix, _ := publicsuffix.PublicSuffix(domain); suffix == domain {
		return fault.New(fault.Invalid, "AuthTokenCookieDomain %q is a public suffix: browsers refuse cookies for it", clipText(d, 80))
	}
	if host := strings.ToLower(o.Host); host != domain && !strings.HasSuffix(host, "."+domain) {
		return fault.New(fault.Invalid, "AuthTokenCookieDomain %q is not %s or a parent domain of it: browsers would drop the cookie",
			clipText(d, 80), clipText(host, 80))
	}
	return nil
}
