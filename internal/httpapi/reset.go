package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"math/big"
	"net/http"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/mail"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// ResetValidFor is how long a mailed password reset code works.
const ResetValidFor = 30 * time.Minute

// Reset statuses, as the platform names them.
const (
	resetCodeValid    = "user.password.reset.code.valid"
	resetValidAnswer  = "user.password.reset.valid.answer"
	resetWrongAnswer  = "user.password.reset.invalid.answer"
	minPasswordLength = 8
)

// resetResponse is the platform's PasswordResetResponse.
type resetResponse struct {
	XMLName                     xml.Name           `json:"-" xml:"PasswordResetResponse"`
	EmailAddress                string             `json:"emailAddress" xml:"emailAddress"`
	UserName                    string             `json:"userName" xml:"userName"`
	Status                      string             `json:"Status" xml:"Status"`
	UserIdentificationChallenge *userChallengeWire `json:"UserIdentificationChallenge,omitempty" xml:"UserIdentificationChallenge,omitempty"`
}

// resetRequest is the platform's PasswordResetRequest.
type resetRequest struct {
	XMLName                     xml.Name           `json:"-"`
	Email                       string             `json:"Email" xml:"Email"`
	PasswordResetCode           string             `json:"PasswordResetCode" xml:"PasswordResetCode"`
	NewPassword                 string             `json:"NewPassword" xml:"NewPassword"`
	UserIdentificationChallenge *userChallengeWire `json:"UserIdentificationChallenge,omitempty" xml:"UserIdentificationChallenge,omitempty"`
	Unknown                     unknownElements    `json:"-" xml:",any"`
}

func (q *resetRequest) unknown() error { return q.Unknown.err() }

var errBadResetCode = fault.New(fault.Unauthorized, "the password reset code is invalid or has expired")

// sendResetCode mails a reset code. With AllowUserEnum disabled it answers
// an unknown email exactly as a known one, and as fast: the code is stored
// and mailed after the answer, so neither a database write nor the mail
// server's pace can tell the two apart.
func (s *Server) sendResetCode(w http.ResponseWriter, r *http.Request, _ string) error {
	email := r.URL.Query().Get("emailAddress")
	if email == "" || len(email) > 320 {
		return fault.New(fault.Invalid, "emailAddress is required")
	}
	ctx := r.Context()
	tenant, p, err := s.hostPolicy(r)
	if err != nil {
		return err
	}
	u, err := s.store.UserByEmail(ctx, tenant, email)
	switch {
	case fault.CodeOf(err) == fault.NotFound && settings.Feature(p.security.AllowUserEnum):
		return errUnknownEmail
	case fault.CodeOf(err) == fault.NotFound:
		w.WriteHeader(http.StatusOK)
		return nil
	case err != nil:
		return err
	}
	if !settings.Feature(p.security.AllowUserEnum) {
		s.background.Add(1)
		go func() {
			defer s.background.Done()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := s.mailResetCode(ctx, u); err != nil {
				s.log.ErrorContext(ctx, "reset code not sent", "user", u.ID, "err", err)
			}
		}()
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if err := s.mailResetCode(ctx, u); err != nil {
		s.log.ErrorContext(ctx, "reset code not sent", "user", u.ID, "err", err)
		return fault.New(fault.Unavailable, "the password reset code could not be sent; try again later")
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// mailResetCode starts a reset for u, replacing any other, and mails its code.
func (s *Server) mailResetCode(ctx context.Context, u store.User) error {
	code := auth.NewSecret()
	if err := s.store.StartReset(ctx, u.ID, auth.HashSecret(code), s.now()); err != nil {
		return err
	}
	return s.mailer.Send(ctx, mail.Message{To: u.Email, Subject: "Reset your password",
		Body: fmt.Sprintf("Your password reset code is %s\n\nIt is valid for %d minutes. If you did not ask to reset your password, ignore this message.\n",
			code, int(ResetValidFor.Minutes()))})
}

// findReset returns the user whose live reset code this is.
func (s *Server) findReset(r *http.Request, email, code string) (store.User, store.Reset, string, error) {
	ctx := r.Context()
	tenant, err := s.store.TenantForHost(ctx, hostOnly(r.Host))
	if err != nil {
		return store.User{}, store.Reset{}, "", err
	}
	u, err := s.store.UserByEmail(ctx, tenant, email)
	if fault.CodeOf(err) == fault.NotFound {
		return u, store.Reset{}, tenant, errBadResetCode
	}
	if err != nil {
		return u, store.Reset{}, tenant, err
	}
	reset, err := s.store.ResetFor(ctx, u.ID, auth.HashSecret(code))
	if fault.CodeOf(err) == fault.NotFound || err == nil && s.now().Sub(reset.IssuedAt) >= ResetValidFor {
		return u, reset, tenant, errBadResetCode
	}
	return u, reset, tenant, err
}

// ask picks one of the user's answered, still active questions at random
// and records it as the one the reset asks; nil when there is none.
func (s *Server) ask(r *http.Request, u store.User) (*userChallengeWire, error) {
	ctx := r.Context()
	answers, err := s.store.Answers(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	questions, err := s.store.Challenges(ctx, store.RootBusinessID(u.TenantID))
	if err != nil {
		return nil, err
	}
	var open []settings.Challenge
	for _, a := range answers {
		if q := question(questions, a.ChallengeCode); q.Active {
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
	q := open[n.Int64()]
	if err := s.store.AskReset(ctx, u.ID, q.ChallengeCode); err != nil {
		return nil, err
	}
	return &userChallengeWire{UserID: u.ID, ChallengeCode: q.ChallengeCode, ChallengeQuestion: q.ChallengeQuestion}, nil
}

// validateResetCode checks a reset code and asks a security question.
func (s *Server) validateResetCode(w http.ResponseWriter, r *http.Request, mt string) error {
	q := r.URL.Query()
	u, _, _, err := s.findReset(r, q.Get("emailAddress"), q.Get("passwordResetCode"))
	if err != nil {
		return err
	}
	challenge, err := s.ask(r, u)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, mt, resetResponse{EmailAddress: u.Email, UserName: u.Name, Status: resetCodeValid,
		UserIdentificationChallenge: challenge})
	return nil
}

// resetPassword sets a new password with a reset code and the answer to the
// question asked. A wrong answer counts toward the login policy's
// suspension and is met, as the platform documents, by another question.
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request, mt string) error {
	var in resetRequest
	if err := readBody(w, r, loginTypes, &in); err != nil {
		return err
	}
	if n := len(in.NewPassword); n < minPasswordLength || n > maxPassword {
		return fault.New(fault.Invalid, "NewPassword must be %d to %d characters", minPasswordLength, maxPassword)
	}
	ctx := r.Context()
	u, reset, tenant, err := s.findReset(r, in.Email, in.PasswordResetCode)
	if err != nil {
		return err
	}
	p, err := s.policy(ctx, tenant)
	if err != nil {
		return err
	}
	now := s.now()
	if reset.ChallengeCode != "" {
		right := false
		if in.UserIdentificationChallenge != nil && in.UserIdentificationChallenge.ChallengeCode == reset.ChallengeCode {
			if right, err = s.checkAnswer(r, u, reset.ChallengeCode, in.UserIdentificationChallenge.Answer); err != nil {
				return err
			}
		}
		var outcome error
		err = s.store.UpdateLockout(ctx, tenant, u.Email, func(l *auth.Lockout) error {
			switch {
			case l.Locked(now):
				outcome = errSuspended
			case !right && l.Fail(now, p.login):
				s.metrics.lockouts.Inc()
				outcome = errSuspended
			case !right:
				outcome = errWrongPassword // marker: ask again
			}
			return nil
		})
		if err != nil {
			return err
		}
		if outcome == errSuspended {
			if err := s.store.EndReset(ctx, u.ID); err != nil {
				return err
			}
			return errSuspended
		}
		if outcome != nil {
			challenge, err := s.ask(r, u)
			if err != nil {
				return err
			}
			writeBody(w, http.StatusOK, mt, resetResponse{EmailAddress: u.Email, UserName: u.Name, Status: resetWrongAnswer,
				UserIdentificationChallenge: challenge})
			return nil
		}
	} else if has, err := s.hasAnswers(r, u); err != nil || has {
		if err == nil {
			err = fault.New(fault.Invalid, "validate the reset code first to be asked a security question")
		}
		return err
	}
	hash, err := s.hasher.Hash(ctx, in.NewPassword)
	if err != nil {
		return err
	}
	if err := s.store.CompleteReset(ctx, u.ID, auth.HashSecret(in.PasswordResetCode), hash); err != nil {
		return err
	}
	if err := s.store.UpdateLockout(ctx, tenant, u.Email, func(l *auth.Lockout) error { l.Succeed(); return nil }); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "password reset", "user", u.ID)
	writeBody(w, http.StatusOK, mt, resetResponse{EmailAddress: u.Email, UserName: u.Name, Status: resetValidAnswer})
	return nil
}

func (s *Server) hasAnswers(r *http.Request, u store.User) (bool, error) {
	answers, err := s.store.Answers(r.Context(), u.ID)
	return len(answers) > 0, err
}

func (s *Server) checkAnswer(r *http.Request, u store.User, code, given string) (bool, error) {
	answers, err := s.store.Answers(r.Context(), u.ID)
	if err != nil {
		return false, err
	}
	questions, err := s.store.Challenges(r.Context(), store.RootBusinessID(u.TenantID))
	if err != nil {
		return false, err
	}
	for _, a := range answers {
		if a.ChallengeCode == code {
			return s.answerMatches(r.Context(), question(questions, code), a.Answer, given)
		}
	}
	return false, nil
}
