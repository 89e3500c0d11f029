package transform

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"testing"
	"time"

	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

func testEngine() *Engine {
	return New(Config{MaxSourcePixels: 100_000_000, Workers: 2, QueueLength: 4, QueueWait: time.Second, Deadline: 10 * time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// gradient makes a w×h image with enough structure to survive encoding.
func gradient(w, h int, alpha bool) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			a := uint8(255)
			if alpha && x < w/2 {
				a = 0
			}
			img.Set(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, a})
		}
	}
	return img
}

func encodeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, gradient(w, h, false), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, w, h int, alpha bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, gradient(w, h, alpha)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

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
		crop   *rect
	}{
		{name: "no resize", w: 400, h: 300, tr: "", rw: 400, rh: 300},
		{name: "width only", w: 1200, h: 800, tr: "w-300", rw: 300, rh: 200},
		{name: "height only", w: 1200, h: 800, tr: "h-100", rw: 150, rh: 100},
		{name: "fraction", w: 1200, h: 800, tr: "w-0.5", rw: 600, rh: 400},
		{name: "dpr", w: 1200, h: 800, tr: "w-300,dpr-2", rw: 600, rh: 400},
		{name: "upscale allowed by default", w: 100, h: 50, tr: "w-200", rw: 200, rh: 100},
		{name: "at_max refuses upscale", w: 100, h: 50, tr: "w-200,c-at_max", rw: 100, rh: 50},
		{name: "cover then crop center", w: 1200, h: 800, tr: "w-300,h-300", rw: 450, rh: 300, crop: &rect{75, 0, 300, 300}},
		{name: "cover then crop left", w: 1200, h: 800, tr: "w-300,h-300,fo-left", rw: 450, rh: 300, crop: &rect{0, 0, 300, 300}},
		{name: "cover then crop bottom right", w: 800, h: 1200, tr: "w-300,h-300,fo-bottom_right", rw: 300, rh: 450, crop: &rect{0, 150, 300, 300}},
		{name: "force", w: 1200, h: 800, tr: "w-300,h-300,c-force", rw: 300, rh: 300},
		{name: "at_max fit", w: 1200, h: 800, tr: "w-300,h-300,c-at_max", rw: 300, rh: 200},
		{name: "at_max_enlarge", w: 120, h: 80, tr: "w-300,h-300,c-at_max_enlarge", rw: 300, rh: 200},
		{name: "at_least", w: 1200, h: 800, tr: "w-300,h-300,c-at_least", rw: 450, rh: 300},
		{name: "aspect ratio with width", w: 1200, h: 800, tr: "w-400,ar-1-1", rw: 600, rh: 400, crop: &rect{100, 0, 400, 400}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustParse(t, tc.tr)
			st := imgurl.Step{}
			if len(tr.Steps) > 0 {
				st = tr.Steps[0]
			}
			g, err := planResize(tc.w, tc.h, st, "jpeg")
			if err != nil {
				t.Fatal(err)
			}
			if g.resizeW != tc.rw || g.resizeH != tc.rh {
				t.Fatalf("resize = %d×%d, want %d×%d", g.resizeW, g.resizeH, tc.rw, tc.rh)
			}
			if (g.crop == nil) != (tc.crop == nil) || g.crop != nil && *g.crop != *tc.crop {
				t.Fatalf("crop = %+v, want %+v", g.crop, tc.crop)
			}
		})
	}
}

func TestPlanResizeLimits(t *testing.T) {
	st := mustParse(t, "w-20000").Steps[0]
	if _, err := planResize(100, 100, st, "webp"); errkind.KindOf(err) != errkind.Invalid {
		t.Fatalf("webp over 16383 px: err = %v", err)
	}
	if _, err := planResize(100, 100, st, "jpeg"); err != nil {
		t.Fatalf("jpeg at 20000 px: %v", err)
	}
}

func TestTransform(t *testing.T) {
	e := testEngine()
	jpg := encodeJPEG(t, 1200, 800)
	alphaPNG := encodePNG(t, 400, 300, true)
	cases := []struct {
		name       string
		src        []byte
		tr, format string
		wantFormat string
		w, h       int
	}{
		{name: "jpeg w-300 keeps jpeg", src: jpg, tr: "w-300", wantFormat: "jpeg", w: 300, h: 200},
		{name: "jpeg to webp", src: jpg, tr: "w-300", format: "webp", wantFormat: "webp", w: 300, h: 200},
		{name: "jpeg to png", src: jpg, tr: "h-100", format: "png", wantFormat: "png", w: 150, h: 100},
		{name: "cover crop", src: jpg, tr: "w-200,h-200", wantFormat: "jpeg", w: 200, h: 200},
		{name: "smart crop", src: jpg, tr: "w-200,h-100,fo-auto", wantFormat: "jpeg", w: 200, h: 100},
		{name: "rotate 90", src: jpg, tr: "w-300,rt-90", wantFormat: "jpeg", w: 200, h: 300},
		{name: "chained", src: jpg, tr: "w-600:rt-90:w-100", wantFormat: "jpeg", w: 100, h: 150},
		{name: "effects", src: jpg, tr: "w-100,bl-5,e-grayscale,fl-h_v", wantFormat: "jpeg", w: 100, h: 67},
		{name: "alpha png to jpeg flattens", src: alphaPNG, tr: "w-200", format: "jpeg", wantFormat: "jpeg", w: 200, h: 150},
		{name: "alpha png stays png", src: alphaPNG, tr: "w-200", wantFormat: "png", w: 200, h: 150},
		{name: "gif output", src: jpg, tr: "w-50", format: "gif", wantFormat: "gif", w: 50, h: 33},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.Transform(context.Background(), Request{Source: tc.src, Transformation: mustParse(t, tc.tr), Format: tc.format})
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != tc.wantFormat || res.Width != tc.w || res.Height != tc.h {
				t.Fatalf("got %s %d×%d, want %s %d×%d", res.Format, res.Width, res.Height, tc.wantFormat, tc.w, tc.h)
			}
			// Check the encoded bytes, not only what the pipeline reports.
			hd, err := readHeader(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if hd.width != tc.w || hd.height != tc.h || hd.loader != map[string]string{
				"jpeg": "jpegload_buffer", "png": "pngload_buffer", "webp": "webpload_buffer", "gif": "gifload_buffer",
			}[tc.wantFormat] {
				t.Fatalf("encoded %s %d×%d", hd.loader, hd.width, hd.height)
			}
		})
	}
}

func TestTransformRefusals(t *testing.T) {
	e := testEngine()
	jpg := encodeJPEG(t, 64, 48)
	// A PNG header claiming 20000×20000 pixels: refused from the header
	// before any pixel is decoded.
	var bomb bytes.Buffer
	png.Encode(&bomb, image.NewGray(image.Rect(0, 0, 1, 1)))
	huge := bytes.Clone(bomb.Bytes())
	// IHDR width/height live at bytes 16..23, its CRC at 29..32.
	copy(huge[16:], []byte{0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20})
	binary.BigEndian.PutUint32(huge[29:], crc32.ChecksumIEEE(huge[12:29]))
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>`)
	cases := []struct {
		name   string
		src    []byte
		tr     string
		kind   errkind.Kind
		reason string
	}{
		{name: "empty", src: nil, kind: errkind.Unprocessable, reason: "source_empty"},
		{name: "garbage", src: []byte("this is not an image at all"), kind: errkind.Unprocessable},
		{name: "truncated jpeg", src: jpg[:len(jpg)/2], kind: errkind.Unprocessable, reason: "source_corrupt"},
		{name: "pixel bomb", src: huge, kind: errkind.Unprocessable, reason: "source_too_many_pixels"},
		{name: "svg blocked", src: svg, kind: errkind.Unprocessable, reason: "source_format_blocked"},
		{name: "pdf blocked", src: []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"), kind: errkind.Unprocessable},
		{name: "unimplemented parameter", src: jpg, tr: "w-10,r-5", kind: errkind.Unsupported},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Transform(context.Background(), Request{Source: tc.src, Transformation: mustParse(t, tc.tr)})
			if errkind.KindOf(err) != tc.kind || tc.reason != "" && errkind.Reason(err) != tc.reason {
				t.Fatalf("err = %v (kind %v, reason %s), want %v %s", err, errkind.KindOf(err), errkind.Reason(err), tc.kind, tc.reason)
			}
		})
	}
}

func TestQueueFull(t *testing.T) {
	e := New(Config{MaxSourcePixels: 1e8, Workers: 1, QueueLength: 0, QueueWait: time.Second, Deadline: time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.slots <- struct{}{} // occupy the only worker
	defer func() { <-e.slots }()
	_, err := e.Transform(context.Background(), Request{Source: encodeJPEG(t, 8, 8)})
	if errkind.KindOf(err) != errkind.Unavailable || errkind.Reason(err) != "transform_queue_full" {
		t.Fatalf("err = %v, want transform_queue_full", err)
	}
}

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
