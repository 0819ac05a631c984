// Package migrate applies the database schema, embedded in the binary, with
// jackc/tern. Tern holds a PostgreSQL advisory lock while it migrates, so two
// processes migrating the same database at once take turns, and a second run
// finds nothing to do.
package migrate

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed migrations/*.sql
var files embed.FS

// versionTable records which migrations a database has.
const versionTable = "schema_version"

// Up brings the database at databaseURL to the newest schema and reports the
// version it ended at.
func Up(ctx context.Context, databaseURL string) (int32, error) {
	// Parsed as a pool URL so pool_* parameters (pool_max_conns, which the
	// service's DATABASE_URL may carry) are understood, not sent to
	// PostgreSQL as settings it would refuse.
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return 0, fmt.Errorf("migrate: DATABASE_URL: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return 0, fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return UpConn(ctx, conn)
}

// UpConn migrates through an open connection.
func UpConn(ctx context.Context, conn *pgx.Conn) (int32, error) {
	m, err := newMigrator(ctx, conn)
	if err != nil {
		return 0, err
	}
	if err := m.Migrate(ctx); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	v, err := m.GetCurrentVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: read version: %w", err)
	}
	return v, nil
}

// newMigrator is a migrator of conn with the embedded migrations loaded.
func newMigrator(ctx context.Context, conn *pgx.Conn) (*migrate.Migrator, error) {
	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	sub, err := fs.Sub(files, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if err := m.LoadMigrations(sub); err != nil {
		return nil, fmt.Errorf("migrate: load: %w", err)
	}
	return m, nil
}

// Checksum identifies the set of migrations, so a test template database
// built from one set is never used with another.
func Checksum() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(files, "migrations", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("migrate: checksum: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
