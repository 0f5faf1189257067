package httpapi

import (
	"encoding/xml"
	"net/http"
	"time"
)

// suspendedUsersWire lists the suspended users of a business's tenant.
type suspendedUsersWire struct {
	XMLName       xml.Name            `json:"-" xml:"SuspendedUsers"`
	SuspendedUser []suspendedUserWire `json:"SuspendedUser" xml:"SuspendedUser"`
}

type suspendedUserWire struct {
	UserID         string `json:"UserID" xml:"UserID"`
	Email          string `json:"Email" xml:"Email"`
	UserName       string `json:"UserName" xml:"UserName"`
	SuspendedUntil string `json:"SuspendedUntil" xml:"SuspendedUntil"` // RFC 3339
}

// getSuspended lists the users whose accounts the login policy suspended.
func (s *Server) getSuspended(w http.ResponseWriter, r *http.Request, q *request) error {
	list, err := s.login.Suspensions(r.Context(), q.business.TenantID)
	if err != nil {
		return err
	}
	out := suspendedUsersWire{SuspendedUser: []suspendedUserWire{}}
	for _, sus := range list {
		out.SuspendedUser = append(out.SuspendedUser, suspendedUserWire{UserID: sus.UserID, Email: sus.Email,
			UserName: sus.Name, SuspendedUntil: sus.Until.UTC().Format(time.RFC3339)})
	}
	writeBody(w, http.StatusOK, q.mediaType, out)
	return nil
}

// unlock lifts a user's suspension; the admin is recorded in the audit history.
func (s *Server) unlock(w http.ResponseWriter, r *http.Request, q *request) error {
	if err := s.login.Unlock(r.Context(), q.business.TenantID, r.PathValue("UserID"), q.session.UserID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
