package main

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bizsec/bizsec/internal/durable"
	"github.com/bizsec/bizsec/internal/secret"
	"github.com/bizsec/bizsec/internal/store"
	"golang.org/x/crypto/argon2"
)

// A backup is a tar file: a manifest, an online snapshot of the SQLite
// database (VACUUM INTO: consistent, taken while the server writes) and,
// with -with-key, the secret key sealed under a passphrase.
const (
	backupManifest = "bizsec-backup.json"
	backupDB       = "bizsec.db"
	backupKey      = "secret.key.sealed"
)

type manifest struct {
	Format  int       `json:"format"`
	Created time.Time `json:"created"`
	Schema  int       `json:"schema_version"`
	Key     string    `json:"key"` // "sealed" or "none"
}

// pgDumpRecipe is what backup and restore say on PostgreSQL.
const pgDumpRecipe = `on PostgreSQL, back up with pg_dump and keep BIZSEC_SECRET_KEY with it:
  pg_dump --format=custom --file=bizsec.dump "$BIZSEC_DATABASE"
  pg_restore --clean --if-exists --no-owner --dbname="$BIZSEC_DATABASE" bizsec.dump`

const keyReminder = `WARNING: this backup does not hold the secret key. Without the key the restored
database loses its sealed CAPTCHA secrets and encrypted challenge answers, and every
pending 2FA or reset code. Keep a copy of %s
(or BIZSEC_SECRET_KEY) apart from this file, or back up again with -with-key.`

func backupCmd(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	db := addDBFlags(fs)
	out := fs.String("o", "", "file to write the backup to (a tar file; not overwritten)")
	withKey := fs.Bool("with-key", false, "include the secret key, sealed under a passphrase (BIZSEC_BACKUP_PASSPHRASE, or typed, or the first line of standard input)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *out == "" {
		return usagef("bizsec backup needs -o FILE")
	}
	if store.IsPostgres(*db.database) {
		return usagef("%s", pgDumpRecipe)
	}
	dbFile := filepath.Join(*db.data, "bizsec.db")
	if _, err := os.Stat(dbFile); err != nil {
		return failed("no database to back up at %s: %s", dbFile, cause(err))
	}
	var sealedKey []byte
	if *withKey {
		key, err := currentKey(*db.data)
		if err != nil {
			return failed("secret key: %s", plain(err))
		}
		pass, err := passphrase(stdin, true)
		if err != nil {
			return err
		}
		if sealedKey, err = sealKey(key, pass); err != nil {
			return err
		}
	}
	snapshot, err := os.MkdirTemp(filepath.Dir(*out), ".bizsec-backup-")
	if err != nil {
		return failed("%s", cause(err))
	}
	defer os.RemoveAll(snapshot)
	snapFile := filepath.Join(snapshot, "bizsec.db")
	schema, err := vacuumInto(ctx, *db.data, snapFile)
	if err != nil {
		return failed("snapshot of %s: %s", dbFile, plain(err))
	}
	m := manifest{Format: 1, Created: time.Now().UTC(), Schema: schema, Key: "none"}
	if sealedKey != nil {
		m.Key = "sealed"
	}
	if err := writeBackup(*out, m, snapFile, sealedKey); err != nil {
		return failed("writing %s: %s", *out, cause(err))
	}
	fmt.Fprintf(stdout, "backup written to %s (schema version %d, secret key %s)\n", *out, schema, m.Key)
	if sealedKey == nil {
		fmt.Fprintf(os.Stderr, keyReminder+"\n", filepath.Join(*db.data, "secret.key"))
	}
	return nil
}

// vacuumInto writes a consistent copy of the live database to dst and
// returns its schema version. It reads through its own connection, so a
// running server goes on writing meanwhile.
func vacuumInto(ctx context.Context, data, dst string) (int, error) {
	conn, err := sql.Open("sqlite", "file:"+filepath.Join(data, "bizsec.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var schema int
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&schema); err != nil {
		return 0, fmt.Errorf("not a bizsec database: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return 0, err
	}
	return schema, os.Chmod(dst, 0o600)
}

func writeBackup(name string, m manifest, dbFile string, sealedKey []byte) (err error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(name)
		}
	}()
	tw := tar.NewWriter(f)
	add := func(entry string, r io.Reader, size int64) error {
		if err := tw.WriteHeader(&tar.Header{Name: entry, Mode: 0o600, Size: size, ModTime: m.Created, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	mb, _ := json.MarshalIndent(m, "", "  ")
	if err := add(backupManifest, strings.NewReader(string(mb)), int64(len(mb))); err != nil {
		return err
	}
	db, err := os.Open(dbFile)
	if err != nil {
		return err
	}
	defer db.Close()
	fi, err := db.Stat()
	if err != nil {
		return err
	}
	if err := add(backupDB, db, fi.Size()); err != nil {
		return err
	}
	if sealedKey != nil {
		if err := add(backupKey, strings.NewReader(string(sealedKey)), int64(len(sealedKey))); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// currentKey is the key the server uses: BIZSEC_SECRET_KEY, else the key
// file (never created here).
func currentKey(data string) ([]byte, error) {
	if v := os.Getenv("BIZSEC_SECRET_KEY"); v != "" {
		return secret.ParseKey(v)
	}
	b, err := os.ReadFile(filepath.Join(data, "secret.key"))
	if err != nil {
		return nil, err
	}
	return secret.ParseKey(string(b))
}

// passphrase reads the backup passphrase as other secrets are read.
func passphrase(stdin io.Reader, confirm bool) (string, error) {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	lines := bufio.NewReader(stdin)
	p, err := secretInput("BIZSEC_BACKUP_PASSPHRASE", "Backup passphrase: ", lines)
	if err != nil {
		return "", usagef("the passphrase: give it in BIZSEC_BACKUP_PASSPHRASE or on standard input (%s)", cause(err))
	}
	if confirm && len(p) < 12 {
		return "", usagef("the backup passphrase must be at least 12 characters")
	}
	return p, nil
}

// sealKey seals the key under a passphrase: argon2id (64 MiB, t=3) of the
// passphrase with a random salt keys AES-256-GCM. Layout: salt(16) nonce(12) ciphertext.
func sealKey(key []byte, pass string) ([]byte, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	gcm, err := passphraseAEAD(pass, salt)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	out := append(salt, nonce...)
	return gcm.Seal(out, nonce, key, []byte("bizsec backup key v1")), nil
}

func openKey(sealed []byte, pass string) ([]byte, error) {
	if len(sealed) < 16+12+16 {
		return nil, errors.New("the sealed key is truncated")
	}
	gcm, err := passphraseAEAD(pass, sealed[:16])
	if err != nil {
		return nil, err
	}
	key, err := gcm.Open(nil, sealed[16:28], sealed[28:], []byte("bizsec backup key v1"))
	if err != nil {
		return nil, errors.New("wrong passphrase, or the backup was altered")
	}
	return key, nil
}

func passphraseAEAD(pass string, salt []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(argon2.IDKey([]byte(pass), salt, 3, 64<<10, 1, 32))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func restoreCmd(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	db := addDBFlags(fs)
	in := fs.String("i", "", "backup file written by bizsec backup")
	force := fs.Bool("force", false, "replace an existing database (and key): they are kept beside it as *.replaced-TIME")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *in == "" {
		return usagef("bizsec restore needs -i FILE")
	}
	if store.IsPostgres(*db.database) {
		return usagef("%s", pgDumpRecipe)
	}
	data := *db.data
	m, dbBytes, sealedKey, err := readBackup(*in)
	if err != nil {
		return failed("%s: %s", *in, err)
	}
	var key []byte
	if m.Key == "sealed" {
		pass, err := passphrase(stdin, false)
		if err != nil {
			return err
		}
		if key, err = openKey(sealedKey, pass); err != nil {
			return failed("%s: %s", *in, err)
		}
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return failed("%s", cause(err))
	}
	unlock, err := store.LockDataDir(data) // no server may serve the directory meanwhile
	if err != nil {
		return failed("%s", plain(err))
	}
	defer unlock()
	dbFile := filepath.Join(data, "bizsec.db")
	keyFile := filepath.Join(data, "secret.key")
	stamp := time.Now().UTC().Format("20060102T150405Z")
	if _, err := os.Stat(dbFile); err == nil {
		if !*force {
			return refused("%s already holds a database; restore into an empty -data, or give -force to replace it (it is kept as bizsec.db.replaced-TIME)", data)
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(dbFile+suffix, dbFile+".replaced-"+stamp+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return failed("%s", cause(err))
			}
		}
	}
	if key != nil && os.Getenv("BIZSEC_SECRET_KEY") == "" {
		if old, err := os.ReadFile(keyFile); err == nil {
			if oldKey, err := secret.ParseKey(string(old)); err != nil || string(oldKey) != string(key) {
				if !*force {
					return refused("%s holds another secret key; give -force to replace it (it is kept as secret.key.replaced-TIME)", keyFile)
				}
				if err := os.Rename(keyFile, keyFile+".replaced-"+stamp); err != nil {
					return failed("%s", cause(err))
				}
			}
		}
		if err := durable.WriteFile(keyFile, []byte(encodeKey(key)+"\n"), 0o600); err != nil {
			return failed("writing %s: %s", keyFile, cause(err))
		}
	}
	if err := durable.WriteFile(dbFile+".restoring", dbBytes, 0o600); err != nil {
		return failed("%s", cause(err))
	}
	if err := os.Rename(dbFile+".restoring", dbFile); err != nil {
		return failed("%s", cause(err))
	}
	// Opening migrates it to this bizsec's schema and proves it readable.
	st, err := store.OpenSQLite(ctx, data)
	if err != nil {
		return failed("the restored database does not open: %s", plain(err))
	}
	st.Close()
	fmt.Fprintf(stdout, "restored %s (taken %s, schema version %d) into %s\n", *in, m.Created.Format(time.RFC3339), m.Schema, data)
	switch {
	case key != nil && os.Getenv("BIZSEC_SECRET_KEY") != "":
		if cur, err := secret.ParseKey(os.Getenv("BIZSEC_SECRET_KEY")); err != nil || string(cur) != string(key) {
			fmt.Fprintln(os.Stderr, "WARNING: BIZSEC_SECRET_KEY differs from the key in the backup; set it to the backup's key:", encodeKeyHint)
		}
	case key == nil:
		fmt.Fprintf(os.Stderr, "WARNING: the backup holds no secret key: put the original key in %s (or BIZSEC_SECRET_KEY) before serving\n", keyFile)
	}
	return nil
}

func encodeKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

const encodeKeyHint = "restore it without BIZSEC_SECRET_KEY set to have it written to DATA/secret.key"

func readBackup(name string) (m manifest, db, sealedKey []byte, err error) {
	f, err := os.Open(name)
	if err != nil {
		return m, nil, nil, errors.New(cause(err))
	}
	defer f.Close()
	tr := tar.NewReader(f)
	seen := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return m, nil, nil, fmt.Errorf("not a bizsec backup: %w", err)
		}
		switch h.Name {
		case backupManifest, backupDB, backupKey:
			b, err := io.ReadAll(tr)
			if err != nil {
				return m, nil, nil, err
			}
			seen[h.Name] = b
		default:
			return m, nil, nil, fmt.Errorf("not a bizsec backup: unexpected entry %q", h.Name)
		}
	}
	if err := json.Unmarshal(seen[backupManifest], &m); err != nil || m.Format != 1 || seen[backupDB] == nil {
		return m, nil, nil, errors.New("not a bizsec backup (format 1)")
	}
	if (m.Key == "sealed") != (seen[backupKey] != nil) {
		return m, nil, nil, errors.New("the backup's manifest and its key entry disagree")
	}
	return m, seen[backupDB], seen[backupKey], nil
}

// migrateCmd applies the migrations (a job before a rollout), or with
// -status says where the database stands; it exits 1 when migrations are
// pending or the database is newer than this bizsec.
func migrateCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	db := addDBFlags(fs)
	status := fs.Bool("status", false, "only say which schema version the database has and which this bizsec needs")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	known, err := knownSchema(ctx)
	if err != nil {
		return failed("%s", plain(err))
	}
	if *status {
		applied, err := appliedSchema(ctx, *db.database, *db.data)
		if err != nil {
			return failed("cannot read the schema version: %s", plain(err))
		}
		switch {
		case applied == known:
			fmt.Fprintf(stdout, "schema version %d: up to date\n", applied)
			return nil
		case applied < known:
			fmt.Fprintf(stdout, "schema version %d; this bizsec needs %d: %d migration(s) pending (bizsec migrate applies them)\n", applied, known, known-applied)
		default:
			fmt.Fprintf(stdout, "schema version %d: newer than this bizsec (%d); run the newer bizsec\n", applied, known)
		}
		return errFailing
	}
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	st.Close()
	fmt.Fprintf(stdout, "schema version %d: up to date\n", known)
	return nil
}

// knownSchema is the newest schema version this bizsec knows: what a
// scratch database migrates to. (Both dialects number their migrations
// alike.)
func knownSchema(ctx context.Context) (int, error) {
	dir, err := os.MkdirTemp("", "bizsec-schema-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		return 0, err
	}
	st.Close()
	return appliedSchema(ctx, "", dir)
}

// appliedSchema reads the database's schema version without migrating.
func appliedSchema(ctx context.Context, database, data string) (int, error) {
	driver, dsn := "pgx", database
	if !store.IsPostgres(database) {
		file := filepath.Join(data, "bizsec.db")
		if _, err := os.Stat(file); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return 0, nil // no database yet: every migration is pending
			}
			return 0, err
		}
		driver, dsn = "sqlite", "file:"+file+"?mode=ro&_pragma=busy_timeout(10000)"
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var exists int
	table := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if driver == "pgx" {
		table = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
	}
	if err := conn.QueryRowContext(ctx, table).Scan(&exists); err != nil || exists == 0 {
		return 0, err
	}
	var v int
	err = conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
