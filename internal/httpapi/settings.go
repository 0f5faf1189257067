package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
)

func (s *Server) getTwoFA(w http.ResponseWriter, r *http.Request, mt string) error {
	c, err := s.authorize(r, false)
	if err != nil {
		return err
	}
	t, err := s.store.TwoFA(r.Context(), c.business.ID)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, mt, twoFAOut(t))
	return nil
}

func (s *Server) putTwoFA(w http.ResponseWriter, r *http.Request, mt string) error {
	c, err := s.authorize(r, true)
	if err != nil {
		return err
	}
	var in twoFAWire
	if err := readBody(w, r, twoFATypes, &in); err != nil {
		return err
	}
	t, err := s.store.UpdateTwoFA(r.Context(), c.business.ID, func(t *settings.TwoFA) error {
		in.apply(t)
		return t.Validate()
	})
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, mt, twoFAOut(t))
	return nil
}

func (s *Server) getLoginPolicy(w http.ResponseWriter, r *http.Request, mt string) error {
	c, err := s.authorize(r, false)
	if err != nil {
		return err
	}
	p, err := s.store.LoginPolicy(r.Context(), c.business.ID)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, mt, loginPolicyOut(p))
	return nil
}

func (s *Server) putLoginPolicy(w http.ResponseWriter, r *http.Request, mt string) error {
	c, err := s.authorize(r, true)
	if err != nil {
		return err
	}
	var in loginPolicyWire
	if err := readBody(w, r, settingsTypes, &in); err != nil {
		return err
	}
	p, err := s.store.UpdateLoginPolicy(r.Context(), c.business.ID, func(p *settings.LoginPolicy) error {
		in.apply(p)
		return p.Validate()
	})
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, mt, loginPolicyOut(p))
	return nil
}

func (s *Server) getSecurity(w http.ResponseWriter, r *http.Request, mt string) error {
	c, err := s.authorize(r, false)
	if err != nil {
		return err
	}
	sec, err := s.store.Security(r.Context(), c.business.ID)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, mt, securityOut(sec))
	return nil
}

func (s *Server) putSecurity(w http.ResponseWriter, r *http.Request, mt string) error {
	c, err := s.authorize(r, true)
	if err != nil {
		return err
	}
	var in securityWire
	if err := readBody(w, r, settingsTypes, &in); err != nil {
		return err
	}
	ctx := r.Context()
	challenges, err := s.store.Challenges(ctx, c.business.ID)
	if err != nil {
		return err
	}
	sec, err := s.store.UpdateSecurity(ctx, c.business.ID, func(sec *settings.Security) error {
		in.apply(sec)
		if err := sec.Validate(); err != nil {
			return err
		}
		return enoughChallenges(sec.ChallengeCount, challenges)
	})
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, mt, securityOut(sec))
	return nil
}

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
	cs, err := s.store.Challenges(r.Context(), r.PathValue("BusinessID"))
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, mt, challengesOut(cs, include))
	return nil
}

func (s *Server) putChallenges(w http.ResponseWriter, r *http.Request, mt string) error {
	c, err := s.authorize(r, true)
	if err != nil {
		return err
	}
	var in challengesWire
	if err := readBody(w, r, settingsTypes, &in); err != nil {
		return err
	}
	set := in.challenges()
	if err := settings.ValidateChallenges(set); err != nil {
		return err
	}
	ctx := r.Context()
	p, err := s.policy(ctx, c.business.TenantID)
	if err != nil {
		return err
	}
	for i, ch := range set {
		if err := p.security.CheckText(fmt.Sprintf("Challenge[%d].ChallengeQuestion", i), ch.ChallengeQuestion); err != nil {
			return err
		}
	}
	sec, err := s.store.Security(ctx, c.business.ID)
	if err != nil {
		return err
	}
	if err := enoughChallenges(sec.ChallengeCount, set); err != nil {
		return err
	}
	saved, err := s.store.UpdateChallenges(ctx, c.business.ID, func(cs *[]settings.Challenge) error {
		*cs = set
		return nil
	})
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, mt, challengesOut(saved, true))
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
