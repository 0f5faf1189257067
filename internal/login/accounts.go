package login

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/mail"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	mailpkg "github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// SessionView is what a user (or a Site Admin) sees of a live session:
// never its token.
type SessionView struct {
	SessionID  string
	Created    time.Time
	LastUsed   time.Time
	ClientAddr string
	UserAgent  string
	Method     string
	Current    bool // the caller's own
}

// Sessions lists u's live sessions for caller (u, or a Site Admin).
func (s *Service) Sessions(ctx context.Context, caller auth.Session, u store.User) ([]SessionView, error) {
	list, err := s.store.UserSessions(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	p, err := s.Policy(ctx, u.TenantID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]SessionView, 0, len(list))
	for _, sess := range list {
		if sess.Expired(now, p.Login) {
			continue
		}
		out = append(out, SessionView{SessionID: auth.SessionID(sess.TokenHash), Created: sess.IssuedAt, LastUsed: sess.LastSeenAt,
			ClientAddr: sess.ClientAddr, UserAgent: sess.UserAgent, Method: sess.Method,
			Current: subtle.ConstantTimeCompare(sess.TokenHash, caller.TokenHash) == 1})
	}
	return out, nil
}

// EndSession ends one of u's sessions by its SessionID, on every instance
// within the change feed's bound; the end is an account event.
func (s *Service) EndSession(ctx context.Context, caller auth.Session, u store.User, sessionID string) error {
	if _, err := s.store.EndSessions(ctx, u.TenantID, u.ID, sessionID, nil, caller.UserID); err != nil {
		return err
	}
	s.event(ctx, slog.LevelInfo, "session ended", "session-end", "success", actor{u.TenantID, u.ID, u.Email, clientOf(ctx)},
		slog.String("by", caller.UserID))
	return nil
}

// EndSessions ends u's sessions: all but the caller's when u is the
// caller ("sign out everywhere else"), all when a Site Admin asks.
func (s *Service) EndSessions(ctx context.Context, caller auth.Session, u store.User) (int, error) {
	var keep []byte
	if caller.UserID == u.ID {
		keep = caller.TokenHash
	}
	n, err := s.store.EndSessions(ctx, u.TenantID, u.ID, "", keep, caller.UserID)
	if err == nil {
		s.event(ctx, slog.LevelInfo, "sessions ended", "session-end", "success", actor{u.TenantID, u.ID, u.Email, clientOf(ctx)},
			slog.String("by", caller.UserID), slog.Int("count", n))
	}
	return n, err
}

// Users lists a tenant's users for Site Admins and Auditors.
func (s *Service) Users(ctx context.Context, tenant string, f store.UserFilter) ([]store.UserDetail, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	return s.store.FindUsers(ctx, tenant, f, s.now())
}

// SetDisabled disables a user (their sessions end at once, on every
// instance within the bound; they cannot log in) or enables them again.
func (s *Service) SetDisabled(ctx context.Context, caller auth.Session, u store.User, disabled bool) error {
	if disabled && caller.UserID == u.ID {
		return fault.New(fault.Invalid, "a Site Admin cannot disable their own account")
	}
	if err := s.store.SetDisabled(ctx, u.ID, disabled, caller.UserID); err != nil {
		return err
	}
	s.event(ctx, slog.LevelInfo, "user disabled", "user-disable", "success", actor{u.TenantID, u.ID, u.Email, clientOf(ctx)},
		slog.Bool("disabled", disabled), slog.String("by", caller.UserID))
	return nil
}

// ErrDisabled answers a login of a disabled user (masked as any failure
// when AllowUserEnum is disabled).
var ErrDisabled = fault.New(fault.Unauthorized, "The account is disabled; ask a Site Admin.")

// emailCodeValid is how long a code mailed to a new address works.
const emailCodeValid = 30 * time.Minute

// ChangeEmail changes u's email as caller asks. A Site Admin's change
// (SiteAdminModifyEmail) applies at once; the user's own (UserModifyEmail)
// needs the current password and is confirmed by a code mailed to the new
// address (ConfirmEmail). The old address is told either way. It reports
// whether the change is waiting for the code.
func (s *Service) ChangeEmail(ctx context.Context, caller auth.Session, u store.User, newEmail, password, clientIP string) (bool, error) {
	p, err := s.Policy(ctx, u.TenantID)
	if err != nil {
		return false, err
	}
	addr, err := mail.ParseAddress(newEmail)
	if err != nil || addr.Address != newEmail || len(newEmail) > maxEmail {
		return false, fault.New(fault.Invalid, "Email must be an email address")
	}
	newEmail = store.NormalizeEmail(newEmail)
	if caller.UserID != u.ID {
		if !settings.Feature(p.Security.SiteAdminModifyEmail) {
			return false, fault.New(fault.Forbidden, "Site Admins may not change users' emails: the security setting SiteAdminModifyEmail is disabled")
		}
		old, err := s.store.SetEmail(ctx, u.ID, newEmail)
		if err != nil {
			return false, err
		}
		s.tellOldAddress(ctx, u, old, newEmail)
		s.event(ctx, slog.LevelInfo, "email changed", "email-change", "success", actor{u.TenantID, u.ID, newEmail, clientOf(ctx)},
			slog.String("by", caller.UserID))
		return false, nil
	}
	if !settings.Feature(p.Security.UserModifyEmail) {
		return false, fault.New(fault.Forbidden, "Users may not change their email: the security setting UserModifyEmail is disabled")
	}
	now := s.now()
	if err := s.checkOldPassword(ctx, u, PasswordChange{Old: password, ClientIP: clientIP}, p, now); err != nil {
		return false, err
	}
	if err := s.throttleMail(ctx, "email", u.TenantID, newEmail, now); err != nil {
		return false, err
	}
	code, c := auth.NewCode(now, s.digest)
	if err := s.store.StartEmailChange(ctx, u.ID, store.EmailChange{NewEmail: newEmail, CodeHash: c.Hash, IssuedAt: now}); err != nil {
		return false, err
	}
	msg := mailpkg.Message{To: newEmail, Subject: "Confirm your new email address",
		Body: "Your verification code is " + code + ".\n\nEnter it to make this the address of your account. " +
			"If you did not ask for this, ignore this message.\n"}
	if err := s.mailer.Send(ctx, msg); err != nil {
		s.log.ErrorContext(ctx, "email confirmation not sent", "user.id", u.ID, "err", err)
		return false, errMailDown("the confirmation code")
	}
	return true, nil
}

// ConfirmEmail completes the user's own email change with the mailed code.
func (s *Service) ConfirmEmail(ctx context.Context, caller auth.Session, u store.User, code, clientIP string) error {
	if caller.UserID != u.ID {
		return fault.New(fault.Forbidden, "only the user may confirm their own email change")
	}
	now := s.now()
	p, err := s.Policy(ctx, u.TenantID)
	if err != nil {
		return err
	}
	try, err := s.chargeAttempt(ctx, u.TenantID, u.Email, clientIP, now)
	if err != nil {
		return err
	}
	defer try.Done(ctx)
	var newEmail string
	old, ok, err := s.store.FinishEmailChange(ctx, u.ID, max(p.TwoFA.MaxAttempts, 1), func(c store.EmailChange) bool {
		newEmail = c.NewEmail
		fresh := now.Sub(c.IssuedAt) < emailCodeValid
		return fresh && subtle.ConstantTimeCompare(s.digest(code), c.CodeHash) == 1
	})
	if err != nil {
		return err
	}
	if !ok {
		try.Wrong()
		return fault.New(fault.Unauthorized, "The confirmation code is incorrect or has expired.")
	}
	s.tellOldAddress(ctx, u, old, newEmail)
	s.event(ctx, slog.LevelInfo, "email changed", "email-change", "success", actor{u.TenantID, u.ID, newEmail, clientIP},
		slog.String("by", u.ID))
	return nil
}

func (s *Service) tellOldAddress(ctx context.Context, u store.User, old, new string) {
	s.sendLater(ctx, u, mailpkg.Message{To: old, Subject: "Your account's email address changed",
		Body: "The email address of your account is now " + new + ".\n\nIf you did not make this change, tell a Site Admin at once.\n"},
		"email change notice")
}
