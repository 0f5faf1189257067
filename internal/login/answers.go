package login

import (
	"context"
	"crypto/subtle"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
	"github.com/bizsec/bizsec/internal/throttle"
)

// AnsweredQuestion is a question a user has answered; answers are never
// given back.
type AnsweredQuestion struct {
	ChallengeCode     string
	ChallengeQuestion string
}

// answersOf returns a user's stored answers and the tenant's questions.
func (s *Service) answersOf(ctx context.Context, u store.User) ([]settings.Answer, []settings.Challenge, error) {
	answers, err := s.store.Answers(ctx, u.ID)
	if err != nil {
		return nil, nil, err
	}
	questions, _, err := store.Get(ctx, s.store, settings.ChallengesKind, store.RootBusinessID(u.TenantID))
	return answers, questions, err
}

// Answered lists the questions a user has answered, in the order set.
func (s *Service) Answered(ctx context.Context, u store.User) ([]AnsweredQuestion, error) {
	answers, questions, err := s.answersOf(ctx, u)
	if err != nil {
		return nil, err
	}
	out := make([]AnsweredQuestion, 0, len(answers))
	for _, a := range answers {
		out = append(out, AnsweredQuestion{a.ChallengeCode, settings.Question(questions, a.ChallengeCode).ChallengeQuestion})
	}
	return out, nil
}

// SetAnswers replaces a user's answers: each checked against its question's
// constraints, ChallengeCount of them, stored as an argon2id hash or, with
// EncryptChallengeAnswers, sealed with the server key. This is the one
// place answers are sealed.
func (s *Service) SetAnswers(ctx context.Context, u store.User, answers []settings.Answer) error {
	p, err := s.Policy(ctx, u.TenantID)
	if err != nil {
		return err
	}
	// Each change hashes every answer: bounded per user, so that one
	// account cannot keep the hasher busy.
	if err := s.take(ctx, s.now(), "changes of this user's security answers",
		throttle.Charge{Key: "answers:" + u.ID, Rate: s.lim().AnswerChanges}); err != nil {
		return err
	}
	questions, _, err := store.Get(ctx, s.store, settings.ChallengesKind, store.RootBusinessID(u.TenantID))
	if err != nil {
		return err
	}
	if err := settings.CheckAnswers(questions, answers, p.Security.ChallengeCount); err != nil {
		return err
	}
	stored := make([]settings.Answer, len(answers))
	encrypt := settings.Feature(p.Security.EncryptChallengeAnswers)
	for i, a := range answers {
		norm := settings.Question(questions, a.ChallengeCode).NormalizeAnswer(a.Answer)
		stored[i].ChallengeCode = a.ChallengeCode
		if encrypt {
			if s.box == nil {
				return fault.New(fault.Internal, "no key is configured to encrypt challenge answers")
			}
			stored[i].Answer = s.box.Seal(norm)
		} else if stored[i].Answer, err = s.hasher.Hash(ctx, norm); err != nil {
			return err
		}
	}
	return s.store.SetAnswers(ctx, u.ID, stored)
}

// checkAnswer reports whether given is the user's answer to the question.
func (s *Service) checkAnswer(ctx context.Context, u store.User, code, given string) (bool, error) {
	answers, questions, err := s.answersOf(ctx, u)
	if err != nil {
		return false, err
	}
	for _, a := range answers {
		if a.ChallengeCode == code {
			return s.answerMatches(ctx, settings.Question(questions, code), a.Answer, given)
		}
	}
	return false, nil
}

// answerMatches checks a given answer against the stored one, hashed or sealed.
func (s *Service) answerMatches(ctx context.Context, q settings.Challenge, stored, given string) (bool, error) {
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
