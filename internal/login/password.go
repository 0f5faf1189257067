package login

import (
	"context"
	"log/slog"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// TaskChangePassword is the platform's pending task of a login whose
// password an administrator set: the password must be changed first.
const TaskChangePassword = "change.password"

// changePasswordFor bounds how long a login may wait on its password change.
const changePasswordFor = 15 * time.Minute

// CheckNewPassword is the one place a new password for u is judged: the
// tenant's password policy (its rules and known-bad passwords, the
// account's own words included) and, with HistoryCount, the user's recent
// passwords. u may be a user still to be created (no ID).
func (s *Service) CheckNewPassword(ctx context.Context, u store.User, password string) error {
	p, _, err := store.Get(ctx, s.store, settings.PasswordPolicyKind, store.RootBusinessID(u.TenantID))
	if err != nil {
		return err
	}
	return s.checkNewPassword(ctx, u, p, password)
}

func (s *Service) checkNewPassword(ctx context.Context, u store.User, p settings.PasswordPolicy, password string) error {
	root := store.RootBusinessID(u.TenantID)
	if err := p.CheckPassword(password, settings.PasswordContext(u.TenantID, root, u.Email)...); err != nil {
		return err
	}
	if u.ID == "" || p.HistoryCount == 0 {
		return nil
	}
	recent, err := s.store.RecentPasswords(ctx, u.ID, p.HistoryCount)
	if err != nil {
		return err
	}
	for _, h := range recent {
		same, err := s.hasher.Verify(ctx, password, h)
		if err != nil {
			return err
		}
		if same {
			return fault.New(fault.Invalid, "The password is not allowed: it is one of your last %d passwords.", p.HistoryCount)
		}
	}
	return nil
}

// HashNewPassword checks a new password for u and returns its hash.
func (s *Service) HashNewPassword(ctx context.Context, u store.User, password string) (string, error) {
	if err := s.CheckNewPassword(ctx, u, password); err != nil {
		return "", err
	}
	return s.hasher.Hash(ctx, password)
}

// SetPassword is an administrator's (or the CLI's) set of u's password,
// under the policy. Every session of u ends and remembered devices are
// forgotten; temporary makes the next login change it first.
func (s *Service) SetPassword(ctx context.Context, u store.User, password string, temporary bool) error {
	p, _, err := store.Get(ctx, s.store, settings.PasswordPolicyKind, store.RootBusinessID(u.TenantID))
	if err != nil {
		return err
	}
	if err := s.checkNewPassword(ctx, u, p, password); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	if err := s.store.ChangePassword(ctx, store.PasswordChange{UserID: u.ID, Hash: hash, Temporary: temporary, History: p.HistoryCount}); err != nil {
		return err
	}
	s.event(ctx, slog.LevelInfo, "password set", "password-set", "success", actor{u.TenantID, u.ID, u.Email, clientOf(ctx)},
		slog.Bool("temporary", temporary))
	return nil
}

// PasswordChange is a user's change of their own password.
type PasswordChange struct {
	Tenant   string
	Cookie   string // the session's auth cookie value: live, or waiting on change.password
	UserID   string // the user named by the request, who must be the session's
	Old, New string
	ClientIP string
}

// ChangePassword changes the caller's own password. The old password is a
// password guess: it is charged to the same budgets and counted toward
// suspension as a login's. A live session stays and the user's others end;
// a login waiting on change.password goes on, to 2FA when due, and its
// Result is the next step (Result.Session zero for a live session's change).
func (s *Service) ChangePassword(ctx context.Context, c PasswordChange) (Result, error) {
	now := s.now()
	ctx = withClientAddr(ctx, c.ClientIP)
	if err := s.throttleClient(ctx, c.ClientIP, now); err != nil {
		return Result{}, err
	}
	sess, err := s.session(ctx, c.Tenant, c.Cookie)
	if err != nil {
		return Result{}, err
	}
	if sess.State != auth.StateActive && sess.State != auth.StatePassword || sess.UserID != c.UserID {
		return Result{}, ErrNoSession
	}
	p, err := s.Policy(ctx, c.Tenant)
	if err != nil {
		return Result{}, err
	}
	if sess.State == auth.StateActive && sess.Expired(now, p.Login) {
		return Result{}, ErrExpired
	}
	if sess.State == auth.StatePassword && now.Sub(sess.IssuedAt) > changePasswordFor {
		return Result{}, ErrExpired
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if err != nil {
		return Result{}, err
	}
	if len(c.New) > MaxPassword || len(c.Old) > MaxPassword {
		return Result{}, fault.New(fault.Invalid, "the password is too long")
	}
	// The session of a login waiting on change.password has just proved
	// the password; a live one proves it again.
	if sess.State == auth.StateActive || c.Old != "" {
		if err := s.checkOldPassword(ctx, u, c, p, now); err != nil {
			return Result{}, err
		}
	}
	if err := s.checkNewPassword(ctx, u, p.Password, c.New); err != nil {
		return Result{}, err
	}
	hash, err := s.hasher.Hash(ctx, c.New)
	if err != nil {
		return Result{}, err
	}
	change := store.PasswordChange{UserID: u.ID, Hash: hash, History: p.Password.HistoryCount}
	if sess.State == auth.StateActive {
		change.Keep = sess.TokenHash
	}
	if err := s.store.ChangePassword(ctx, change); err != nil {
		return Result{}, err
	}
	s.event(ctx, slog.LevelInfo, "password changed", "password-change", "success", actor{u.TenantID, u.ID, u.Email, c.ClientIP})
	if sess.State == auth.StateActive {
		return Result{User: u}, nil
	}
	// The login goes on from where the password stopped it.
	u.PasswordTemporary = false
	needTwoFA, err := s.needsTwoFA(ctx, u.ID, p.TwoFA, "", now)
	if err != nil {
		return Result{}, err
	}
	if needTwoFA {
		return s.startTwoFA(ctx, u, p, now)
	}
	if err := s.lockout(ctx, lockoutChange{Tenant: u.TenantID, Email: u.Email, UserID: u.ID, Now: now},
		func(l *auth.Lockout) error { l.Succeed(); return nil }); err != nil {
		return Result{}, err
	}
	return s.loggedIn(ctx, u, p, now)
}

// checkOldPassword verifies the current password as a login would: charged
// before the hash, counted toward suspension when wrong.
func (s *Service) checkOldPassword(ctx context.Context, u store.User, c PasswordChange, p Policy, now time.Time) error {
	try, err := s.chargeAttempt(ctx, u.TenantID, u.Email, c.ClientIP, now)
	if err != nil {
		return err
	}
	defer try.Done(ctx)
	match, err := s.hasher.Verify(ctx, c.Old, u.PasswordHash)
	if err != nil {
		return err
	}
	if match {
		return nil
	}
	try.Wrong()
	var outcome error
	var suspended bool
	err = s.lockout(ctx, lockoutChange{Tenant: u.TenantID, Email: u.Email, UserID: u.ID, Now: now},
		func(l *auth.Lockout) error {
			if l.Locked(now) {
				outcome = ErrSuspended
				return nil
			}
			outcome, suspended = s.fail(l, now, p.Login, true)
			return nil
		})
	if err != nil {
		return err
	}
	if suspended {
		s.metrics.Suspended()
		s.mailSuspension(ctx, u, now, p.Login)
	}
	if suspended {
		s.event(ctx, slog.LevelWarn, "account suspended", "account-suspend", "success", actor{u.TenantID, u.ID, u.Email, c.ClientIP})
	}
	s.event(ctx, slog.LevelWarn, "password change refused", "password-change", "failure", actor{u.TenantID, u.ID, u.Email, c.ClientIP},
		slog.String("reason", fault.MessageOf(outcome)))
	if outcome == ErrWrongPassword {
		return fault.New(fault.Unauthorized, "The current password (OldPassword) is incorrect.")
	}
	return outcome
}

// startPasswordChange answers a right but temporary password with a
// session that can do nothing but change it.
func (s *Service) startPasswordChange(ctx context.Context, u store.User, p Policy, now time.Time) (Result, error) {
	sess, token, _ := newSession(u.ID, u.TenantID, now, now, p.Login)
	sess.State = auth.StatePassword
	if err := s.store.CreateSession(ctx, sess, false); err != nil {
		return Result{}, err
	}
	s.event(ctx, slog.LevelInfo, "login waits on a password change", "login", "pending", actor{u.TenantID, u.ID, u.Email, clientOf(ctx)},
		slog.String("pending_task", TaskChangePassword))
	return Result{User: u, Session: sess, Token: token, Expires: now.Add(changePasswordFor), Pending: true,
		Task: TaskChangePassword, Policy: p}, nil
}

// rehash replaces a hash made with other parameters than the hasher's,
// now that a login has the password: hashes follow their parameters.
func (s *Service) rehash(ctx context.Context, u store.User, password string) {
	if !s.hasher.NeedsRehash(u.PasswordHash) {
		return
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err == nil {
		err = s.store.Rehash(ctx, u.ID, u.PasswordHash, hash)
	}
	if err != nil {
		s.log.WarnContext(ctx, "password not rehashed", "user.id", u.ID, "err", err)
	}
}

// passwordStatus describes a login waiting on change.password.
func (s *Service) passwordStatus(ctx context.Context, sess auth.Session) (Result, error) {
	if s.now().Sub(sess.IssuedAt) > changePasswordFor {
		return Result{}, ErrExpired
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if err != nil {
		return Result{}, err
	}
	p, err := s.Policy(ctx, sess.TenantID)
	return Result{User: u, Session: sess, Expires: sess.IssuedAt.Add(changePasswordFor), Pending: true, Task: TaskChangePassword, Policy: p}, err
}
