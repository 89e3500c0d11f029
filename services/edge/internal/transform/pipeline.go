package transform

import (
	"fmt"
	"math"
	"runtime"

	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

// Within one step, parameters apply in this fixed order (ImageKit does not
// document one; this is Pictor's, chosen so that colours the URL names are
// rendered exactly and effects act on the picture, not on its padding):
//
//  1. t      trim the background off the step's input
//  2. size   extract/scale/crop (see planResize)
//  3. effects: e-contrast, e-sharpen, e-usm, bl, e-grayscale
//  4. pad    cm-pad_resize / cm-pad_extract canvas, filled with the background
//  5. rt     rotation; other than multiples of 90° the canvas grows to the
//            rotated bounding box, corners filled with the background
//  6. fl     flip
//  7. b, r   border (painted inside the edge, following rounded corners)
//            and rounded corners (transparent outside the outline)
//  8. bg     shows through wherever the image is transparent
//  9. o      opacity
//
// "The background" of a step is its bg; without bg it is transparent when
// the output format has alpha (PNG, WebP, AVIF, GIF) and white for JPEG,
// as imgix does. ImageKit's docs list black as bg's default, but show
// padding only with an explicit bg; white/transparent is what a page
// around the image most often is. A JPEG shows the last bg of the chain
// (made opaque), or white, wherever the result is transparent.
//
// The rest of the parameters, where ImageKit names the effect but not its
// arithmetic:
//
//   - b-W_C: a W-pixel border of colour C painted over the image's edge;
//     the size does not change (a w-300 image with a border is 300 px).
//   - r-N: corner radius N px (capped at half the shorter side); r-max: the
//     largest ellipse that fits. Edges are anti-aliased.
//   - o-N: alpha multiplied by N/100.
//   - e-usm-R-S-A-T: ImageMagick's -unsharp RxS+A+T, which ImageKit's
//     parameter names follow: kernel radius R px (0 = as wide as the
//     Gaussian needs), sigma S, amount A (fraction of the difference added
//     back), threshold T (fraction of full scale below which nothing
//     changes).
//   - e-contrast: sharp's normalise(): lightness stretched linearly so its
//     1st and 99th percentiles become black and white.
//   - e-sharpen[-N], bl-N, t: see the constants below.
//
// Sharpening works on alpha-weighted colour, and resizing, blurring and
// rotation on premultiplied pixels, so the colour hidden under transparent
// pixels never bleeds into the picture.

// Parameters with a Pictor-defined scale, documented here because ImageKit
// gives only their direction.
const (
	// trimThreshold is t-true: the largest difference (0-255 scale, after
	// libvips' 3×3 median) from the background colour still trimmed. t-N
	// uses N; 10 sits between ImageKit's t-5 (trims less) and t-15 (more).
	trimThreshold = 10
	// sharpenDefault is the strength of e-sharpen without a number.
	sharpenDefault = 5
	// contrastLow, contrastHigh are the lightness percentiles e-contrast
	// stretches to black and white (as sharp's normalise()).
	contrastLow, contrastHigh = 1, 99
)

// sharpenFor maps e-sharpen-N (1..100) onto libvips' sharpen: the mask
// widens (sigma 0.55..5.5) and the slope applied to edges grows (m2
// 0.2..20) with N, flat areas are left alone (m1 0, so noise is not
// amplified), and the brightening/darkening caps grow so strong settings are
// not clipped by libvips' defaults (10/20 L*).
func sharpenFor(n int) sharpenParams {
	if n == 0 {
		n = sharpenDefault
	}
	f := float64(n)
	return sharpenParams{sigma: 0.5 + f/20, x1: 2, y2: 10 + f, y3: 20 + 2*f, m1: 0, m2: f / 5}
}

// blurSigma maps bl-N (ImageKit: "the radius of the Gaussian blur") onto a
// Gaussian's sigma: a Gaussian's visible radius is about two sigmas.
func blurSigma(n int) float64 { return float64(n) / 2 }

// stepEnv is what every step needs to know about the whole transform.
type stepEnv struct {
	outAlpha  bool  // the output format keeps alpha
	maxPixels int64 // largest image area any step may produce
	maxSide   int   // largest side any step may produce
	// layers are the sources of image layers by path, inspect checks one
	// as a source is checked, and pin keeps them pinned for the pipeline
	// that draws them (the transform's own image's).
	layers  map[string][]byte
	inspect func([]byte) (header, error)
	pin     *runtime.Pinner
}

// fill is what padding and rotation corners are painted with. With a bg
// they are left transparent, because step 8 puts bg under every
// transparent pixel anyway; painting bg as well would lay a translucent bg
// over itself.
func (e stepEnv) fill(st imgurl.Step) imgurl.Color {
	if st.Background != nil || e.outAlpha {
		return imgurl.Color{}
	}
	return imgurl.Color{R: 255, G: 255, B: 255, A: 255}
}

func (e stepEnv) checkSize(w, h int) error {
	if w > e.maxSide || h > e.maxSide || int64(w)*int64(h) > e.maxPixels {
		return errkind.New(errkind.Invalid, "output_too_large",
			fmt.Sprintf("the transformation would make a %d×%d image, over the limit of %d px per side and %s megapixels",
				w, h, e.maxSide, megapixels(e.maxPixels)))
	}
	return nil
}

// runStep applies one step. g is the step's geometry when the caller already
// planned it (the first step, whose scaling happened at load time); nil
// means plan it here, on the image as it is now.
func runStep(img *vimage, st imgurl.Step, g *geometry, env stepEnv) error {
	if st.Trim.Set {
		if err := trim(img, st.Trim.Value); err != nil {
			return err
		}
		g = nil
	}
	if g == nil {
		p, err := planResize(img.width(), img.height(), st)
		if err != nil {
			return err
		}
		g = &p
	}
	if err := env.checkSize(g.resizeW, g.resizeH); err != nil {
		return err
	}
	if err := env.checkSize(g.outputSize()); err != nil {
		return err
	}
	if err := shape(img, *g); err != nil {
		return err
	}
	if err := effects(img, st, env); err != nil {
		return err
	}
	fill := env.fill(st)
	if g.canvas != nil {
		if err := img.embed(*g.canvas, fill); err != nil {
			return err
		}
	}
	if st.Rotate.Set && !st.Rotate.Auto {
		if err := rotate(img, st.Rotate.Degrees, fill, env); err != nil {
			return err
		}
	}
	if err := flip(img, st.Flip); err != nil {
		return err
	}
	if st.Border != nil || st.Radius > 0 || st.RadiusMax {
		if err := frame(img, st); err != nil {
			return err
		}
	}
	if st.Background != nil {
		if err := img.background(*st.Background); err != nil {
			return err
		}
	}
	// Layers go on the step's finished picture; its opacity then covers
	// them too (an image layer's o- fades the layer with what it holds).
	for _, l := range st.Layers {
		if err := drawLayer(img, l, env); err != nil {
			return err
		}
	}
	if st.Opacity.Set && st.Opacity.Value < 100 {
		if err := img.opacity(float64(st.Opacity.Value) / 100); err != nil {
			return err
		}
	}
	return nil
}

// trim cuts away the border that matches the top-left pixel's colour
// (libvips' find_trim; see pictor_find_trim for transparent corners). When
// everything matches (a blank image), the image is kept whole rather than
// trimmed to nothing. Trimming in the first step means that step decodes
// the source at full size: the box is found on the source's own pixels,
// and only then is the step's size known.
func trim(img *vimage, value int) error {
	// libvips' search starts with a 3×3 median, which needs 3×3 pixels;
	// anything smaller has no border to trim.
	if img.width() < 3 || img.height() < 3 {
		return nil
	}
	threshold := float64(trimThreshold)
	if value > 0 {
		threshold = float64(value)
	}
	// The search and the crop both read the pixels.
	if err := img.random(); err != nil {
		return err
	}
	box, err := img.findTrim(threshold)
	if err != nil {
		return err
	}
	if box.width <= 0 || box.height <= 0 || box == (rect{0, 0, img.width(), img.height()}) {
		return nil
	}
	return img.extract(box)
}

func shape(img *vimage, g geometry) error {
	if g.region != nil {
		if err := img.extract(*g.region); err != nil {
			return err
		}
	}
	if g.faceFit {
		return faceFit(img, g)
	}
	if g.resizeW != img.width() || g.resizeH != img.height() {
		if err := img.resize(float64(g.resizeW)/float64(img.width()), float64(g.resizeH)/float64(img.height())); err != nil {
			return err
		}
		if err := fitExactly(img, g.resizeW, g.resizeH); err != nil {
			return err
		}
	}
	switch {
	case g.attention && g.face:
		return faceCrop(img, g.crop.width, g.crop.height)
	case g.attention:
		return img.smartcrop(g.crop.width, g.crop.height)
	case g.crop != nil:
		return img.extract(*g.crop)
	}
	return nil
}

// fitExactly absorbs libvips' rounding of a scaled size: vips_resize can
// land one pixel off the requested size, and the URL promised exact pixels.
func fitExactly(img *vimage, w, h int) error {
	if img.width() == w && img.height() == h {
		return nil
	}
	if img.width() < w || img.height() < h {
		if err := img.resize(float64(max(w, img.width()))/float64(img.width()), float64(max(h, img.height()))/float64(img.height())); err != nil {
			return err
		}
	}
	if img.width() != w || img.height() != h {
		return img.extract(rect{0, 0, w, h})
	}
	return nil
}

func effects(img *vimage, st imgurl.Step, env stepEnv) error {
	if st.Contrast {
		if err := img.contrast(contrastLow, contrastHigh); err != nil {
			return err
		}
	}
	if st.Sharpen.Set {
		if err := img.sharpen(sharpenFor(st.Sharpen.Value)); err != nil {
			return err
		}
	}
	if st.UnsharpMask != nil {
		if err := img.unsharp(*st.UnsharpMask); err != nil {
			return err
		}
	}
	if st.Blur > 0 {
		if err := img.blur(blurSigma(st.Blur)); err != nil {
			return err
		}
	}
	if st.Grayscale {
		if err := img.grayscale(); err != nil {
			return err
		}
	}
	if st.Shadow != nil {
		if err := shadow(img, *st.Shadow); err != nil {
			return err
		}
	}
	if st.DropShadow != nil {
		if err := dropShadow(img, *st.DropShadow); err != nil {
			return err
		}
	}
	if st.Gradient != nil {
		if err := gradient(img, *st.Gradient); err != nil {
			return err
		}
	}
	if st.Distort != nil {
		if err := distort(img, *st.Distort, env); err != nil {
			return err
		}
	}
	return nil
}

// dropShadow is e-dropshadow cast geometrically: the shadow falls away
// from the light (azimuth clockwise from top), a twentieth of the image's
// longer side long with the light at 45° (longer the lower it is, none
// from straight above, at most five times that), softer the longer it is,
// as dark as st.
func dropShadow(img *vimage, d imgurl.DropShadow) error {
	side := float64(max(img.width(), img.height()))
	el := float64(d.Elevation) * math.Pi / 180
	length := 0.0
	if d.Elevation < 90 {
		length = math.Min(side/20/math.Tan(math.Max(el, 0.01)), side/4)
	}
	away := (float64(d.Azimuth) + 180) * math.Pi / 180
	dx, dy := int(math.Round(length*math.Sin(away))), int(math.Round(-length*math.Cos(away)))
	return img.shadow(2+length/2, float64(d.Saturation)/100, dx, dy)
}

// maxShadowPixels is ImageKit's limit for e-shadow: 2 megapixels, larger
// images are resized first (w-500,e-shadow).
const maxShadowPixels = 2_000_000

// shadow is e-shadow: bl is the blur's sigma in pixels, st the shadow's
// opacity in percent, x and y its offset in percent of the image's sides.
func shadow(img *vimage, s imgurl.Shadow) error {
	w, h := img.width(), img.height()
	if int64(w)*int64(h) > maxShadowPixels {
		return errkind.New(errkind.Invalid, "shadow_too_large",
			fmt.Sprintf("e-shadow works on images of at most 2 megapixels; this one is %d×%d: resize it first (w-500,e-shadow)", w, h))
	}
	dx := int(math.Round(float64(s.X) * float64(w) / 100))
	dy := int(math.Round(float64(s.Y) * float64(h) / 100))
	return img.shadow(float64(s.Blur), float64(s.Saturation)/100, dx, dy)
}

// gradient is e-gradient: ld is clockwise from top, as CSS angles are; a
// stop point over 1 is pixels along the gradient's line.
func gradient(img *vimage, g imgurl.Gradient) error {
	rad := float64(g.Angle) * math.Pi / 180
	dx, dy := math.Sin(rad), -math.Cos(rad)
	stop := g.Stop
	if stop > 1 {
		length := math.Abs(float64(img.width())*dx) + math.Abs(float64(img.height())*dy)
		stop = math.Min(stop/math.Max(length, 1), 1)
	}
	return img.gradient(dx, dy, stop, g.From, g.To)
}

// rotate turns the image clockwise (rt-N90 is anticlockwise).
func rotate(img *vimage, degrees int, fill imgurl.Color, env stepEnv) error {
	deg := ((degrees % 360) + 360) % 360
	if deg == 0 {
		return nil
	}
	if deg%90 != 0 {
		rad := float64(deg) * math.Pi / 180
		w, h := float64(img.width()), float64(img.height())
		bw := math.Abs(w*math.Cos(rad)) + math.Abs(h*math.Sin(rad))
		bh := math.Abs(w*math.Sin(rad)) + math.Abs(h*math.Cos(rad))
		if err := env.checkSize(int(math.Ceil(bw)), int(math.Ceil(bh))); err != nil {
			return err
		}
	}
	return img.rotate(float64(deg), fill)
}

func flip(img *vimage, f string) error {
	switch f {
	case "h":
		return img.flip(true)
	case "v":
		return img.flip(false)
	case "h_v", "v_h":
		if err := img.flip(true); err != nil {
			return err
		}
		return img.flip(false)
	}
	return nil
}

// frame draws b and r. r-N rounds the corners with radius N, capped at half
// the shorter side; r-max makes the outline an ellipse touching all four
// sides (a circle on a square image), ImageKit's "circle or oval".
func frame(img *vimage, st imgurl.Step) error {
	w, h := float64(img.width()), float64(img.height())
	var rx, ry float64
	switch {
	case st.RadiusMax:
		rx, ry = w/2, h/2
	case st.Radius > 0:
		r := math.Min(float64(st.Radius), math.Min(w, h)/2)
		rx, ry = r, r
	}
	var width int
	var c imgurl.Color
	if st.Border != nil {
		width, c = st.Border.Width, st.Border.Color
	}
	return img.frame(width, c, rx, ry)
}
