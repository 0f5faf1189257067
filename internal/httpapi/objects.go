package httpapi

import (
	"encoding/xml"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
)

// The wire objects below mirror the platform's samples field for field.
// Every field is a pointer: nil means "not sent" on a PUT, which keeps the
// stored value, and "not shown" in a response.

type twoFAWire struct {
	XMLName                   xml.Name        `json:"-" xml:"TwoFASettings"`
	TwoFAEnabled              *lenientBool    `json:"TwoFAEnabled,omitempty" xml:"TwoFAEnabled,omitempty"`
	CodeValidSeconds          *lenientInt     `json:"CodeValidSeconds,omitempty" xml:"CodeValidSeconds,omitempty"`
	MaxAttempts               *lenientInt     `json:"MaxAttempts,omitempty" xml:"MaxAttempts,omitempty"`
	RecurrenceMode            *string         `json:"RecurrenceMode,omitempty" xml:"RecurrenceMode,omitempty"`
	RecurrenceIntervalMinutes *lenientInt     `json:"RecurrenceIntervalMinutes,omitempty" xml:"RecurrenceIntervalMinutes,omitempty"`
	DeviceCookieName          *string         `json:"DeviceCookieName,omitempty" xml:"DeviceCookieName,omitempty"`
	DeviceCookieValue         *string         `json:"DeviceCookieValue,omitempty" xml:"DeviceCookieValue,omitempty"`
	Unknown                   unknownElements `json:"-" xml:",any"`
}

func (w *twoFAWire) unknown() error { return w.Unknown.err() }

func (w *twoFAWire) apply(t *settings.TwoFA) {
	setBool(&t.TwoFAEnabled, w.TwoFAEnabled)
	setInt(&t.CodeValidSeconds, w.CodeValidSeconds)
	setInt(&t.MaxAttempts, w.MaxAttempts)
	setString(&t.RecurrenceMode, w.RecurrenceMode)
	setInt(&t.RecurrenceIntervalMinutes, w.RecurrenceIntervalMinutes)
	setString(&t.DeviceCookieName, w.DeviceCookieName)
	setString(&t.DeviceCookieValue, w.DeviceCookieValue)
}

func twoFAOut(t settings.TwoFA) *twoFAWire {
	return &twoFAWire{
		TwoFAEnabled:              ptr(lenientBool(t.TwoFAEnabled)),
		CodeValidSeconds:          ptr(lenientInt(t.CodeValidSeconds)),
		MaxAttempts:               ptr(lenientInt(t.MaxAttempts)),
		RecurrenceMode:            ptr(t.RecurrenceMode),
		RecurrenceIntervalMinutes: ptr(lenientInt(t.RecurrenceIntervalMinutes)),
		DeviceCookieName:          nonEmpty(t.DeviceCookieName),
		DeviceCookieValue:         nonEmpty(t.DeviceCookieValue),
	}
}

type loginPolicyWire struct {
	XMLName                             xml.Name        `json:"-" xml:"LoginPolicy"`
	MaxSequentialFailureAttemptsAllowed *quotedInt      `json:"MaxSequentialFailureAttemptsAllowed,omitempty" xml:"MaxSequentialFailureAttemptsAllowed,omitempty"`
	AttemptsPeriod                      *quotedInt      `json:"AttemptsPeriod,omitempty" xml:"AttemptsPeriod,omitempty"`
	SuspensionMinutes                   *quotedInt      `json:"SuspensionMinutes,omitempty" xml:"SuspensionMinutes,omitempty"`
	InactiveSessionTimeout              *quotedInt      `json:"InactiveSessionTimeout,omitempty" xml:"InactiveSessionTimeout,omitempty"`
	ActiveSessionTimeout                *quotedInt      `json:"ActiveSessionTimeout,omitempty" xml:"ActiveSessionTimeout,omitempty"`
	PersistentSession                   *quotedBool     `json:"PersistentSession,omitempty" xml:"PersistentSession,omitempty"`
	ConcurrentLogin                     *quotedBool     `json:"ConcurrentLogin,omitempty" xml:"ConcurrentLogin,omitempty"`
	AutoLoginExternalDomain             *string         `json:"AutoLoginExternalDomain,omitempty" xml:"AutoLoginExternalDomain,omitempty"`
	Unknown                             unknownElements `json:"-" xml:",any"`
}

func (w *loginPolicyWire) unknown() error { return w.Unknown.err() }

func (w *loginPolicyWire) apply(p *settings.LoginPolicy) {
	setInt(&p.MaxSequentialFailureAttemptsAllowed, w.MaxSequentialFailureAttemptsAllowed)
	setInt(&p.AttemptsPeriod, w.AttemptsPeriod)
	setInt(&p.SuspensionMinutes, w.SuspensionMinutes)
	setInt(&p.InactiveSessionTimeout, w.InactiveSessionTimeout)
	setInt(&p.ActiveSessionTimeout, w.ActiveSessionTimeout)
	setBool(&p.PersistentSession, w.PersistentSession)
	setBool(&p.ConcurrentLogin, w.ConcurrentLogin)
	setString(&p.AutoLoginExternalDomain, w.AutoLoginExternalDomain)
}

func loginPolicyOut(p settings.LoginPolicy) *loginPolicyWire {
	w := &loginPolicyWire{
		MaxSequentialFailureAttemptsAllowed: ptr(quotedInt(p.MaxSequentialFailureAttemptsAllowed)),
		AttemptsPeriod:                      ptr(quotedInt(p.AttemptsPeriod)),
		SuspensionMinutes:                   ptr(quotedInt(p.SuspensionMinutes)),
		InactiveSessionTimeout:              ptr(quotedInt(p.InactiveSessionTimeout)),
		ActiveSessionTimeout:                ptr(quotedInt(p.ActiveSessionTimeout)),
		PersistentSession:                   ptr(quotedBool(p.PersistentSession)),
		ConcurrentLogin:                     ptr(quotedBool(p.ConcurrentLogin)),
	}
	// The platform keeps this field "only for backwards compatibility";
	// like its sample, show it only when it departs from the default.
	if p.AutoLoginExternalDomain != settings.AutoLoginDisabled {
		w.AutoLoginExternalDomain = ptr(p.AutoLoginExternalDomain)
	}
	return w
}

type securityWire struct {
	XMLName                      xml.Name        `json:"-" xml:"BusinessSecuritySettings"`
	ReadRequestCSRFSupport       *string         `json:"ReadRequestCSRFSupport,omitempty" xml:"ReadRequestCSRFSupport,omitempty"`
	WriteRequestCSRFSupport      *string         `json:"WriteRequestCSRFSupport,omitempty" xml:"WriteRequestCSRFSupport,omitempty"`
	AllowUserEnum                *string         `json:"AllowUserEnum,omitempty" xml:"AllowUserEnum,omitempty"`
	EncryptChallengeAnswers      *string         `json:"EncryptChallengeAnswers,omitempty" xml:"EncryptChallengeAnswers,omitempty"`
	ChallengeCount               *lenientInt     `json:"ChallengeCount,omitempty" xml:"ChallengeCount,omitempty"`
	UserModifyEmail              *string         `json:"UserModifyEmail,omitempty" xml:"UserModifyEmail,omitempty"`
	SiteAdminModifyEmail         *string         `json:"SiteAdminModifyEmail,omitempty" xml:"SiteAdminModifyEmail,omitempty"`
	AuthTokenCookieDomain        *string         `json:"AuthTokenCookieDomain,omitempty" xml:"AuthTokenCookieDomain,omitempty"`
	AuthTokenCookieSameSite      *string         `json:"AuthTokenCookieSameSite,omitempty" xml:"AuthTokenCookieSameSite,omitempty"`
	CaptchaSupport               *string         `json:"CaptchaSupport,omitempty" xml:"CaptchaSupport,omitempty"`
	CaptchaSiteKey               *string         `json:"CaptchaSiteKey,omitempty" xml:"CaptchaSiteKey,omitempty"`
	CaptchaSiteSecret            *string         `json:"CaptchaSiteSecret,omitempty" xml:"CaptchaSiteSecret,omitempty"`
	ExternalDocSupport           *string         `json:"ExternalDocSupport,omitempty" xml:"ExternalDocSupport,omitempty"`
	XssKeywords                  *string         `json:"XssKeywords,omitempty" xml:"XssKeywords,omitempty"`
	AllowedFileTypes             *string         `json:"AllowedFileTypes,omitempty" xml:"AllowedFileTypes,omitempty"`
	WhiteListKeywords            *string         `json:"WhiteListKeywords,omitempty" xml:"WhiteListKeywords,omitempty"`
	WhiteListKeywordsSupport     *string         `json:"WhiteListKeywordsSupport,omitempty" xml:"WhiteListKeywordsSupport,omitempty"`
	AllowedFileTypesStrictPolicy *string         `json:"AllowedFileTypesStrictPolicy,omitempty" xml:"AllowedFileTypesStrictPolicy,omitempty"`
	Unknown                      unknownElements `json:"-" xml:",any"`
}

func (w *securityWire) unknown() error { return w.Unknown.err() }

func (w *securityWire) apply(s *settings.Security) {
	setString(&s.ReadRequestCSRFSupport, w.ReadRequestCSRFSupport)
	setString(&s.WriteRequestCSRFSupport, w.WriteRequestCSRFSupport)
	setString(&s.AllowUserEnum, w.AllowUserEnum)
	setString(&s.EncryptChallengeAnswers, w.EncryptChallengeAnswers)
	setInt(&s.ChallengeCount, w.ChallengeCount)
	setString(&s.UserModifyEmail, w.UserModifyEmail)
	setString(&s.SiteAdminModifyEmail, w.SiteAdminModifyEmail)
	setString(&s.AuthTokenCookieDomain, w.AuthTokenCookieDomain)
	setString(&s.AuthTokenCookieSameSite, w.AuthTokenCookieSameSite)
	setString(&s.CaptchaSupport, w.CaptchaSupport)
	setString(&s.CaptchaSiteKey, w.CaptchaSiteKey)
	if w.CaptchaSiteSecret == nil || *w.CaptchaSiteSecret != secretMask {
		setString(&s.CaptchaSiteSecret, w.CaptchaSiteSecret)
	}
	setString(&s.ExternalDocSupport, w.ExternalDocSupport)
	setString(&s.XssKeywords, w.XssKeywords)
	setString(&s.AllowedFileTypes, w.AllowedFileTypes)
	setString(&s.WhiteListKeywords, w.WhiteListKeywords)
	setString(&s.WhiteListKeywordsSupport, w.WhiteListKeywordsSupport)
	setString(&s.AllowedFileTypesStrictPolicy, w.AllowedFileTypesStrictPolicy)
}

func securityOut(s settings.Security) *securityWire {
	w := &securityWire{
		ReadRequestCSRFSupport:       ptr(s.ReadRequestCSRFSupport),
		WriteRequestCSRFSupport:      ptr(s.WriteRequestCSRFSupport),
		AllowUserEnum:                ptr(s.AllowUserEnum),
		EncryptChallengeAnswers:      ptr(s.EncryptChallengeAnswers),
		ChallengeCount:               ptr(lenientInt(s.ChallengeCount)),
		UserModifyEmail:              ptr(s.UserModifyEmail),
		SiteAdminModifyEmail:         ptr(s.SiteAdminModifyEmail),
		AuthTokenCookieDomain:        ptr(s.AuthTokenCookieDomain),
		AuthTokenCookieSameSite:      ptr(s.AuthTokenCookieSameSite),
		CaptchaSupport:               ptr(s.CaptchaSupport),
		ExternalDocSupport:           ptr(s.ExternalDocSupport),
		XssKeywords:                  ptr(s.XssKeywords),
		AllowedFileTypes:             ptr(s.AllowedFileTypes),
		WhiteListKeywords:            ptr(s.WhiteListKeywords),
		WhiteListKeywordsSupport:     ptr(s.WhiteListKeywordsSupport),
		AllowedFileTypesStrictPolicy: ptr(s.AllowedFileTypesStrictPolicy),
	}
	// As the samples show: the CAPTCHA key and secret appear only while
	// CAPTCHA is on. The secret is write-only: it is answered masked, to
	// Site Admins and Auditors alike, and a PUT that sends the mask keeps it.
	if settings.Feature(s.CaptchaSupport) {
		w.CaptchaSiteKey = ptr(s.CaptchaSiteKey)
		if s.CaptchaSiteSecret != "" {
			w.CaptchaSiteSecret = ptr(secretMask)
		}
	}
	return w
}

// secretMask stands for a secret in answers.
const secretMask = "********"

type challengesWire struct {
	XMLName   xml.Name        `json:"-" xml:"Challenges"`
	Challenge []challengeWire `json:"Challenge" xml:"Challenge"`
	Unknown   unknownElements `json:"-" xml:",any"`
}

type challengeWire struct {
	ChallengeCode                *string         `json:"ChallengeCode,omitempty" xml:"ChallengeCode,omitempty"`
	ChallengeQuestion            *string         `json:"ChallengeQuestion,omitempty" xml:"ChallengeQuestion,omitempty"`
	MinimumLength                *lenientInt     `json:"MinimumLength,omitempty" xml:"MinimumLength,omitempty"`
	MaximumLength                *lenientInt     `json:"MaximumLength,omitempty" xml:"MaximumLength,omitempty"`
	MinimumAlphaCount            *lenientInt     `json:"MinimumAlphaCount,omitempty" xml:"MinimumAlphaCount,omitempty"`
	MaximumAlphaCount            *lenientInt     `json:"MaximumAlphaCount,omitempty" xml:"MaximumAlphaCount,omitempty"`
	MinimumNumberCount           *lenientInt     `json:"MinimumNumberCount,omitempty" xml:"MinimumNumberCount,omitempty"`
	MaximumNumberCount           *lenientInt     `json:"MaximumNumberCount,omitempty" xml:"MaximumNumberCount,omitempty"`
	MinimumUpperCaseLetterCount  *lenientInt     `json:"MinimumUpperCaseLetterCount,omitempty" xml:"MinimumUpperCaseLetterCount,omitempty"`
	MinimumSpecialCharacterCount *lenientInt     `json:"MinimumSpecialCharacterCount,omitempty" xml:"MinimumSpecialCharacterCount,omitempty"`
	CanContainSpaces             *lenientBool    `json:"CanContainSpaces,omitempty" xml:"CanContainSpaces,omitempty"`
	IsCaseSensitive              *lenientBool    `json:"IsCaseSensitive,omitempty" xml:"IsCaseSensitive,omitempty"`
	Active                       *lenientBool    `json:"Active,omitempty" xml:"Active,omitempty"`
	AllowedSpecialCharacters     *specialsWire   `json:"AllowedSpecialCharacters,omitempty" xml:"AllowedSpecialCharacters,omitempty"`
	Unknown                      unknownElements `json:"-" xml:",any"`
}

type specialsWire struct {
	AllowedSpecialCharacter []string        `json:"AllowedSpecialCharacter" xml:"AllowedSpecialCharacter"`
	Unknown                 unknownElements `json:"-" xml:",any"`
}

func (w *challengesWire) unknown() error {
	if err := w.Unknown.err(); err != nil {
		return err
	}
	for i, c := range w.Challenge {
		err := c.Unknown.err()
		if err == nil && c.AllowedSpecialCharacters != nil {
			err = c.AllowedSpecialCharacters.Unknown.err()
		}
		if err != nil {
			return fault.New(fault.Invalid, "Challenge[%d]: %s", i, fault.MessageOf(err))
		}
	}
	return nil
}

// challenges builds the new set. The whole set is replaced, so a field
// left out takes the platform default, not the value stored before.
func (w *challengesWire) challenges() []settings.Challenge {
	out := make([]settings.Challenge, 0, len(w.Challenge))
	for _, c := range w.Challenge {
		ch := settings.Challenge{CanContainSpaces: true, Active: true}
		setString(&ch.ChallengeCode, c.ChallengeCode)
		setString(&ch.ChallengeQuestion, c.ChallengeQuestion)
		ch.MinimumLength = intPtr(c.MinimumLength)
		ch.MaximumLength = intPtr(c.MaximumLength)
		ch.MinimumAlphaCount = intPtr(c.MinimumAlphaCount)
		ch.MaximumAlphaCount = intPtr(c.MaximumAlphaCount)
		ch.MinimumNumberCount = intPtr(c.MinimumNumberCount)
		ch.MaximumNumberCount = intPtr(c.MaximumNumberCount)
		ch.MinimumUpperCaseLetterCount = intPtr(c.MinimumUpperCaseLetterCount)
		ch.MinimumSpecialCharacterCount = intPtr(c.MinimumSpecialCharacterCount)
		setBool(&ch.CanContainSpaces, c.CanContainSpaces)
		setBool(&ch.IsCaseSensitive, c.IsCaseSensitive)
		setBool(&ch.Active, c.Active)
		if c.AllowedSpecialCharacters != nil {
			ch.AllowedSpecialCharacters = append([]string{}, c.AllowedSpecialCharacters.AllowedSpecialCharacter...)
		}
		out = append(out, ch)
	}
	return out
}

func challengesOut(cs []settings.Challenge, includeInactive bool) *challengesWire {
	w := &challengesWire{Challenge: []challengeWire{}}
	for _, c := range cs {
		if !c.Active && !includeInactive {
			continue
		}
		cw := challengeWire{
			ChallengeCode:                ptr(c.ChallengeCode),
			ChallengeQuestion:            ptr(c.ChallengeQuestion),
			MinimumLength:                lenientPtr(c.MinimumLength),
			MaximumLength:                lenientPtr(c.MaximumLength),
			MinimumAlphaCount:            lenientPtr(c.MinimumAlphaCount),
			MaximumAlphaCount:            lenientPtr(c.MaximumAlphaCount),
			MinimumNumberCount:           lenientPtr(c.MinimumNumberCount),
			MaximumNumberCount:           lenientPtr(c.MaximumNumberCount),
			MinimumUpperCaseLetterCount:  lenientPtr(c.MinimumUpperCaseLetterCount),
			MinimumSpecialCharacterCount: lenientPtr(c.MinimumSpecialCharacterCount),
			CanContainSpaces:             ptr(lenientBool(c.CanContainSpaces)),
			IsCaseSensitive:              ptr(lenientBool(c.IsCaseSensitive)),
			Active:                       ptr(lenientBool(c.Active)),
		}
		if c.AllowedSpecialCharacters != nil {
			cw.AllowedSpecialCharacters = &specialsWire{AllowedSpecialCharacter: append([]string{}, c.AllowedSpecialCharacters...)}
		}
		w.Challenge = append(w.Challenge, cw)
	}
	return w
}

func ptr[T any](v T) *T { return &v }

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func setString(dst *string, src *string) {
	if src != nil {
		*dst = *src
	}
}

func setInt[T ~int](dst *int, src *T) {
	if src != nil {
		*dst = int(*src)
	}
}

func setBool[T ~bool](dst *bool, src *T) {
	if src != nil {
		*dst = bool(*src)
	}
}

func intPtr(p *lenientInt) *int {
	if p == nil {
		return nil
	}
	return ptr(int(*p))
}

func lenientPtr(p *int) *lenientInt {
	if p == nil {
		return nil
	}
	return ptr(lenientInt(*p))
}
