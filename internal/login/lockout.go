package login

import (
	"context"
	"time"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/store"
)

// lockoutChange names the failure record a lockout update changes, and
// who and when for the audit history.
type lockoutChange struct {
	Tenant string
	Email  string
	// UserID is the user the email belongs to; "" for an unknown email,
	// whose record is kept the same way but leaves no audit entry.
	UserID string
	// Actor is who lifts a suspension by hand (an admin's user ID, "cli");
	// "" for the login service itself.
	Actor string
	Now   time.Time
}

// accountEvent is the audit document of a suspension changing.
type accountEvent struct {
	UserID    string `json:"UserID"`
	Email     string `json:"Email"`
	Event     string `json:"Event"` // suspended, unlocked, expired
	Suspended bool   `json:"Suspended"`
	Until     string `json:"Until,omitempty"`
}

// updateLockout applies fn to the failure record of an email in tx: a
// suspension found over is first recorded as expired and cleared, and a
// suspension fn starts or lifts is recorded too, all in the transaction
// that changes the record.
func updateLockout(tx *store.Tx, c lockoutChange, fn func(*auth.Lockout) error) error {
	l, err := tx.Lockout(c.Tenant, c.Email)
	if err != nil {
		return err
	}
	stored := l
	if !l.LockedUntil.IsZero() && !l.Locked(c.Now) {
		if err := recordAccountEvent(tx, c, "", l.LockedUntil, accountEvent{Event: "expired"}); err != nil {
			return err
		}
		l.LockedUntil = time.Time{}
	}
	before := l
	if err := fn(&l); err != nil {
		return err
	}
	switch {
	case l.Locked(c.Now) && !before.Locked(c.Now):
		err = recordAccountEvent(tx, c, "", c.Now, accountEvent{Event: "suspended", Suspended: true,
			Until: l.LockedUntil.UTC().Format(time.RFC3339Nano)})
	case before.Locked(c.Now) && !l.Locked(c.Now):
		err = recordAccountEvent(tx, c, c.Actor, c.Now, accountEvent{Event: "unlocked"})
	}
	if err != nil || l == stored {
		return err
	}
	return tx.PutLockout(c.Tenant, c.Email, l)
}

func recordAccountEvent(tx *store.Tx, c lockoutChange, actor string, at time.Time, e accountEvent) error {
	if c.UserID == "" {
		return nil
	}
	e.UserID, e.Email = c.UserID, store.NormalizeEmail(c.Email)
	before := accountEvent{UserID: e.UserID, Email: e.Email, Suspended: !e.Suspended}
	return tx.AuditAccount(c.Tenant, actor, at, before, e)
}

// lockout runs updateLockout in a transaction of its own.
func (s *Service) lockout(ctx context.Context, c lockoutChange, fn func(*auth.Lockout) error) error {
	return s.store.Transact(ctx, func(tx *store.Tx) error { return updateLockout(tx, c, fn) })
}

// Prune deletes what can no longer be used (store.Prune), first recording
// as expired the suspensions that ended by themselves, at the time they
// ended. A login after the end does the same for its own account. It
// returns how many rows went.
func (s *Service) Prune(ctx context.Context, now time.Time) (int64, error) {
	ended, err := s.store.EndedSuspensions(ctx, now)
	if err != nil {
		return 0, err
	}
	for _, sus := range ended {
		c := lockoutChange{Tenant: sus.Tenant, Email: sus.Email, UserID: sus.UserID, Now: now}
		if err := s.lockout(ctx, c, func(*auth.Lockout) error { return nil }); err != nil {
			return 0, err
		}
	}
	return s.store.Prune(ctx, now, ResetValidFor)
}
