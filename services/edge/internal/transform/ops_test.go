package transform

import (
	"errors"
	"testing"

	"pictor/services/internal/imgurl"
)

// oddLayouts are images as loaders deliver them, in layouts the pipeline
// normalises away: many bands, CMYK, grey with extra bands, 16 bits.
func oddLayouts(t testing.TB) map[string][]byte {
	rgb := func(x, y, s int) byte { return byte(40*s + x) }
	cmyk := func(n int, extra ...uint16) []byte {
		return tiffFile(tiffPage{width: 40, height: 30, samples: n, bits: 8, photometric: 5, extra: extra,
			pix: samplePixels(40, 30, n, func(x, y, s int) byte { return byte(30*s + y) })})
	}
	deep := make([]byte, 0, 40*30*8)
	for i := 0; i < 40*30; i++ {
		deep = append(deep, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xC8, 0x00) // 16-bit RGBA, alpha 0xC800
	}
	return map[string][]byte{
		"srgb-3":     tiffFile(tiffPage{width: 40, height: 30, samples: 3, bits: 8, photometric: 2, pix: samplePixels(40, 30, 3, rgb)}),
		"srgb-4":     bandTIFF(40, 30, 4),
		"srgb-5":     bandTIFF(40, 30, 5),
		"srgb-6":     bandTIFF(40, 30, 6),
		"srgb-13":    bandTIFF(40, 30, 13),
		"srgb-18":    bandTIFF(40, 30, 18),
		"srgb-24":    bandTIFF(40, 30, 24),
		"grey-alpha": rawPNG(t, 40, 30, 4, 8, samplePixels(40, 30, 2, func(x, y, s int) byte { return byte(100 + 100*s) })),
		"grey-3":     tiffFile(tiffPage{width: 40, height: 30, samples: 3, bits: 8, photometric: 1, extra: []uint16{0, 2}, pix: samplePixels(40, 30, 3, rgb)}),
		"cmyk-4":     cmyk(4),
		"cmyk-5":     cmyk(5, 2),
		"rgba-16":    rawPNG(t, 40, 30, 6, 16, deep),
	}
}

// pipelineLayouts are the oddLayouts already in the layout normalisation
// produces.
var pipelineLayouts = map[string]bool{"srgb-3": true, "srgb-4": true, "grey-alpha": true}

// TestOperationsAnyBandCount hands every C operation images straight from
// the loader, not normalised. None may touch memory it does not own,
// whatever the band count: this is what keeps a gap in normalisation from
// becoming a crash. The operations that paint or convert colour refuse any
// layout but the pipeline's with their own check (a layout error, not
// whatever libvips would make of it) and work on the pipeline's; opacity,
// written for any band count, always works and adds or keeps one alpha.
func TestOperationsAnyBandCount(t *testing.T) {
	testEngine() // starts libvips
	red := imgurl.Color{R: 255, A: 255}
	ops := []struct {
		name    string
		guarded bool
		run     func(im *vimage) error
	}{
		{"opacity", false, func(im *vimage) error { return im.opacity(0.5) }},
		{"background opaque", true, func(im *vimage) error { return im.background(red) }},
		{"background translucent", true, func(im *vimage) error { return im.background(imgurl.Color{G: 255, A: 128}) }},
		{"embed transparent", true, func(im *vimage) error { return im.embed(canvas{60, 50, 10, 10}, imgurl.Color{}) }},
		{"embed opaque", true, func(im *vimage) error { return im.embed(canvas{60, 50, 10, 10}, red) }},
		{"rotate 30", true, func(im *vimage) error { return im.rotate(30, red) }},
		{"border and radius", true, func(im *vimage) error { return im.frame(3, imgurl.Color{B: 255, A: 160}, 8, 8) }},
		{"radius", true, func(im *vimage) error { return im.frame(0, imgurl.Color{}, 20, 15) }},
		{"contrast", true, func(im *vimage) error { return im.contrast(contrastLow, contrastHigh) }},
		{"sharpen", true, func(im *vimage) error { return im.sharpen(sharpenFor(0)) }},
		{"unsharp", true, func(im *vimage) error {
			return im.unsharp(imgurl.USM{Radius: 2, Sigma: 1, Amount: 0.8, Threshold: 0.02})
		}},
		{"grayscale", true, func(im *vimage) error { return im.grayscale() }},
		{"trim", true, func(im *vimage) error { return trim(im, trimThreshold) }},
		// Layout-blind: they move or filter every band alike.
		{"rotate 90", false, func(im *vimage) error { return im.rotate(90, imgurl.Color{}) }},
		{"blur", false, func(im *vimage) error { return im.blur(2) }},
		{"resize", false, func(im *vimage) error { return im.resize(0.5, 0.5) }},
		{"smartcrop", false, func(im *vimage) error { return im.smartcrop(20, 20) }},
		{"flip", false, func(im *vimage) error { return im.flip(false) }},
	}
	for name, src := range oddLayouts(t) {
		for _, op := range ops {
			t.Run(name+"/"+op.name, func(t *testing.T) {
				im := &vimage{}
				defer im.close()
				if err := im.loadAsIs(src); err != nil {
					t.Fatalf("load: %v", err)
				}
				bands, alpha := im.bands(), im.hasAlpha()
				err := op.run(im)
				var ce *callError
				refused := errors.As(err, &ce) && ce.layout
				switch {
				case op.name == "opacity":
					want := bands
					if !alpha {
						want++
					}
					if err != nil || im.bands() != want {
						t.Fatalf("opacity on %d bands: %d bands, %v; want %d bands", bands, im.bands(), err, want)
					}
				case op.guarded && pipelineLayouts[name] && err != nil:
					t.Fatalf("refused the pipeline's own layout: %v", err)
				case op.guarded && !pipelineLayouts[name] && !refused:
					t.Fatalf("%d bands, alpha %v: want a layout refusal, got %v", bands, alpha, err)
				case !op.guarded && refused:
					t.Fatalf("a layout-blind operation refused the layout: %v", err)
				}
				if err != nil {
					return
				}
				// Saving evaluates the pipeline: the operation's pixels are
				// read here, not when it was called.
				if _, err := im.save(saveOptions{format: fmtPNG, quality: 80}); err != nil && pipelineLayouts[name] {
					t.Fatalf("save: %v", err)
				}
			})
		}
	}
}

// TestOpacityScalesOnlyAlpha checks opacity's pixels where PNG can show
// them: grey+alpha and RGBA.
func TestOpacityScalesOnlyAlpha(t *testing.T) {
	testEngine()
	cases := []struct {
		name      string
		src       []byte
		x, y      int
		wantAlpha uint8
	}{
		{"grey alpha 200", oddLayouts(t)["grey-alpha"], 5, 5, 100},
		{"rgba alpha 200", bandTIFF(40, 30, 4), 30, 5, 100},
		{"rgb opaque", photoJPEG(t, 40, 30), 30, 5, 127},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			im := &vimage{}
			defer im.close()
			if err := im.loadAsIs(tc.src); err != nil {
				t.Fatal(err)
			}
			before := nrgbaAt(decode(t, mustSave(t, im)), tc.x, tc.y)
			if err := im.opacity(0.5); err != nil {
				t.Fatal(err)
			}
			after := nrgbaAt(decode(t, mustSave(t, im)), tc.x, tc.y)
			if after.A != tc.wantAlpha || after.R != before.R || after.G != before.G || after.B != before.B {
				t.Fatalf("o-50: %v → %v, want the same colour with alpha %d", before, after, tc.wantAlpha)
			}
		})
	}
}

func mustSave(t *testing.T, im *vimage) []byte {
	t.Helper()
	b, err := im.save(saveOptions{format: fmtPNG, quality: 80})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
