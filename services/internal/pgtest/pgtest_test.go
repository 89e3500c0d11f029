package pgtest_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pictor/services/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestNewDatabaseIsMigratedAndIsolated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Several at once, as parallel tests would.
	urls := make([]string, 4)
	var wg sync.WaitGroup
	for i := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			urls[i] = pgtest.NewDatabase(t)
		}()
	}
	wg.Wait()

	seen := map[string]bool{}
	for i, url := range urls {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatalf("connect %d: %v", i, err)
		}
		var db string
		var version int64
		if err := conn.QueryRow(ctx, `SELECT current_database(), (SELECT version FROM config_version)`).Scan(&db, &version); err != nil {
			t.Fatalf("database %d is not migrated: %v", i, err)
		}
		if seen[db] {
			t.Fatalf("database %s handed out twice", db)
		}
		seen[db] = true
		// A write in one database must not show in the others.
		if i == 0 {
			if _, err := conn.Exec(ctx, `SELECT bump_config_version()`); err != nil {
				t.Fatal(err)
			}
		} else if version != 1 {
			t.Fatalf("database %d: config version %d, want the template's 1", i, version)
		}
		conn.Close(ctx)
	}
}

func TestDatabaseDroppedAtCleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var url string
	t.Run("inner", func(t *testing.T) {
		url = pgtest.NewDatabase(t)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		// Left open on purpose: cleanup must drop the database anyway.
		_ = conn
	})
	// The drop runs in the background; it must happen soon.
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return
		}
		conn.Close(ctx)
		if time.Now().After(deadline) {
			t.Fatal("database still exists 10s after its test ended")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterStopStart: a test's own cluster refuses connections while
// stopped, and comes back on the same URL with its data.
func TestClusterStopStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := pgtest.StartCluster(t)
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, c.URL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(`CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	if err := exec(`SELECT 1`); err == nil {
		t.Fatal("a stopped cluster answered")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		t.Fatalf("after Start: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT n FROM kept`).Scan(&n); err != nil || n != 7 {
		t.Fatalf("data after a restart: %d, %v; want 7", n, err)
	}
}
