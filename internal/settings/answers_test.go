package settings

import (
	"strings"
	"testing"
)

func TestCheckAnswer(t *testing.T) {
	n := func(i int) *int { return &i }
	fathersLetter := Challenge{ChallengeCode: "17", MinimumLength: n(1), MaximumLength: n(1), MinimumAlphaCount: n(1),
		MaximumAlphaCount: n(1), MinimumNumberCount: n(0), AllowedSpecialCharacters: []string{}, Active: true}
	pin := Challenge{ChallengeCode: "pin", MinimumLength: n(4), MaximumNumberCount: n(6), MinimumNumberCount: n(2),
		MinimumUpperCaseLetterCount: n(1), MinimumSpecialCharacterCount: n(1), AllowedSpecialCharacters: []string{"#", "!"},
		CanContainSpaces: false, Active: true}
	open := Challenge{ChallengeCode: "city", CanContainSpaces: true, Active: true}
	cases := []struct {
		q      Challenge
		answer string
		bad    string // "" when the answer is fine, else part of the message
	}{
		{fathersLetter, "J", ""},
		{fathersLetter, "  j ", ""},
		{fathersLetter, "Jo", "at most 1 characters"},
		{fathersLetter, "7", "at least 1 letters"},
		{fathersLetter, "!", "may not contain"},
		{fathersLetter, "", "is empty"},
		{pin, "Ab12#", ""},
		{pin, "ab12#", "uppercase"},
		{pin, "Abc1#", "at least 2 digits"},
		{pin, "Ab1234567#", "at most 6 digits"},
		{pin, "Ab12", "special characters"},
		{pin, "Ab12$", "may not contain '$'"},
		{pin, "Ab 12#", "spaces"},
		{open, "New York", ""},
		{open, "São Paulo!", ""},
		{open, strings.Repeat("x", 2049), "longer than"},
	}
	for _, c := range cases {
		err := c.q.CheckAnswer(c.answer)
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("%s %q: %v", c.q.ChallengeCode, c.answer, err)
		case c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)):
			t.Errorf("%s %q: got %v, want an error about %q", c.q.ChallengeCode, c.answer, err, c.bad)
		}
	}
}

func TestCheckAnswers(t *testing.T) {
	qs := DefaultChallenges()
	qs[3].Active = false // pet
	ok := []Answer{{"com.soa.challenge.question.city.birth", "Paris"}, {"com.soa.challenge.question.color", "Blue"},
		{"com.soa.challenge.question.mothers.name", "Smith"}}
	cases := []struct {
		answers []Answer
		count   int
		bad     string
	}{
		{ok, 3, ""},
		{ok[:2], 3, "3 security questions must be answered"},
		{append(ok[:2:2], Answer{"com.soa.challenge.question.pet", "Rex"}), 2, "not an active"},
		{append(ok[:2:2], Answer{"com.soa.challenge.question.color", "Red"}), 2, "answered twice"},
		{append(ok[:1:1], Answer{"com.soa.challenge.question.color", " paris "}), 2, "same answer"},
	}
	for i, c := range cases {
		err := CheckAnswers(qs, c.answers, c.count)
		if c.bad == "" && err != nil || c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)) {
			t.Errorf("case %d: got %v, want %q", i, err, c.bad)
		}
	}
}
