package transform

/*
#cgo pkg-config: vips
#cgo LDFLAGS: -lm
#include "vips.h"
*/
import "C"

import (
	"fmt"
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
// warnings go to the Go logger rather than stderr. Orc, the run-time SIMD
// compiler libvips uses for resampling and convolution, is off: with Debian
// 12's orc 0.4.33 and libvips 8.14, transforms running at once crash the
// process now and then (SIGSEGV in g_object_unref or in
// orc_code_allocate_codemem; TestConcurrentTransformsDoNotCrash), as
// imgproxy found too. Resampling without it costs little next to decoding.
func initVips() {
	initOnce.Do(func() {
		bimg.Initialize()
		C.pictor_route_logs()
		C.vips_block_untrusted_set(C.TRUE)
		C.vips_cache_set_max(0)
		C.vips_cache_set_max_mem(0)
		C.vips_concurrency_set(1)
		C.pictor_vector_off()
	})
}

// vectorEnabled reports whether libvips runs orc-compiled SIMD code.
func vectorEnabled() bool { return C.pictor_vector_enabled() != 0 }

// callError is a failed call into vips.c. What the engine makes of it
// depends only on which call failed (op) and how (layout: pictor's own
// check refused the pixel layout); detail is text for the log alone.
type callError struct {
	op     string
	layout bool
	detail string
}

func (e *callError) Error() string { return e.op + ": " + e.detail }

// callErr describes a failed call: rc is the pictor_ return code, im the
// image the call was given (nil when there was none). A layout refusal is
// described from the image itself, so its text belongs to this call.
func callErr(op string, rc C.int, im *C.VipsImage) error {
	if rc == C.PICTOR_ELAYOUT {
		return &callError{op: op, layout: true, detail: "pixel layout not handled: " + describe(im)}
	}
	return &callError{op: op, detail: "libvips error buffer: " + vipsText()}
}

// vipsText takes libvips' error text for the log. It cannot be had per
// call: in libvips 8.14 (iofuncs/error.c) vips_error appends to one static
// process-wide buffer under a global lock, from whichever thread fails
// (evaluation errors come from worker threads), and vips_error_buffer_copy
// returns and clears all of it. There is no hook, callback or per-thread
// or per-operation buffer, and vips_error_freeze is process-wide too. So a
// failure may find text from concurrent calls, or none because another
// failure took it first. That is why this text only ever goes into a log
// line: which call failed, and the engine's own checks, decide the error's
// kind, and clients see errkind's safe messages.
func vipsText() string {
	p := C.pictor_error()
	defer C.free(unsafe.Pointer(p))
	msg := strings.TrimSpace(C.GoString(p))
	if msg == "" {
		msg = "(empty)"
	}
	return msg
}

// describe names an image's layout for the log: "6 bands, uchar, srgb".
func describe(im *C.VipsImage) string {
	if im == nil {
		return "no image"
	}
	return layoutText(int(im.Bands),
		C.GoString(C.vips_enum_nick(C.vips_band_format_get_type(), C.int(im.BandFmt))),
		C.GoString(C.vips_enum_nick(C.vips_interpretation_get_type(), C.int(im.Type))),
		C.GoString(C.vips_enum_nick(C.vips_coding_get_type(), C.int(im.Coding))))
}

func layoutText(bands int, format, interpretation, coding string) string {
	s := fmt.Sprintf("%d bands, %s, %s", bands, format, interpretation)
	if coding != "none" {
		s += ", coded " + coding
	}
	return s
}

type header struct {
	width, height, pages, orientation int
	hasICC                            bool
	// hasAlpha says whether the image has alpha once normalised (it is
	// the same rule), which is what the output format is chosen for.
	hasAlpha bool
	// supported says normalisation can bring the pixels to the pipeline's
	// layout; layout describes them as the loader delivers them.
	supported bool
	layout    string
	loader    string
	page      int // the page read (0-based), which load decodes too
}

// findLoader names the libvips loader that would open buf ("jpegload_buffer")
// without running it, so the allow-list is checked before any decoder sees
// the bytes.
func findLoader(buf []byte) (string, error) {
	var loader *C.char
	rc := C.pictor_find_loader(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), &loader)
	runtime.KeepAlive(buf)
	if rc != C.PICTOR_OK {
		return "", callErr("find loader", rc, nil)
	}
	return C.GoString(loader), nil
}

// readHeader reads dimensions and layout without decoding pixels, so a
// pixel bomb or an unsupported layout is refused before it costs memory.
// It runs buf's loader: check the loader first (findLoader).
func readHeader(buf []byte) (header, error) { return readPageHeader(buf, 0) }

// readPageHeader is readHeader for one page (0-based) of a multi-page
// source.
func readPageHeader(buf []byte, page int) (header, error) {
	loader, err := findLoader(buf)
	if err != nil {
		return header{}, err
	}
	var h C.PictorHeader
	rc := C.pictor_header(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), C.int(page), &h)
	runtime.KeepAlive(buf)
	if rc != C.PICTOR_OK {
		return header{}, callErr("header", rc, nil)
	}
	return header{
		width: int(h.width), height: int(h.height), pages: int(h.pages), orientation: int(h.orientation),
		hasICC: h.has_icc != 0, hasAlpha: h.has_alpha != 0, supported: h.supported != 0,
		layout: layoutText(int(h.bands), C.GoString(h.format), C.GoString(h.interpretation), C.GoString(h.coding)),
		loader: loader, page: page,
	}, nil
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

// wasKilled reports whether the watchdog killed the evaluation: a failure
// after that is the kill, whatever libvips wrote about it.
func (im *vimage) wasKilled() bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.killed
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
// applied) and normalises it to 8-bit sRGB or grey with at most one alpha
// band, in one C call; toSRGB converts through the source's embedded ICC
// profile.
func (im *vimage) load(buf []byte, width, height int, toSRGB bool, page int) error {
	return im.loadPage(&im.pin, buf, width, height, toSRGB, page)
}

// loadPinned is load with buf pinned by pin: a layer's source is pinned by
// the image it is drawn on, whose pipeline reads it until the end.
func (im *vimage) loadPinned(pin *runtime.Pinner, buf []byte, width, height int, toSRGB bool) error {
	return im.loadPage(pin, buf, width, height, toSRGB, 0)
}

// loadPage is loadPinned for one page (0-based) of a multi-page source.
func (im *vimage) loadPage(pin *runtime.Pinner, buf []byte, width, height int, toSRGB bool, page int) error {
	pin.Pin(&buf[0])
	var out *C.VipsImage
	if rc := C.pictor_load(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), &out, C.int(width), C.int(height), cbool(toSRGB), C.int(page)); rc != C.PICTOR_OK {
		return callErr("load", rc, nil)
	}
	im.replace(out)
	return nil
}

// loadAsIs decodes buf without normalising it (see pictor_load_as_is): a
// test hook, so the C operations' own guards can be checked on layouts
// that load never lets through.
func (im *vimage) loadAsIs(buf []byte) error {
	im.pin.Pin(&buf[0])
	var out *C.VipsImage
	if rc := C.pictor_load_as_is(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), &out); rc != C.PICTOR_OK {
		return callErr("load as is", rc, nil)
	}
	im.replace(out)
	return nil
}

// apply runs one operation and swaps its output in.
func (im *vimage) apply(op string, f func(in *C.VipsImage, out **C.VipsImage) C.int) error {
	var out *C.VipsImage
	if rc := f(im.ptr, &out); rc != C.PICTOR_OK {
		return callErr(op, rc, im.ptr)
	}
	im.replace(out)
	return nil
}

// newSolid is a width×height image of colour c.
func newSolid(width, height int, c imgurl.Color) (*vimage, error) {
	im := &vimage{}
	var out *C.VipsImage
	if rc := C.pictor_solid(C.int(width), C.int(height), colour(c), &out); rc != C.PICTOR_OK {
		return nil, callErr("solid", rc, nil)
	}
	im.replace(out)
	return im, nil
}

// textOptions are pictor_text's arguments.
type textOptions struct {
	markup, font             string
	width, align, spacing    int
	fg, bg                   imgurl.Color
	top, right, bottom, left int
	fontfile                 string // a tenant's font file, or ""
}

// newText renders o.markup (see pictor_text).
func newText(o textOptions) (*vimage, error) {
	markup, font := C.CString(o.markup), C.CString(o.font)
	defer C.free(unsafe.Pointer(markup))
	defer C.free(unsafe.Pointer(font))
	var fontfile *C.char
	if o.fontfile != "" {
		fontfile = C.CString(o.fontfile)
		defer C.free(unsafe.Pointer(fontfile))
	}
	pad := (*C.int)(C.malloc(C.size_t(4 * C.sizeof_int)))
	defer C.free(unsafe.Pointer(pad))
	p := unsafe.Slice(pad, 4)
	p[0], p[1], p[2], p[3] = C.int(o.top), C.int(o.right), C.int(o.bottom), C.int(o.left)
	im := &vimage{}
	var out *C.VipsImage
	if rc := C.pictor_text(markup, font, fontfile, C.int(o.width), C.int(o.align), C.int(o.spacing), colour(o.fg), colour(o.bg), pad, &out); rc != C.PICTOR_OK {
		return nil, callErr("text", rc, nil)
	}
	im.replace(out)
	return im, nil
}

// composite draws layer over im at (x, y) blended by mode (see
// pictor_composite).
func (im *vimage) composite(layer *vimage, mode, x, y int) error {
	return im.apply("composite", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_composite(in, layer.ptr, out, C.int(mode), C.int(x), C.int(y))
	})
}

// greyThumb is the image scaled to at most maxSide pixels a side, as 8-bit
// grey pixels, for face detection.
func (im *vimage) greyThumb(maxSide int) ([]byte, int, int, error) {
	var buf unsafe.Pointer
	var w, h C.int
	if rc := C.pictor_grey_thumb(im.ptr, C.int(maxSide), &buf, &w, &h); rc != C.PICTOR_OK {
		return nil, 0, 0, callErr("grey thumbnail", rc, im.ptr)
	}
	defer C.g_free(C.gpointer(buf))
	return C.GoBytes(buf, w*h), int(w), int(h), nil
}

func (im *vimage) shadow(sigma, opacity float64, dx, dy int) error {
	return im.apply("shadow", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_shadow(in, out, C.double(sigma), C.double(opacity), C.int(dx), C.int(dy))
	})
}

func (im *vimage) gradient(dx, dy, stop float64, from, to imgurl.Color) error {
	return im.apply("gradient", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_gradient(in, out, C.double(dx), C.double(dy), C.double(stop), colour(from), colour(to))
	})
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
	if rc := C.pictor_find_trim(im.ptr, C.double(threshold), &l, &t, &w, &h); rc != C.PICTOR_OK {
		return rect{}, callErr("trim", rc, im.ptr)
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

// liveObjects counts libvips objects alive in the process. The engine
// never needs it: tests compare it before and after transforms to catch a
// reference the C code forgets to drop, as ASan catches one dropped twice.
func liveObjects() int { return int(C.pictor_live_objects()) }

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
	if rc != C.PICTOR_OK {
		return nil, callErr("save", rc, im.ptr)
	}
	defer C.g_free(C.gpointer(buf))
	return C.GoBytes(buf, C.int(n)), nil
}

// perspective maps the image through m (see pictor_perspective).
func (im *vimage) perspective(m [9]float64) error {
	return im.apply("perspective", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_perspective(in, out, (*C.double)(unsafe.Pointer(&m[0])))
	})
}

// arc bends the image (see pictor_arc and arcGeometry).
func (im *vimage) arc(g arcGeometry) error {
	up := C.int(0)
	if g.up {
		up = 1
	}
	return im.apply("arc", func(in *C.VipsImage, out **C.VipsImage) C.int {
		return C.pictor_arc(in, out, C.int(g.width), C.int(g.height), C.double(g.cx), C.double(g.cy),
			up, C.double(g.rIn), C.double(g.rOut), C.double(g.degrees))
	})
}
