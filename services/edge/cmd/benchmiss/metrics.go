package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"pictor/services/edge/internal/benchkit"
)

// metricsSample is the edge's /metrics: value by series name with its
// labels, as printed (`pictor_edge_refused_total{reason="x"}`).
type metricsSample map[string]float64

func scrape(edge string) (metricsSample, error) {
	resp, err := http.Get(edge + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/metrics: %s", edge, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads Prometheus' text format; comments and lines it cannot
// read are skipped.
func parseMetrics(r io.Reader) (metricsSample, error) {
	s := metricsSample{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		// Label values may hold spaces; the value is after the last one.
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			s[line[:i]] = v
		}
	}
	return s, sc.Err()
}

// stage is the edge's total time and count for one stage of a request
// (pictor_edge_stage_duration_seconds) between two samples.
func stage(before, after metricsSample, name string) (time.Duration, int) {
	series := `pictor_edge_stage_duration_seconds_%s{stage="` + name + `"}`
	sum := after[fmt.Sprintf(series, "sum")] - before[fmt.Sprintf(series, "sum")]
	count := after[fmt.Sprintf(series, "count")] - before[fmt.Sprintf(series, "count")]
	return time.Duration(sum * float64(time.Second)), int(count)
}

// refusals lists the edge's error answers by reason between two samples
// ("transform_queue_timeout 3, ..."), "" when there were none.
func refusals(before, after metricsSample) string {
	const prefix = `pictor_edge_refused_total{reason="`
	var out []string
	for k, v := range after {
		if reason, ok := strings.CutPrefix(k, prefix); ok && v > before[k] {
			out = append(out, fmt.Sprintf("%s %.0f", strings.TrimSuffix(reason, `"}`), v-before[k]))
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// whereTimeGoes says what each side spent per image over all rounds: CPU
// time (the edge's next to the engine's and fetch+engine's, and the
// origin's and wrk's, which the engine alone does not share the machine
// with), and the edge's stage means next to the engine's mean transform.
func whereTimeGoes(edges []edgeRun, eng, fet benchkit.Run, withOrigin bool) string {
	per := func(d time.Duration, n int) string {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)/float64(max(n, 1)))
	}
	var served int
	var used benchkit.Usage
	var origin, wrk, total, fetch, transform time.Duration
	var nTotal, nFetch, nTransform int
	var refused []string
	for _, e := range edges {
		served += e.served
		used, origin, wrk = used.Add(e.used), origin+e.origin, wrk+e.wrk
		d, n := stage(e.before, e.after, "total")
		total, nTotal = total+d, nTotal+n
		d, n = stage(e.before, e.after, "origin")
		fetch, nFetch = fetch+d, nFetch+n
		d, n = stage(e.before, e.after, "transform")
		transform, nTransform = transform+d, nTransform+n
		if r := refusals(e.before, e.after); r != "" {
			refused = append(refused, r)
		}
	}
	var b strings.Builder
	split := func(u benchkit.Usage, n int) string {
		return fmt.Sprintf("%s (user %s, system %s, %d page faults)", per(u.CPU(), n), per(u.User, n), per(u.System, n), u.MinorFaults/int64(max(n, 1)))
	}
	fmt.Fprintf(&b, "    CPU per image: edge %s, engine %s", split(used, served), split(eng.Used, eng.Images))
	if fet.Images > 0 {
		fmt.Fprintf(&b, ", fetch+engine %s", split(fet.Used, fet.Images))
	}
	if withOrigin {
		fmt.Fprintf(&b, ", origin %s", per(origin, served))
	}
	fmt.Fprintf(&b, ", wrk %s\n", per(wrk, served))
	fmt.Fprintf(&b, "    edge stage means: total %s, origin %s, transform %s; engine transform %s\n",
		per(total, nTotal), per(fetch, nFetch), per(transform, nTransform), per(eng.Busy, eng.Images))
	if len(refused) > 0 {
		fmt.Fprintf(&b, "    edge refusals by round: %s\n", strings.Join(refused, "; "))
	}
	return b.String()
}
