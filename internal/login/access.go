package login

import (
	"context"
	"log/slog"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/store"
)

// Business returns a business by ID.
func (s *Service) Business(ctx context.Context, id string) (store.Business, error) {
	return s.store.Business(ctx, id)
}

// Authorize admits a session of the business's tenant to an operation at
// level on the business.
func (s *Service) Authorize(ctx context.Context, sess auth.Session, biz store.Business, level auth.Access) error {
	if level <= auth.LoggedIn {
		return nil
	}
	role, err := s.store.Role(ctx, sess.UserID, biz.ID)
	if err != nil {
		return err
	}
	switch {
	case role.Allows(level):
		return nil
	case role == auth.RoleAuditor:
		return fault.New(fault.Forbidden, "changing settings requires the Site Admin role")
	}
	return fault.New(fault.Forbidden, "this operation requires the Site Admin role for business %q", biz.ID)
}

// AuthorizeUser admits the user u itself, or a Site Admin of u's tenant.
func (s *Service) AuthorizeUser(ctx context.Context, sess auth.Session, u store.User) error {
	if sess.UserID == u.ID {
		return nil
	}
	role, err := s.store.Role(ctx, sess.UserID, store.RootBusinessID(u.TenantID))
	if err == nil && !role.Allows(auth.Admin) {
		err = fault.New(fault.Forbidden, "only the user or a Site Admin may do this")
	}
	return err
}

// Suspensions lists the users of a tenant suspended now.
func (s *Service) Suspensions(ctx context.Context, tenant string) ([]store.Suspension, error) {
	return s.store.Suspensions(ctx, tenant, s.now())
}

// Unlock lifts a user's suspension and clears its failure count; actor
// (a user ID, or "cli") is recorded in the audit history.
func (s *Service) Unlock(ctx context.Context, tenant, userID, by string) error {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	if u.TenantID != tenant {
		return fault.New(fault.NotFound, "user %q not found", userID)
	}
	was := false
	err = s.lockout(ctx, lockoutChange{Tenant: tenant, Email: u.Email, UserID: u.ID, Actor: by, Now: s.now()},
		func(l *auth.Lockout) error {
			if was = l.Locked(s.now()); was {
				*l = auth.Lockout{}
			}
			return nil
		})
	if err != nil {
		return err
	}
	if !was {
		return fault.New(fault.NotFound, "user %q is not suspended", userID)
	}
	s.resetFailures(ctx, tenant, u.Email)
	s.event(ctx, slog.LevelInfo, "account unlocked", "account-unlock", "success", actor{tenant: tenant, userID: u.ID, email: u.Email},
		slog.String("by", by))
	return nil
}
