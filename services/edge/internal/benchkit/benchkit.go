// Package benchkit holds the measuring pieces the benchmark commands
// (cmd/benchtransform, cmd/benchhostile, cmd/benchmiss) share, so that
// they count images, CPU time and memory the same way: the engine driven
// flat out by a fixed number of workers, a process's CPU time and memory
// from /proc, and medians.
package benchkit

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"pictor/services/edge/internal/transform"
)

// Run is what one engine measurement did.
type Run struct {
	Images int           // transforms finished (within the time limit, if one was set)
	Wall   time.Duration // from the first start to the last counted finish, or the time limit
	Used   Usage         // this whole process's CPU time and page faults over the measurement
	Busy   time.Duration // sum of the counted transforms' own durations
}

// PerSecond is images per second of wall time.
func (r Run) PerSecond() float64 { return float64(r.Images) / r.Wall.Seconds() }

// CPUPerImage is the process's CPU time per image.
func (r Run) CPUPerImage() time.Duration { return r.Used.CPU() / time.Duration(max(r.Images, 1)) }

// Add sums two runs, as rounds of one measurement.
func (r Run) Add(s Run) Run {
	return Run{Images: r.Images + s.Images, Wall: r.Wall + s.Wall, Used: r.Used.Add(s.Used), Busy: r.Busy + s.Busy}
}

// MeanTransform is the mean wall time of one transform.
func (r Run) MeanTransform() time.Duration { return r.Busy / time.Duration(max(r.Images, 1)) }

// Transforms runs req on workers goroutines, each starting its next
// transform as soon as the last one is done, the way an edge's worker pool
// is kept busy by a queue of misses. It stops after count images when count
// > 0, else when limit has passed; then only the transforms finished
// within limit count and Wall is limit, as a load generator counts only the
// responses that arrived within its run. The process should do nothing
// else meanwhile: Used is the whole process's.
func Transforms(e *transform.Engine, req transform.Request, workers, count int, limit time.Duration) (Run, error) {
	return drive(e, req, nil, workers, count, limit)
}

// Fetch gets the next source, reading it into buf when it fits (buf is the
// worker's last source, nil at first), and returns it.
type Fetch func(ctx context.Context, buf []byte) ([]byte, error)

// FetchTransforms is Transforms with every source got by fetch first, in the
// same worker: the least any server does per miss, so an edge's rate next to
// this one's prices what the edge adds beyond getting the bytes.
func FetchTransforms(e *transform.Engine, req transform.Request, fetch Fetch, workers int, limit time.Duration) (Run, error) {
	return drive(e, req, fetch, workers, 0, limit)
}

func drive(e *transform.Engine, req transform.Request, fetch Fetch, workers, count int, limit time.Duration) (Run, error) {
	var started, done atomic.Int64
	var busy atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	used0 := SelfUsage()
	start := time.Now()
	deadline := start.Add(limit)
	// With a time limit, CPU is read at the limit, as a load generator's
	// side reads a server's CPU when its run ends: it includes the part of
	// the uncounted transforms done by then, on both sides alike.
	usedAtLimit := make(chan Usage, 1)
	if count <= 0 {
		t := time.AfterFunc(limit, func() { usedAtLimit <- SelfUsage() })
		defer t.Stop()
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := worker{e: e, req: req, fetch: fetch}
			for {
				if count > 0 && started.Add(1) > int64(count) {
					return
				}
				t0 := time.Now()
				if count <= 0 && !t0.Before(deadline) {
					return
				}
				if err := w.one(); err != nil {
					errs <- err
					return
				}
				if t1 := time.Now(); count > 0 || !t1.After(deadline) {
					done.Add(1)
					busy.Add(int64(t1.Sub(t0)))
				}
			}
		}()
	}
	wg.Wait()
	r := Run{Images: int(done.Load()), Wall: time.Since(start), Used: SelfUsage().Sub(used0), Busy: time.Duration(busy.Load())}
	close(errs)
	if err := <-errs; err != nil {
		return r, err
	}
	if count <= 0 {
		// Without an error the workers stopped only once the limit had
		// passed, so the timer has fired (or is about to).
		r.Used, r.Wall = (<-usedAtLimit).Sub(used0), limit
	}
	if r.Images == 0 {
		return r, fmt.Errorf("no transform finished within %s", limit)
	}
	return r, nil
}

// worker is one of drive's goroutines; buf is its last fetched source, kept
// for the next, as an edge keeps its pooled buffers.
type worker struct {
	e     *transform.Engine
	req   transform.Request
	fetch Fetch
	buf   []byte
}

func (w *worker) one() error {
	req := w.req
	if w.fetch != nil {
		src, err := w.fetch(context.Background(), w.buf)
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		w.buf, req.Source = src, src
	}
	_, err := w.e.Transform(context.Background(), req)
	return err
}

// Usage is what a process has used so far, or between two readings.
type Usage struct {
	User, System time.Duration
	// MinorFaults are pages the kernel mapped in without I/O: memory
	// freshly allocated, or handed back to the system and taken again.
	MinorFaults int64
}

// CPU is user + system time.
func (u Usage) CPU() time.Duration { return u.User + u.System }

// Sub is what was used between an earlier reading v and u.
func (u Usage) Sub(v Usage) Usage {
	return Usage{User: u.User - v.User, System: u.System - v.System, MinorFaults: u.MinorFaults - v.MinorFaults}
}

// Add is u and v together (over several measurements).
func (u Usage) Add(v Usage) Usage {
	return Usage{User: u.User + v.User, System: u.System + v.System, MinorFaults: u.MinorFaults + v.MinorFaults}
}

// SelfUsage is what this process has used so far.
func SelfUsage() Usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}
	}
	return Usage{User: time.Duration(ru.Utime.Nano()), System: time.Duration(ru.Stime.Nano()), MinorFaults: ru.Minflt}
}

// clockTick is the unit of /proc/PID/stat's times: USER_HZ, 100 on every
// Linux architecture Go runs on.
const clockTick = 10 * time.Millisecond

// ProcUsage is what process pid (all its threads) has used so far, from
// /proc/PID/stat; false once the process is gone.
func ProcUsage(pid int) (Usage, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, false
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after its closing parenthesis start with field 3, the state,
	// so minflt, utime and stime (fields 10, 14 and 15) are at 7, 11 and 12.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return Usage{}, false
	}
	var n [3]int64
	for i, j := range []int{7, 11, 12} {
		if n[i], err = strconv.ParseInt(f[j], 10, 64); err != nil {
			return Usage{}, false
		}
	}
	return Usage{MinorFaults: n[0], User: time.Duration(n[1]) * clockTick, System: time.Duration(n[2]) * clockTick}, true
}

// ProcStatus returns a /proc/PID/status field given in kB (VmRSS, VmHWM,
// …) in bytes; pid 0 is this process. False once the process is gone.
func ProcStatus(pid int, field string) (int64, bool) {
	name := "self"
	if pid != 0 {
		name = strconv.Itoa(pid)
	}
	b, err := os.ReadFile("/proc/" + name + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// Median is the middle value of v (the upper one of an even count).
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
