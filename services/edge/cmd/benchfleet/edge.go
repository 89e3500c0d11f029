package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/edge/internal/configwatch"
	"pictor/services/edge/internal/routing"
)

// persistEvery is how often the bench's edges write their config.
const persistEvery = 30 * time.Second

// edge is an edge without its HTTP front, light enough for a hundred in
// one process with ten thousand tenants each: the real config client
// (deltas, validation, the routing table, persistence, ACKs) and, instead
// of the tables themselves, when each version came into force.
type edge struct {
	id     string
	watch  *configwatch.Client
	holder routing.Holder
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	applied map[uint64]time.Time
	changed chan struct{}
}

func newEdge(id, addr, dataDir string, log *slog.Logger) *edge {
	e := &edge{id: id, applied: map[uint64]time.Time{}, changed: make(chan struct{})}
	e.watch = configwatch.New(configwatch.Config{
		Addr: addr, Token: edgeToken, NodeID: id, EdgeGroup: "bench", DataDir: dataDir,
		BackoffBase: 50 * time.Millisecond, BackoffMax: time.Second,
		// A hundred edges share this process's two cores; a real edge
		// has its own, and writes its config once a second at most
		// (configwatch.DefaultPersistEvery). A write after a change
		// costs about 5 ms for 10,000 tenants (BenchmarkConfigWrite in
		// configwatch); a hundred of them a second would take a
		// quarter of the cores from the config push being measured.
		PersistEvery: persistEvery,
	}, e.apply, log)
	return e
}

func (e *edge) apply(snap *configv1.Snapshot, d *configv1.Delta) ([]*configv1.Rejection, error) {
	t, rejected, err := routing.Update(snap, d, e.holder.Load())
	if err != nil {
		return nil, err
	}
	if e.holder.Store(t) {
		e.mu.Lock()
		e.applied[t.Version()] = time.Now()
		close(e.changed)
		e.changed = make(chan struct{})
		e.mu.Unlock()
	}
	return routing.RejectionsProto(rejected), nil
}

func (e *edge) start() error {
	conn, err := e.watch.Dial()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		defer conn.Close()
		e.watch.RunOn(ctx, conn)
	}()
	return nil
}

func (e *edge) stop() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
}

func (e *edge) version() uint64 {
	if t := e.holder.Load(); t != nil {
		return t.Version()
	}
	return 0
}

// reached waits until a version at least v is in force and returns when
// the first such version came into force.
func (e *edge) reached(ctx context.Context, v uint64) (time.Time, error) {
	for {
		e.mu.Lock()
		var at time.Time
		for ver, t := range e.applied {
			if ver >= v && (at.IsZero() || t.Before(at)) {
				at = t
			}
		}
		changed := e.changed
		e.mu.Unlock()
		if !at.IsZero() {
			return at, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("edge %s at v%d waiting for v%d: %w", e.id, e.version(), v, ctx.Err())
		}
	}
}
