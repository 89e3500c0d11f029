package pgmigrate_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pictor/services/internal/pgmigrate"
	"pictor/services/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestUpDownUp checks that every down migration undoes its up migration
// completely and that the schema can be rebuilt afterwards.
func TestUpDownUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := pgtest.NewDatabase(t) // already migrated up
	latest, err := pgmigrate.Latest()
	if err != nil {
		t.Fatal(err)
	}
	migrated := tables(ctx, t, url)

	steps := []struct {
		name       string
		run        func(context.Context, string) error
		wantVer    uint
		wantTables func([]string) bool
	}{
		{"down", pgmigrate.Down, 0, func(ts []string) bool { return slices.Equal(ts, []string{"schema_migrations"}) }},
		{"up", pgmigrate.Up, latest, func(ts []string) bool { return slices.Equal(ts, migrated) }},
		{"up again is a no-op", pgmigrate.Up, latest, func(ts []string) bool { return slices.Equal(ts, migrated) }},
		{"down again", pgmigrate.Down, 0, func(ts []string) bool { return len(ts) == 1 }},
		{"one step up", func(ctx context.Context, url string) error { return pgmigrate.Steps(ctx, url, 1) }, 1, func(ts []string) bool { return len(ts) > 1 }},
		{"up to latest", pgmigrate.Up, latest, func(ts []string) bool { return slices.Equal(ts, migrated) }},
	}
	for _, s := range steps {
		if err := s.run(ctx, url); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		ver, dirty, err := pgmigrate.Version(ctx, url)
		if err != nil {
			t.Fatalf("%s: version: %v", s.name, err)
		}
		if ver != s.wantVer || dirty {
			t.Fatalf("%s: version %d dirty %v, want %d clean", s.name, ver, dirty, s.wantVer)
		}
		if got := tables(ctx, t, url); !s.wantTables(got) {
			t.Fatalf("%s: unexpected tables %v", s.name, got)
		}
	}
	if !slices.Contains(migrated, "config_version") || !slices.Contains(migrated, "accounts") {
		t.Fatalf("migrated schema lacks core tables: %v", migrated)
	}
}

func TestCancelledContext(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pgmigrate.Down(ctx, url); err == nil {
		t.Fatal("Down with a cancelled context succeeded")
	}
}

func tables(ctx context.Context, t *testing.T, url string) []string {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}
