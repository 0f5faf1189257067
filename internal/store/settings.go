package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/settings"
)

// Kind is a settings object as the store keeps it: its name, defaults,
// secrets and cross-object rule come from its descriptor in settings.
type Kind[T any] = settings.Kind[T]

// Write says who changes settings, and on which version.
type Write struct {
	Actor   string // user ID, for the audit history
	IfMatch int64  // the version the writer saw, or AnyVersion
}

// AnyVersion is Write.IfMatch for a write that does not check the version.
const AnyVersion = -1

type cachedDoc struct {
	value   any
	version int64
}

// Get returns a business's settings object and its version (0 until first
// written: the defaults). Reads come from the cache; callers must not
// modify what they get (slices are shared).
func Get[T any](ctx context.Context, s *Store, k Kind[T], business string) (T, int64, error) {
	key := settingCacheKey(k.Name, business)
	if c, ok := s.cache.get(key); ok {
		return c.(cachedDoc).value.(T), c.(cachedDoc).version, nil
	}
	return load(ctx, s, k, business)
}

// Generation is a number that changes whenever a cached settings object or
// business may have changed (a write here or on another instance, a
// flush), and whether the cache is served now. What a caller derives from
// Get and Business calls made after Generation answered (n, true) is as
// current as their answers for as long as it answers (n, true): the caller
// may keep it instead of asking again.
func (s *Store) Generation() (n uint64, served bool) { return s.cache.generation() }

// getIn reads a settings object from memory or, through the transaction
// already open, from the database: a second connection from the pool while
// this one is held could wait on a pool that every such transaction holds.
func getIn[T any](ctx context.Context, s *Store, tx *txn, k Kind[T], business string) (T, error) {
	if c, ok := s.cache.get(settingCacheKey(k.Name, business)); ok {
		return c.(cachedDoc).value.(T), nil
	}
	var doc sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT doc FROM settings WHERE business_id = ? AND kind = ?`, business, k.Name).Scan(&doc)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		var zero T
		return zero, err
	}
	v, err := decodeDoc(doc, k.Default)
	if err == nil {
		err = openSecrets(s, k, &v)
	}
	return v, err
}

// load reads a settings object from the database, opens its secrets, and
// keeps it in the cache as opened.
func load[T any](ctx context.Context, s *Store, k Kind[T], business string) (v T, version int64, err error) {
	defer fault.Wrap(&err, "store.Get(%q, %s)", business, k.Name)
	key := settingCacheKey(k.Name, business)
	t := s.cache.ticket(key)
	var doc sql.NullString
	var ver sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT s.doc, s.version FROM businesses b
		LEFT JOIN settings s ON s.business_id = b.id AND s.kind = ? WHERE b.id = ?`, k.Name, business).Scan(&doc, &ver)
	if err != nil {
		return v, 0, notFoundIf(err, "business %q not found", business)
	}
	if v, err = decodeDoc(doc, k.Default); err != nil {
		return v, 0, err
	}
	if err := openSecrets(s, k, &v); err != nil {
		return v, 0, err
	}
	s.cache.put(key, cachedDoc{v, ver.Int64}, t)
	return v, ver.Int64, nil
}

// settingKey is the notification key of the business's object.
func settingKey(kind, business string) string { return "settings:" + business + ":" + kind }

// settingCacheKey is the object's key in the settings cache.
func settingCacheKey(kind, business string) cacheKey { return cacheKey{kind: kind, id: business} }

// Update reads, changes and writes a settings object atomically, so
// concurrent partial updates never lose each other's fields. It refuses
// with PreconditionFailed when w.IfMatch is not the current version, and
// records the change in the audit history. A change that changes nothing
// writes nothing.
//
// On SQLite it all runs in one transaction of the writer. On PostgreSQL the
// object (and the one its rule reads) is read without a transaction, the
// change computed, and then one statement (bizsec_put_setting, migration
// 0013) takes the business's settings lock, checks that both versions are
// still those read, and writes the document, the audit row and the
// notification: the lock is held for one round trip and a PUT costs one
// commit. A write that lost a race reads again.
func Update[T any](ctx context.Context, s *Store, k Kind[T], business string, w Write, fn func(*T) error) (_ T, _ int64, err error) {
	defer fault.Wrap(&err, "store.Update(%q, %s)", business, k.Name)
	key := settingCacheKey(k.Name, business)
	t := s.cache.ticket(key) // before the write: replace below must know what happened since
	var c change[T]
	if s.db.d.name == "postgres" {
		err = putPostgres(ctx, s, k, business, w, fn, &c)
	} else {
		err = s.inTx(ctx, putSQLite(ctx, s, k, business, w, fn, &c))
	}
	if err != nil {
		s.cache.invalidate(key) // harmless if nothing was written
		return c.out, c.version, err
	}
	if !c.write {
		return c.out, c.version, nil
	}
	// The next read is served the written value, not a database read.
	version := c.version
	s.cache.replace(key, cachedDoc{c.out, version}, t, func(old any) bool { return old.(cachedDoc).version >= version })
	return c.out, version, nil
}

// putSQLite is Update's write on SQLite, one job of the writer's batch.
func putSQLite[T any](ctx context.Context, s *Store, k Kind[T], business string, w Write, fn func(*T) error, c *change[T]) func(*txn) error {
	return func(tx *txn) error {
		*c = change[T]{}
		// A write that directly follows one of the same object in the
		// writer's batch starts from what that one left, without reading
		// it back.
		var cur current
		if l := tx.prev; l != nil && l.business == business && l.kind == k.Name {
			cur = l.cur
		} else {
			var err error
			if cur, err = readCurrent(ctx, tx.QueryRowContext, k, business); err != nil {
				return err
			}
		}
		if err := prepare(s, k, business, w, fn, cur, c); err != nil || !c.write {
			return err
		}
		tx.last = nil // until both statements are done
		now := millis(s.now())
		if _, err := tx.ExecContext(ctx, upsertSettingSQL,
			business, k.Name, c.body, c.version, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insertAuditSQL,
			business, k.Name, c.version, now, w.Actor, c.oldAudit, c.newAudit); err != nil {
			return err
		}
		tx.last = &written{business, k.Name, current{doc: sql.NullString{String: c.body, Valid: true}, version: c.version,
			other: cur.other, otherV: cur.otherV}}
		return nil
	}
}

const (
	readCurrentSQL = `SELECT s.doc, s.version, o.doc, o.version FROM businesses b
		LEFT JOIN settings s ON s.business_id = b.id AND s.kind = ?
		LEFT JOIN settings o ON o.business_id = b.id AND o.kind = ? WHERE b.id = ?`
	upsertSettingSQL = `INSERT INTO settings (business_id, kind, doc, version, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (business_id, kind) DO UPDATE SET doc = excluded.doc, version = excluded.version, updated_at = excluded.updated_at`
	insertAuditSQL = `INSERT INTO audit (business_id, kind, version, at, actor, old_doc, new_doc) VALUES (?, ?, ?, ?, ?, ?, ?)`
)

// current is what a write starts from: the object's stored document and
// version, and the document its rule reads and that one's version.
type current struct {
	doc, other      sql.NullString
	version, otherV int64
}

// readCurrent reads the object and the one its rule reads, in one query.
func readCurrent[T any](ctx context.Context, queryRow func(context.Context, string, ...any) *sql.Row, k Kind[T], business string) (current, error) {
	var cur current
	var ver, otherV sql.NullInt64
	err := queryRow(ctx, readCurrentSQL,
		k.Name, k.Other, business).Scan(&cur.doc, &ver, &cur.other, &otherV)
	if err != nil {
		return cur, notFoundIf(err, "business %q not found", business)
	}
	cur.version, cur.otherV = ver.Int64, otherV.Int64
	return cur, nil
}

// change is a computed write: the value as answered, the document to
// store at version, and the audit's before and after.
type change[T any] struct {
	out                      T
	version                  int64
	write                    bool // false: nothing changed
	body, oldAudit, newAudit string
}

// prepare checks the version, applies fn to the current value, checks the
// rules and seals secrets: c is the write to make, if any.
func prepare[T any](s *Store, k Kind[T], business string, w Write, fn func(*T) error, cur current, c *change[T]) error {
	c.version = cur.version
	if w.IfMatch != AnyVersion && w.IfMatch != cur.version {
		return fault.New(fault.PreconditionErr, "the %s changed since it was read (version %d, If-Match %d); read it again",
			k.Name, cur.version, w.IfMatch)
	}
	v, err := decodeDoc(cur.doc, k.Default)
	if err != nil {
		return err
	}
	stored := v
	if err := openSecrets(s, k, &v); err != nil {
		return err
	}
	if err := fn(&v); err != nil {
		return err
	}
	if k.Rule != nil {
		if err := k.Rule(v, func(into any) error { return decodeInto(cur.other, into) }); err != nil {
			return err
		}
	}
	c.out = v
	if err := sealSecrets(s, k, stored, &v); err != nil {
		return err
	}
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", k.Name, err)
	}
	if cur.doc.Valid && string(body) == cur.doc.String {
		return nil // nothing changed: no new version, nothing to audit
	}
	c.write, c.version, c.body, c.oldAudit = true, cur.version+1, string(body), auditJSON(k, stored)
	c.newAudit = c.body // with no secrets to mask, the audit's copy is the document
	if k.Secrets != nil {
		c.newAudit = auditJSON(k, v)
	}
	return nil
}

func auditJSON[T any](k Kind[T], v T) string {
	if k.Secrets != nil {
		for _, p := range k.Secrets(&v) {
			if *p != "" {
				*p = "********"
			}
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func decodeDoc[T any](doc sql.NullString, def func() T) (T, error) {
	v := def() // fields added after a row was written keep their defaults
	return v, decodeInto(doc, &v)
}

// decodeInto decodes a stored document over into; nothing when there is none.
func decodeInto(doc sql.NullString, into any) error {
	if !doc.Valid {
		return nil
	}
	if err := json.Unmarshal([]byte(doc.String), into); err != nil {
		return errors.Join(errors.New("store: corrupt settings document"), err)
	}
	return nil
}

// openSecrets opens v's sealed secrets after a read.
func openSecrets[T any](s *Store, k Kind[T], v *T) error {
	if k.Secrets == nil {
		return nil
	}
	for _, p := range k.Secrets(v) {
		if !secret.IsSealed(*p) {
			continue
		}
		if s.box == nil {
			return fmt.Errorf("store: no secret key to open a secret of %s", k.Name)
		}
		plain, err := s.box.Open(*p)
		if err != nil {
			return err
		}
		*p = plain
	}
	return nil
}

// sealSecrets keeps v's secrets out of the database in clear before a
// write. A secret that did not change keeps its stored sealed form, so
// rewriting the same settings is not a change.
func sealSecrets[T any](s *Store, k Kind[T], stored T, v *T) error {
	if k.Secrets == nil {
		return nil
	}
	was := k.Secrets(&stored)
	for i, p := range k.Secrets(v) {
		if *p == "" {
			continue
		}
		if s.box == nil {
			return fmt.Errorf("store: no secret key to seal a secret of %s", k.Name)
		}
		if before, err := s.box.Open(*was[i]); err == nil && before == *p && before != "" {
			*p = *was[i]
			continue
		}
		*p = s.box.Seal(*p)
	}
	return nil
}

// AuditEntry is one recorded settings change.
type AuditEntry struct {
	ID         int64
	BusinessID string
	Kind       string
	Version    int64
	At         time.Time
	Actor      string // user ID
	ActorEmail string // "" when the user no longer exists
	Old, New   json.RawMessage
}

// Audit returns a business's settings changes, newest first: of one kind
// when kind is not "", at most limit, and only those older than before
// when before > 0 (for paging).
func (s *Store) Audit(ctx context.Context, business, kind string, limit int, before int64) (_ []AuditEntry, err error) {
	defer fault.Wrap(&err, "store.Audit(%q)", business)
	q := `SELECT a.id, a.business_id, a.kind, a.version, a.at, a.actor, COALESCE(u.email, ''), a.old_doc, a.new_doc
		FROM audit a LEFT JOIN users u ON u.id = a.actor WHERE a.business_id = ?`
	args := []any{business}
	if kind != "" {
		q += ` AND a.kind = ?`
		args = append(args, kind)
	}
	if before > 0 {
		q += ` AND a.id < ?`
		args = append(args, before)
	}
	q += ` ORDER BY a.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		var old, new string
		if err := rows.Scan(&e.ID, &e.BusinessID, &e.Kind, &e.Version, &at, &e.Actor, &e.ActorEmail, &old, &new); err != nil {
			return nil, err
		}
		e.At, e.Old, e.New = fromMillis(at), json.RawMessage(old), json.RawMessage(new)
		out = append(out, e)
	}
	return out, rows.Err()
}
