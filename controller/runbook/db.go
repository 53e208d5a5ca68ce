package runbook

import (
	"context"
	"database/sql"
)

// DB is the part of *sql.DB the runbook uses (a pool connected to master).
type DB interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}
