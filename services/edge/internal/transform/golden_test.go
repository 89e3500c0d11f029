package transform

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"io"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"
)

var (
	fixturesOnce sync.Once
	fixtures     map[string][]byte
	sceneImage   = scene(480, 360, false) // the pixels behind "scene", for exact checks
)

func testEngine() *Engine {
	return New(Config{MaxSourcePixels: 100_000_000, Workers: 2, QueueLength: 64, QueueWait: 10 * time.Second, Deadline: 20 * time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// sources builds every generated fixture once per test binary.
func sources(t testing.TB) map[string][]byte {
	fixturesOnce.Do(func() {
		fixtures = map[string][]byte{
			"photo":    photoJPEG(t, 480, 360),
			"scene":    encodePNGImage(t, sceneImage),
			"alpha":    alphaPNG(t, 320, 240),
			"quad":     encodePNGImage(t, quadrants(64, 48)),
			"tiny":     encodePNGImage(t, quadrants(1, 1)),
			"tinyjpg":  encodeJPEGImage(t, quadrants(1, 1), 90),
			"bordered": encodePNGImage(t, bordered()),
			"flat":     encodePNGImage(t, lowContrast()),
			"grey":     encodeJPEGImage(t, greyScene(), 90),
			"exif6":    orientedJPEG(t, 64, 48, 6),
			"anim":     animatedGIF(t, 40, 30, 3),
			"deep":     encodePNGImage(t, deepScene()),
		}
	})
	return fixtures
}

// bordered is a 200×150 scene inside a 10 px ring of (235,235,235) inside
// a 10 px ring of white: t-true trims the white only, a threshold above 20
// trims both.
func bordered() *image.NRGBA {
	inner := scene(200, 150, false)
	img := image.NewNRGBA(image.Rect(0, 0, 240, 190))
	for y := 0; y < 190; y++ {
		for x := 0; x < 240; x++ {
			c := color.NRGBA{255, 255, 255, 255}
			if x >= 10 && x < 230 && y >= 10 && y < 180 {
				c = color.NRGBA{235, 235, 235, 255}
			}
			if x >= 20 && x < 220 && y >= 20 && y < 170 {
				c = inner.NRGBAAt(x-20, y-20)
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// lowContrast squeezes the scene's brightness into 100..150.
func lowContrast() *image.NRGBA {
	img := scene(240, 180, false)
	for i := 0; i < len(img.Pix); i += 4 {
		for c := 0; c < 3; c++ {
			img.Pix[i+c] = uint8(100 + int(img.Pix[i+c])*50/255)
		}
	}
	return img
}

func greyScene() *image.Gray {
	s := scene(160, 120, false)
	g := image.NewGray(s.Bounds())
	for y := 0; y < 120; y++ {
		for x := 0; x < 160; x++ {
			g.Set(x, y, s.At(x, y))
		}
	}
	return g
}

// deepScene is a 16-bit-per-channel PNG.
func deepScene() *image.NRGBA64 {
	s := scene(160, 120, false)
	d := image.NewNRGBA64(s.Bounds())
	for y := 0; y < 120; y++ {
		for x := 0; x < 160; x++ {
			c := s.NRGBAAt(x, y)
			d.SetNRGBA64(x, y, color.NRGBA64{uint16(c.R) * 257, uint16(c.G) * 257, uint16(c.B) * 257, 0xFFFF})
		}
	}
	return d
}

type pixelCheck func(t *testing.T, out image.Image)

// at asserts the output pixel at (x, y) is within tol of c.
func at(x, y int, c color.NRGBA, tol int) pixelCheck {
	return func(t *testing.T, out image.Image) {
		t.Helper()
		if got := nrgbaAt(out, x, y); !near(got, c, tol) {
			t.Errorf("pixel (%d,%d) = %v, want %v ±%d", x, y, got, c, tol)
		}
	}
}

// fromScene asserts the output pixel at (x, y) is the scene's pixel at
// (sx, sy): for crops from a lossless source, where nothing is resampled.
func fromScene(x, y, sx, sy int) pixelCheck {
	return at(x, y, sceneImage.NRGBAAt(sx, sy), 0)
}

func halfOverWhite(c color.NRGBA) color.NRGBA {
	return color.NRGBA{uint8((int(c.R) + 255) / 2), uint8((int(c.G) + 255) / 2), uint8((int(c.B) + 255) / 2), 255}
}

func alphaAt(x, y int, lo, hi uint8) pixelCheck {
	return func(t *testing.T, out image.Image) {
		t.Helper()
		if a := nrgbaAt(out, x, y).A; a < lo || a > hi {
			t.Errorf("alpha at (%d,%d) = %d, want %d..%d", x, y, a, lo, hi)
		}
	}
}

// lumaSpread is the standard deviation of brightness: blur lowers it,
// sharpening and contrast stretching raise it.
func lumaSpread(img image.Image) float64 {
	b := img.Bounds()
	var sum, sq, n float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			l := 0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B)
			sum += l
			sq += l * l
			n++
		}
	}
	m := sum / n
	return math.Sqrt(sq/n - m*m)
}

func lumaRange(img image.Image) (lo, hi float64) {
	lo, hi = 255, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			l := 0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B)
			lo, hi = math.Min(lo, l), math.Max(hi, l)
		}
	}
	return lo, hi
}

func spreadVersus(src string, cmp func(out, in float64) bool, what string) pixelCheck {
	return func(t *testing.T, out image.Image) {
		t.Helper()
		in := decode(t, sources(t)[src])
		if o, i := lumaSpread(out), lumaSpread(in); !cmp(o, i) {
			t.Errorf("brightness spread %.1f vs source %.1f: want %s", o, i, what)
		}
	}
}

var (
	red    = color.NRGBA{255, 0, 0, 255}
	green  = color.NRGBA{0, 255, 0, 255}
	blue   = color.NRGBA{0, 0, 255, 255}
	white  = color.NRGBA{255, 255, 255, 255}
	black  = color.NRGBA{0, 0, 0, 255}
	clear  = color.NRGBA{0, 0, 0, 0}
	qRed   = quadColours[0]
	qGreen = quadColours[1]
	qBlue  = quadColours[2]
	qYell  = quadColours[3]
)

type goldenCase struct {
	name   string
	src    string
	tr     string
	format string // negotiated format; "" keeps the source's
	want   string // output format
	w, h   int
	checks []pixelCheck
}

// Every core parameter and the main combinations. Each case checks the
// exact size and format, the perceptual signature against
// testdata/golden.json, and, where the semantics can be read off a pixel,
// that pixel.
var goldenCases = []goldenCase{
	// Size and crop.
	{name: "w", src: "photo", tr: "w-240", want: "jpeg", w: 240, h: 180},
	{name: "h", src: "photo", tr: "h-90", want: "jpeg", w: 120, h: 90},
	{name: "w fraction", src: "photo", tr: "w-0.25", want: "jpeg", w: 120, h: 90},
	{name: "ar with w", src: "photo", tr: "w-200,ar-1-1", want: "jpeg", w: 200, h: 200},
	{name: "ar alone", src: "photo", tr: "ar-1-1", want: "jpeg", w: 360, h: 360},
	{name: "dpr", src: "photo", tr: "w-100,dpr-2", want: "jpeg", w: 200, h: 150},
	{name: "cover crop centre", src: "scene", tr: "w-240,h-240", want: "png", w: 240, h: 240},
	{name: "fo-left", src: "scene", tr: "w-180,h-180,fo-left", want: "png", w: 180, h: 180,
		checks: []pixelCheck{at(0, 0, sceneImage.NRGBAAt(0, 0), 12)}},
	{name: "fo-bottom_right", src: "scene", tr: "w-300,h-100,fo-bottom_right", want: "png", w: 300, h: 100,
		checks: []pixelCheck{at(0, 99, sceneImage.NRGBAAt(0, 359), 12)}},
	{name: "fo-top", src: "scene", tr: "w-300,h-100,fo-top", want: "png", w: 300, h: 100},
	{name: "fo-auto", src: "photo", tr: "w-150,h-200,fo-auto", want: "jpeg", w: 150, h: 200},
	{name: "c-force", src: "photo", tr: "w-200,h-200,c-force", want: "jpeg", w: 200, h: 200},
	{name: "c-at_max", src: "photo", tr: "w-200,h-200,c-at_max", want: "jpeg", w: 200, h: 150},
	{name: "c-at_max refuses upscale", src: "photo", tr: "w-1000,h-1000,c-at_max", want: "jpeg", w: 480, h: 360},
	{name: "c-at_max w only refuses upscale", src: "photo", tr: "w-1000,c-at_max", want: "jpeg", w: 480, h: 360},
	{name: "c-at_max_enlarge", src: "photo", tr: "w-1000,h-1000,c-at_max_enlarge", want: "jpeg", w: 1000, h: 750},
	{name: "c-at_least", src: "photo", tr: "w-200,h-200,c-at_least", want: "jpeg", w: 267, h: 200},

	// Padding and extraction.
	{name: "pad_resize bg", src: "scene", tr: "w-200,h-200,cm-pad_resize,bg-FF0000", want: "png", w: 200, h: 200,
		checks: []pixelCheck{at(100, 10, red, 0), at(100, 190, red, 0), alphaAt(100, 100, 255, 255)}},
	{name: "pad_resize fo-left", src: "scene", tr: "w-300,h-150,cm-pad_resize,fo-left,bg-0000FF", want: "png", w: 300, h: 150,
		checks: []pixelCheck{at(290, 75, blue, 0), at(0, 0, sceneImage.NRGBAAt(0, 0), 12)}},
	{name: "pad_resize fo-top jpeg pads white", src: "photo", tr: "w-200,h-300,cm-pad_resize,fo-top", want: "jpeg", w: 200, h: 300,
		checks: []pixelCheck{at(100, 290, white, 3)}},
	{name: "pad_resize png pads transparent", src: "photo", tr: "w-200,h-200,cm-pad_resize", format: "png", want: "png", w: 200, h: 200,
		checks: []pixelCheck{alphaAt(100, 5, 0, 0), alphaAt(100, 100, 255, 255)}},
	{name: "extract centre", src: "scene", tr: "w-100,h-100,cm-extract", want: "png", w: 100, h: 100,
		checks: []pixelCheck{fromScene(0, 0, 190, 130), fromScene(99, 99, 289, 229)}},
	{name: "extract x y", src: "scene", tr: "w-100,h-80,cm-extract,x-10,y-20", want: "png", w: 100, h: 80,
		checks: []pixelCheck{fromScene(0, 0, 10, 20), fromScene(99, 79, 109, 99)}},
	{name: "extract xc yc", src: "scene", tr: "w-100,h-100,cm-extract,xc-200,yc-150", want: "png", w: 100, h: 100,
		checks: []pixelCheck{fromScene(0, 0, 150, 100)}},
	{name: "extract fo-bottom_right", src: "scene", tr: "w-100,h-100,cm-extract,fo-bottom_right", want: "png", w: 100, h: 100,
		checks: []pixelCheck{fromScene(99, 99, 479, 359), fromScene(0, 0, 380, 260)}},
	{name: "extract fo-auto", src: "scene", tr: "w-120,h-120,cm-extract,fo-auto", want: "png", w: 120, h: 120},
	{name: "extract w only", src: "scene", tr: "w-100,cm-extract,fo-left", want: "png", w: 100, h: 360,
		checks: []pixelCheck{fromScene(0, 0, 0, 0)}},
	{name: "pad_extract larger", src: "scene", tr: "w-600,h-400,cm-pad_extract,bg-00FF00", want: "png", w: 600, h: 400,
		checks: []pixelCheck{at(0, 0, green, 0), fromScene(60, 20, 0, 0), fromScene(539, 379, 479, 359)}},
	{name: "pad_extract past the edge", src: "scene", tr: "w-200,h-200,cm-pad_extract,x-400,y-300", want: "png", w: 200, h: 200,
		checks: []pixelCheck{fromScene(0, 0, 400, 300), alphaAt(150, 150, 0, 0)}},

	// Colours, borders, corners.
	{name: "bg flattens alpha", src: "alpha", tr: "bg-00FF00", want: "png", w: 320, h: 240,
		checks: []pixelCheck{at(0, 0, green, 0), alphaAt(200, 200, 255, 255)}},
	{name: "bg with opacity", src: "alpha", tr: "bg-00FF0050", want: "png", w: 320, h: 240,
		checks: []pixelCheck{at(0, 0, color.NRGBA{0, 255, 0, 128}, 1)}},
	{name: "bg named", src: "alpha", tr: "bg-navy", format: "jpeg", want: "jpeg", w: 320, h: 240,
		checks: []pixelCheck{at(2, 2, color.NRGBA{0, 0, 128, 255}, 4)}},
	{name: "alpha to jpeg flattens on white", src: "alpha", tr: "w-160", format: "jpeg", want: "jpeg", w: 160, h: 120,
		checks: []pixelCheck{at(2, 2, white, 3)}},
	{name: "border", src: "scene", tr: "b-10_FF0000", want: "png", w: 480, h: 360,
		checks: []pixelCheck{at(0, 0, red, 0), at(9, 200, red, 0), at(479, 359, red, 0), fromScene(10, 10, 10, 10)}},
	{name: "border translucent", src: "scene", tr: "b-10_0000FF50", want: "png", w: 480, h: 360,
		checks: []pixelCheck{alphaAt(5, 5, 255, 255)}},
	{name: "radius png", src: "scene", tr: "r-40", want: "png", w: 480, h: 360,
		checks: []pixelCheck{alphaAt(0, 0, 0, 0), alphaAt(240, 180, 255, 255), alphaAt(240, 0, 255, 255), fromScene(240, 180, 240, 180)}},
	{name: "radius jpeg white corners", src: "photo", tr: "r-40", want: "jpeg", w: 480, h: 360,
		checks: []pixelCheck{at(1, 1, white, 3)}},
	{name: "radius jpeg bg corners", src: "photo", tr: "r-40,bg-000000", want: "jpeg", w: 480, h: 360,
		checks: []pixelCheck{at(1, 1, black, 8)}},
	{name: "radius max ellipse", src: "scene", tr: "r-max", want: "png", w: 480, h: 360,
		checks: []pixelCheck{alphaAt(2, 2, 0, 0), alphaAt(240, 180, 255, 255), alphaAt(0, 180, 100, 255), alphaAt(60, 30, 0, 0)}},
	{name: "radius and border", src: "scene", tr: "r-60,b-8_0000FF", want: "png", w: 480, h: 360,
		checks: []pixelCheck{alphaAt(0, 0, 0, 0), at(240, 3, blue, 0), at(3, 180, blue, 0)}},

	// Rotation and flips (quadrants: red top-left, green top-right, blue
	// bottom-left, yellow bottom-right).
	{name: "rt-90", src: "quad", tr: "rt-90", want: "png", w: 48, h: 64,
		checks: []pixelCheck{at(47, 0, qRed, 0), at(0, 0, qBlue, 0)}},
	{name: "rt-N90", src: "quad", tr: "rt-N90", want: "png", w: 48, h: 64,
		checks: []pixelCheck{at(0, 63, qRed, 0), at(0, 0, qGreen, 0)}},
	{name: "rt-180", src: "quad", tr: "rt-180", want: "png", w: 64, h: 48,
		checks: []pixelCheck{at(63, 47, qRed, 0)}},
	{name: "rt-45 png", src: "scene", tr: "rt-45", want: "png", w: 594, h: 594,
		checks: []pixelCheck{alphaAt(0, 0, 0, 0), alphaAt(297, 297, 255, 255)}},
	{name: "rt-45 turns clockwise", src: "quad", tr: "rt-45", want: "png", w: 79, h: 79,
		checks: []pixelCheck{at(33, 6, qRed, 40), at(72, 44, qGreen, 40), alphaAt(0, 0, 0, 0)}},
	{name: "rt-30 jpeg white corners", src: "photo", tr: "w-240,rt-30", want: "jpeg", w: 298, h: 276,
		checks: []pixelCheck{at(1, 1, white, 3)}},
	{name: "rt-N30 bg", src: "scene", tr: "w-240,rt-N30,bg-FF0000", want: "png", w: 298, h: 276,
		checks: []pixelCheck{at(1, 1, red, 0)}},
	{name: "rt-auto is upright", src: "exif6", tr: "rt-auto", want: "jpeg", w: 64, h: 48,
		checks: []pixelCheck{at(4, 4, qRed, 20), at(60, 44, qYell, 20)}},
	{name: "fl-h", src: "quad", tr: "fl-h", want: "png", w: 64, h: 48, checks: []pixelCheck{at(0, 0, qGreen, 0), at(63, 0, qRed, 0)}},
	{name: "fl-v", src: "quad", tr: "fl-v", want: "png", w: 64, h: 48, checks: []pixelCheck{at(0, 0, qBlue, 0)}},
	{name: "fl-h_v", src: "quad", tr: "fl-h_v", want: "png", w: 64, h: 48, checks: []pixelCheck{at(0, 0, qYell, 0)}},

	// Effects.
	{name: "bl", src: "photo", tr: "bl-10", want: "jpeg", w: 480, h: 360,
		checks: []pixelCheck{spreadVersus("photo", func(o, i float64) bool { return o < i }, "lower (blurred)")}},
	{name: "o-50 png", src: "scene", tr: "o-50", want: "png", w: 480, h: 360, checks: []pixelCheck{alphaAt(240, 180, 126, 129)}},
	{name: "o-50 jpeg over white", src: "scene", tr: "o-50", format: "jpeg", want: "jpeg", w: 480, h: 360,
		checks: []pixelCheck{at(20, 350, halfOverWhite(sceneImage.NRGBAAt(20, 350)), 6)}},
	{name: "t-true", src: "bordered", tr: "t-true", want: "png", w: 220, h: 170, checks: []pixelCheck{at(0, 0, color.NRGBA{235, 235, 235, 255}, 0)}},
	{name: "t-5", src: "bordered", tr: "t-5", want: "png", w: 220, h: 170},
	{name: "t-30", src: "bordered", tr: "t-30", want: "png", w: 200, h: 150},
	{name: "t on alpha", src: "alpha", tr: "t-true", want: "png", w: 280, h: 210},
	{name: "e-grayscale", src: "photo", tr: "e-grayscale", want: "jpeg", w: 480, h: 360,
		checks: []pixelCheck{func(t *testing.T, out image.Image) {
			if _, ok := out.(*image.Gray); !ok {
				t.Errorf("grayscale JPEG decoded as %T, want *image.Gray", out)
			}
		}}},
	{name: "e-sharpen", src: "photo", tr: "e-sharpen", want: "jpeg", w: 480, h: 360,
		checks: []pixelCheck{spreadVersus("photo", func(o, i float64) bool { return o > i }, "higher (sharpened)")}},
	{name: "e-sharpen-40", src: "photo", tr: "e-sharpen-40", want: "jpeg", w: 480, h: 360,
		checks: []pixelCheck{spreadVersus("photo", func(o, i float64) bool { return o > i }, "higher (sharpened)")}},
	{name: "e-usm", src: "photo", tr: "e-usm-2-2-0.8-0.024", want: "jpeg", w: 480, h: 360,
		checks: []pixelCheck{spreadVersus("photo", func(o, i float64) bool { return o > i }, "higher (sharpened)")}},
	{name: "e-usm on alpha", src: "alpha", tr: "e-usm-0-1.5-2-0", want: "png", w: 320, h: 240},
	{name: "e-contrast", src: "flat", tr: "e-contrast", want: "png", w: 240, h: 180,
		checks: []pixelCheck{func(t *testing.T, out image.Image) {
			if lo, hi := lumaRange(out); lo > 15 || hi < 240 {
				t.Errorf("brightness after stretch spans %.0f..%.0f, want about 0..255", lo, hi)
			}
		}}},

	// Formats and encoder options.
	{name: "f-png", src: "photo", tr: "w-100", format: "png", want: "png", w: 100, h: 75},
	{name: "f-webp", src: "photo", tr: "w-100", format: "webp", want: "webp", w: 100, h: 75},
	{name: "f-avif", src: "photo", tr: "w-100", format: "avif", want: "avif", w: 100, h: 75},
	{name: "f-gif", src: "photo", tr: "w-100", format: "gif", want: "gif", w: 100, h: 75},
	{name: "f-jpg from alpha", src: "alpha", tr: "w-100", format: "jpeg", want: "jpeg", w: 100, h: 75},
	{name: "webp keeps alpha", src: "alpha", tr: "w-100", format: "webp", want: "webp", w: 100, h: 75},
	{name: "q-10", src: "photo", tr: "q-10", want: "jpeg", w: 480, h: 360},

	// Chains and combinations.
	{name: "chain resize rotate blur", src: "photo", tr: "w-400:rt-90:bl-5", want: "jpeg", w: 300, h: 400},
	{name: "chain crop then circle", src: "scene", tr: "w-300,h-300:r-max", want: "png", w: 300, h: 300,
		checks: []pixelCheck{alphaAt(1, 1, 0, 0), alphaAt(150, 150, 255, 255)}},
	{name: "pad then round with bg", src: "scene", tr: "w-300,h-200,cm-pad_resize,bg-FFFF00:r-30", want: "png", w: 300, h: 200,
		checks: []pixelCheck{alphaAt(0, 0, 0, 0), at(5, 100, color.NRGBA{255, 255, 0, 255}, 0)}},
	{name: "grayscale keeps bg colour", src: "scene", tr: "w-200,h-200,cm-pad_resize,bg-FF0000,e-grayscale", want: "png", w: 200, h: 200,
		checks: []pixelCheck{at(100, 5, red, 0)}},
	{name: "trim then resize", src: "bordered", tr: "t-30:w-100", want: "png", w: 100, h: 75},
	{name: "extract then rotate", src: "scene", tr: "w-200,h-100,cm-extract,x-0,y-0,rt-90", want: "png", w: 100, h: 200,
		checks: []pixelCheck{fromScene(99, 0, 0, 0)}},
	{name: "border on pad", src: "photo", tr: "w-200,h-200,cm-pad_resize,bg-FFFFFF,b-4_000000", want: "jpeg", w: 200, h: 200,
		checks: []pixelCheck{at(1, 100, black, 8), at(100, 10, white, 8)}},

	// Sources at the edges.
	{name: "tiny upscale", src: "tiny", tr: "w-50", want: "png", w: 50, h: 50, checks: []pixelCheck{at(25, 25, qYell, 0)}},
	{name: "tiny at_max", src: "tiny", tr: "w-50,h-50,c-at_max", want: "png", w: 1, h: 1},
	{name: "tiny jpeg", src: "tinyjpg", tr: "w-10,h-10", want: "jpeg", w: 10, h: 10},
	{name: "tiny trim", src: "tiny", tr: "t-true", want: "png", w: 1, h: 1},
	{name: "tiny round", src: "tiny", tr: "r-max", want: "png", w: 1, h: 1},
	{name: "tiny rotate", src: "tiny", tr: "rt-45", want: "png", w: 1, h: 1},
	{name: "tiny border", src: "tiny", tr: "b-3_0000FF", want: "png", w: 1, h: 1, checks: []pixelCheck{at(0, 0, blue, 0)}},
	{name: "grey source padded in colour", src: "grey", tr: "w-100,h-100,cm-pad_resize,bg-FF0000", want: "jpeg", w: 100, h: 100,
		checks: []pixelCheck{at(50, 3, red, 6)}},
	{name: "16-bit png", src: "deep", tr: "w-80", want: "png", w: 80, h: 60},
	{name: "animated gif first frame", src: "anim", tr: "w-20", want: "gif", w: 20, h: 15,
		checks: []pixelCheck{at(10, 7, color.NRGBA{200, 30, 30, 255}, 30)}},
}

func TestGolden(t *testing.T) {
	e := testEngine()
	src := sources(t)
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := e.Transform(context.Background(), Request{Source: src[tc.src], Transformation: mustParse(t, tc.tr), Format: tc.format})
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != tc.want || res.Width != tc.w || res.Height != tc.h {
				t.Fatalf("got %s %d×%d, want %s %d×%d", res.Format, res.Width, res.Height, tc.want, tc.w, tc.h)
			}
			// The encoded file, not only what the pipeline reports.
			hd, err := readHeader(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if hd.width != tc.w || hd.height != tc.h || hd.loader != loaderOf[tc.want] {
				t.Fatalf("encoded file is %s %d×%d", hd.loader, hd.width, hd.height)
			}
			switch tc.want {
			case "jpeg", "png", "gif":
				out := decode(t, res.Body)
				for _, c := range tc.checks {
					c(t, out)
				}
				checkGolden(t, tc.name, out)
			default:
				if len(tc.checks) > 0 {
					t.Fatalf("pixel checks need a format Go decodes, not %s", tc.want)
				}
			}
		})
	}
}

var loaderOf = map[string]string{
	"jpeg": "jpegload_buffer", "png": "pngload_buffer", "webp": "webpload_buffer",
	"gif": "gifload_buffer", "avif": "heifload_buffer",
}

func TestAnimatedGIFKeepsOneFrame(t *testing.T) {
	res, err := testEngine().Transform(context.Background(), Request{Source: sources(t)["anim"], Format: "gif"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(bytes.NewReader(res.Body))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Image) != 1 {
		t.Fatalf("output has %d frames; Pictor renders the first frame only", len(g.Image))
	}
}
