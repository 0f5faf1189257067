package store

import (
	"context"
	"strings"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
)

// ClientInfo is where and how a login came: kept with the session it
// starts, for its owner to see.
type ClientInfo struct {
	Addr, UserAgent, Method string
}

type clientKey struct{}

// WithClient carries the client of a request to the sessions it starts.
func WithClient(ctx context.Context, c ClientInfo) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientOf is the client WithClient carried.
func ClientOf(ctx context.Context) ClientInfo { return clientOf(ctx) }

func clientOf(ctx context.Context) ClientInfo {
	c, _ := ctx.Value(clientKey{}).(ClientInfo)
	return c
}

// limitSessions makes room for one more live session of userID under the
// tenant's session policy, inside the transaction that inserts it: past
// the limit it ends the oldest, or refuses.
func (s *Store) limitSessions(ctx context.Context, tx *txn, sess auth.Session) error {
	p, err := getIn(ctx, s, tx, settings.SessionPolicyKind, RootBusinessID(sess.TenantID))
	if err != nil || p.MaximumSessions == 0 {
		return err
	}
	if err := tx.lock(ctx, userKey(sess.UserID)+":sessions"); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT token_hash FROM sessions WHERE user_id = ? AND state = ? ORDER BY issued_at, last_seen_at`,
		sess.UserID, auth.StateActive)
	if err != nil {
		return err
	}
	var live [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return err
		}
		live = append(live, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	over := len(live) - p.MaximumSessions + 1
	if over <= 0 {
		return nil
	}
	if p.AtLimit == settings.RefuseNewLogin {
		return fault.New(fault.Conflict, "The user already has %d live sessions, the most the session policy allows; end one first.", len(live))
	}
	for _, h := range live[:over] {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, h); err != nil {
			return err
		}
		if err := tx.notify(ctx, sessionKey(h)); err != nil {
			return err
		}
		if err := sessionEnded(ctx, tx, sess.TenantID, sess.UserID, h, "session-limit", s.now()); err != nil {
			return err
		}
	}
	s.auth.revokeUser(sess.UserID) // the ended ones may be in memory
	return nil
}

// sessionEvent is an account event in the audit history: a session ended.
type sessionEvent struct {
	UserID    string
	Event     string // "session ended"
	SessionID string
}

func sessionEnded(ctx context.Context, tx *txn, tenant, userID string, hash []byte, actor string, at time.Time) error {
	return auditAccount(ctx, tx, tenant, actor, at, nil, sessionEvent{UserID: userID, Event: "session ended", SessionID: auth.SessionID(hash)})
}

// UserSessions returns a user's live sessions, newest first.
func (s *Store) UserSessions(ctx context.Context, userID string) (_ []auth.Session, err error) {
	defer fault.Wrap(&err, "store.UserSessions(%q)", userID)
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE user_id = ? AND state = ?
		ORDER BY issued_at DESC`, userID, auth.StateActive)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []auth.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		if v, ok := s.touches.Load(string(sess.TokenHash)); ok && v.(int64) > sess.LastSeenAt.UnixMilli() {
			sess.LastSeenAt = time.UnixMilli(v.(int64))
		}
		out = append(out, sess)
	}
	return out, rows.Err()
}

// EndSessions ends a user's live sessions: the one whose SessionID is
// only, or (only empty) all but keep (nil: all). Each end is an account
// event recorded as done by actor. It reports how many ended.
func (s *Store) EndSessions(ctx context.Context, tenant, userID, only string, keep []byte, actor string) (n int, err error) {
	defer fault.Wrap(&err, "store.EndSessions(%q)", userID)
	defer s.auth.revokeUser(userID)
	err = s.inTx(ctx, func(tx *txn) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `SELECT token_hash FROM sessions WHERE user_id = ? AND state = ?`, userID, auth.StateActive)
		if err != nil {
			return err
		}
		var end [][]byte
		for rows.Next() {
			var h []byte
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return err
			}
			switch {
			case only != "" && auth.SessionID(h) == only:
				end = append(end, h)
			case only == "" && (keep == nil || string(h) != string(keep)):
				end = append(end, h)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if only != "" && len(end) == 0 {
			return fault.New(fault.NotFound, "no live session %q", only)
		}
		for _, h := range end {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, h); err != nil {
				return err
			}
			if err := tx.notify(ctx, sessionKey(h)); err != nil {
				return err
			}
			if err := sessionEnded(ctx, tx, tenant, userID, h, actor, s.now()); err != nil {
				return err
			}
		}
		n = len(end)
		return nil
	})
	return n, err
}

// UserFilter selects users for a listing.
type UserFilter struct {
	Query  string // part of the email, case-insensitive
	Limit  int
	Before string // the last email of the previous page
}

// UserDetail is what a Site Admin sees of a user in a listing.
type UserDetail struct {
	User
	Roles          map[string]auth.Role // business -> role
	SuspendedUntil time.Time
	LastLogin      time.Time
	Sessions       int
}

// FindUsers lists a tenant's users by email, a page at a time.
func (s *Store) FindUsers(ctx context.Context, tenant string, f UserFilter, now time.Time) (_ []UserDetail, err error) {
	defer fault.Wrap(&err, "store.FindUsers(%q)", tenant)
	pattern := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(NormalizeEmail(f.Query)) + "%"
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+`, u.last_login_at,
		COALESCE((SELECT f.locked_until FROM login_failures f WHERE f.tenant_id = u.tenant_id AND f.email = u.email), 0),
		(SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.state = 'active')
		FROM users u WHERE u.tenant_id = ? AND u.email LIKE ? ESCAPE '\' AND u.email > ? ORDER BY u.email LIMIT ?`,
		tenant, pattern, f.Before, f.Limit)
	if err != nil {
		return nil, err
	}
	var out []UserDetail
	for rows.Next() {
		var d UserDetail
		var temp, disabled int
		var last, locked int64
		if err := rows.Scan(&d.ID, &d.TenantID, &d.Email, &d.Name, &d.PasswordHash, &temp, &disabled, &last, &locked, &d.Sessions); err != nil {
			rows.Close()
			return nil, err
		}
		d.PasswordTemporary, d.User.Disabled, d.LastLogin = temp != 0, disabled != 0, fromMillis(last)
		if lu := fromMillis(locked); lu.After(now) {
			d.SuspendedUntil = lu
		}
		d.PasswordHash = ""
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Roles, err = s.rolesOf(ctx, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) rolesOf(ctx context.Context, userID string) (map[string]auth.Role, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT business_id, role FROM roles WHERE user_id = ?`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]auth.Role{}
	for rows.Next() {
		var b, r string
		if err := rows.Scan(&b, &r); err != nil {
			return nil, err
		}
		out[b] = auth.Role(r)
	}
	return out, rows.Err()
}

// SetDisabled disables (ending every session at once) or enables a user;
// the change is an account event recorded as done by actor.
func (s *Store) SetDisabled(ctx context.Context, userID string, disabled bool, actor string) (err error) {
	defer fault.Wrap(&err, "store.SetDisabled(%q)", userID)
	defer s.auth.revokeUser(userID)
	return s.inTx(ctx, func(tx *txn) error {
		var tenant string
		if err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM users WHERE id = ?`, userID).Scan(&tenant); err != nil {
			return notFoundIf(err, "user %q not found", userID)
		}
		d := 0
		event := "enabled"
		if disabled {
			d, event = 1, "disabled"
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE id = ?`, d, userID); err != nil {
			return err
		}
		if disabled {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
				return err
			}
		}
		if err := auditAccount(ctx, tx, tenant, actor, s.now(), nil, struct{ UserID, Event string }{userID, event}); err != nil {
			return err
		}
		return changedAuth(ctx, tx, userID)
	})
}

// Disabled reports whether a user is disabled.
func (s *Store) Disabled(ctx context.Context, userID string) (_ bool, err error) {
	defer fault.Wrap(&err, "store.Disabled(%q)", userID)
	var d int
	err = s.db.QueryRowContext(ctx, `SELECT disabled FROM users WHERE id = ?`, userID).Scan(&d)
	return d != 0, notFoundIf(err, "user %q not found", userID)
}

// EmailChange is a user's change of email waiting for the mailed code.
type EmailChange struct {
	NewEmail string
	CodeHash []byte
	IssuedAt time.Time
	Attempts int
}

// StartEmailChange keeps a user's pending email change (replacing one
// before it).
func (s *Store) StartEmailChange(ctx context.Context, userID string, c EmailChange) (err error) {
	defer fault.Wrap(&err, "store.StartEmailChange(%q)", userID)
	_, err = s.exec(ctx, `INSERT INTO email_changes (user_id, new_email, code_hash, issued_at, attempts) VALUES (?, ?, ?, ?, 0)
		ON CONFLICT (user_id) DO UPDATE SET new_email = excluded.new_email, code_hash = excluded.code_hash,
		issued_at = excluded.issued_at, attempts = 0`, userID, NormalizeEmail(c.NewEmail), c.CodeHash, millis(c.IssuedAt))
	return err
}

// FinishEmailChange runs check on the user's pending email change in one
// transaction: when check says so the email changes (unique in the tenant)
// and the change ends; a wrong code counts an attempt, and past maxAttempts
// the change ends. It returns the email the user had.
func (s *Store) FinishEmailChange(ctx context.Context, userID string, maxAttempts int, check func(EmailChange) bool) (old string, ok bool, err error) {
	defer fault.Wrap(&err, "store.FinishEmailChange(%q)", userID)
	defer s.auth.revokeUser(userID)
	err = s.inTx(ctx, func(tx *txn) error {
		ok = false
		var c EmailChange
		var at int64
		err := tx.QueryRowContext(ctx, `SELECT new_email, code_hash, issued_at, attempts FROM email_changes WHERE user_id = ?`, userID).
			Scan(&c.NewEmail, &c.CodeHash, &at, &c.Attempts)
		if err != nil {
			return notFoundIf(err, "no email change is waiting for a code")
		}
		c.IssuedAt = fromMillis(at)
		if !check(c) {
			if c.Attempts+1 >= maxAttempts {
				_, err = tx.ExecContext(ctx, `DELETE FROM email_changes WHERE user_id = ?`, userID)
			} else {
				_, err = tx.ExecContext(ctx, `UPDATE email_changes SET attempts = attempts + 1 WHERE user_id = ?`, userID)
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM email_changes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		ok = true
		old, err = setEmail(ctx, tx, userID, c.NewEmail)
		return err
	})
	return old, ok, err
}

// SetEmail changes a user's email at once (a Site Admin's change); it
// returns the email the user had.
func (s *Store) SetEmail(ctx context.Context, userID, email string) (old string, err error) {
	defer fault.Wrap(&err, "store.SetEmail(%q)", userID)
	defer s.auth.revokeUser(userID)
	err = s.inTx(ctx, func(tx *txn) error {
		old, err = setEmail(ctx, tx, userID, email)
		return err
	})
	return old, err
}

func setEmail(ctx context.Context, tx *txn, userID, email string) (string, error) {
	email = NormalizeEmail(email)
	var tenant, old string
	if err := tx.QueryRowContext(ctx, `SELECT tenant_id, email FROM users WHERE id = ?`, userID).Scan(&tenant, &old); err != nil {
		return "", notFoundIf(err, "user %q not found", userID)
	}
	if err := tx.lock(ctx, "user:"+tenant+"/"+email); err != nil {
		return "", err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE tenant_id = ? AND email = ? AND id <> ?`, tenant, email, userID).Scan(&n); err != nil {
		return "", err
	}
	if n > 0 {
		return "", fault.New(fault.Conflict, "another user already has the email %q", email)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET email = ? WHERE id = ?`, email, userID); err != nil {
		return "", err
	}
	// The failure record follows the account, not the address.
	if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE tenant_id = ? AND email = ?`, tenant, email); err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE login_failures SET email = ? WHERE tenant_id = ? AND email = ?`, email, tenant, old); err != nil {
		return "", err
	}
	return old, changedAuth(ctx, tx, userID)
}
