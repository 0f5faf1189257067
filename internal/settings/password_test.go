package settings

import (
	"strings"
	"testing"
)

func TestCheckPassword(t *testing.T) {
	def := DefaultPasswordPolicy()
	strict := PasswordPolicy{MinimumLength: 10, MaximumLength: 20, MinimumAlphaCount: 2, MinimumNumberCount: 2,
		MinimumUpperCaseLetterCount: 1, MinimumSpecialCharacterCount: 1, AllowedSpecialCharacters: []string{"!", "#"}}
	ctx := PasswordContext("acmepaymentscorp", "tenantbusiness.acmepaymentscorp", "jane.doe@acme.example")
	for _, tc := range []struct {
		name     string
		p        PasswordPolicy
		password string
		broken   []string // parts of the message; none: accepted
	}{
		{"a long passphrase", def, "correct horse battery staple", nil},
		{"11 characters", def, "x7#kq9!mzpa", []string{"at least 12 characters long (it has 11)"}},
		{"password1234", def, "password1234", []string{"commonly used"}},
		{"Password1! padded past 12", def, "Password1!!!", []string{"commonly used"}},
		{"the tenant and a year", def, "acmepaymentscorp2026", []string{`"acmepaymentscorp"`}},
		{"the email's local part", def, "Jane.Doe!!!!", []string{`"jane.doe"`}},
		{"the product", def, "BizSec123456", []string{`"bizsec"`}},
		{"129 characters", def, strings.Repeat("xq7", 43), []string{"at most 128"}},
		{"composition met", strict, "Ab12cd!efg", nil},
		{"composition broken", strict, "abcdefghij", []string{"at least 2 digits", "at least 1 upper-case letter", "at least 1 special character"}},
		{"a special character not allowed", strict, "Ab12cd!ef$", []string{"may not contain $"}},
		{"spaces not allowed", PasswordPolicy{MinimumLength: 1, MaximumLength: 64}, "a b c d e f g", []string{"must not contain spaces"}},
		{"the check off", PasswordPolicy{MinimumLength: 8, MaximumLength: 64, CanContainSpaces: true}, "password", nil},
		{"control characters", def, "abcdefghijkl\x01", []string{"control characters"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.CheckPassword(tc.password, ctx...)
			if len(tc.broken) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, want := range tc.broken {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
	if n := KnownBadPasswords(); n < 40_000 {
		t.Errorf("%d known-bad passwords embedded", n)
	}
}

func TestPasswordPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    PasswordPolicy
		ok   bool
	}{
		{"default", DefaultPasswordPolicy(), true},
		{"min over max", PasswordPolicy{MinimumLength: 20, MaximumLength: 10}, false},
		{"zero length", PasswordPolicy{MinimumLength: 0, MaximumLength: 10}, false},
		{"max over what a login takes", PasswordPolicy{MinimumLength: 8, MaximumLength: 2000}, false},
		{"counts that cannot fit", PasswordPolicy{MinimumLength: 4, MaximumLength: 6, MinimumNumberCount: 4, MinimumAlphaCount: 4}, false},
		{"specials required, none allowed", PasswordPolicy{MinimumLength: 4, MaximumLength: 6, MinimumSpecialCharacterCount: 1, AllowedSpecialCharacters: []string{}}, false},
		{"a letter as a special character", PasswordPolicy{MinimumLength: 4, MaximumLength: 6, AllowedSpecialCharacters: []string{"a"}}, false},
		{"history too long", PasswordPolicy{MinimumLength: 8, MaximumLength: 64, HistoryCount: 100}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
