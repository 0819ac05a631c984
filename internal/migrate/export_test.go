package migrate

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// UpTo migrates through conn to version, for tests of one migration's
// upgrade of existing rows.
func UpTo(ctx context.Context, conn *pgx.Conn, version int32) error {
	m, err := newMigrator(ctx, conn)
	if err != nil {
		return err
	}
	if err := m.MigrateTo(ctx, version); err != nil {
		return fmt.Errorf("migrate to %d: %w", version, err)
	}
	return nil
}
