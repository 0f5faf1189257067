package httpapi

import (
	"net/http"

	"github.com/bizsec/bizsec/internal/auth"
)

// getMyRole tells the console what the caller may do in the business, so
// that an Auditor sees read-only pages instead of learning it from a 403.
func (s *Server) getMyRole(w http.ResponseWriter, r *http.Request, q *request) error {
	role, err := s.store.Role(r.Context(), q.session.UserID, q.business.ID)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, q.mediaType, struct {
		Role     string `json:"Role"`
		CanWrite bool   `json:"CanWrite"`
	}{string(role), role.Allows(auth.Admin)})
	return nil
}
