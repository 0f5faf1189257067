package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// settingsOp serves GET and PUT of one settings object of type T whose
// wire form is W.
type settingsOp[T any, W any] struct {
	kind  store.Kind[T]
	types mediaTypes
	out   func(T) any
	// change turns a decoded body into the change to make, checking what
	// needs more than the body.
	change func(s *Server, r *http.Request, c caller, in *W) (func(*T) error, error)
}

// etag renders a settings version as a strong entity tag.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch reads If-Match: a version the client read, "*", or absent.
func ifMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return store.AnyVersion, nil
	}
	v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
	if err != nil || v < 0 {
		return 0, fault.New(fault.PreconditionErr, "If-Match %q is not an ETag this server gave", clip(h, 40))
	}
	return v, nil
}

func (op settingsOp[T, W]) get(s *Server) handler {
	return func(w http.ResponseWriter, r *http.Request, mt string) error {
		c, err := s.authorize(r, false)
		if err != nil {
			return err
		}
		v, version, err := store.Get(r.Context(), s.store, op.kind, c.business.ID)
		if err != nil {
			return err
		}
		w.Header().Set("ETag", etag(version))
		writeBody(w, http.StatusOK, mt, op.out(v))
		return nil
	}
}

func (op settingsOp[T, W]) put(s *Server) handler {
	return func(w http.ResponseWriter, r *http.Request, mt string) error {
		c, err := s.authorize(r, true)
		if err != nil {
			return err
		}
		match, err := ifMatch(r)
		if err != nil {
			return err
		}
		var in W
		if err := readBody(w, r, op.types, &in); err != nil {
			return err
		}
		change, err := op.change(s, r, c, &in)
		if err != nil {
			return err
		}
		v, version, err := store.Update(r.Context(), s.store, op.kind, c.business.ID,
			store.Write{Actor: c.session.UserID, IfMatch: match}, change)
		if err != nil {
			return err
		}
		s.log.InfoContext(r.Context(), "settings changed", "business", c.business.ID, "setting", op.kind.Name,
			"version", version, "user", c.session.UserID)
		w.Header().Set("ETag", etag(version))
		writeBody(w, http.StatusOK, mt, op.out(v))
		return nil
	}
}

var (
	twoFAOp = settingsOp[settings.TwoFA, twoFAWire]{
		kind: store.TwoFAKind, types: twoFATypes,
		out: func(t settings.TwoFA) any { return twoFAOut(t) },
		change: func(s *Server, r *http.Request, c caller, in *twoFAWire) (func(*settings.TwoFA) error, error) {
			p, err := s.policy(r.Context(), c.business.TenantID)
			if err == nil && in.DeviceCookieValue != nil {
				err = p.security.CheckText("DeviceCookieValue", *in.DeviceCookieValue)
			}
			return func(t *settings.TwoFA) error { in.apply(t); return t.Validate() }, err
		},
	}
	loginPolicyOp = settingsOp[settings.LoginPolicy, loginPolicyWire]{
		kind: store.LoginPolicyKind, types: settingsTypes,
		out: func(p settings.LoginPolicy) any { return loginPolicyOut(p) },
		change: func(_ *Server, _ *http.Request, _ caller, in *loginPolicyWire) (func(*settings.LoginPolicy) error, error) {
			return func(p *settings.LoginPolicy) error { in.apply(p); return p.Validate() }, nil
		},
	}
	securityOp = settingsOp[settings.Security, securityWire]{
		kind: store.SecurityKind, types: settingsTypes,
		out: func(sec settings.Security) any { return securityOut(sec) },
		change: func(s *Server, r *http.Request, c caller, in *securityWire) (func(*settings.Security) error, error) {
			challenges, err := s.store.Challenges(r.Context(), c.business.ID)
			return func(sec *settings.Security) error {
				in.apply(sec)
				if err := sec.Validate(); err != nil {
					return err
				}
				return enoughChallenges(sec.ChallengeCount, challenges)
			}, err
		},
	}
	challengesOp = settingsOp[[]settings.Challenge, challengesWire]{
		kind: store.ChallengesKind, types: settingsTypes,
		out: func(cs []settings.Challenge) any { return challengesOut(cs, true) },
		change: func(s *Server, r *http.Request, c caller, in *challengesWire) (func(*[]settings.Challenge) error, error) {
			set := in.challenges()
			if err := settings.ValidateChallenges(set); err != nil {
				return nil, err
			}
			p, err := s.policy(r.Context(), c.business.TenantID)
			if err != nil {
				return nil, err
			}
			for i, ch := range set {
				if err := p.security.CheckText(fmt.Sprintf("Challenge[%d].ChallengeQuestion", i), ch.ChallengeQuestion); err != nil {
					return nil, err
				}
			}
			sec, err := s.store.Security(r.Context(), c.business.ID)
			if err == nil {
				err = enoughChallenges(sec.ChallengeCount, set)
			}
			return func(cs *[]settings.Challenge) error { *cs = set; return nil }, err
		},
	}
)

// getChallenges needs no login and no CSRF header: it helps a user log in.
func (s *Server) getChallenges(w http.ResponseWriter, r *http.Request, mt string) error {
	include := false
	switch v := strings.ToLower(r.URL.Query().Get("IncludeInactive")); v {
	case "", "false":
	case "true":
		include = true
	default:
		return fault.New(fault.Invalid, "IncludeInactive must be true or false, got %q", clip(v, 40))
	}
	cs, version, err := store.Get(r.Context(), s.store, store.ChallengesKind, r.PathValue("BusinessID"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(version))
	writeBody(w, http.StatusOK, mt, challengesOut(cs, include))
	return nil
}

// enoughChallenges keeps users able to answer ChallengeCount questions.
func enoughChallenges(count int, cs []settings.Challenge) error {
	active := 0
	for _, c := range cs {
		if c.Active {
			active++
		}
	}
	if active < count {
		return fault.New(fault.Invalid, "ChallengeCount is %d but only %d challenges are active", count, active)
	}
	return nil
}

// readBody checks the request's Content-Type and decodes its body into v.
func readBody(w http.ResponseWriter, r *http.Request, types mediaTypes, v any) error {
	ct, err := types.requestType(r)
	if err != nil {
		return err
	}
	return decodeBody(w, r, ct, v)
}
