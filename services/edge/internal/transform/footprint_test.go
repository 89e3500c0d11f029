package transform

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"pictor/services/edge/internal/membudget"
	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

// footprintOf is the engine's estimate for src under tr, planned the way
// Transform plans it.
func footprintOf(t *testing.T, src []byte, tr, out string) int64 {
	t.Helper()
	hd, err := readHeader(src)
	if err != nil {
		t.Fatal(err)
	}
	steps := mustParse(t, tr).Steps
	vars := imgurl.Vars{IW: hd.width, IH: hd.height, CW: hd.width, CH: hd.height}
	if steps, err = imgurl.Unfold(steps, 0, vars); err != nil {
		t.Fatal(err)
	}
	if steps[0], err = steps[0].Bind(vars); err != nil {
		t.Fatal(err)
	}
	first, err := planResize(hd.width, hd.height, steps[0])
	if err != nil {
		t.Fatal(err)
	}
	loadW, loadH, planned := first.resizeW, first.resizeH, &first
	if first.region != nil || steps[0].Trim.Set || first.faceFit {
		loadW, loadH, planned = hd.width, hd.height, nil
	}
	return footprint{hd: hd, src: src, loadW: loadW, loadH: loadH, steps: steps, firstPlanned: planned, out: out, vars: vars}.bytes()
}

// The estimate grows with what a pipeline really holds: bigger outputs,
// whole-image operations, whole-frame encoders and decoders.
func TestFootprintOrdering(t *testing.T) {
	jpg := photoJPEG(t, 2000, 1500)
	progressive := transformTo(t, jpg, "pr-true", "jpeg")
	cases := []struct {
		name    string
		smaller func() int64
		larger  func() int64
	}{
		{"a larger output", func() int64 { return footprintOf(t, jpg, "w-200", "jpeg") }, func() int64 { return footprintOf(t, jpg, "w-1800", "jpeg") }},
		{"WebP holds the whole output", func() int64 { return footprintOf(t, jpg, "w-1800", "jpeg") }, func() int64 { return footprintOf(t, jpg, "w-1800", "webp") }},
		{"AVIF holds the whole output", func() int64 { return footprintOf(t, jpg, "w-1800", "jpeg") }, func() int64 { return footprintOf(t, jpg, "w-1800", "avif") }},
		{"a vertical flip holds the whole image", func() int64 { return footprintOf(t, jpg, "w-1800", "jpeg") }, func() int64 { return footprintOf(t, jpg, "w-1800,fl-v", "jpeg") }},
		{"rotation grows the canvas", func() int64 { return footprintOf(t, jpg, "w-1800,rt-90", "jpeg") }, func() int64 { return footprintOf(t, jpg, "w-1800,rt-30", "jpeg") }},
		{"trim decodes at full size", func() int64 { return footprintOf(t, jpg, "w-100", "jpeg") }, func() int64 { return footprintOf(t, jpg, "t-true,w-100", "jpeg") }},
		{"a chained upscale", func() int64 { return footprintOf(t, jpg, "w-100", "jpeg") }, func() int64 { return footprintOf(t, jpg, "w-100:w-1900", "png") }},
		{"an upscale by expression", func() int64 { return footprintOf(t, jpg, "w-100:w-200", "png") }, func() int64 { return footprintOf(t, jpg, "w-100:w-cw_mul_19", "png") }},
		{"an upscale in a conditional", func() int64 { return footprintOf(t, jpg, "w-100:w-200", "png") }, func() int64 { return footprintOf(t, jpg, "w-100:if-cw_lt_200,w-1900,if-end", "png") }},
		{"an upscale in a chained conditional", func() int64 { return footprintOf(t, jpg, "w-100:w-200", "png") }, func() int64 { return footprintOf(t, jpg, "w-100:if-cw_lt_200,rt-90:w-1900,if-end", "png") }},
		{"a chained conditional at the start", func() int64 { return footprintOf(t, jpg, "w-100", "png") }, func() int64 { return footprintOf(t, jpg, "if-iw_gt_1,w-100:w-1900,if-end", "png") }},
		{"an arc grows the canvas", func() int64 { return footprintOf(t, jpg, "w-1000", "png") }, func() int64 { return footprintOf(t, jpg, "w-1000,e-distort-a-300", "png") }},
		{"a perspective holds the whole image", func() int64 { return footprintOf(t, jpg, "w-1800", "jpeg") }, func() int64 { return footprintOf(t, jpg, "w-1800,e-distort-p-10_0_1800_0_1800_1350_0_1350", "jpeg") }},
		{"a rotation in a conditional", func() int64 { return footprintOf(t, jpg, "w-1800,rt-90", "jpeg") }, func() int64 { return footprintOf(t, jpg, "w-1800:if-iw_gt_1,rt-30,if-end", "jpeg") }},
		// libjpeg keeps every coefficient of a progressive JPEG at full
		// size (2 bytes each, 4:2:0 here: 1.5 samples a pixel).
		{"progressive JPEG", func() int64 { return footprintOf(t, jpg, "w-100", "jpeg") }, func() int64 { return footprintOf(t, progressive, "w-100", "jpeg") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if s, l := tc.smaller(), tc.larger(); l <= s {
				t.Fatalf("estimate %d should exceed %d", l, s)
			}
		})
	}
	if got, want := progressiveJPEGCoefficients(progressive), int64(2000*1500*2*3/2); got < want || got > want*11/10 {
		t.Fatalf("progressive coefficients %d, want about %d", got, want)
	}
	if progressiveJPEGCoefficients(jpg) != 0 {
		t.Fatal("a baseline JPEG counted as progressive")
	}
}

func transformTo(t *testing.T, src []byte, tr, format string) []byte {
	t.Helper()
	res, err := testEngine().Transform(context.Background(), Request{Source: src, Transformation: mustParse(t, tr), Format: format})
	if err != nil {
		t.Fatal(err)
	}
	return res.Body
}

func TestInterlacedPNG(t *testing.T) {
	png := alphaPNG(t, 20, 10)
	if interlacedPNG(png) {
		t.Fatal("Go's PNG encoder writes no interlaced files")
	}
	adam7 := append([]byte(nil), png...)
	adam7[28] = 1
	if !interlacedPNG(adam7) || interlacedPNG(nil) || interlacedPNG([]byte("GIF89a")) {
		t.Fatal("interlace flag misread")
	}
}

// A transform leases its footprint before decoding and gives it back after;
// one that can never fit is refused with 422, one that has to wait too long
// for a busy budget with 503.
func TestTransformLeasesMemory(t *testing.T) {
	src := photoJPEG(t, 800, 600)
	need := footprintOf(t, src, "w-700", "webp")
	newEngine := func(b *membudget.Budget) *Engine {
		return New(Config{MaxSourcePixels: 1e8, Workers: 2, QueueLength: 4, QueueWait: time.Second, Deadline: 10 * time.Second, Memory: b},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	run := func(e *Engine) (*Result, error) {
		return e.Transform(context.Background(), Request{Source: src, Transformation: mustParse(t, "w-700"), Format: "webp"})
	}

	roomy := membudget.New(need*2, 50*time.Millisecond)
	res, err := run(newEngine(roomy))
	if err != nil {
		t.Fatal(err)
	}
	// What stays leased is the file, until the caller lets go of it.
	if roomy.Peak() != need || roomy.InUse() != int64(len(res.Body)) || res.Lease.Held() != int64(len(res.Body)) {
		t.Fatalf("leased %d at peak and %d after; want %d then the file's %d", roomy.Peak(), roomy.InUse(), need, len(res.Body))
	}
	res.Lease.Release()
	if roomy.InUse() != 0 {
		t.Fatalf("%d leased after the release", roomy.InUse())
	}

	tiny := membudget.New(need-1, 50*time.Millisecond)
	if _, err := run(newEngine(tiny)); errkind.KindOf(err) != errkind.Unprocessable || errkind.Reason(err) != "memory_over_budget" {
		t.Fatalf("footprint over the whole budget: %v, want 422 memory_over_budget", err)
	}

	busy := membudget.New(need, 50*time.Millisecond)
	held, _ := busy.Reserve(context.Background(), 1)
	defer held.Release()
	if _, err := run(newEngine(busy)); errkind.KindOf(err) != errkind.Unavailable || errkind.Reason(err) != "memory_budget_spent" {
		t.Fatalf("budget spent: %v, want 503 memory_budget_spent", err)
	}
}
