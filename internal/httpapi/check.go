package httpapi

import (
	"net/http"

	"github.com/bizsec/bizsec/internal/settings"
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
	findings, err := s.settings.Check(r.Context(), q.business.ID)
	if err != nil {
		return err
	}
	out := struct {
		Finding []findingWire `json:"Finding"`
		Failing bool          `json:"Failing"`
	}{Finding: []findingWire{}}
	for _, f := range findings {
		out.Finding = append(out.Finding, findingWire{f.ID, f.Requirement, string(f.Status), f.Reason})
	}
	out.Failing = settings.Failing(findings)
	writeBody(w, http.StatusOK, q.mediaType, out)
	return nil
}
