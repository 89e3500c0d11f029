// Package pgmigrate applies Pictor's schema (the embedded files of package
// migrations) to a Postgres database with golang-migrate. It is the one place
// that knows how migrations run, so the control plane's `migrate` command and
// the test helpers that build template databases migrate the same way.
//
// golang-migrate takes a Postgres advisory lock around every run, so several
// processes migrating one database at once are safe: one applies, the others
// find nothing left to do.
package pgmigrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"pictor/migrations"
)

// Up applies every migration not yet applied. A database already at the
// latest version is not an error.
func Up(ctx context.Context, databaseURL string) error {
	return run(ctx, databaseURL, "migrate up", (*migrate.Migrate).Up)
}

// Down reverts every applied migration, leaving an empty schema (apart from
// golang-migrate's own bookkeeping table). It destroys all data.
func Down(ctx context.Context, databaseURL string) error {
	return run(ctx, databaseURL, "migrate down", (*migrate.Migrate).Down)
}

// Steps applies n migrations up (n > 0) or reverts -n migrations (n < 0).
func Steps(ctx context.Context, databaseURL string, n int) error {
	if n == 0 {
		return nil
	}
	return run(ctx, databaseURL, fmt.Sprintf("migrate %+d steps", n), func(m *migrate.Migrate) error {
		return m.Steps(n)
	})
}

// Version reports the schema version of the database and whether a failed
// migration left it dirty. A database never migrated reports version 0.
func Version(ctx context.Context, databaseURL string) (version uint, dirty bool, err error) {
	err = run(ctx, databaseURL, "migration version", func(m *migrate.Migrate) error {
		var verr error
		version, dirty, verr = m.Version()
		if errors.Is(verr, migrate.ErrNilVersion) {
			return nil
		}
		return verr
	})
	return version, dirty, err
}

// Latest returns the highest migration version embedded in this build.
func Latest() (uint, error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return 0, fmt.Errorf("open embedded migrations: %w", err)
	}
	defer src.Close()
	v, err := src.First()
	if err != nil {
		return 0, fmt.Errorf("first embedded migration: %w", err)
	}
	for {
		next, err := src.Next(v)
		if errors.Is(err, fs.ErrNotExist) {
			return v, nil
		}
		if err != nil {
			return 0, fmt.Errorf("next embedded migration after %d: %w", v, err)
		}
		v = next
	}
}

// run opens a migrator on databaseURL, runs op and closes everything.
// golang-migrate has no context support; a cancelled ctx asks it to stop
// after the migration in progress, which keeps the database consistent.
func run(ctx context.Context, databaseURL, what string, op func(*migrate.Migrate) error) (err error) {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return fmt.Errorf("%s: open database: %w", what, err)
	}
	defer db.Close()
	// One connection for the driver's lock plus one for its queries.
	db.SetMaxOpenConns(2)
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("%s: connect: %w", what, err)
	}
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		return fmt.Errorf("%s: init driver: %w", what, err)
	}
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		drv.Close()
		return fmt.Errorf("%s: open embedded migrations: %w", what, err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		src.Close()
		drv.Close()
		return fmt.Errorf("%s: %w", what, err)
	}
	defer func() {
		srcErr, dbErr := m.Close()
		if err == nil {
			if cerr := errors.Join(srcErr, dbErr); cerr != nil {
				err = fmt.Errorf("%s: close: %w", what, cerr)
			}
		}
	}()

	done := make(chan error, 1)
	go func() { done <- op(m) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		m.GracefulStop <- true
		err = <-done
		if err == nil {
			err = ctx.Err()
		}
	}
	if errors.Is(err, migrate.ErrNoChange) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
