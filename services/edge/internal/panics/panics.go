// Package panics turns a panic in the edge's request work into an error of
// that one piece of work. A Go panic that nobody recovers ends the process,
// and with it every request in flight, every cached byte in L1 and the
// config stream; a bug in the handling of one image must cost that image's
// requests, not the edge.
//
// Every goroutine that runs request work (coalesced fetch and transform,
// the request handlers, usage reports, config apply) defers a recover that
// hands the value to Recovered. The count is process-wide because the
// panics it counts are, and metrics exports it as pictor_edge_panics_total.
package panics

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"pictor/services/internal/errkind"
)

// Where a panic can be recovered: the metric's label values, every one
// exported from the start (at 0) so an alert on an increase has a series.
const (
	RequestHandler = "request handler"
	FastPath       = "fast path"
	CoalescedWork  = "coalesced work"
	OriginalFetch  = "original fetch"
	ConfigApply    = "config apply"
	UsageReport    = "usage report"
	MemoryLimiter  = "memory limiter"
	Refresh        = "background refresh"
)

var counts sync.Map // where (string) → *atomic.Uint64

func init() {
	for _, w := range []string{RequestHandler, FastPath, CoalescedWork, OriginalFetch, ConfigApply, UsageReport, MemoryLimiter, Refresh} {
		counts.Store(w, new(atomic.Uint64))
	}
}

// Recovered records a recovered panic p in the work named where (one of
// the constants above: a metric label), logs it with its stack, and returns the
// error the work ends with: Internal, which the transports answer with 500
// and the request id. Call it from the deferred function that recovered,
// so the stack still shows where the panic started.
func Recovered(log *slog.Logger, where string, p any) error {
	c, _ := counts.LoadOrStore(where, new(atomic.Uint64))
	c.(*atomic.Uint64).Add(1)
	log.Error("panic recovered; the work it interrupted fails alone", "where", where,
		"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return errkind.Wrap(errkind.Internal, "panic", "internal error", fmt.Errorf("panic in %s: %v", where, p))
}

// Counts returns the panics recovered so far, by where.
func Counts() map[string]uint64 {
	out := map[string]uint64{}
	counts.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return out
}
