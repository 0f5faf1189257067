package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
)

// ErrClosed is returned by a store that was closed.
var ErrClosed = errClosed

// EnqueueReset records a request to mail a reset code to an email of a
// tenant, known or not; NextReset hands it to the mail worker.
func (s *Store) EnqueueReset(ctx context.Context, tenant, email string, now time.Time) (err error) {
	defer fault.Wrap(&err, "store.EnqueueReset(%q)", tenant)
	_, err = s.exec(ctx, `INSERT INTO reset_requests (tenant_id, email, requested_at) VALUES (?, ?, ?)`,
		tenant, NormalizeEmail(email), millis(now))
	return err
}

// NextReset takes the oldest queued reset request off the queue; ok is
// false when there is none. Instances sharing PostgreSQL may take from one
// queue: each row goes to one of them.
func (s *Store) NextReset(ctx context.Context) (tenant, email string, ok bool, err error) {
	if s.closed.Load() {
		return "", "", false, ErrClosed
	}
	defer fault.Wrap(&err, "store.NextReset")
	var waiting int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM reset_requests LIMIT 1) q`).Scan(&waiting); err != nil || waiting == 0 {
		return "", "", false, err // an empty queue costs no write
	}
	err = s.inTx(ctx, func(tx *txn) error {
		err := tx.QueryRowContext(ctx, `DELETE FROM reset_requests WHERE id = (SELECT id FROM reset_requests ORDER BY id LIMIT 1)
			RETURNING tenant_id, email`).Scan(&tenant, &email)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		ok = err == nil
		return err
	})
	return tenant, email, ok, err
}

// ResetQueueLen is how many reset requests wait for a mail worker.
func (s *Store) ResetQueueLen(ctx context.Context) (n int, err error) {
	defer fault.Wrap(&err, "store.ResetQueueLen")
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM reset_requests`).Scan(&n)
	return n, err
}
