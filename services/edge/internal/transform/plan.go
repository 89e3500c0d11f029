package transform

import (
	"fmt"
	"math"
	"strings"

	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

// geometry is what the size parameters of one step do to an image of the
// step's input size, in the order they run:
//
//  1. region: cut this area of the input (cm-extract, cm-pad_extract); for
//     pad_extract it may reach past the input, and only the overlap is cut;
//  2. scale the image (or region) to resizeW×resizeH;
//  3. crop: keep this part of the scaled image (c-maintain_ratio), or let
//     libvips' attention strategy pick it (fo-auto);
//  4. canvas: place the result on a canvas of the background colour
//     (cm-pad_resize, cm-pad_extract).
type geometry struct {
	region           *rect
	resizeW, resizeH int
	crop             *rect
	attention        bool // crop by attention to crop.width×crop.height
	face             bool // with attention: around the largest face, attention without one (fo-face)
	// faceFit (c-maintain_ratio): the crop is the face and some of what is
	// around it (zoom: z-), scaled to crop.width×crop.height; otherwise
	// (cm-extract) a window of that size centred on the face.
	faceFit bool
	zoom    float64
	canvas  *canvas
}

type rect struct{ left, top, width, height int }

// canvas is the final size and the offset of the image inside it.
type canvas struct{ width, height, left, top int }

// outputSize is the size of the image once the geometry has run.
func (g geometry) outputSize() (int, int) {
	switch {
	case g.canvas != nil:
		return g.canvas.width, g.canvas.height
	case g.crop != nil:
		return g.crop.width, g.crop.height
	}
	return g.resizeW, g.resizeH
}

// planResize computes ImageKit's geometry for one step on a w×h image.
//
//   - only w or h (or ar with one of them): scale keeping the aspect ratio;
//   - w and h, c-maintain_ratio (the default): scale to cover the box, then
//     crop it from the focus point (centre unless fo says otherwise; fo-auto
//     lets libvips pick the most interesting part);
//   - c-force: squash to exactly w×h;
//   - c-at_max: fit inside the box, never enlarging; c-at_max_enlarge may enlarge;
//   - c-at_least: cover the box without cropping;
//   - cm-pad_resize: fit inside the box (enlarging if needed), then pad to
//     exactly w×h; fo-left/right/top/bottom (and the corners) put the image
//     on that side, so all the padding lands on the other;
//   - cm-extract: no scaling; cut a w×h area of the input, positioned by x/y
//     (top-left corner), xc/yc (centre), fo (nine positions, or auto), or
//     centred. An area that does not fit inside the input is a 400, as
//     ImageKit documents for xc/yc;
//   - cm-pad_extract: as extract, but an area reaching past the input is
//     padded with the background instead of refused.
//
// A crop mode (cm) takes precedence over c. dpr multiplies the requested
// size, never coordinates. When only one of w/h is given to an extract
// mode, the other side is the input's.
func planResize(w, h int, st imgurl.Step) (geometry, error) {
	if st.WidthAuto || st.DPRAuto {
		// The caller resolves client hints (imgurl.ResolveHints) before a
		// transformation gets here: planning one unresolved would silently
		// drop a width.
		return geometry{}, errkind.New(errkind.Internal, "unresolved_client_hints", "w-auto or dpr-auto reached the transform engine unresolved")
	}
	tw, th := float64(st.Width.Resolve(w)), float64(st.Height.Resolve(h))
	if st.AspectRatio != nil {
		ar := st.AspectRatio.W / st.AspectRatio.H
		switch {
		case tw > 0 && th == 0:
			th = tw / ar
		case th > 0 && tw == 0:
			tw = th * ar
		case tw == 0 && th == 0:
			// ar alone: crop the source to the ratio at its own size.
			if float64(w)/float64(h) > ar {
				tw, th = float64(h)*ar, float64(h)
			} else {
				tw, th = float64(w), float64(w)/ar
			}
		}
	}
	if st.DPR > 0 && (tw > 0 || th > 0) {
		tw, th = tw*st.DPR, th*st.DPR
	}
	if st.Zoom != 0 && st.Focus != "face" {
		return geometry{}, errkind.New(errkind.Invalid, "invalid_parameter", "z- zooms around a face: it works with fo-face only")
	}
	coords := st.X.Set || st.Y.Set || st.XC.Set || st.YC.Set
	if coords && st.CropMode != "extract" && st.CropMode != "pad_extract" {
		return geometry{}, errkind.New(errkind.Unsupported, "unsupported_parameter",
			"transformation parameters x, y, xc and yc are only supported with cm-extract or cm-pad_extract")
	}
	switch st.CropMode {
	case "extract", "pad_extract":
		return planExtract(w, h, st, tw, th)
	}
	if tw == 0 && th == 0 {
		return geometry{resizeW: w, resizeH: h}, nil
	}
	fw, fh := float64(w), float64(h)
	var g geometry
	switch {
	case th == 0 || tw == 0:
		s := tw / fw
		if tw == 0 {
			s = th / fh
		}
		if st.Crop == "at_max" && st.CropMode == "" {
			s = math.Min(s, 1)
		}
		g.resizeW, g.resizeH = round(fw*s), round(fh*s)
	case st.CropMode == "pad_resize":
		if st.Focus == "auto" || st.Focus == "face" {
			return geometry{}, errkind.New(errkind.Unsupported, "unsupported_parameter",
				"fo-auto and fo-face cannot be combined with cm-pad_resize: padding keeps the whole image")
		}
		s := math.Min(tw/fw, th/fh)
		cw, ch := round(tw), round(th)
		g.resizeW, g.resizeH = min(round(fw*s), cw), min(round(fh*s), ch)
		if g.resizeW != cw || g.resizeH != ch {
			left, top := focusOffset(st.Focus, cw-g.resizeW, ch-g.resizeH)
			g.canvas = &canvas{width: cw, height: ch, left: left, top: top}
		}
	case st.Crop == "force":
		g.resizeW, g.resizeH = round(tw), round(th)
	case st.Crop == "at_max" || st.Crop == "at_max_enlarge":
		s := math.Min(tw/fw, th/fh)
		if st.Crop == "at_max" {
			s = math.Min(s, 1)
		}
		g.resizeW, g.resizeH = round(fw*s), round(fh*s)
	case st.Crop == "at_least":
		s := math.Max(tw/fw, th/fh)
		g.resizeW, g.resizeH = round(fw*s), round(fh*s)
	default: // maintain_ratio: cover, then crop
		s := math.Max(tw/fw, th/fh)
		g.resizeW, g.resizeH = max(round(fw*s), round(tw)), max(round(fh*s), round(th))
		cw, ch := round(tw), round(th)
		switch {
		case st.Focus == "face":
			g.attention, g.face, g.faceFit, g.zoom = true, true, true, st.Zoom
			g.crop = &rect{0, 0, cw, ch}
		case st.Focus == "auto" && (cw != g.resizeW || ch != g.resizeH):
			g.attention = true
			g.crop = &rect{0, 0, cw, ch}
		case cw != g.resizeW || ch != g.resizeH:
			left, top := focusOffset(st.Focus, g.resizeW-cw, g.resizeH-ch)
			g.crop = &rect{left, top, cw, ch}
		}
	}
	return g, nil
}

// planExtract places the cm-extract / cm-pad_extract area on the input.
func planExtract(w, h int, st imgurl.Step, tw, th float64) (geometry, error) {
	cw, ch := w, h
	if tw > 0 {
		cw = round(tw)
	}
	if th > 0 {
		ch = round(th)
	}
	pad := st.CropMode == "pad_extract"
	if (st.X.Set && st.XC.Set) || (st.Y.Set && st.YC.Set) {
		return geometry{}, errkind.New(errkind.Invalid, "invalid_parameter",
			"x and xc (or y and yc) both place the same edge: give one of them")
	}
	g := geometry{resizeW: w, resizeH: h}
	if (st.Focus == "auto" || st.Focus == "face") && !(st.X.Set || st.Y.Set || st.XC.Set || st.YC.Set) {
		// The attention strategy picks the most interesting area that
		// fits; pad_extract centres it on a larger canvas.
		g.attention, g.face = true, st.Focus == "face"
		g.crop = &rect{0, 0, min(cw, w), min(ch, h)}
		if pad && (cw > w || ch > h) {
			g.canvas = &canvas{width: cw, height: ch, left: (cw - g.crop.width) / 2, top: (ch - g.crop.height) / 2}
		}
		if !pad && (cw > w || ch > h) {
			return geometry{}, extractOutside(w, h, rect{0, 0, cw, ch})
		}
		return g, nil
	}
	left, top := focusOffset(st.Focus, w-cw, h-ch)
	switch {
	case st.X.Set:
		left = st.X.Value
	case st.XC.Set:
		left = st.XC.Value - cw/2
	}
	switch {
	case st.Y.Set:
		top = st.Y.Value
	case st.YC.Set:
		top = st.YC.Value - ch/2
	}
	area := rect{left, top, cw, ch}
	if !pad {
		if left < 0 || top < 0 || left+cw > w || top+ch > h {
			return geometry{}, extractOutside(w, h, area)
		}
		if area != (rect{0, 0, w, h}) {
			g.region = &area
		}
		g.resizeW, g.resizeH = cw, ch
		return g, nil
	}
	// Only the overlap of the area and the input is cut; the canvas puts
	// it back where it sits inside the area.
	ol, ot := max(left, 0), max(top, 0)
	or, ob := min(left+cw, w), min(top+ch, h)
	if or <= ol || ob <= ot {
		return geometry{}, errkind.New(errkind.Invalid, "extract_outside_image",
			fmt.Sprintf("the %d×%d area at (%d,%d) does not overlap the %d×%d image", cw, ch, left, top, w, h))
	}
	g.region = &rect{ol, ot, or - ol, ob - ot}
	g.resizeW, g.resizeH = g.region.width, g.region.height
	if *g.region != area {
		g.canvas = &canvas{width: cw, height: ch, left: ol - left, top: ot - top}
	}
	return g, nil
}

func extractOutside(w, h int, r rect) error {
	return errkind.New(errkind.Invalid, "extract_outside_image",
		fmt.Sprintf("the %d×%d area at (%d,%d) does not fit in the %d×%d image (cm-pad_extract pads instead)",
			r.width, r.height, r.left, r.top, w, h))
}

func round(f float64) int { return max(1, int(math.Round(f))) }

// focusOffset places a crop (or, with negative slack, an image on a larger
// canvas) according to fo.
func focusOffset(focus string, slackX, slackY int) (int, int) {
	x, y := slackX/2, slackY/2
	if strings.Contains(focus, "left") {
		x = 0
	}
	if strings.Contains(focus, "right") {
		x = slackX
	}
	if strings.HasPrefix(focus, "top") {
		y = 0
	}
	if strings.HasPrefix(focus, "bottom") {
		y = slackY
	}
	return x, y
}

// checkImplemented refuses parameters the grammar accepts but this engine
// does not render, so a URL never gets a silently different image. Every
// core parameter of DESIGN §3 is rendered now; n- must have been expanded
// by the caller, since only it knows the account's named transformations.
func checkImplemented(t imgurl.Transformation) error {
	for _, st := range t.Steps {
		if st.Named != "" {
			return errkind.New(errkind.Unsupported, "unsupported_parameter",
				"transformation parameter n must be expanded before rendering")
		}
	}
	return nil
}

// NegotiateFormat picks the output format for a request. requested is the
// f value of the transformation ("" when absent, which means auto). The
// result is "" for the source's own format. vary reports whether the
// choice depended on Accept, so the response must say Vary: Accept.
func NegotiateFormat(requested, accept string, avifEnabled bool) (format string, vary bool) {
	switch requested {
	case "", "auto":
		switch {
		case avifEnabled && acceptsType(accept, "image/avif"):
			return "avif", true
		case acceptsType(accept, "image/webp"):
			return "webp", true
		}
		return "", true
	case "orig":
		return "", false
	case "jpg":
		return "jpeg", false
	}
	return requested, false
}

// acceptsType reports whether Accept names mime explicitly with a non-zero
// q. Wildcards do not count: "*/*" says nothing about AVIF support.
func acceptsType(accept, mime string) bool {
	// Scanned with Cut rather than Split: it runs on every request,
	// cache hits included.
	for rest := accept; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		name, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(name), mime) {
			continue
		}
		for params != "" {
			var p string
			p, params, _ = strings.Cut(params, ";")
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") && strings.Trim(strings.TrimSpace(v), "0.") == "" {
				return false // q=0, q=0.0, q=0.000: explicitly refused
			}
		}
		return true
	}
	return false
}

// RequestedFormat returns the f value that governs the output: the last
// step that sets one.
func RequestedFormat(t imgurl.Transformation) string {
	f := ""
	for _, s := range t.Steps {
		if s.Format != "" {
			f = s.Format
		}
	}
	return f
}
