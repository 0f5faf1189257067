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

// Kind is one of a business's settings objects: how it is named, its
// defaults, and what must happen to its secrets on the way in and out.
type Kind[T any] struct {
	Name string
	def  func() T
	open func(*Store, *T) error               // after reading: unseal secrets
	seal func(s *Store, stored T, v *T) error // before writing: seal secrets (stored is as read)
	mask func(T) T                            // for the audit history: hide secrets
	// other names the object that check reads, and check applies rules
	// that span this object and that one, under the business's settings
	// lock, on the other's stored document (invalid: never written), so two
	// writes to different objects cannot each pass and together break a rule.
	other string
	check func(v T, other sql.NullString) error
}

// The four settings objects.
var (
	TwoFAKind       = Kind[settings.TwoFA]{Name: "twofasettings", def: settings.DefaultTwoFA}
	LoginPolicyKind = Kind[settings.LoginPolicy]{Name: "loginpolicy", def: settings.DefaultLoginPolicy}
	SecurityKind    = Kind[settings.Security]{Name: "securitysettings", def: settings.DefaultSecurity,
		open: openSecurity, seal: sealSecurity, mask: maskSecurity, other: challengesName, check: checkSecurity}
	ChallengesKind = Kind[[]settings.Challenge]{Name: "challenges", def: settings.DefaultChallenges,
		other: securityName, check: checkChallenges}
)

// The names and defaults the cross-object checks read; a Kind cannot
// refer to another Kind variable without an initialization cycle.
const (
	securityName   = "securitysettings"
	challengesName = "challenges"
)

func checkSecurity(sec settings.Security, other sql.NullString) error {
	cs, err := decodeDoc(other, settings.DefaultChallenges)
	if err != nil {
		return err
	}
	return settings.CheckChallengeCount(sec.ChallengeCount, cs)
}

func checkChallenges(cs []settings.Challenge, other sql.NullString) error {
	sec, err := decodeDoc(other, settings.DefaultSecurity)
	if err != nil {
		return err
	}
	return settings.CheckChallengeCount(sec.ChallengeCount, cs)
}

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
	key := k.cacheKey(business)
	if c, ok := s.cache.get(key); ok {
		return c.(cachedDoc).value.(T), c.(cachedDoc).version, nil
	}
	return load(ctx, s, k, business)
}

// load reads a settings object from the database, opens its secrets, and
// keeps it in the cache as opened.
func load[T any](ctx context.Context, s *Store, k Kind[T], business string) (v T, version int64, err error) {
	defer fault.Wrap(&err, "store.Get(%q, %s)", business, k.Name)
	key := k.cacheKey(business)
	t := s.cache.ticket(key)
	var doc sql.NullString
	var ver sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT s.doc, s.version FROM businesses b
		LEFT JOIN settings s ON s.business_id = b.id AND s.kind = ? WHERE b.id = ?`, k.Name, business).Scan(&doc, &ver)
	if err != nil {
		return v, 0, notFoundIf(err, "business %q not found", business)
	}
	if v, err = decodeDoc(doc, k.def); err != nil {
		return v, 0, err
	}
	if k.open != nil {
		if err := k.open(s, &v); err != nil {
			return v, 0, err
		}
	}
	s.cache.put(key, cachedDoc{v, ver.Int64}, t)
	return v, ver.Int64, nil
}

// key is the cache and notification key of the business's object.
func (k Kind[T]) key(business string) string { return "settings:" + business + ":" + k.Name }

// cacheKey is the object's key in the settings cache.
func (k Kind[T]) cacheKey(business string) cacheKey { return cacheKey{kind: k.Name, id: business} }

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
	key := k.cacheKey(business)
	t := s.cache.ticket(key) // before the write: replace below must know what happened since
	var c change[T]
	if s.db.d.name == "postgres" {
		err = putPostgres(ctx, s, k, business, w, fn, &c)
	} else {
		err = s.inTx(ctx, func(tx *txn) error {
			c = change[T]{}
			cur, err := readCurrent(ctx, s.writeStmts(tx).QueryRowContext, k, business)
			if err != nil {
				return err
			}
			if err := prepare(s, k, business, w, fn, cur, &c); err != nil || !c.write {
				return err
			}
			now := millis(s.now())
			if _, err := s.writeStmts(tx).ExecContext(ctx, upsertSettingSQL,
				business, k.Name, c.body, c.version, now); err != nil {
				return err
			}
			_, err = s.writeStmts(tx).ExecContext(ctx, insertAuditSQL,
				business, k.Name, c.version, now, w.Actor, c.oldAudit, c.newAudit)
			return err
		})
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

// stmtTx runs statements in a transaction of the SQLite writer through
// statements prepared once on its one connection: modernc's SQLite spends
// more on compiling a statement than on running it.
type stmtTx struct {
	s  *Store
	tx *txn
}

func (s *Store) writeStmts(tx *txn) stmtTx { return stmtTx{s, tx} }

func (t stmtTx) stmt(ctx context.Context, q string) (*sql.Stmt, bool) {
	st, ok := t.s.stmts.Load(q)
	if !ok {
		return nil, false
	}
	return t.tx.StmtContext(ctx, st.(*sql.Stmt)), true
}

// prepareWrites prepares writeQueries on the writer's connection, before
// the writer takes it.
func (s *Store) prepareWrites(ctx context.Context) error {
	for _, q := range writeQueries {
		st, err := s.w.PrepareContext(ctx, s.w.d.rebind(q))
		if err != nil {
			return err
		}
		s.stmts.Store(q, st)
	}
	return nil
}

// writeQueries are the statements of settings writes and write batches.
var writeQueries = []string{readCurrentSQL, upsertSettingSQL, insertAuditSQL, `SAVEPOINT write`, `ROLLBACK TO write`, `RELEASE write`}

const (
	readCurrentSQL = `SELECT s.doc, s.version, o.doc, o.version FROM businesses b
		LEFT JOIN settings s ON s.business_id = b.id AND s.kind = ?
		LEFT JOIN settings o ON o.business_id = b.id AND o.kind = ? WHERE b.id = ?`
	upsertSettingSQL = `INSERT INTO settings (business_id, kind, doc, version, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (business_id, kind) DO UPDATE SET doc = excluded.doc, version = excluded.version, updated_at = excluded.updated_at`
	insertAuditSQL = `INSERT INTO audit (business_id, kind, version, at, actor, old_doc, new_doc) VALUES (?, ?, ?, ?, ?, ?, ?)`
)

func (t stmtTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st, ok := t.stmt(ctx, q); ok {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

func (t stmtTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st, ok := t.stmt(ctx, q); ok {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

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
		k.Name, k.other, business).Scan(&cur.doc, &ver, &cur.other, &otherV)
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
	v, err := decodeDoc(cur.doc, k.def)
	if err != nil {
		return err
	}
	stored, old := v, auditJSON(k, v)
	if k.open != nil {
		if err := k.open(s, &v); err != nil {
			return err
		}
	}
	if err := fn(&v); err != nil {
		return err
	}
	if k.check != nil {
		if err := k.check(v, cur.other); err != nil {
			return err
		}
	}
	c.out = v
	if k.seal != nil {
		if err := k.seal(s, stored, &v); err != nil {
			return err
		}
	}
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", k.Name, err)
	}
	if cur.doc.Valid && string(body) == cur.doc.String {
		return nil // nothing changed: no new version, nothing to audit
	}
	c.write, c.version, c.body, c.oldAudit, c.newAudit = true, cur.version+1, string(body), old, auditJSON(k, v)
	return nil
}

func auditJSON[T any](k Kind[T], v T) string {
	if k.mask != nil {
		v = k.mask(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
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

func openSecurity(s *Store, sec *settings.Security) error {
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

// sealSecurity keeps CaptchaSiteSecret out of the database in clear. A
// secret that did not change keeps its stored sealed form, so rewriting the
// same settings is not a change.
func sealSecurity(s *Store, stored settings.Security, sec *settings.Security) error {
	if sec.CaptchaSiteSecret == "" {
		return nil
	}
	if s.box == nil {
		return errors.New("store: no secret key to seal CaptchaSiteSecret")
	}
	if before, err := s.box.Open(stored.CaptchaSiteSecret); err == nil && before == sec.CaptchaSiteSecret && before != "" {
		sec.CaptchaSiteSecret = stored.CaptchaSiteSecret
		return nil
	}
	sec.CaptchaSiteSecret = s.box.Seal(sec.CaptchaSiteSecret)
	return nil
}

func maskSecurity(sec settings.Security) settings.Security {
	if sec.CaptchaSiteSecret != "" {
		sec.CaptchaSiteSecret = "********"
	}
	return sec
}

// TwoFA returns the business's 2FA settings.
func (s *Store) TwoFA(ctx context.Context, business string) (settings.TwoFA, error) {
	v, _, err := Get(ctx, s, TwoFAKind, business)
	return v, err
}

// LoginPolicy returns the business's login policy.
func (s *Store) LoginPolicy(ctx context.Context, business string) (settings.LoginPolicy, error) {
	v, _, err := Get(ctx, s, LoginPolicyKind, business)
	return v, err
}

// Security returns the business's security settings, CaptchaSiteSecret opened.
func (s *Store) Security(ctx context.Context, business string) (settings.Security, error) {
	v, _, err := Get(ctx, s, SecurityKind, business)
	return v, err
}

// Challenges returns the business's security questions.
func (s *Store) Challenges(ctx context.Context, business string) ([]settings.Challenge, error) {
	v, _, err := Get(ctx, s, ChallengesKind, business)
	return v, err
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
