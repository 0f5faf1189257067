package httpapi

import (
	"context"
	"encoding/xml"
	"net/http"
	"strconv"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// withClient carries where and how a request logs in to the session it
// starts (shown to the session's owner).
func (s *Server) withClient(r *http.Request, method string) context.Context {
	return store.WithClient(r.Context(), store.ClientInfo{Addr: s.clientIP(r), UserAgent: r.UserAgent(), Method: method})
}

// sessionWire is one live session as its owner sees it: never its token.
// Sessions, users and their operations are bizsec's own (the platform's
// paths style, marked as extensions in the OpenAPI document).
type sessionWire struct {
	SessionID     string `json:"SessionID"`
	Created       string `json:"Created"`
	LastUsed      string `json:"LastUsed"`
	ClientAddress string `json:"ClientAddress"`
	UserAgent     string `json:"UserAgent"`
	Method        string `json:"Method"`
	Current       bool   `json:"Current"`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) getSessions(w http.ResponseWriter, r *http.Request, q *request) error {
	list, err := s.login.Sessions(r.Context(), q.session, q.user)
	if err != nil {
		return err
	}
	out := struct {
		Session []sessionWire `json:"Session"`
	}{Session: []sessionWire{}}
	for _, v := range list {
		out.Session = append(out.Session, sessionWire{SessionID: v.SessionID, Created: stamp(v.Created), LastUsed: stamp(v.LastUsed),
			ClientAddress: v.ClientAddr, UserAgent: v.UserAgent, Method: v.Method, Current: v.Current})
	}
	writeBody(w, http.StatusOK, q.mediaType, out)
	return nil
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request, q *request) error {
	if err := s.login.EndSession(r.Context(), q.session, q.user, r.PathValue("SessionID")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteSessions ends all of a user's sessions but the caller's (the user),
// or all of them (a Site Admin).
func (s *Server) deleteSessions(w http.ResponseWriter, r *http.Request, q *request) error {
	n, err := s.login.EndSessions(r.Context(), q.session, q.user)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, q.mediaType, struct {
		Ended int `json:"Ended"`
	}{n})
	return nil
}

type userRoleWire struct {
	BusinessID string `json:"BusinessID"`
	Role       string `json:"Role"`
}

type userWire struct {
	UserID         string         `json:"UserID"`
	Email          string         `json:"Email"`
	UserName       string         `json:"UserName"`
	Roles          []userRoleWire `json:"Roles"`
	SuspendedUntil string         `json:"SuspendedUntil,omitempty"`
	Disabled       bool           `json:"Disabled"`
	LastLogin      string         `json:"LastLogin,omitempty"`
	Sessions       int            `json:"Sessions"`
	PendingTasks   []string       `json:"PendingTasks"`
}

// getUsers lists the tenant's users, a page at a time by email, filtered
// by part of the email (q); before is the last email of the previous page.
func (s *Server) getUsers(w http.ResponseWriter, r *http.Request, q *request) error {
	f := store.UserFilter{Query: r.URL.Query().Get("q"), Before: r.URL.Query().Get("before"), Limit: 100}
	if len(f.Query) > 320 || len(f.Before) > 320 {
		return fault.New(fault.Invalid, "q and before are at most 320 characters")
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 || !digits(v) {
			return fault.New(fault.Invalid, "limit must be a number from 1 to 500, got %q", clip(v, 20))
		}
		f.Limit = n
	}
	list, err := s.login.Users(r.Context(), q.business.TenantID, f)
	if err != nil {
		return err
	}
	out := struct {
		User []userWire `json:"User"`
		Next string     `json:"Next,omitempty"`
	}{User: []userWire{}}
	for _, u := range list {
		uw := userWire{UserID: u.ID, Email: u.Email, UserName: u.Name, Roles: []userRoleWire{}, SuspendedUntil: stamp(u.SuspendedUntil),
			Disabled: u.Disabled, LastLogin: stamp(u.LastLogin), Sessions: u.Sessions, PendingTasks: []string{}}
		for b, role := range u.Roles {
			uw.Roles = append(uw.Roles, userRoleWire{b, string(role)})
		}
		if u.PasswordTemporary {
			uw.PendingTasks = append(uw.PendingTasks, "change.password")
		}
		out.User = append(out.User, uw)
	}
	if len(list) == f.Limit {
		out.Next = list[len(list)-1].Email
	}
	writeBody(w, http.StatusOK, q.mediaType, out)
	return nil
}

// userOfBusiness is the user in the path, who must belong to the path's
// business's tenant.
func (s *Server) userOfBusiness(r *http.Request, q *request) (store.User, error) {
	u, err := s.login.User(r.Context(), r.PathValue("UserID"))
	if err == nil && u.TenantID != q.business.TenantID {
		err = fault.New(fault.NotFound, "user %q not found", clip(r.PathValue("UserID"), 80))
	}
	return u, err
}

func (s *Server) disableUser(disabled bool) handler {
	return func(w http.ResponseWriter, r *http.Request, q *request) error {
		u, err := s.userOfBusiness(r, q)
		if err != nil {
			return err
		}
		if err := s.login.SetDisabled(r.Context(), q.session, u, disabled); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// userUpdateWire is PUT /api/users/{UserID}: the email, and for the user's
// own change the current password.
type userUpdateWire struct {
	Email    string          `json:"Email"`
	Password string          `json:"Password,omitempty"`
	Unknown  unknownElements `json:"-" xml:",any"`
}

func (w *userUpdateWire) unknown() error { return w.Unknown.err() }

func (s *Server) putUser(w http.ResponseWriter, r *http.Request, q *request) error {
	var in userUpdateWire
	if err := readBody(w, r, jsonTypes, &in); err != nil {
		return err
	}
	if in.Email == "" {
		return fault.New(fault.Invalid, "Email is required")
	}
	waiting, err := s.login.ChangeEmail(r.Context(), q.session, q.user, in.Email, in.Password, s.clientIP(r))
	if err != nil {
		return err
	}
	status := "Changed"
	if waiting {
		status = "ConfirmationCodeSent"
	}
	writeBody(w, http.StatusOK, q.mediaType, struct {
		Status string `json:"Status"`
	}{status})
	return nil
}

type emailConfirmWire struct {
	Code    string          `json:"Code"`
	Unknown unknownElements `json:"-" xml:",any"`
}

func (w *emailConfirmWire) unknown() error { return w.Unknown.err() }

func (s *Server) confirmEmail(w http.ResponseWriter, r *http.Request, q *request) error {
	var in emailConfirmWire
	if err := readBody(w, r, jsonTypes, &in); err != nil {
		return err
	}
	if err := s.login.ConfirmEmail(r.Context(), q.session, q.user, in.Code, s.clientIP(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sessionPolicyWire is bizsec's own session limit object.
type sessionPolicyWire struct {
	XMLName         xml.Name        `json:"-" xml:"SessionPolicy"`
	MaximumSessions *lenientInt     `json:"MaximumSessions,omitempty" xml:"MaximumSessions,omitempty"`
	AtLimit         *string         `json:"AtLimit,omitempty" xml:"AtLimit,omitempty"`
	Unknown         unknownElements `json:"-" xml:",any"`
}

func (w *sessionPolicyWire) unknown() error { return w.Unknown.err() }

var _ = serveObject(settingsOp[settings.SessionPolicy, sessionPolicyWire]{
	kind: settings.SessionPolicyKind, types: settingsTypes,
	out: func(p settings.SessionPolicy) any {
		return &sessionPolicyWire{MaximumSessions: ptr(lenientInt(p.MaximumSessions)), AtLimit: ptr(p.AtLimit)}
	},
	apply: func(in *sessionPolicyWire, p *settings.SessionPolicy) {
		setInt(&p.MaximumSessions, in.MaximumSessions)
		setString(&p.AtLimit, in.AtLimit)
	},
})

// getSettingsSchema serves the settings objects' descriptors and the
// security question's: what the console renders its forms from (labels,
// help, units, bounds, choices). It holds no setting's value, so anyone
// may read it.
func (s *Server) getSettingsSchema(w http.ResponseWriter, _ *http.Request, q *request) error {
	writeBody(w, http.StatusOK, q.mediaType, struct {
		Object    []*settings.Object `json:"Object"`
		Challenge *settings.Object   `json:"Challenge"`
	}{settings.Objects, settings.ChallengesKind.Object})
	return nil
}
