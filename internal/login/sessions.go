package login

import (
	"context"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/store"
)

// touchEvery limits how often a session's last use is written: inactivity
// is measured in minutes, so finer writes would only load the database.
const touchEvery = 10 * time.Second

// session returns the session of a cookie value, of any state.
func (s *Service) session(ctx context.Context, tenant, cookie string) (auth.Session, error) {
	secret, ok := auth.ParseToken(cookie)
	if !ok {
		return auth.Session{}, ErrNoSession
	}
	hash := auth.SumSecret(secret)
	sess, err := s.store.Session(ctx, hash[:])
	switch {
	case fault.CodeOf(err) == fault.NotFound:
		return auth.Session{}, ErrNoSession
	case err != nil:
		return auth.Session{}, err
	case sess.TenantID != tenant:
		return auth.Session{}, ErrNoSession
	}
	return sess, nil
}

// Authenticate returns the live session of an auth cookie value and the
// tenant's policy, which is shared: the caller must not change it. An
// expired session is ended.
func (s *Service) Authenticate(ctx context.Context, tenant, cookie string) (auth.Session, *Policy, error) {
	sess, err := s.session(ctx, tenant, cookie)
	if err != nil {
		return sess, nil, err
	}
	if sess.State != auth.StateActive {
		return auth.Session{}, nil, ErrNoSession
	}
	p, err := s.policy(ctx, tenant)
	if err != nil {
		return auth.Session{}, nil, err
	}
	now := s.now()
	if sess.Expired(now, p.Login) {
		// The copy in memory may miss a use on another instance: decide on
		// the database's.
		if sess, err = s.store.SessionFromDB(ctx, sess.TokenHash); err != nil {
			return auth.Session{}, nil, ErrNoSession
		}
		if sess.Expired(now, p.Login) {
			if err := s.store.DeleteSession(ctx, sess.TokenHash); err != nil {
				return auth.Session{}, nil, err
			}
			return auth.Session{}, nil, ErrExpired
		}
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		s.store.TouchSession(sess.TokenHash, now)
		sess.LastSeenAt = now
	}
	return sess, p, nil
}

// Status describes the session of a cookie value: live, or a login waiting
// for its 2FA code.
func (s *Service) Status(ctx context.Context, tenant, cookie string) (Result, error) {
	sess, p, err := s.Authenticate(ctx, tenant, cookie)
	if err == ErrNoSession {
		if sess, err := s.session(ctx, tenant, cookie); err == nil {
			switch sess.State {
			case auth.StatePassword:
				return s.passwordStatus(ctx, sess)
			case auth.StateEnrol:
				return s.enrolmentStatus(ctx, sess)
			}
		}
		return s.pendingStatus(ctx, tenant, cookie)
	}
	if err != nil {
		return Result{}, err
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if err != nil {
		return Result{}, err
	}
	return Result{User: u, Session: sess, Expires: sess.ExpiresAt(p.Login), Policy: *p}, nil
}

// Renew swaps a live session for a new one with new
// tokens; the old token stops working at once. The new session is fresh
// for InactiveSessionTimeout, but keeps the original login's absolute
// lifetime: renewing never extends a session past ActiveSessionTimeout
// from the login (OWASP ASVS 3.3.2's absolute timeout).
// old and p are what Authenticate returned for the cookie.
func (s *Service) Renew(ctx context.Context, old auth.Session, p Policy) (Result, error) {
	tenant := old.TenantID
	u, err := s.store.UserByID(ctx, old.UserID)
	if err != nil {
		return Result{}, err
	}
	sess, token, csrf := newSession(old.UserID, tenant, old.IssuedAt, s.now(), p.Login)
	if err := s.store.ReplaceSession(ctx, old.TokenHash, sess); err != nil {
		return Result{}, err
	}
	return Result{User: u, Session: sess, Token: token, CSRF: csrf, Expires: sess.ExpiresAt(p.Login), Policy: p}, nil
}

// Logout ends the session of a cookie value, if there is one.
func (s *Service) Logout(ctx context.Context, tenant, cookie string) error {
	secret, ok := auth.ParseToken(cookie)
	if !ok {
		return nil
	}
	return s.store.DeleteSession(ctx, auth.HashSecret(secret))
}

// User returns a user by ID.
func (s *Service) User(ctx context.Context, id string) (store.User, error) {
	return s.store.UserByID(ctx, id)
}

// ForgetDevices forgets a user's remembered 2FA devices: each asks for a
// code at its next login.
func (s *Service) ForgetDevices(ctx context.Context, u store.User) error {
	return s.store.ForgetDevices(ctx, u.ID)
}
