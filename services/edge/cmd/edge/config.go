package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"pictor/services/edge/internal/membudget"
	"pictor/services/internal/objectstore"
	"pictor/services/internal/tracing"
)

// config is the edge's whole configuration, from PICTOR_* variables.
type config struct {
	ConfigFile          string // standalone mode: no control plane
	Addr                string
	ControlPlaneAddr    string
	ControlPlaneTLS     bool   // TLS to the control plane (implied by ControlPlaneCA)
	ControlPlaneCA      string // PEM file the control plane's certificate chains to; "" = system roots
	UsageInterval       time.Duration
	EdgeToken           string
	NodeID              string
	EdgeGroup           string
	DataDir             string
	AllowPrivateOrigins bool
	// AzureBlobURL is where AZURE_BLOB origins' accounts live, {account}
	// standing for the account name: Azure's public cloud by default; a
	// sovereign cloud or, in tests, the Azurite emulator otherwise.
	AzureBlobURL string
	// S3URL is Amazon S3's service URL for S3 origins, {region} standing
	// for the bucket's region: Amazon's by default; another partition, a
	// FIPS endpoint or, in tests, an S3-compatible server otherwise.
	S3URL             string
	ConnectTimeout    time.Duration
	FetchTimeout      time.Duration
	MaxSourceBytes    int64
	MaxSourcePixels   int64
	Workers           int
	QueueLength       int
	TransformDeadline time.Duration
	OriginalAdmission time.Duration // an original's bytes are cached on its second fetch within this
	MemoryLimit       int64         // the edge's memory budget (PICTOR_EDGE_MEMORY_LIMIT)
	MemoryLimitFrom   string        // where MemoryLimit came from, for the start-up log
	L1Bytes           int64         // -1: the default share of the budget
	MaxConnections    int
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	WriteTimeout      time.Duration
	MaxCacheObject    int64
	RedisAddrs        []string
	RedisPassword     string
	ShutdownTimeout   time.Duration
	LogLevel          string
	LogFormat         string
	Tracing           tracing.Config // off unless an OTLP endpoint is set
}

// loadConfig reads and validates the environment; every problem is
// reported at once so a misconfigured deployment is fixed in one go.
func loadConfig(getenv func(string) string, configFile string) (config, error) {
	var errs []error
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: want a positive duration such as 3s, got %q", name, v))
			return def
		}
		return d
	}
	// durOrOff is dur where 0 turns the feature off.
	durOrOff := func(name string, def time.Duration) time.Duration {
		if v := getenv(name); v == "0" || v == "0s" {
			return 0
		}
		return dur(name, def)
	}
	num := func(name string, def int64) int64 {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%s: want a positive whole number, got %q", name, v))
			return def
		}
		return n
	}
	size := func(name string, def int64) int64 {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := membudget.ParseSize(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return def
		}
		return n
	}
	boolean := func(name string) bool {
		v := getenv(name)
		if v == "" {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: want true or false, got %q", name, v))
		}
		return b
	}

	hostname, _ := os.Hostname()
	c := config{
		Addr:                str("PICTOR_EDGE_ADDR", ":8081"),
		ControlPlaneAddr:    str("PICTOR_CONTROL_PLANE_ADDR", "127.0.0.1:8090"),
		ControlPlaneTLS:     boolean("PICTOR_CONTROL_PLANE_TLS"),
		ControlPlaneCA:      str("PICTOR_CONTROL_PLANE_TLS_CA", ""),
		UsageInterval:       dur("PICTOR_USAGE_INTERVAL", 5*time.Second),
		EdgeToken:           getenv("PICTOR_EDGE_TOKEN"),
		EdgeGroup:           str("PICTOR_EDGE_GROUP", "default"),
		DataDir:             str("PICTOR_EDGE_DATA_DIR", "/var/lib/pictor-edge"),
		AllowPrivateOrigins: boolean("PICTOR_ALLOW_PRIVATE_ORIGINS"),
		AzureBlobURL:        str("PICTOR_AZURE_BLOB_URL", objectstore.DefaultAzureBlobURL),
		S3URL:               str("PICTOR_S3_URL", objectstore.DefaultS3URL),
		ConnectTimeout:      dur("PICTOR_ORIGIN_CONNECT_TIMEOUT", 3*time.Second),
		FetchTimeout:        dur("PICTOR_ORIGIN_FETCH_TIMEOUT", 15*time.Second),
		MaxSourceBytes:      num("PICTOR_MAX_SOURCE_BYTES", 40<<20),
		MaxSourcePixels:     num("PICTOR_MAX_SOURCE_PIXELS", 100_000_000),
		Workers:             int(num("PICTOR_TRANSFORM_WORKERS", int64(defaultWorkers()))),
		QueueLength:         int(num("PICTOR_TRANSFORM_QUEUE", 64)),
		TransformDeadline:   dur("PICTOR_TRANSFORM_DEADLINE", 10*time.Second),
		OriginalAdmission:   durOrOff("PICTOR_ORIGINAL_ADMISSION", time.Hour),
		L1Bytes:             size("PICTOR_L1_CACHE_BYTES", -1),
		MaxConnections:      int(num("PICTOR_EDGE_MAX_CONNECTIONS", 0)),
		ReadHeaderTimeout:   dur("PICTOR_EDGE_READ_HEADER_TIMEOUT", 10*time.Second),
		IdleTimeout:         dur("PICTOR_EDGE_IDLE_TIMEOUT", 60*time.Second),
		WriteTimeout:        dur("PICTOR_EDGE_WRITE_TIMEOUT", 60*time.Second),
		MaxCacheObject:      num("PICTOR_CACHE_MAX_OBJECT_BYTES", 10<<20),
		RedisPassword:       getenv("PICTOR_REDIS_PASSWORD"),
		ShutdownTimeout:     dur("PICTOR_SHUTDOWN_TIMEOUT", 25*time.Second),
		LogLevel:            str("PICTOR_LOG_LEVEL", "info"),
		LogFormat:           str("PICTOR_LOG_FORMAT", "text"),
	}
	c.ConfigFile = configFile
	c.MemoryLimit, c.MemoryLimitFrom = size("PICTOR_EDGE_MEMORY_LIMIT", 0), "PICTOR_EDGE_MEMORY_LIMIT"
	if c.MemoryLimit == 0 {
		c.MemoryLimit, c.MemoryLimitFrom = membudget.DefaultTotal(readFile)
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = defaultMaxConnections(c.MemoryLimit)
	}
	if _, err := c.memorySplit(); err != nil {
		errs = append(errs, fmt.Errorf("PICTOR_EDGE_MEMORY_LIMIT: %w", err))
	}
	if c.ControlPlaneCA != "" {
		c.ControlPlaneTLS = true
	}
	if err := objectstore.CheckAzureBlobURL(c.AzureBlobURL); err != nil {
		errs = append(errs, fmt.Errorf("PICTOR_AZURE_BLOB_URL: %w", err))
	}
	if err := objectstore.CheckS3URL(c.S3URL); err != nil {
		errs = append(errs, fmt.Errorf("PICTOR_S3_URL: %w", err))
	}
	for _, a := range strings.Split(getenv("PICTOR_REDIS_ADDRS"), ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("PICTOR_REDIS_ADDRS: want host:port entries, got %q", a))
			continue
		}
		c.RedisAddrs = append(c.RedisAddrs, a)
	}
	c.NodeID = str("PICTOR_NODE_ID", hostname+c.Addr)
	if c.EdgeToken == "" && c.ConfigFile == "" {
		errs = append(errs, errors.New("PICTOR_EDGE_TOKEN is required (the token the control plane expects from edges)"))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("PICTOR_EDGE_ADDR: want host:port, got %q", c.Addr))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("PICTOR_LOG_FORMAT: want text or json, got %q", c.LogFormat))
	}
	var err error
	c.Tracing, err = tracing.LoadConfig(getenv)
	errs = append(errs, err)
	return c, errors.Join(errs...)
}

// readFile reads cgroup files; tests replace it.
var readFile = os.ReadFile

// defaultMaxConnections lets open connections take an eighth of the
// budget (each costs about membudget.PerConn while it waits), within
// [256, 16384].
func defaultMaxConnections(budget int64) int {
	return int(min(max(budget/8/membudget.PerConn, 256), 16384))
}

// memorySplit divides the budget (membudget.Plan).
func (c config) memorySplit() (membudget.Split, error) {
	return membudget.Plan(c.MemoryLimit, c.L1Bytes, c.MaxConnections)
}

// masked is the config as logged at start-up: secrets replaced.
func (c config) masked() config {
	if c.EdgeToken != "" {
		c.EdgeToken = "****"
	}
	if c.RedisPassword != "" {
		c.RedisPassword = "****"
	}
	if c.Tracing.Endpoint != "" {
		c.Tracing.Endpoint = c.Tracing.Masked()
	}
	return c
}

// plaintextBeyondHost reports whether the edge would send its token, and
// receive signing keys, unencrypted over a network.
func (c config) plaintextBeyondHost() bool {
	if c.ConfigFile != "" || c.ControlPlaneTLS {
		return false
	}
	host, _, err := net.SplitHostPort(c.ControlPlaneAddr)
	if err != nil {
		return true
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
