package transform

/*
#cgo pkg-config: vips
#cgo LDFLAGS: -lm
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

	"pictor/services/internal/imgurl"
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
// would pin decoded images in memory is off, each operation uses one
// thread because the worker pool already uses every core, and libvips'
// warnings go to the Go logger rather than stderr.
func initVips() {
	initOnce.Do(func() {
		bimg.Initialize()
		C.pictor_route_logs()
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
	hasAlpha, hasICC                  bool
	loader                            string
}

// readHeader reads dimensions without decoding pixels, so a pixel bomb is
// refused before it costs memory.
func readHeader(buf []byte) (header, error) {
	var w, h, pages, orient, alpha, icc C.int
	var loader *C.char
	rc := C.pictor_header(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), &w, &h, &pages, &orient, &alpha, &icc, &loader)
	runtime.KeepAlive(buf)
	var hd header
	if loader != nil {
		hd.loader = C.GoString(loader)
	}
	if rc != 0 {
		return hd, vipsErr("header")
	}
	hd.width, hd.height, hd.pages, hd.orientation = int(w), int(h), int(pages), int(orient)
	hd.hasAlpha, hd.hasICC = alpha != 0, icc != 0
	return hd, nil
}

// vimage owns one libvips image reference, the head of a lazy pipeline. The
// mutex lets a watchdog kill a running evaluation without racing the
// pipeline replacing the image.
type vimage struct {
	mu     sync.Mutex
	ptr    *C.VipsImage
	killed bool
	// inMemory says the pipeline has been evaluated into memory once, so
	// later operations may read it in any order (see random).
	inMemory bool
	// libvips reads the source lazily, long after the load call returns, so
	// the Go buffer stays pinned (cgo's rule for memory C keeps) until the
	// whole pipeline is released.
	pin runtime.Pinner
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
	im.pin.Unpin()
}

func (im *vimage) width() int  { return int(im.ptr.Xsize) }
func (im *vimage) height() int { return int(im.ptr.Ysize) }

func (im *vimage) bands() int { return int(im.ptr.Bands) }

func (im *vimage) hasAlpha() bool { return C.pictor_has_alpha(im.ptr) != 0 }

// load decodes buf at width×height (shrink-on-load, EXIF orientation
// applied) and brings it to 8-bit sRGB or grey; toSRGB converts through the
// source's embedded ICC profile.
func (im *vimage) load(buf []byte, width, height int, toSRGB bool) error {
	im.pin.Pin(&buf[0])
	var out *C.VipsImage
	if C.pictor_load(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), &out, C.int(width), C.int(height), cbool(toSRGB)) != 0 {
		return vipsErr("load")
	}
	im.replace(out)
	return im.apply("normalise", func(in *C.VipsImage, out **C.VipsImage) C.int { return C.pictor_normalise(in, out) })
}

// loadAsIs decodes buf without normalising it (see pictor_load_as_is): a
// test hook, so the C operations' own guards can be checked on layouts
// that load never lets through.
func (im *vimage) loadAsIs(buf []byte) error {
	im.pin.Pin(&buf[0])
	var out *C.VipsImage
	if C.pictor_load_as_is(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), &out) != 0 {
		return vipsErr("load as is")
	}
	im.replace(out)
	return nil
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

func colour(c imgurl.Color) C.PictorColour {
	return C.PictorColour{r: C.double(c.R), g: C.double(c.G), b: C.double(c.B), a: C.double(c.A)}
}

// random makes the image readable in any order. Sources are decoded
// sequentially (top to bottom, once), which streams with little memory but
// cannot serve operations that read rows out of order: rotation, vertical
// flips, attention cropping, trimming. Those first hold the image — usually
// already scaled down — in memory, once per transform.
func (im *vimage) random() error {
	if im.inMemory {
		return nil
	}
	if err := im.apply("copy", func(in *C.VipsImage, out **C.VipsImage) C.int { return C.pictor_copy_memory(in, out) }); err != nil {
		return err
	}
	im.inMemory = true
	return nil
}

func (im *vimage) resize(hscale, vscale float64) error {
	return im.apply("resize", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_resize(in, out, C.double(hscale), C.double(vscale))
	})
}

func (im *vimage) extract(r rect) error {
	return im.apply("extract", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_extract(in, out, C.int(r.left), C.int(r.top), C.int(r.width), C.int(r.height))
	})
}

func (im *vimage) smartcrop(width, height int) error {
	if err := im.random(); err != nil {
		return err
	}
	return im.apply("smartcrop", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_smartcrop(in, out, C.int(width), C.int(height))
	})
}

func (im *vimage) embed(c canvas, fill imgurl.Color) error {
	return im.apply("embed", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_embed(in, out, C.int(c.left), C.int(c.top), C.int(c.width), C.int(c.height), colour(fill))
	})
}

// rotate turns the image clockwise by degrees in [0, 360); angles that are
// not a multiple of 90 grow the canvas to the rotated bounding box, filled
// with fill.
func (im *vimage) rotate(degrees float64, fill imgurl.Color) error {
	if err := im.random(); err != nil {
		return err
	}
	return im.apply("rotate", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_rotate(in, out, C.double(degrees), colour(fill))
	})
}

func (im *vimage) flip(horizontal bool) error {
	if !horizontal {
		if err := im.random(); err != nil {
			return err
		}
	}
	return im.apply("flip", func(in *C.VipsImage, out **C.VipsImage) C.int { return C.pictor_flip(in, out, cbool(horizontal)) })
}

func (im *vimage) blur(sigma float64) error {
	return im.apply("blur", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_blur(in, out, C.double(sigma))
	})
}

type sharpenParams struct{ sigma, x1, y2, y3, m1, m2 float64 }

func (im *vimage) sharpen(p sharpenParams) error {
	return im.apply("sharpen", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_sharpen(in, out, C.double(p.sigma), C.double(p.x1), C.double(p.y2), C.double(p.y3), C.double(p.m1), C.double(p.m2))
	})
}

func (im *vimage) unsharp(u imgurl.USM) error {
	return im.apply("unsharp", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_unsharp(in, out, C.int(u.Radius), C.double(u.Sigma), C.double(u.Amount), C.double(u.Threshold))
	})
}

func (im *vimage) contrast(lowerPercent, upperPercent float64) error {
	return im.apply("contrast", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_contrast(in, out, C.double(lowerPercent), C.double(upperPercent))
	})
}

func (im *vimage) grayscale() error {
	return im.apply("grayscale", func(in *C.VipsImage, out **C.VipsImage) C.int { return C.pictor_grayscale(in, out) })
}

// findTrim returns the box that is not background; the image must be in
// memory (random), because the search and the crop both read it.
func (im *vimage) findTrim(threshold float64) (rect, error) {
	var l, t, w, h C.int
	if C.pictor_find_trim(im.ptr, C.double(threshold), &l, &t, &w, &h) != 0 {
		return rect{}, vipsErr("trim")
	}
	return rect{int(l), int(t), int(w), int(h)}, nil
}

func (im *vimage) frame(border int, c imgurl.Color, rx, ry float64) error {
	return im.apply("frame", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_frame(in, out, C.int(border), colour(c), C.double(rx), C.double(ry))
	})
}

func (im *vimage) background(c imgurl.Color) error {
	return im.apply("background", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_background(in, out, colour(c))
	})
}

func (im *vimage) opacity(factor float64) error {
	return im.apply("opacity", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_opacity(in, out, C.double(factor))
	})
}

// strip drops every metadata field, except the ICC profile when keepICC.
func (im *vimage) strip(keepICC bool) error {
	return im.apply("strip", func(in *C.VipsImage, out **C.VipsImage) C.int { return C.pictor_strip(in, out, cbool(keepICC)) })
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
