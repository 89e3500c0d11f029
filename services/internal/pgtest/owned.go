package pgtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// Cluster is a private Postgres server that one test owns outright,
// unlike the shared server NewDatabase hands databases out from: the test
// may stop it and start it again, on the same port and over the same
// data, to show what its clients do while the database is away. Each
// costs an initdb (a second or two), so use it only for that.
type Cluster struct {
	// URL is the superuser URL of the cluster's postgres database (empty:
	// migrate it, or create databases in it, as the test needs).
	URL string

	mu sync.Mutex
	c  *cluster
}

// StartCluster initialises and starts a private cluster, removed when the
// test ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := startCluster(ctx, true)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return &Cluster{URL: c.url, c: c}
}

// Stop shuts the server down at once (SIGQUIT, Postgres's immediate
// shutdown): every session is cut as in a crash, and new connections are
// refused until Start. Committed transactions survive it (the cluster
// commits synchronously). It is a no-op while stopped.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.c.kill()
}

// Start starts the server again on its port over its data (after crash
// recovery) and waits until it accepts connections. It is a no-op while
// running.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c.cmd != nil {
		return nil
	}
	if c.c.port == 0 {
		return errors.New("pgtest: cluster was never started")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return c.c.run(ctx, c.c.port)
}

// Log returns the end of the server's log, for a failing test to print.
func (c *Cluster) Log() string { return tail(c.c.logPath()) }
