package main

import (
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-pid", "7", "-src12", "a.jpg", "-src18", "b.jpg", "-c", "4, 16", "-workers", "3"})
	if err != nil || o.pid != 7 || len(o.conns) != 2 || o.conns[1] != 16 || o.workers != 3 || o.accept != browserAccept {
		t.Fatalf("parseFlags = %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"-src12", "a", "-src18", "b"},
		{"-pid", "7", "-src12", "a", "-src18", "b", "-c", "4,x"},
		{"-pid", "7", "-src12", "a", "-src18", "b", "-duration", "10ms"},
		{"-pid", "7", "-src12", "a", "-src18", "b", "extra"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

const wrkOutput = `Running 3s test @ http://127.0.0.1:18381
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   512.31ms  101.20ms   1.20s    70.00%
  Latency Distribution
     50%  500.00ms
     75%  600.00ms
     90%  700.00ms
     99%    1.10s
  93 requests in 3.01s, 1.20MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:     30.90
Transfer/sec:    408.00KB
`

func TestParseWrk(t *testing.T) {
	var e edgeRun
	if err := parseWrk(wrkOutput, &e); err != nil {
		t.Fatal(err)
	}
	if math.Abs(e.rps-30.90*89/93) > 1e-9 || e.requests != 93 || e.served != 89 || e.p99 != 1100*time.Millisecond || e.errors != 7 {
		t.Fatalf("parseWrk = %+v", e)
	}
	if err := parseWrk("unable to connect", &e); err == nil {
		t.Fatal("parseWrk accepted output without results")
	}
}

func TestMetrics(t *testing.T) {
	before, err := parseMetrics(strings.NewReader(`# HELP x
pictor_edge_stage_duration_seconds_sum{stage="transform"} 1.5
pictor_edge_stage_duration_seconds_count{stage="transform"} 3
pictor_edge_refused_total{reason="transform_queue_timeout"} 1
`))
	if err != nil {
		t.Fatal(err)
	}
	after, _ := parseMetrics(strings.NewReader(`pictor_edge_stage_duration_seconds_sum{stage="transform"} 3.5
pictor_edge_stage_duration_seconds_count{stage="transform"} 7
pictor_edge_refused_total{reason="transform_queue_timeout"} 4
pictor_edge_refused_total{reason="bad gateway"} 2
pictor_edge_misses_in_flight 0
`))
	if d, n := stage(before, after, "transform"); d != 2*time.Second || n != 4 {
		t.Errorf("stage = %s, %d; want 2s, 4", d, n)
	}
	if got, want := refusals(before, after), "bad gateway 2, transform_queue_timeout 3"; got != want {
		t.Errorf("refusals = %q, want %q", got, want)
	}
	if r := refusals(after, after); r != "" {
		t.Errorf("refusals without new ones = %q", r)
	}
}

func TestSummary(t *testing.T) {
	if got := caseLabel(5184*3456, "w-800,f-webp", "webp"); got != "18MP w-800 webp" {
		t.Errorf("caseLabel = %q", got)
	}
	rs := []result{
		{label: "12MP w-300 jpeg", conns: 4, ratio: 0.97}, {label: "12MP w-300 jpeg", conns: 16, ratio: 0.98},
		{label: "18MP w-800 webp", conns: 4, ratio: 0.96}, {label: "18MP w-800 webp", conns: 16, ratio: 0.951},
	}
	line, pass := summary(rs, 0.95, 310<<20, true)
	if want := "bench-miss: PASS 12MP w-300 jpeg c4 0.97 c16 0.98 | 18MP w-800 webp c4 0.96 c16 0.95 | peak RSS 310 MiB"; !pass || line != want {
		t.Errorf("summary = %q, %v; want %q", line, pass, want)
	}
	withFetch := append([]result(nil), rs...)
	withFetch[0].fetchRatio, withFetch[1].fetchRatio = 1.01, 0.99
	withFetch[2].fetchRatio, withFetch[3].fetchRatio = 0.98, 1
	line, _ = summary(withFetch, 0.95, 310<<20, true)
	if want := "bench-miss: PASS 12MP w-300 jpeg c4 0.97 [1.01] c16 0.98 [0.99] | 18MP w-800 webp c4 0.96 [0.98] c16 0.95 [1.00] | peak RSS 310 MiB | [edge ÷ fetch+engine]"; line != want {
		t.Errorf("summary with fetch+engine = %q; want %q", line, want)
	}
	rs[1].errors = 2
	if line, pass := summary(rs, 0.95, 310<<20, true); pass || !strings.Contains(line, "FAIL") || !strings.Contains(line, "2 failed requests") {
		t.Errorf("with failed requests: %q, %v", line, pass)
	}
	rs[1].errors = 0
	rs[2].ratio = 0.94
	if _, pass := summary(rs, 0.95, 310<<20, true); pass {
		t.Error("a ratio under the target passed")
	}
	rs[2].ratio = 0.99
	if line, pass := summary(rs, 0.95, 0, false); pass || !strings.Contains(line, "died") {
		t.Errorf("dead edge: %q, %v", line, pass)
	}
}

// TestMissScript runs wrk with the script against a test server: no two
// requests may share a path.
func TestMissScript(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Fatal("wrk not installed (scripts/bootstrap.sh installs it)")
	}
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		mu.Unlock()
	}))
	defer srv.Close()
	script := filepath.Join(t.TempDir(), "miss.lua")
	if err := os.WriteFile(script, []byte(missScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("wrk", "-t", "2", "-c", "4", "-d", "1s", "-s", script, srv.URL, "--", "/p/", "run").CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v: %s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 10 {
		t.Fatalf("only %d requests: %s", len(seen), out)
	}
	for p, n := range seen {
		if n > 1 || !strings.HasPrefix(p, "/p/run-t") || !strings.HasSuffix(p, ".jpg") {
			t.Fatalf("path %s requested %d times", p, n)
		}
	}
}
