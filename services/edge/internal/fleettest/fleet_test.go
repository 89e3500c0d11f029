package fleettest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"pictor/services/edge/internal/configwatch"
	"pictor/services/edge/internal/fleettest"
	"pictor/services/edge/internal/routing"
	"pictor/services/edge/internal/usage"
	"pictor/services/internal/pgtest"

	"pictor/services/internal/tlstest"
)

const (
	adminToken = "fleet-admin-token-0123456789"
	edgeToken  = "fleet-edge-token-0123456789"
	masterKey  = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	// converge bounds every wait for the fleet to reach a state.
	converge = 20 * time.Second
)

// controlPlaneBin is built once for the package.
var controlPlaneBin string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pictor-fleettest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The test runs in services/edge/internal/fleettest.
	controlPlaneBin, err = fleettest.BuildControlPlane(ctx, filepath.Join("..", "..", "..", "controlplane"), dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return pgtest.Main(m)
}

// fleet is a database, control-plane replicas over it, an account "acme"
// whose default endpoint serves one origin, and edges.
type fleet struct {
	t        *testing.T
	db       *pgxpool.Pool
	replicas []*fleettest.ControlPlane
	api      *fleettest.API // replica 0's: "replica A"
	acct     fleettest.Account
	originID string
	edgeLogs *syncBuffer
}

func newFleet(t *testing.T, replicas int, env ...string) *fleet {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	db, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	f := &fleet{t: t, db: db, edgeLogs: &syncBuffer{}}
	for range replicas {
		cp, err := fleettest.StartControlPlane(context.Background(), fleettest.ControlPlaneConfig{
			Bin: controlPlaneBin, DatabaseURL: dbURL, AdminToken: adminToken, EdgeToken: edgeToken, MasterKey: masterKey,
			Env: append([]string{"PICTOR_SIGNUP_ENABLED=false"}, env...),
		})
		if err != nil {
			t.Fatal(err)
		}
		f.replicas = append(f.replicas, cp)
	}
	t.Cleanup(func() {
		for i, cp := range f.replicas {
			cp.Kill()
			if t.Failed() {
				t.Logf("replica %d log (tail):\n%s", i, tailLines(cp.Logs(), 40))
			}
		}
		if t.Failed() {
			t.Logf("edge logs (tail):\n%s", tailLines(f.edgeLogs.String(), 60))
		}
	})
	f.api = fleettest.NewAPI(f.replicas[0].HTTPAddr(), adminToken)
	ctx := f.ctx()
	if f.acct, err = f.api.CreateAccount(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if f.originID, err = f.api.CreateOrigin(ctx, f.acct, "web", originURL(0)); err != nil {
		t.Fatal(err)
	}
	return f
}

func originURL(n int) string { return fmt.Sprintf("https://origin-%d.example.com", n) }

func (f *fleet) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), converge)
	f.t.Cleanup(cancel)
	return ctx
}

// newEdge returns an edge of replica r, not started.
func (f *fleet) newEdge(nodeID string, r int, dataDir string, mod ...func(*fleettest.EdgeConfig)) *fleettest.Edge {
	cfg := fleettest.EdgeConfig{
		NodeID:  nodeID,
		Addr:    f.replicas[r].GRPCAddr(),
		Token:   edgeToken,
		DataDir: dataDir,
		Log:     slog.New(slog.NewTextHandler(f.edgeLogs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	for _, m := range mod {
		m(&cfg)
	}
	e := fleettest.NewEdge(cfg)
	// Registered after dataDir was made, so it runs before that is removed.
	f.t.Cleanup(e.Stop)
	return e
}

// startEdges starts n edges spread over the replicas in turn.
func (f *fleet) startEdges(n int, mod ...func(*fleettest.EdgeConfig)) []*fleettest.Edge {
	f.t.Helper()
	out := make([]*fleettest.Edge, n)
	for i := range out {
		out[i] = f.newEdge(fmt.Sprintf("edge-%02d", i), i%len(f.replicas), f.t.TempDir(), mod...)
		if err := out[i].Start(); err != nil {
			f.t.Fatal(err)
		}
	}
	return out
}

// version is the database's config version.
func (f *fleet) version() uint64 {
	f.t.Helper()
	var v uint64
	if err := f.db.QueryRow(f.ctx(), `SELECT version FROM config_version`).Scan(&v); err != nil {
		f.t.Fatal(err)
	}
	return v
}

// await waits until every edge has a table for which ok holds and returns
// when each got it.
func (f *fleet) await(edges []*fleettest.Edge, ok func(*routing.Table) bool) []time.Time {
	f.t.Helper()
	ctx := f.ctx()
	out := make([]time.Time, len(edges))
	for i, e := range edges {
		at, err := e.WaitFor(ctx, ok)
		if err != nil {
			f.t.Fatal(err)
		}
		out[i] = at
	}
	return out
}

func servesOrigin(url string) func(*routing.Table) bool {
	return func(t *routing.Table) bool { return fleettest.OriginOf(t, "acme") == url }
}

func atLeast(v uint64) func(*routing.Table) bool {
	return func(t *routing.Table) bool { return t.Version() >= v }
}

// edgeRow is what the control plane recorded about a node.
type edgeRow struct {
	Applied, LastAck, LastNack uint64
	NackDetail, Session        string
	Connected                  bool
	Rejected                   []struct{ Resource, ErrorDetail string }
}

func (f *fleet) edgeRow(nodeID string) edgeRow {
	f.t.Helper()
	var r edgeRow
	err := f.db.QueryRow(f.ctx(), `
		SELECT applied_version, last_ack_version, last_nack_version, last_nack_detail, replica_id, connected, rejected
		FROM edge_nodes WHERE node_id = $1`, nodeID).
		Scan(&r.Applied, &r.LastAck, &r.LastNack, &r.NackDetail, &r.Session, &r.Connected, &r.Rejected)
	if err != nil {
		return edgeRow{}
	}
	return r
}

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(converge)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFleetPropagation is the acceptance test of config push: two
// replicas over one database, 24 edges split between them, and config
// writes made through replica A's API. Every write must reach every edge
// on both replicas; the time from issuing the write to each edge serving
// it is reported as p50/p99, and both replicas must have recorded every
// edge's ACK.
func TestFleetPropagation(t *testing.T) {
	const nEdges, nWrites = 24, 10
	f := newFleet(t, 2)
	edges := f.startEdges(nEdges)
	f.await(edges, servesOrigin(originURL(0)))

	var perEdge, perWrite []time.Duration
	for i := 1; i <= nWrites; i++ {
		start := time.Now()
		if err := f.api.UpdateOrigin(f.ctx(), f.acct, f.originID, "web", originURL(i)); err != nil {
			t.Fatal(err)
		}
		var slowest time.Duration
		for _, at := range f.await(edges, servesOrigin(originURL(i))) {
			d := at.Sub(start)
			perEdge = append(perEdge, d)
			slowest = max(slowest, d)
		}
		perWrite = append(perWrite, slowest)
	}
	t.Logf("config propagation, %d writes through replica A to %d edges on 2 replicas: "+
		"per edge p50 %v p99 %v max %v; until the last edge p50 %v p99 %v",
		nWrites, nEdges, fleettest.Percentile(perEdge, 50), fleettest.Percentile(perEdge, 99), fleettest.Percentile(perEdge, 100),
		fleettest.Percentile(perWrite, 50), fleettest.Percentile(perWrite, 99))

	// Each replica recorded its edges: connected, serving and having ACKed
	// the current version.
	v := f.version()
	replicas := map[string]bool{}
	for _, e := range edges {
		eventually(t, e.NodeID()+" recorded at v"+fmt.Sprint(v), func() bool {
			r := f.edgeRow(e.NodeID())
			return r.Connected && r.Applied == v && r.LastAck == v
		})
		replica, _, _ := strings.Cut(f.edgeRow(e.NodeID()).Session, "#")
		replicas[replica] = true
	}
	if len(replicas) != 2 {
		t.Errorf("edges recorded by %d replicas, want 2: %v", len(replicas), replicas)
	}
}

// TestFleetControlPlaneKilled: every replica is killed mid-stream; edges
// keep serving the config they had, a change made meanwhile reaches them
// when the replicas come back, and writes flow again.
func TestFleetControlPlaneKilled(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	edges := f.startEdges(8)
	f.await(edges, servesOrigin(originURL(0)))
	before := f.version()

	for _, cp := range f.replicas {
		if err := cp.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range edges {
		eventually(t, e.NodeID()+" notices the control plane is gone", func() bool { return !e.Watch.Connected() })
	}
	// A change lands in the database while no replica runs (an operator's
	// fix, a restore): nothing can push it yet.
	tx, err := f.db.Begin(f.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(f.ctx(), `UPDATE origins SET base_url = $1 WHERE id = $2`, originURL(100), f.originID); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(f.ctx(), `SELECT bump_config_version()`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(f.ctx()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	for _, e := range edges {
		if e.Version() != before || fleettest.OriginOf(e.Table(), "acme") != originURL(0) {
			t.Fatalf("%s without a control plane: table v%d origin %q, want v%d %q kept",
				e.NodeID(), e.Version(), fleettest.OriginOf(e.Table(), "acme"), before, originURL(0))
		}
	}

	for _, cp := range f.replicas {
		if err := cp.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	f.await(edges, servesOrigin(originURL(100)))
	if err := f.api.UpdateOrigin(f.ctx(), f.acct, f.originID, "web", originURL(101)); err != nil {
		t.Fatal(err)
	}
	f.await(edges, servesOrigin(originURL(101)))
}

// TestFleetDatabaseRestored: the database goes back to an older state and
// an older version (restored from a backup). Edges ignore versions older
// than theirs, so the control plane moves the version past theirs and the
// restored configuration reaches them under it.
func TestFleetDatabaseRestored(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	edges := f.startEdges(6)
	for i := 1; i <= 3; i++ {
		if err := f.api.UpdateOrigin(f.ctx(), f.acct, f.originID, "web", originURL(i)); err != nil {
			t.Fatal(err)
		}
	}
	f.await(edges, servesOrigin(originURL(3)))
	ahead := f.version()

	// What a restore does: older rows, an older version. The replicas hear
	// of it at once here; in production their poll finds it.
	tx, err := f.db.Begin(f.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(f.ctx(), `UPDATE origins SET base_url = $1 WHERE id = $2`, originURL(1), f.originID); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(f.ctx(), `UPDATE config_version SET version = $1`, ahead-2); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(f.ctx(), `SELECT pg_notify('pictor_config', $1)`, fmt.Sprint(ahead-2)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(f.ctx()); err != nil {
		t.Fatal(err)
	}

	f.await(edges, func(t *routing.Table) bool {
		return t.Version() > ahead && fleettest.OriginOf(t, "acme") == originURL(1)
	})
	if v := f.version(); v <= ahead {
		t.Fatalf("database at v%d, want past the edges' v%d", v, ahead)
	}
	if logs := f.replicas[0].Logs() + f.replicas[1].Logs(); !strings.Contains(logs, "moving the config version past the edge's") {
		t.Error("no replica logged why it moved the version")
	}
}

// waitPersisted waits until e's ACK of the current version is recorded:
// the edge persists a snapshot before it ACKs it.
func (f *fleet) waitPersisted(e *fleettest.Edge) uint64 {
	f.t.Helper()
	v := f.version()
	f.await([]*fleettest.Edge{e}, atLeast(v))
	eventually(f.t, e.NodeID()+" ACKs v"+fmt.Sprint(v), func() bool { return f.edgeRow(e.NodeID()).LastAck >= v })
	// Writes are put off by up to configwatch.DefaultPersistEvery.
	eventually(f.t, e.NodeID()+" persists v"+fmt.Sprint(v), func() bool {
		snap, err := e.Watch.LoadPersisted()
		return err == nil && snap.GetVersion() >= v
	})
	return v
}

// TestFleetEdgeRestartControlPlaneDown: an edge restarted while the
// control plane is down serves its persisted config, and tells the control
// plane which version it serves once it is back.
func TestFleetEdgeRestartControlPlaneDown(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1)
	dir := t.TempDir()
	first := f.newEdge("edge-restart", 0, dir)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	v := f.waitPersisted(first)
	first.Stop()
	if err := f.replicas[0].Kill(); err != nil {
		t.Fatal(err)
	}

	again := f.newEdge("edge-restart", 0, dir)
	if again.Table() != nil {
		t.Fatal("edge ready before loading anything")
	}
	got, err := again.Restore()
	if err != nil || got != v || fleettest.OriginOf(again.Table(), "acme") != originURL(0) {
		t.Fatalf("restore from disk: v%d, %v, origin %q; want v%d serving %s", got, err, fleettest.OriginOf(again.Table(), "acme"), v, originURL(0))
	}
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if again.Watch.Connected() || again.Version() != v {
		t.Fatalf("with the control plane down: connected %v, table v%d", again.Watch.Connected(), again.Version())
	}

	if err := f.replicas[0].Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the control plane records the restored version", func() bool {
		r := f.edgeRow("edge-restart")
		return again.Watch.Connected() && r.Connected && r.Applied == v
	})
}

// TestFleetCorruptSnapshotFile: a damaged snapshot file fails its checksum
// and the edge stays not ready (no table at all, never an empty one) until
// the control plane sends a snapshot, which it then persists afresh.
func TestFleetCorruptSnapshotFile(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1)
	dir := t.TempDir()
	first := f.newEdge("edge-corrupt", 0, dir)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	v := f.waitPersisted(first)
	first.Stop()
	if err := f.replicas[0].Kill(); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(dir, "snapshot.bin")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	again := f.newEdge("edge-corrupt", 0, dir)
	if _, err := again.Restore(); !errors.Is(err, configwatch.ErrCorruptSnapshot) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("restore of a corrupt file: %v, want a checksum error", err)
	}
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if again.Table() != nil {
		t.Fatal("edge ready without a valid config")
	}

	if err := f.replicas[0].Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.await([]*fleettest.Edge{again}, atLeast(v))
	eventually(t, "a fresh snapshot file", func() bool {
		snap, err := again.Watch.LoadPersisted()
		return err == nil && snap.GetVersion() >= v
	})
}

// TestFleetPoisonedAccountRejectedAlone: an origin the API would have
// refused is written straight into the database for "acme", in the same
// version as a valid change of another account ("beta"). Every edge
// applies the version with acme rejected alone: acme keeps its previous
// config, beta's change is served, and the control plane records and
// shows which account was refused and why. An edge restarted from its disk
// serves the same (the persisted config is what it served, not what it
// refused). Once the bad origin is removed through the API, the next
// version applies everywhere with nothing rejected.
func TestFleetPoisonedAccountRejectedAlone(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	beta, err := f.api.CreateAccount(f.ctx(), "beta")
	if err != nil {
		t.Fatal(err)
	}
	betaOrigin, err := f.api.CreateOrigin(f.ctx(), beta, "web", originURL(5))
	if err != nil {
		t.Fatal(err)
	}
	edges := f.startEdges(3)
	f.await(edges, atLeast(f.version()))

	const badID = "00000000000000000000bad0"
	tx, err := f.db.Begin(f.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(f.ctx(), `INSERT INTO origins (id, account_id, type, name, base_url) VALUES ($1, 'acme', 'WEB_FOLDER', 'bad', 'ftp://files.example.com')`, badID); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(f.ctx(), `UPDATE origins SET base_url = $1 WHERE id = $2`, originURL(6), betaOrigin); err != nil {
		t.Fatal(err)
	}
	var bad uint64
	if err := tx.QueryRow(f.ctx(), `SELECT bump_config_version()`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(f.ctx()); err != nil {
		t.Fatal(err)
	}

	betaServes := func(url string) func(*routing.Table) bool {
		return func(t *routing.Table) bool { return fleettest.OriginOf(t, "beta") == url }
	}
	f.await(edges, atLeast(bad))
	for _, e := range edges {
		eventually(t, e.NodeID()+" ACKs v"+fmt.Sprint(bad)+" without acme", func() bool {
			r := f.edgeRow(e.NodeID())
			return r.LastAck == bad && r.Applied == bad && len(r.Rejected) == 1
		})
		r := f.edgeRow(e.NodeID())
		if r.Rejected[0].Resource != "account/acme" || !strings.Contains(r.Rejected[0].ErrorDetail, "must use http or https") {
			t.Errorf("%s: rejected %+v, want acme's bad origin named", e.NodeID(), r.Rejected)
		}
		if got := fleettest.OriginOf(e.Table(), "acme"); got != originURL(0) {
			t.Errorf("%s: acme serves %q, want its previous origin %q", e.NodeID(), got, originURL(0))
		}
		if !betaServes(originURL(6))(e.Table()) {
			t.Errorf("%s: beta's change did not apply beside the rejected account", e.NodeID())
		}
	}
	var listed []struct {
		NodeID   string `json:"nodeId"`
		Rejected []struct {
			Resource, ErrorDetail string
		} `json:"rejected"`
	}
	if err := f.api.Admin(f.ctx(), "/admin/v1/edges", &listed); err != nil {
		t.Fatal(err)
	}
	for _, n := range listed {
		if len(n.Rejected) != 1 || n.Rejected[0].Resource != "account/acme" {
			t.Errorf("/admin/v1/edges: %s rejected %+v, want account/acme", n.NodeID, n.Rejected)
		}
	}

	// A cold start from disk serves what the edge served.
	restarted := edges[0]
	f.waitPersisted(restarted)
	restarted.Stop()
	cold := f.newEdge(restarted.NodeID(), 1, restarted.DataDir())
	if v, err := cold.Restore(); err != nil || v != bad {
		t.Fatalf("restore: v%d, %v; want v%d", v, err, bad)
	}
	if got := fleettest.OriginOf(cold.Table(), "acme"); got != originURL(0) || !betaServes(originURL(6))(cold.Table()) {
		t.Fatalf("after a cold start: acme %q, beta %q", got, fleettest.OriginOf(cold.Table(), "beta"))
	}

	if err := f.api.DeleteOrigin(f.ctx(), f.acct, badID); err != nil {
		t.Fatal(err)
	}
	fixed := f.version()
	f.await(edges[1:], atLeast(fixed))
	for _, e := range edges[1:] {
		eventually(t, e.NodeID()+" ACKs the fix with nothing rejected", func() bool {
			r := f.edgeRow(e.NodeID())
			return r.LastAck >= fixed && len(r.Rejected) == 0
		})
	}
}

// TestFleetPurgeWhileDisconnected: a purge issued while an edge is away is
// Completed once every connected edge has it, and reaches the edge that
// was away, as a rule covering what it cached before, when it comes back
// from its persisted config.
func TestFleetPurgeWhileDisconnected(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	edges := f.startEdges(4)
	f.await(edges, atLeast(f.version()))
	away := edges[0]
	before := f.waitPersisted(away)
	away.Stop()
	eventually(t, "the control plane sees the edge leave", func() bool { return !f.edgeRow(away.NodeID()).Connected })

	reqID, err := f.api.Purge(f.ctx(), f.acct, "http://edge.example/acme/products/shoe.jpg")
	if err != nil {
		t.Fatal(err)
	}
	hasRule := func(t *routing.Table) bool { return purgeRule(t) != nil }
	f.await(edges[1:], hasRule)
	eventually(t, "purge Completed with the absent edge not holding it up", func() bool {
		status, err := f.api.PurgeStatus(f.ctx(), f.acct, reqID)
		return err == nil && status == "Completed"
	})

	back := f.newEdge(away.NodeID(), 1, away.DataDir())
	if v, err := back.Restore(); err != nil || v != before || purgeRule(back.Table()) != nil {
		t.Fatalf("restored v%d (%v), rule present %v; want v%d without the rule", v, err, purgeRule(back.Table()) != nil, before)
	}
	if err := back.Start(); err != nil {
		t.Fatal(err)
	}
	f.await([]*fleettest.Edge{back}, hasRule)
	rule := purgeRule(back.Table())
	route, err := back.Table().Resolve("edge.example", "/acme/products/shoe.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if !rule.Covers(route.Endpoint.ID, "products/shoe.jpg", before) {
		t.Errorf("rule %+v does not cover what the edge cached at v%d", rule, before)
	}
	if rule.Covers(route.Endpoint.ID, "products/other.jpg", before) {
		t.Errorf("rule %+v covers another path", rule)
	}
}

func purgeRule(t *routing.Table) *routing.PurgeRule {
	if t == nil {
		return nil
	}
	for i, r := range t.PurgeRules("acme") {
		if r.Path == "products/shoe.jpg" && !r.Prefix {
			return &t.PurgeRules("acme")[i]
		}
	}
	return nil
}

// TestFleetUsageExactlyOnce: edges report usage every 50 ms while replica
// A is killed and restarted under them. Reports in doubt are retried with
// their ids, so the daily totals equal exactly what the edges counted.
func TestFleetUsageExactlyOnce(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	edges := f.startEdges(4, func(c *fleettest.EdgeConfig) { c.UsageInterval = 50 * time.Millisecond })
	f.await(edges, atLeast(f.version()))

	var requests, bytesOut uint64
	record := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			for i, e := range edges {
				e.Meter.Record(usage.Event{AccountID: "acme", Status: 200, Bytes: int64(100 + i), CacheStatus: "HIT-L1"})
				requests++
				bytesOut += uint64(100 + i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	record(400 * time.Millisecond)
	if err := f.replicas[0].Kill(); err != nil {
		t.Fatal(err)
	}
	record(400 * time.Millisecond)
	if err := f.replicas[0].Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	record(400 * time.Millisecond)
	for _, e := range edges {
		e.Stop() // the last report goes out
	}

	var gotRequests, gotBytes, hits uint64
	if err := f.db.QueryRow(f.ctx(), `
		SELECT COALESCE(sum(requests), 0), COALESCE(sum(bytes_out), 0), COALESCE(sum(hits_l1), 0)
		FROM usage_daily WHERE account_id = 'acme'`).Scan(&gotRequests, &gotBytes, &hits); err != nil {
		t.Fatal(err)
	}
	if gotRequests != requests || gotBytes != bytesOut || hits != requests {
		t.Fatalf("stored %d requests, %d bytes, %d hits; edges counted %d requests, %d bytes", gotRequests, gotBytes, hits, requests, bytesOut)
	}
	var reports int
	f.db.QueryRow(f.ctx(), `SELECT count(*) FROM usage_reports`).Scan(&reports)
	t.Logf("%d requests in %d reports counted exactly once across a replica crash", requests, reports)
}

// TestFleetWrongToken: an edge with the wrong token gets nothing, and the
// replica says why.
func TestFleetWrongToken(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1)
	e := f.newEdge("edge-intruder", 0, t.TempDir(), func(c *fleettest.EdgeConfig) { c.Token = "not-the-edge-token" })
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the refusal is logged", func() bool {
		logs := f.replicas[0].Logs()
		return strings.Contains(logs, `"msg":"edge call refused: bad token"`) && strings.Contains(logs, `"reason":"wrong"`)
	})
	if e.Table() != nil || e.Watch.Connected() {
		t.Fatalf("edge with a wrong token got config: table %v connected %v", e.Table() != nil, e.Watch.Connected())
	}
	if r := f.edgeRow("edge-intruder"); r.Session != "" || r.Applied != 0 || r.Connected {
		t.Fatalf("refused edge recorded: %+v", r)
	}
	if strings.Contains(f.replicas[0].Logs(), "not-the-edge-token") {
		t.Fatal("the presented token was logged")
	}
}

// TestFleetTLS: a replica configured with a certificate serves the stream
// over TLS; an edge that trusts it converges, one speaking plaintext does
// not.
func TestFleetTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	f := newFleet(t, 1, "PICTOR_GRPC_TLS_CERT="+certFile, "PICTOR_GRPC_TLS_KEY="+keyFile)
	tlsCfg, err := configwatch.ClientTLS(certFile)
	if err != nil {
		t.Fatal(err)
	}
	secure := f.newEdge("edge-tls", 0, t.TempDir(), func(c *fleettest.EdgeConfig) { c.TLS = tlsCfg })
	plain := f.newEdge("edge-plain", 0, t.TempDir())
	for _, e := range []*fleettest.Edge{secure, plain} {
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
	}
	f.await([]*fleettest.Edge{secure}, servesOrigin(originURL(0)))
	time.Sleep(300 * time.Millisecond)
	if plain.Table() != nil || plain.Watch.Connected() {
		t.Fatal("a plaintext edge got config from a TLS control plane")
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	return tlstest.New(t, "pictor fleet test control plane").WriteFiles(t, dir)
}

// syncBuffer collects the edges' logs from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestFleetResumesByDelta: an edge away while 1,000 config versions were
// written comes back from its disk and converges by resuming from the
// version it held (one delta), not by a full resync; its served config is
// then the database's.
func TestFleetResumesByDelta(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1)
	edges := f.startEdges(2)
	f.await(edges, atLeast(f.version()))
	away := edges[0]
	held := f.waitPersisted(away)
	away.Stop()

	for i := range 1000 {
		tx, err := f.db.Begin(f.ctx())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(f.ctx(), `UPDATE origins SET base_url = $1 WHERE id = $2`, originURL(i+1), f.originID); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(f.ctx(), `SELECT bump_config_version()`); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(f.ctx()); err != nil {
			t.Fatal(err)
		}
	}
	latest := f.version()
	f.await(edges[1:], servesOrigin(originURL(1000)))

	back := f.newEdge(away.NodeID(), 0, away.DataDir())
	if v, err := back.Restore(); err != nil || v != held {
		t.Fatalf("restore: v%d, %v; want v%d", v, err, held)
	}
	if err := back.Start(); err != nil {
		t.Fatal(err)
	}
	f.await([]*fleettest.Edge{back}, servesOrigin(originURL(1000)))
	eventually(t, back.NodeID()+" ACKs v"+fmt.Sprint(latest), func() bool { return f.edgeRow(back.NodeID()).Applied >= latest })
	var after []string
	for _, line := range strings.Split(f.edgeLogs.String(), "\n") {
		if strings.Contains(line, "node_id="+away.NodeID()) && strings.Contains(line, "msg=\"applied config") {
			after = append(after, line)
		}
	}
	last := after[len(after)-1]
	if !strings.Contains(last, `msg="applied config delta"`) || !strings.Contains(last, fmt.Sprintf("previous_version=%d", held)) {
		t.Fatalf("the edge came back by %q, want one delta from v%d", last, held)
	}
}
