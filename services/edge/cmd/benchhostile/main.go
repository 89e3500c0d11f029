// Command benchhostile drives one running edge through a storm a public
// edge must survive, all at once, and judges how it came out:
//
//	(a) 64 concurrent distinct variants of one ~35 MB, 90-megapixel JPEG;
//	(b) 64 concurrent distinct 20 MB originals;
//	(c) 500 connections that send their headers a byte at a time, or
//	    request a large image and read it a kilobyte at a time;
//	(d) a steady stream of cache hits, timed.
//
// It samples the edge's resident memory throughout and prints its peak
// against the edge's memory budget, the answers by status, and the p99 of
// the hits during the storm. It exits non-zero when the peak passed the
// budget, when any answer to (a), (b) or (d) was other than 200 or 503 with
// Retry-After, or when the edge died. scripts/bench-hostile.sh starts the
// edge (512 MiB budget) and an nginx origin and runs it.
//
// Usage: benchhostile -edge http://127.0.0.1:18181 -pid PID -budget 512MiB
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pictor/services/edge/internal/benchkit"
	"pictor/services/edge/internal/membudget"
)

type options struct {
	edge        string
	pid         int
	budget      int64
	variants    int
	originals   int
	slow        int
	hitThreads  int
	slowRate    time.Duration
	targetP99   time.Duration
	stormRounds int
}

func main() {
	var o options
	flag.StringVar(&o.edge, "edge", "http://127.0.0.1:18181", "edge base URL")
	flag.IntVar(&o.pid, "pid", 0, "edge process id (for its memory)")
	budget := flag.String("budget", "512MiB", "the edge's PICTOR_EDGE_MEMORY_LIMIT")
	flag.IntVar(&o.variants, "variants", 64, "(a) concurrent variants of the 90 MP image")
	flag.IntVar(&o.originals, "originals", 64, "(b) concurrent distinct 20 MB originals")
	flag.IntVar(&o.slow, "slow", 500, "(c) slow connections")
	flag.IntVar(&o.hitThreads, "hit-threads", 2, "(d) connections requesting cache hits")
	flag.DurationVar(&o.slowRate, "slow-rate", 200*time.Millisecond, "(c) time between a slow client's bytes")
	flag.DurationVar(&o.targetP99, "target-p99", 50*time.Millisecond, "hit p99 target during the storm")
	flag.IntVar(&o.stormRounds, "rounds", 2, "bursts of (a) and (b), one after the other")
	flag.Parse()
	var err error
	if o.budget, err = membudget.ParseSize(*budget); err != nil {
		fmt.Fprintln(os.Stderr, "benchhostile: -budget:", err)
		os.Exit(2)
	}
	os.Exit(run(o))
}

// Paths on the bench account's default endpoint; the origin maps every
// name under /90/ to the 90 MP JPEG and every name under /20/ to the
// 20 MB one, so each name is a distinct original to the edge.
const (
	hitPath  = "/bench/tr:w-300/hit/photo.jpg"
	slowPath = "/bench/tr:w-1600,q-95/hit/photo.jpg"
)

func run(o options) int {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if err := warm(o.edge); err != nil {
		fmt.Fprintln(os.Stderr, "benchhostile:", err)
		return 2
	}
	mem := &memory{pid: o.pid}
	go mem.sample(ctx)
	hits := &hitStream{}
	var bg sync.WaitGroup
	for range o.hitThreads {
		bg.Add(1)
		go func() { defer bg.Done(); hits.run(ctx, o.edge) }()
	}
	slow := &slowClients{rate: o.slowRate}
	for i := range o.slow {
		bg.Add(1)
		go func() { defer bg.Done(); slow.run(ctx, o.edge, i%2 == 0) }()
	}
	time.Sleep(time.Second) // the slow crowd gathers first
	fmt.Printf("storm: %d slow connections open, %d hit streams; %d rounds of %d variants of the 90 MP image and %d distinct 20 MB originals\n",
		slow.open.Load(), o.hitThreads, o.stormRounds, o.variants, o.originals)

	answers := newTally()
	start := time.Now()
	hits.measure.Store(true)
	for round := range o.stormRounds {
		var wg sync.WaitGroup
		for i := range o.variants {
			wg.Add(1)
			go func() { defer wg.Done(); answers.get("(a) 90 MP variants", o.edge+variantPath(round, i)) }()
		}
		for i := range o.originals {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers.get("(b) 20 MB originals", fmt.Sprintf("%s/bench/tr:w-400/20/r%d-%d.jpg", o.edge, round, i))
			}()
		}
		wg.Wait()
	}
	hits.measure.Store(false)
	storm := time.Since(start)
	stop()
	bg.Wait()
	return report(o, mem, answers, hits, slow, storm)
}

// variantPath is one of many distinct variants of the 90 MP image: widths
// from thumbnails to large, some as WebP (whose encoder holds the whole
// output), some rotated (which holds the whole image).
func variantPath(round, i int) string {
	w := 100 + (round*64+i)*53%3900
	tr := "w-" + strconv.Itoa(w)
	switch i % 8 {
	case 3:
		tr += ",f-webp"
	case 5:
		tr += ",rt-90"
	}
	return "/bench/tr:" + tr + "/90/big.jpg"
}

// warm makes the hit path's variant an L1 hit and checks the edge serves.
func warm(edge string) error {
	for _, p := range []string{hitPath, hitPath, slowPath} {
		resp, err := http.Get(edge + p)
		if err != nil {
			return fmt.Errorf("warm %s: %w", p, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("warm %s: status %d", p, resp.StatusCode)
		}
	}
	return nil
}

// tally counts answers per group and status; a 503 without Retry-After is
// counted apart, since it is a bad answer.
type tally struct {
	mu     sync.Mutex
	counts map[string]map[string]int
	client *http.Client
}

func newTally() *tally {
	return &tally{counts: map[string]map[string]int{}, client: &http.Client{
		Timeout:   2 * time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true},
	}}
}

func (t *tally) get(group, url string) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "image/avif,image/webp,image/apng,image/*,*/*;q=0.8") // a browser's
	status := "error"
	resp, err := t.client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status = strconv.Itoa(resp.StatusCode)
		if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
			status = "503 without Retry-After"
		}
		if err != nil {
			status += " (body cut)"
		}
	}
	t.add(group, status)
}

func (t *tally) add(group, status string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts == nil {
		t.counts = map[string]map[string]int{}
	}
	if t.counts[group] == nil {
		t.counts[group] = map[string]int{}
	}
	t.counts[group][status]++
}

// hitStream requests one cached variant over and over on a keep-alive
// connection; while measure is set it records each latency.
type hitStream struct {
	measure   atomic.Bool
	mu        sync.Mutex
	latencies []time.Duration
	statuses  tally
}

func (h *hitStream) run(ctx context.Context, edge string) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	for ctx.Err() == nil {
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, "GET", edge+hitPath, nil)
		req.Header.Set("Accept", "image/avif,image/webp,image/apng,image/*,*/*;q=0.8")
		resp, err := client.Do(req)
		status := "error"
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status = strconv.Itoa(resp.StatusCode)
		} else if ctx.Err() != nil {
			return
		}
		if h.measure.Load() {
			h.mu.Lock()
			h.latencies = append(h.latencies, time.Since(start))
			h.mu.Unlock()
			h.statuses.add("(d) cache hits", status)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *hitStream) percentile(p float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.latencies) == 0 {
		return 0
	}
	s := slices.Clone(h.latencies)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// slowClients hold connections open: half send their request a byte at a
// time, half request a large image and read it a kilobyte at a time.
type slowClients struct {
	rate   time.Duration
	open   atomic.Int64
	closed atomic.Int64 // connections the edge closed on them
	bytes  atomic.Int64 // response bytes the slow readers got
}

func (s *slowClients) run(ctx context.Context, edge string, sendSlowly bool) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(edge, "http://"))
	if err != nil {
		return
	}
	defer conn.Close()
	s.open.Add(1)
	defer s.open.Add(-1)
	context.AfterFunc(ctx, func() { conn.Close() })
	if sendSlowly {
		req := "GET " + hitPath + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: slow-loris\r\nX-Padding: " + strings.Repeat("x", 4000) + "\r\n\r\n"
		for i := 0; i < len(req) && ctx.Err() == nil; i++ {
			if _, err := conn.Write([]byte{req[i]}); err != nil {
				s.closed.Add(1)
				return
			}
			time.Sleep(s.rate)
		}
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(4 << 10) // keep the kernel from swallowing the response for us
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", slowPath)
	r := bufio.NewReaderSize(conn, 1024)
	buf := make([]byte, 1024)
	for ctx.Err() == nil {
		n, err := r.Read(buf)
		s.bytes.Add(int64(n))
		if err != nil {
			if ctx.Err() == nil {
				s.closed.Add(1)
			}
			return
		}
		time.Sleep(s.rate)
	}
}

// memory samples the edge's resident set, and reads the kernel's own
// high-water mark (VmHWM) at the end.
type memory struct {
	pid  int
	peak atomic.Int64
	dead atomic.Bool
}

func (m *memory) sample(ctx context.Context) {
	for ctx.Err() == nil {
		if rss, ok := m.read("VmRSS"); ok {
			if rss > m.peak.Load() {
				m.peak.Store(rss)
			}
		} else {
			m.dead.Store(true)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// read returns a /proc/PID/status field in bytes.
func (m *memory) read(field string) (int64, bool) { return benchkit.ProcStatus(m.pid, field) }

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

func report(o options, mem *memory, answers *tally, hits *hitStream, slow *slowClients, storm time.Duration) int {
	var fails []string
	hwm, ok := mem.read("VmHWM")
	alive := ok && !mem.dead.Load()
	if resp, err := http.Get(o.edge + "/healthz"); err != nil || resp.StatusCode != 200 {
		alive = false
	}
	if !alive {
		fails = append(fails, "the edge died")
	}
	hwm = max(hwm, mem.peak.Load())
	fmt.Printf("\nstorm lasted %.1f s\n", storm.Seconds())
	fmt.Printf("peak RSS (VmHWM): %s of a %s budget\n", mib(hwm), mib(o.budget))
	if hwm > o.budget {
		fails = append(fails, fmt.Sprintf("peak RSS %s passed the budget %s", mib(hwm), mib(o.budget)))
	}
	all := answers.counts
	for g, c := range hits.statuses.counts {
		all[g] = c
	}
	groups := make([]string, 0, len(all))
	for g := range all {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	fmt.Println("answers:")
	totals := map[string]int{}
	for _, g := range groups {
		var parts []string
		for st, n := range all[g] {
			parts = append(parts, fmt.Sprintf("%s: %d", st, n))
			totals[st] += n
			if st != "200" && st != "503" {
				fails = append(fails, fmt.Sprintf("%d answers %q in %s", n, st, g))
			}
		}
		slices.Sort(parts)
		fmt.Printf("  %-22s %s\n", g, strings.Join(parts, ", "))
	}
	p50, p99 := hits.percentile(0.50), hits.percentile(0.99)
	verdict := "met"
	if p99 > o.targetP99 {
		verdict = "MISSED"
	}
	fmt.Printf("cache hits during the storm: %d, p50 %.1f ms, p99 %.1f ms (target <= %v: %s)\n",
		len(hits.latencies), ms(p50), ms(p99), o.targetP99, verdict)
	fmt.Printf("slow connections: %d opened, %d closed by the edge before the storm ended, %d KiB read by the slow readers\n",
		o.slow, slow.closed.Load(), slow.bytes.Load()>>10)
	result := "PASS"
	if len(fails) > 0 {
		result = "FAIL"
		for _, f := range fails {
			fmt.Println("FAIL:", f)
		}
	}
	fmt.Printf("bench-hostile: %s: peak RSS %s / %s budget; 200: %d, 503: %d, other: %d; hit p99 %.1f ms (target %v %s); edge alive: %v\n",
		result, mib(hwm), mib(o.budget), totals["200"], totals["503"], otherAnswers(totals), ms(p99), o.targetP99, verdict, alive)
	if result == "FAIL" {
		return 1
	}
	return 0
}

func otherAnswers(t map[string]int) int {
	n := 0
	for st, c := range t {
		if st != "200" && st != "503" {
			n += c
		}
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
