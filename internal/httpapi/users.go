package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/xml"
	"net/http"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/secret"
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

// userAccess admits the user named in the path, or a Site Admin of the
// user's tenant, and returns the user.
func (s *Server) userAccess(r *http.Request) (store.User, tenantPolicy, error) {
	u, err := s.store.UserByID(r.Context(), r.PathValue("UserID"))
	if err != nil {
		return u, tenantPolicy{}, err
	}
	sess, p, err := s.authenticate(r, u.TenantID)
	if err != nil || sess.UserID == u.ID {
		return u, p, err
	}
	role, err := s.store.Role(r.Context(), sess.UserID, store.RootBusinessID(u.TenantID))
	if err == nil && role != store.RoleSiteAdmin {
		err = fault.New(fault.Forbidden, "only the user or a Site Admin may do this")
	}
	return u, p, err
}

func (s *Server) getUserChallenges(w http.ResponseWriter, r *http.Request, mt string) error {
	u, _, err := s.userAccess(r)
	if err != nil {
		return err
	}
	return s.writeUserChallenges(w, r, mt, u)
}

func (s *Server) writeUserChallenges(w http.ResponseWriter, r *http.Request, mt string, u store.User) error {
	ctx := r.Context()
	answers, err := s.store.Answers(ctx, u.ID)
	if err != nil {
		return err
	}
	questions, err := s.store.Challenges(ctx, store.RootBusinessID(u.TenantID))
	if err != nil {
		return err
	}
	out := userChallengesWire{XMLName: xml.Name{Local: "UserIdentificationChallenges"}, UserIdentificationChallenge: []userChallengeWire{}}
	for _, a := range answers {
		out.UserIdentificationChallenge = append(out.UserIdentificationChallenge, userChallengeWire{
			UserID: u.ID, ChallengeCode: a.ChallengeCode, ChallengeQuestion: question(questions, a.ChallengeCode).ChallengeQuestion})
	}
	writeBody(w, http.StatusOK, mt, &out)
	return nil
}

func question(qs []settings.Challenge, code string) settings.Challenge {
	for _, q := range qs {
		if q.ChallengeCode == code {
			return q
		}
	}
	return settings.Challenge{}
}

// putUserChallenges sets a user's answers: each checked against its
// question's constraints, ChallengeCount of them, stored hashed or sealed.
func (s *Server) putUserChallenges(w http.ResponseWriter, r *http.Request, mt string) error {
	u, p, err := s.userAccess(r)
	if err != nil {
		return err
	}
	var in userChallengesWire
	if err := readBody(w, r, settingsTypes, &in); err != nil {
		return err
	}
	ctx := r.Context()
	questions, err := s.store.Challenges(ctx, store.RootBusinessID(u.TenantID))
	if err != nil {
		return err
	}
	answers := make([]settings.Answer, 0, len(in.UserIdentificationChallenge))
	for _, c := range in.UserIdentificationChallenge {
		if c.UserID != "" && c.UserID != u.ID {
			return fault.New(fault.Invalid, "UserID %q does not match the user in the path", clip(c.UserID, 80))
		}
		answers = append(answers, settings.Answer{ChallengeCode: c.ChallengeCode, Answer: c.Answer})
	}
	if err := settings.CheckAnswers(questions, answers, p.security.ChallengeCount); err != nil {
		return err
	}
	encrypt := settings.Feature(p.security.EncryptChallengeAnswers)
	for i, a := range answers {
		norm := question(questions, a.ChallengeCode).NormalizeAnswer(a.Answer)
		if encrypt {
			if s.box == nil {
				return fault.New(fault.Internal, "no key is configured to encrypt challenge answers")
			}
			answers[i].Answer = s.box.Seal(norm)
		} else if answers[i].Answer, err = s.hasher.Hash(ctx, norm); err != nil {
			return err
		}
	}
	if err := s.store.SetAnswers(ctx, u.ID, answers); err != nil {
		return err
	}
	return s.writeUserChallenges(w, r, mt, u)
}

// answerMatches checks a given answer against the stored one, hashed or sealed.
func (s *Server) answerMatches(ctx context.Context, q settings.Challenge, stored, given string) (bool, error) {
	norm := q.NormalizeAnswer(given)
	if !secret.IsSealed(stored) {
		return s.hasher.Verify(ctx, norm, stored)
	}
	if s.box == nil {
		return false, fault.New(fault.Internal, "no key is configured to open challenge answers")
	}
	plain, err := s.box.Open(stored)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(auth.HashSecret(plain), auth.HashSecret(norm)) == 1, nil
}
