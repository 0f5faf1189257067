package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/bizsec/bizsec/internal/settings"
)

// Lockout is an account's record of recent failed logins.
type Lockout struct {
	Failures    int       // failures in the current window
	WindowStart time.Time // time of the window's first failure
	LockedUntil time.Time // zero when not suspended
}

// Locked reports whether the account is suspended at now.
func (l Lockout) Locked(now time.Time) bool { return now.Before(l.LockedUntil) }

// Fail records a failed login under policy p and reports whether this
// failure suspended the account. Failures older than AttemptsPeriod minutes
// start a new window; the MaxSequentialFailureAttemptsAllowed-th failure in
// a window suspends the account for SuspensionMinutes.
func (l *Lockout) Fail(now time.Time, p settings.LoginPolicy) bool {
	if p.MaxSequentialFailureAttemptsAllowed == 0 || l.Locked(now) {
		return false
	}
	if l.Failures == 0 || now.Sub(l.WindowStart) >= minutes(p.AttemptsPeriod) {
		l.Failures, l.WindowStart = 0, now
	}
	l.Failures++
	if l.Failures < p.MaxSequentialFailureAttemptsAllowed {
		return false
	}
	*l = Lockout{LockedUntil: now.Add(minutes(p.SuspensionMinutes))}
	return true
}

// Succeed clears the failure count after a good login.
func (l *Lockout) Succeed() { *l = Lockout{} }

// Session states.
const (
	StateActive  = "active"
	StatePending = "pending" // password checked, 2FA code outstanding
	// StatePassword: the password was right but temporary; the session can
	// do nothing but change it.
	StatePassword = "password"
	// StateEnrol: the factor policy requires an app or key and its grace is
	// over; the session can do nothing but enrol one.
	StateEnrol = "enrol"
)

// Session is a login session. Only hashes of its secrets are kept.
type Session struct {
	TokenHash  []byte
	CSRFHash   []byte
	UserID     string
	TenantID   string
	State      string
	IssuedAt   time.Time
	LastSeenAt time.Time
	Code       Code // set while State is StatePending
	// What the owner sees of the session: where and how it logged in.
	ClientAddr string
	UserAgent  string
	Method     string // MethodPassword, MethodTwoFA, MethodDevice
}

// How a session was authenticated.
const (
	MethodPassword = "password"
	MethodTwoFA    = "password+2fa"
	MethodDevice   = "password+remembered device"
)

// ExpiresAt is when the session ends under policy p: ActiveSessionTimeout
// after it was issued or InactiveSessionTimeout after it was last used,
// whichever is first. Policy is read at each request, so a change applies at once.
func (s Session) ExpiresAt(p settings.LoginPolicy) time.Time {
	active := s.IssuedAt.Add(minutes(p.ActiveSessionTimeout))
	inactive := s.LastSeenAt.Add(minutes(p.InactiveSessionTimeout))
	if inactive.Before(active) {
		return inactive
	}
	return active
}

// Expired reports whether the session has ended at now.
func (s Session) Expired(now time.Time, p settings.LoginPolicy) bool {
	return !now.Before(s.ExpiresAt(p))
}

func minutes(n int) time.Duration { return time.Duration(n) * time.Minute }

// SessionID names a session to its owner without its token: derived from
// the token's hash, it cannot be used to authenticate.
func SessionID(tokenHash []byte) string {
	sum := sha256.Sum256(append([]byte("bizsec session id\x00"), tokenHash...))
	return hex.EncodeToString(sum[:16])
}
