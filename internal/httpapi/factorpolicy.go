package httpapi

import (
	"encoding/xml"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/settings"
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

var _ = serveObject(settingsOp[settings.FactorPolicy, factorPolicyWire]{
	kind: settings.FactorPolicyKind, types: settingsTypes, apply: (*factorPolicyWire).apply,
	out: func(p settings.FactorPolicy) any { return factorPolicyOut(p) },
})

// factorEvents is bizsec_factor_events_total, registered in r with every
// event that can happen at zero, so rates and alerts work before the first.
func factorEvents(r *prometheus.Registry) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bizsec_factor_events_total",
		Help: "Second-factor events by factor (email, totp, webauthn, recovery), action (enrol, use, remove) and outcome (success, failure).",
	}, []string{"factor", "action", "outcome"})
	for _, o := range []string{"success", "failure"} {
		for _, k := range []string{login.KindEmail, login.KindTOTP, login.KindWebAuthn, login.KindRecovery} {
			v.WithLabelValues(k, "use", o)
		}
		for _, k := range []string{login.KindTOTP, login.KindWebAuthn, login.KindRecovery} {
			v.WithLabelValues(k, "enrol", o)
		}
	}
	for _, k := range []string{login.KindTOTP, login.KindWebAuthn} {
		v.WithLabelValues(k, "remove", "success")
	}
	r.MustRegister(v)
	return v
}

// Factor counts a second-factor event (login.FactorMetrics).
func (m *metrics) Factor(kind, action, outcome string) {
	m.factors.WithLabelValues(kind, action, outcome).Inc()
}
