package settings

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/bizsec/bizsec/internal/fault"
)

// PasswordPolicy is the platform's password policy object: the rules a new
// password must meet. Its field names follow the platform's names for the
// same rules on challenge answers (the platform's page for this object is
// not in bizsec's corpus, so the names are inferred); KnownBadCheck and
// HistoryCount are bizsec's own.
type PasswordPolicy struct {
	MinimumLength                int
	MaximumLength                int
	MinimumAlphaCount            int
	MinimumNumberCount           int
	MinimumUpperCaseLetterCount  int
	MinimumSpecialCharacterCount int
	// AllowedSpecialCharacters nil allows any special character; non-nil
	// (even empty) allows only those listed.
	AllowedSpecialCharacters []string
	CanContainSpaces         bool
	// KnownBadCheck refuses commonly used and breached passwords and words
	// of the account's own context (NIST SP 800-63B 5.1.1.2).
	KnownBadCheck bool
	// HistoryCount is how many of the user's previous passwords may not be
	// set again (0: none remembered).
	HistoryCount int
}

// MaxPasswordLength is the longest password any policy may allow: what a
// login accepts (its bytes bound the work one login can cause).
const MaxPasswordLength = 1024

// MaxPasswordHistory bounds the previous passwords kept per user.
const MaxPasswordHistory = 24

// DefaultPasswordPolicy follows NIST SP 800-63B and ASVS 4.0.3 V2.1: at
// least 12 characters, up to 128, every printable character and spaces
// allowed, no composition rules, known-bad passwords refused.
func DefaultPasswordPolicy() PasswordPolicy {
	return PasswordPolicy{MinimumLength: 12, MaximumLength: 128, CanContainSpaces: true, KnownBadCheck: true}
}

// Validate reports whether p is a usable policy: one that some password
// can meet.
func (p PasswordPolicy) Validate() error {
	var v invalid
	v.between("MinimumLength", p.MinimumLength, 1, MaxPasswordLength)
	v.between("MaximumLength", p.MaximumLength, 1, MaxPasswordLength)
	for _, f := range []struct {
		name string
		n    int
	}{{"MinimumAlphaCount", p.MinimumAlphaCount}, {"MinimumNumberCount", p.MinimumNumberCount},
		{"MinimumUpperCaseLetterCount", p.MinimumUpperCaseLetterCount}, {"MinimumSpecialCharacterCount", p.MinimumSpecialCharacterCount}} {
		v.between(f.name, f.n, 0, MaxPasswordLength)
	}
	v.between("HistoryCount", p.HistoryCount, 0, MaxPasswordHistory)
	if p.MinimumLength > p.MaximumLength {
		v.addf("MinimumLength (%d) is greater than MaximumLength (%d)", p.MinimumLength, p.MaximumLength)
	}
	if need := max(p.MinimumAlphaCount, p.MinimumUpperCaseLetterCount) + p.MinimumNumberCount + p.MinimumSpecialCharacterCount; need > p.MaximumLength {
		v.addf("the minimum counts need %d characters but MaximumLength is %d", need, p.MaximumLength)
	}
	if p.AllowedSpecialCharacters != nil && len(p.AllowedSpecialCharacters) == 0 && p.MinimumSpecialCharacterCount > 0 {
		v.addf("MinimumSpecialCharacterCount needs at least one AllowedSpecialCharacter")
	}
	for _, s := range p.AllowedSpecialCharacters {
		r, size := utf8.DecodeRuneInString(s)
		if size == 0 || size != len(s) || !isSpecial(r) {
			v.addf("AllowedSpecialCharacter %q must be a single special character", s)
		}
	}
	return v.err()
}

// Composition reports whether p imposes composition rules (character
// classes), which NIST SP 800-63B 5.1.1.2 says verifiers SHALL NOT.
func (p PasswordPolicy) Composition() bool {
	return p.MinimumAlphaCount > 0 || p.MinimumNumberCount > 0 || p.MinimumUpperCaseLetterCount > 0 ||
		p.MinimumSpecialCharacterCount > 0 || p.AllowedSpecialCharacters != nil || !p.CanContainSpaces
}

// CheckPassword is the one place a new password is judged: against the
// policy's rules and, with KnownBadCheck, against the list of common and
// breached passwords and the words of the account's context (the tenant,
// the business, the user's email). Every broken rule is named in plain
// words, in one error.
func (p PasswordPolicy) CheckPassword(password string, context ...string) error {
	var broken []string
	if !utf8.ValidString(password) {
		return fault.New(fault.Invalid, "The password must be valid UTF-8 text.")
	}
	var disallowed []string
	c := compose(password, func(r rune, control bool) {
		switch {
		case control:
			broken = append(broken, "it must not contain control characters")
		case p.AllowedSpecialCharacters != nil && !contains(p.AllowedSpecialCharacters, string(r)) && !contains(disallowed, string(r)):
			disallowed = append(disallowed, string(r))
		}
	})
	n, letters, upper, digits, spaces := c.runes, c.letters, c.upper, c.digits, c.spaces
	specials := c.others - c.controls
	if n < p.MinimumLength {
		broken = append(broken, fmt.Sprintf("it must be at least %d characters long (it has %d)", p.MinimumLength, n))
	}
	if n > p.MaximumLength || len(password) > MaxPasswordLength {
		broken = append(broken, fmt.Sprintf("it must be at most %d characters long", p.MaximumLength))
	}
	for _, rule := range []struct {
		have, want int
		what       string
	}{{letters, p.MinimumAlphaCount, "letter"}, {upper, p.MinimumUpperCaseLetterCount, "upper-case letter"},
		{digits, p.MinimumNumberCount, "digit"}, {specials, p.MinimumSpecialCharacterCount, "special character"}} {
		if rule.have < rule.want {
			broken = append(broken, fmt.Sprintf("it must contain at least %d %s%s", rule.want, rule.what, plural(rule.want)))
		}
	}
	if spaces > 0 && !p.CanContainSpaces {
		broken = append(broken, "it must not contain spaces")
	}
	if len(disallowed) > 0 {
		allowed := "none"
		if len(p.AllowedSpecialCharacters) > 0 {
			allowed = strings.Join(p.AllowedSpecialCharacters, " ")
		}
		broken = append(broken, fmt.Sprintf("it may not contain %s (special characters allowed: %s)", strings.Join(disallowed, " "), allowed))
	}
	if p.KnownBadCheck {
		if word, ok := knownBad(password, context); ok {
			if word == "" {
				broken = append(broken, "it is a commonly used or breached password")
			} else {
				broken = append(broken, fmt.Sprintf("it is too close to %q, a word of this account", word))
			}
		}
	}
	if len(broken) == 0 {
		return nil
	}
	return fault.New(fault.Invalid, "The password is not allowed: %s.", strings.Join(unique(broken), "; "))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func unique(list []string) []string {
	var out []string
	for _, s := range list {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// commonPasswords is zxcvbn-ts's list of 49,233 commonly used passwords
// (from breach corpora, by frequency), @zxcvbn-ts/language-common 3.0.4,
// MIT licence (common-passwords.LICENSE), one per line, gzip-compressed.
//
//go:embed common-passwords.txt.gz
var commonPasswordsGz []byte

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		panic("settings: the embedded password list is corrupt: " + err.Error())
	}
	set := make(map[string]struct{}, 50_000)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if w := sc.Text(); w != "" {
			set[w] = struct{}{}
		}
	}
	if sc.Err() != nil || len(set) < 40_000 {
		panic("settings: the embedded password list is corrupt")
	}
	return set
})

// KnownBadPasswords is the size of the embedded list.
func KnownBadPasswords() int { return len(commonPasswords()) }

// knownBad reports whether password is on the common list or is a context
// word, compared without case and with digits, symbols and spaces trimmed
// from both ends ("Password1!" is "password"); it returns the context word
// matched, or "" for the list.
func knownBad(password string, context []string) (string, bool) {
	lower := strings.ToLower(password)
	core := strings.TrimFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) })
	list := commonPasswords()
	for _, s := range []string{lower, core} {
		if _, ok := list[s]; ok && s != "" {
			return "", true
		}
	}
	for _, w := range context {
		w = strings.ToLower(strings.TrimSpace(w))
		if len(w) < 3 {
			continue
		}
		wcore := strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) })
		if lower == w || core == w || core != "" && core == wcore {
			return w, true
		}
	}
	return "", false
}

// PasswordContext is the words of an account that its password must not
// be: the tenant, its business, the email and the email's local part, the
// product and the platform.
func PasswordContext(tenant, business, email string) []string {
	words := []string{tenant, business, email, "bizsec", "akana"}
	if local, _, ok := strings.Cut(email, "@"); ok {
		words = append(words, local)
	}
	return words
}

// PasswordPolicyKind is the password policy object.
var PasswordPolicyKind = register(Kind[PasswordPolicy]{Object: &Object{Order: 4, Name: "passwordpolicy", Alias: "password", Title: "Passwords",
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
	Default: DefaultPasswordPolicy, Validate: PasswordPolicy.Validate})
