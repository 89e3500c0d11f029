// Command benchmiss measures one running edge's cold-miss throughput —
// every request a source path it has never seen, so each one is fetched
// from the origin, transformed and stored — against the edge's own
// transform engine doing the same transforms in this process, and prints
// the ratio (edge req/s ÷ engine img/s) with the edge's peak RSS.
// scripts/bench-miss.sh builds and starts the edge and an nginx origin that
// serves one file under every name, then runs it (make bench-miss).
//
// Fairness, because the ratio is the point:
//
//   - Same work: the engine transforms the very bytes the origin serves,
//     with the URL's transformation and the output format the edge chose
//     for the request's Accept header (read from a probe request), and the
//     probe's body is compared with the engine's: they are the same bytes
//     when both ran the same pipeline.
//   - Same parallelism: the engine runs as many transforms at once as the
//     edge's worker pool (-workers must equal the edge's
//     PICTOR_TRANSFORM_WORKERS; the script sets both), each worker starting
//     its next as soon as one is done.
//   - Same clock: both run for the same time and count what finished
//     within it (wrk counts responses that arrived within its run; the
//     engine, transforms that finished within the limit).
//   - Same start: an edge run is over only once the edge has finished the
//     requests wrk left in flight, so they do not slow the engine run after
//     it; the engine waits for its own stragglers too.
//   - Same noise: engine and edge runs alternate for -rounds rounds and the
//     median of the rounds' ratios is reported, so a machine shared with
//     other work slows both sides.
//
// A third side, fetch+engine (with -origin), does in this process the least
// any server does per miss: a GET of a new path from the same origin, the
// body read into the worker's buffer, then the same transform. Edge req/s ÷
// fetch+engine img/s prices what the edge adds beyond the bytes' delivery;
// the target applies to edge ÷ engine, as the benchmark's definition says.
//
// What the edge does on top — parsing the request, the origin fetch, cache
// look-ups and writes, hashing the variant, sending it — is what the ratio
// prices. To say where the time goes it also prints, per image, the edge's
// CPU time next to the engine's, the origin's and wrk's (they share the
// machine with the edge, not with the engine), and the edge's mean origin
// and transform stage times (from its /metrics) next to the engine's mean
// transform time.
//
// Exit status: 0 when every ratio meets -target with no failed request, 1
// when one does not, 2 when the benchmark could not run. The last line
// printed is a one-line summary.
//
// Usage: benchmiss -pid PID -src12 FILE -src18 FILE [-origin URL] [-origin-pid PID] [-workers N] [-duration 8s] [-rounds 3]
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// A browser's Accept for an <img> (Chrome's): the edge picks the output
// format from it when the transformation names none.
const browserAccept = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"

type options struct {
	edge      string
	origin    string // "": no fetch+engine side
	pid       int    // the edge's
	originPid int    // 0: not reported
	src12     string
	src18     string
	accept    string
	conns     []int
	workers   int
	duration  time.Duration
	rounds    int
	target    float64
	run       string
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmiss:", err)
		os.Exit(2)
	}
	pass, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmiss:", err)
		fmt.Println("bench-miss: ERROR", err)
		os.Exit(2)
	}
	if !pass {
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	var conns string
	fs := flag.NewFlagSet("benchmiss", flag.ContinueOnError)
	fs.StringVar(&o.edge, "edge", "http://127.0.0.1:18381", "edge base URL")
	fs.StringVar(&o.origin, "origin", "", "the origin's base URL: adds a side that fetches each source from it before transforming")
	fs.IntVar(&o.pid, "pid", 0, "edge process id (CPU time, VmHWM)")
	fs.IntVar(&o.originPid, "origin-pid", 0, "origin (nginx) process id, to report its CPU time")
	fs.StringVar(&o.src12, "src12", "", "the 12 MP JPEG the origin serves under /12/")
	fs.StringVar(&o.src18, "src18", "", "the 18 MP JPEG the origin serves under /18/")
	fs.StringVar(&o.accept, "accept", browserAccept, "Accept header of every request")
	fs.StringVar(&conns, "c", "4,16", "wrk connection counts, comma-separated")
	fs.IntVar(&o.workers, "workers", 2*runtime.GOMAXPROCS(0), "engine workers: the edge's PICTOR_TRANSFORM_WORKERS (default: the edge's default)")
	fs.DurationVar(&o.duration, "duration", 8*time.Second, "each edge run and each engine run")
	fs.IntVar(&o.rounds, "rounds", 3, "alternating engine and edge runs per case; the median ratio is reported")
	fs.Float64Var(&o.target, "target", 0.95, "lowest passing edge req/s ÷ engine img/s")
	fs.StringVar(&o.run, "run", strconv.FormatInt(time.Now().UnixNano(), 36), "distinguishes this invocation's paths from any earlier one's")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, s := range strings.Split(conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return o, fmt.Errorf("-c: want positive numbers, got %q", conns)
		}
		o.conns = append(o.conns, n)
	}
	switch {
	case o.pid <= 0 || o.src12 == "" || o.src18 == "":
		return o, fmt.Errorf("need -pid, -src12 and -src18")
	case o.workers < 1 || o.rounds < 1 || o.duration < time.Second:
		return o, fmt.Errorf("need -workers and -rounds >= 1 and -duration >= 1s")
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}
