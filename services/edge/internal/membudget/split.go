package membudget

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
)

// DefaultLimit is the budget when neither PICTOR_EDGE_MEMORY_LIMIT nor a
// cgroup memory limit says otherwise.
const DefaultLimit = 1 << 30

// Split is how an edge divides its budget. Runtime is never leased: it
// covers the Go runtime, goroutine stacks, connection buffers, TLS and the
// config tables. L1 is the cache's byte budget. Work is what origin bodies
// in flight and transform working sets lease from (Budget).
type Split struct {
	Total, Runtime, L1, Work int64
}

// Per-connection cost the runtime share allows for: fasthttp's read
// buffer, a request context and a goroutine stack (bench-hostile measures
// them with slow connections: about 27 KiB), and the edge's 32 KiB write
// buffer, held while a slow reader takes its response.
const (
	runtimeBase = 48 << 20
	PerConn     = 68 << 10
	minWork     = 64 << 20
)

// Plan splits total. l1 < 0 means the default L1 share (a quarter of the
// budget); maxConns is the cap on open client connections.
func Plan(total, l1 int64, maxConns int) (Split, error) {
	s := Split{Total: total, Runtime: runtimeBase + int64(maxConns)*PerConn, L1: l1}
	if s.L1 < 0 {
		s.L1 = total / 4
	}
	s.Work = total - s.Runtime - s.L1
	if s.Work < minWork {
		return s, fmt.Errorf("%w: %s leaves %s for origin bodies and transforms after %s for the runtime (%d connections) and %s for L1; "+
			"raise PICTOR_EDGE_MEMORY_LIMIT or lower PICTOR_L1_CACHE_BYTES / PICTOR_EDGE_MAX_CONNECTIONS",
			ErrNoRoom, FormatSize(total), FormatSize(max(s.Work, 0)), FormatSize(s.Runtime), maxConns, FormatSize(s.L1))
	}
	return s, nil
}

func (s Split) String() string {
	return fmt.Sprintf("total %s = runtime %s + L1 %s + work (origin bodies, transforms) %s",
		FormatSize(s.Total), FormatSize(s.Runtime), FormatSize(s.L1), FormatSize(s.Work))
}

// ParseSize reads a byte count: a plain number of bytes, or a number with a
// binary (KiB, MiB, GiB; Ki, Mi, Gi as Kubernetes writes them) or decimal
// (KB, MB, GB; K, M, G) unit, case-insensitive.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
		"ki": 1 << 10, "kib": 1 << 10, "mi": 1 << 20, "mib": 1 << 20, "gi": 1 << 30, "gib": 1 << 30,
	}[unit]
	f, err := strconv.ParseFloat(num, 64)
	if mult == 0 || err != nil || f <= 0 || f*mult >= 1<<62 {
		return 0, fmt.Errorf("want a positive size such as 536870912, 512MiB or 1GiB, got %q", s)
	}
	return int64(f * mult), nil
}

// FormatSize prints bytes in MiB (GiB from 10 GiB up), for logs.
func FormatSize(n int64) string {
	if n >= 10<<30 {
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.0fMiB", float64(n)/(1<<20))
}

// cgroupFiles hold the container's memory limit: cgroup v2, then v1.
var cgroupFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// CgroupLimit returns the memory limit of the cgroup the process runs in,
// or 0 when there is none.
func CgroupLimit(readFile func(string) ([]byte, error)) int64 {
	for _, f := range cgroupFiles {
		b, err := readFile(f)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		n, err := strconv.ParseInt(v, 10, 64)
		// v1 writes "no limit" as a page-rounded maximum int64.
		if v == "max" || err != nil || n <= 0 || n >= 1<<60 {
			return 0
		}
		return n
	}
	return 0
}

// DefaultTotal is the budget when PICTOR_EDGE_MEMORY_LIMIT is not set: 80 %
// of the cgroup's limit, leaving the rest for what no budget sees (libc
// heaps, the binary itself), or DefaultLimit outside a container.
func DefaultTotal(readFile func(string) ([]byte, error)) (int64, string) {
	if n := CgroupLimit(readFile); n > 0 {
		return n / 5 * 4, "80% of the cgroup memory limit " + FormatSize(n)
	}
	return DefaultLimit, "default (no cgroup memory limit)"
}

// GoLimiter keeps the Go runtime's soft memory limit (GOMEMLIMIT) at what
// the rest of the process leaves of the budget: the budget minus the
// resident memory the Go runtime does not own (L1's bodies, libvips'
// pixels and its decoders' buffers, the C allocator's slack, the code) and
// minus what transforms have reserved but not yet allocated. Without it
// the collector would let garbage grow the heap towards twice what is
// live, into the room libvips is about to take.
type GoLimiter struct {
	Total    int64
	Floor    int64        // never set the limit below this
	Resident func() int64 // the process's resident set
	Pending  func() int64 // bytes reserved for C's work and not allocated yet
}

// Apply sets the limit once and returns it.
func (g GoLimiter) Apply() int64 {
	notGo := max(g.Resident()-goResident(), 0)
	limit := max(g.Total-notGo-max(g.Pending(), 0), g.Floor)
	debug.SetMemoryLimit(limit)
	return limit
}

var goMemory = []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}

// goResident is the memory the Go runtime holds, as its limit counts it:
// everything it mapped, less what it has given back to the system.
func goResident() int64 {
	s := make([]metrics.Sample, len(goMemory))
	copy(s, goMemory)
	metrics.Read(s)
	return int64(s[0].Value.Uint64()) - int64(s[1].Value.Uint64())
}

// ProcessRSS reads the process's resident set from /proc (0 where there
// is none).
func ProcessRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
