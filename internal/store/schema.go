package store

import (
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// migration is one step of the schema, written once for both databases
// in PostgreSQL's types; dialect.schema turns it into SQLite's.
type migration struct {
	name    string
	version int
	only    string // "postgres" or "sqlite" when the step is one database's; "" for both
	body    string
}

// readMigrations returns the embedded migrations in order. A name is
// NNNN_words.sql, or NNNN_words.postgres.sql / NNNN_words.sqlite.sql for a
// step only one database needs (a function PostgreSQL runs): each version
// is recorded on both, so their version numbers stay one sequence.
func readMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var list []migration
	for _, e := range entries {
		m := migration{name: e.Name()}
		num, rest, ok := strings.Cut(m.name, "_")
		if m.version, err = strconv.Atoi(num); err != nil || !ok || !strings.HasSuffix(rest, ".sql") {
			return nil, fmt.Errorf("store: migration %s: the name is not NNNN_words.sql", m.name)
		}
		switch {
		case strings.HasSuffix(rest, ".postgres.sql"):
			m.only = postgresDialect.name
		case strings.HasSuffix(rest, ".sqlite.sql"):
			m.only = sqliteDialect.name
		}
		body, err := fs.ReadFile(migrations, "migrations/"+m.name)
		if err != nil {
			return nil, err
		}
		m.body = string(body)
		list = append(list, m)
	}
	slices.SortFunc(list, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(list); i++ {
		if list[i-1].version == list[i].version {
			return nil, fmt.Errorf("store: migrations %s and %s have one version", list[i-1].name, list[i].name)
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("store: no migrations")
	}
	return list, nil
}

// sqliteTypes are the PostgreSQL types the migrations use that SQLite
// spells otherwise: an auto-numbered key (a rowid alias), and bytes. The
// rest (BIGINT, TEXT, INTEGER) SQLite reads with the same meaning.
var sqliteTypes = strings.NewReplacer("BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT", "BYTEA", "BLOB")

// schema is a migration written for PostgreSQL as this database runs it.
func (d dialect) schema(body string) string {
	if d.name == sqliteDialect.name {
		return sqliteTypes.Replace(body)
	}
	return body
}
