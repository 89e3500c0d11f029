package transform

import (
	"context"
	"image"
	"image/color"
	"image/color/palette"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pictor/services/internal/errkind"
)

// oddFile says what a file of testdata/odd must give: a render whose
// normalised image has alpha or not, and is grey or colour, unless refused
// names the 422 reason that is the documented answer.
type oddFile struct {
	alpha, grey bool
	// pixel, when set, is a point of the first frame or page rendered
	// with no transformation, and its colour.
	pixel   *oddPixel
	refused string
}

type oddPixel struct {
	x, y int
	c    color.NRGBA
}

var oddExpect = map[string]oddFile{
	// 6 samples per pixel: libvips loads 6-band sRGB whose last band is
	// alpha; bands 4 and 5 are dropped.
	"six-band.tiff":    {alpha: true, pixel: &oddPixel{20, 5, color.NRGBA{0, 0, 0, 200}}},
	"grey-alpha.png":   {alpha: true, grey: true, pixel: &oddPixel{20, 5, color.NRGBA{160, 160, 160, 200}}},
	"grey-extra.tiff":  {alpha: true},
	"cmyk.jpg":         {},
	"cmyk-alpha.tiff":  {alpha: true},
	"rgb16.png":        {pixel: &oddPixel{3, 3, color.NRGBA{0x12, 0x56, 0x9A, 255}}},
	"rgba16.png":       {alpha: true, pixel: &oddPixel{3, 3, color.NRGBA{0x12, 0x56, 0x9A, 0x80}}},
	"grey16.png":       {grey: true, pixel: &oddPixel{3, 3, color.NRGBA{0xAB, 0xAB, 0xAB, 255}}},
	"palette-trns.png": {alpha: true, pixel: &oddPixel{3, 3, color.NRGBA{0, 0, 0, 0}}},
	// Only the first page or frame is rendered.
	"multipage.tiff": {pixel: &oddPixel{3, 3, color.NRGBA{200, 200, 200, 255}}},
	"animated.gif":   {pixel: &oddPixel{3, 3, firstGIFColour}}, // no transparent index: 3 bands
	"animated.webp":  {alpha: true},
	// Float samples: no web format carries them.
	"float.tiff": {refused: "source_pixel_format"},
}

// firstGIFColour is animatedGIF's first frame colour as its palette holds it.
var firstGIFColour = color.NRGBAModel.Convert(color.Palette(palette.Plan9).Convert(color.RGBA{200, 30, 30, 255})).(color.NRGBA)

// oddCorpus makes testdata/odd (go test -update-corpus).
func oddCorpus(t *testing.T) map[string][]byte {
	const w, h = 32, 24
	flat := func(n int, v ...byte) []byte { return samplePixels(w, h, n, func(x, y, s int) byte { return v[s] }) }
	grey := samplePixels(w, h, 2, func(x, y, s int) byte {
		if s == 1 {
			return map[bool]byte{true: 0, false: 200}[x < w/4]
		}
		return 160
	})
	deep := func(alpha uint16) *image.NRGBA64 {
		img := image.NewNRGBA64(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				img.SetNRGBA64(x, y, color.NRGBA64{0x1234, 0x5678, 0x9ABC, alpha})
			}
		}
		return img
	}
	grey16 := image.NewGray16(image.Rect(0, 0, w, h))
	for i := range grey16.Pix {
		grey16.Pix[i] = 0xAB
	}
	pal := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.NRGBA{}, color.NRGBA{20, 90, 200, 255}, color.NRGBA{240, 200, 20, 128}})
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			pal.SetColorIndex(x, y, uint8(min(2, x/(w/3))))
		}
	}
	e := testEngine()
	stills := make([][]byte, 0, 2)
	for _, src := range [][]byte{alphaPNG(t, w, h), photoJPEG(t, w, h)} {
		res, err := e.Transform(context.Background(), Request{Source: src, Format: "webp"})
		if err != nil {
			t.Fatal(err)
		}
		stills = append(stills, res.Body)
	}
	// Colour 0 and alpha 200 except in the transparent left quarter; the
	// two extra bands hold 77, so a pipeline that took band 4 or 5 for
	// alpha shows.
	six := tiffFile(tiffPage{width: w, height: h, samples: 6, bits: 8, photometric: 2, extra: []uint16{0, 0, 2},
		pix: samplePixels(w, h, 6, func(x, y, s int) byte {
			switch {
			case s < 3:
				return 0
			case s < 5:
				return 77
			case x < w/4:
				return 0
			}
			return 200
		})})
	return map[string][]byte{
		"six-band.tiff":    six,
		"grey-alpha.png":   rawPNG(t, w, h, 4, 8, grey),
		"grey-extra.tiff":  tiffFile(tiffPage{width: w, height: h, samples: 3, bits: 8, photometric: 1, extra: []uint16{0, 2}, pix: flat(3, 90, 7, 180)}),
		"cmyk.jpg":         readTestdata(t, "cmyk.jpg"), // Go cannot write CMYK JPEG
		"cmyk-alpha.tiff":  tiffFile(tiffPage{width: w, height: h, samples: 5, bits: 8, photometric: 5, extra: []uint16{2}, pix: flat(5, 10, 200, 30, 0, 160)}),
		"rgb16.png":        encodePNGImage(t, deep(0xFFFF)),
		"rgba16.png":       encodePNGImage(t, deep(0x8000)),
		"grey16.png":       encodePNGImage(t, grey16),
		"palette-trns.png": encodePNGImage(t, pal),
		"multipage.tiff": tiffFile(
			tiffPage{width: w, height: h, samples: 3, bits: 8, photometric: 2, pix: flat(3, 200, 200, 200)},
			tiffPage{width: w, height: h, samples: 3, bits: 8, photometric: 2, pix: flat(3, 50, 50, 50)}),
		"animated.gif":  animatedGIF(t, w, h, 3),
		"animated.webp": animatedWebP(t, w, h, stills...),
		"float.tiff":    tiffFile(tiffPage{width: 8, height: 8, samples: 1, bits: 32, float: true, photometric: 1, pix: make([]byte, 8*8*4)}),
	}
}

// TestOddCorpusRenders: every well-formed odd file renders, with the
// band layout and first-frame pixels expected, or is refused where that is
// the documented answer.
func TestOddCorpusRenders(t *testing.T) {
	e := testEngine()
	files := readCorpus(t, oddDir)
	if len(files) != len(oddExpect) {
		t.Fatalf("%s has %d files, oddExpect %d; regenerate with -update-corpus", oddDir, len(files), len(oddExpect))
	}
	for name, src := range files {
		want, ok := oddExpect[name]
		if !ok {
			t.Fatalf("%s: no expectation", name)
		}
		t.Run(name, func(t *testing.T) {
			hd, err := readHeader(src)
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Transform(context.Background(), Request{Source: src, Format: "png"})
			if want.refused != "" {
				if res != nil || errkind.Reason(err) != want.refused {
					t.Fatalf("got %v, %v; want a 422 %s", res, err, want.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out, err := readHeader(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if hd.hasAlpha != want.alpha || out.hasAlpha != want.alpha {
				t.Errorf("alpha: header %v, output %v; want %v", hd.hasAlpha, out.hasAlpha, want.alpha)
			}
			if isGrey := strings.Contains(out.layout, "b-w"); isGrey != want.grey {
				t.Errorf("output is %s; want grey %v", out.layout, want.grey)
			}
			if p := want.pixel; p != nil {
				if got := nrgbaAt(decode(t, res.Body), p.x, p.y); !near(got, p.c, 2) && !(p.c.A == 0 && got.A == 0) {
					t.Errorf("pixel (%d,%d) = %v, want %v", p.x, p.y, got, p.c)
				}
			}
		})
	}
}

// colourOps are the operations that add, remove or depend on alpha and
// colour bands, each run on every corpus file in every output format.
var colourOps = []string{"o-50", "bg-FF000080", "bg-00FF00", "e-grayscale", "r-20", "r-max", "w-40,h-40,cm-pad_resize,bg-0000FF"}

// wantAlpha is whether op leaves alpha on an image that has it or not.
func wantAlpha(op string, alpha bool) bool {
	switch op {
	case "o-50", "r-20", "r-max":
		return true
	case "bg-00FF00", "w-40,h-40,cm-pad_resize,bg-0000FF":
		return false
	}
	return alpha
}

// TestCorpusColourOperations runs every corpus file, malformed and odd,
// through every colour operation in every output format: each gives a
// result or a 422, never anything else (a crash ends the test binary). The
// odd files must render, in the format asked for, with the bands the
// operation implies.
func TestCorpusColourOperations(t *testing.T) {
	e := New(Config{MaxSourcePixels: 100_000_000, Workers: 2, QueueLength: 256, QueueWait: time.Minute, Deadline: 20 * time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	formats := []string{"png", "webp", "avif", "jpg"}
	for _, dir := range []string{corpusDir, oddDir} {
		for name, src := range readCorpus(t, dir) {
			odd, isOdd := oddExpect[name]
			isOdd = isOdd && dir == oddDir
			t.Run(dir+"/"+name, func(t *testing.T) {
				t.Parallel()
				for _, op := range colourOps {
					for _, f := range formats {
						tr := op + ",f-" + f
						format, _ := NegotiateFormat(f, "", false)
						res, err := e.Transform(context.Background(), Request{Source: src, Transformation: mustParse(t, tr), Format: format})
						if err != nil {
							if res != nil || errkind.KindOf(err) != errkind.Unprocessable {
								t.Errorf("[%s]: %v, want a result or a 422", tr, err)
							} else if isOdd && odd.refused != errkind.Reason(err) {
								t.Errorf("[%s]: %v, want it rendered", tr, err)
							} else if want := corpusExpect[name]; !isOdd && want != "" && errkind.Reason(err) != want {
								t.Errorf("[%s]: reason %s, want %s", tr, errkind.Reason(err), want)
							}
							continue
						}
						if isOdd && odd.refused != "" || !isOdd && corpusExpect[name] != "" {
							t.Errorf("[%s]: rendered, want a refusal", tr)
							continue
						}
						var alpha *bool
						if isOdd {
							a := wantAlpha(op, odd.alpha)
							alpha = &a
						}
						checkRendered(t, tr, op, format, res, alpha)
					}
				}
			})
		}
	}
}

// checkRendered reads the encoded result back: the format asked for, the
// size reported, alpha where the operation keeps or adds it (when alpha is
// known: the odd files'), none in JPEG, grey after e-grayscale.
func checkRendered(t *testing.T, tr, op, format string, res *Result, alpha *bool) {
	t.Helper()
	hd, err := readHeader(res.Body)
	switch {
	case err != nil:
		t.Errorf("[%s]: output does not read back: %v", tr, err)
	case res.Format != format || hd.loader != loaderOf[format]:
		t.Errorf("[%s]: %s (%s), want %s", tr, res.Format, hd.loader, format)
	case hd.width != res.Width || hd.height != res.Height:
		t.Errorf("[%s]: encoded %d×%d, reported %d×%d", tr, hd.width, hd.height, res.Width, res.Height)
	case format == "jpeg" && hd.hasAlpha:
		t.Errorf("[%s]: JPEG with alpha", tr)
	// PNG keeps every alpha band; WebP and AVIF drop an opaque one, so
	// they are held to alpha only where o-50 makes it translucent.
	case format == "png" && alpha != nil && hd.hasAlpha != *alpha, op == "o-50" && format != "jpeg" && !hd.hasAlpha:
		t.Errorf("[%s]: output alpha %v (%s)", tr, hd.hasAlpha, hd.layout)
	case op == "e-grayscale" && (format == "png" || format == "jpeg") && !strings.Contains(hd.layout, "b-w"):
		t.Errorf("[%s]: output is %s, want grey", tr, hd.layout)
	}
}

func readCorpus(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, ent := range entries {
		b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[ent.Name()] = b
	}
	return files
}
