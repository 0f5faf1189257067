package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newBox(t *testing.T, fill byte) *Box {
	t.Helper()
	b, err := New(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSealOpen: what is sealed opens with the same key only; two seals of
// one value differ (a fresh nonce each); a tampered or truncated value is
// refused; plain text is never taken for sealed.
func TestSealOpen(t *testing.T) {
	a, other := newBox(t, 1), newBox(t, 2)
	s1, s2 := a.Seal("the CAPTCHA secret"), a.Seal("the CAPTCHA secret")
	if s1 == s2 || !IsSealed(s1) || strings.Contains(s1, "CAPTCHA") {
		t.Fatalf("seals %q %q: want two different sealed values hiding the plain text", s1, s2)
	}
	if got, err := a.Open(s1); err != nil || got != "the CAPTCHA secret" {
		t.Fatalf("Open: %q %v", got, err)
	}
	i := len(s1) - 5
	flip := byte('A')
	if s1[i] == 'A' {
		flip = 'B'
	}
	tampered := s1[:i] + string(flip) + s1[i+1:]
	for name, v := range map[string]string{"another key": s1, "tampered": tampered, "truncated": s1[:len(s1)/2], "plain": "the CAPTCHA secret"} {
		b := a
		if name == "another key" {
			b = other
		}
		if got, err := b.Open(v); err == nil {
			t.Errorf("%s opened: %q", name, got)
		}
	}
	if bytes.Equal(a.MAC("123456"), other.MAC("123456")) || !bytes.Equal(a.MAC("123456"), a.MAC("123456")) {
		t.Error("MAC must be a function of the key and the code")
	}
	if _, err := New(make([]byte, 16)); err == nil {
		t.Error("a 16-byte key was accepted")
	}
}

// TestKeyFile: a new key file is 0600 and kept across loads; a key of the
// wrong size or encoding is refused.
func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil || len(k1) != 32 {
		t.Fatalf("create: %d bytes, %v", len(k1), err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("a second load gave another key")
	}
	for _, bad := range []string{"not base64!", "AAAA"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}
