// Package auth holds the platform's authentication rules without I/O:
// password hashing, session and CSRF tokens, account suspension and session
// expiry. Storage and HTTP live elsewhere and call in here for decisions.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/bizsec/bizsec/internal/argon2id"
)

// Params are argon2id cost parameters. They are stored inside each hash, so
// changing them affects only new hashes.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultParams follow OWASP's argon2id recommendation (19 MiB, t=2, p=1).
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// Hasher hashes and verifies passwords. It bounds how many hashes run at
// once, because each holds Memory KiB: a burst of logins must not exhaust
// RAM. Verifications (logins) go first: new hashes (answers and passwords
// being set) wait while a verification waits, and never hold every slot,
// so that setting answers in a loop cannot slow anyone's login.
type Hasher struct {
	params Params
	dummy  string

	mu      sync.Mutex
	free    int            // slots not running a hash
	lowBusy int            // slots running a new hash
	lowMax  int            // at most this many: one is kept for logins
	waiting [2][]chan bool // by priority (verify, hash): FIFO of waiters, sent true when granted
}

const (
	verifying = 0 // logins
	hashing   = 1 // new hashes
)

// NewHasher returns a Hasher that runs at most concurrency hashes at a time.
func NewHasher(p Params, concurrency int) *Hasher {
	n := max(concurrency, 1)
	h := &Hasher{params: p, free: n, lowMax: max(n-1, 1)}
	h.dummy = h.hash("bizsec-dummy-password", make([]byte, 16))
	return h
}

// Hash returns the PHC-format argon2id hash of password with a random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx, hashing); err != nil {
		return "", err
	}
	defer h.release(hashing)
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return h.hash(password, salt), nil
}

func (h *Hasher) hash(password string, salt []byte) string {
	key := argon2id.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2id.Version,
		h.params.Memory, h.params.Time, h.params.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Verify reports whether password matches encoded. An empty encoded hash is
// checked against a dummy hash, so an unknown user costs what a known one does.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	if encoded == "" {
		encoded = h.dummy
		password += "\x00" // never matches the dummy
	}
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx, verifying); err != nil {
		return false, err
	}
	defer h.release(verifying)
	got := argon2id.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// may reports whether a hash of priority p may take a free slot now.
func (h *Hasher) may(p int) bool {
	if h.free == 0 {
		return false
	}
	return p == verifying || len(h.waiting[verifying]) == 0 && h.lowBusy < h.lowMax
}

func (h *Hasher) take(p int) {
	h.free--
	if p == hashing {
		h.lowBusy++
	}
}

func (h *Hasher) acquire(ctx context.Context, p int) error {
	h.mu.Lock()
	if h.may(p) && len(h.waiting[p]) == 0 {
		h.take(p)
		h.mu.Unlock()
		return nil
	}
	ch := make(chan bool, 1)
	h.waiting[p] = append(h.waiting[p], ch)
	h.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		h.mu.Lock()
		defer h.mu.Unlock()
		for i, w := range h.waiting[p] {
			if w == ch {
				h.waiting[p] = append(h.waiting[p][:i], h.waiting[p][i+1:]...)
				return ctx.Err()
			}
		}
		// Granted as the context ended: hand the slot on.
		h.mu.Unlock()
		h.release(p)
		h.mu.Lock()
		return ctx.Err()
	}
}

// release frees a slot of priority p and grants waiting hashes, logins first.
func (h *Hasher) release(p int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.free++
	if p == hashing {
		h.lowBusy--
	}
	for _, q := range []int{verifying, hashing} {
		for len(h.waiting[q]) > 0 && h.may(q) {
			ch := h.waiting[q][0]
			h.waiting[q] = h.waiting[q][1:]
			h.take(q)
			ch <- true
		}
	}
}

var errBadHash = errors.New("auth: malformed password hash")

// NeedsRehash reports whether encoded was made with other parameters than
// h's: a login that has the password should hash it again.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, _, _, err := decode(encoded)
	return err == nil && p != h.params
}

func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return Params{}, nil, nil, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2id.Version {
		return Params{}, nil, nil, errBadHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) < 16 || p.Time == 0 || p.Threads == 0 {
		return Params{}, nil, nil, errBadHash
	}
	return p, salt, key, nil
}
