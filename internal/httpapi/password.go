package httpapi

import (
	"encoding/xml"
	"net/http"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/settings"
)

// passwordPolicyWire is the platform's password policy object. Its names
// are those the platform gives the same rules on challenges (the object's
// own reference page is not in bizsec's corpus); KnownBadCheck and
// HistoryCount are bizsec's own. Numbers and booleans are answered
// natively, as the challenge constraints are.
type passwordPolicyWire struct {
	XMLName                      xml.Name        `json:"-" xml:"PasswordPolicy"`
	MinimumLength                *lenientInt     `json:"MinimumLength,omitempty" xml:"MinimumLength,omitempty"`
	MaximumLength                *lenientInt     `json:"MaximumLength,omitempty" xml:"MaximumLength,omitempty"`
	MinimumAlphaCount            *lenientInt     `json:"MinimumAlphaCount,omitempty" xml:"MinimumAlphaCount,omitempty"`
	MinimumNumberCount           *lenientInt     `json:"MinimumNumberCount,omitempty" xml:"MinimumNumberCount,omitempty"`
	MinimumUpperCaseLetterCount  *lenientInt     `json:"MinimumUpperCaseLetterCount,omitempty" xml:"MinimumUpperCaseLetterCount,omitempty"`
	MinimumSpecialCharacterCount *lenientInt     `json:"MinimumSpecialCharacterCount,omitempty" xml:"MinimumSpecialCharacterCount,omitempty"`
	AllowedSpecialCharacters     *policySpecials `json:"AllowedSpecialCharacters,omitempty" xml:"AllowedSpecialCharacters,omitempty"`
	CanContainSpaces             *lenientBool    `json:"CanContainSpaces,omitempty" xml:"CanContainSpaces,omitempty"`
	KnownBadCheck                *lenientBool    `json:"KnownBadCheck,omitempty" xml:"KnownBadCheck,omitempty"`
	HistoryCount                 *lenientInt     `json:"HistoryCount,omitempty" xml:"HistoryCount,omitempty"`
	Unknown                      unknownElements `json:"-" xml:",any"`
}

// policySpecials is the password policy's AllowedSpecialCharacters: the
// challenges' shape, plus bizsec's own "Any": true, since a PUT merges and
// leaving the field out keeps the list: it is the way back to any special
// character.
type policySpecials struct {
	AllowedSpecialCharacter []string        `json:"AllowedSpecialCharacter" xml:"AllowedSpecialCharacter"`
	Any                     *lenientBool    `json:"Any,omitempty" xml:"Any,omitempty"`
	Unknown                 unknownElements `json:"-" xml:",any"`
}

func (w *passwordPolicyWire) unknown() error {
	if err := w.Unknown.err(); err != nil {
		return err
	}
	if w.AllowedSpecialCharacters != nil {
		return w.AllowedSpecialCharacters.Unknown.err()
	}
	return nil
}

func (w *passwordPolicyWire) apply(p *settings.PasswordPolicy) {
	for _, f := range []struct {
		to   *int
		from *lenientInt
	}{{&p.MinimumLength, w.MinimumLength}, {&p.MaximumLength, w.MaximumLength}, {&p.MinimumAlphaCount, w.MinimumAlphaCount},
		{&p.MinimumNumberCount, w.MinimumNumberCount}, {&p.MinimumUpperCaseLetterCount, w.MinimumUpperCaseLetterCount},
		{&p.MinimumSpecialCharacterCount, w.MinimumSpecialCharacterCount}, {&p.HistoryCount, w.HistoryCount}} {
		if f.from != nil {
			*f.to = int(*f.from)
		}
	}
	for _, f := range []struct {
		to   *bool
		from *lenientBool
	}{{&p.CanContainSpaces, w.CanContainSpaces}, {&p.KnownBadCheck, w.KnownBadCheck}} {
		if f.from != nil {
			*f.to = bool(*f.from)
		}
	}
	switch sp := w.AllowedSpecialCharacters; {
	case sp == nil:
	case sp.Any != nil && bool(*sp.Any):
		p.AllowedSpecialCharacters = nil
	default:
		p.AllowedSpecialCharacters = append([]string{}, sp.AllowedSpecialCharacter...)
	}
}

func passwordPolicyOut(p settings.PasswordPolicy) *passwordPolicyWire {
	w := &passwordPolicyWire{
		MinimumLength:                ptr(lenientInt(p.MinimumLength)),
		MaximumLength:                ptr(lenientInt(p.MaximumLength)),
		MinimumAlphaCount:            ptr(lenientInt(p.MinimumAlphaCount)),
		MinimumNumberCount:           ptr(lenientInt(p.MinimumNumberCount)),
		MinimumUpperCaseLetterCount:  ptr(lenientInt(p.MinimumUpperCaseLetterCount)),
		MinimumSpecialCharacterCount: ptr(lenientInt(p.MinimumSpecialCharacterCount)),
		CanContainSpaces:             ptr(lenientBool(p.CanContainSpaces)),
		KnownBadCheck:                ptr(lenientBool(p.KnownBadCheck)),
		HistoryCount:                 ptr(lenientInt(p.HistoryCount)),
	}
	if p.AllowedSpecialCharacters != nil {
		w.AllowedSpecialCharacters = &policySpecials{AllowedSpecialCharacter: append([]string{}, p.AllowedSpecialCharacters...)}
	}
	return w
}

var _ = serveObject(settingsOp[settings.PasswordPolicy, passwordPolicyWire]{
	kind: settings.PasswordPolicyKind, types: settingsTypes, apply: (*passwordPolicyWire).apply,
	out: func(p settings.PasswordPolicy) any { return passwordPolicyOut(p) },
	check: func(in *passwordPolicyWire) error {
		if sp := in.AllowedSpecialCharacters; sp != nil && sp.Any != nil && bool(*sp.Any) && len(sp.AllowedSpecialCharacter) > 0 {
			return fault.New(fault.Invalid, "AllowedSpecialCharacters: send Any or a list of AllowedSpecialCharacter, not both")
		}
		return nil
	},
})

// passwordWire is the body of PUT /api/users/{UserID}/password. The
// platform's body is not in bizsec's corpus; this shape is inferred.
type passwordWire struct {
	XMLName     xml.Name        `json:"-" xml:"PasswordChange"`
	OldPassword string          `json:"OldPassword,omitempty" xml:"OldPassword,omitempty"`
	NewPassword string          `json:"NewPassword" xml:"NewPassword"`
	Unknown     unknownElements `json:"-" xml:",any"`
}

func (w *passwordWire) unknown() error { return w.Unknown.err() }

// putPassword is a user's change of their own password (from a live
// session, with OldPassword; or from a login waiting on change.password),
// or a Site Admin's set of a user's password, which is temporary: the
// user's next login must change it. An own change answers 204, or, from a
// waiting login, the login's next step as a LoginResponse with its
// cookies; an admin's set answers 204.
func (s *Server) putPassword(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx := r.Context()
	u, err := s.login.User(ctx, r.PathValue("UserID"))
	if err != nil {
		return s.unknown(r, auth.Self, err)
	}
	var in passwordWire
	if err := readBody(w, r, settingsTypes, &in); err != nil {
		return err
	}
	if in.NewPassword == "" {
		return fault.New(fault.Invalid, "NewPassword is required")
	}
	tenant := u.TenantID
	cookie := s.authCookie(r, tenant)
	sess, p, err := s.login.Authenticate(ctx, tenant, cookie)
	switch {
	case err == nil:
		if err := checkCSRF(r, tenant, sess, p.Security, true); err != nil && ambient(r, tenant) {
			return err
		}
		if sess.UserID != u.ID {
			if err := s.login.AuthorizeUser(ctx, sess, u); err != nil {
				return err
			}
			if err := s.login.SetPassword(ctx, u, in.NewPassword, true); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
	case err != login.ErrNoSession:
		return err
	}
	res, err := s.login.ChangePassword(s.withClient(r, auth.MethodPassword), login.PasswordChange{Tenant: tenant, Cookie: cookie, UserID: u.ID,
		Old: in.OldPassword, New: in.NewPassword, ClientIP: s.clientIP(r)})
	if err != nil {
		return err
	}
	if res.Token == "" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	s.answerSession(w, r, q, res)
	return nil
}
