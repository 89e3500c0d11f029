// Package metrics exposes the edge's Prometheus metrics. It is the edge's
// only user of client_golang. Labels are bounded by construction: status
// class, cache result, error reason and stage — never a path, URL or
// account, whose cardinality a client controls.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"pictor/services/edge/internal/delivery"
	"pictor/services/internal/errkind"
)

// Sources are the edge's live values, read at scrape time.
type Sources struct {
	TransformQueueDepth func() int64
	L1Bytes             func() uint64
	L1Evictions         func() uint64
	RedisErrors         func() uint64
	RedisBreakerOpen    func() bool
	ConfigVersion       func() uint64
	ConfigCreated       func() time.Time // when the control plane made the config in force
	ControlPlaneUp      func() bool
	MemoryBudget        func() int64 // bytes work may lease (origin bodies, transforms)
	MemoryInUse         func() int64
	MemoryRefused       func() uint64
	MissesInFlight      func() int64
	MissesWaiting       func() int64
	OffHeapBytes        func() int64 // L1 bodies outside the Go heap, including ones still being written
	VipsMemoryBytes     func() int64
	Panics              func() map[string]uint64 // recovered panics by where
}

// Edge holds the edge's collectors.
type Edge struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	bytesOut  prometheus.Counter
	refused   *prometheus.CounterVec
	originErr *prometheus.CounterVec
	rejected  *prometheus.CounterVec

	// Children resolved once: WithLabelValues hashes its labels on every
	// call, and Response runs for every request.
	byClass   map[[2]string]prometheus.Counter
	totalTime prometheus.Observer
}

var (
	statusClasses = []string{"1xx", "2xx", "3xx", "4xx", "5xx"}
	cacheResults  = []string{"HIT-L1", "HIT-L2", "MISS", "STALE", "none"}
)

var buckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20}

// NewEdge registers every edge metric.
func NewEdge(src Sources) *Edge {
	m := &Edge{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pictor_edge_requests_total", Help: "Image responses by status class and cache result.",
		}, []string{"status_class", "cache"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pictor_edge_stage_duration_seconds", Help: "Time spent per stage of an image request: total, origin fetch, transform.",
			Buckets: buckets,
		}, []string{"stage"}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pictor_edge_bytes_out_total", Help: "Image body bytes sent.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pictor_edge_refused_total", Help: "Image requests answered with an error, by reason.",
		}, []string{"reason"}),
		originErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pictor_edge_origin_errors_total", Help: "Origin fetches that failed, by kind (bad_gateway, timeout).",
		}, []string{"kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pictor_edge_transform_rejections_total", Help: "Transforms refused because the pool was full or the deadline passed.",
		}, []string{"reason"}),
	}
	m.byClass = make(map[[2]string]prometheus.Counter, len(statusClasses)*len(cacheResults))
	for _, sc := range statusClasses {
		for _, c := range cacheResults {
			m.byClass[[2]string{sc, c}] = m.requests.WithLabelValues(sc, c)
		}
	}
	m.totalTime = m.duration.WithLabelValues("total")
	m.registry.MustRegister(m.requests, m.duration, m.bytesOut, m.refused, m.originErr, m.rejected,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gauge := func(name, help string, f func() float64) {
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	if f := src.TransformQueueDepth; f != nil {
		gauge("pictor_edge_transform_queue_depth", "Transforms waiting for a worker.", func() float64 { return float64(f()) })
	}
	if f := src.L1Bytes; f != nil {
		gauge("pictor_edge_l1_bytes", "Bytes held in the in-memory cache.", func() float64 { return float64(f()) })
	}
	if f := src.L1Evictions; f != nil {
		counter("pictor_edge_l1_evictions_total", "Entries the in-memory cache dropped to stay in budget.", func() float64 { return float64(f()) })
	}
	if f := src.RedisErrors; f != nil {
		counter("pictor_edge_redis_errors_total", "Failed Redis operations, timeouts included.", func() float64 { return float64(f()) })
	}
	if f := src.RedisBreakerOpen; f != nil {
		gauge("pictor_edge_redis_breaker_open", "1 while Redis is skipped after repeated failures.", func() float64 { return b2f(f()) })
	}
	if f := src.ConfigVersion; f != nil {
		gauge("pictor_edge_config_version", "Config version in force (0 = none).", func() float64 { return float64(f()) })
	}
	if f := src.ConfigCreated; f != nil {
		gauge("pictor_edge_config_age_seconds", "Age of the config in force, from when the control plane made it.", func() float64 {
			t := f()
			if t.IsZero() {
				return 0
			}
			return time.Since(t).Seconds()
		})
	}
	if f := src.ControlPlaneUp; f != nil {
		gauge("pictor_edge_control_plane_connected", "1 while the config stream to the control plane is up.", func() float64 { return b2f(f()) })
	}
	i2f := func(f func() int64) func() float64 { return func() float64 { return float64(f()) } }
	if f := src.MemoryBudget; f != nil {
		gauge("pictor_edge_memory_budget_bytes", "Bytes of the memory budget that origin bodies and transforms lease from.", i2f(f))
	}
	if f := src.MemoryInUse; f != nil {
		gauge("pictor_edge_memory_in_use_bytes", "Bytes leased from the memory budget by origin bodies and transforms.", i2f(f))
	}
	if f := src.MemoryRefused; f != nil {
		counter("pictor_edge_memory_refusals_total", "Reservations the memory budget turned away (answered 503 or 422).", func() float64 { return float64(f()) })
	}
	if f := src.MissesInFlight; f != nil {
		gauge("pictor_edge_misses_in_flight", "Variants being produced: fetching, queued for a transform worker or transforming.", i2f(f))
	}
	if f := src.MissesWaiting; f != nil {
		gauge("pictor_edge_misses_waiting", "Misses waiting for their turn, before fetching anything.", i2f(f))
	}
	if f := src.OffHeapBytes; f != nil {
		gauge("pictor_edge_offheap_bytes", "Bytes of cached bodies held outside the Go heap, including evicted ones still being written.", i2f(f))
	}
	if f := src.VipsMemoryBytes; f != nil {
		gauge("pictor_edge_vips_memory_bytes", "Bytes libvips has allocated for pixels.", i2f(f))
	}
	if f := src.Panics; f != nil {
		m.registry.MustRegister(panicCollector{f})
	}
	return m
}

// panicCollector exports recovered panics by where they happened; the set
// of wheres is fixed in the code, so the label is bounded.
type panicCollector struct{ counts func() map[string]uint64 }

var panicsDesc = prometheus.NewDesc("pictor_edge_panics_total",
	"Panics recovered in request work; each cost its own requests a 500 and nothing else.", []string{"where"}, nil)

func (c panicCollector) Describe(ch chan<- *prometheus.Desc) { ch <- panicsDesc }

func (c panicCollector) Collect(ch chan<- prometheus.Metric) {
	for where, n := range c.counts() {
		ch <- prometheus.MustNewConstMetric(panicsDesc, prometheus.CounterValue, float64(n), where)
	}
}

// Response records one image response (delivery.Observer).
func (m *Edge) Response(e delivery.ResponseEvent) {
	cache := e.CacheStatus
	if cache == "" {
		cache = "none"
	}
	if c, ok := m.byClass[[2]string{statusClass(e.Status), cache}]; ok {
		c.Inc()
	} else {
		m.requests.WithLabelValues(statusClass(e.Status), cache).Inc()
	}
	m.totalTime.Observe(e.Total.Seconds())
	if e.Origin > 0 {
		m.duration.WithLabelValues("origin").Observe(e.Origin.Seconds())
	}
	if e.Transform > 0 {
		m.duration.WithLabelValues("transform").Observe(e.Transform.Seconds())
	}
	m.bytesOut.Add(float64(e.Bytes))
	if e.Reason == "" {
		return
	}
	m.refused.WithLabelValues(e.Reason).Inc()
	switch e.Kind {
	case errkind.BadGateway, errkind.Timeout:
		m.originErr.WithLabelValues(e.Kind.String()).Inc()
	case errkind.Unavailable:
		if e.Reason == "transform_queue_full" || e.Reason == "transform_queue_timeout" || e.Reason == "transform_deadline" {
			m.rejected.WithLabelValues(e.Reason).Inc()
		}
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Edge) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

func statusClass(status int) string {
	if c := status / 100; c >= 1 && c <= 5 {
		return statusClasses[c-1]
	}
	return strconv.Itoa(status/100) + "xx"
}
