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
	if snap.TwoFA, err = s.store.TwoFA(ctx, q.business.ID); err != nil {
		return err
	}
	if snap.Login, err = s.store.LoginPolicy(ctx, q.business.ID); err != nil {
		return err
	}
	if snap.Security, err = s.store.Security(ctx, q.business.ID); err != nil {
		return err
	}
	if snap.Challenges, _, err = store.Get(ctx, s.store, store.ChallengesKind, q.business.ID); err != nil {
		return err
	}
	if snap.Password, err = s.store.PasswordPolicy(ctx, q.business.ID); err != nil {
		return err
	}
	if snap.Factors, err = s.store.FactorPolicy(ctx, q.business.ID); err != nil {
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
