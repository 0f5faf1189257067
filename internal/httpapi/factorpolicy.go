package httpapi

import (
	"encoding/xml"
	"net/http"

	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// factorPolicyWire is bizsec's own factor policy object.
type factorPolicyWire struct {
	XMLName                  xml.Name        `json:"-" xml:"FactorPolicy"`
	AllowEmailCode           *lenientBool    `json:"AllowEmailCode,omitempty" xml:"AllowEmailCode,omitempty"`
	AllowTOTP                *lenientBool    `json:"AllowTOTP,omitempty" xml:"AllowTOTP,omitempty"`
	AllowWebAuthn            *lenientBool    `json:"AllowWebAuthn,omitempty" xml:"AllowWebAuthn,omitempty"`
	AllowRecoveryCodes       *lenientBool    `json:"AllowRecoveryCodes,omitempty" xml:"AllowRecoveryCodes,omitempty"`
	EmailCodeFallback        *lenientBool    `json:"EmailCodeFallback,omitempty" xml:"EmailCodeFallback,omitempty"`
	StrongFactorRequired     *string         `json:"StrongFactorRequired,omitempty" xml:"StrongFactorRequired,omitempty"`
	EnrolmentGraceDays       *lenientInt     `json:"EnrolmentGraceDays,omitempty" xml:"EnrolmentGraceDays,omitempty"`
	WebAuthnUserVerification *string         `json:"WebAuthnUserVerification,omitempty" xml:"WebAuthnUserVerification,omitempty"`
	Unknown                  unknownElements `json:"-" xml:",any"`
}

func (w *factorPolicyWire) unknown() error { return w.Unknown.err() }

func (w *factorPolicyWire) apply(p *settings.FactorPolicy) {
	setBool(&p.AllowEmailCode, w.AllowEmailCode)
	setBool(&p.AllowTOTP, w.AllowTOTP)
	setBool(&p.AllowWebAuthn, w.AllowWebAuthn)
	setBool(&p.AllowRecoveryCodes, w.AllowRecoveryCodes)
	setBool(&p.EmailCodeFallback, w.EmailCodeFallback)
	setString(&p.StrongFactorRequired, w.StrongFactorRequired)
	setInt(&p.EnrolmentGraceDays, w.EnrolmentGraceDays)
	setString(&p.WebAuthnUserVerification, w.WebAuthnUserVerification)
}

func factorPolicyOut(p settings.FactorPolicy) *factorPolicyWire {
	return &factorPolicyWire{
		AllowEmailCode:           ptr(lenientBool(p.AllowEmailCode)),
		AllowTOTP:                ptr(lenientBool(p.AllowTOTP)),
		AllowWebAuthn:            ptr(lenientBool(p.AllowWebAuthn)),
		AllowRecoveryCodes:       ptr(lenientBool(p.AllowRecoveryCodes)),
		EmailCodeFallback:        ptr(lenientBool(p.EmailCodeFallback)),
		StrongFactorRequired:     ptr(p.StrongFactorRequired),
		EnrolmentGraceDays:       ptr(lenientInt(p.EnrolmentGraceDays)),
		WebAuthnUserVerification: ptr(p.WebAuthnUserVerification),
	}
}

var factorPolicyOp = settingsOp[settings.FactorPolicy, factorPolicyWire]{
	kind: store.FactorPolicyKind, types: settingsTypes,
	out: func(p settings.FactorPolicy) any { return factorPolicyOut(p) },
	change: func(_ *Server, _ *http.Request, _ *request, in *factorPolicyWire) (func(*settings.FactorPolicy) error, error) {
		return func(p *settings.FactorPolicy) error { in.apply(p); return p.Validate() }, nil
	},
}
