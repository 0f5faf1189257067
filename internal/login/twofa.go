package login

import (
	"context"
	"fmt"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// TaskTwoFA is the platform's pending-task name for the 2FA step.
const TaskTwoFA = "2fa.verification.code"

// needsTwoFA reads what auth.NeedsTwoFA decides on.
func (s *Service) needsTwoFA(ctx context.Context, userID string, t settings.TwoFA, device string, now time.Time) (bool, error) {
	if !t.TwoFAEnabled {
		return false, nil
	}
	var last, added time.Time
	var err error
	switch t.RecurrenceMode {
	case settings.OnceEachInterval:
		last, err = s.store.LastTwoFA(ctx, userID)
	case settings.LoginNewDevice:
		if device != "" {
			added, err = s.store.DeviceAdded(ctx, auth.HashSecret(device), userID)
		}
	}
	return auth.NeedsTwoFA(t, now, last, added), err
}

// startTwoFA answers a good password with a pending session, replacing
// any other of the user's, and mails the code.
func (s *Service) startTwoFA(ctx context.Context, u store.User, p Policy, now time.Time) (Result, error) {
	if err := s.throttleMail(ctx, "2fa", u.TenantID, u.Email, now); err != nil {
		s.metrics.Login("throttled")
		return Result{}, err
	}
	code, c := auth.NewCode(now, s.digest)
	sess, token, _ := newSession(u.ID, u.TenantID, now, now, p.Login)
	sess.State, sess.Code = auth.StatePending, c
	if err := s.store.StartTwoFA(ctx, sess); err != nil {
		return Result{}, err
	}
	err := s.mailer.Send(ctx, mail.Message{
		To:      u.Email,
		Subject: "Your verification code",
		Body: fmt.Sprintf("Your verification code is %s.\n\nIt is valid for %d seconds. If you did not try to log in, change your password.\n",
			code, p.TwoFA.CodeValidSeconds),
	})
	if err != nil {
		s.log.ErrorContext(ctx, "2FA code not sent", "user", u.ID, "err", err)
		if derr := s.store.DeleteSession(ctx, sess.TokenHash); derr != nil {
			s.log.ErrorContext(ctx, "pending session not ended", "user", u.ID, "err", derr)
		}
		return Result{}, errMailDown("the verification code")
	}
	s.metrics.TwoFA("sent")
	s.metrics.Login("twofa_pending")
	return Result{User: u, Session: sess, Token: token, Expires: codeExpiry(sess, p.TwoFA), Pending: true, Policy: p}, nil
}

func codeExpiry(sess auth.Session, t settings.TwoFA) time.Time {
	return sess.Code.IssuedAt.Add(time.Duration(t.CodeValidSeconds) * time.Second)
}

// pending returns the pending session of a cookie value and its user.
func (s *Service) pending(ctx context.Context, tenant, cookie string) (auth.Session, store.User, Policy, error) {
	sess, err := s.session(ctx, tenant, cookie)
	if err == nil && sess.State != auth.StatePending {
		err = ErrNoSession
	}
	if err != nil {
		return sess, store.User{}, Policy{}, err
	}
	p, err := s.Policy(ctx, tenant)
	if err != nil {
		return sess, store.User{}, p, err
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	return sess, u, p, err
}

func (s *Service) pendingStatus(ctx context.Context, tenant, cookie string) (Result, error) {
	sess, u, p, err := s.pending(ctx, tenant, cookie)
	if err != nil {
		return Result{}, err
	}
	expires := codeExpiry(sess, p.TwoFA)
	if !s.now().Before(expires) {
		return Result{}, ErrNoSession
	}
	return Result{User: u, Session: sess, Expires: expires, Pending: true, Policy: p}, nil
}

// CompleteTwoFA enters the 2FA code for the pending login of a cookie
// value. A wrong code is a failure of the account, counted with its wrong
// passwords toward suspension; the code is void after MaxAttempts wrong
// entries, after CodeValidSeconds, or once the account is suspended. A
// good code swaps the pending session for a live one and clears the
// account's failures, and on twofa.login.new.device remembers the device.
func (s *Service) CompleteTwoFA(ctx context.Context, tenant, cookie, code, clientIP string) (Result, error) {
	now := s.now()
	if err := s.throttleClient(ctx, clientIP, now); err != nil {
		return Result{}, err
	}
	pending, u, p, err := s.pending(ctx, tenant, cookie)
	if err != nil {
		return Result{}, err
	}
	try, err := s.chargeAttempt(ctx, tenant, u.Email, clientIP, now)
	if err != nil {
		return Result{}, err
	}
	defer try.Done(ctx)
	next, token, csrf := newSession(u.ID, tenant, now, now, p.Login)
	var outcome error
	var suspended bool
	result, err := s.store.CompleteTwoFA(ctx, pending.TokenHash, next, !p.Login.ConcurrentLogin,
		store.LockoutChange{Tenant: tenant, Email: u.Email, UserID: u.ID, Now: now},
		func(c *auth.Code, l *auth.Lockout) auth.CodeResult {
			if l.Locked(now) {
				outcome = ErrSuspended
				return auth.CodeVoid
			}
			r := c.Check(code, s.digest, now, p.TwoFA)
			if r == auth.CodeOK {
				l.Succeed()
				return r
			}
			if outcome, suspended = s.fail(l, now, p.Login, true); suspended {
				return auth.CodeVoid
			}
			return r
		})
	if err != nil {
		return Result{}, err
	}
	if result != auth.CodeOK {
		try.Wrong()
		if suspended {
			s.metrics.Suspended()
			s.mailSuspension(ctx, u, now, p.Login)
		}
		switch {
		case outcome == ErrSuspended:
			s.metrics.TwoFA("void")
			s.log.InfoContext(ctx, "2FA refused: account suspended", "user", u.ID)
			return Result{}, ErrSuspended
		case result == auth.CodeWrong:
			s.metrics.TwoFA("wrong")
			s.log.InfoContext(ctx, "2FA code wrong", "user", u.ID)
			return Result{}, ErrWrongCode
		}
		s.metrics.TwoFA("void")
		s.log.InfoContext(ctx, "2FA code void", "user", u.ID)
		return Result{}, ErrVoidCode
	}
	r := Result{User: u, Session: next, Token: token, CSRF: csrf, Expires: next.ExpiresAt(p.Login), Policy: p}
	if p.TwoFA.RecurrenceMode == settings.LoginNewDevice {
		r.Device = auth.NewSecret()
		r.DeviceExpires = now.Add(time.Duration(p.TwoFA.RecurrenceIntervalMinutes) * time.Minute)
		if err := s.store.AddDevice(ctx, auth.HashSecret(r.Device), u.ID, now); err != nil {
			return Result{}, err
		}
	}
	s.metrics.TwoFA("ok")
	s.log.InfoContext(ctx, "login", "tenant", tenant, "user", u.ID, "twofa", true)
	return r, nil
}
