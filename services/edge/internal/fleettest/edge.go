package fleettest

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	configv1 "pictor/proto/pictor/config/v1"
	usagev1 "pictor/proto/pictor/usage/v1"
	"pictor/services/edge/internal/configwatch"
	"pictor/services/edge/internal/routing"
	"pictor/services/edge/internal/usage"
)

// EdgeConfig describes an in-process edge.
type EdgeConfig struct {
	NodeID    string
	EdgeGroup string
	Addr      string // a replica's gRPC address
	Token     string
	DataDir   string
	TLS       *tls.Config
	// UsageInterval > 0 runs a usage reporter at that interval.
	UsageInterval time.Duration
	// BackoffBase and BackoffMax bound reconnects; 50 ms and 1 s by
	// default, so fault tests converge quickly.
	BackoffBase, BackoffMax time.Duration
	Log                     *slog.Logger
}

// Edge is an edge without its HTTP front: the config client wired the way
// cmd/edge wires it (validate, build the routing table, swap it in,
// persist, ACK), plus a usage meter and reporter on the same connection.
type Edge struct {
	cfg    EdgeConfig
	Holder routing.Holder
	Watch  *configwatch.Client
	Meter  *usage.Meter

	mu      sync.Mutex
	history []Applied     // tables in the order they became current
	changed chan struct{} // closed when a table becomes current

	run *running
}

// Applied is a routing table and when it became current.
type Applied struct {
	Table *routing.Table
	At    time.Time
}

type running struct {
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// maxHistory bounds the tables an edge remembers for WaitFor.
const maxHistory = 512

// NewEdge returns a stopped edge; Restore and Start bring it up.
func NewEdge(cfg EdgeConfig) *Edge {
	if cfg.BackoffBase == 0 {
		cfg.BackoffBase = 50 * time.Millisecond
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = time.Second
	}
	if cfg.EdgeGroup == "" {
		cfg.EdgeGroup = "fleet"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	e := &Edge{cfg: cfg, changed: make(chan struct{}), Meter: usage.NewMeter()}
	e.Watch = configwatch.New(configwatch.Config{
		Addr:        cfg.Addr,
		Token:       cfg.Token,
		NodeID:      cfg.NodeID,
		EdgeGroup:   cfg.EdgeGroup,
		DataDir:     cfg.DataDir,
		TLS:         cfg.TLS,
		BackoffBase: cfg.BackoffBase,
		BackoffMax:  cfg.BackoffMax,
	}, e.apply, cfg.Log)
	return e
}

// NodeID is the edge's node id.
func (e *Edge) NodeID() string { return e.cfg.NodeID }

// DataDir is where the edge persists its snapshot.
func (e *Edge) DataDir() string { return e.cfg.DataDir }

func (e *Edge) apply(snap *configv1.Snapshot, d *configv1.Delta) ([]*configv1.Rejection, error) {
	t, rejected, err := routing.Update(snap, d, e.Holder.Load())
	if err != nil {
		return nil, err
	}
	if !e.Holder.Store(t) {
		return routing.RejectionsProto(rejected), nil
	}
	at := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.history) == maxHistory {
		e.history = slices.Delete(e.history, 0, 1)
	}
	e.history = append(e.history, Applied{Table: t, At: at})
	close(e.changed)
	e.changed = make(chan struct{})
	return routing.RejectionsProto(rejected), nil
}

// Restore loads the persisted snapshot, as an edge does at start.
func (e *Edge) Restore() (uint64, error) { return e.Watch.Restore() }

// Start connects to the control plane: the config stream, and usage
// reports when configured.
func (e *Edge) Start() error {
	if e.run != nil {
		return fmt.Errorf("edge %s already started", e.cfg.NodeID)
	}
	conn, err := e.Watch.Dial()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{conn: conn, cancel: cancel}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		e.Watch.RunOn(ctx, conn)
	}()
	if e.cfg.UsageInterval > 0 {
		rep := usage.NewReporter(usagev1.NewUsageServiceClient(conn), e.Meter,
			usage.ReporterConfig{NodeID: e.cfg.NodeID, Interval: e.cfg.UsageInterval}, e.cfg.Log)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			rep.Run(ctx) // flushes once more when stopped
		}()
	}
	e.run = r
	return nil
}

// Stop disconnects the edge (after a last usage report) and waits. The
// routing table stays, as in a process that lost its control plane.
func (e *Edge) Stop() {
	if e.run == nil {
		return
	}
	e.run.cancel()
	e.run.wg.Wait()
	e.run.conn.Close()
	e.run = nil
}

// Table is the routing table in force, nil when the edge is not ready.
func (e *Edge) Table() *routing.Table { return e.Holder.Load() }

// Version is the version of the table in force (0 when none).
func (e *Edge) Version() uint64 {
	if t := e.Table(); t != nil {
		return t.Version()
	}
	return 0
}

// WaitFor waits until a table for which ok holds has become current and
// returns when it did (the earliest such table still remembered).
func (e *Edge) WaitFor(ctx context.Context, ok func(*routing.Table) bool) (time.Time, error) {
	for {
		e.mu.Lock()
		for _, a := range e.history {
			if ok(a.Table) {
				e.mu.Unlock()
				return a.At, nil
			}
		}
		changed := e.changed
		e.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("edge %s (table v%d, connected %v): %w", e.cfg.NodeID, e.Version(), e.Watch.Connected(), ctx.Err())
		}
	}
}

// OriginOf returns the base URL of the first origin serving the account's
// default endpoint in table t ("" when there is none): what a request for
// /{account}/{path} would be fetched from.
func OriginOf(t *routing.Table, account string) string {
	if t == nil {
		return ""
	}
	route, err := t.Resolve("edge.example", "/"+account+"/probe.jpg")
	if err != nil || len(route.Endpoint.Origins) == 0 {
		return ""
	}
	return route.Endpoint.Origins[0].BaseURL.String()
}

// Percentile returns the p-th percentile (0 < p ≤ 100, nearest rank) of
// samples.
func Percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}
