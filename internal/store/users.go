package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
)

// User is a person who logs in to a tenant.
type User struct {
	ID           string // {uuid}.{tenant}, the platform's UserFDN
	TenantID     string
	Email        string
	Name         string
	PasswordHash string
	// PasswordTemporary: an administrator set the password; the next login
	// must change it.
	PasswordTemporary bool
	// Disabled: a Site Admin disabled the user, who cannot log in.
	Disabled bool
}

// CreateUser adds a user to a tenant; the ID is assigned here.
func (s *Store) CreateUser(ctx context.Context, u User) (_ User, err error) {
	defer fault.Wrap(&err, "store.CreateUser(%q, %q)", u.TenantID, u.Email)
	u.Email = NormalizeEmail(u.Email)
	u.ID = uuid.NewString() + "." + u.TenantID
	err = s.inTx(ctx, func(tx *txn) error {
		if err := tx.lock(ctx, "user:"+u.TenantID+"/"+u.Email); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants WHERE id = ?`, u.TenantID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fault.New(fault.NotFound, "tenant %q not found", u.TenantID)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE tenant_id = ? AND email = ?`, u.TenantID, u.Email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fault.New(fault.Conflict, "a user with email %q already exists", u.Email)
		}
		temp := 0
		if u.PasswordTemporary {
			temp = 1
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO users (id, tenant_id, email, name, password_hash, password_temporary, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.TenantID, u.Email, u.Name, u.PasswordHash, temp, millis(s.now()))
		return err
	})
	return u, err
}

const userColumns = `id, tenant_id, email, name, password_hash, password_temporary, disabled`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var temp, disabled int
	err := row.Scan(&u.ID, &u.TenantID, &u.Email, &u.Name, &u.PasswordHash, &temp, &disabled)
	u.PasswordTemporary, u.Disabled = temp != 0, disabled != 0
	return u, err
}

// UserByEmail returns the tenant's user with that email.
func (s *Store) UserByEmail(ctx context.Context, tenant, email string) (_ User, err error) {
	defer fault.Wrap(&err, "store.UserByEmail(%q)", tenant)
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = ? AND email = ?`,
		tenant, NormalizeEmail(email)))
	return u, notFoundIf(err, "user not found")
}

// UserByID returns the user with that ID.
func (s *Store) UserByID(ctx context.Context, id string) (_ User, err error) {
	defer fault.Wrap(&err, "store.UserByID(%q)", id)
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	return u, notFoundIf(err, "user %q not found", id)
}

// NormalizeEmail is the form in which emails are stored and looked up.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// GrantRole gives a user a role in a business of the user's tenant.
func (s *Store) GrantRole(ctx context.Context, userID, business string, role auth.Role) (err error) {
	defer fault.Wrap(&err, "store.GrantRole(%q, %q)", userID, business)
	if !role.Valid() {
		return fault.New(fault.Invalid, "role must be %s or %s", auth.RoleSiteAdmin, auth.RoleAuditor)
	}
	defer s.auth.revokeUser(userID)
	return s.inTx(ctx, func(tx *txn) error {
		var userTenant, bizTenant string
		if err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM users WHERE id = ?`, userID).Scan(&userTenant); err != nil {
			return notFoundIf(err, "user %q not found", userID)
		}
		if err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM businesses WHERE id = ?`, business).Scan(&bizTenant); err != nil {
			return notFoundIf(err, "business %q not found", business)
		}
		if userTenant != bizTenant {
			return fault.New(fault.Invalid, "user and business belong to different tenants")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO roles (user_id, business_id, role) VALUES (?, ?, ?)
			ON CONFLICT (user_id, business_id) DO UPDATE SET role = excluded.role`, userID, business, string(role)); err != nil {
			return err
		}
		return changedAuth(ctx, tx, userID)
	})
}

// changedAuth tells every server, in tx, that what it keeps in memory of
// the user's sessions and roles is stale: other instances by notification,
// SQLite servers (this change may come from the CLI) by the change counter.
func changedAuth(ctx context.Context, tx *txn, userID string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE auth_changes SET n = n + 1 WHERE id = 1`); err != nil {
		return err
	}
	return tx.notify(ctx, userKey(userID))
}

// Role returns the user's role in a business, or RoleNone; from memory
// when it is there.
func (s *Store) Role(ctx context.Context, userID, business string) (_ auth.Role, err error) {
	if role, ok := s.auth.role(userID, business); ok {
		return role, nil
	}
	defer fault.Wrap(&err, "store.Role(%q, %q)", userID, business)
	t := s.auth.ticket()
	var role string
	err = s.db.QueryRowContext(ctx, `SELECT role FROM roles WHERE user_id = ? AND business_id = ?`, userID, business).Scan(&role)
	if err == sql.ErrNoRows {
		role, err = string(auth.RoleNone), nil
	}
	if err == nil {
		s.auth.storeRole(userID, business, auth.Role(role), t)
	}
	return auth.Role(role), err
}

// UserInfo is a user as an operator lists them.
type UserInfo struct {
	User
	Roles          map[string]auth.Role // business ID -> role
	SuspendedUntil time.Time            // zero when not suspended
}

// Users lists a tenant's users by email, with their roles and suspensions.
func (s *Store) Users(ctx context.Context, tenant string) (_ []UserInfo, err error) {
	defer fault.Wrap(&err, "store.Users(%q)", tenant)
	rows, err := s.db.QueryContext(ctx, `SELECT u.id, u.tenant_id, u.email, u.name, COALESCE(f.locked_until, 0)
		FROM users u LEFT JOIN login_failures f ON f.tenant_id = u.tenant_id AND f.email = u.email
		WHERE u.tenant_id = ? ORDER BY u.email`, tenant)
	if err != nil {
		return nil, err
	}
	var out []UserInfo
	index := map[string]int{}
	now := s.now()
	for rows.Next() {
		var u UserInfo
		var until int64
		if err := rows.Scan(&u.ID, &u.TenantID, &u.Email, &u.Name, &until); err != nil {
			rows.Close()
			return nil, err
		}
		if t := fromMillis(until); t.After(now) {
			u.SuspendedUntil = t
		}
		u.Roles = map[string]auth.Role{}
		index[u.ID] = len(out)
		out = append(out, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	roles, err := s.db.QueryContext(ctx, `SELECT r.user_id, r.business_id, r.role FROM roles r
		JOIN users u ON u.id = r.user_id WHERE u.tenant_id = ?`, tenant)
	if err != nil {
		return nil, err
	}
	defer roles.Close()
	for roles.Next() {
		var id, biz, role string
		if err := roles.Scan(&id, &biz, &role); err != nil {
			return nil, err
		}
		if i, ok := index[id]; ok {
			out[i].Roles[biz] = auth.Role(role)
		}
	}
	return out, roles.Err()
}

// RevokeRole takes a user's role in a business away.
func (s *Store) RevokeRole(ctx context.Context, userID, business string) (err error) {
	defer fault.Wrap(&err, "store.RevokeRole(%q, %q)", userID, business)
	defer s.auth.revokeUser(userID)
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM roles WHERE user_id = ? AND business_id = ?`, userID, business); err != nil {
			return err
		}
		return changedAuth(ctx, tx, userID)
	})
}

// DeleteUser deletes a user with their sessions, roles, devices, answers
// and failure record; the audit history keeps their ID.
func (s *Store) DeleteUser(ctx context.Context, userID string) (err error) {
	defer fault.Wrap(&err, "store.DeleteUser(%q)", userID)
	defer s.auth.revokeUser(userID)
	return s.inTx(ctx, func(tx *txn) error {
		var tenant, email string
		if err := tx.QueryRowContext(ctx, `SELECT tenant_id, email FROM users WHERE id = ?`, userID).Scan(&tenant, &email); err != nil {
			return notFoundIf(err, "user %q not found", userID)
		}
		for _, q := range []string{`DELETE FROM sessions WHERE user_id = ?`, `DELETE FROM roles WHERE user_id = ?`,
			`DELETE FROM devices WHERE user_id = ?`, `DELETE FROM user_answers WHERE user_id = ?`,
			`DELETE FROM password_resets WHERE user_id = ?`, `DELETE FROM users WHERE id = ?`} {
			if _, err := tx.ExecContext(ctx, q, userID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE tenant_id = ? AND email = ?`, tenant, email); err != nil {
			return err
		}
		return changedAuth(ctx, tx, userID)
	})
}
