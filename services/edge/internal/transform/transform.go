// Package transform turns an original image into the variant a URL asks
// for, with libvips. It is the edge's only user of bimg and libvips.
//
// The first step decodes through libvips' thumbnail path (shrink-on-load,
// EXIF orientation, fail on truncation); later operations and chained steps
// work on the decoded image, and the result is encoded once. Sources are
// checked against the pixel limit from their header before anything is
// decoded, untrusted loaders are blocked, and a bounded worker pool keeps
// the CPU from being oversubscribed: a full queue answers 503.
package transform

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

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
	AVIFEffort      int           // 0 (fast) .. 9 (slow)
}

// Engine runs transforms on a bounded pool.
type Engine struct {
	cfg     Config
	slots   chan struct{}
	waiting atomic.Int64
	log     *slog.Logger
}

// New starts libvips (once per process) and returns an Engine.
func New(cfg Config, log *slog.Logger) *Engine {
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
}

// Result is an encoded variant.
type Result struct {
	Body          []byte
	Format        string // jpeg, png, webp, avif, gif
	Width, Height int
}

// ContentType returns the MIME type of the result.
func (r *Result) ContentType() string { return "image/" + r.Format }

// QueueDepth reports how many transforms wait for a worker.
func (e *Engine) QueueDepth() int64 { return e.waiting.Load() }

// Transform produces the variant described by req.
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
	hd, err := readHeader(req.Source)
	if err != nil {
		return nil, sourceError(hd.loader, err)
	}
	if err := allowedLoader(hd.loader); err != nil {
		return nil, err
	}
	if int64(hd.width)*int64(hd.height) > e.cfg.MaxSourcePixels {
		return nil, errkind.New(errkind.Unprocessable, "source_too_many_pixels",
			fmt.Sprintf("source image is %d×%d, over the limit of %d megapixels", hd.width, hd.height, e.cfg.MaxSourcePixels/1_000_000))
	}
	srcW, srcH := hd.width, hd.height
	if hd.orientation >= 5 && hd.orientation <= 8 {
		srcW, srcH = srcH, srcW // EXIF says the stored image lies on its side
	}

	out, err := outputFormat(req.Format, hd)
	if err != nil {
		return nil, err
	}
	steps := req.Transformation.Steps
	if len(steps) == 0 {
		steps = []imgurl.Step{{}}
	}

	first, err := planResize(srcW, srcH, steps[0], out)
	if err != nil {
		return nil, err
	}
	img, err := thumbnail(req.Source, first.resizeW, first.resizeH, first.attention)
	if err != nil {
		return nil, sourceError(hd.loader, err)
	}
	defer img.close()

	// The watchdog kills the evaluation once the deadline passes or the
	// caller gives up; libvips then fails the running operation.
	deadline := e.cfg.Deadline
	if deadline <= 0 {
		deadline = 30 * time.Second
	}
	tctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	stop := context.AfterFunc(tctx, img.kill)
	defer stop()

	if err := applyAfterResize(img, first, steps[0]); err != nil {
		return nil, e.runError(tctx, err)
	}
	for _, st := range steps[1:] {
		p, err := planResize(img.width(), img.height(), st, out)
		if err != nil {
			return nil, err
		}
		if p.resizeW != img.width() || p.resizeH != img.height() {
			if err := img.resize(float64(p.resizeW)/float64(img.width()), float64(p.resizeH)/float64(img.height())); err != nil {
				return nil, e.runError(tctx, err)
			}
		}
		if err := applyAfterResize(img, p, st); err != nil {
			return nil, e.runError(tctx, err)
		}
	}

	last := steps[len(steps)-1]
	if out == "jpeg" && img.hasAlpha() {
		bg := imgurl.Color{R: 255, G: 255, B: 255, A: 255}
		if err := img.flatten(bg.R, bg.G, bg.B); err != nil {
			return nil, e.runError(tctx, err)
		}
	}
	if err := checkOutputSize(img.width(), img.height(), out); err != nil {
		return nil, err
	}
	q := last.Quality
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
		strip:     !keepMetadata(steps),
		interlace: last.Progressive,
		lossless:  last.Lossless,
	})
	if err != nil {
		return nil, e.runError(tctx, err)
	}
	return &Result{Body: body, Format: out, Width: img.width(), Height: img.height()}, nil
}

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

// runError maps a failure during processing: a killed run is a timeout the
// client may retry (503); anything else is a source libvips cannot process.
func (e *Engine) runError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errkind.Wrap(errkind.Unavailable, "transform_deadline", "image processing took too long, retry later", err)
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
	return errkind.New(errkind.Unprocessable, "source_format_blocked",
		fmt.Sprintf("source format is not accepted (%s)", strings.TrimSuffix(loader, "load_buffer")))
}

func sourceError(loader string, err error) error {
	if loader != "" && !trustedLoaders[loader] {
		return allowedLoader(loader)
	}
	if strings.Contains(err.Error(), "blocked") {
		return errkind.Wrap(errkind.Unprocessable, "source_format_blocked", "source format is not accepted", err)
	}
	return errkind.Wrap(errkind.Unprocessable, "source_corrupt", "source image is corrupt or cannot be processed", err)
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

// outputFormat resolves "" (the source's format) against the source: formats
// Pictor does not encode become PNG when they carry alpha, JPEG otherwise.
func outputFormat(negotiated string, hd header) (string, error) {
	if negotiated != "" {
		return negotiated, nil
	}
	switch hd.loader {
	case "jpegload_buffer":
		return "jpeg", nil
	case "pngload_buffer":
		return "png", nil
	case "webpload_buffer":
		return "webp", nil
	case "gifload_buffer":
		return "gif", nil
	}
	if hd.hasAlpha {
		return "png", nil
	}
	return "jpeg", nil
}

func checkOutputSize(w, h int, format string) error {
	limit := imgurl.MaxSide
	if format == "webp" {
		limit = imgurl.MaxSideWebP
	}
	if w > limit || h > limit {
		return errkind.New(errkind.Invalid, "output_too_large",
			fmt.Sprintf("output would be %d×%d, over the %d px limit for %s", w, h, limit, format))
	}
	return nil
}

func keepMetadata(steps []imgurl.Step) bool {
	for _, s := range steps {
		if s.KeepMetadata {
			return true
		}
	}
	return false
}
