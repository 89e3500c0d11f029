// Package pgtest gives integration tests real, disposable Postgres databases
// instead of mocks: every test gets a brand-new database cloned from a
// template that already holds the migrated schema, so a test starts in
// milliseconds and can never see another test's rows.
//
// The server is the one named by PICTOR_TEST_PG_URL (a superuser URL) when
// that is set; otherwise the first NewDatabase call starts a private,
// throwaway cluster for the test binary (initdb into a temporary directory,
// durability switched off), which Main stops when the tests are done.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.NewDatabase(t)
//		...
//	}
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pictor/migrations"
	"pictor/services/internal/pgmigrate"
)

// EnvURL names the environment variable holding the URL of an existing
// Postgres server (superuser) to use instead of starting a private one.
const EnvURL = "PICTOR_TEST_PG_URL"

// templateLockKey is the advisory lock that serialises template creation
// between test binaries sharing one server ("pictor-t" in ASCII).
const templateLockKey int64 = 0x7069_6374_6f72_2d74

var (
	mu      sync.Mutex
	current *server // nil until the first NewDatabase
	failed  error   // sticky: a server that failed to start is not retried
	drops   sync.WaitGroup
)

// Main runs the tests, waits for their databases to be dropped and then
// stops the private Postgres server if one was started. It returns the exit
// code for os.Exit. Test binaries that call NewDatabase must use it.
func Main(m *testing.M) int {
	code := m.Run()
	drops.Wait()
	mu.Lock()
	s := current
	current = nil
	mu.Unlock()
	if s != nil {
		if err := s.close(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	return code
}

// NewDatabase creates an empty-but-migrated database for this test and
// returns its connection URL. The database is dropped after the test ends
// (connections still open to it are terminated).
func NewDatabase(t testing.TB) string {
	t.Helper()
	s, err := serverOnce()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	tmpl, err := s.templateOnce()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := "pictor_test_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sql := fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", ident(name), ident(tmpl))
	if _, err := s.admin.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: create database %s from %s: %v", name, tmpl, err)
	}
	// Dropping waits for the test's connections to finish closing, which
	// takes the server up to a few hundred milliseconds; do it in the
	// background and let Main wait for it.
	t.Cleanup(func() {
		drops.Add(1)
		go func() {
			defer drops.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
				fmt.Fprintf(os.Stderr, "pgtest: drop database %s: %v\n", name, err)
			}
		}()
	})
	return s.databaseURL(name)
}

// server is one Postgres server, private or external.
type server struct {
	base  *url.URL      // superuser URL; its path is replaced per database
	admin *pgxpool.Pool // connections to base, for CREATE/DROP DATABASE
	proc  *cluster      // nil for an external server

	tmplOnce sync.Once
	tmpl     string
	tmplErr  error
}

func serverOnce() (*server, error) {
	mu.Lock()
	defer mu.Unlock()
	if current != nil || failed != nil {
		return current, failed
	}
	s, err := openServer()
	if err != nil {
		failed = err
		return nil, err
	}
	current = s
	return s, nil
}

func openServer() (*server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		raw  = os.Getenv(EnvURL)
		proc *cluster
	)
	if raw == "" {
		var err error
		if proc, err = startCluster(ctx, false); err != nil {
			return nil, err
		}
		raw = proc.url
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
		closeCluster(proc)
		return nil, fmt.Errorf("%s must be a postgres:// URL", EnvURL)
	}
	cfg, err := pgxpool.ParseConfig(raw)
	if err != nil {
		closeCluster(proc)
		return nil, fmt.Errorf("parse server URL: %w", err)
	}
	cfg.MaxConns = 4
	admin, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		closeCluster(proc)
		return nil, fmt.Errorf("connect to %s: %w", base.Redacted(), err)
	}
	if err := admin.Ping(ctx); err != nil {
		admin.Close()
		closeCluster(proc)
		return nil, fmt.Errorf("connect to %s: %w", base.Redacted(), err)
	}
	return &server{base: base, admin: admin, proc: proc}, nil
}

func closeCluster(c *cluster) {
	if c != nil {
		_ = c.stop()
	}
}

func (s *server) close() error {
	s.admin.Close()
	if s.proc != nil {
		return s.proc.stop()
	}
	return nil
}

func (s *server) databaseURL(name string) string {
	u := *s.base
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

func (s *server) templateOnce() (string, error) {
	s.tmplOnce.Do(func() {
		s.tmpl, s.tmplErr = s.ensureTemplate()
	})
	return s.tmpl, s.tmplErr
}

// ensureTemplate makes sure the migrated template for the current migration
// files exists. Its name carries a hash of those files, so a schema change
// gets a new template instead of a stale one; the advisory lock lets test
// binaries running in parallel against one server build it only once.
func (s *server) ensureTemplate() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	tmpl := "pictor_tmpl_" + sum[:16]

	conn, err := s.admin.Acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("acquire admin connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return "", fmt.Errorf("lock template creation: %w", err)
	}
	defer func() {
		// A fresh context: the lock must be released even when ctx expired.
		uctx, ucancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ucancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", templateLockKey); err != nil {
			// The session still holds the lock: do not hand it back to the pool.
			conn.Conn().Close(uctx)
		}
	}()

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", tmpl).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up template %s: %w", tmpl, err)
	}
	if exists {
		return tmpl, nil
	}

	// Build under a scratch name and rename at the end, so a binary killed
	// half-way never leaves a half-migrated database under the real name.
	build := tmpl + "_build"
	steps := []string{
		"DROP DATABASE IF EXISTS " + ident(build) + " WITH (FORCE)",
		"CREATE DATABASE " + ident(build),
	}
	for _, q := range steps {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("build template: %s: %w", q, err)
		}
	}
	if err := pgmigrate.Up(ctx, s.databaseURL(build)); err != nil {
		return "", fmt.Errorf("build template %s: %w", tmpl, err)
	}
	steps = []string{
		"ALTER DATABASE " + ident(build) + " RENAME TO " + ident(tmpl),
		// No connections: CREATE DATABASE ... TEMPLATE fails while anyone
		// is connected to the template.
		"ALTER DATABASE " + ident(tmpl) + " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
	}
	for _, q := range steps {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("build template: %s: %w", q, err)
		}
	}
	return tmpl, nil
}

// migrationsHash is a SHA-256 over the names and contents of the embedded
// migration files, in hex.
func migrationsHash() (string, error) {
	var names []string
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			names = append(names, path)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(migrations.FS, n)
		if err != nil {
			return "", fmt.Errorf("read migration %s: %w", n, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand crashes the program instead
	return hex.EncodeToString(b)
}
