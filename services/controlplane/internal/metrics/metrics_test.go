package metrics

import (
	"context"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"pictor/services/internal/opsrefs"
)

// TestScrape: with every source wired and one API request recorded, the
// scrape serves each control-plane metric with the values given, and
// every metric the operators' kit queries (deploy/grafana,
// deploy/prometheus) under the control plane's prefix.
func TestScrape(t *testing.T) {
	m := New(Sources{
		WatchStreams:    func() int { return 3 },
		ConfigVersion:   func() uint64 { return 42 },
		NodeLag:         func() map[string]uint64 { return map[string]uint64{"edge-a": 0, "edge-b": 5} },
		ConfigBytesSent: func() uint64 { return 1234 },
		PurgesPending:   func(context.Context) (int64, error) { return 7, nil },
	})
	m.APIRequest("GET", "/v1/accounts/origins", 200, 3*time.Millisecond)
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	cases := []struct {
		name  string
		label string // a node_id, or "" for the first series
		want  float64
	}{
		{"pictor_controlplane_watch_streams", "", 3},
		{"pictor_controlplane_config_version", "", 42},
		{"pictor_controlplane_config_sent_bytes_total", "", 1234},
		{"pictor_controlplane_purges_pending", "", 7},
		{"pictor_controlplane_edge_config_lag_versions", "edge-b", 5},
		{"pictor_controlplane_edge_config_lag_max_versions", "", 5},
		{"pictor_controlplane_api_requests_total", "", 1},
		{"pictor_controlplane_api_request_duration_seconds", "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := families[tc.name]
			if f == nil {
				t.Fatal("not served")
			}
			for _, mm := range f.Metric {
				if tc.label != "" && (len(mm.Label) == 0 || mm.Label[0].GetValue() != tc.label) {
					continue
				}
				var got float64
				switch {
				case mm.Gauge != nil:
					got = mm.Gauge.GetValue()
				case mm.Counter != nil:
					got = mm.Counter.GetValue()
				case mm.Histogram != nil:
					got = float64(mm.Histogram.GetSampleCount())
				}
				if got != tc.want {
					t.Errorf("= %v, want %v", got, tc.want)
				}
				return
			}
			t.Errorf("no series for %q", tc.label)
		})
	}

	missing, err := opsrefs.NotExported(filepath.Join("..", "..", "..", ".."), "pictor_controlplane_", slices.Collect(maps.Keys(families)))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range missing {
		t.Errorf("the operators' kit queries %s, which the control plane does not export", m)
	}
}
