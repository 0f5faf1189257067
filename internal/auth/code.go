package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"math/big"
	"time"

	"github.com/bizsec/bizsec/internal/settings"
)

// Code is a 2FA verification code waiting to be entered.
type Code struct {
	Hash     []byte
	IssuedAt time.Time
	Attempts int // wrong entries so far
}

// CodeResult is the outcome of entering a code.
type CodeResult int

// Outcomes of Code.Check.
const (
	CodeOK    CodeResult = iota
	CodeWrong            // wrong, tries remain
	CodeVoid             // expired or out of tries: a new login is needed
)

// Digest is what is stored for a secret: HashSecret, or a keyed MAC.
type Digest func(secret string) []byte

// NewCode returns a random six-digit code and what to store for it.
func NewCode(now time.Time, digest Digest) (string, Code) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	code := fmt.Sprintf("%06d", n.Int64())
	return code, Code{Hash: digest(code), IssuedAt: now}
}

// Check enters code at now under settings t. A code is good for
// CodeValidSeconds and MaxAttempts entries; the last wrong entry voids it.
func (c *Code) Check(code string, digest Digest, now time.Time, t settings.TwoFA) CodeResult {
	if now.Sub(c.IssuedAt) >= time.Duration(t.CodeValidSeconds)*time.Second || c.Attempts >= t.MaxAttempts {
		return CodeVoid
	}
	if subtle.ConstantTimeCompare(digest(code), c.Hash) == 1 {
		return CodeOK
	}
	c.Attempts++
	if c.Attempts >= t.MaxAttempts {
		return CodeVoid
	}
	return CodeWrong
}
