package login

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// Reset statuses, as the platform names them.
const (
	ResetCodeValid   = "user.password.reset.code.valid"
	ResetValidAnswer = "user.password.reset.valid.answer"
	ResetWrongAnswer = "user.password.reset.invalid.answer"
)

// MinPassword is the shortest password a reset sets.
const MinPassword = 8

// ResetStep is where a password reset stands: its status and the question
// the user is to answer (nil when the user has none).
type ResetStep struct {
	User      store.User
	Status    string
	Challenge *settings.Challenge
}

// ResetRequest asks for a reset code to be mailed.
type ResetRequest struct {
	Tenant, Email, CaptchaResponse, ClientIP string
}

// SendResetCode mails a reset code. With AllowUserEnum disabled it answers
// an unknown email exactly as a known one, and as fast: the code is stored
// and mailed after the answer. The limits are the client's and the
// address's, applied before the email is looked up.
func (s *Service) SendResetCode(ctx context.Context, q ResetRequest) error {
	if q.Email == "" || len(q.Email) > maxEmail {
		return fault.New(fault.Invalid, "emailAddress is required")
	}
	now := s.now()
	ctx = withClientAddr(ctx, q.ClientIP)
	if err := s.throttleClient(ctx, q.ClientIP, now); err != nil {
		return err
	}
	p, err := s.Policy(ctx, q.Tenant)
	if err != nil {
		return err
	}
	if err := s.checkCaptcha(ctx, q.CaptchaResponse, q.ClientIP, p.Security); err != nil {
		return err
	}
	if err := s.throttleMail(ctx, "reset", q.Tenant, q.Email, now); err != nil {
		return err
	}
	if !settings.Feature(p.Security.AllowUserEnum) {
		// Known or not, the request path does the same: one queued row.
		if err := s.store.EnqueueReset(ctx, q.Tenant, q.Email, now); err != nil {
			return err
		}
		s.kickResets()
		return nil
	}
	u, err := s.store.UserByEmail(ctx, q.Tenant, q.Email)
	switch {
	case fault.CodeOf(err) == fault.NotFound:
		return ErrUnknownEmail
	case err != nil:
		return err
	}
	if err := s.mailResetCode(ctx, u, now); err != nil {
		s.log.ErrorContext(ctx, "reset code not sent", "user.id", u.ID, "err", err)
		return errMailDown("the password reset code")
	}
	return nil
}

// kickResets wakes the reset mail worker.
func (s *Service) kickResets() {
	select {
	case s.resets <- struct{}{}:
	default:
	}
}

// resetWorker mails the queued reset codes, one request at a time, until
// the store closes: a fixed goroutine, so neither its work nor its
// existence differs between known and unknown emails in the request path.
func (s *Service) resetWorker() {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := s.sendQueuedReset(ctx)
			cancel()
			if errors.Is(err, store.ErrClosed) {
				return
			}
			if err != nil {
				if !errors.Is(err, errQueueEmpty) {
					s.log.Error("queued reset not handled", "err", err)
				}
				break
			}
		}
		select {
		case <-s.resets:
		case <-tick.C:
		case <-s.stop:
			return
		}
	}
}

var errQueueEmpty = errors.New("login: no queued reset")

func (s *Service) sendQueuedReset(ctx context.Context) error {
	s.resetting.Lock() // Wait, at shutdown, lets a started mail finish
	defer s.resetting.Unlock()
	tenant, email, ok, err := s.store.NextReset(ctx)
	if err != nil || !ok {
		return cmp.Or(err, errQueueEmpty)
	}
	u, err := s.store.UserByEmail(ctx, tenant, email)
	if fault.CodeOf(err) == fault.NotFound {
		return nil // an unknown email: nothing to send
	}
	if err != nil {
		return err
	}
	if err := s.mailResetCode(ctx, u, s.now()); err != nil {
		s.log.ErrorContext(ctx, "reset code not sent", "user.id", u.ID, "err", err)
	}
	return nil
}

// mailResetCode starts a reset for u, replacing any other, and mails its code.
func (s *Service) mailResetCode(ctx context.Context, u store.User, now time.Time) error {
	code := auth.NewSecret()
	if err := s.store.Transact(ctx, func(tx *store.Tx) error { return tx.PutReset(u.ID, s.digest(code), now) }); err != nil {
		return err
	}
	return s.mailer.Send(ctx, mail.Message{To: u.Email, Subject: "Reset your password",
		Body: fmt.Sprintf("Your password reset code is %s\n\nIt is valid for %d minutes. If you did not ask to reset your password, ignore this message.\n",
			code, int(ResetValidFor.Minutes()))})
}

// findReset returns the user whose live reset code this is.
func (s *Service) findReset(ctx context.Context, tenant, email, code string, now time.Time) (store.User, store.Reset, error) {
	u, err := s.store.UserByEmail(ctx, tenant, email)
	if fault.CodeOf(err) == fault.NotFound {
		// The same lookup a known email gets, so the answer comes as fast.
		s.store.ResetFor(ctx, "unknown\x00"+tenant, s.digest(code))
		return u, store.Reset{}, ErrBadResetCode
	}
	if err != nil {
		return u, store.Reset{}, err
	}
	reset, err := s.store.ResetFor(ctx, u.ID, s.digest(code))
	if err == nil && now.Sub(reset.IssuedAt) >= ResetValidFor {
		err = ErrBadResetCode
	}
	return u, reset, err
}

// ask returns the question the reset asks: the one asked before, while the
// user can still answer it, else one of the user's answered, active
// questions at random; nil when there is none.
func (s *Service) ask(ctx context.Context, u store.User, reset store.Reset) (*settings.Challenge, error) {
	answers, questions, err := s.answersOf(ctx, u)
	if err != nil {
		return nil, err
	}
	var open []settings.Challenge
	for _, a := range answers {
		if q := settings.Question(questions, a.ChallengeCode); q.Active {
			if q.ChallengeCode == reset.ChallengeCode {
				return &q, nil
			}
			open = append(open, q)
		}
	}
	if len(open) == 0 {
		return nil, nil
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(open))))
	if err != nil {
		return nil, err
	}
	pick := open[n.Int64()]
	asked, err := s.askReset(ctx, u.ID, reset.CodeHash, pick.ChallengeCode)
	if err != nil {
		return nil, err
	}
	for _, q := range open {
		if q.ChallengeCode == asked {
			return &q, nil
		}
	}
	return &pick, nil
}

// ValidateResetCode checks a reset code and returns the question to answer.
func (s *Service) ValidateResetCode(ctx context.Context, tenant, email, code, clientIP string) (ResetStep, error) {
	now := s.now()
	ctx = withClientAddr(ctx, clientIP)
	if err := s.throttleClient(ctx, clientIP, now); err != nil {
		return ResetStep{}, err
	}
	u, reset, err := s.findReset(ctx, tenant, email, code, now)
	if err != nil {
		return ResetStep{}, err
	}
	q, err := s.ask(ctx, u, reset)
	return ResetStep{User: u, Status: ResetCodeValid, Challenge: q}, err
}

// ResetAttempt sets a new password with a reset code and the answer to the
// question asked.
type ResetAttempt struct {
	Tenant, Email, Code, NewPassword string
	ChallengeCode, Answer            string
	ClientIP                         string
}

// ResetPassword sets a new password. A wrong answer is a failure of the
// account, counted toward suspension, and is met by the same question
// again; after the 2FA MaxAttempts wrong answers the code is void. A
// completed reset ends the user's sessions and remembered devices, and
// lifts a suspension: the code proved the mailbox.
func (s *Service) ResetPassword(ctx context.Context, a ResetAttempt) (ResetStep, error) {
	if len(a.NewPassword) > MaxPassword {
		return ResetStep{}, fault.New(fault.Invalid, "NewPassword must be at most %d bytes", MaxPassword)
	}
	now := s.now()
	ctx = withClientAddr(ctx, a.ClientIP)
	if err := s.throttleClient(ctx, a.ClientIP, now); err != nil {
		return ResetStep{}, err
	}
	try, err := s.chargeAttempt(ctx, a.Tenant, a.Email, a.ClientIP, now)
	if err != nil {
		return ResetStep{}, err
	}
	defer try.Done(ctx)
	u, reset, err := s.findReset(ctx, a.Tenant, a.Email, a.Code, now)
	if err != nil {
		return ResetStep{}, err
	}
	p, err := s.Policy(ctx, a.Tenant)
	if err != nil {
		return ResetStep{}, err
	}
	account := lockoutChange{Tenant: a.Tenant, Email: u.Email, UserID: u.ID, Actor: "password-reset", Now: now}
	if reset.ChallengeCode != "" {
		right := false
		if a.ChallengeCode == reset.ChallengeCode {
			if right, err = s.checkAnswer(ctx, u, reset.ChallengeCode, a.Answer); err != nil {
				return ResetStep{}, err
			}
		}
		if !right {
			try.Wrong()
			return s.wrongAnswer(ctx, u, reset, account, p, now)
		}
	} else if answers, err := s.store.Answers(ctx, u.ID); err != nil || len(answers) > 0 {
		if err == nil {
			err = fault.New(fault.Invalid, "validate the reset code first to be asked a security question")
		}
		return ResetStep{}, err
	}
	if err := s.checkNewPassword(ctx, u, p.Password, a.NewPassword); err != nil {
		return ResetStep{}, err
	}
	hash, err := s.hasher.Hash(ctx, a.NewPassword)
	if err != nil {
		return ResetStep{}, err
	}
	if err := s.completeReset(ctx, reset.CodeHash, store.PasswordChange{UserID: u.ID, Hash: hash, History: p.Password.HistoryCount}, account); err != nil {
		return ResetStep{}, err
	}
	s.resetFailures(ctx, a.Tenant, u.Email)
	s.event(ctx, slog.LevelInfo, "password reset", "password-reset", "success", actor{u.TenantID, u.ID, u.Email, a.ClientIP})
	return ResetStep{User: u, Status: ResetValidAnswer}, nil
}

func (s *Service) wrongAnswer(ctx context.Context, u store.User, reset store.Reset, account lockoutChange,
	p Policy, now time.Time) (ResetStep, error) {
	account.Actor = ""
	var suspended bool
	void, err := s.failReset(ctx, u.ID, reset.CodeHash, p.TwoFA.MaxAttempts, account, func(l *auth.Lockout) error {
		_, suspended = s.fail(l, now, p.Login, true)
		return nil
	})
	if err != nil {
		return ResetStep{}, err
	}
	if suspended {
		s.metrics.Suspended()
		s.mailSuspension(ctx, u, now, p.Login)
	}
	s.event(ctx, slog.LevelWarn, "reset answer wrong", "password-reset", "failure", actor{u.TenantID, u.ID, u.Email, clientOf(ctx)},
		slog.Bool("void", void))
	if void {
		return ResetStep{}, fault.New(fault.Unauthorized, "the security question was answered wrongly too often; request a new password reset code")
	}
	q, err := s.ask(ctx, u, reset)
	return ResetStep{User: u, Status: ResetWrongAnswer, Challenge: q}, err
}

// askReset records which question the reset asks, unless one is already
// asked: the question stays until it is answered. It returns the question
// the reset asks.
func (s *Service) askReset(ctx context.Context, userID string, codeHash []byte, challengeCode string) (asked string, err error) {
	err = s.store.Transact(ctx, func(tx *store.Tx) error {
		r, err := tx.LockReset(userID, codeHash)
		if err != nil {
			return err
		}
		if asked = r.ChallengeCode; asked != "" {
			return nil
		}
		asked = challengeCode
		return tx.AskReset(userID, challengeCode)
	})
	return asked, err
}

// failReset records a wrong answer to the reset's question in one
// transaction with the account's failure record: fail counts it against
// the account, and the reset ends after maxAttempts wrong answers. It
// reports whether the reset is void.
func (s *Service) failReset(ctx context.Context, userID string, codeHash []byte, maxAttempts int, account lockoutChange,
	fail func(*auth.Lockout) error) (void bool, err error) {
	err = s.store.Transact(ctx, func(tx *store.Tx) error {
		r, err := tx.LockReset(userID, codeHash)
		if err != nil {
			return err
		}
		if err := updateLockout(tx, account, fail); err != nil {
			return err
		}
		if void = r.Attempts+1 >= maxAttempts; void {
			return tx.DeleteReset(userID)
		}
		return tx.CountResetAttempt(userID)
	})
	return void, err
}

// completeReset sets the new password if codeHash is still the user's
// reset code, and in the same transaction ends the reset, every session of
// the user and every remembered 2FA device, and clears the account's
// failure record, lifting a suspension: the code proved the mailbox.
func (s *Service) completeReset(ctx context.Context, codeHash []byte, c store.PasswordChange, account lockoutChange) error {
	return s.store.Transact(ctx, func(tx *store.Tx) error {
		if _, err := tx.LockReset(c.UserID, codeHash); err != nil {
			return err
		}
		if err := tx.DeleteReset(c.UserID); err != nil {
			return err
		}
		if err := tx.SetPassword(c); err != nil {
			return err
		}
		return updateLockout(tx, account, func(l *auth.Lockout) error { l.Succeed(); return nil })
	})
}
