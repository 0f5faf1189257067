package httpapi

import (
	"encoding/xml"
	"net/http"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// userChallengesWire is {"UserIdentificationChallenge":[...]}.
type userChallengesWire struct {
	XMLName                     xml.Name            `json:"-"`
	UserIdentificationChallenge []userChallengeWire `json:"UserIdentificationChallenge" xml:"UserIdentificationChallenge"`
	Unknown                     unknownElements     `json:"-" xml:",any"`
}

// userChallengeWire is the platform's UserIdentificationChallenge. Answer
// is accepted and never sent back.
type userChallengeWire struct {
	UserID            string          `json:"UserID,omitempty" xml:"UserID,omitempty"`
	ChallengeCode     string          `json:"ChallengeCode" xml:"ChallengeCode"`
	ChallengeQuestion string          `json:"ChallengeQuestion,omitempty" xml:"ChallengeQuestion,omitempty"`
	Answer            string          `json:"Answer,omitempty" xml:"Answer,omitempty"`
	Unknown           unknownElements `json:"-" xml:",any"`
}

func (w *userChallengesWire) unknown() error {
	if err := w.Unknown.err(); err != nil {
		return err
	}
	for _, c := range w.UserIdentificationChallenge {
		if err := c.Unknown.err(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) getUserChallenges(w http.ResponseWriter, r *http.Request, q *request) error {
	return s.writeUserChallenges(w, r, q.mediaType, q.user)
}

func (s *Server) writeUserChallenges(w http.ResponseWriter, r *http.Request, mt string, u store.User) error {
	answered, err := s.login.Answered(r.Context(), u)
	if err != nil {
		return err
	}
	out := userChallengesWire{XMLName: xml.Name{Local: "UserIdentificationChallenges"}, UserIdentificationChallenge: []userChallengeWire{}}
	for _, a := range answered {
		out.UserIdentificationChallenge = append(out.UserIdentificationChallenge, userChallengeWire{
			UserID: u.ID, ChallengeCode: a.ChallengeCode, ChallengeQuestion: a.ChallengeQuestion})
	}
	writeBody(w, http.StatusOK, mt, &out)
	return nil
}

// putUserChallenges sets a user's answers.
func (s *Server) putUserChallenges(w http.ResponseWriter, r *http.Request, q *request) error {
	var in userChallengesWire
	if err := readBody(w, r, settingsTypes, &in); err != nil {
		return err
	}
	answers := make([]settings.Answer, 0, len(in.UserIdentificationChallenge))
	for _, c := range in.UserIdentificationChallenge {
		if c.UserID != "" && c.UserID != q.user.ID {
			return fault.New(fault.Invalid, "UserID %q does not match the user in the path", clip(c.UserID, 80))
		}
		answers = append(answers, settings.Answer{ChallengeCode: c.ChallengeCode, Answer: c.Answer})
	}
	if err := s.login.SetAnswers(r.Context(), q.user, answers); err != nil {
		return err
	}
	return s.writeUserChallenges(w, r, q.mediaType, q.user)
}

// forgetDevices forgets the user's remembered 2FA devices (the user's own
// "sign out other devices", or a Site Admin's for the user).
func (s *Server) forgetDevices(w http.ResponseWriter, r *http.Request, q *request) error {
	if err := s.login.ForgetDevices(r.Context(), q.user); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
