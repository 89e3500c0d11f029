package transform

import "github.com/h2non/bimg"

// VipsMemory reports the bytes libvips has allocated for pixels right now
// and the most it has held at once. The Go runtime cannot see this memory,
// so the edge's memory budget subtracts it from the Go runtime's limit.
func VipsMemory() (now, peak int64) {
	m := bimg.VipsMemory()
	return m.Memory, m.MemoryHighwater
}
