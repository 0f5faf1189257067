package httpapi

import (
	"net/http"

	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

type findingWire struct {
	ID          string `json:"ID"`
	Requirement string `json:"Requirement"`
	Status      string `json:"Status"`
	Reason      string `json:"Reason"`
}

// getSecurityCheck rates the business's current settings against named
// requirements (settings.Check).
func (s *Server) getSecurityCheck(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx := r.Context()
	var snap settings.Snapshot
	var err error
	if snap.TwoFA, _, err = store.Get(ctx, s.store, settings.TwoFAKind, q.business.ID); err != nil {
		return err
	}
	if snap.Login, _, err = store.Get(ctx, s.store, settings.LoginPolicyKind, q.business.ID); err != nil {
		return err
	}
	if snap.Security, _, err = store.Get(ctx, s.store, settings.SecurityKind, q.business.ID); err != nil {
		return err
	}
	if snap.Challenges, _, err = store.Get(ctx, s.store, settings.ChallengesKind, q.business.ID); err != nil {
		return err
	}
	if snap.Password, _, err = store.Get(ctx, s.store, settings.PasswordPolicyKind, q.business.ID); err != nil {
		return err
	}
	if snap.Factors, _, err = store.Get(ctx, s.store, settings.FactorPolicyKind, q.business.ID); err != nil {
		return err
	}
	out := struct {
		Finding []findingWire `json:"Finding"`
		Failing bool          `json:"Failing"`
	}{Finding: []findingWire{}}
	findings := settings.Check(snap)
	for _, f := range findings {
		out.Finding = append(out.Finding, findingWire{f.ID, f.Requirement, string(f.Status), f.Reason})
	}
	out.Failing = settings.Failing(findings)
	writeBody(w, http.StatusOK, q.mediaType, out)
	return nil
}
