package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"pictor/services/controlplane/internal/httpapi"
	"pictor/services/controlplane/internal/metrics"
)

// TestMetricsScrape sends known API traffic and checks the scraped
// counters moved by exactly that traffic, labelled by route template.
func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(o *httpapi.Options) {
		store := o.Store.(interface {
			PurgesPending(context.Context) (int64, error)
		})
		m := metrics.New(metrics.Sources{
			WatchStreams:  func() int { return 2 },
			ConfigVersion: func() uint64 { return 42 },
			NodeLag:       func() map[string]uint64 { return map[string]uint64{"edge-a": 0, "edge-b": 3} },
			PurgesPending: store.PurgesPending,
			PurgeCacheTTL: time.Nanosecond, // no caching: the test reads twice
		})
		o.Observer, o.Metrics = m, m.Handler()
	})

	acme := a.createAccount("acme")                                // POST /admin/v1/accounts 201
	a.do("GET", "/admin/v1/accounts/acme", nil, admin)             // 200
	a.do("GET", "/admin/v1/accounts/acme", nil, admin)             // 200
	a.do("GET", "/admin/v1/accounts/nobody", nil, admin)           // 404
	a.do("GET", "/admin/v1/accounts/acme", nil, noAuth)            // 401
	a.do("GET", "/v1/accounts/origins", nil, key(acme.PrivateKey)) // 200
	for range 3 {
		a.do("GET", "/healthz", nil, noAuth)
	}

	// A purge with a live edge behind it is pending.
	if got := value(t, scrape(t, a), "pictor_controlplane_purges_pending", nil); got != 0 {
		t.Fatalf("purges pending before any purge = %v", got)
	}
	a.purge(acme.PrivateKey, edgeURL+"/acme/x.jpg") // POST /v1/files/purge 201
	a.exec(`INSERT INTO edge_nodes (node_id, connected, applied_version) VALUES ('edge-x', true, 0)`)

	f := scrape(t, a) // the earlier scrape counts too: GET /metrics 200
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"pictor_controlplane_api_requests_total", map[string]string{"method": "POST", "route": "/admin/v1/accounts", "status_class": "2xx"}, 1},
		{"pictor_controlplane_api_requests_total", map[string]string{"method": "GET", "route": "/admin/v1/accounts/:id", "status_class": "2xx"}, 2},
		{"pictor_controlplane_api_requests_total", map[string]string{"method": "GET", "route": "/admin/v1/accounts/:id", "status_class": "4xx"}, 2},
		{"pictor_controlplane_api_requests_total", map[string]string{"method": "GET", "route": "/v1/accounts/origins", "status_class": "2xx"}, 1},
		{"pictor_controlplane_api_requests_total", map[string]string{"method": "GET", "route": "/healthz", "status_class": "2xx"}, 3},
		{"pictor_controlplane_api_requests_total", map[string]string{"method": "POST", "route": "/v1/files/purge", "status_class": "2xx"}, 1},
		{"pictor_controlplane_api_requests_total", map[string]string{"method": "GET", "route": "/metrics", "status_class": "2xx"}, 1},
		{"pictor_controlplane_api_request_duration_seconds", map[string]string{"method": "GET", "route": "/admin/v1/accounts/:id"}, 4},
		{"pictor_controlplane_api_request_duration_seconds", map[string]string{"method": "GET", "route": "/healthz"}, 3},
		{"pictor_controlplane_watch_streams", nil, 2},
		{"pictor_controlplane_config_version", nil, 42},
		{"pictor_controlplane_edge_config_lag_versions", map[string]string{"node_id": "edge-b"}, 3},
		{"pictor_controlplane_edge_config_lag_versions", map[string]string{"node_id": "edge-a"}, 0},
		{"pictor_controlplane_edge_config_lag_max_versions", nil, 3},
		{"pictor_controlplane_purges_pending", nil, 1},
	}
	for _, c := range checks {
		if got := value(t, f, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Raw URLs never become labels.
	for _, s := range f["pictor_controlplane_api_requests_total"] {
		if strings.Contains(s.labels["route"], "acme") || strings.Contains(s.labels["route"], "nobody") {
			t.Errorf("raw URL in a route label: %v", s.labels)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := f[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

type sample struct {
	labels map[string]string
	value  float64
}

func scrape(t *testing.T, a *api) map[string][]sample {
	t.Helper()
	r := a.do("GET", "/metrics", nil, noAuth)
	if r.status != http.StatusOK {
		t.Fatalf("/metrics: %d %s", r.status, r.body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(r.body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string][]sample{}
	for name, f := range families {
		for _, mm := range f.Metric {
			s := sample{labels: map[string]string{}}
			for _, l := range mm.Label {
				s.labels[l.GetName()] = l.GetValue()
			}
			switch {
			case mm.Counter != nil:
				s.value = mm.Counter.GetValue()
			case mm.Gauge != nil:
				s.value = mm.Gauge.GetValue()
			case mm.Histogram != nil:
				s.value = float64(mm.Histogram.GetSampleCount())
			}
			out[name] = append(out[name], s)
		}
	}
	return out
}

// value is the sample of name whose labels include labels (0 if none).
func value(t *testing.T, f map[string][]sample, name string, labels map[string]string) float64 {
	t.Helper()
	samples, ok := f[name]
	if !ok {
		t.Fatalf("metric %s missing", name)
	}
next:
	for _, s := range samples {
		for k, v := range labels {
			if s.labels[k] != v {
				continue next
			}
		}
		return s.value
	}
	return 0
}

// syncBuffer is a log sink the server goroutines and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

// TestAccessLogJSON: with a JSON logger (PICTOR_LOG_FORMAT=json) each
// request's line carries the request id, the account and the route.
func TestAccessLogJSON(t *testing.T) {
	t.Parallel()
	var sink syncBuffer
	a := newAPI(t, func(o *httpapi.Options) { o.Log = slog.New(slog.NewJSONHandler(&sink, nil)) })
	acme := a.createAccount("acme")
	r := a.do("GET", "/v1/accounts/origins", nil, key(acme.PrivateKey), header("X-Request-Id", "log-test-1"))
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	for _, line := range sink.lines() {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if rec["request_id"] != "log-test-1" {
			continue
		}
		if rec["msg"] != "http request" || rec["account_id"] != "acme" || rec["route"] != "/v1/accounts/origins" || rec["status"] != float64(200) {
			t.Fatalf("access log %v", rec)
		}
		return
	}
	t.Fatalf("no access log line for the request in %q", sink.lines())
}
