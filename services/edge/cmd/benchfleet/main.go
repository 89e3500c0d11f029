// Command benchfleet measures config push at SaaS scale (make
// bench-fleet): one Postgres seeded with N tenants (cmd/benchseed in the
// control-plane module: 2 origins, 3 URL-endpoints, 2 keys and 5 named
// transformations each), two control-plane replicas (the real binary)
// behind a TCP load balancer, and M in-process edges running the real
// config client. It prints, against issue 17's targets:
//
//   - one account's change (REST API) until every edge serves it;
//   - purges at a steady rate until every edge holds them, and the control
//     plane's config bytes sent per purge beside a whole snapshot's size;
//   - the heap per edge, a new edge's cold start from the control plane
//     and from its disk;
//   - one replica killed: until every edge is connected to the other and
//     serves a change made after the kill.
//
// It exits 1 when a target is missed and prints a one-line summary last.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"pictor/services/edge/internal/fleettest"
)

const (
	adminToken = "bench-admin-token-0123456789"
	edgeToken  = "bench-edge-token-0123456789"
	masterKey  = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
)

type options struct {
	databaseURL, controlplane, seed, dataDir string
	accounts, edges, changes                 int
	purgeRate                                int // per minute
	purgeFor                                 time.Duration
	cpuProfile                               string
	hitNs                                    string // "none,many": ns per hit without and with 10,000 purge rules
}

func main() {
	var o options
	flag.StringVar(&o.databaseURL, "database-url", os.Getenv("PICTOR_DATABASE_URL"), "Postgres URL of an empty database (migrated and written)")
	flag.StringVar(&o.controlplane, "controlplane", "", "path of the controlplane binary")
	flag.StringVar(&o.seed, "seed", "", "path of the benchseed binary")
	flag.StringVar(&o.dataDir, "data-dir", "", "where edges persist their config (default: a temporary directory)")
	flag.IntVar(&o.accounts, "accounts", 10_000, "tenants to seed")
	flag.IntVar(&o.edges, "edges", 100, "edges")
	flag.IntVar(&o.changes, "changes", 100, "single-account changes to time")
	flag.IntVar(&o.purgeRate, "purge-rate", 1000, "purges a minute")
	flag.DurationVar(&o.purgeFor, "purge-for", 5*time.Minute, "how long to purge")
	flag.StringVar(&o.hitNs, "hit-ns", "", "ns per L1 hit on an account without purge rules and with 10,000, \"none,many\" (BenchmarkHitPurgeRules; scripts/bench-fleet.sh measures it)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the edges' process during the timed changes and purges here")
	cold := flag.Bool("cold-edge", false, "internal: be the cold-started edge (see coldStarts)")
	coldAddr := flag.String("cold-addr", "", "internal: -cold-edge's control plane")
	coldDir := flag.String("cold-dir", "", "internal: -cold-edge's data directory")
	coldVersion := flag.Uint64("cold-version", 0, "internal: the version -cold-edge waits for")
	flag.Parse()
	if *cold {
		if err := coldEdge(*coldAddr, *coldDir, *coldVersion); err != nil {
			fmt.Fprintln(os.Stderr, "benchfleet -cold-edge:", err)
			os.Exit(1)
		}
		return
	}
	if o.databaseURL == "" || o.controlplane == "" || o.seed == "" || o.accounts < 1 || o.edges < 2 {
		fmt.Fprintln(os.Stderr, "benchfleet: -database-url, -controlplane and -seed are required; -accounts ≥ 1, -edges ≥ 2")
		os.Exit(2)
	}
	os.Exit(bench(o))
}

// bench runs the benchmark and returns the exit code.
func bench(o options) int {
	r := &report{}
	err := run(context.Background(), o, r)
	met := r.print() // what was measured before a failure too
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchfleet:", err)
		fmt.Println("bench-fleet: FAIL:", err)
		return 1
	}
	if !met {
		return 1
	}
	return 0
}

// startProfile starts the CPU profile -cpuprofile asks for.
func (f *fleet) startProfile(context.Context) error {
	if f.o.cpuProfile == "" {
		return nil
	}
	out, err := os.Create(f.o.cpuProfile)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return err
	}
	f.profile = out
	return nil
}

// stopProfile writes the profile; stop calls it too, for a run that failed.
func (f *fleet) stopProfile(context.Context) error {
	if f.profile == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := f.profile.Close()
	f.profile = nil
	return err
}

func run(ctx context.Context, o options, r *report) error {
	keys, err := seed(ctx, o)
	if err != nil {
		return err
	}
	db, err := pgxpool.New(ctx, o.databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()

	var cps []*fleettest.ControlPlane
	defer func() {
		for _, cp := range cps {
			cp.Stop()
		}
	}()
	for range 2 {
		cp, err := fleettest.StartControlPlane(ctx, fleettest.ControlPlaneConfig{
			Bin: o.controlplane, DatabaseURL: o.databaseURL, AdminToken: adminToken, EdgeToken: edgeToken, MasterKey: masterKey,
			Env: []string{"PICTOR_LOG_LEVEL=info", "PICTOR_SIGNUP_ENABLED=false", "PICTOR_API_RATE_LIMIT=100000",
				"PICTOR_PUBLIC_EDGE_URL=http://edge.example"},
		})
		if err != nil {
			return err
		}
		cps = append(cps, cp)
	}
	lb, err := newBalancer([]string{cps[0].GRPCAddr(), cps[1].GRPCAddr()})
	if err != nil {
		return err
	}
	defer lb.close()
	if o.dataDir == "" {
		if o.dataDir, err = os.MkdirTemp("", "pictor-benchfleet-"); err != nil {
			return err
		}
		defer os.RemoveAll(o.dataDir)
	}
	f := &fleet{o: o, db: db, cps: cps, lb: lb, keys: keys, r: r,
		log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	defer f.stop()
	if o.hitNs != "" {
		var none, many float64
		if _, err := fmt.Sscanf(o.hitNs, "%g,%g", &none, &many); err != nil || none <= 0 {
			return fmt.Errorf("-hit-ns %q: want two positive numbers", o.hitNs)
		}
		r.add("a hit with 10,000 purge rules against none", fmt.Sprintf("%.0f ns against %.0f ns (%+.1f %%)", many, none, (many/none-1)*100),
			many <= none*1.10, "within 10 %")
	}
	for _, phase := range []func(context.Context) error{f.connect, f.startProfile, f.change, f.purge, f.stopProfile, f.coldStarts, f.killReplica} {
		if err := phase(ctx); err != nil {
			return err
		}
	}
	return nil
}

// seed migrates the database and fills it with the tenants; it returns
// each tenant's private key.
func seed(ctx context.Context, o options) ([]fleettest.Account, error) {
	env := append(os.Environ(), "PICTOR_DATABASE_URL="+o.databaseURL, "PICTOR_MASTER_KEY="+masterKey, "PICTOR_LOG_LEVEL=warn")
	migrate := exec.CommandContext(ctx, o.controlplane, "migrate", "up")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("migrate: %w\n%s", err, out)
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, o.seed, "-accounts", fmt.Sprint(o.accounts))
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	var keys []fleettest.Account
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		id, key, _ := strings.Cut(sc.Text(), " ")
		keys = append(keys, fleettest.Account{ID: id, PrivateKey: key})
	}
	fmt.Printf("fleet: %d tenants seeded in %.1fs; %d edges, 2 control-plane replicas behind a load balancer\n",
		len(keys), time.Since(start).Seconds(), o.edges)
	return keys, nil
}

type fleet struct {
	o     options
	db    *pgxpool.Pool
	cps   []*fleettest.ControlPlane
	lb    *balancer
	keys  []fleettest.Account
	r     *report
	log   *slog.Logger
	edges []*edge
	// profile is the CPU profile being written, if any.
	profile *os.File
}

func (f *fleet) stop() {
	f.stopProfile(context.Background())
	for _, e := range f.edges {
		e.stop()
	}
}

func (f *fleet) version(ctx context.Context) (uint64, error) {
	var v uint64
	err := f.db.QueryRow(ctx, `SELECT version FROM config_version`).Scan(&v)
	return v, err
}

// all waits until every edge holds version v and returns, per edge, the
// time from start until it did.
func (f *fleet) all(ctx context.Context, v uint64, start time.Time, timeout time.Duration) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := make([]time.Duration, len(f.edges))
	for i, e := range f.edges {
		at, err := e.reached(ctx, v)
		if err != nil {
			return nil, err
		}
		out[i] = at.Sub(start)
	}
	return out, nil
}

func slowest(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// connect starts the edges (half on each replica) and waits until all
// hold the seeded config; it reports the heap each one costs.
func (f *fleet) connect(ctx context.Context) error {
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v, err := f.version(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	for i := range f.o.edges {
		e := newEdge(fmt.Sprintf("bench-edge-%03d", i), f.lb.addr(), fmt.Sprintf("%s/edge-%03d", f.o.dataDir, i), f.log)
		if err := e.start(); err != nil {
			return err
		}
		f.edges = append(f.edges, e)
	}
	if _, err := f.all(ctx, v, start, 5*time.Minute); err != nil {
		return fmt.Errorf("initial sync: %w", err)
	}
	fmt.Printf("  initial sync of %d edges: %.1fs\n", len(f.edges), time.Since(start).Seconds())
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	perEdge := float64(after.HeapAlloc-before.HeapAlloc) / float64(len(f.edges)) / (1 << 20)
	f.r.add("config heap per edge", fmt.Sprintf("%.1f MiB", perEdge), perEdge < 64, "< 64 MiB")
	return nil
}

// change times single-account changes made through the REST API, from
// the API call until every edge serves them. A first change, untimed,
// settles the fleet: every edge that synced more than persistEvery before
// writes its config on it at once, as a real edge does on its own cores,
// but here a hundred do on the same two.
func (f *fleet) change(ctx context.Context) error {
	api := fleettest.NewAPI(f.cps[0].HTTPAddr(), adminToken)
	if _, err := api.CreateOrigin(ctx, f.keys[0], "bench-warm-up", "https://warm-up.example.com"); err != nil {
		return fmt.Errorf("warm-up change: %w", err)
	}
	v, err := f.version(ctx)
	if err != nil {
		return err
	}
	if _, err := f.all(ctx, v, time.Now(), time.Minute); err != nil {
		return fmt.Errorf("warm-up change: %w", err)
	}
	time.Sleep(time.Second)
	var samples []time.Duration
	for i := range f.o.changes {
		acct := f.keys[rand.IntN(len(f.keys))]
		start := time.Now()
		if _, err := api.CreateOrigin(ctx, acct, fmt.Sprintf("bench-%d", i), fmt.Sprintf("https://new-%d.example.com", i)); err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
		v, err := f.version(ctx)
		if err != nil {
			return err
		}
		lat, err := f.all(ctx, v, start, time.Minute)
		if err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
		samples = append(samples, slowest(lat))
		time.Sleep(50 * time.Millisecond)
	}
	p := fleettest.Percentile
	f.r.add("one account's change on every edge", fmt.Sprintf("p50 %s p99 %s", ms(p(samples, 50)), ms(p(samples, 99))), p(samples, 99) < 200*time.Millisecond, "p99 < 200ms")
	return nil
}

// purge issues purges at the configured rate and times each until every
// edge holds it; it reports the control plane's bytes sent per purge.
func (f *fleet) purge(ctx context.Context) error {
	if f.o.purgeFor <= 0 || f.o.purgeRate <= 0 {
		return nil
	}
	api := fleettest.NewAPI(f.cps[0].HTTPAddr(), adminToken)
	sentBefore, err := f.sentBytes(ctx)
	if err != nil {
		return err
	}
	every := time.Minute / time.Duration(f.o.purgeRate)
	var (
		mu      sync.Mutex
		samples []time.Duration
		wg      sync.WaitGroup
		errs    []error
	)
	tick := time.NewTicker(every)
	defer tick.Stop()
	end := time.Now().Add(f.o.purgeFor)
	n := 0
	for time.Now().Before(end) {
		<-tick.C
		n++
		acct := f.keys[rand.IntN(len(f.keys))]
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			start := time.Now()
			id, err := api.Purge(ctx, acct, fmt.Sprintf("http://edge.example/%s/products/item-%d.jpg", acct.ID, i))
			var v uint64
			if err == nil {
				err = f.db.QueryRow(ctx, `SELECT config_version FROM purge_requests WHERE id = $1`, id).Scan(&v)
			}
			var lat []time.Duration
			if err == nil {
				lat, err = f.all(ctx, v, start, time.Minute)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			samples = append(samples, slowest(lat))
		}(n)
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d purges failed, first: %w", len(errs), n, errs[0])
	}
	sentAfter, err := f.sentBytes(ctx)
	if err != nil {
		return err
	}
	p := fleettest.Percentile
	f.r.add(fmt.Sprintf("purge on every edge (%d at %d/min)", n, f.o.purgeRate), fmt.Sprintf("p50 %s p99 %s", ms(p(samples, 50)), ms(p(samples, 99))),
		p(samples, 99) < 2*time.Second, "p99 < 2s")
	perPurge := float64(sentAfter-sentBefore) / float64(n) / float64(len(f.edges))
	whole := f.wholeBytes()
	f.r.add("config bytes sent per purge per edge", fmt.Sprintf("%.0f B (a whole snapshot: %.1f MB)", perPurge, whole/1e6),
		perPurge < whole/100, "proportional to the change")
	return nil
}

// sentBytes sums pictor_controlplane_config_sent_bytes_total over the
// live replicas.
func (f *fleet) sentBytes(ctx context.Context) (uint64, error) {
	var total uint64
	for _, cp := range f.cps {
		v, err := cp.Metric(ctx, "pictor_controlplane_config_sent_bytes_total")
		if err != nil {
			return 0, err
		}
		total += uint64(v)
	}
	return total, nil
}

// wholeBytes is the size of the whole config as an edge persisted it.
func (f *fleet) wholeBytes() float64 {
	fi, err := os.Stat(fmt.Sprintf("%s/edge-000/snapshot.bin", f.o.dataDir))
	if err != nil {
		return 0
	}
	return float64(fi.Size())
}

// coldStarts times a new edge from the control plane, and from its disk.
// The new edge runs in a process of its own (this binary, -cold-edge), as
// a real one would: in this process it would share the hundred edges'
// heap, and their collector's work, which no real edge does.
func (f *fleet) coldStarts(ctx context.Context) error {
	v, err := f.version(ctx)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, self, "-cold-edge", "-cold-addr", f.lb.addr(),
		"-cold-dir", fmt.Sprintf("%s/cold", f.o.dataDir), "-cold-version", fmt.Sprint(v))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("cold-start edge: %w", err)
	}
	var fromCP, fromDisk time.Duration
	if _, err := fmt.Sscanf(string(out), "cold %d %d", &fromCP, &fromDisk); err != nil {
		return fmt.Errorf("cold-start edge said %q: %w", out, err)
	}
	f.r.add("cold start from the control plane", ms(fromCP), fromCP < 2*time.Second, "< 2s")
	f.r.add("cold start from disk", ms(fromDisk), fromDisk < 500*time.Millisecond, "< 500ms")
	return nil
}

// coldEdge is the -cold-edge process: a new edge takes version v from the
// control plane at addr, writes it to dir as it stops, and loads it back
// as an edge restarted without the control plane would. It prints the
// two durations in nanoseconds.
func coldEdge(addr, dir string, v uint64) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	e := newEdge("bench-edge-cold", addr, dir, log)
	start := time.Now()
	if err := e.start(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := e.reached(ctx, v); err != nil {
		return err
	}
	fromCP := time.Since(start)
	e.stop() // the config was written as it arrived
	disk := newEdge("bench-edge-cold", addr, dir, log)
	start = time.Now()
	if _, err := disk.watch.Restore(); err != nil {
		return fmt.Errorf("cold start from disk: %w", err)
	}
	fromDisk := time.Since(start)
	fmt.Printf("cold %d %d\n", fromCP, fromDisk)
	return nil
}

// killReplica kills the second replica, makes a change through the first,
// and times until every edge is connected again and serves it.
func (f *fleet) killReplica(ctx context.Context) error {
	if err := f.cps[1].Kill(); err != nil {
		return err
	}
	start := time.Now()
	api := fleettest.NewAPI(f.cps[0].HTTPAddr(), adminToken)
	if _, err := api.CreateOrigin(ctx, f.keys[0], "after-kill", "https://after-kill.example.com"); err != nil {
		return err
	}
	v, err := f.version(ctx)
	if err != nil {
		return err
	}
	if _, err := f.all(ctx, v, start, time.Minute); err != nil {
		return fmt.Errorf("after the kill: %w", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		connected := 0
		for _, e := range f.edges {
			if e.watch.Connected() {
				connected++
			}
		}
		if connected == len(f.edges) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after the kill %d of %d edges connected", connected, len(f.edges))
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	f.r.add("replica killed: every edge connected and current", ms(took), took < 10*time.Second, "< 10s")
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// report collects results against their targets.
type report struct {
	lines  []string
	missed []string
}

func (r *report) add(what, got string, met bool, target string) {
	verdict := "met"
	if !met {
		verdict = "MISSED"
		r.missed = append(r.missed, what)
	}
	r.lines = append(r.lines, fmt.Sprintf("  %-52s %-40s target %s: %s", what, got, target, verdict))
}

func (r *report) print() bool {
	for _, l := range r.lines {
		fmt.Println(l)
	}
	if len(r.missed) > 0 {
		fmt.Printf("bench-fleet: FAIL: %d of %d targets missed (%s)\n", len(r.missed), len(r.lines), strings.Join(r.missed, "; "))
		return false
	}
	fmt.Printf("bench-fleet: PASS: %d targets met\n", len(r.lines))
	return true
}
