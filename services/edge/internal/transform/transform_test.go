package transform

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

func mustParse(t testing.TB, s string) imgurl.Transformation {
	t.Helper()
	tr, err := imgurl.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestPlanResize(t *testing.T) {
	cases := []struct {
		name   string
		w, h   int
		tr     string
		rw, rh int
		region *rect
		crop   *rect
		canvas *canvas
		attn   bool
	}{
		{name: "no resize", w: 400, h: 300, tr: "", rw: 400, rh: 300},
		{name: "width only", w: 1200, h: 800, tr: "w-300", rw: 300, rh: 200},
		{name: "height only", w: 1200, h: 800, tr: "h-100", rw: 150, rh: 100},
		{name: "fraction", w: 1200, h: 800, tr: "w-0.5", rw: 600, rh: 400},
		{name: "dpr", w: 1200, h: 800, tr: "w-300,dpr-2", rw: 600, rh: 400},
		{name: "dpr without size does nothing", w: 1200, h: 800, tr: "dpr-2", rw: 1200, rh: 800},
		{name: "upscale allowed by default", w: 100, h: 50, tr: "w-200", rw: 200, rh: 100},
		{name: "at_max refuses upscale", w: 100, h: 50, tr: "w-200,c-at_max", rw: 100, rh: 50},
		{name: "cover then crop center", w: 1200, h: 800, tr: "w-300,h-300", rw: 450, rh: 300, crop: &rect{75, 0, 300, 300}},
		{name: "cover then crop left", w: 1200, h: 800, tr: "w-300,h-300,fo-left", rw: 450, rh: 300, crop: &rect{0, 0, 300, 300}},
		{name: "cover then crop bottom right", w: 800, h: 1200, tr: "w-300,h-300,fo-bottom_right", rw: 300, rh: 450, crop: &rect{0, 150, 300, 300}},
		{name: "attention", w: 1200, h: 800, tr: "w-300,h-300,fo-auto", rw: 450, rh: 300, crop: &rect{0, 0, 300, 300}, attn: true},
		{name: "force", w: 1200, h: 800, tr: "w-300,h-300,c-force", rw: 300, rh: 300},
		{name: "at_max fit", w: 1200, h: 800, tr: "w-300,h-300,c-at_max", rw: 300, rh: 200},
		{name: "at_max_enlarge", w: 120, h: 80, tr: "w-300,h-300,c-at_max_enlarge", rw: 300, rh: 200},
		{name: "at_least", w: 1200, h: 800, tr: "w-300,h-300,c-at_least", rw: 450, rh: 300},
		{name: "aspect ratio with width", w: 1200, h: 800, tr: "w-400,ar-1-1", rw: 600, rh: 400, crop: &rect{100, 0, 400, 400}},
		{name: "pad_resize centre", w: 1200, h: 800, tr: "w-300,h-300,cm-pad_resize", rw: 300, rh: 200, canvas: &canvas{300, 300, 0, 50}},
		{name: "pad_resize fo-top", w: 1200, h: 800, tr: "w-300,h-300,cm-pad_resize,fo-top", rw: 300, rh: 200, canvas: &canvas{300, 300, 0, 0}},
		{name: "pad_resize fo-right", w: 800, h: 1200, tr: "w-300,h-300,cm-pad_resize,fo-right", rw: 200, rh: 300, canvas: &canvas{300, 300, 100, 0}},
		{name: "pad_resize enlarges", w: 100, h: 50, tr: "w-300,h-300,cm-pad_resize", rw: 300, rh: 150, canvas: &canvas{300, 300, 0, 75}},
		{name: "pad_resize overrides c", w: 1200, h: 800, tr: "w-300,h-300,cm-pad_resize,c-force", rw: 300, rh: 200, canvas: &canvas{300, 300, 0, 50}},
		{name: "pad_resize one side is a resize", w: 1200, h: 800, tr: "w-300,cm-pad_resize", rw: 300, rh: 200},
		{name: "extract centre", w: 1200, h: 800, tr: "w-300,h-200,cm-extract", rw: 300, rh: 200, region: &rect{450, 300, 300, 200}},
		{name: "extract x y", w: 1200, h: 800, tr: "w-300,h-200,cm-extract,x-10,y-20", rw: 300, rh: 200, region: &rect{10, 20, 300, 200}},
		{name: "extract xc yc", w: 1200, h: 800, tr: "w-300,h-200,cm-extract,xc-600,yc-400", rw: 300, rh: 200, region: &rect{450, 300, 300, 200}},
		{name: "extract only x", w: 1200, h: 800, tr: "w-300,h-200,cm-extract,x-0", rw: 300, rh: 200, region: &rect{0, 300, 300, 200}},
		{name: "extract fo-bottom_left", w: 1200, h: 800, tr: "w-300,h-200,cm-extract,fo-bottom_left", rw: 300, rh: 200, region: &rect{0, 600, 300, 200}},
		{name: "extract dpr scales the area", w: 1200, h: 800, tr: "w-100,h-100,cm-extract,x-5,y-5,dpr-2", rw: 200, rh: 200, region: &rect{5, 5, 200, 200}},
		{name: "extract fo-auto", w: 1200, h: 800, tr: "w-300,h-200,cm-extract,fo-auto", rw: 1200, rh: 800, crop: &rect{0, 0, 300, 200}, attn: true},
		{name: "pad_extract larger", w: 600, h: 600, tr: "w-700,h-700,cm-pad_extract", rw: 600, rh: 600, region: &rect{0, 0, 600, 600}, canvas: &canvas{700, 700, 50, 50}},
		{name: "pad_extract past edge", w: 600, h: 400, tr: "w-200,h-200,cm-pad_extract,x-500,y-300", rw: 100, rh: 100, region: &rect{500, 300, 100, 100}, canvas: &canvas{200, 200, 0, 0}},
		{name: "pad_extract fo-left larger", w: 600, h: 600, tr: "w-700,h-700,cm-pad_extract,fo-left", rw: 600, rh: 600, region: &rect{0, 0, 600, 600}, canvas: &canvas{700, 700, 0, 50}},
		{name: "pad_extract inside needs no pad", w: 600, h: 600, tr: "w-100,h-100,cm-pad_extract,x-0,y-0", rw: 100, rh: 100, region: &rect{0, 0, 100, 100}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustParse(t, tc.tr)
			st := imgurl.Step{}
			if len(tr.Steps) > 0 {
				st = tr.Steps[0]
			}
			g, err := planResize(tc.w, tc.h, st)
			if err != nil {
				t.Fatal(err)
			}
			if g.resizeW != tc.rw || g.resizeH != tc.rh {
				t.Fatalf("resize = %d×%d, want %d×%d", g.resizeW, g.resizeH, tc.rw, tc.rh)
			}
			if !equalPtr(g.region, tc.region) || !equalPtr(g.crop, tc.crop) || !equalPtr(g.canvas, tc.canvas) || g.attention != tc.attn {
				t.Fatalf("region %+v crop %+v canvas %+v attention %v; want %+v %+v %+v %v",
					g.region, g.crop, g.canvas, g.attention, tc.region, tc.crop, tc.canvas, tc.attn)
			}
		})
	}
}

func equalPtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func TestPlanResizeRefusals(t *testing.T) {
	cases := []struct {
		w, h int
		tr   string
		kind errkind.Kind
	}{
		{1200, 800, "w-300,h-200,cm-extract,x-1000", errkind.Invalid},
		{1200, 800, "w-300,h-200,cm-extract,xc-100,yc-100", errkind.Invalid},
		{600, 600, "w-700,h-700,cm-extract", errkind.Invalid},
		{600, 600, "w-100,h-100,cm-pad_extract,x-700,y-700", errkind.Invalid},
		{1200, 800, "w-300,h-200,cm-extract,x-10,xc-100", errkind.Invalid},
		{1200, 800, "w-300,h-200,x-10", errkind.Unsupported},
		{1200, 800, "w-300,h-200,cm-pad_resize,fo-auto", errkind.Unsupported},
		{1200, 800, "w-auto", errkind.Internal},
		{1200, 800, "w-300,dpr-auto", errkind.Internal},
	}
	for _, tc := range cases {
		t.Run(tc.tr, func(t *testing.T) {
			_, err := planResize(tc.w, tc.h, mustParse(t, tc.tr).Steps[0])
			if errkind.KindOf(err) != tc.kind {
				t.Fatalf("err = %v, want %v", err, tc.kind)
			}
		})
	}
}

func TestTransformRefusals(t *testing.T) {
	e := testEngine()
	jpg := photoJPEG(t, 64, 48)
	cases := []struct {
		name   string
		src    []byte
		tr     string
		format string
		kind   errkind.Kind
		reason string
	}{
		{name: "empty", src: nil, kind: errkind.Unprocessable, reason: "source_empty"},
		{name: "garbage", src: []byte("this is not an image at all"), kind: errkind.Unprocessable, reason: "source_corrupt"},
		{name: "truncated jpeg", src: jpg[:len(jpg)/2], kind: errkind.Unprocessable, reason: "source_corrupt"},
		{name: "pixel bomb png", src: pngWithSize(t, 20000, 20000), kind: errkind.Unprocessable, reason: "source_too_many_pixels"},
		{name: "svg blocked", src: readTestdata(t, "malformed/script.svg"), kind: errkind.Unprocessable, reason: "source_format_blocked"},
		{name: "pdf blocked", src: readTestdata(t, "malformed/document.pdf"), kind: errkind.Unprocessable, reason: "source_format_blocked"},
		{name: "vips native blocked", src: readTestdata(t, "malformed/native.v"), kind: errkind.Unprocessable, reason: "source_format_blocked"},
		{name: "ppm blocked", src: readTestdata(t, "malformed/image.ppm"), kind: errkind.Unprocessable, reason: "source_format_blocked"},
		{name: "fits blocked", src: readTestdata(t, "malformed/image.fits"), kind: errkind.Unprocessable, reason: "source_format_blocked"},
		{name: "output over webp limit", src: jpg, tr: "w-16384,h-100,c-force", format: "webp", kind: errkind.Invalid, reason: "output_too_large"},
		{name: "output over pixel limit", src: jpg, tr: "w-20000", kind: errkind.Invalid, reason: "output_too_large"},
		{name: "rotation over pixel limit", src: jpg, tr: "w-9000,rt-45", kind: errkind.Invalid, reason: "output_too_large"},
		{name: "extract outside", src: jpg, tr: "w-100,h-100,cm-extract", kind: errkind.Invalid, reason: "extract_outside_image"},
		{name: "coordinates without extract", src: jpg, tr: "x-10", kind: errkind.Unsupported},
		{name: "lossless jpeg", src: jpg, tr: "lo-true,f-jpg", format: "jpeg", kind: errkind.Unsupported},
		{name: "unexpanded named", src: jpg, tr: "n-thumb", kind: errkind.Unsupported},
		{name: "expression dividing by zero", src: jpg, tr: "w-iw_div_0", kind: errkind.Invalid, reason: "invalid_parameter"},
		{name: "expression under one pixel", src: jpg, tr: "w-iw_sub_cw", kind: errkind.Invalid, reason: "invalid_parameter"},
		{name: "expression in a later step over the limit", src: jpg, tr: "w-10:w-cw_mul_10000", kind: errkind.Invalid, reason: "invalid_parameter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.Transform(context.Background(), Request{Source: tc.src, Transformation: mustParse(t, tc.tr), Format: tc.format})
			if res != nil {
				t.Fatalf("got a result with the error: %+v", res)
			}
			if errkind.KindOf(err) != tc.kind || tc.reason != "" && errkind.Reason(err) != tc.reason {
				t.Fatalf("err = %v (kind %v, reason %s), want %v %s", err, errkind.KindOf(err), errkind.Reason(err), tc.kind, tc.reason)
			}
		})
	}
}

// TestPixelBombRefusedFast: a 5 KB JPEG claiming 64250×64250 is refused
// from its header, without decoding.
func TestPixelBombRefusedFast(t *testing.T) {
	bomb := readTestdata(t, "malformed/lottapixel.jpg")
	if len(bomb) > 8<<10 {
		t.Fatalf("fixture is %d bytes, want a few KB", len(bomb))
	}
	e := testEngine()
	start := time.Now()
	_, err := e.Transform(context.Background(), Request{Source: bomb, Transformation: mustParse(t, "w-100")})
	if errkind.Reason(err) != "source_too_many_pixels" {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Fatalf("refusal took %v; it must come from the header", d)
	}
}

// TestAnimationCountsEveryFrame: frames × width × height is what the limit
// sees, although only the first frame is rendered.
func TestAnimationCountsEveryFrame(t *testing.T) {
	anim := animatedGIF(t, 100, 100, 12) // 12 frames of 10,000 px
	small := New(Config{MaxSourcePixels: 100_000, Workers: 1, QueueLength: 1, QueueWait: time.Second, Deadline: 10 * time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := small.Transform(context.Background(), Request{Source: anim}); errkind.Reason(err) != "source_too_many_pixels" {
		t.Fatalf("120,000 px of frames under a 100,000 px limit: err = %v", err)
	}
	one := animatedGIF(t, 100, 100, 1)
	if _, err := small.Transform(context.Background(), Request{Source: one}); err != nil {
		t.Fatalf("a single 10,000 px frame: %v", err)
	}
}

func TestQueueFull(t *testing.T) {
	e := New(Config{MaxSourcePixels: 1e8, Workers: 1, QueueLength: 0, QueueWait: time.Second, Deadline: time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.slots <- struct{}{} // occupy the only worker
	defer func() { <-e.slots }()
	_, err := e.Transform(context.Background(), Request{Source: photoJPEG(t, 8, 8)})
	if errkind.KindOf(err) != errkind.Unavailable || errkind.Reason(err) != "transform_queue_full" {
		t.Fatalf("err = %v, want transform_queue_full", err)
	}
}

// TestDeadlineKills: a transform that would take seconds (an upscale to
// 48 MP under a wide blur) is killed at its deadline and answered 503.
func TestDeadlineKills(t *testing.T) {
	deadline := 300 * time.Millisecond
	e := New(Config{MaxSourcePixels: 1e8, Workers: 1, QueueLength: 1, QueueWait: time.Second, Deadline: deadline},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	start := time.Now()
	res, err := e.Transform(context.Background(), Request{Source: photoJPEG(t, 400, 300), Transformation: mustParse(t, "w-8000,bl-100")})
	elapsed := time.Since(start)
	if res != nil || errkind.KindOf(err) != errkind.Unavailable || errkind.Reason(err) != "transform_deadline" {
		t.Fatalf("err = %v, want transform_deadline", err)
	}
	if elapsed > deadline+2*time.Second {
		t.Fatalf("took %v after a %v deadline: the kill did not stop libvips", elapsed, deadline)
	}
	// The worker is free again and the engine still works.
	if _, err := e.Transform(context.Background(), Request{Source: photoJPEG(t, 40, 30), Transformation: mustParse(t, "w-20")}); err != nil {
		t.Fatalf("after a kill: %v", err)
	}
}

// TestCallerCancelKills: a caller that gives up stops the work too.
func TestCallerCancelKills(t *testing.T) {
	e := testEngine()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := e.Transform(ctx, Request{Source: photoJPEG(t, 400, 300), Transformation: mustParse(t, "w-8000,bl-100")})
	if errkind.KindOf(err) != errkind.Unavailable {
		t.Fatalf("err = %v, want unavailable", err)
	}
}

// TestExifOrientation: all eight EXIF orientations come out upright, with
// the stored sideways dimensions swapped back.
func TestExifOrientation(t *testing.T) {
	e := testEngine()
	for o := 1; o <= 8; o++ {
		src := orientedJPEG(t, 64, 48, o)
		for _, tr := range []string{"", "w-32"} {
			res, err := e.Transform(context.Background(), Request{Source: src, Transformation: mustParse(t, tr), Format: "png"})
			if err != nil {
				t.Fatal(err)
			}
			w, h := 64, 48
			if tr != "" {
				w, h = 32, 24
			}
			if res.Width != w || res.Height != h {
				t.Fatalf("orientation %d %q: %d×%d, want %d×%d", o, tr, res.Width, res.Height, w, h)
			}
			img := decode(t, res.Body)
			for q, p := range [][2]int{{2, 2}, {w - 3, 2}, {2, h - 3}, {w - 3, h - 3}} {
				if got := nrgbaAt(img, p[0], p[1]); !near(got, quadColours[q], 40) {
					t.Errorf("orientation %d %q: quadrant %d is %v, want %v", o, tr, q, got, quadColours[q])
				}
			}
		}
	}
}

// TestMetadata: EXIF (with GPS), XMP and the copyright string are gone from
// every output unless md-true; cp-true keeps the ICC profile only.
func TestMetadata(t *testing.T) {
	e := testEngine()
	photo := orientedJPEG(t, 64, 48, 6)
	if m := metadataIn(t, photo); !m["exif"] || !m["gps"] || !m["xmp"] {
		t.Fatalf("fixture lacks metadata: %v", m)
	}
	secret := []byte("Pictor test photographer")
	for _, f := range []string{"jpeg", "png", "webp", "avif", "gif"} {
		res, err := e.Transform(context.Background(), Request{Source: photo, Transformation: mustParse(t, "w-40"), Format: f})
		if err != nil {
			t.Fatal(err)
		}
		if m := metadataIn(t, res.Body); len(m) > 0 || bytes.Contains(res.Body, secret) || bytes.Contains(res.Body, []byte("xmpmeta")) {
			t.Errorf("%s: metadata left in the output: %v", f, m)
		}
	}
	for _, f := range []string{"jpeg", "webp"} {
		res, err := e.Transform(context.Background(), Request{Source: photo, Transformation: mustParse(t, "w-40,md-true"), Format: f})
		if err != nil {
			t.Fatal(err)
		}
		m := metadataIn(t, res.Body)
		if !m["exif"] || !m["xmp"] || !bytes.Contains(res.Body, secret) {
			t.Errorf("%s md-true: metadata dropped: %v", f, m)
		}
		if hd, _ := readHeader(res.Body); hd.orientation > 1 || hd.width != 40 || hd.height != 30 {
			t.Errorf("%s md-true: %d×%d orientation %d; pixels must be upright and the tag reset", f, hd.width, hd.height, hd.orientation)
		}
	}
	p3 := readTestdata(t, "p3.jpg")
	for _, f := range []string{"jpeg", "png", "webp"} {
		res, err := e.Transform(context.Background(), Request{Source: p3, Transformation: mustParse(t, "cp-true"), Format: f})
		if err != nil {
			t.Fatal(err)
		}
		if m := metadataIn(t, res.Body); !m["icc"] || len(m) != 1 {
			t.Errorf("%s cp-true: want the ICC profile alone, got %v", f, m)
		}
		if hd, err := readHeader(res.Body); err != nil || hd.width != 64 || !hd.hasICC {
			t.Errorf("%s cp-true: the edited file does not read back: %+v %v", f, hd, err)
		}
	}
	if res, err := e.Transform(context.Background(), Request{Source: p3, Transformation: mustParse(t, "cp-true"), Format: "avif"}); err != nil {
		t.Fatal(err)
	} else if hd, _ := readHeader(res.Body); !hd.hasICC {
		t.Error("avif cp-true: no ICC profile")
	}
	res, err := e.Transform(context.Background(), Request{Source: photo, Transformation: mustParse(t, "cp-true")})
	if err != nil {
		t.Fatal(err)
	}
	if m := metadataIn(t, res.Body); m["gps"] || m["xmp"] || bytes.Contains(res.Body, secret) {
		t.Errorf("cp-true leaks source metadata: %v", m)
	}
}

// TestColourProfiles: a Display P3 source is converted to sRGB when its
// profile is stripped, and left untouched (profile attached) with cp-true.
func TestColourProfiles(t *testing.T) {
	e := testEngine()
	p3 := readTestdata(t, "p3.jpg")
	res, err := e.Transform(context.Background(), Request{Source: p3, Format: "png"})
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, res.Body)
	for q, p := range [][2]int{{5, 5}, {60, 5}, {5, 40}, {60, 40}} {
		if got := nrgbaAt(img, p[0], p[1]); !near(got, quadColours[q], 8) {
			t.Errorf("converted quadrant %d = %v, want the sRGB original %v", q, got, quadColours[q])
		}
	}
	kept, err := e.Transform(context.Background(), Request{Source: p3, Transformation: mustParse(t, "cp-true"), Format: "png"})
	if err != nil {
		t.Fatal(err)
	}
	// Still P3 numbers: blue (30,40,220) is stored as roughly (32,40,211).
	if got := nrgbaAt(decode(t, kept.Body), 5, 40); near(got, quadColours[2], 4) {
		t.Errorf("cp-true pixel %v was converted; it must keep the profile's values", got)
	}
}

func TestCMYK(t *testing.T) {
	res, err := testEngine().Transform(context.Background(), Request{Source: readTestdata(t, "cmyk.jpg"), Transformation: mustParse(t, "w-64")})
	if err != nil {
		t.Fatal(err)
	}
	hd, err := readHeader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != "jpeg" || hd.width != 64 || hd.height != 48 {
		t.Fatalf("got %s %d×%d", res.Format, hd.width, hd.height)
	}
	img := decode(t, res.Body)
	if m := img.ColorModel(); m == color.CMYKModel {
		t.Fatal("output is still CMYK")
	}
	// Saturated green and blue lie outside the CMYK gamut the fixture was
	// made in, so exact colours do not survive; the dominant channel of
	// each quadrant must (an inverted or channel-swapped CMYK decode fails).
	dominant := func(c color.NRGBA) int {
		switch {
		case int(c.R) > int(c.G)+40 && int(c.R) > int(c.B)+40:
			return 0
		case int(c.G) > int(c.R)+40 && int(c.G) > int(c.B)+40:
			return 1
		case int(c.B) > int(c.R)+40 && int(c.B) > int(c.G)+40:
			return 2
		case int(c.R) > int(c.B)+60 && int(c.G) > int(c.B)+60:
			return 3
		}
		return -1
	}
	for q, p := range [][2]int{{5, 5}, {60, 5}, {5, 40}, {60, 40}} {
		if got := nrgbaAt(img, p[0], p[1]); dominant(got) != q {
			t.Errorf("quadrant %d = %v, not %v-ish", q, got, quadColours[q])
		}
	}
}

func TestEncoderOptions(t *testing.T) {
	e := testEngine()
	photo := photoJPEG(t, 200, 150)
	run := func(tr, format string) *Result {
		t.Helper()
		res, err := e.Transform(context.Background(), Request{Source: photo, Transformation: mustParse(t, tr), Format: format})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if b := run("pr-true", "jpeg").Body; !bytes.Contains(b, []byte{0xFF, 0xC2}) {
		t.Error("pr-true: no progressive (SOF2) frame in the JPEG")
	}
	if b := run("", "jpeg").Body; bytes.Contains(b, []byte{0xFF, 0xC2}) {
		t.Error("baseline JPEG carries a progressive frame")
	}
	if b := run("pr-true", "png").Body; b[28] != 1 {
		t.Errorf("pr-true: PNG interlace method %d, want Adam7 (1)", b[28])
	}
	if b := run("lo-true", "webp").Body; !bytes.Contains(b[:64], []byte("VP8L")) {
		t.Error("lo-true: WebP is not lossless (no VP8L chunk)")
	}
	if b := run("", "webp").Body; bytes.Contains(b[:64], []byte("VP8L")) {
		t.Error("default WebP is lossless")
	}
	if lo, hi := len(run("q-10", "jpeg").Body), len(run("q-95", "jpeg").Body); lo >= hi {
		t.Errorf("q-10 is %d bytes, q-95 %d: quality ignored", lo, hi)
	}
	if res := run("lo-true", ""); res.Format != "png" {
		t.Errorf("lo-true on a JPEG source with no f: %s, want png (lossless)", res.Format)
	}
	if res := run("q-50:w-100", ""); res.Format != "jpeg" || res.Width != 100 {
		t.Errorf("q in an earlier step: %+v", res)
	}
}

// TestWarningsGoToTheLogger: libvips' complaints about a damaged file are
// debug records of the engine's logger, not lines on stderr.
func TestWarningsGoToTheLogger(t *testing.T) {
	var mu sync.Mutex
	var records []string
	h := slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		records = append(records, string(p))
		return len(p), nil
	}), &slog.HandlerOptions{Level: slog.LevelDebug})
	prev := vipsLog.Swap(slog.New(h))
	defer vipsLog.Store(prev)
	png := alphaPNG(t, 200, 150)
	_, err := testEngine().Transform(context.Background(), Request{Source: png[:len(png)*2/3]})
	if errkind.Reason(err) != "source_corrupt" {
		t.Fatalf("err = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(records) == 0 || !strings.Contains(strings.Join(records, ""), "libvips") {
		t.Fatalf("no libvips record reached the logger: %q", records)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestNegotiateFormat(t *testing.T) {
	chrome := "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"
	cases := []struct {
		name, requested, accept string
		avif                    bool
		want                    string
		vary                    bool
	}{
		{"auto avif on", "", chrome, true, "avif", true},
		{"auto avif off", "", chrome, false, "webp", true},
		{"auto old safari", "auto", "image/png,image/*;q=0.8,*/*;q=0.5", true, "", true},
		{"wildcard only", "", "*/*", true, "", true},
		{"webp refused by q=0", "", "image/webp;q=0", false, "", true},
		{"explicit jpg", "jpg", chrome, true, "jpeg", false},
		{"explicit webp", "webp", "", false, "webp", false},
		{"orig", "orig", chrome, true, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, vary := NegotiateFormat(tc.requested, tc.accept, tc.avif)
			if got != tc.want || vary != tc.vary {
				t.Fatalf("NegotiateFormat = %q, %v; want %q, %v", got, vary, tc.want, tc.vary)
			}
		})
	}
}

func TestDropMetadataRefusesMalformed(t *testing.T) {
	for _, tc := range []struct{ format, body string }{
		{"jpeg", "not a jpeg"},
		{"jpeg", "\xFF\xD8\xFF\xE1\x00\x40short"},
		{"webp", "RIFF\x10\x00\x00\x00WEBPVP8X"},
	} {
		if _, err := dropMetadata(tc.format, []byte(tc.body), false); err == nil {
			t.Errorf("%s %q: no error", tc.format, tc.body)
		}
	}
}

// TestExpressionsAndConditionals renders on a real 1200×800 photo and a
// 600×900 portrait: expressions bind to the input's and the current
// image's sizes, conditionals pick their branch per image.
func TestExpressionsAndConditionals(t *testing.T) {
	e := testEngine()
	landscape, portrait := photoJPEG(t, 1200, 800), photoJPEG(t, 600, 900)
	for _, tc := range []struct {
		name string
		src  []byte
		tr   string
		w, h int
	}{
		{name: "half the input", src: landscape, tr: "w-iw_div_2", w: 600, h: 400},
		{name: "current size in a later step", src: landscape, tr: "w-600:w-cw_div_2", w: 300, h: 200},
		{name: "input size in a later step", src: landscape, tr: "w-600:w-iw_div_4", w: 300, h: 200},
		{name: "square from the shorter side", src: landscape, tr: "w-ih,h-ih,c-force", w: 800, h: 800},
		{name: "landscape branch", src: landscape, tr: "if-iar_gt_1,w-300,if-else,h-300,if-end", w: 300, h: 200},
		{name: "ImageKit's example, landscape", src: landscape, tr: "if-ar_gt_1,w-200,if-else,w-300,if-end", w: 200, h: 133},
		{name: "ImageKit's example, portrait", src: portrait, tr: "if-ar_gt_1,w-200,if-else,w-300,if-end", w: 300, h: 450},
		{name: "ImageKit's chain example", src: landscape, tr: "h-200:if-h_eq_200,w-100,if-end:rt-90", w: 67, h: 100},
		{name: "portrait branch", src: portrait, tr: "if-iar_gt_1,w-300,if-else,h-300,if-end", w: 200, h: 300},
		{name: "no else: untouched", src: portrait, tr: "if-iw_gt_1000,w-100,if-end", w: 600, h: 900},
		{name: "conditional in a later step", src: landscape, tr: "w-500:if-cw_lt_600,w-cw_div_5,if-end", w: 100, h: 67},
		{name: "chained branch, first step", src: landscape, tr: "if-ar_gt_1,w-300:rt-90,if-else,w-100,if-end", w: 200, h: 300},
		{name: "chained branch, else", src: portrait, tr: "if-ar_gt_1,w-300:rt-90,if-else,w-100,if-end", w: 100, h: 150},
		{name: "chained block in a later step", src: landscape, tr: "w-300,h-600,c-force:if-ar_gt_1,w-50:rt-90,if-else,w-150:w-cw_div_3,if-end", w: 50, h: 100},
		{name: "chained block with neighbours", src: landscape, tr: "w-600,if-iw_gt_1000,w-400:rt-90,if-end,h-200:w-cw_mul_2", w: 400, h: 600},
		{name: "extract centred by expression", src: landscape, tr: "w-200,h-100,cm-extract,xc-iw_div_2,yc-ih_div_2", w: 200, h: 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.Transform(context.Background(), Request{Source: tc.src, Transformation: mustParse(t, tc.tr), Format: "jpeg"})
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := image.DecodeConfig(bytes.NewReader(res.Body))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Width != tc.w || cfg.Height != tc.h {
				t.Fatalf("%s: %d×%d, want %d×%d", tc.tr, cfg.Width, cfg.Height, tc.w, tc.h)
			}
		})
	}
}

// TestPageSelection: pg- renders one frame of an animation (one page of a
// multi-page source); past the last, or on a single-page image, it is 400.
func TestPageSelection(t *testing.T) {
	e := testEngine()
	anim := animatedGIF(t, 40, 30, 3) // red, green, blue frames
	for _, tc := range []struct {
		tr   string
		want color.NRGBA
	}{
		{"w-20", color.NRGBA{200, 30, 30, 255}},
		{"pg-1,w-20", color.NRGBA{200, 30, 30, 255}},
		{"pg-2,w-20", color.NRGBA{30, 200, 30, 255}},
		{"w-20:pg-3", color.NRGBA{30, 30, 200, 255}},
	} {
		res, err := e.Transform(context.Background(), Request{Source: anim, Transformation: mustParse(t, tc.tr), Format: "png"})
		if err != nil {
			t.Fatalf("%s: %v", tc.tr, err)
		}
		img := decode(t, res.Body)
		if got := nrgba(img.At(10, 7)); !near(got, tc.want, 40) || img.Bounds().Dx() != 20 {
			t.Errorf("%s: %v (%v), want %v at 20 px wide", tc.tr, got, img.Bounds(), tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		src  []byte
		tr   string
	}{
		{"past the last frame", anim, "pg-4"},
		{"a single-page image", photoJPEG(t, 40, 30), "pg-2"},
	} {
		_, err := e.Transform(context.Background(), Request{Source: tc.src, Transformation: mustParse(t, tc.tr), Format: "png"})
		if errkind.KindOf(err) != errkind.Invalid || !strings.Contains(err.Error(), `"pg"`) {
			t.Errorf("%s: %v, want 400 naming pg", tc.name, err)
		}
	}
	if _, err := e.Transform(context.Background(), Request{Source: photoJPEG(t, 40, 30), Transformation: mustParse(t, "pg-1"), Format: "png"}); err != nil {
		t.Errorf("pg-1 on a JPEG: %v", err)
	}
}
