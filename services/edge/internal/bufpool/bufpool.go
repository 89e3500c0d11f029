// Package bufpool recycles the large buffers origin bodies are read into.
//
// A cold-miss flood reads a multi-megabyte original per request: fresh
// buffers of that size are zeroed by the runtime, fault their pages in, and
// make the collector run more often, for bytes that the next read
// overwrites anyway. Idle buffers are memory the edge's budget does not
// lease, so the pool keeps at most IdleLimit bytes of them (the edge sets
// it aside from the budget's work share) and drops the rest.
package bufpool

import (
	"math/bits"
	"sync"
)

var (
	mu    sync.Mutex
	free  [4 * 64][][]byte // idle buffers per class, most recent last
	idle  int64            // their bytes
	limit int64            = 32 << 20
)

// SetIdleLimit sets how many bytes of idle buffers the pool keeps (32 MiB
// until set); buffers over it are dropped at once.
func SetIdleLimit(n int64) {
	mu.Lock()
	defer mu.Unlock()
	limit = n
	for c := range free {
		for idle > limit && len(free[c]) > 0 {
			idle -= int64(cap(free[c][len(free[c])-1]))
			free[c][len(free[c])-1] = nil
			free[c] = free[c][:len(free[c])-1]
		}
	}
}

// Idle reports the bytes of idle buffers held.
func Idle() int64 {
	mu.Lock()
	defer mu.Unlock()
	return idle
}

// Smallest and largest pooled capacities; smaller requests are plain
// allocations (the runtime's own size classes serve them well), larger
// ones too (rare, and a pool of them would hold too much).
const (
	minPooled = 256 << 10
	maxPooled = 128 << 20
)

// Classes step by a quarter of a power of two (4, 5, 6, 7, 8, 10, 12 …
// MiB), so a buffer is at most a quarter larger than asked for.

// classOf returns the class of a capacity of n bytes and that capacity.
func classOf(n int) (class int, size int) {
	e := bits.Len(uint(n-1)) - 1 // 2^e < n <= 2^(e+1)
	if e < 2 {
		e = 2
	}
	step := 1 << (e - 2)
	q := (n + step - 1) / step // 5..8 quarters of 2^e
	return 4*e + q - 4, q * step
}

// Get returns a buffer of length n; its contents are undefined (the caller
// overwrites all of it).
func Get(n int) []byte {
	if n < minPooled || n > maxPooled {
		return make([]byte, n)
	}
	class, size := classOf(n)
	mu.Lock()
	if l := len(free[class]); l > 0 {
		b := free[class][l-1]
		free[class][l-1] = nil
		free[class] = free[class][:l-1]
		idle -= int64(size)
		mu.Unlock()
		return b[:n]
	}
	mu.Unlock()
	return make([]byte, n, size)
}

// Put gives b back for reuse; the caller must not touch it afterwards. A
// buffer that did not come from Get at a pooled size, or that would take
// the idle bytes over the limit, is left to the collector.
func Put(b []byte) {
	c := cap(b)
	if c < minPooled || c > maxPooled {
		return
	}
	class, size := classOf(c)
	if size != c {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if idle+int64(c) > limit {
		return
	}
	free[class] = append(free[class], b[:c])
	idle += int64(c)
}
