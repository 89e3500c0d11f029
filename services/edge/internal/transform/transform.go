// Package transform turns an original image into the variant a URL asks
// for, with libvips. It is the edge's only user of bimg and libvips.
//
// The first step decodes through libvips' thumbnail path (shrink-on-load,
// EXIF orientation, fail on truncation) and normalises what the loader
// delivers to 8-bit sRGB or grey with at most one alpha band (vips.c
// pictor_normalise); later operations and chained steps work on that, and
// the result is encoded once, so a chain never pays for a lossy round trip. Sources are checked against the pixel
// limit from their header before anything is decoded, untrusted loaders are
// blocked, a bounded worker pool keeps the CPU from being oversubscribed (a
// full queue answers 503) and a transform past its deadline is killed.
//
// Semantics that ImageKit leaves open are written down where they are
// implemented: plan.go (sizes, crops, padding), pipeline.go (the order of
// operations in a step, backgrounds, effects), transform.go (formats,
// metadata). Animated sources render their first frame only (imgproxy's
// default), but the pixel limit counts every frame.
package transform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"pictor/services/edge/internal/membudget"
	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

// Config holds the engine's limits.
type Config struct {
	MaxSourcePixels int64         // checked from the header (default 100 MP)
	Workers         int           // concurrent transforms (default 2 × cores)
	QueueLength     int           // transforms allowed to wait for a worker
	QueueWait       time.Duration // longest wait for a worker before 503
	Deadline        time.Duration // longest a transform may run before it is killed
	// Memory, when set, is the edge's memory budget: every transform
	// leases its estimated peak (footprint) before it decodes.
	Memory Memory
	// AVIFEffort is libvips' AV1 effort, 0 (fast) .. 9 (slow). 0 keeps a
	// 2000-px AVIF under a second on one core; higher settings cost 2–50×
	// the time without making files smaller (docs/benchmarks.md).
	AVIFEffort int
}

// Memory leases bytes from the edge's memory budget (membudget.Budget).
type Memory interface {
	Reserve(ctx context.Context, n int64) (*membudget.Lease, error)
}

// Engine runs transforms on a bounded pool.
type Engine struct {
	cfg      Config
	slots    chan struct{}
	waiting  atomic.Int64
	reserved atomic.Int64 // footprints of the transforms running now
	log      *slog.Logger
}

// New starts libvips (once per process) and returns an Engine.
func New(cfg Config, log *slog.Logger) *Engine {
	vipsLog.CompareAndSwap(nil, log)
	initVips()
	return &Engine{cfg: cfg, slots: make(chan struct{}, cfg.Workers), log: log}
}

// Request is one transform.
type Request struct {
	Source         []byte
	Transformation imgurl.Transformation
	// Format is the negotiated output: "jpeg", "png", "webp", "avif", "gif",
	// or "" for the source's own format.
	Format         string
	DefaultQuality int
	// Layers are the sources of the transformation's image layers by path
	// (imgurl.Transformation.LayerImages), fetched by the caller.
	Layers map[string][]byte
}

// Result is an encoded variant.
type Result struct {
	Body          []byte
	Format        string // jpeg, png, webp, avif, gif
	Width, Height int
	// Lease holds Body's bytes in the memory budget (nil without one):
	// what was reserved for the transform, trued down to the file. The
	// caller releases it once nothing reads Body any more.
	Lease *membudget.Lease
}

// ContentType returns the MIME type of the result.
func (r *Result) ContentType() string { return "image/" + r.Format }

// Reserved reports the memory reserved by the transforms running now,
// most of which libvips allocates as they go.
func (e *Engine) Reserved() int64 { return e.reserved.Load() }

// QueueDepth reports how many transforms wait for a worker.
func (e *Engine) QueueDepth() int64 { return e.waiting.Load() }

// Transform produces the variant described by req. On any error nothing is
// returned: a partial image is never handed out (or cached).
func (e *Engine) Transform(ctx context.Context, req Request) (*Result, error) {
	if err := e.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-e.slots }()

	if len(req.Source) == 0 {
		return nil, errkind.New(errkind.Unprocessable, "source_empty", "source image is empty")
	}
	if err := checkImplemented(req.Transformation); err != nil {
		return nil, err
	}
	hd, err := e.inspect(req.Source)
	if err != nil {
		return nil, err
	}
	if hd, err = e.selectPage(req.Source, hd, imgurl.PageOf(req.Transformation)); err != nil {
		return nil, err
	}
	srcW, srcH := hd.width, hd.height
	if hd.orientation >= 5 && hd.orientation <= 8 {
		srcW, srcH = srcH, srcW // EXIF says the stored image lies on its side
	}

	steps := req.Transformation.Steps
	if len(steps) == 0 {
		steps = []imgurl.Step{{}}
	}
	// Expressions and conditionals are bound as each step is reached, on
	// the image as it is then; the first is bound now, on the source, as
	// it is planned before decoding.
	src := imgurl.Vars{IW: srcW, IH: srcH, CW: srcW, CH: srcH}
	steps = append([]imgurl.Step(nil), steps...)
	if steps, err = imgurl.Unfold(steps, 0, src); err != nil {
		return nil, err
	}
	if steps[0], err = steps[0].Bind(src); err != nil {
		return nil, err
	}
	meta := metadataPolicy(steps)
	q, progressive, lossless := outputParams(steps)
	out, err := outputFormat(req.Format, RequestedFormat(req.Transformation), hd, lossless)
	if err != nil {
		return nil, err
	}
	env := stepEnv{outAlpha: formatHasAlpha(out), maxPixels: e.cfg.MaxSourcePixels, maxSide: imgurl.MaxSide,
		layers: req.Layers, inspect: e.inspect}
	layerBytes, err := e.layerFootprint(req, src)
	if err != nil {
		return nil, err
	}

	// The watchdog kills the evaluation once the deadline passes or the
	// caller gives up; libvips then fails the running operation. It is
	// armed before the first decode, which can be the slow part.
	deadline := e.cfg.Deadline
	if deadline <= 0 {
		deadline = 30 * time.Second
	}
	tctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	img := &vimage{}
	defer img.close()
	env.pin = &img.pin
	stop := context.AfterFunc(tctx, img.kill)
	defer stop()

	// The first step decodes straight to its target size (shrink-on-load),
	// unless it needs the source's own pixels first: trimming finds its box
	// on them, and the extract modes cut in source coordinates.
	first, err := planResize(srcW, srcH, steps[0])
	if err != nil {
		return nil, err
	}
	loadW, loadH := first.resizeW, first.resizeH
	planned := &first
	if first.region != nil || steps[0].Trim.Set || first.faceFit {
		// Trimming and fo-face look at the source's own pixels first.
		loadW, loadH, planned = srcW, srcH, nil
	}
	if err := env.checkSize(loadW, loadH); err != nil {
		return nil, err
	}
	// The transform's peak memory is leased before anything is decoded; a
	// busy edge waits a moment for it, then answers 503.
	lease, err := e.reserve(ctx, footprint{hd: hd, src: req.Source, loadW: loadW, loadH: loadH,
		steps: steps, firstPlanned: planned, out: out, vars: src, layers: layerBytes})
	if err != nil {
		return nil, err
	}
	n := lease.Held()
	e.reserved.Add(n)
	defer e.reserved.Add(-n)
	// On success the lease shrinks to the encoded file and goes with it.
	kept := false
	defer func() {
		if !kept {
			lease.Release()
		}
	}()
	// Colour-managed sources are converted to sRGB when their profile is
	// about to be stripped; with cp/md the profile travels with the
	// untouched pixels instead.
	if err := img.load(req.Source, loadW, loadH, hd.hasICC && meta == stripAll, hd.page); err != nil {
		return nil, runError(ctx, img, err)
	}
	// A chained if- block unfolds into its branch's steps as it is
	// reached, so the loop reads steps afresh each time round.
	for i := 0; i < len(steps); i++ {
		g, st := planned, steps[i]
		if i > 0 {
			g = nil
			cur := src
			cur.CW, cur.CH = img.width(), img.height()
			if steps, err = imgurl.Unfold(steps, i, cur); err != nil {
				return nil, err
			}
			if st, err = steps[i].Bind(cur); err != nil {
				return nil, err
			}
		}
		if err := runStep(img, st, g, env); err != nil {
			return nil, runError(ctx, img, err)
		}
	}

	if !formatHasAlpha(out) && img.hasAlpha() {
		if err := img.background(flattenColour(steps)); err != nil {
			return nil, runError(ctx, img, err)
		}
	}
	limit := imgurl.MaxSide
	if out == "webp" {
		limit = imgurl.MaxSideWebP
	}
	if img.width() > limit || img.height() > limit {
		return nil, errkind.New(errkind.Invalid, "output_too_large",
			fmt.Sprintf("output would be %d×%d, over the %d px limit for %s", img.width(), img.height(), limit, out))
	}
	// The fields are removed here rather than left to the savers' strip
	// option: libvips 8.14's WebP saver writes EXIF, XMP and ICC even when
	// told to strip.
	if meta != keepAll {
		if err := img.strip(meta == keepProfile); err != nil {
			return nil, runError(ctx, img, err)
		}
	}
	if q == 0 {
		q = req.DefaultQuality
	}
	if q == 0 {
		q = 80
	}
	body, err := img.save(saveOptions{
		format:    formatCode(out),
		quality:   q,
		effort:    e.cfg.AVIFEffort,
		strip:     meta == stripAll,
		interlace: progressive,
		lossless:  lossless,
	})
	if err != nil {
		return nil, runError(ctx, img, err)
	}
	if meta != keepAll {
		if body, err = dropMetadata(out, body, meta == keepProfile); err != nil {
			return nil, errkind.Wrap(errkind.Internal, "encoder_output", "the encoder produced an unexpected file", err)
		}
	}
	lease.Shrink(lease.Held() - int64(len(body)))
	kept = true
	return &Result{Body: body, Format: out, Width: img.width(), Height: img.height(), Lease: lease}, nil
}

// reserve leases f's bytes from the memory budget (none without one).
func (e *Engine) reserve(ctx context.Context, f footprint) (*membudget.Lease, error) {
	if e.cfg.Memory == nil {
		return nil, nil
	}
	return e.cfg.Memory.Reserve(ctx, f.bytes())
}

// inspect reads the source's header and refuses what will not be decoded:
// an unknown or untrusted format, more pixels than the limit, a pixel
// layout normalisation does not handle. The loader is named and checked
// against the allow-list before any decoder runs, so an untrusted format is
// refused by its name rather than by whatever libvips says when its loader
// is blocked.
func (e *Engine) inspect(src []byte) (header, error) {
	loader, err := findLoader(src)
	if err != nil {
		return header{}, errkind.Wrap(errkind.Unprocessable, "source_corrupt", "source image is corrupt or cannot be processed", err)
	}
	if err := allowedLoader(loader); err != nil {
		return header{}, err
	}
	hd, err := readHeader(src)
	if err != nil {
		return header{}, errkind.Wrap(errkind.Unprocessable, "source_corrupt", "source image is corrupt or cannot be processed", err)
	}
	// Animated and multi-page sources count every frame, although only the
	// first is rendered: the decoder still has to walk them.
	pages := int64(max(hd.pages, 1))
	if int64(hd.width)*int64(hd.height)*pages > e.cfg.MaxSourcePixels {
		size := fmt.Sprintf("%d×%d", hd.width, hd.height)
		if pages > 1 {
			size += fmt.Sprintf(" × %d frames", pages)
		}
		return header{}, errkind.New(errkind.Unprocessable, "source_too_many_pixels",
			fmt.Sprintf("source image is %s, over the limit of %s megapixels", size, megapixels(e.cfg.MaxSourcePixels)))
	}
	if !hd.supported {
		return header{}, errkind.New(errkind.Unprocessable, "source_pixel_format",
			fmt.Sprintf("source pixel format is not supported (%s)", hd.layout))
	}
	return hd, nil
}

// selectPage reads the header of page (pg-, 1-based; 0 when not asked) of a
// multi-page source: a frame of an animation, a page of a TIFF, an image
// of a HEIF. Without pg the first is rendered.
func (e *Engine) selectPage(src []byte, hd header, page int) (header, error) {
	if page <= 1 {
		return hd, nil
	}
	if page > max(hd.pages, 1) {
		return header{}, errkind.New(errkind.Invalid, "invalid_parameter",
			fmt.Sprintf("invalid value for transformation parameter \"pg\": the image has %d page(s), not %d", max(hd.pages, 1), page))
	}
	p, err := readPageHeader(src, page-1)
	if err != nil {
		return header{}, errkind.Wrap(errkind.Unprocessable, "source_corrupt", "source image is corrupt or cannot be processed", err)
	}
	// Pages of a TIFF may differ in size; the frames' sum was checked.
	if int64(p.width)*int64(p.height) > e.cfg.MaxSourcePixels {
		return header{}, errkind.New(errkind.Unprocessable, "source_too_many_pixels",
			fmt.Sprintf("page %d is %d×%d, over the limit of %s megapixels", page, p.width, p.height, megapixels(e.cfg.MaxSourcePixels)))
	}
	if !p.supported {
		return header{}, errkind.New(errkind.Unprocessable, "source_pixel_format",
			fmt.Sprintf("source pixel format is not supported (%s)", p.layout))
	}
	return p, nil
}

// outputParams reads the parameters that describe the encoded file rather
// than one step: q from the last step that sets it (as f), pr and lo from
// any step.
func outputParams(steps []imgurl.Step) (quality int, progressive, lossless bool) {
	for _, s := range steps {
		if s.Quality != 0 {
			quality = s.Quality
		}
		progressive = progressive || s.Progressive
		lossless = lossless || s.Lossless
	}
	return quality, progressive, lossless
}

// metadata is what survives into the output.
type metadata int

// What the savers add on their own is removed afterwards (dropMetadata).
const (
	stripAll    metadata = iota // default: no EXIF, XMP, IPTC, GPS or ICC; pixels converted to sRGB
	keepProfile                 // cp-true: only the ICC profile, pixels left in its colour space
	keepAll                     // md-true: everything the source carried
)

// metadataPolicy reads md/cp from any step: they describe the output file,
// not one step of the chain. EXIF orientation is applied to the pixels in
// every case (and the tag reset), so rt-auto is what Pictor always does.
func metadataPolicy(steps []imgurl.Step) metadata {
	m := stripAll
	for _, s := range steps {
		switch {
		case s.KeepMetadata:
			return keepAll
		case s.KeepCopyright:
			m = keepProfile
		}
	}
	return m
}

// flattenColour is what a JPEG shows where the image is transparent: the
// last bg of the chain, made opaque, or white.
func flattenColour(steps []imgurl.Step) imgurl.Color {
	for i := len(steps) - 1; i >= 0; i-- {
		if bg := steps[i].Background; bg != nil {
			c := *bg
			c.A = 255
			return c
		}
	}
	return imgurl.Color{R: 255, G: 255, B: 255, A: 255}
}

func formatHasAlpha(f string) bool { return f != "jpeg" }

// acquire waits for a worker, refusing at once when the queue is full.
func (e *Engine) acquire(ctx context.Context) error {
	select {
	case e.slots <- struct{}{}:
		return nil
	default:
	}
	if e.waiting.Add(1) > int64(e.cfg.QueueLength) {
		e.waiting.Add(-1)
		return errkind.New(errkind.Unavailable, "transform_queue_full", "too many images being processed, retry shortly")
	}
	defer e.waiting.Add(-1)
	t := time.NewTimer(e.cfg.QueueWait)
	defer t.Stop()
	select {
	case e.slots <- struct{}{}:
		return nil
	case <-t.C:
		return errkind.New(errkind.Unavailable, "transform_queue_timeout", "too many images being processed, retry shortly")
	case <-ctx.Done():
		return errkind.Wrap(errkind.Unavailable, "canceled", "request canceled", ctx.Err())
	}
}

// runError maps a failure during processing, from facts the engine holds
// itself, never from libvips' text: our own checks keep their kind (a
// geometry the URL asks for that this image cannot give); a killed run is
// a timeout or a cancellation the client may retry (503); a pixel layout
// pictor refused is a source it does not process; any other failed call
// is a source libvips cannot process (422).
func runError(ctx context.Context, img *vimage, err error) error {
	if errkind.Of(err) != nil {
		return err
	}
	if img.wasKilled() {
		if ctx.Err() != nil {
			return errkind.Wrap(errkind.Unavailable, "canceled", "request canceled", err)
		}
		return errkind.Wrap(errkind.Unavailable, "transform_deadline", "image processing took too long, retry later", err)
	}
	var ce *callError
	if errors.As(err, &ce) && ce.layout {
		return errkind.Wrap(errkind.Unprocessable, "source_pixel_format", "source pixel format is not supported", err)
	}
	return errkind.Wrap(errkind.Unprocessable, "source_corrupt", "source image is corrupt or cannot be processed", err)
}

// trustedLoaders are the decoders Pictor runs on bytes from the internet.
// libvips' untrusted loaders are blocked as well; this list also keeps out
// formats that are trusted by libvips but have no business in an image CDN.
var trustedLoaders = map[string]bool{
	"jpegload_buffer": true, "pngload_buffer": true, "webpload_buffer": true,
	"gifload_buffer": true, "heifload_buffer": true, "tiffload_buffer": true,
}

func allowedLoader(loader string) error {
	if trustedLoaders[loader] {
		return nil
	}
	name := strings.TrimSuffix(strings.TrimSuffix(loader, "_buffer"), "_source")
	return errkind.New(errkind.Unprocessable, "source_format_blocked",
		fmt.Sprintf("source format is not accepted (%s)", strings.TrimSuffix(name, "load")))
}

func formatCode(f string) int {
	switch f {
	case "png":
		return fmtPNG
	case "webp":
		return fmtWebP
	case "avif":
		return fmtAVIF
	case "gif":
		return fmtGIF
	}
	return fmtJPEG
}

// outputFormat resolves "" (the source's format) against the source:
// formats Pictor does not encode become PNG when they carry alpha, JPEG
// otherwise. lo-true asks for a lossless file: JPEG and GIF (a 256-colour
// palette) cannot be one, so a format chosen by Pictor becomes PNG instead,
// and an explicit f-jpg, f-gif or f-orig that would be one is refused.
func outputFormat(negotiated, requested string, hd header, lossless bool) (string, error) {
	out := negotiated
	if out == "" {
		switch hd.loader {
		case "jpegload_buffer":
			out = "jpeg"
		case "pngload_buffer":
			out = "png"
		case "webpload_buffer":
			out = "webp"
		case "gifload_buffer":
			out = "gif"
		default:
			out = "jpeg"
			if hd.hasAlpha {
				out = "png"
			}
		}
	}
	if lossless && (out == "jpeg" || out == "gif") {
		switch requested {
		case "jpg", "gif", "orig":
			return "", errkind.New(errkind.Unsupported, "unsupported_parameter",
				fmt.Sprintf("lo-true cannot be rendered as %s, which is a lossy format; use f-png, f-webp or f-avif", out))
		}
		out = "png"
	}
	return out, nil
}

// megapixels prints a pixel count in megapixels, with decimals below ten
// (a limit of 10,000 pixels is "0.01", not "0").
func megapixels(n int64) string {
	if n >= 10_000_000 {
		return strconv.FormatInt(n/1_000_000, 10)
	}
	return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64)
}
