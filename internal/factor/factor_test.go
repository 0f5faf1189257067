package factor

import (
	"strings"
	"testing"
	"time"
)

// TestTOTPVectors checks the codes against RFC 6238's SHA-1 test vectors
// (the secret "12345678901234567890", the last six digits).
func TestTOTPVectors(t *testing.T) {
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // base32 of 12345678901234567890
	for _, c := range []struct {
		unix int64
		want string
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}} {
		got, err := TOTPCode(secret, Step(time.Unix(c.unix, 0)))
		if err != nil || got != c.want {
			t.Errorf("T=%d: %q %v, want %q", c.unix, got, err, c.want)
		}
	}
}

func TestCheckTOTP(t *testing.T) {
	secret, uri, err := NewTOTP("acme", "a@acme.example")
	if err != nil || len(secret) != 32 || !strings.HasPrefix(uri, "otpauth://totp/") {
		t.Fatalf("NewTOTP: %q %q %v", secret, uri, err)
	}
	now := time.Unix(1_800_000_000, 0)
	step := Step(now)
	code := func(d int64) string { c, _ := TOTPCode(secret, step+d); return c }
	for _, c := range []struct {
		name string
		code string
		last int64
		ok   bool
		step int64
	}{
		{"current", code(0), 0, true, step},
		{"one behind", code(-1), 0, true, step - 1},
		{"one ahead", code(1), 0, true, step + 1},
		{"two behind", code(-2), 0, false, 0},
		{"two ahead", code(2), 0, false, 0},
		{"the step already used", code(0), step, false, 0},
		{"a step before the one used", code(-1), step, false, 0},
		{"a step after the one used", code(1), step, true, step + 1},
		{"too short", code(0)[:5], 0, false, 0},
	} {
		got, ok := CheckTOTP(secret, c.code, now, c.last)
		if ok != c.ok || got != c.step {
			t.Errorf("%s: step %d, %v; want %d, %v", c.name, got, ok, c.step, c.ok)
		}
	}
	if got := TOTPURI("acme", "a@acme.example", secret); !strings.Contains(got, "secret="+secret) || !strings.Contains(got, "issuer=acme") {
		t.Errorf("TOTPURI: %q", got)
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes := NewRecoveryCodes()
	seen := map[string]bool{}
	for _, c := range codes {
		norm, ok := NormalizeRecovery(c)
		if !ok || norm != c || seen[c] {
			t.Fatalf("code %q: normalized %q %v, or repeated", c, norm, ok)
		}
		seen[c] = true
	}
	if len(codes) != RecoveryCount || recoveryChars*5 < 50 {
		t.Fatalf("%d codes of %d bits", len(codes), recoveryChars*5)
	}
	for in, want := range map[string]string{"ABCD-EFGH-2345": "abcd-efgh-2345", "abcd efgh 2345": "abcd-efgh-2345", "abcdefgh2345": "abcd-efgh-2345",
		"123456": "", "abcd-efgh-234": "", "abcd-efgh-2341": ""} {
		got, ok := NormalizeRecovery(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeRecovery(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
