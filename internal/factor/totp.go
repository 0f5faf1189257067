package factor

import (
	"crypto/subtle"
	"net/url"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// The TOTP parameters every common authenticator app understands: RFC
// 6238's SHA-1, six digits, 30-second steps.
const (
	TOTPPeriod = 30
	TOTPDigits = 6
)

var totpOpts = totp.ValidateOpts{Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// NewTOTP makes a random 160-bit secret (base32) and its otpauth:// URI,
// which apps read from a QR code.
func NewTOTP(issuer, account string) (secret, uri string, err error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: TOTPPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, SecretSize: 20})
	if err != nil {
		return "", "", err
	}
	return k.Secret(), k.URL(), nil
}

// Step is the TOTP time step of t.
func Step(t time.Time) int64 { return t.Unix() / TOTPPeriod }

// TOTPCode is the code of secret for time step step.
func TOTPCode(secret string, step int64) (string, error) {
	return totp.GenerateCodeCustom(secret, time.Unix(step*TOTPPeriod, 0), totpOpts)
}

// CheckTOTP checks code against secret at now, allowing one step of clock
// drift either way. A step at or before last (the last one accepted) is
// refused: each code works once. It returns the step that matched.
func CheckTOTP(secret, code string, now time.Time, last int64) (int64, bool) {
	if len(code) != TOTPDigits {
		return 0, false
	}
	cur := Step(now)
	match, found := int64(0), false
	for step := cur - 1; step <= cur+1; step++ {
		want, err := TOTPCode(secret, step)
		// Every step is compared, in constant time, so that the answer's
		// timing tells nothing of which step matched.
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > last && !found {
			match, found = step, true
		}
	}
	return match, found
}

// TOTPURI is the otpauth:// URI of a secret made by NewTOTP.
func TOTPURI(issuer, account, secret string) string {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", "6")
	v.Set("period", "30")
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + account, RawQuery: v.Encode()}
	return u.String()
}
