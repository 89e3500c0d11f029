// Command benchconfig measures how fast a config change reaches a fleet of
// edges (make bench-config): it runs control-plane replicas (the real
// `controlplane serve` binary) over a database, connects many in-process
// edges to them (real config clients: validate, build the routing table,
// swap it in, persist it with fsync, ACK), then makes config writes through
// the REST API one after another and times each until every edge serves it.
//
// Propagation is timed from the write's commit, which Postgres timestamps
// when track_commit_timestamp is on (scripts/bench-config.sh turns it on),
// so the REST API's own latency does not count against config push; the
// time from issuing the write is printed beside it. Without commit
// timestamps both are timed from issuing the write.
//
//	benchconfig -database-url postgres://... -controlplane path/to/controlplane [-edges 50] [-writes 50]
//
// The database must be empty or already migrated; benchconfig migrates it.
// scripts/bench-config.sh starts a throwaway Postgres and builds the binary.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"github.com/jackc/pgx/v5"

	"pictor/services/edge/internal/fleettest"
	"pictor/services/edge/internal/routing"
)

func main() {
	var (
		databaseURL = flag.String("database-url", os.Getenv("PICTOR_DATABASE_URL"), "Postgres URL (a dedicated database: it is migrated and written)")
		bin         = flag.String("controlplane", "", "path of the controlplane binary")
		edges       = flag.Int("edges", 50, "edges to connect")
		writes      = flag.Int("writes", 50, "config writes to time")
		replicas    = flag.Int("replicas", 1, "control-plane replicas over the database; edges are spread over them")
		pause       = flag.Duration("pause", 20*time.Millisecond, "pause between a write reaching every edge and the next write")
		target      = flag.Duration("target", 200*time.Millisecond, "p99 to compare against (until the last edge)")
		dataDir     = flag.String("data-dir", "", "where edges persist snapshots (default: a temporary directory)")
	)
	flag.Parse()
	if *databaseURL == "" || *bin == "" || *edges < 1 || *writes < 1 || *replicas < 1 {
		fmt.Fprintln(os.Stderr, "benchconfig: -database-url and -controlplane are required; -edges, -writes and -replicas must be positive")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*databaseURL, *bin, *edges, *writes, *replicas, *pause, *target, *dataDir); err != nil {
		fmt.Fprintf(os.Stderr, "benchconfig: %v\n", err)
		os.Exit(1)
	}
}

const (
	adminToken = "bench-admin-token-0123456789"
	edgeToken  = "bench-edge-token-0123456789"
	masterKey  = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
)

func run(databaseURL, bin string, nEdges, nWrites, nReplicas int, pause, target time.Duration, dataDir string) error {
	ctx := context.Background()
	db, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("connect to the database: %w", err)
	}
	defer db.Close(ctx)
	var trackCommits string
	if err := db.QueryRow(ctx, `SHOW track_commit_timestamp`).Scan(&trackCommits); err != nil {
		return fmt.Errorf("read track_commit_timestamp: %w", err)
	}
	migrate := exec.CommandContext(ctx, bin, "migrate", "up")
	migrate.Env = append(os.Environ(), "PICTOR_DATABASE_URL="+databaseURL, "PICTOR_LOG_LEVEL=warn")
	if out, err := migrate.CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %w\n%s", err, out)
	}

	var cps []*fleettest.ControlPlane
	defer func() {
		for _, cp := range cps {
			cp.Stop()
		}
	}()
	for range nReplicas {
		cp, err := fleettest.StartControlPlane(ctx, fleettest.ControlPlaneConfig{
			Bin: bin, DatabaseURL: databaseURL, AdminToken: adminToken, EdgeToken: edgeToken, MasterKey: masterKey,
			// Info, which fleettest needs to see the replica serving; the
			// per-edge, per-version lines are debug.
			Env: []string{"PICTOR_LOG_LEVEL=info", "PICTOR_SIGNUP_ENABLED=false"},
		})
		if err != nil {
			return err
		}
		cps = append(cps, cp)
	}
	api := fleettest.NewAPI(cps[0].HTTPAddr(), adminToken)
	acct, err := api.CreateAccount(ctx, fmt.Sprintf("bench-%d", time.Now().Unix()))
	if err != nil {
		return err
	}
	originID, err := api.CreateOrigin(ctx, acct, "photos", originURL(0))
	if err != nil {
		return err
	}

	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "pictor-benchconfig-"); err != nil {
			return err
		}
		defer os.RemoveAll(dataDir)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fleet := make([]*fleettest.Edge, nEdges)
	for i := range fleet {
		fleet[i] = fleettest.NewEdge(fleettest.EdgeConfig{
			NodeID:  fmt.Sprintf("bench-edge-%02d", i),
			Addr:    cps[i%nReplicas].GRPCAddr(),
			Token:   edgeToken,
			DataDir: fmt.Sprintf("%s/edge-%02d", dataDir, i),
			Log:     log,
		})
		if err := fleet[i].Start(); err != nil {
			return err
		}
		defer fleet[i].Stop()
	}
	if _, err := awaitAll(fleet, acct.ID, originURL(0), time.Now()); err != nil {
		return fmt.Errorf("initial sync: %w", err)
	}

	var perWrite, perEdge, endToEnd, apiCalls []time.Duration
	for i := 1; i <= nWrites; i++ {
		issued := time.Now()
		if err := api.UpdateOrigin(ctx, acct, originID, "photos", originURL(i)); err != nil {
			return err
		}
		apiCalls = append(apiCalls, time.Since(issued))
		committed := issued
		if trackCommits == "on" {
			// The bench is the only writer of config_version: its row's
			// xmin is this write's transaction.
			if err := db.QueryRow(ctx, `SELECT pg_xact_commit_timestamp(xmin) FROM config_version`).Scan(&committed); err != nil {
				return fmt.Errorf("read commit time: %w", err)
			}
		}
		lat, err := awaitAll(fleet, acct.ID, originURL(i), committed)
		if err != nil {
			return fmt.Errorf("write %d: %w", i, err)
		}
		var slowest time.Duration
		for _, d := range lat {
			slowest = max(slowest, d)
		}
		perEdge = append(perEdge, lat...)
		perWrite = append(perWrite, slowest)
		endToEnd = append(endToEnd, slowest+committed.Sub(issued))
		time.Sleep(pause)
	}

	p := fleettest.Percentile
	from := "the commit"
	if trackCommits != "on" {
		from = "issuing the write (track_commit_timestamp is off)"
	}
	fmt.Printf("config propagation: %d writes through the REST API, %d edges, %d control-plane replica(s); timed from %s\n",
		nWrites, nEdges, nReplicas, from)
	fmt.Printf("  until every edge serves it:   p50 %8s   p99 %8s   max %8s\n", ms(p(perWrite, 50)), ms(p(perWrite, 99)), ms(p(perWrite, 100)))
	fmt.Printf("  each edge (%5d deliveries): p50 %8s   p99 %8s   max %8s\n", len(perEdge), ms(p(perEdge, 50)), ms(p(perEdge, 99)), ms(p(perEdge, 100)))
	fmt.Printf("  REST call (auth, rate limit, commit):     p50 %8s   p99 %8s\n", ms(p(apiCalls, 50)), ms(p(apiCalls, 99)))
	fmt.Printf("  issuing the write until every edge:       p50 %8s   p99 %8s\n", ms(p(endToEnd, 50)), ms(p(endToEnd, 99)))
	verdict := "met"
	if p(perWrite, 99) >= target {
		verdict = "MISSED"
	}
	fmt.Printf("  target p99 < %s until every edge serves it: %s\n", target, verdict)
	return nil
}

func originURL(n int) string { return fmt.Sprintf("https://photos-%d.example.com", n) }

// awaitAll waits until every edge serves url and returns, per edge, the
// time from start until it did.
func awaitAll(fleet []*fleettest.Edge, account, url string, start time.Time) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make([]time.Duration, len(fleet))
	for i, e := range fleet {
		at, err := e.WaitFor(ctx, func(t *routing.Table) bool { return fleettest.OriginOf(t, account) == url })
		if err != nil {
			return nil, err
		}
		out[i] = at.Sub(start)
	}
	return out, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
