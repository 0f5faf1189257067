package httpapi

import (
	"encoding/xml"
	"net/http"

	"github.com/bizsec/bizsec/internal/login"
)

// resetResponse is the platform's PasswordResetResponse.
type resetResponse struct {
	XMLName                     xml.Name           `json:"-" xml:"PasswordResetResponse"`
	EmailAddress                string             `json:"emailAddress" xml:"emailAddress"`
	UserName                    string             `json:"userName" xml:"userName"`
	Status                      string             `json:"Status" xml:"Status"`
	UserIdentificationChallenge *userChallengeWire `json:"UserIdentificationChallenge,omitempty" xml:"UserIdentificationChallenge,omitempty"`
}

func resetResponseOf(step login.ResetStep) resetResponse {
	out := resetResponse{EmailAddress: step.User.Email, UserName: step.User.Name, Status: step.Status}
	if q := step.Challenge; q != nil {
		out.UserIdentificationChallenge = &userChallengeWire{UserID: step.User.ID, ChallengeCode: q.ChallengeCode,
			ChallengeQuestion: q.ChallengeQuestion}
	}
	return out
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

// sendResetCode mails a reset code: POST ?emailAddress=...; with CAPTCHA
// on, the widget's token comes as &captchaResponse=...
func (s *Server) sendResetCode(w http.ResponseWriter, r *http.Request, _ *request) error {
	tenant, err := s.hostTenant(r)
	if err != nil {
		return err
	}
	query := r.URL.Query()
	err = s.login.SendResetCode(r.Context(), login.ResetRequest{Tenant: tenant, Email: query.Get("emailAddress"),
		CaptchaResponse: query.Get("captchaResponse"), ClientIP: s.clientIP(r)})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// validateResetCode checks a reset code and asks a security question.
func (s *Server) validateResetCode(w http.ResponseWriter, r *http.Request, q *request) error {
	tenant, err := s.hostTenant(r)
	if err != nil {
		return err
	}
	query := r.URL.Query()
	step, err := s.login.ValidateResetCode(r.Context(), tenant, query.Get("emailAddress"), query.Get("passwordResetCode"), s.clientIP(r))
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, q.mediaType, resetResponseOf(step))
	return nil
}

// resetPassword sets a new password with a reset code and the answer to
// the question asked; a wrong answer is met by the question again.
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request, q *request) error {
	var in resetRequest
	if err := readBody(w, r, loginTypes, &in); err != nil {
		return err
	}
	tenant, err := s.hostTenant(r)
	if err != nil {
		return err
	}
	a := login.ResetAttempt{Tenant: tenant, Email: in.Email, Code: in.PasswordResetCode, NewPassword: in.NewPassword,
		ClientIP: s.clientIP(r)}
	if c := in.UserIdentificationChallenge; c != nil {
		a.ChallengeCode, a.Answer = c.ChallengeCode, c.Answer
	}
	step, err := s.login.ResetPassword(r.Context(), a)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, q.mediaType, resetResponseOf(step))
	return nil
}
