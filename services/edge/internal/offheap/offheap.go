// Package offheap holds byte buffers outside the Go heap, for the edge's
// long-lived bulk data (the L1 cache's bodies). The garbage collector sizes
// its heap goal as a multiple of what is live: a cache of N bytes kept on
// the Go heap lets the heap grow to about 2N before a collection. Memory
// from C's allocator is invisible to that arithmetic and is given back the
// moment the last user lets go.
//
// A Buf is reference counted. Its creator holds the first reference; every
// reader that may outlive the owner's reference (a response still being
// written while the cache evicts the entry) takes its own with Acquire and
// drops it with Release. The bytes are freed when the count reaches zero,
// and Acquire on a freed Buf fails instead of handing out freed memory.
package offheap

/*
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
*/
import "C"

import (
	"sync/atomic"
	"unsafe"
)

// Buf is a fixed-size byte buffer in C memory.
type Buf struct {
	p    unsafe.Pointer
	n    int
	refs atomic.Int64
}

var (
	allocated atomic.Int64 // bytes currently allocated
	live      atomic.Int64 // buffers currently allocated
)

// Copy returns a new Buf holding a copy of b, with one reference, or nil
// when C's allocator is out of memory.
func Copy(b []byte) *Buf {
	buf := &Buf{n: len(b)}
	buf.refs.Store(1)
	if len(b) == 0 {
		return buf
	}
	buf.p = C.malloc(C.size_t(len(b)))
	if buf.p == nil {
		return nil
	}
	C.memcpy(buf.p, unsafe.Pointer(&b[0]), C.size_t(len(b)))
	allocated.Add(int64(len(b)))
	live.Add(1)
	return buf
}

// Bytes returns the buffer's bytes. They stay valid while the caller holds
// a reference; they must not be modified.
func (b *Buf) Bytes() []byte {
	if b.p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(b.p), b.n)
}

// Len is the buffer's size.
func (b *Buf) Len() int { return b.n }

// Acquire takes a reference and reports whether it got one: false means
// the buffer was already freed and must not be read.
func (b *Buf) Acquire() bool {
	for {
		r := b.refs.Load()
		if r <= 0 {
			return false
		}
		if b.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// Release drops a reference; the last one frees the bytes.
func (b *Buf) Release() {
	switch r := b.refs.Add(-1); {
	case r > 0:
		return
	case r < 0:
		panic("offheap: Buf released more often than acquired")
	}
	if b.p != nil {
		C.free(b.p)
		allocated.Add(-int64(b.n))
		live.Add(-1)
	}
}

// Allocated reports the bytes held by buffers not yet freed.
func Allocated() int64 { return allocated.Load() }

// Live reports how many buffers are not yet freed.
func Live() int64 { return live.Load() }

// Trim asks C's allocator to return free memory to the system. glibc keeps
// freed small blocks in its arenas; after a burst of evictions (or of
// libvips' own buffers, which share the allocator) that memory would
// otherwise stay in the process's RSS.
func Trim() { C.malloc_trim(0) }
