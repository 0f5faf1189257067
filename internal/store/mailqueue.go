package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
)

// QueuedMail is one message of the mail queue, opened.
type QueuedMail struct {
	ID                string
	To, Subject, Body string
	Attempts          int // tries made before this one
}

type sealedMail struct{ To, Subject, Body string }

// EnqueueMail writes a message to the mail queue, sealed under the
// store's secret box (its body holds codes), due at once.
func (s *Store) EnqueueMail(ctx context.Context, to, subject, body string, now time.Time) (err error) {
	defer fault.Wrap(&err, "store.EnqueueMail")
	if s.box == nil {
		return fault.New(fault.Internal, "the mail queue needs the secret box (WithSecretBox)")
	}
	plain, err := json.Marshal(sealedMail{to, subject, body})
	if err != nil {
		return err
	}
	id := make([]byte, 16)
	rand.Read(id)
	_, err = s.exec(ctx, `INSERT INTO mail_queue (id, message, attempts, next_at, created_at) VALUES (?, ?, 0, ?, ?)`,
		hex.EncodeToString(id), s.box.Seal(string(plain)), millis(now), millis(now))
	return err
}

// TakeMail takes up to limit messages that are due at now, each for a
// lease: until now+lease no other call takes it, so one of the instances
// sharing a database sends it, and one whose sender died comes due again.
// The caller ends each with MailDone or RetryMail.
func (s *Store) TakeMail(ctx context.Context, now time.Time, lease time.Duration, limit int) (_ []QueuedMail, err error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	defer fault.Wrap(&err, "store.TakeMail")
	rows, err := s.db.QueryContext(ctx, `SELECT id, message, attempts, next_at FROM mail_queue WHERE next_at <= ? ORDER BY next_at LIMIT ?`,
		millis(now), limit)
	if err != nil {
		return nil, err
	}
	type due struct {
		id, message string
		attempts    int
		at          int64
	}
	var found []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.message, &d.attempts, &d.at); err != nil {
			rows.Close()
			return nil, err
		}
		found = append(found, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []QueuedMail
	for _, d := range found {
		// Taken only if no one else moved it since it was read.
		res, err := s.exec(ctx, `UPDATE mail_queue SET next_at = ? WHERE id = ? AND next_at = ?`, millis(now.Add(lease)), d.id, d.at)
		if err != nil {
			return out, err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			continue
		}
		plain, err := s.box.Open(d.message)
		var m sealedMail
		if err == nil {
			err = json.Unmarshal([]byte(plain), &m)
		}
		if err != nil {
			// Sealed under another key, or damaged: it can never be sent.
			s.log.Error("a queued mail cannot be opened; it is dropped", "err", err)
			if _, err := s.exec(ctx, `DELETE FROM mail_queue WHERE id = ?`, d.id); err != nil {
				return out, err
			}
			continue
		}
		out = append(out, QueuedMail{ID: d.id, To: m.To, Subject: m.Subject, Body: m.Body, Attempts: d.attempts})
	}
	return out, nil
}

// MailDone removes a message from the queue: sent, or given up.
func (s *Store) MailDone(ctx context.Context, id string) (err error) {
	defer fault.Wrap(&err, "store.MailDone")
	_, err = s.exec(ctx, `DELETE FROM mail_queue WHERE id = ?`, id)
	return err
}

// RetryMail records a failed try of a message and makes it due again at.
func (s *Store) RetryMail(ctx context.Context, id string, attempts int, at time.Time) (err error) {
	defer fault.Wrap(&err, "store.RetryMail")
	_, err = s.exec(ctx, `UPDATE mail_queue SET attempts = ?, next_at = ? WHERE id = ?`, attempts, millis(at), id)
	return err
}

// MailQueueLen is how many messages wait in the mail queue.
func (s *Store) MailQueueLen(ctx context.Context) (n int, err error) {
	defer fault.Wrap(&err, "store.MailQueueLen")
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM mail_queue`).Scan(&n)
	return n, err
}
