package transform

/*
#cgo pkg-config: vips
#include "vips.h"
*/
import "C"

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/h2non/bimg"
)

// Output formats, in step with the enum in vips.c.
const (
	fmtJPEG = 1 + iota
	fmtPNG
	fmtWebP
	fmtAVIF
	fmtGIF
)

var initOnce sync.Once

// initVips tunes libvips for a server once bimg has started it: untrusted
// loaders (SVG, PDF, ImageMagick, ...) are blocked, the operation cache that
// would pin decoded images in memory is off, and each operation uses one
// thread because the worker pool already uses every core.
func initVips() {
	initOnce.Do(func() {
		bimg.Initialize()
		C.vips_block_untrusted_set(C.TRUE)
		C.vips_cache_set_max(0)
		C.vips_cache_set_max_mem(0)
		C.vips_concurrency_set(1)
	})
}

// vipsErr collects libvips' error text for the log; it never reaches a client.
func vipsErr(op string) error {
	p := C.pictor_error()
	defer C.free(unsafe.Pointer(p))
	msg := strings.TrimSpace(C.GoString(p))
	if msg == "" {
		msg = "unknown libvips error"
	}
	return errors.New(op + ": " + msg)
}

type header struct {
	width, height, pages, orientation int
	hasAlpha                          bool
	loader                            string
}

// readHeader reads dimensions without decoding pixels, so a pixel bomb is
// refused before it costs memory.
func readHeader(buf []byte) (header, error) {
	var w, h, pages, orient, alpha C.int
	var loader *C.char
	rc := C.pictor_header(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), &w, &h, &pages, &orient, &alpha, &loader)
	runtime.KeepAlive(buf)
	var hd header
	if loader != nil {
		hd.loader = C.GoString(loader)
	}
	if rc != 0 {
		return hd, vipsErr("header")
	}
	hd.width, hd.height, hd.pages, hd.orientation = int(w), int(h), int(pages), int(orient)
	hd.hasAlpha = alpha != 0
	return hd, nil
}

// vimage owns one libvips image reference. The mutex lets a watchdog kill a
// running evaluation without racing the pipeline replacing the image.
type vimage struct {
	mu     sync.Mutex
	ptr    *C.VipsImage
	killed bool
}

func (im *vimage) replace(next *C.VipsImage) {
	im.mu.Lock()
	old := im.ptr
	im.ptr = next
	if im.killed {
		C.pictor_kill(next)
	}
	im.mu.Unlock()
	C.pictor_unref(old)
}

func (im *vimage) kill() {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.killed = true
	if im.ptr != nil {
		C.pictor_kill(im.ptr)
	}
}

func (im *vimage) close() {
	im.mu.Lock()
	p := im.ptr
	im.ptr = nil
	im.mu.Unlock()
	C.pictor_unref(p)
}

func (im *vimage) width() int  { return int(im.ptr.Xsize) }
func (im *vimage) height() int { return int(im.ptr.Ysize) }

func (im *vimage) hasAlpha() bool { return C.pictor_has_alpha(im.ptr) != 0 }

func thumbnail(buf []byte, width, height int, attention bool) (*vimage, error) {
	var out *C.VipsImage
	att := C.int(0)
	if attention {
		att = 1
	}
	rc := C.pictor_thumbnail(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), &out, C.int(width), C.int(height), att)
	runtime.KeepAlive(buf)
	if rc != 0 {
		return nil, vipsErr("thumbnail")
	}
	return &vimage{ptr: out}, nil
}

// apply runs one operation and swaps its output in.
func (im *vimage) apply(op string, f func(in *C.VipsImage, out **C.VipsImage) C.int) error {
	var out *C.VipsImage
	if f(im.ptr, &out) != 0 {
		return vipsErr(op)
	}
	im.replace(out)
	return nil
}

func (im *vimage) resize(hscale, vscale float64) error {
	return im.apply("resize", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_resize(in, out, C.double(hscale), C.double(vscale))
	})
}

func (im *vimage) extract(left, top, width, height int) error {
	return im.apply("extract", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_extract(in, out, C.int(left), C.int(top), C.int(width), C.int(height))
	})
}

func (im *vimage) rotate90s(angle int) error {
	return im.apply("rotate", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_rot90s(in, out, C.int(angle))
	})
}

func (im *vimage) flip(horizontal bool) error {
	h := C.int(0)
	if horizontal {
		h = 1
	}
	return im.apply("flip", func(in *C.VipsImage, out **C.VipsImage) C.int { return C.pictor_flip(in, out, h) })
}

func (im *vimage) blur(sigma float64) error {
	return im.apply("blur", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_blur(in, out, C.double(sigma))
	})
}

func (im *vimage) grayscale() error {
	return im.apply("grayscale", func(in *C.VipsImage, out **C.VipsImage) C.int { return C.pictor_grayscale(in, out) })
}

func (im *vimage) flatten(r, g, b uint8) error {
	return im.apply("flatten", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_flatten(in, out, C.double(r), C.double(g), C.double(b))
	})
}

type saveOptions struct {
	format, quality, effort    int
	strip, interlace, lossless bool
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// save evaluates the whole lazy pipeline and encodes it; this is where
// nearly all the CPU time goes, and where a kill lands.
func (im *vimage) save(o saveOptions) ([]byte, error) {
	var buf unsafe.Pointer
	var n C.size_t
	rc := C.pictor_save(im.ptr, C.int(o.format), C.int(o.quality), cbool(o.strip), cbool(o.interlace),
		cbool(o.lossless), C.int(o.effort), &buf, &n)
	if rc != 0 {
		return nil, vipsErr("save")
	}
	defer C.g_free(C.gpointer(buf))
	return C.GoBytes(buf, C.int(n)), nil
}
