package main

// The -bimg comparison (issue 14, item 5): for each operation the engine
// performs and bimg can express, the engine's Transform and bimg.Resize do
// the same job on the same source in the same process, alternately, so
// whatever else the machine is doing falls on both sides alike. The
// decision rule is the issue's: bimg replaces our code for an operation
// only where it is within 5 % of ours and does the same job. A ratio
// between two different jobs decides nothing, so the program checks the
// job as well as timing it:
//
//   - per operation, both outputs are compared before anything is timed:
//     format, dimensions, metadata left in the file, how far the pixels
//     differ, and whether the output stays the same while the Go GC runs
//     (memory C reads after Go has let go of it shows up only then);
//   - the resampling, where bimg shrinks more before its Lanczos step than
//     libvips' thumbnail does, is compared against an exact Lanczos-3
//     reduction of the fully decoded source, losslessly on both sides;
//   - a synthetic alpha edge shows premultiplied against straight
//     resizing, which the sample wallpaper barely exercises;
//   - a truncated source shows what each side does with a cut-off upload.
//
// What cannot be measured is written down as a gap instead, from bimg
// 1.1.9's source (resizer.go): bimg owns the VipsImage for the whole
// call, so the engine's deadline watchdog (vips_image_set_kill) has
// nothing to kill.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"pictor/services/edge/internal/benchkit"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/h2non/bimg"

	"pictor/services/edge/internal/transform"
	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

// bimgCase is one operation done both ways.
type bimgCase struct {
	name   string
	src    string // file in the work directory
	tr     string // the engine's transformation
	format string // the engine's output format
	opts   bimg.Options
	// gaps are what bimg does differently, read from its source and
	// confirmed by the checks, that the per-case output comparison alone
	// would not explain: keys of gapText.
	gaps []string
}

var white = bimg.Color{R: 255, G: 255, B: 255}

// bimgOpts is bimg's side of the engine's defaults: quality 80 and every
// metadata field stripped. The sources carry no ICC profile, so neither
// side converts colour.
func bimgOpts(t bimg.ImageType, f func(*bimg.Options)) bimg.Options {
	o := bimg.Options{Type: t, Quality: 80, StripMetadata: true}
	if f != nil {
		f(&o)
	}
	return o
}

// gapText explains the short labels the decision column uses. The
// resampling chains are libvips 8.14's thumbnail (what the engine loads
// with) and bimg 1.1.9's resizer.go; the resampling check measures what
// they cost in accuracy.
var gapText = map[string]string{
	"resample/8":      "coarser resampling: bimg shrinks on load by 8 where libvips' thumbnail stops at 4 and leaves the rest to Lanczos-3",
	"resample/box":    "coarser resampling: after the same ×2 shrink-on-load, bimg box-shrinks ×2 more where libvips' thumbnail uses Lanczos-3 for the rest",
	"resample/4":      "coarser resampling: bimg shrinks on load by 4 where libvips' thumbnail stops at 2",
	"resample/affine": "coarser resampling: bimg shrinks on load by 2, box-shrinks by 2 and interpolates the rest (bicubic affine, one axis being enlarged); the engine decodes in full (the smaller factor, 3.75, is under 4) and uses Lanczos-3",
	"turn-first":      "bimg turns the full-size source, encodes it as a Q100 JPEG and decodes that again before resizing: an extra lossy generation, a full-size decode and encode",
	"freed-buffer":    "that Q100 JPEG is a Go slice bimg stops referencing while libvips still reads it: after a GC the output is garbage or an error (the GC check)",
	"crop-offset":     "bimg centres the crop at (slack + 1) / 2 where the engine uses slack / 2: with an odd slack (533 − 400 here) the picture sits one pixel to the side; shifted back, the diff falls to about 5",
	"sigma":           "bimg cannot set the sharpening sigma: it runs at libvips' 0.5, e-sharpen at 0.75",
	"straight-alpha":  "bimg resizes straight alpha: the colour of transparent pixels bleeds into the edges (the alpha edge check); this wallpaper's transparent pixels are black and its alpha changes smoothly, so it barely shows here",
}

const (
	gapResample8 = "resample/8"
	gapBox       = "resample/box"
	gapResample4 = "resample/4"
	gapAffine    = "resample/affine"
)

func bimgCases() []bimgCase {
	g := func(keys ...string) []string { return keys }
	return []bimgCase{
		{name: "12 MP JPEG → w-300 JPEG q80", src: "photo.jpg", tr: "w-300,q-80", format: "jpeg",
			opts: bimgOpts(bimg.JPEG, func(o *bimg.Options) { o.Width = 300 }), gaps: g(gapResample8)},
		{name: "12 MP JPEG → w-800 JPEG q80", src: "photo.jpg", tr: "w-800,q-80", format: "jpeg",
			opts: bimgOpts(bimg.JPEG, func(o *bimg.Options) { o.Width = 800 }), gaps: g(gapBox)},
		{name: "12 MP JPEG → w-800 WebP q80", src: "photo.jpg", tr: "w-800,q-80", format: "webp",
			opts: bimgOpts(bimg.WEBP, func(o *bimg.Options) { o.Width = 800 }), gaps: g(gapBox)},
		// bimg's Speed is libvips' deprecated heifsave speed, effort = 9 −
		// speed: 9 is the engine's production effort 0.
		{name: "12 MP JPEG → w-800 AVIF q80 (effort 0)", src: "photo.jpg", tr: "w-800,q-80", format: "avif",
			opts: bimgOpts(bimg.AVIF, func(o *bimg.Options) { o.Width = 800; o.Speed = 9 }), gaps: g(gapBox)},
		{name: "12 MP JPEG → w-400,h-400 (cover, centre crop)", src: "photo.jpg", tr: "w-400,h-400,q-80", format: "jpeg",
			opts: bimgOpts(bimg.JPEG, func(o *bimg.Options) { o.Width, o.Height, o.Crop = 400, 400, true }), gaps: g(gapResample4, "crop-offset")},
		{name: "12 MP JPEG → w-400,h-400,fo-auto (attention crop)", src: "photo.jpg", tr: "w-400,h-400,fo-auto,q-80", format: "jpeg",
			opts: bimgOpts(bimg.JPEG, func(o *bimg.Options) {
				o.Width, o.Height, o.Crop, o.Gravity = 400, 400, true, bimg.GravitySmart
			}), gaps: g(gapResample4)},
		{name: "12 MP JPEG → w-800,h-800,cm-pad_resize (white)", src: "photo.jpg", tr: "w-800,h-800,cm-pad_resize,q-80", format: "jpeg",
			opts: bimgOpts(bimg.JPEG, func(o *bimg.Options) {
				o.Width, o.Height, o.Embed, o.Extend, o.Background = 800, 800, true, bimg.ExtendBackground, white
			}), gaps: g(gapBox)},
		{name: "12 MP JPEG → w-800,h-800,c-force", src: "photo.jpg", tr: "w-800,h-800,c-force,q-80", format: "jpeg",
			opts: bimgOpts(bimg.JPEG, func(o *bimg.Options) { o.Width, o.Height, o.Force = 800, 800, true }), gaps: g(gapAffine)},
		{name: "12 MP JPEG → cm-extract 1000×1000 at 1500,1000", src: "photo.jpg", tr: "cm-extract,w-1000,h-1000,x-1500,y-1000,q-80", format: "jpeg",
			opts: bimgOpts(bimg.JPEG, func(o *bimg.Options) {
				o.AreaWidth, o.AreaHeight, o.Left, o.Top = 1000, 1000, 1500, 1000
			})},
		// bimg turns before it resizes, so its width is the turned one.
		{name: "12 MP JPEG → w-800,rt-90", src: "photo.jpg", tr: "w-800,rt-90,q-80", format: "jpeg",
			opts: bimgOpts(bimg.JPEG, func(o *bimg.Options) { o.Width, o.Rotate = 600, bimg.D90 }), gaps: g("turn-first", "freed-buffer", gapBox)},
		{name: "12 MP JPEG → w-800,fl-h", src: "photo.jpg", tr: "w-800,fl-h,q-80", format: "jpeg",
			opts: bimgOpts(bimg.JPEG, func(o *bimg.Options) { o.Width, o.Flip = 800, true }), gaps: g("turn-first", "freed-buffer", gapBox)},
		// bl-10 is sigma 5; 0.2 is libvips' own min_ampl, which bimg
		// would otherwise pass as 0.
		{name: "12 MP JPEG → w-800,bl-10", src: "photo.jpg", tr: "w-800,bl-10,q-80", format: "jpeg",
			opts: bimgOpts(bimg.JPEG, func(o *bimg.Options) {
				o.Width, o.GaussianBlur = 800, bimg.GaussianBlur{Sigma: 5, MinAmpl: 0.2}
			}), gaps: g(gapBox)},
		// e-sharpen's curve (sharpenFor(5) in the transform package). bimg
		// sets libvips' deprecated radius, which 8.14 ignores, and no sigma.
		{name: "12 MP JPEG → w-800,e-sharpen", src: "photo.jpg", tr: "w-800,e-sharpen,q-80", format: "jpeg",
			opts: bimgOpts(bimg.JPEG, func(o *bimg.Options) {
				o.Width, o.Sharpen = 800, bimg.Sharpen{Radius: 1, X1: 2, Y2: 15, Y3: 30, M1: 0, M2: 1}
			}), gaps: g(gapBox, "sigma")},
		{name: "12 MP JPEG → w-800,e-grayscale", src: "photo.jpg", tr: "w-800,e-grayscale,q-80", format: "jpeg",
			opts: bimgOpts(bimg.JPEG, func(o *bimg.Options) { o.Width, o.Interpretation = 800, bimg.InterpretationBW }), gaps: g(gapBox)},
		{name: "2140×1200 PNG+alpha → w-800 WebP q80", src: "alpha.png", tr: "w-800,q-80", format: "webp",
			opts: bimgOpts(bimg.WEBP, func(o *bimg.Options) { o.Width = 800 }), gaps: g("straight-alpha")},
		{name: "2140×1200 PNG+alpha → w-800 JPEG (on white)", src: "alpha.png", tr: "w-800,q-80", format: "jpeg",
			opts: bimgOpts(bimg.JPEG, func(o *bimg.Options) { o.Width, o.Background = 800, white }), gaps: g("straight-alpha")},
	}
}

// sides holds the two ways of doing one case, ready to call.
type sides struct {
	ours, bimg func() ([]byte, error)
}

// pngs runs both sides of a PNG case and decodes what they made: ours,
// then bimg's.
func (s sides) pngs() ([2]image.Image, error) {
	var out [2]image.Image
	for i, f := range []func() ([]byte, error){s.ours, s.bimg} {
		b, err := f()
		if err != nil {
			return out, err
		}
		if out[i], err = png.Decode(bytes.NewReader(b)); err != nil {
			return out, err
		}
	}
	return out, nil
}

func (c bimgCase) sides(e *transform.Engine, work string) (sides, error) {
	src, err := os.ReadFile(filepath.Join(work, c.src))
	if err != nil {
		return sides{}, err
	}
	return c.sidesFor(e, src)
}

func (c bimgCase) sidesFor(e *transform.Engine, src []byte) (sides, error) {
	tr, err := imgurl.Parse(c.tr)
	if err != nil {
		return sides{}, err
	}
	return sides{
		ours: func() ([]byte, error) {
			res, err := e.Transform(context.Background(), transform.Request{Source: src, Transformation: tr, Format: c.format})
			if err != nil {
				return nil, err
			}
			return res.Body, nil
		},
		bimg: func() ([]byte, error) { return bimg.Resize(src, c.opts) },
	}, nil
}

// timing is one side's medians at one concurrency, per image, and how
// many of its calls failed.
type timing struct {
	wall, cpu float64 // ms
	failed    int
}

func runBimg(rounds int, keep bool) error {
	began := time.Now()
	work, done, err := workDir("pictor-bench-bimg-", keep)
	if err != nil {
		return err
	}
	defer done()
	cores := runtime.NumCPU()
	fmt.Printf("== own C vs bimg %s: %d cores (%s), %s, %d rounds per concurrency\n", bimg.Version, cores, cpuModel(), vipsVersion(), rounds)
	if err := prepareBimg(work); err != nil {
		return err
	}
	// A worker per core, the most either side runs at once, and the
	// production AVIF effort.
	e := newEngineEffort(cores, 0)
	cases := bimgCases()

	fmt.Printf("\nSame job? Each output before timing. metadata: what is left in the file; diff: mean |ours − bimg| per channel, 0–255;\n")
	fmt.Printf("GC: of %d more runs while the Go GC runs continuously, how many differ from the first output (or fail):\n\n", gcRepeats)
	fmt.Println("| operation | ours | bimg | metadata ours / bimg | diff | GC ours / bimg |\n|---|---|---|---|---:|---|")
	checks := make([]outputCheck, len(cases))
	for i, c := range cases {
		s, err := c.sides(e, work)
		if err != nil {
			return err
		}
		ck, err := checkOutputs(e, s)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		checks[i] = ck
		fmt.Printf("| %s | %s | %s | %s / %s | %.2f | %d / %d |\n", c.name, ck.ours, ck.bimg, ck.metaOurs, ck.metaBimg, ck.diff, ck.gcOurs, ck.gcBimg)
	}
	if err := resamplingCheck(e, work); err != nil {
		return err
	}
	if err := alphaEdgeCheck(e); err != nil {
		return err
	}
	if err := truncationCheck(e, work); err != nil {
		return err
	}

	concs := []int{1, cores}
	fmt.Printf("\nTime per image, median of %d alternating rounds. ratio = bimg ÷ ours (above 1: bimg slower); CPU: user + system per image, 1 worker.\n", rounds)
	fmt.Printf("bimg is within 5 %% when every ratio is at most 1.05. Decision labels are explained below the table.\n\n")
	fmt.Printf("| operation | 1 worker: ours ms | bimg ms | ratio | %d workers: ours ms/img | bimg ms/img | ratio | CPU ours ms | CPU bimg ms | CPU ratio | decision |\n", cores)
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	used := map[string]bool{}
	for i, c := range cases {
		s, err := c.sides(e, work)
		if err != nil {
			return err
		}
		var ours, theirs []timing
		for _, n := range concs {
			o, b, err := alternate(s, n, rounds)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			ours, theirs = append(ours, o), append(theirs, b)
		}
		// CPU time per image from the single-worker runs: it is the least
		// disturbed by other work on the machine.
		r1, rn, rc := theirs[0].wall/ours[0].wall, theirs[1].wall/ours[1].wall, theirs[0].cpu/ours[0].cpu
		d, labels := decide(c, checks[i], []float64{r1, rn, rc}, theirs[0].failed+theirs[1].failed, rounds*(1+cores))
		for _, l := range labels {
			used[l] = true
		}
		fmt.Printf("| %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f | %s |\n", c.name,
			ours[0].wall, theirs[0].wall, r1, ours[1].wall, theirs[1].wall, rn, ours[0].cpu, theirs[0].cpu, rc, d)
	}
	fmt.Println()
	for _, k := range sortedKeys(used) {
		fmt.Printf("- %s: %s\n", k, gapText[k])
	}

	fmt.Printf("\nPeak RSS (VmHWM, MB) of a fresh process per operation and side: sources loaded and libvips started (before), then two rounds with 1 worker, then two with %d at once:\n\n", cores)
	fmt.Printf("| operation | ours: before / 1 / %d | bimg: before / 1 / %d |\n|---|---:|---:|\n", cores, cores)
	for i, c := range cases {
		var cells []string
		for _, side := range []string{"ours", "bimg"} {
			out, err := exec.Command(os.Args[0], "-bimg-rss-child", work, "-bimg-case", strconv.Itoa(i),
				"-bimg-side", side, "-bimg-workers", strconv.Itoa(cores)).CombinedOutput()
			if err != nil {
				return fmt.Errorf("rss child: %v: %s", err, out)
			}
			cells = append(cells, strings.TrimSpace(string(out)))
		}
		fmt.Printf("| %s | %s |\n", c.name, strings.Join(cells, " | "))
	}
	fmt.Println("\nGaps that hold for every operation, whatever the numbers:")
	fmt.Println("- bimg.Resize owns its VipsImage for the whole call: the engine's deadline watchdog (vips_image_set_kill) has nothing to kill.")
	fmt.Println("- bimg loads without fail_on=truncated: a cut-off source becomes an image (the truncated source above), which a CDN would cache.")
	fmt.Println("- bimg decodes sources it does not shrink on load with VIPS_ACCESS_RANDOM, whole, rather than streaming them (peak RSS).")
	fmt.Printf("\n(took %.0f s)\n", time.Since(began).Seconds())
	return nil
}

func sortedKeys(m map[string]bool) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

// newEngineEffort is newEngine with a given AVIF effort (production: 0).
func newEngineEffort(workers, effort int) *transform.Engine {
	return transform.New(transform.Config{
		MaxSourcePixels: 100_000_000,
		Workers:         workers,
		QueueLength:     1 << 20,
		QueueWait:       time.Minute,
		Deadline:        time.Minute,
		AVIFEffort:      effort,
	}, discardLog())
}

// decide applies the rule to one row: bimg replaces ours only
// where it is within 5 % on every measure and does the same job. It
// returns the cell and the gap labels it used.
func decide(c bimgCase, ck outputCheck, ratios []float64, failed, calls int) (string, []string) {
	var why []string
	worst := 0.0
	for _, r := range ratios {
		worst = math.Max(worst, r)
	}
	if worst > 1.05 {
		why = append(why, fmt.Sprintf("slower (+%.0f %%)", (worst-1)*100))
	}
	if failed > 0 {
		why = append(why, fmt.Sprintf("bimg failed %d of %d timed calls", failed, calls))
	}
	why = append(why, ck.differences()...)
	why = append(why, c.gaps...)
	if len(why) == 0 {
		return "switch: within 5 %, same output, no known gap", nil
	}
	return "keep ours: " + strings.Join(why, "; "), c.gaps
}

// alternate times n-at-once batches of each side, taking turns (and turns
// at going first), and returns the medians per image. A failed bimg call
// is counted rather than fatal: failing is one of the things measured.
func alternate(s sides, n, rounds int) (timing, timing, error) {
	var ow, oc, bw, bc []float64
	failed := 0
	for r := 0; r < rounds; r++ {
		order := []bool{true, false} // true: ours
		if r%2 == 1 {
			order = []bool{false, true}
		}
		for _, isOurs := range order {
			f := s.bimg
			if isOurs {
				f = s.ours
			}
			wall, cpu, bad, err := batch(f, n)
			if isOurs && err != nil {
				return timing{}, timing{}, fmt.Errorf("ours: %w", err)
			}
			w, c := ms(wall)/float64(n), ms(cpu)/float64(n)
			if isOurs {
				ow, oc = append(ow, w), append(oc, c)
			} else {
				bw, bc = append(bw, w), append(bc, c)
				failed += bad
			}
		}
	}
	return timing{wall: benchkit.Median(ow), cpu: benchkit.Median(oc)}, timing{wall: benchkit.Median(bw), cpu: benchkit.Median(bc), failed: failed}, nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// batch runs f n times at once and returns the wall time, the process's
// CPU time meanwhile, how many calls failed and the first error.
func batch(f func() ([]byte, error), n int) (time.Duration, time.Duration, int, error) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	cpu0 := benchkit.SelfUsage().CPU()
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	wall, cpu := time.Since(start), benchkit.SelfUsage().CPU()-cpu0
	close(errs)
	bad := len(errs)
	return wall, cpu, bad, <-errs
}

// prepareBimg writes the sources: the 4000×3000 cut of the Elephants photo
// with its EXIF and XMP kept (md-true), so that stripping is tested, and
// the transparent PNG wallpaper.
func prepareBimg(work string) error {
	e := newEngine(runtime.NumCPU(), 64)
	if err := make4k(e, filepath.Join(photos, "abstract/Elephants_5640x3172.jpg"), filepath.Join(work, "photo.jpg"), "w-4000,h-3000,q-90,md-true"); err != nil {
		return err
	}
	png, err := os.ReadFile(filepath.Join(photos, "abstract/Arc-Colors-Transparent-Wallpaper.png"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(work, "alpha.png"), png, 0o644)
}

// outputCheck is what the two outputs of one case have in common.
type outputCheck struct {
	ours, bimg         string // "jpeg 300×225"
	metaOurs, metaBimg string // "none", "EXIF XMP"
	diff               float64
	gcOurs, gcBimg     int // repeats under GC that differed or failed
}

// differences names what makes the outputs not the same job. The pixel
// threshold allows for two encoders fed pixels that differ by rounding;
// what it catches is a different picture, not encoder noise.
func (c outputCheck) differences() []string {
	var d []string
	if c.ours != c.bimg {
		d = append(d, fmt.Sprintf("bimg writes %s, ours %s", c.bimg, c.ours))
	}
	if c.metaOurs != c.metaBimg {
		d = append(d, fmt.Sprintf("bimg leaves %s in the file", c.metaBimg))
	}
	if c.diff > 1.5 {
		d = append(d, fmt.Sprintf("pixels differ (%.1f)", c.diff))
	}
	if c.gcBimg > 0 {
		d = append(d, fmt.Sprintf("bimg output changes under GC (%d of %d)", c.gcBimg, gcRepeats))
	}
	return d
}

// gcRepeats is how many times each side runs again under a busy GC.
const gcRepeats = 2

func checkOutputs(e *transform.Engine, s sides) (outputCheck, error) {
	o, err := s.ours()
	if err != nil {
		return outputCheck{}, fmt.Errorf("ours: %w", err)
	}
	b, err := s.bimg()
	if err != nil {
		return outputCheck{}, fmt.Errorf("bimg: %w", err)
	}
	ck := outputCheck{ours: describeImage(o), bimg: describeImage(b), metaOurs: metadataIn(o), metaBimg: metadataIn(b)}
	po, err := pixels(e, o)
	if err != nil {
		return outputCheck{}, err
	}
	pb, err := pixels(e, b)
	if err != nil {
		return outputCheck{}, err
	}
	ck.diff = meanDiff(po, pb)
	ck.gcOurs = changesUnderGC(s.ours, o)
	ck.gcBimg = changesUnderGC(s.bimg, b)
	return ck, nil
}

// changesUnderGC runs f gcRepeats times while another goroutine allocates
// and collects garbage without pause, as a busy server's heap would, and
// counts the runs whose output is not first (or that fail). Both encoders
// are deterministic, so any difference is memory read after the GC has
// reused it: memory C still reads that Go no longer references.
func changesUnderGC(f func() ([]byte, error), first []byte) int {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var junk [][]byte
		for {
			select {
			case <-stop:
				return
			default:
			}
			junk = append(junk, bytes.Repeat([]byte{0x55}, 1<<20))
			if len(junk) > 32 {
				junk = nil
			}
			runtime.GC()
		}
	}()
	bad := 0
	for range gcRepeats {
		if b, err := f(); err != nil || !bytes.Equal(b, first) {
			bad++
		}
	}
	close(stop)
	<-done
	return bad
}

func describeImage(b []byte) string {
	size, err := bimg.NewImage(b).Size()
	if err != nil {
		return sniff(b) + " (unreadable)"
	}
	s := fmt.Sprintf("%s %d×%d", sniff(b), size.Width, size.Height)
	if sniff(b) == "jpeg" {
		// A grey JPEG is one channel; the same pixels in three would be a
		// different (larger) file.
		if m, err := bimg.NewImage(b).Metadata(); err == nil && m.Channels == 1 {
			s += " grey"
		}
	}
	return s
}

func sniff(b []byte) string {
	switch {
	case len(b) > 3 && b[0] == 0xFF && b[1] == 0xD8:
		return "jpeg"
	case len(b) > 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	case len(b) > 12 && string(b[4:8]) == "ftyp" && (string(b[8:12]) == "avif" || string(b[8:12]) == "avis"):
		return "avif"
	case len(b) > 8 && string(b[1:4]) == "PNG":
		return "png"
	}
	return "?"
}

// metadataIn names the metadata an encoded file still carries, read from
// its container: JPEG APP segments, WebP chunks, AVIF item types.
func metadataIn(b []byte) string {
	var found []string
	add := func(s string) {
		for _, f := range found {
			if f == s {
				return
			}
		}
		found = append(found, s)
	}
	switch sniff(b) {
	case "jpeg":
		for i := 2; i+4 <= len(b) && b[i] == 0xFF && b[i+1] != 0xDA; {
			n := int(binary.BigEndian.Uint16(b[i+2:]))
			seg := b[i+4 : min(len(b), i+2+n)]
			switch {
			case b[i+1] == 0xE1 && bytes.HasPrefix(seg, []byte("Exif")):
				add("EXIF")
			case b[i+1] == 0xE1 && bytes.HasPrefix(seg, []byte("http://ns.adobe.com/xap/")):
				add("XMP")
			case b[i+1] == 0xE2 && bytes.HasPrefix(seg, []byte("ICC_PROFILE")):
				add("ICC")
			case b[i+1] == 0xED:
				add("IPTC")
			case b[i+1] == 0xFE:
				add("comment")
			}
			i += 2 + n
		}
	case "webp":
		for i := 12; i+8 <= len(b); {
			n := int(binary.LittleEndian.Uint32(b[i+4:]))
			switch string(b[i : i+4]) {
			case "EXIF":
				add("EXIF")
			case "XMP ":
				add("XMP")
			case "ICCP":
				add("ICC")
			}
			i += 8 + n + n%2
		}
	case "avif":
		if bytes.Contains(b, []byte("infe")) && bytes.Contains(b, []byte("Exif")) {
			add("EXIF")
		}
		if bytes.Contains(b, []byte("application/rdf+xml")) {
			add("XMP")
		}
		if bytes.Contains(b, []byte("colrprof")) {
			add("ICC")
		}
	}
	if len(found) == 0 {
		return "none"
	}
	return strings.Join(found, " ")
}

// pixels decodes an output through the engine to PNG, so both sides'
// files are read by the same decoder.
func pixels(e *transform.Engine, b []byte) (image.Image, error) {
	res, err := e.Transform(context.Background(), transform.Request{Source: b, Format: "png"})
	if err != nil {
		return nil, err
	}
	return png.Decode(bytes.NewReader(res.Body))
}

// meanDiff is the mean absolute difference per colour channel (0–255) of
// two images of the same size, each composited over mid-grey so that
// transparent pixels compare by what they show; 255 when the sizes differ.
func meanDiff(a, b image.Image) float64 {
	r := a.Bounds()
	if r.Size() != b.Bounds().Size() {
		return 255
	}
	var sum float64
	for y := 0; y < r.Dy(); y++ {
		for x := 0; x < r.Dx(); x++ {
			ar, ag, ab := overGrey(a.At(r.Min.X+x, r.Min.Y+y))
			br, bg, bb := overGrey(b.At(b.Bounds().Min.X+x, b.Bounds().Min.Y+y))
			sum += math.Abs(ar-br) + math.Abs(ag-bg) + math.Abs(ab-bb)
		}
	}
	return sum / float64(3*r.Dx()*r.Dy())
}

func overGrey(c color.Color) (float64, float64, float64) {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	a := float64(n.A) / 255
	mix := func(v uint8) float64 { return float64(v)*a + 128*(1-a) }
	return mix(n.R), mix(n.G), mix(n.B)
}

// resamplingCheck compares each side's resize with an exact one: both
// sides write PNG (no encoder loss), the reference is Lanczos-3 on the
// fully decoded source (vips resize, no shrink-on-load), and the error is
// the mean difference from it.
func resamplingCheck(e *transform.Engine, work string) error {
	fmt.Printf("\nResampling against an exact Lanczos-3 reduction of the fully decoded 4000×3000 source (PNG out on both sides; mean |side − exact| per channel, 0–255):\n\n")
	fmt.Println("| resize | ours | bimg |\n|---|---:|---:|")
	for _, w := range []int{300, 800} {
		ref := filepath.Join(work, fmt.Sprintf("exact-%d.png", w))
		scale := strconv.FormatFloat(float64(w)/4000, 'f', -1, 64)
		if out, err := exec.Command("vips", "resize", filepath.Join(work, "photo.jpg"), ref, scale).CombinedOutput(); err != nil {
			return fmt.Errorf("vips resize: %v: %s", err, out)
		}
		rb, err := os.ReadFile(ref)
		if err != nil {
			return err
		}
		exact, err := png.Decode(bytes.NewReader(rb))
		if err != nil {
			return err
		}
		c := bimgCase{src: "photo.jpg", tr: fmt.Sprintf("w-%d", w), format: "png",
			opts: bimg.Options{Type: bimg.PNG, Width: w, StripMetadata: true}}
		s, err := c.sides(e, work)
		if err != nil {
			return err
		}
		imgs, err := s.pngs()
		if err != nil {
			return err
		}
		cells := []string{fmt.Sprintf("%.2f", meanDiff(exact, imgs[0])), fmt.Sprintf("%.2f", meanDiff(exact, imgs[1]))}
		fmt.Printf("| 4000×3000 → w-%d | %s |\n", w, strings.Join(cells, " | "))
	}
	return nil
}

// alphaEdgeCheck shows what resizing straight alpha does: opaque blue
// beside fully transparent red (invisible, but a PNG keeps its colour),
// scaled by 4. Where the edge is half transparent, premultiplied
// resizing keeps it blue; straight resizing mixes the invisible red in.
func alphaEdgeCheck(e *transform.Engine) error {
	img := image.NewNRGBA(image.Rect(0, 0, 1200, 800))
	for y := 0; y < 800; y++ {
		for x := 0; x < 1200; x++ {
			c := color.NRGBA{B: 255, A: 255}
			if x >= 602 {
				c = color.NRGBA{R: 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var src bytes.Buffer
	if err := png.Encode(&src, img); err != nil {
		return err
	}
	c := bimgCase{tr: "w-300", format: "png", opts: bimg.Options{Type: bimg.PNG, Width: 300, StripMetadata: true}}
	s, err := c.sidesFor(e, src.Bytes())
	if err != nil {
		return err
	}
	imgs, err := s.pngs()
	if err != nil {
		return err
	}
	cells := []string{edgePixels(imgs[0]), edgePixels(imgs[1])}
	fmt.Printf("\nAlpha edge (1200×800 PNG, opaque blue | transparent red → w-300 PNG), the half-transparent pixels of the middle row (r,g,b,alpha):\nours %s; bimg %s\n", cells[0], cells[1])
	return nil
}

// edgePixels lists the half-transparent pixels of the middle row, where
// the two resamplers can differ.
func edgePixels(img image.Image) string {
	b := img.Bounds()
	y := b.Min.Y + b.Dy()/2
	var px []string
	for x := b.Min.X; x < b.Max.X; x++ {
		c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
		if c.A > 0 && c.A < 255 {
			px = append(px, fmt.Sprintf("(%d,%d,%d,α%d)", c.R, c.G, c.B, c.A))
		}
	}
	if len(px) == 0 {
		return "none"
	}
	return strings.Join(px, " ")
}

// truncationCheck feeds both sides the first 60 % of the photo, as a
// cut-off upload or origin response would arrive.
func truncationCheck(e *transform.Engine, work string) error {
	src, err := os.ReadFile(filepath.Join(work, "photo.jpg"))
	if err != nil {
		return err
	}
	cut := src[:len(src)*6/10]
	tr, err := imgurl.Parse("w-800,q-80")
	if err != nil {
		return err
	}
	ours := "an image"
	if _, err := e.Transform(context.Background(), transform.Request{Source: cut, Transformation: tr, Format: "jpeg"}); err != nil {
		ours = "error (" + errkindCode(err) + ")"
	}
	var theirs string
	if b, err := bimg.Resize(cut, bimgOpts(bimg.JPEG, func(o *bimg.Options) { o.Width = 800 })); err == nil {
		theirs = describeImage(b) + ", the missing rows grey"
	} else {
		theirs = "error: " + err.Error()
	}
	fmt.Printf("\nTruncated source (first 60 %% of the photo → w-800 JPEG): ours → %s; bimg → %s\n", ours, theirs)
	return nil
}

func errkindCode(err error) string {
	if k := errkind.Of(err); k != nil {
		return k.Kind.String() + ", " + k.Reason
	}
	return err.Error()
}

// bimgRSSChild runs in a fresh process (VmHWM only grows): two rounds of
// one case on one side with one worker, then two with workers at once,
// and prints the RSS before and the peak after each phase. Both sides
// start libvips the engine's way, so only the call differs. bimg's
// failures (see changesUnderGC) do not stop it: memory is what it counts.
func bimgRSSChild(work string, index int, side string, workers int) error {
	e := newEngineEffort(workers, 0)
	cases := bimgCases()
	if index < 0 || index >= len(cases) {
		return fmt.Errorf("no case %d", index)
	}
	s, err := cases[index].sides(e, work)
	if err != nil {
		return err
	}
	f := s.ours
	if side == "bimg" {
		f = s.bimg
	}
	runtime.GC()
	cells := []string{mb(procStatus("VmRSS"))}
	for _, n := range []int{1, workers} {
		for range 2 {
			if _, _, _, err := batch(f, n); err != nil && side == "ours" {
				return err
			}
		}
		cells = append(cells, mb(procStatus("VmHWM")))
	}
	fmt.Print(strings.Join(cells, " / "))
	return nil
}

func mb(s string) string { return strings.TrimSuffix(s, " MB") }

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "CPU model unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "CPU model unknown"
}
