package transform

import (
	"context"
	"image/color"
	"testing"

	"pictor/services/internal/errkind"
)

// refusedLayouts are sources whose pixels normalisation refuses: float
// samples and 16-bit signed ones, which no web format carries.
func refusedLayouts() map[string][]byte {
	return map[string][]byte{
		"float-grey": tiffFile(tiffPage{width: 8, height: 8, samples: 1, bits: 32, float: true, photometric: 1, pix: make([]byte, 8*8*4)}),
		"float-rgb":  tiffFile(tiffPage{width: 8, height: 8, samples: 3, bits: 32, float: true, photometric: 2, pix: make([]byte, 8*8*12)}),
	}
}

// TestNormalise runs sources in layouts the operations are not written for
// through the engine: each renders as 8-bit grey or sRGB with the alpha
// libvips says it has (the last band), or is refused with a 422 naming the
// pixel format.
func TestNormalise(t *testing.T) {
	e := testEngine()
	odd := oddLayouts(t)
	sceneAt := func(x, y int) color.NRGBA { return scene(40, 30, false).NRGBAAt(x, y) }
	cases := []struct {
		name   string
		src    []byte
		format string // the output format when the source's own is not encoded
		x, y   int    // a pixel to check, and what it must be
		want   color.NRGBA
		tol    int
		// alphaOnly: colours went through a CMYK profile, only alpha is exact.
		alphaOnly bool
	}{
		{name: "srgb-3", src: odd["srgb-3"], format: "jpeg", x: 3, y: 3, want: color.NRGBA{3, 43, 83, 255}, tol: 8},
		{name: "srgb-4", src: odd["srgb-4"], format: "png", x: 30, y: 5, want: withAlpha(sceneAt(30, 5), 200), tol: 1},
		{name: "srgb-6 keeps colour and last band", src: odd["srgb-6"], format: "png", x: 30, y: 5, want: withAlpha(sceneAt(30, 5), 200), tol: 1},
		{name: "srgb-6 transparent quarter", src: odd["srgb-6"], format: "png", x: 2, y: 20, want: color.NRGBA{}, alphaOnly: true},
		{name: "srgb-24", src: odd["srgb-24"], format: "png", x: 30, y: 5, want: withAlpha(sceneAt(30, 5), 200), tol: 1},
		{name: "grey-alpha", src: odd["grey-alpha"], format: "png", x: 5, y: 5, want: color.NRGBA{100, 100, 100, 200}, tol: 0},
		{name: "grey with two extra bands", src: odd["grey-3"], format: "png", x: 10, y: 5, want: color.NRGBA{10, 10, 10, 90}, tol: 1},
		{name: "cmyk-4", src: odd["cmyk-4"], format: "jpeg", want: color.NRGBA{A: 255}, alphaOnly: true},
		{name: "cmyk with alpha", src: odd["cmyk-5"], format: "png", x: 4, y: 7, want: color.NRGBA{A: 120 + 7}, alphaOnly: true},
		{name: "16-bit rgba", src: odd["rgba-16"], format: "png", x: 4, y: 4, want: color.NRGBA{0x12, 0x56, 0x9A, 0xC8}, tol: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.Transform(context.Background(), Request{Source: tc.src})
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != tc.format {
				t.Fatalf("format %s, want %s", res.Format, tc.format)
			}
			got := nrgbaAt(decode(t, res.Body), tc.x, tc.y)
			if tc.alphaOnly && got.A != tc.want.A || !tc.alphaOnly && !near(got, tc.want, tc.tol) {
				t.Fatalf("pixel (%d,%d) = %v, want %v", tc.x, tc.y, got, tc.want)
			}
		})
	}
	for name, src := range refusedLayouts() {
		t.Run(name, func(t *testing.T) {
			res, err := e.Transform(context.Background(), Request{Source: src})
			if res != nil || errkind.KindOf(err) != errkind.Unprocessable || errkind.Reason(err) != "source_pixel_format" {
				t.Fatalf("got %v, %v; want a 422 source_pixel_format", res, err)
			}
		})
	}
}

func withAlpha(c color.NRGBA, a uint8) color.NRGBA {
	c.A = a
	return c
}

// TestHeaderAgreesWithLoad: the alpha the header reports (which picks the
// output format) is the alpha of the image load hands the pipeline, on the
// shrink-on-load path and the full-size one, for every layout.
func TestHeaderAgreesWithLoad(t *testing.T) {
	testEngine()
	all := map[string][]byte{}
	for name, b := range oddLayouts(t) {
		all[name] = b
	}
	for name, b := range sources(t) {
		all[name] = b
	}
	for name, src := range all {
		hd, err := readHeader(src)
		if err != nil || !hd.supported {
			t.Fatalf("%s: header %+v, %v", name, hd, err)
		}
		for _, size := range [][2]int{{hd.width, hd.height}, {max(1, hd.width/3), max(1, hd.height/3)}} {
			t.Run(name, func(t *testing.T) {
				im := &vimage{}
				defer im.close()
				if err := im.load(src, size[0], size[1], false, 0); err != nil {
					t.Fatal(err)
				}
				if im.hasAlpha() != hd.hasAlpha {
					t.Fatalf("%d×%d: header says alpha %v, loaded image (%d bands) %v", size[0], size[1], hd.hasAlpha, im.bands(), im.hasAlpha())
				}
				if b := im.bands(); b < 1 || b > 4 || b == 2 && !im.hasAlpha() {
					t.Fatalf("loaded image has %d bands", b)
				}
			})
		}
	}
}
