// Command edge serves Pictor's image traffic: it subscribes to the control
// plane's config stream, routes each request to a tenant's URL-endpoint,
// fetches the original from the customer's origin and transforms it.
//
// Configuration comes from PICTOR_* environment variables, validated at
// start-up and printed with secrets masked.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	configv1 "pictor/proto/pictor/config/v1"
	usagev1 "pictor/proto/pictor/usage/v1"
	"pictor/services/edge/internal/bufpool"
	"pictor/services/edge/internal/cache"
	"pictor/services/edge/internal/configwatch"
	"pictor/services/edge/internal/delivery"
	"pictor/services/edge/internal/membudget"
	"pictor/services/edge/internal/metrics"
	"pictor/services/edge/internal/offheap"
	"pictor/services/edge/internal/origin"
	"pictor/services/edge/internal/panics"
	"pictor/services/edge/internal/routing"
	"pictor/services/edge/internal/standalone"
	"pictor/services/edge/internal/transform"
	"pictor/services/edge/internal/usage"
	"pictor/services/internal/tracing"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	configFile := flag.String("config", "", "serve from this snapshot file (YAML or JSON) instead of a control plane")
	flag.Parse()
	cfg, err := loadConfig(os.Getenv, *configFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "edge: %v\n", err)
		os.Exit(2)
	}
	log := newLogger(cfg.LogFormat, cfg.LogLevel)
	if err := run(cfg, log); err != nil {
		log.Error("edge stopped", "err", err)
		os.Exit(1)
	}
}

func run(cfg config, log *slog.Logger) error {
	log.Info("starting edge", "version", version, "config", cfg.masked())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	tp, err := tracing.New(ctx, cfg.Tracing, "pictor-edge", version)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(sctx); err != nil {
			log.Warn("flush traces", "err", err)
		}
	}()

	var tables routing.Holder
	apply := func(snap *configv1.Snapshot, d *configv1.Delta) ([]*configv1.Rejection, error) {
		t, rejected, err := routing.Update(snap, d, tables.Load())
		if err != nil {
			return nil, err
		}
		if tables.Store(t) {
			log.Info("config applied", "version", t.Version())
		}
		return routing.RejectionsProto(rejected), nil
	}
	var (
		configLoop func(context.Context)
		connected  = func() bool { return false } // standalone mode has no control plane
		meter      *usage.Meter                   // nil in standalone mode: nobody to report to
		reporter   *usage.Reporter                // nil in standalone mode
	)
	if cfg.ConfigFile != "" {
		load := func() error {
			snap, err := standalone.Load(cfg.ConfigFile)
			if err != nil {
				return err
			}
			// A hand-written file is refused whole: no account may be
			// left out of it silently.
			if _, err := routing.Build(snap); err != nil {
				return err
			}
			_, err = apply(snap, nil)
			return err
		}
		if err := load(); err != nil {
			return fmt.Errorf("standalone config %s: %w", cfg.ConfigFile, err)
		}
		configLoop = func(ctx context.Context) { reloadOnHangup(ctx, load, log) }
	} else {
		var tlsCfg *tls.Config
		if cfg.ControlPlaneTLS {
			var err error
			if tlsCfg, err = configwatch.ClientTLS(cfg.ControlPlaneCA); err != nil {
				return err
			}
		} else if cfg.plaintextBeyondHost() {
			log.Warn("control plane connection without TLS: the edge token and signing keys travel in the clear; " +
				"set PICTOR_CONTROL_PLANE_TLS (and PICTOR_CONTROL_PLANE_TLS_CA) unless a private network protects it")
		}
		watch := configwatch.New(configwatch.Config{
			Addr:      cfg.ControlPlaneAddr,
			Token:     cfg.EdgeToken,
			NodeID:    cfg.NodeID,
			EdgeGroup: cfg.EdgeGroup,
			DataDir:   cfg.DataDir,
			TLS:       tlsCfg,
		}, apply, log)
		connected = watch.Connected
		// One connection carries the config stream and the usage reports.
		conn, err := watch.Dial()
		if err != nil {
			return err
		}
		defer conn.Close()
		meter = usage.NewMeter()
		reporter = usage.NewReporter(usagev1.NewUsageServiceClient(conn), meter,
			usage.ReporterConfig{NodeID: cfg.NodeID, Interval: cfg.UsageInterval}, log)
		if v, err := watch.Restore(); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				log.Info("no persisted config snapshot; not ready until the control plane sends one")
			} else {
				log.Warn("persisted config snapshot rejected; not ready until the control plane sends one", "err", err)
			}
		} else {
			log.Info("serving persisted config until the control plane answers", "version", v)
		}
		configLoop = func(ctx context.Context) {
			if err := watch.RunOn(ctx, conn); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("config watch stopped", "err", err)
			}
		}
	}

	split, err := cfg.memorySplit()
	if err != nil {
		return err
	}
	// Bodies waiting for the background L2 writers and idle pooled origin
	// buffers are held outside any lease: each gets a sixteenth of the work
	// share (at most 32 MiB), set aside before the rest is leased.
	setAside := min(32<<20, split.Work/16)
	bufpool.SetIdleLimit(setAside)
	budget := membudget.New(split.Work-2*setAside, time.Second)

	fetchCfg := origin.DefaultConfig()
	fetchCfg.Memory = budget
	fetchCfg.AllowPrivate = cfg.AllowPrivateOrigins
	fetchCfg.AzureBlobURL = cfg.AzureBlobURL
	fetchCfg.S3URL = cfg.S3URL
	fetchCfg.UserAgent = "pictor-edge/" + version
	fetchCfg.ConnectTimeout = cfg.ConnectTimeout
	fetchCfg.FetchTimeout = cfg.FetchTimeout
	fetchCfg.MaxBodyBytes = cfg.MaxSourceBytes
	if tp.Enabled() {
		fetchCfg.TracerProvider = tp
	}
	engine := transform.New(transform.Config{
		MaxSourcePixels: cfg.MaxSourcePixels,
		Workers:         cfg.Workers,
		QueueLength:     cfg.QueueLength,
		QueueWait:       queueWait,
		Deadline:        cfg.TransformDeadline,
		AVIFEffort:      0, // libaom speed 9: a 2000-px AVIF in under half a second per core
		Memory:          budget,
	}, log)
	log.Info("memory budget", "from", cfg.MemoryLimitFrom, "split", split.String(),
		"set_aside", fmt.Sprintf("%dMiB for the L2 write queue, %dMiB for idle origin buffers", setAside>>20, setAside>>20),
		"max_connections", cfg.MaxConnections, "go_memory_limit", startMemoryLimiter(ctx, split, engine, log))
	cacheCfg := cache.DefaultConfig()
	cacheCfg.L1Bytes = uint64(split.L1)
	cacheCfg.WriteQueueBytes = setAside
	cacheCfg.L1Originals = len(cfg.RedisAddrs) == 0
	cacheCfg.RedisAddrs = cfg.RedisAddrs
	cacheCfg.RedisPassword = cfg.RedisPassword
	cacheCfg.MaxObject = int(cfg.MaxCacheObject)
	store, err := cache.New(cacheCfg, log)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	defer store.Close()
	handler := delivery.New(&tables, origin.New(fetchCfg), engine, store, log)
	handler.SetLimits(delivery.Limits{MaxMisses: 2 * cfg.Workers, MissQueue: cfg.QueueLength, MissWait: queueWait,
		Memory: budget, ObjectCap: cfg.MaxCacheObject, OriginalAdmission: cfg.OriginalAdmission})
	if meter != nil {
		handler.Usage = meter
	}
	m := metrics.NewEdge(metrics.Sources{
		TransformQueueDepth: engine.QueueDepth,
		L1Bytes:             store.L1Bytes,
		L1Evictions:         store.L1Evictions,
		RedisErrors:         store.RedisErrors,
		RedisBreakerOpen:    store.BreakerOpen,
		ConfigVersion: func() uint64 {
			if t := tables.Load(); t != nil {
				return t.Version()
			}
			return 0
		},
		ConfigCreated: func() time.Time {
			if t := tables.Load(); t != nil {
				return t.CreatedAt()
			}
			return time.Time{}
		},
		ControlPlaneUp:  func() bool { return connected() },
		MemoryBudget:    budget.Size,
		MemoryInUse:     budget.InUse,
		MemoryRefused:   budget.Refused,
		MissesInFlight:  handler.MissesInFlight,
		MissesWaiting:   handler.MissesWaiting,
		OffHeapBytes:    offheap.Allocated,
		VipsMemoryBytes: func() int64 { now, _ := transform.VipsMemory(); return now },
		Panics:          panics.Counts,
	})
	handler.Observer, handler.Metrics = m, m.Handler()

	var root http.Handler = handler
	if tp.Enabled() {
		root = traced(handler, tp)
	}
	// fasthttp in front: fresh L1 hits are answered without net/http (see
	// docs/benchmarks.md, "Cache hits"); everything else reaches root
	// through an adaptor. With tracing on, every request takes root so
	// that every request gets its span.
	srv := newServer(handler.FastHandler(root, !tp.Enabled()), cfg, log)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		configLoop(ctx)
	}()
	// Usage reporting outlives the signal: it stops after the last request
	// has drained, so that request is in the last report.
	reportCtx, stopReports := context.WithCancel(context.Background())
	reportDone := make(chan struct{})
	go func() {
		defer close(reportDone)
		if reporter != nil {
			reporter.Run(reportCtx)
		}
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe(cfg.Addr) }()
	log.Info("edge listening", "addr", cfg.Addr, "node_id", cfg.NodeID)

	select {
	case err := <-serveErr:
		stop()
		<-watchDone
		stopReports()
		<-reportDone
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.ShutdownWithContext(shutdownCtx)
	<-watchDone
	stopReports()
	<-reportDone
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("edge stopped cleanly")
	return nil
}

// reloadOnHangup re-reads a standalone config file on SIGHUP; a file that
// does not validate is logged and the config in force stays.
func reloadOnHangup(ctx context.Context, load func() error, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := load(); err != nil {
				log.Error("config reload rejected; keeping the config in force", "err", err)
			}
		}
	}
}

// traced makes each image request a root span "edge request" (origin fetch
// and transform spans hang under it). A client's traceparent is linked,
// never adopted: on a public CDN a client must not choose what is sampled.
// Probes and scrapes are not traced.
func traced(h http.Handler, tp trace.TracerProvider) http.Handler {
	return otelhttp.NewHandler(h, "edge request",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }),
		otelhttp.WithSpanNameFormatter(func(operation string, _ *http.Request) string { return operation }),
		otelhttp.WithFilter(func(r *http.Request) bool {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}))
}

// newServer is the edge's listener, bounded against clients that hold
// connections open: a request's line and headers must arrive within
// ReadHeaderTimeout (GET and HEAD carry no body), a response must be taken
// within WriteTimeout, an idle keep-alive connection is closed after
// IdleTimeout, and past MaxConnections new connections are refused. Idle
// connections give their buffers back (ReduceMemoryUsage), so a crowd of
// slow clients costs a few KB each, which the memory budget's runtime share
// allows for.
func newServer(h fasthttp.RequestHandler, cfg config, log *slog.Logger) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:               h,
		NoDefaultServerHeader: true,
		ReadTimeout:           cfg.ReadHeaderTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		Concurrency:           cfg.MaxConnections,
		ReadBufferSize:        readBufferSize, // also the largest request header accepted
		WriteBufferSize:       writeBufferSize,
		ReduceMemoryUsage:     true,
		CloseOnShutdown:       true,
		Logger:                slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// queueWait is the longest a miss waits for its turn before it is
// answered 503.
const queueWait = 2 * time.Second

// readBufferSize bounds a request's line and headers, like nginx's
// large_client_header_buffers (8k) with room for long transformation
// chains and a custom domain's cookies.
const readBufferSize = 16 << 10

// writeBufferSize holds a response's headers and, up to about 31 KiB, its
// body, so most variants leave in one write(2) instead of two (headers,
// then the body): about a tenth less CPU per cache hit (docs/benchmarks.md,
// "Cache hits"). A connection holds it only while its response is being
// written (ReduceMemoryUsage); membudget.PerConn counts it.
const writeBufferSize = 32 << 10

// startMemoryLimiter keeps GOMEMLIMIT at what the rest of the process
// leaves of the budget (membudget.GoLimiter), and returns C's allocator's
// free memory to the system every few seconds. A GOMEMLIMIT set in the
// environment is left alone.
func startMemoryLimiter(ctx context.Context, split membudget.Split, engine *transform.Engine, log *slog.Logger) string {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		log.Warn("GOMEMLIMIT set in the environment; the edge does not adjust it to its memory budget", "gomemlimit", v)
		return v + " (environment)"
	}
	lim := membudget.GoLimiter{Total: split.Total, Floor: split.Runtime, Resident: membudget.ProcessRSS,
		Pending: func() int64 {
			vips, _ := transform.VipsMemory()
			return engine.Reserved() - vips
		}}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				panics.Recovered(log, panics.MemoryLimiter, p)
			}
		}()
		trim := time.NewTicker(10 * time.Second)
		defer trim.Stop()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-trim.C:
				offheap.Trim()
			case <-tick.C:
				lim.Apply()
			}
		}
	}()
	return membudget.FormatSize(lim.Apply()) + " now (the budget less what is resident outside Go and reserved by transforms, every 100ms)"
}

func newLogger(format, level string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func defaultWorkers() int { return 2 * runtime.GOMAXPROCS(0) }
