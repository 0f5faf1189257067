package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/settings"
)

// Settings kinds, one row each per business.
const (
	kindTwoFA      = "twofasettings"
	kindLogin      = "loginpolicy"
	kindSecurity   = "securitysettings"
	kindChallenges = "challenges"
)

// TwoFA returns the business's 2FA settings.
func (s *Store) TwoFA(ctx context.Context, business string) (settings.TwoFA, error) {
	return getDoc(ctx, s, business, kindTwoFA, settings.DefaultTwoFA)
}

// UpdateTwoFA applies fn to the business's 2FA settings and stores the result.
func (s *Store) UpdateTwoFA(ctx context.Context, business string, fn func(*settings.TwoFA) error) (settings.TwoFA, error) {
	return updateDoc(ctx, s, business, kindTwoFA, settings.DefaultTwoFA, fn)
}

// LoginPolicy returns the business's login policy.
func (s *Store) LoginPolicy(ctx context.Context, business string) (settings.LoginPolicy, error) {
	return getDoc(ctx, s, business, kindLogin, settings.DefaultLoginPolicy)
}

// UpdateLoginPolicy applies fn to the business's login policy and stores the result.
func (s *Store) UpdateLoginPolicy(ctx context.Context, business string, fn func(*settings.LoginPolicy) error) (settings.LoginPolicy, error) {
	return updateDoc(ctx, s, business, kindLogin, settings.DefaultLoginPolicy, fn)
}

// Security returns the business's security settings, CaptchaSiteSecret opened.
func (s *Store) Security(ctx context.Context, business string) (settings.Security, error) {
	sec, err := getDoc(ctx, s, business, kindSecurity, settings.DefaultSecurity)
	if err != nil {
		return sec, err
	}
	return sec, s.openSecurity(&sec)
}

// UpdateSecurity applies fn to the business's security settings and stores
// the result, with CaptchaSiteSecret sealed: it is never stored in clear.
func (s *Store) UpdateSecurity(ctx context.Context, business string, fn func(*settings.Security) error) (settings.Security, error) {
	sec, err := updateDoc(ctx, s, business, kindSecurity, settings.DefaultSecurity, func(sec *settings.Security) error {
		if err := s.openSecurity(sec); err != nil {
			return err
		}
		if err := fn(sec); err != nil {
			return err
		}
		if sec.CaptchaSiteSecret != "" {
			if s.box == nil {
				return errors.New("store: no secret key to seal CaptchaSiteSecret")
			}
			sec.CaptchaSiteSecret = s.box.Seal(sec.CaptchaSiteSecret)
		}
		return nil
	})
	if err != nil {
		return sec, err
	}
	return sec, s.openSecurity(&sec)
}

func (s *Store) openSecurity(sec *settings.Security) error {
	if !secret.IsSealed(sec.CaptchaSiteSecret) {
		return nil
	}
	if s.box == nil {
		return errors.New("store: no secret key to open CaptchaSiteSecret")
	}
	plain, err := s.box.Open(sec.CaptchaSiteSecret)
	sec.CaptchaSiteSecret = plain
	return err
}

// Challenges returns the business's security questions.
func (s *Store) Challenges(ctx context.Context, business string) ([]settings.Challenge, error) {
	return getDoc(ctx, s, business, kindChallenges, settings.DefaultChallenges)
}

// UpdateChallenges applies fn to the business's security questions and stores the result.
func (s *Store) UpdateChallenges(ctx context.Context, business string, fn func(*[]settings.Challenge) error) ([]settings.Challenge, error) {
	return updateDoc(ctx, s, business, kindChallenges, settings.DefaultChallenges, fn)
}

func docKey(business, kind string) string { return "settings:" + business + ":" + kind }

// getDoc reads one settings object; a business that never saved it has the
// defaults. Reads are served from the cache; callers must not modify what
// they get (slices are shared).
func getDoc[T any](ctx context.Context, s *Store, business, kind string, def func() T) (T, error) {
	key := docKey(business, kind)
	if v, ok := s.cache.get(key); ok {
		return v.(T), nil
	}
	t := s.cache.ticket(key)
	var doc sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT s.doc FROM businesses b
		LEFT JOIN settings s ON s.business_id = b.id AND s.kind = ? WHERE b.id = ?`, kind, business).Scan(&doc)
	if err != nil {
		var zero T
		return zero, notFoundIf(err, "business %q not found", business)
	}
	v, err := decodeDoc(doc, def)
	if err == nil {
		s.cache.put(key, v, t)
	}
	return v, err
}

// updateDoc reads, changes and writes one settings object in a single
// transaction, so concurrent partial updates never lose each other's fields.
func updateDoc[T any](ctx context.Context, s *Store, business, kind string, def func() T, fn func(*T) error) (T, error) {
	var out T
	key := docKey(business, kind)
	err := s.inTx(ctx, func(tx *txn) error {
		if err := tx.lock(ctx, key); err != nil {
			return err
		}
		var doc sql.NullString
		var version sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT s.doc, s.version FROM businesses b
			LEFT JOIN settings s ON s.business_id = b.id AND s.kind = ? WHERE b.id = ?`, kind, business).Scan(&doc, &version)
		if err != nil {
			return notFoundIf(err, "business %q not found", business)
		}
		v, err := decodeDoc(doc, def)
		if err != nil {
			return err
		}
		if err := fn(&v); err != nil {
			return err
		}
		body, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("store: encode %s: %w", kind, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO settings (business_id, kind, doc, version, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (business_id, kind) DO UPDATE SET doc = excluded.doc, version = excluded.version, updated_at = excluded.updated_at`,
			business, kind, string(body), version.Int64+1, millis(s.now()))
		if err != nil {
			return err
		}
		out = v
		return tx.notify(ctx, key)
	})
	s.cache.invalidate(key) // after commit, and after failure too: harmless
	return out, err
}

func decodeDoc[T any](doc sql.NullString, def func() T) (T, error) {
	if !doc.Valid {
		return def(), nil
	}
	v := def() // fields added after a row was written keep their defaults
	if err := json.Unmarshal([]byte(doc.String), &v); err != nil {
		return v, errors.Join(errors.New("store: corrupt settings document"), err)
	}
	return v, nil
}
