package httpapi

import "net/http"

// notAllowedElsewhere answers 405 with Allow, instead of the catch-all's
// 404, for a wrong method on the routes Handler registers outside s.route
// and on the login service's reset steps.
func (s *Server) notAllowedElsewhere(mux *http.ServeMux) {
	s.notAllowed(mux, "/api/passwordmanagement/sendPasswordResetCode", "POST")
	s.notAllowed(mux, "/api/passwordmanagement/validatePasswordResetCode", "POST")
	s.notAllowed(mux, "/api/login/authenticateWithPasswordResetCode", "POST")
	s.notAllowed(mux, "/api/openapi.json", "GET, HEAD")
	s.notAllowed(mux, "/healthz", "GET, HEAD")
	if s.opsOnPublic {
		s.notAllowed(mux, "/readyz", "GET, HEAD")
		s.notAllowed(mux, "/metrics", "GET, HEAD")
	}
}
