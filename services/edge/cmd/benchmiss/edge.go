package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"pictor/services/edge/internal/benchkit"
	"pictor/services/edge/internal/transform"
)

// missScript makes every request a path no request has used before: the
// run id (distinct per invocation, case, concurrency and round), the wrk
// thread's id and the thread's own counter. wrk passes the path prefix and
// the run id after "--".
const missScript = `
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  prefix, run, n = args[1], args[2], 0
end
function request()
  n = n + 1
  return wrk.format("GET", prefix .. run .. "-t" .. id .. "-" .. n .. ".jpg")
end
`

// measurement is one case at one concurrency.
type measurement struct {
	o      options
	engine *transform.Engine
	req    transform.Request
	fetch  benchkit.Fetch // nil: no fetch+engine side
	script string
	prefix string
	conns  int
}

// edgeRun is what one wrk run against the edge counted.
type edgeRun struct {
	rps      float64 // 2xx answers per second
	requests int     // answers, whatever their status
	served   int     // 2xx answers
	errors   int     // non-2xx answers and socket errors (timeouts included)
	p99      time.Duration
	used     benchkit.Usage // the edge's, while wrk ran
	origin   time.Duration  // the origin's CPU time, while wrk ran
	wrk      time.Duration  // wrk's own
	before   metricsSample  // the edge's /metrics before the run
	after    metricsSample  // and once it had finished what wrk left in flight
}

// rounds alternates engine, fetch+engine and edge runs, engine first,
// printing each round and then the medians and where the time went.
func (m measurement) rounds(run string) (result, error) {
	var ratios, fetchRatios, edgeRPS, engIPS, fetchIPS, p99s []float64
	var edges []edgeRun
	var eng, fet benchkit.Run
	for r := 1; r <= m.o.rounds; r++ {
		g, err := benchkit.Transforms(m.engine, m.req, m.o.workers, 0, m.o.duration)
		if err != nil {
			return result{}, fmt.Errorf("round %d: engine: %w", r, err)
		}
		var f benchkit.Run
		if m.fetch != nil {
			if f, err = benchkit.FetchTransforms(m.engine, m.req, m.fetch, m.o.workers, m.o.duration); err != nil {
				return result{}, fmt.Errorf("round %d: fetch+engine: %w", r, err)
			}
		}
		e, err := m.edgeRun(fmt.Sprintf("%s-r%d", run, r))
		if err != nil {
			return result{}, fmt.Errorf("round %d: edge: %w", r, err)
		}
		ratio := e.rps / g.PerSecond()
		fmt.Printf("c%-2d round %d: engine %6.2f img/s (%d)%s   edge %6.2f req/s (%d, p99 %s, %d failed)   ratio %.2f%s   load %s\n",
			m.conns, r, g.PerSecond(), g.Images, fetchColumn(f), e.rps, e.served, e.p99.Round(time.Millisecond), e.errors,
			ratio, fetchRatio(e.rps, f), loadavg())
		ratios, edgeRPS, engIPS = append(ratios, ratio), append(edgeRPS, e.rps), append(engIPS, g.PerSecond())
		if m.fetch != nil {
			fetchRatios, fetchIPS = append(fetchRatios, e.rps/f.PerSecond()), append(fetchIPS, f.PerSecond())
		}
		p99s = append(p99s, e.p99.Seconds())
		edges = append(edges, e)
		eng, fet = eng.Add(g), fet.Add(f)
	}
	res := result{conns: m.conns, ratio: benchkit.Median(ratios), fetchRatio: benchkit.Median(fetchRatios)}
	for _, e := range edges {
		res.errors += e.errors
	}
	hwm, _ := benchkit.ProcStatus(m.o.pid, "VmHWM")
	fetchMedian := ""
	if m.fetch != nil {
		fetchMedian = fmt.Sprintf(", fetch+engine %.2f img/s", benchkit.Median(fetchIPS))
	}
	fmt.Printf("c%-2d median: engine %.2f img/s%s, edge %.2f req/s, ratio %.2f (target %.2f)%s, edge p99 %.0f ms, %d failed, edge peak RSS so far %.0f MiB\n",
		m.conns, benchkit.Median(engIPS), fetchMedian, benchkit.Median(edgeRPS), res.ratio, m.o.target,
		map[bool]string{true: fmt.Sprintf(", %.2f of fetch+engine", res.fetchRatio)}[m.fetch != nil],
		benchkit.Median(p99s)*1000, res.errors, float64(hwm)/(1<<20))
	fmt.Print(whereTimeGoes(edges, eng, fet, m.o.originPid != 0))
	return res, nil
}

// fetchColumn is a round's fetch+engine rate, "" without that side.
func fetchColumn(f benchkit.Run) string {
	if f.Images == 0 {
		return ""
	}
	return fmt.Sprintf("   fetch+engine %6.2f img/s (%d)", f.PerSecond(), f.Images)
}

func fetchRatio(rps float64, f benchkit.Run) string {
	if f.Images == 0 {
		return ""
	}
	return fmt.Sprintf(" (%.2f of fetch+engine)", rps/f.PerSecond())
}

// originFetch gets a new path of dir on the origin for every call, as the
// edge does for every miss: one keep-alive connection per worker, the body
// read into the worker's buffer when it fits (the edge reads a body with a
// Content-Length into one pooled buffer of that size).
func originFetch(origin, dir, run string, workers int) benchkit.Fetch {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: workers, DisableCompression: true}}
	var n atomic.Int64
	return func(ctx context.Context, buf []byte) ([]byte, error) {
		url := fmt.Sprintf("%s/%s/%s-f%d.jpg", origin, dir, run, n.Add(1))
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ContentLength < 0 {
			return nil, fmt.Errorf("%s: %s, Content-Length %d", url, resp.Status, resp.ContentLength)
		}
		if int64(cap(buf)) < resp.ContentLength {
			buf = make([]byte, resp.ContentLength)
		}
		buf = buf[:resp.ContentLength]
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, fmt.Errorf("%s: %w", url, err)
		}
		return buf, nil
	}
}

// edgeRun runs wrk against the edge for one round, reads what the edge, the
// origin and wrk spent meanwhile, and waits for the edge to go idle.
func (m measurement) edgeRun(run string) (edgeRun, error) {
	var e edgeRun
	var err error
	if e.before, err = scrape(m.o.edge); err != nil {
		return e, err
	}
	used0, ok := benchkit.ProcUsage(m.o.pid)
	if !ok {
		return e, errors.New("the edge is not running")
	}
	origin0, _ := benchkit.ProcUsage(m.o.originPid)
	cmd := exec.Command("wrk", "-t", strconv.Itoa(min(2, m.conns)), "-c", strconv.Itoa(m.conns),
		"-d", fmt.Sprintf("%.0fs", m.o.duration.Seconds()), "--timeout", "30s", "--latency",
		"-H", "Accept: "+m.o.accept, "-s", m.script, m.o.edge, "--", m.prefix, run)
	out, err := cmd.Output()
	// Read at once: the requests still in flight when wrk stops keep the
	// edge busy, as the transforms past the limit keep the engine busy,
	// and neither side counts them.
	used1, _ := benchkit.ProcUsage(m.o.pid)
	origin1, _ := benchkit.ProcUsage(m.o.originPid)
	if err != nil {
		return e, fmt.Errorf("wrk: %w: %s", err, out)
	}
	e.used, e.origin = used1.Sub(used0), origin1.Sub(origin0).CPU()
	e.wrk = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if err := parseWrk(string(out), &e); err != nil {
		return e, fmt.Errorf("%w in wrk's output:\n%s", err, out)
	}
	e.after, err = waitIdle(m.o.edge, time.Minute)
	return e, err
}

// waitIdle polls the edge's /metrics until no miss is in flight or
// waiting, and returns the last sample.
func waitIdle(edge string, limit time.Duration) (metricsSample, error) {
	for deadline := time.Now().Add(limit); ; time.Sleep(50 * time.Millisecond) {
		s, err := scrape(edge)
		if err != nil {
			return s, err
		}
		if s["pictor_edge_misses_in_flight"]+s["pictor_edge_misses_waiting"] == 0 {
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("the edge was still busy %s after wrk stopped", limit)
		}
	}
}

// get fetches url and returns the body and the output format ("webp",
// "jpeg", …).
func get(url, accept string) ([]byte, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", accept)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("%s: %s %s", url, resp.Status, resp.Header.Get("X-Pictor-Error"))
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "image/") {
		return nil, "", fmt.Errorf("%s: Content-Type %q", url, resp.Header.Get("Content-Type"))
	}
	return body, strings.TrimPrefix(mt, "image/"), nil
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkTotal    = regexp.MustCompile(`(\d+) requests in`)
	wrkP99      = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s|m)\b`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocketEr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads wrk's summary; rps counts the 2xx answers only. Socket
// errors (timeouts too) count as failed requests; so do 3xx answers, which
// wrk lumps with non-2xx and which no image request here should get.
func parseWrk(out string, e *edgeRun) error {
	m := wrkRPS.FindStringSubmatch(out)
	t := wrkTotal.FindStringSubmatch(out)
	p := wrkP99.FindStringSubmatch(out)
	if m == nil || t == nil || p == nil {
		return errors.New("no Requests/sec, request count or 99% latency")
	}
	e.rps, _ = strconv.ParseFloat(m[1], 64)
	e.requests, _ = strconv.Atoi(t[1])
	e.served = e.requests
	v, _ := strconv.ParseFloat(p[1], 64)
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute}[p[2]]
	e.p99 = time.Duration(v * float64(unit))
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		n, _ := strconv.Atoi(m[1])
		e.errors += n
		// A refusal is quick; counted as served it would flatter the
		// edge's rate.
		if e.requests > 0 {
			e.served = e.requests - n
			e.rps *= float64(e.served) / float64(e.requests)
		}
	}
	if m := wrkSocketEr.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(s)
			e.errors += n
		}
	}
	return nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
