// Command controlplane runs Pictor's control plane: the REST API for
// customers and admins, and the gRPC config service that keeps edges
// current (DESIGN §1). It also migrates the database.
//
//	controlplane serve
//	controlplane migrate [up]
//	controlplane migrate down [N]
//	controlplane migrate version
//
// Configuration comes from PICTOR_* environment variables (see usage).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/net/netutil"
	"google.golang.org/grpc"

	configv1 "pictor/proto/pictor/config/v1"
	usagev1 "pictor/proto/pictor/usage/v1"
	"pictor/services/controlplane/internal/auth"
	"pictor/services/controlplane/internal/configpush"
	"pictor/services/controlplane/internal/httpapi"
	"pictor/services/controlplane/internal/metrics"
	"pictor/services/controlplane/internal/postgres"
	"pictor/services/controlplane/internal/snapshot"
	"pictor/services/controlplane/internal/tenant"
	usagesvc "pictor/services/controlplane/internal/usage"
	"pictor/services/internal/pgmigrate"
	"pictor/services/internal/tracing"
	"pictor/web"
)

const usage = `usage: controlplane <command>

commands:
  serve              run the HTTP API and the edge config service
  migrate [up]       apply every pending database migration
  migrate down [N]   revert the last N migrations (all of them, and all data, when N is omitted)
  migrate version    print the database's schema version

environment:
  PICTOR_DATABASE_URL           Postgres URL (required)
  PICTOR_HTTP_ADDR              HTTP listen address (default :8080)
  PICTOR_GRPC_ADDR              gRPC listen address for edges (default :8090)
  PICTOR_GRPC_TLS_CERT          PEM certificate (chain) for TLS on the edge stream; re-read when renewed
  PICTOR_GRPC_TLS_KEY           PEM private key of that certificate (both or neither; default plaintext)
  PICTOR_ADMIN_TOKEN            bearer token of the admin API (required by serve)
  PICTOR_EDGE_TOKEN             bearer token edges present (required by serve)
  PICTOR_MASTER_KEY             64 hex digits or base64 of 32 bytes; encrypts API keys (required by serve)
  PICTOR_ALLOW_PRIVATE_ORIGINS  accept origins on private/loopback addresses (default false)
  PICTOR_PUBLIC_EDGE_URL        base URL of the edges, shown in urlEndpoint (default http://127.0.0.1:8081)
  PICTOR_EDGE_EGRESS_ADDRESSES  comma-separated IPs/CIDRs edges reach origins from, shown in the dashboard (optional)
  PICTOR_API_RATE_LIMIT         account API requests per minute per account, all replicas together (default 1200)
  PICTOR_TRUSTED_PROXIES        comma-separated IPs/CIDRs of the load balancers in front; their X-Forwarded-For
                                names the client that per-address limits (logins, sign-ups, unknown API keys)
                                count; default none: the connection's peer is the client
  PICTOR_SIGNUP_ENABLED         allow self-service sign-up at POST /v1/auth/signup (default true)
  PICTOR_DASHBOARD_ORIGIN       the one other origin allowed to call the API from a browser (CORS, CSRF);
                                default none: the dashboard is served by the control plane itself
  PICTOR_COOKIE_SECURE          mark the session cookie Secure; set when clients use TLS (default false)
  PICTOR_LOG_LEVEL              debug, info, warn or error (default info)
  PICTOR_LOG_FORMAT             text or json (default text)
  PICTOR_OTLP_ENDPOINT          OTLP/gRPC collector for traces: http://host:4317 (plaintext), https://… or host:port (TLS);
                                falls back to OTEL_EXPORTER_OTLP_ENDPOINT; default none: tracing off
  PICTOR_TRACE_SAMPLE_RATIO     fraction of new traces recorded when tracing is on (default 1)

metrics: GET /metrics on the HTTP address (Prometheus text format).
`

// shutdownTimeout bounds a graceful stop; in-flight requests are cut after it.
const shutdownTimeout = 15 * time.Second

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code: 0 success,
// 1 failure, 2 usage or configuration error. onServing, when set, is told
// the bound addresses once serve is listening (tests use it).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, onServing func(httpAddr, grpcAddr string)) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd := args[0]
	if cmd != "serve" && cmd != "migrate" {
		fmt.Fprintf(stderr, "controlplane: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	serve := cmd == "serve"

	level, format, _ := loadLogConfig(getenv) // errors reported by loadConfig below
	log := newLogger(stderr, level, format)
	cfg, err := loadConfig(getenv, serve)
	if err != nil {
		log.Error("invalid configuration", "err", err)
		return 2
	}
	log.Info("configuration", cfg.logAttrs(serve)...)
	for _, w := range cfg.warnings() {
		if serve {
			log.Warn(w)
		}
	}

	if serve {
		if len(args) > 1 {
			fmt.Fprintf(stderr, "controlplane: serve takes no arguments\n\n%s", usage)
			return 2
		}
		if err := runServe(ctx, cfg, log, onServing); err != nil {
			log.Error("serve failed", "err", err)
			return 1
		}
		return 0
	}
	return runMigrate(ctx, cfg, log, args[1:], stdout, stderr)
}

func runMigrate(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout, stderr io.Writer) int {
	sub := "up"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	var err error
	switch {
	case sub == "up" && len(args) == 0:
		err = pgmigrate.Up(ctx, cfg.DatabaseURL)
	case sub == "down" && len(args) == 0:
		log.Warn("reverting every migration: all data will be dropped")
		err = pgmigrate.Down(ctx, cfg.DatabaseURL)
	case sub == "down" && len(args) == 1:
		n, perr := strconv.Atoi(args[0])
		if perr != nil || n < 1 {
			fmt.Fprintf(stderr, "controlplane: migrate down takes a positive number of steps, got %q\n", args[0])
			return 2
		}
		err = pgmigrate.Steps(ctx, cfg.DatabaseURL, -n)
	case sub == "version" && len(args) == 0:
	default:
		fmt.Fprintf(stderr, "controlplane: bad migrate arguments\n\n%s", usage)
		return 2
	}
	if err != nil {
		log.Error("migration failed", "command", sub, "err", err)
		return 1
	}
	version, dirty, err := pgmigrate.Version(ctx, cfg.DatabaseURL)
	if err != nil {
		log.Error("read schema version", "err", err)
		return 1
	}
	latest, err := pgmigrate.Latest()
	if err != nil {
		log.Error("read embedded migrations", "err", err)
		return 1
	}
	if sub == "version" {
		fmt.Fprintf(stdout, "%d\n", version)
	}
	log.Info("schema version", "command", sub, "version", version, "latest", latest, "dirty", dirty)
	if dirty {
		log.Error("a migration failed half-way and left the schema dirty; fix it by hand, then rerun")
		return 1
	}
	return 0
}

// runServe serves until ctx ends, then shuts down gracefully.
// maxHTTPConnections bounds the API's open connections; dashboards and
// SDKs keep a few each.
const maxHTTPConnections = 4096

func runServe(ctx context.Context, cfg config, log *slog.Logger, onServing func(httpAddr, grpcAddr string)) error {
	tp, err := tracing.New(ctx, cfg.Tracing, "pictor-controlplane", version)
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
	var dbOpts []postgres.Option
	if tp.Enabled() {
		dbOpts = append(dbOpts, postgres.WithTracerProvider(tp))
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL, log, dbOpts...)
	if err != nil {
		return err
	}
	defer db.Close()
	keyring, err := auth.NewKeyring(cfg.MasterKey)
	if err != nil {
		return err
	}
	checkSchema(ctx, db, log)

	push := configpush.New(db, snapshot.NewBuilder(db, keyring, log), log, configpush.Options{})
	m := metrics.New(metrics.Sources{
		WatchStreams:    func() int { return push.Stats().Streams },
		ConfigVersion:   func() uint64 { return push.Stats().Version },
		NodeLag:         func() map[string]uint64 { return push.Stats().Lag },
		ConfigBytesSent: func() uint64 { return push.Stats().SentBytes },
		PurgesPending:   db.PurgesPending,
	})
	var tracerProvider trace.TracerProvider // nil: no spans, no per-request cost
	if tp.Enabled() {
		tracerProvider = tp
	}
	api, err := httpapi.New(httpapi.Options{
		AdminToken:      cfg.AdminToken,
		PublicEdgeURL:   cfg.PublicEdgeURL,
		OriginPolicy:    tenant.OriginPolicy{AllowPrivate: cfg.AllowPrivateOrigins},
		S3URL:           cfg.S3URL,
		AzureBlobURL:    cfg.AzureBlobURL,
		RateLimit:       cfg.APIRateLimit,
		SignupEnabled:   cfg.SignupEnabled,
		DashboardOrigin: cfg.DashboardOrigin,
		SecureCookies:   cfg.CookieSecure,
		Dashboard:       dashboardFiles(log),
		EgressAddresses: cfg.EgressAddresses,
		TrustedProxies:  cfg.TrustedProxies,
		Observer:        m,
		Metrics:         m.Handler(),
		TracerProvider:  tracerProvider,
		Store:           db,
		Keyring:         keyring,
		Log:             log,
	})
	if err != nil {
		return fmt.Errorf("configure HTTP API: %w", err)
	}
	httpSrv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	grpcOpts := configpush.ServerOptions(cfg.EdgeToken, log)
	if cfg.GRPCTLSCert != "" {
		creds, err := configpush.ServerTLS(cfg.GRPCTLSCert, cfg.GRPCTLSKey, log)
		if err != nil {
			return err
		}
		grpcOpts = append(grpcOpts, grpc.Creds(creds))
	}
	grpcSrv := grpc.NewServer(grpcOpts...)
	configv1.RegisterConfigServiceServer(grpcSrv, push)
	ingest := usagesvc.New(db, log, usagesvc.Options{})
	usagev1.RegisterUsageServiceServer(grpcSrv, ingest)

	// Bind both before serving either, so a busy port fails the start.
	var lc net.ListenConfig
	httpLn, err := lc.Listen(ctx, "tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen http: %w", err)
	}
	// A cap on open API connections: past it new ones wait in the
	// kernel's backlog instead of each costing a goroutine and buffers;
	// the timeouts above close the slow and the idle.
	httpLn = netutil.LimitListener(httpLn, maxHTTPConnections)
	grpcLn, err := lc.Listen(ctx, "tcp", cfg.GRPCAddr)
	if err != nil {
		httpLn.Close()
		return fmt.Errorf("listen grpc: %w", err)
	}

	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	pushDone := make(chan struct{})
	go func() {
		push.Run(runCtx)
		close(pushDone)
	}()
	go ingest.Run(runCtx) // pruning only: nothing to wait for at shutdown
	errc := make(chan error, 2)
	go func() {
		if err := httpSrv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	go func() {
		if err := grpcSrv.Serve(grpcLn); err != nil {
			errc <- fmt.Errorf("grpc server: %w", err)
		}
	}()
	log.Info("serving", "version", version, "http_addr", httpLn.Addr().String(), "grpc_addr", grpcLn.Addr().String())
	if onServing != nil {
		onServing(httpLn.Addr().String(), grpcLn.Addr().String())
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case serveErr = <-errc:
		log.Error("server failed; shutting down", "err", serveErr)
	}

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown incomplete", "err", err)
	}
	// Streams never end by themselves: end them so GracefulStop returns,
	// and edges reconnect to another replica.
	push.Close()
	stopped := make(chan struct{})
	go func() {
		grpcSrv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-sctx.Done():
		log.Warn("grpc graceful stop timed out; closing connections")
		grpcSrv.Stop()
	}
	cancelRun()
	<-pushDone
	log.Info("stopped")
	return serveErr
}

// checkSchema warns when the database schema is not the one this binary
// was built for. It does not fail the start: the database may be down now
// and migrated later.
func checkSchema(ctx context.Context, db *postgres.DB, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	latest, err := pgmigrate.Latest()
	if err != nil {
		log.Error("read embedded migrations", "err", err)
		return
	}
	version, dirty, err := db.SchemaVersion(ctx)
	switch {
	case err != nil:
		log.Warn("database not reachable at start-up; serving anyway", "err", err)
	case dirty:
		log.Error("database schema is dirty: a migration failed half-way", "version", version)
	case version < latest:
		log.Error("database schema is behind this binary; run `controlplane migrate up`", "version", version, "latest", latest)
	case version > latest:
		log.Warn("database schema is newer than this binary", "version", version, "latest", latest)
	}
}

// dashboardFiles returns the dashboard embedded at build time; before
// `npm run build` in web/ that is a placeholder page saying so.
func dashboardFiles(log *slog.Logger) fs.FS {
	files, built := web.Dashboard()
	if !built {
		log.Warn("the dashboard is not built: / serves a placeholder; run `npm ci && npm run build` in web/, then build the control plane again (make run and make test do)")
	}
	return files
}
