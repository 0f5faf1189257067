package factor

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// RecoveryCount is how many recovery codes make a set.
const RecoveryCount = 10

// recoveryChars is a code's length in base32 characters: 60 bits.
const recoveryChars = 12

var recoveryEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewRecoveryCodes returns a set of single-use codes, each 60 random bits
// written as three groups of four lower-case base32 characters.
func NewRecoveryCodes() []string {
	out := make([]string, RecoveryCount)
	for i := range out {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			panic("factor: crypto/rand failed: " + err.Error())
		}
		s := recoveryEncoding.EncodeToString(b)[:recoveryChars]
		out[i] = s[0:4] + "-" + s[4:8] + "-" + s[8:12]
	}
	return out
}

// NormalizeRecovery returns the canonical form of what a user typed for a
// recovery code (any case, with or without dashes and spaces), and false
// when it cannot be one: six-digit codes never are.
func NormalizeRecovery(s string) (string, bool) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '-', ' ':
			return -1
		}
		return r
	}, strings.ToLower(s))
	if len(s) != recoveryChars {
		return "", false
	}
	for _, r := range s {
		if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyz234567", r) {
			return "", false
		}
	}
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12], true
}
