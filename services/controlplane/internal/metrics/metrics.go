// Package metrics exposes the control plane's Prometheus metrics. It is the
// control plane's only user of client_golang. Labels are bounded: method,
// route template (Echo's c.Path(), never the raw URL), status class, and
// for config lag the edge node id, which the operator controls and the
// fleet's size bounds (checkHello caps its length; disconnected nodes
// drop out of the scrape at once).
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are the control plane's live values, read at scrape time.
type Sources struct {
	// WatchStreams is how many edge Watch streams are connected.
	WatchStreams func() int
	// ConfigVersion is the version this replica publishes (0 = none yet).
	ConfigVersion func() uint64
	// NodeLag is each connected edge's lag: ConfigVersion minus the
	// version it applied.
	NodeLag func() map[string]uint64
	// ConfigBytesSent counts the config bytes (snapshots and deltas) sent
	// to edges since start.
	ConfigBytesSent func() uint64
	// PurgesPending counts purge requests some live edge has not applied;
	// it runs a query, so its result is cached for PurgeCacheTTL.
	PurgesPending func(ctx context.Context) (int64, error)
	PurgeCacheTTL time.Duration // 5 s by default
}

// ControlPlane holds the control plane's collectors.
type ControlPlane struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

var buckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New registers every control-plane metric.
func New(src Sources) *ControlPlane {
	m := &ControlPlane{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pictor_controlplane_api_requests_total", Help: "API requests by method, route template and status class.",
		}, []string{"method", "route", "status_class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pictor_controlplane_api_request_duration_seconds", Help: "API request latency by method and route template.",
			Buckets: buckets,
		}, []string{"method", "route"}),
	}
	m.registry.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gauge := func(name, help string, f func() float64) {
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	if f := src.WatchStreams; f != nil {
		gauge("pictor_controlplane_watch_streams", "Edge config Watch streams connected to this replica.", func() float64 { return float64(f()) })
	}
	if f := src.ConfigVersion; f != nil {
		gauge("pictor_controlplane_config_version", "Config version this replica publishes to edges (0 = none yet).", func() float64 { return float64(f()) })
	}
	if f := src.ConfigBytesSent; f != nil {
		m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pictor_controlplane_config_sent_bytes_total",
			Help: "Config bytes (whole snapshots and deltas) this replica sent to edges."}, func() float64 { return float64(f()) }))
	}
	if src.NodeLag != nil {
		m.registry.MustRegister(lagCollector(src.NodeLag))
	}
	if src.PurgesPending != nil {
		ttl := src.PurgeCacheTTL
		if ttl <= 0 {
			ttl = 5 * time.Second
		}
		p := &purgeCache{count: src.PurgesPending, ttl: ttl}
		gauge("pictor_controlplane_purges_pending", "Purge requests that some live edge has not applied yet (cached a few seconds).", p.value)
	}
	return m
}

// APIRequest records one API response (httpapi.Observer).
func (m *ControlPlane) APIRequest(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status/100)+"xx").Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// Handler serves the metrics in the Prometheus text format.
func (m *ControlPlane) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// lagCollector emits per-node lag and its maximum from one read, so the
// series of an edge that went away vanish with it.
type lagCollector func() map[string]uint64

var (
	nodeLagDesc = prometheus.NewDesc("pictor_controlplane_edge_config_lag_versions",
		"Config versions a connected edge is behind (published version minus the edge's applied version).", []string{"node_id"}, nil)
	maxLagDesc = prometheus.NewDesc("pictor_controlplane_edge_config_lag_max_versions",
		"Largest config lag of any connected edge (0 with none connected).", nil, nil)
)

func (lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- nodeLagDesc; ch <- maxLagDesc }

func (f lagCollector) Collect(ch chan<- prometheus.Metric) {
	var worst uint64
	for node, lag := range f() {
		worst = max(worst, lag)
		ch <- prometheus.MustNewConstMetric(nodeLagDesc, prometheus.GaugeValue, float64(lag), node)
	}
	ch <- prometheus.MustNewConstMetric(maxLagDesc, prometheus.GaugeValue, float64(worst))
}

// purgeCache keeps the pending-purge count for ttl, so scrapes (several
// Prometheus servers, a dashboard) cost at most one query per ttl. A
// failed query keeps the last value.
type purgeCache struct {
	count func(context.Context) (int64, error)
	ttl   time.Duration

	mu   sync.Mutex
	at   time.Time
	last float64
}

func (p *purgeCache) value() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.at.IsZero() && time.Since(p.at) < p.ttl {
		return p.last
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p.at = time.Now()
	if n, err := p.count(ctx); err == nil {
		p.last = float64(n)
	}
	return p.last
}
