package settings

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/bizsec/bizsec/internal/fault"
)

// NormalizeAnswer is the form in which an answer is stored and compared:
// trimmed, inner spaces collapsed, lowercased unless the question is
// case-sensitive.
func (c Challenge) NormalizeAnswer(answer string) string {
	a := strings.Join(strings.Fields(answer), " ")
	if !c.IsCaseSensitive {
		a = strings.ToLower(a)
	}
	return a
}

// CheckAnswer reports how answer breaks the question's constraints, if it does.
func (c Challenge) CheckAnswer(answer string) error {
	a := strings.TrimSpace(answer)
	var v invalid
	name := fmt.Sprintf("the answer to %q", c.ChallengeCode)
	n := utf8.RuneCountInString(a)
	if n == 0 {
		v.addf("%s is empty", name)
		return v.err()
	}
	if n > maxAnswerLength {
		v.addf("%s is longer than %d characters", name, maxAnswerLength)
		return v.err()
	}
	allowed := map[rune]bool{}
	for _, s := range c.AllowedSpecialCharacters {
		r, _ := utf8.DecodeRuneInString(s)
		allowed[r] = true
	}
	k := compose(a, func(r rune, _ bool) { // in an answer a control character is one more special
		if c.AllowedSpecialCharacters != nil && !allowed[r] {
			v.addf("%s may not contain %q", name, r)
		}
	})
	letters, upper, digits, special, spaces := k.letters, k.upper, k.digits, k.others, k.spaces
	atLeast := func(what string, got int, min *int) {
		if min != nil && got < *min {
			v.addf("%s needs at least %d %s, has %d", name, *min, what, got)
		}
	}
	atMost := func(what string, got int, max *int) {
		if max != nil && got > *max {
			v.addf("%s may have at most %d %s, has %d", name, *max, what, got)
		}
	}
	atLeast("characters", n, c.MinimumLength)
	atMost("characters", n, c.MaximumLength)
	atLeast("letters", letters, c.MinimumAlphaCount)
	atMost("letters", letters, c.MaximumAlphaCount)
	atLeast("digits", digits, c.MinimumNumberCount)
	atMost("digits", digits, c.MaximumNumberCount)
	atLeast("uppercase letters", upper, c.MinimumUpperCaseLetterCount)
	atLeast("special characters", special, c.MinimumSpecialCharacterCount)
	if spaces > 0 && !c.CanContainSpaces {
		v.addf("%s may not contain spaces", name)
	}
	return v.err()
}

// Answer is a user's answer to one question.
type Answer struct {
	ChallengeCode string
	Answer        string
}

// CheckAnswers checks a user's whole set of answers against the business's
// questions: each to an active question, at most once, meeting its
// constraints, at least count of them, and no answer given twice.
func CheckAnswers(questions []Challenge, answers []Answer, count int) error {
	byCode := map[string]Challenge{}
	for _, q := range questions {
		if q.Active {
			byCode[q.ChallengeCode] = q
		}
	}
	var v invalid
	seenCode := map[string]bool{}
	seenAnswer := map[string]bool{}
	for _, a := range answers {
		q, ok := byCode[a.ChallengeCode]
		switch {
		case !ok:
			v.addf("%q is not an active security question", a.ChallengeCode)
			continue
		case seenCode[a.ChallengeCode]:
			v.addf("%q is answered twice", a.ChallengeCode)
			continue
		}
		seenCode[a.ChallengeCode] = true
		if err := q.CheckAnswer(a.Answer); err != nil {
			v.addf("%s", fault.MessageOf(err))
			continue
		}
		norm := strings.ToLower(strings.Join(strings.Fields(a.Answer), " "))
		if seenAnswer[norm] {
			v.addf("the same answer may not be given to two questions")
		}
		seenAnswer[norm] = true
	}
	if len(answers) < count {
		v.addf("%d security questions must be answered, got %d", count, len(answers))
	}
	return v.err()
}
