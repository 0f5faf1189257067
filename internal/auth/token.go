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
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
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
