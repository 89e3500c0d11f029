package opsrefs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryNameHasAnOwner: each metric the kit names belongs to a service
// whose tests check it (the edge's or the control plane's prefix).
func TestEveryNameHasAnOwner(t *testing.T) {
	refs, err := Metrics(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) < 10 {
		t.Fatalf("found %d metric names in the kit, want the dashboards' and alerts'", len(refs))
	}
	for name, files := range refs {
		if !strings.HasPrefix(name, "pictor_edge_") && !strings.HasPrefix(name, "pictor_controlplane_") {
			t.Errorf("%s (in %v) belongs to no service", name, files)
		}
	}
}

func TestMissing(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"deploy/grafana", "deploy/prometheus"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "deploy/grafana/a.json"), []byte(`{"expr": "rate(pictor_edge_x_bucket[5m]) + pictor_edge_gone"}`), 0o644)
	os.WriteFile(filepath.Join(root, "deploy/prometheus/r.yaml"), []byte(`expr: pictor_controlplane_y > 0 and pictor_edge_z`), 0o644)
	refs, err := Metrics(root)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, prefix string
		exported     map[string]bool
		want         string
	}{
		{"histogram by its base name", "pictor_edge_", map[string]bool{"pictor_edge_x": true, "pictor_edge_gone": true, "pictor_edge_z": true}, ""},
		{"a name no longer exported", "pictor_edge_", map[string]bool{"pictor_edge_x": true, "pictor_edge_z": true}, "pictor_edge_gone (in deploy/grafana/a.json)"},
		{"a bucket without its histogram", "pictor_edge_", map[string]bool{"pictor_edge_gone": true, "pictor_edge_z": true}, "pictor_edge_x_bucket (in deploy/grafana/a.json)"},
		{"other prefixes are another service's", "pictor_controlplane_", map[string]bool{"pictor_controlplane_y": true}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(Missing(refs, tc.prefix, tc.exported), "; "); got != tc.want {
				t.Errorf("missing %q, want %q", got, tc.want)
			}
		})
	}
}
