package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/throttle"
)

// The budgets are a GCRA per key (the generic cell rate algorithm, which is
// a token bucket kept as one number): tat, the theoretical arrival time, is
// when the bucket would be full again. A take is allowed while
// max(tat, now) + interval <= now + period, and moves tat to
// max(tat, now) + interval. Each take is one statement, so concurrent
// takes on any number of instances serialize on the key's row.

// errRefused rolls back a Take whose budgets are not all there.
var errRefused = errors.New("store: budget spent")

// Take implements throttle.Ledger: one token from each charge, all or none,
// in one transaction: on PostgreSQL one call of bizsec_take (migration
// 0017), one round trip.
func (s *Store) Take(ctx context.Context, now time.Time, charges []throttle.Charge) (refused int, wait time.Duration, err error) {
	defer fault.Wrap(&err, "store.Take")
	refused = -1
	at := now.UnixNano()
	if s.db.d.name == "postgres" {
		keys, ivs, pers := make([]string, len(charges)), make([]int64, len(charges)), make([]int64, len(charges))
		for i, c := range charges {
			keys[i], ivs[i], pers[i] = c.Key, int64(c.Rate.Interval()), int64(c.Rate.Per)
		}
		var tat int64
		if err := s.w.QueryRowContext(ctx, `SELECT refused, refused_tat FROM bizsec_take(?, ?, ?, ?)`,
			keys, ivs, at, pers).Scan(&refused, &tat); err != nil || refused < 0 {
			return -1, 0, err
		}
		return refused, refilled(tat, at, ivs[refused], charges[refused].Rate.Per), nil
	}
	g := s.db.d.greatest
	take := `INSERT INTO budgets (key, tat) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET tat = ` + g + `(budgets.tat, ?) + ?
		WHERE ` + g + `(budgets.tat, ?) + ? <= ?
		RETURNING tat`
	err = s.inTx(ctx, func(tx *txn) error {
		refused, wait = -1, 0
		for i, c := range charges {
			iv := int64(c.Rate.Interval())
			var tat int64
			err := tx.QueryRowContext(ctx, take, c.Key, at+iv, at, iv, at, iv, at+int64(c.Rate.Per)).Scan(&tat)
			if errors.Is(err, sql.ErrNoRows) {
				if err := tx.QueryRowContext(ctx, `SELECT tat FROM budgets WHERE key = ?`, c.Key).Scan(&tat); err != nil {
					return err
				}
				refused, wait = i, refilled(tat, at, iv, c.Rate.Per)
				return errRefused
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errRefused) {
		return refused, wait, nil
	}
	return -1, 0, err
}

// refilled is how long until a bucket at tat (ns) holds the token of
// interval iv a take at 'at' asked for, given its period: at least 1 ns.
func refilled(tat, at, iv int64, per time.Duration) time.Duration {
	return max(time.Duration(max(tat, at)+iv-at-int64(per)), time.Nanosecond)
}

// GiveBack implements throttle.Ledger.
func (s *Store) GiveBack(ctx context.Context, charges []throttle.Charge) (err error) {
	defer fault.Wrap(&err, "store.GiveBack")
	if len(charges) == 0 {
		return nil
	}
	// One statement for all the charges; a key charged twice gets both back.
	var keys []string
	back := map[string]int64{}
	for _, c := range charges {
		if _, ok := back[c.Key]; !ok {
			keys = append(keys, c.Key)
		}
		back[c.Key] += int64(c.Rate.Interval())
	}
	var q strings.Builder
	args := make([]any, 0, 3*len(keys))
	q.WriteString(`UPDATE budgets SET tat = tat - CASE key`)
	for _, k := range keys {
		q.WriteString(` WHEN ? THEN CAST(? AS BIGINT)`)
		args = append(args, k, back[k])
	}
	q.WriteString(` ELSE 0 END WHERE key IN (?` + strings.Repeat(`, ?`, len(keys)-1) + `)`)
	for _, k := range keys {
		args = append(args, k)
	}
	_, err = s.exec(ctx, q.String(), args...)
	return err
}

// ResetBudgets implements throttle.Ledger.
func (s *Store) ResetBudgets(ctx context.Context, key string) (err error) {
	defer fault.Wrap(&err, "store.ResetBudgets")
	return s.inTx(ctx, func(tx *txn) error { return resetBudgets(ctx, tx, key) })
}

func resetBudgets(ctx context.Context, tx *txn, key string) error {
	below := key + "|"
	_, err := tx.ExecContext(ctx, `DELETE FROM budgets WHERE key = ? OR substr(key, 1, ?) = ?`,
		key, utf8.RuneCountInString(below), below)
	return err
}

// pruneBudgets deletes full buckets: a key that comes back starts full anyway.
func (s *Store) pruneBudgets(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM budgets WHERE tat <= ?`, now.UnixNano())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

var _ throttle.Ledger = (*Store)(nil)
