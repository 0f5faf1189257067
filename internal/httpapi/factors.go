package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/store"
)

// factorRoutes are a user's second factors (bizsec's extension): the user,
// or a Site Admin of the tenant, like /challenges and /devices; enrolment
// is the user's own, with a recent login.
func (s *Server) factorRoutes(mux *http.ServeMux) {
	const u = "/api/users/{UserID}"
	s.route(mux, "GET "+u+"/factors", auth.Public, jsonTypes, s.userAccess(s.listFactors, true, true))
	s.notAllowed(mux, u+"/factors", "GET, HEAD")
	// POST .../factors/totp and .../factors/webauthn enrol; DELETE
	// .../factors/{FactorID} removes (one pattern, so the mux sees no clash).
	s.route(mux, "POST "+u+"/factors/{FactorID}", auth.Public, jsonTypes, s.enrolling(s.enrol))
	s.route(mux, "POST "+u+"/factors/{FactorID}/confirm", auth.Public, jsonTypes, s.enrolling(s.confirmFactor))
	s.notAllowed(mux, u+"/factors/{FactorID}/confirm", "POST")
	s.route(mux, "GET "+u+"/factors/{FactorID}/qr.png", auth.Public, jsonTypes, s.enrolling(s.factorQR))
	s.notAllowed(mux, u+"/factors/{FactorID}/qr.png", "GET, HEAD")
	s.route(mux, "DELETE "+u+"/factors/{FactorID}", auth.Self, jsonTypes, s.removeFactor)
	s.notAllowed(mux, u+"/factors/{FactorID}", "DELETE, POST")
	s.route(mux, "POST "+u+"/recoverycodes", auth.Self, jsonTypes, s.newRecoveryCodes)
	s.notAllowed(mux, u+"/recoverycodes", "POST")
}

// auditorMayRead admits what auth.Self does and, on a read, an Auditor
// of the user's tenant: an Auditor sees a user's sessions and factors and
// changes nothing.
func (s *Server) auditorMayRead(h handler) handler { return s.userAccess(h, true, false) }

// enrolling admits what auth.Self does and, besides, the session of the
// user's login held for a factor enrolment (login.StateEnrol), which no
// other route accepts: listing, enrolling, the QR code and confirming.
func (s *Server) enrolling(h handler) handler { return s.userAccess(h, false, true) }

// userAccess admits to a route of /api/users/{UserID} (registered at
// auth.Public): the user or a Site Admin as auth.Self; with auditors, on a
// read, an Auditor of the user's tenant; with held, the user's own login
// held for enrolment.
func (s *Server) userAccess(h handler, auditors, held bool) handler {
	return func(w http.ResponseWriter, r *http.Request, q *request) error {
		err := s.admit(r, auth.Self, q)
		switch {
		case err == nil:
		case auditors && fault.CodeOf(err) == fault.Forbidden && isRead(r) && q.session.UserID != "":
			root := store.Business{ID: store.RootBusinessID(q.user.TenantID), TenantID: q.user.TenantID}
			if s.login.Authorize(r.Context(), q.session, root, auth.Read) != nil {
				return err
			}
		case held && err == login.ErrNoSession && q.user.ID != "":
			if herr := s.admitHeld(r, q); herr != nil {
				if fault.CodeOf(herr) == fault.Forbidden {
					return herr
				}
				return err
			}
		default:
			return err
		}
		return h(w, r, q)
	}
}

// admitHeld admits the session of q.user's login held for enrolment.
func (s *Server) admitHeld(r *http.Request, q *request) error {
	tenant := q.user.TenantID
	sess, p, err := s.login.EnrolmentSession(r.Context(), tenant, s.authCookie(r, tenant))
	if err != nil {
		return err
	}
	if sess.UserID != q.user.ID {
		return fault.New(fault.Forbidden, "a login held for enrolment may enrol only its own factors")
	}
	if err := checkCSRF(r, tenant, sess, p.Security, !isRead(r)); err != nil && ambient(r, tenant) {
		return err
	}
	q.session, q.policy = sess, &p
	return nil
}

type factorWire struct {
	FactorID string `json:"FactorID"`
	Type     string `json:"Type"`
	Name     string `json:"Name"`
	Active   bool   `json:"Active"`
	Created  string `json:"Created"`
	LastUsed string `json:"LastUsed,omitempty"`
}

type factorsWire struct {
	Factors           []factorWire `json:"Factors"`
	RecoveryCodesLeft int          `json:"RecoveryCodesLeft"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) listFactors(w http.ResponseWriter, r *http.Request, q *request) error {
	fs, left, err := s.login.Factors(r.Context(), q.user)
	if err != nil {
		return err
	}
	out := factorsWire{Factors: []factorWire{}, RecoveryCodesLeft: left}
	for _, f := range fs {
		out.Factors = append(out.Factors, factorWire{FactorID: f.ID, Type: f.Kind, Name: f.Name, Active: f.Active,
			Created: rfc3339(f.CreatedAt), LastUsed: rfc3339(f.LastUsedAt)})
	}
	writeBody(w, http.StatusOK, q.mediaType, out)
	return nil
}

func (s *Server) enrol(w http.ResponseWriter, r *http.Request, q *request) error {
	switch r.PathValue("FactorID") {
	case "totp":
		return s.enrolTOTP(w, r, q)
	case "webauthn":
		return s.enrolWebAuthn(w, r, q)
	}
	return fault.New(fault.NotFound, "no such factor type: enrol totp or webauthn")
}

// enrolWire is the optional body of an enrolment: the factor's name.
type enrolWire struct {
	Name string `json:"Name,omitempty"`
}

// readOptional decodes a JSON body into v, or leaves v alone when there is none.
func readOptional(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil
	}
	return readBody(w, r, jsonTypes, v)
}

func (s *Server) enrolTOTP(w http.ResponseWriter, r *http.Request, q *request) error {
	var in enrolWire
	if err := readOptional(w, r, &in); err != nil {
		return err
	}
	id, secret, uri, err := s.login.EnrolTOTP(r.Context(), q.session, q.user, in.Name)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusCreated, q.mediaType, struct {
		FactorID string `json:"FactorID"`
		Secret   string `json:"Secret"`
		URI      string `json:"URI"`
	}{id, secret, uri})
	return nil
}

func (s *Server) enrolWebAuthn(w http.ResponseWriter, r *http.Request, q *request) error {
	var in enrolWire
	if err := readOptional(w, r, &in); err != nil {
		return err
	}
	id, options, err := s.login.EnrolWebAuthn(r.Context(), q.session, q.user, in.Name)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusCreated, q.mediaType, struct {
		FactorID string          `json:"FactorID"`
		Options  json.RawMessage `json:"Options"`
	}{id, options})
	return nil
}

// confirmWire is {"Code":"123456"} for an app, {"Credential":{...}} (the
// PublicKeyCredential of navigator.credentials.create) for a key.
type confirmWire struct {
	Code       string         `json:"Code,omitempty"`
	Credential jsontext.Value `json:"Credential,omitempty"`
}

func (s *Server) confirmFactor(w http.ResponseWriter, r *http.Request, q *request) error {
	var in confirmWire
	if err := readBody(w, r, jsonTypes, &in); err != nil {
		return err
	}
	answer := in.Code
	if len(in.Credential) > 0 {
		if answer != "" {
			return fault.New(fault.Invalid, "send Code or Credential, not both")
		}
		answer = string(in.Credential)
	}
	if answer == "" {
		return fault.New(fault.Invalid, "Code (an app's code) or Credential (a key's attestation) is required")
	}
	if err := s.login.ConfirmFactor(r.Context(), q.session, q.user, r.PathValue("FactorID"), answer); err != nil {
		return err
	}
	if q.session.State == login.StateEnrol {
		// The enrolment the login was held for is done: the session goes live.
		res, err := s.login.FinishEnrolment(r.Context(), q.session, q.user)
		if err != nil {
			return err
		}
		s.setSessionCookies(w, r, q.user.TenantID, res.Token, res.CSRF, res.Expires, res.Policy)
		q.session = res.Session
	}
	return s.listFactors(w, r, q)
}

// factorQR is the QR code of an app enrolment's otpauth:// URI, made here
// so that the secret goes to no other site.
func (s *Server) factorQR(w http.ResponseWriter, r *http.Request, q *request) error {
	uri, err := s.login.PendingTOTPURI(r.Context(), q.session, q.user, r.PathValue("FactorID"))
	if err != nil {
		return err
	}
	png, err := qrcode.Encode(uri, qrcode.Medium, 256)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(png))
	return nil
}

func (s *Server) removeFactor(w http.ResponseWriter, r *http.Request, q *request) error {
	if err := s.login.RemoveFactor(r.Context(), q.session, q.user, r.PathValue("FactorID")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) newRecoveryCodes(w http.ResponseWriter, r *http.Request, q *request) error {
	codes, err := s.login.NewRecoveryCodes(r.Context(), q.session, q.user)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeBody(w, http.StatusOK, q.mediaType, struct {
		Codes []string `json:"Codes"`
	}{codes})
	return nil
}

// twoFactorWire is bizsec's addition to a pending LoginResponse when the
// user has factors beyond the emailed code: which, and WebAuthn's request
// options. Absent for the platform's own email-code flow.
type twoFactorWire struct {
	Factors           []string        `json:"Factors" xml:"Factors>Factor"`
	RecoveryCodesLeft int             `json:"RecoveryCodesLeft" xml:"RecoveryCodesLeft"`
	WebAuthn          json.RawMessage `json:"WebAuthn,omitempty" xml:"-"`
	// EnrolBy is, with the pending task factor.enrolment, when the grace
	// to enrol an app or key ends.
	EnrolBy string `json:"EnrolBy,omitempty" xml:"EnrolBy,omitempty"`
	// EnrolNow: past the grace, only the enrolment routes take the session.
	EnrolNow bool `json:"EnrolNow,omitempty" xml:"EnrolNow,omitempty"`
}

func twoFactorOf(c *login.FactorChallenge) *twoFactorWire {
	if c.EmailOnly() {
		return nil
	}
	return &twoFactorWire{Factors: c.Factors, RecoveryCodesLeft: c.RecoveryCodesLeft, WebAuthn: c.WebAuthn, EnrolBy: rfc3339(c.EnrolBy),
		EnrolNow: c.EnrolNow}
}
