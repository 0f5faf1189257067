package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// NewSecret returns 32 random bytes, base64url-encoded.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand failed: " + err.Error()) // the OS is broken; nothing safe remains
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashSecret is what is stored for a secret: only its SHA-256. Secrets are
// 256 random bits, so a fast hash is enough to make a stolen table useless.
func HashSecret(secret string) []byte {
	sum := SumSecret(secret)
	return sum[:]
}

// SumSecret is HashSecret as an array, which a caller may keep on its
// stack (a request's session lookup allocates nothing for it).
func SumSecret(secret string) [sha256.Size]byte {
	var buf [64]byte // secrets fit: the conversion stays on the stack
	return sha256.Sum256(append(buf[:0], secret...))
}

// FormatToken renders a token in the platform's cookie format, the
// URL-encoded list "TokenID=...,issueTime=...,expirationTime=...,...".
// Only TokenID is a secret; the other fields inform the client.
func FormatToken(secret string, fields ...string) string {
	return url.QueryEscape(strings.Join(append([]string{"TokenID=" + secret}, fields...), ","))
}

// Field renders one name=value pair for FormatToken.
func Field(name, value string) string { return name + "=" + value }

// Millis renders t as the platform's epoch-milliseconds.
func Millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// ParseToken returns the TokenID secret of a value made by FormatToken.
func ParseToken(value string) (string, bool) {
	if secret, ok, sure := parseTokenFast(value); sure {
		return secret, ok
	}
	return parseTokenGeneral(value)
}

// parseTokenGeneral is ParseToken by decoding the whole value first.
func parseTokenGeneral(value string) (string, bool) {
	decoded, err := url.QueryUnescape(value)
	if err != nil {
		return "", false
	}
	for _, f := range strings.Split(decoded, ",") {
		if secret, ok := strings.CutPrefix(f, "TokenID="); ok && secret != "" {
			return secret, true
		}
	}
	return "", false
}

// parseTokenFast is ParseToken without allocating, for the values
// FormatToken makes (the field separators and the '=' escaped, the secret
// base64url); sure is false when value needs the general decoding.
func parseTokenFast(value string) (secret string, ok, sure bool) {
	for rest := value; ; { // QueryUnescape refuses a bad escape anywhere
		i := strings.IndexByte(rest, '%')
		if i < 0 {
			break
		}
		if i+2 >= len(rest) || !isHex(rest[i+1]) || !isHex(rest[i+2]) {
			return "", false, true
		}
		rest = rest[i+3:]
	}
	for rest := value; ; {
		field, next, more := cutField(rest)
		name, val, hasEq := cutEq(field)
		if name == "TokenID" {
			if escaped(val) {
				return "", false, false // an escaped secret: decode it all
			}
			if hasEq && val != "" {
				return val, true, true
			}
		} else if escaped(name) {
			return "", false, false // an escaped name, which may be TokenID's: decode it all
		}
		if !more {
			return "", false, true
		}
		rest = next
	}
}

// cutField splits s at its first field separator, ',' or "%2C".
func cutField(s string) (field, rest string, found bool) {
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == ',':
			return s[:i], s[i+1:], true
		case s[i] == '%' && i+2 < len(s) && s[i+1] == '2' && (s[i+2] == 'C' || s[i+2] == 'c'):
			return s[:i], s[i+3:], true
		}
	}
	return s, "", false
}

// cutEq splits a field at its first '=' or "%3D".
func cutEq(s string) (name, value string, found bool) {
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '=':
			return s[:i], s[i+1:], true
		case s[i] == '%' && i+2 < len(s) && s[i+1] == '3' && (s[i+2] == 'D' || s[i+2] == 'd'):
			return s[:i], s[i+3:], true
		}
	}
	return s, "", false
}

// escaped reports whether s holds a '%' or '+', which decoding changes.
func escaped(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == '+' {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
