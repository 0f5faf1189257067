package login

import (
	"context"
	"slices"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
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
// any other of the user's, readied for each of the user's usable factors
// (the emailed code is mailed).
func (s *Service) startTwoFA(ctx context.Context, u store.User, p Policy, now time.Time) (Result, error) {
	sess, token, _ := newSession(u.ID, u.TenantID, now, now, p.Login)
	sess.State = auth.StatePending
	pl := &PendingLogin{User: u, Policy: p, Session: &sess, Now: now}
	if err := s.beginFactors(ctx, pl); err != nil {
		return Result{}, err
	}
	if r, ok, err := s.noFactorLeft(ctx, pl); ok {
		return r, err
	}
	if err := s.store.StartTwoFA(ctx, sess); err != nil {
		return Result{}, err
	}
	for _, f := range factors {
		if !slices.Contains(pl.Challenge.Factors, f.Kind()) {
			continue
		}
		if err := f.Started(ctx, s, pl); err != nil {
			if derr := s.store.DeleteSession(ctx, sess.TokenHash); derr != nil {
				s.log.ErrorContext(ctx, "pending session not ended", "user", u.ID, "err", derr)
			}
			return Result{}, err
		}
	}
	s.metrics.Login("twofa_pending")
	return Result{User: u, Session: sess, Token: token, Expires: codeExpiry(sess, p.TwoFA), Pending: true, Policy: p,
		Factors: pl.Challenge}, nil
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
	usable, _, left, err := s.usableFactors(ctx, u)
	if err != nil {
		return Result{}, err
	}
	// WebAuthn's request options are in the login's answer only: the
	// pending login keeps a digest of their challenge.
	return Result{User: u, Session: sess, Expires: expires, Pending: true, Policy: p, Factors: challengeOf(usable, left)}, nil
}

// CompleteTwoFA enters the 2FA code for the pending login of a cookie
// value: the platform's task, answered with the emailed code, an
// authenticator app's code or a recovery code.
func (s *Service) CompleteTwoFA(ctx context.Context, tenant, cookie, code, clientIP string) (Result, error) {
	return s.CompleteTask(ctx, tenant, cookie, TaskTwoFA, code, clientIP)
}

// CompleteTask answers a pending task of the pending login of a cookie
// value. A wrong answer, whichever the factor, is a failure of the
// account, counted with its wrong passwords toward suspension; the
// pending login is void after MaxAttempts wrong answers, after
// CodeValidSeconds, or once the account is suspended. A good answer swaps
// the pending session for a live one and clears the account's failures,
// and on twofa.login.new.device remembers the device.
func (s *Service) CompleteTask(ctx context.Context, tenant, cookie, task, answer, clientIP string) (Result, error) {
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
	fp, enrol, err := s.factorsOf(ctx, u, now)
	if err != nil {
		return Result{}, err
	}
	if enrol.blocking {
		next.State = StateEnrol
	}
	var outcome error
	var suspended bool
	var use factorUse
	result, err := s.completeFactor(ctx, pending.TokenHash, next, !p.Login.ConcurrentLogin,
		lockoutChange{Tenant: tenant, Email: u.Email, UserID: u.ID, Now: now},
		func(tx *store.FactorTx, c *auth.Code, l *auth.Lockout) (auth.CodeResult, error) {
			outcome, suspended, use = nil, false, factorUse{} // a transaction run again starts afresh
			if l.Locked(now) {
				outcome = ErrSuspended
				return auth.CodeVoid, nil
			}
			if now.Sub(c.IssuedAt) >= time.Duration(p.TwoFA.CodeValidSeconds)*time.Second || c.Attempts >= p.TwoFA.MaxAttempts {
				return auth.CodeVoid, nil
			}
			active, err := tx.Factors()
			if err != nil {
				return auth.CodeVoid, err
			}
			ok, err := s.verifyFactors(task, &Verification{Policy: fp, Tx: tx, User: u, Code: c, Answer: answer, Now: now, Active: active, use: &use})
			if err != nil {
				return auth.CodeVoid, err
			}
			if ok {
				l.Succeed()
				return auth.CodeOK, nil
			}
			r := auth.CodeWrong
			if c.Attempts++; c.Attempts >= p.TwoFA.MaxAttempts {
				r = auth.CodeVoid
			}
			if outcome, suspended = s.fail(l, now, p.Login, true); suspended {
				return auth.CodeVoid, nil
			}
			return r, nil
		})
	if err != nil {
		return Result{}, err
	}
	if use.kind != "" {
		s.factorEvent(use.kind, "use", use.outcome)
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
	enrol.annotate(&r, now)
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

// completeFactor enters an answer for the pending session oldHash in one
// transaction with the account's failure record, so that concurrent
// guesses each use up a try and each count against the account. check
// decides, with the transaction's factor primitives (a TOTP step, a
// recovery code or a sign counter is spent in the transaction that counts
// the try and replaces the session, so a code used once cannot be used
// again by a concurrent request), and may change the record. On CodeOK the
// pending session is replaced by next (ending the user's other sessions
// when exclusive) and the user's last second factor dated; on CodeWrong the
// try is recorded; on CodeVoid the pending session ends. A session that is
// gone or not pending is CodeVoid.
func (s *Service) completeFactor(ctx context.Context, oldHash []byte, next auth.Session, exclusive bool, account lockoutChange,
	check func(*store.FactorTx, *auth.Code, *auth.Lockout) (auth.CodeResult, error)) (auth.CodeResult, error) {
	var result auth.CodeResult
	err := s.store.Transact(ctx, func(tx *store.Tx) error {
		result = auth.CodeVoid
		old, err := tx.LockSession(oldHash)
		if fault.CodeOf(err) == fault.NotFound || err == nil && (old.State != auth.StatePending || old.UserID != next.UserID) {
			return nil // gone or not pending: void
		}
		if err != nil {
			return err
		}
		factors := tx.FactorsOf(next.UserID, account.Now)
		if err := updateLockout(tx, account, func(l *auth.Lockout) error {
			var err error
			result, err = check(factors, &old.Code, l)
			return err
		}); err != nil {
			return err
		}
		if result == auth.CodeWrong {
			return tx.SetCodeAttempts(oldHash, old.Code.Attempts)
		}
		if err := tx.EndSession(oldHash); err != nil || result == auth.CodeVoid {
			return err
		}
		if err := tx.SetLastTwoFA(next.UserID, next.IssuedAt); err != nil {
			return err
		}
		return tx.StartSession(next, exclusive)
	})
	return result, err
}
