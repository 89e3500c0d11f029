// Package bufpool recycles the large buffers origin bodies are read into.
//
// A cold-miss flood reads a multi-megabyte original per request: fresh
// buffers of that size are zeroed by the runtime, fault their pages in, and
// make the collector run more often under the edge's memory limit, for
// bytes that the next read overwrites anyway. Buffers are kept in
// sync.Pools per size class, so idle ones are dropped by the garbage
// collector (two cycles after their last use) and never pin memory the
// budget does not know about for long.
package bufpool

import (
	"math/bits"
	"sync"
)

// Smallest and largest pooled capacities; smaller requests are plain
// allocations (the runtime's own size classes serve them well), larger
// ones too (rare, and a pool of them would hold too much).
const (
	minPooled = 256 << 10
	maxPooled = 128 << 20
)

// Classes step by a quarter of a power of two (4, 5, 6, 7, 8, 10, 12 …
// MiB), so a buffer is at most a quarter larger than asked for.
var pools [4 * 64]sync.Pool

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
	if p, ok := pools[class].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, size)
}

// Put gives b back for reuse; the caller must not touch it afterwards. A
// buffer that did not come from Get at a pooled size is left to the
// collector.
func Put(b []byte) {
	c := cap(b)
	if c < minPooled || c > maxPooled {
		return
	}
	class, size := classOf(c)
	if size != c {
		return
	}
	b = b[:c]
	pools[class].Put(&b)
}
