package metrics

import (
	"bytes"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	configv1 "pictor/proto/pictor/config/v1"
	"pictor/services/edge/internal/cache"
	"pictor/services/edge/internal/delivery"
	"pictor/services/edge/internal/membudget"
	"pictor/services/edge/internal/offheap"
	"pictor/services/edge/internal/origin"
	"pictor/services/edge/internal/panics"
	"pictor/services/edge/internal/routing"
	"pictor/services/edge/internal/transform"
	"pictor/services/internal/errkind"
	"pictor/services/internal/opsrefs"
)

// TestScrapeAfterKnownTraffic drives a real delivery handler and checks the
// scraped counters moved by exactly the traffic sent.
func TestScrapeAfterKnownTraffic(t *testing.T) {
	var jpg bytes.Buffer
	jpeg.Encode(&jpg, image.NewRGBA(image.Rect(0, 0, 64, 48)), nil)
	org := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a.jpg":
			w.Write(jpg.Bytes())
		case "/broken.jpg":
			w.WriteHeader(500)
		default:
			http.NotFound(w, r)
		}
	}))
	defer org.Close()

	table, err := routing.Build(&configv1.Snapshot{Version: 7, CreatedUnixMs: time.Now().Add(-time.Minute).UnixMilli(), Accounts: []*configv1.Account{{
		Id: "demo", Status: "active",
		Origins:   []*configv1.Origin{{Id: "o", Type: "WEB_FOLDER", Name: "o", BaseUrl: org.URL}},
		Endpoints: []*configv1.Endpoint{{Id: "ep", OriginIds: []string{"o"}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	var tables routing.Holder
	tables.Store(table)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	budget := membudget.New(64<<20, time.Second)
	ocfg := origin.DefaultConfig()
	ocfg.AllowPrivate = true
	ocfg.Memory = budget
	store, _ := cache.New(cache.Config{L1Bytes: 1 << 20, MaxObject: 1 << 20}, log)
	engine := transform.New(transform.Config{MaxSourcePixels: 1e8, Workers: 2, QueueLength: 4, QueueWait: time.Second, Deadline: 5 * time.Second, Memory: budget}, log)
	h := delivery.New(&tables, origin.New(ocfg), engine, store, log)
	h.SetLimits(delivery.Limits{MaxMisses: 4, MissQueue: 4, MissWait: time.Second, Memory: budget, ObjectCap: 1 << 20})
	m := NewEdge(Sources{
		TransformQueueDepth: engine.QueueDepth, L1Bytes: store.L1Bytes, L1Evictions: store.L1Evictions,
		RedisErrors: store.RedisErrors, RedisBreakerOpen: store.BreakerOpen,
		ConfigVersion:  func() uint64 { return tables.Load().Version() },
		ConfigCreated:  func() time.Time { return tables.Load().CreatedAt() },
		ControlPlaneUp: func() bool { return true },
		MemoryBudget:   budget.Size, MemoryInUse: budget.InUse, MemoryRefused: budget.Refused,
		MissesInFlight: h.MissesInFlight, MissesWaiting: h.MissesWaiting,
		OffHeapBytes: offheap.Allocated, VipsMemoryBytes: func() int64 { n, _ := transform.VipsMemory(); return n },
		Panics: panics.Counts,
	})
	panics.Recovered(log, panics.ConfigApply, "a test's panic")
	h.Observer, h.Metrics = m, m.Handler()

	get := func(path string) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code
	}
	for path, want := range map[string]int{
		"/demo/tr:w-32/a.jpg": 200, // miss
	} {
		if got := get(path); got != want {
			t.Fatalf("%s: %d", path, got)
		}
	}
	for i := 0; i < 3; i++ {
		get("/demo/tr:w-32/a.jpg") // L1 hits
	}
	get("/demo/tr:w-abc/a.jpg") // 400
	get("/demo/missing.jpg")    // 404
	get("/demo/broken.jpg")     // 502
	get("/nobody/a.jpg")        // 404 unknown account

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("/metrics: %d", w.Code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f := families[name]
		if f == nil {
			t.Fatalf("metric %s missing", name)
		}
	next:
		for _, mm := range f.Metric {
			for _, l := range mm.Label {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			switch {
			case mm.Counter != nil:
				return mm.Counter.GetValue()
			case mm.Gauge != nil:
				return mm.Gauge.GetValue()
			case mm.Histogram != nil:
				return float64(mm.Histogram.GetSampleCount())
			}
		}
		return 0
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"pictor_edge_requests_total", map[string]string{"status_class": "2xx", "cache": "MISS"}, 1},
		{"pictor_edge_requests_total", map[string]string{"status_class": "2xx", "cache": "HIT-L1"}, 3},
		{"pictor_edge_requests_total", map[string]string{"status_class": "4xx", "cache": "none"}, 3},
		{"pictor_edge_requests_total", map[string]string{"status_class": "5xx", "cache": "none"}, 1},
		{"pictor_edge_refused_total", map[string]string{"reason": "invalid_parameter"}, 1},
		{"pictor_edge_refused_total", map[string]string{"reason": "account_not_found"}, 1},
		{"pictor_edge_origin_errors_total", map[string]string{"kind": "bad_gateway"}, 1},
		{"pictor_edge_stage_duration_seconds", map[string]string{"stage": "total"}, 8},
		{"pictor_edge_stage_duration_seconds", map[string]string{"stage": "transform"}, 1},
		{"pictor_edge_config_version", nil, 7},
		{"pictor_edge_control_plane_connected", nil, 1},
		{"pictor_edge_memory_budget_bytes", nil, 64 << 20},
		{"pictor_edge_memory_in_use_bytes", nil, 0}, // every lease given back
		{"pictor_edge_memory_refusals_total", nil, 0},
		{"pictor_edge_misses_in_flight", nil, 0},
		{"pictor_edge_misses_waiting", nil, 0},
		{"pictor_edge_panics_total", map[string]string{"where": "config apply"}, 1},
		{"pictor_edge_panics_total", map[string]string{"where": "coalesced work"}, 0},
	}
	for _, c := range checks {
		if got := value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := value("pictor_edge_bytes_out_total", nil); got <= 0 {
		t.Errorf("bytes out = %v, want > 0", got)
	}
	if age := value("pictor_edge_config_age_seconds", nil); age < 59 || age > 120 {
		t.Errorf("config age = %v s, want about 60", age)
	}
	if b := value("pictor_edge_offheap_bytes", nil); b <= 0 {
		t.Fatalf("offheap bytes %v after a variant was cached", b)
	}
	if b := value("pictor_edge_vips_memory_bytes", nil); b < 0 {
		t.Fatalf("vips memory %v", b)
	}
	if b := value("pictor_edge_l1_bytes", nil); b <= 0 {
		t.Errorf("L1 bytes = %v, want > 0 after a cached variant", b)
	}
	// Every metric the dashboards and alert rules query is one the edge
	// serves (deploy/grafana, deploy/prometheus): scraped again after a
	// transform rejection, the one series the traffic above has none of.
	m.Response(delivery.ResponseEvent{Status: 503, Kind: errkind.Unavailable, Reason: "transform_queue_full"})
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	families, err = parser.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	missing, err := opsrefs.NotExported(filepath.Join("..", "..", "..", ".."), "pictor_edge_", slices.Collect(maps.Keys(families)))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range missing {
		t.Errorf("the operators' kit queries %s, which the edge does not export", m)
	}
}
