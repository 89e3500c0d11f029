package transform

import (
	"fmt"
	"math"
	"strings"

	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

// geometry is what one step does to the image size: resize the whole image
// to resizeW×resizeH, then optionally cut out crop.
type geometry struct {
	resizeW, resizeH int
	crop             *rect
	attention        bool // let libvips pick the crop (fo-auto)
}

type rect struct{ left, top, width, height int }

// planResize computes ImageKit's geometry for one step on a w×h image.
//
//   - only w or h (or ar with one of them): scale keeping the aspect ratio;
//   - w and h, c-maintain_ratio (the default): scale to cover the box, then
//     crop it from the focus point (centre unless fo says otherwise);
//   - c-force: squash to exactly w×h;
//   - c-at_max: fit inside the box, never enlarging; c-at_max_enlarge may enlarge;
//   - c-at_least: cover the box without cropping.
//
// dpr multiplies the requested size.
func planResize(w, h int, st imgurl.Step, format string) (geometry, error) {
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
	if st.DPR > 0 {
		tw, th = tw*st.DPR, th*st.DPR
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
		if st.Crop == "at_max" {
			s = math.Min(s, 1)
		}
		g.resizeW, g.resizeH = round(fw*s), round(fh*s)
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
		if st.Focus == "auto" {
			g.attention = true
			g.resizeW, g.resizeH = cw, ch
		} else if cw != g.resizeW || ch != g.resizeH {
			left, top := focusOffset(st.Focus, g.resizeW-cw, g.resizeH-ch)
			g.crop = &rect{left, top, cw, ch}
		}
	}
	limit := imgurl.MaxSide
	if format == "webp" {
		limit = imgurl.MaxSideWebP
	}
	if g.resizeW > limit || g.resizeH > limit {
		return geometry{}, errkind.New(errkind.Invalid, "output_too_large",
			fmt.Sprintf("output would be %d×%d, over the %d px limit for %s", g.resizeW, g.resizeH, limit, format))
	}
	return g, nil
}

func round(f float64) int { return max(1, int(math.Round(f))) }

// focusOffset places a crop of the given slack according to fo.
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

// applyAfterResize runs the rest of a step on the resized image.
func applyAfterResize(img *vimage, g geometry, st imgurl.Step) error {
	if g.crop != nil {
		if err := img.extract(g.crop.left, g.crop.top, g.crop.width, g.crop.height); err != nil {
			return err
		}
	}
	if st.Rotate.Set && !st.Rotate.Auto {
		if deg := ((st.Rotate.Degrees % 360) + 360) % 360; deg != 0 {
			if err := img.rotate90s(deg); err != nil {
				return err
			}
		}
	}
	switch st.Flip {
	case "h":
		if err := img.flip(true); err != nil {
			return err
		}
	case "v":
		if err := img.flip(false); err != nil {
			return err
		}
	case "h_v", "v_h":
		if err := img.flip(true); err != nil {
			return err
		}
		if err := img.flip(false); err != nil {
			return err
		}
	}
	if st.Blur > 0 {
		if err := img.blur(float64(st.Blur) / 2); err != nil {
			return err
		}
	}
	if st.Grayscale {
		if err := img.grayscale(); err != nil {
			return err
		}
	}
	return nil
}

// checkImplemented refuses parameters the grammar accepts but this engine
// does not render yet, so a URL never gets a silently different image.
func checkImplemented(t imgurl.Transformation) error {
	for _, st := range t.Steps {
		var missing []string
		add := func(cond bool, name string) {
			if cond {
				missing = append(missing, name)
			}
		}
		add(st.CropMode != "", "cm")
		add(st.Focus != "" && st.Focus != "center" && st.Focus != "auto" && !cornerOrSide(st.Focus), "fo")
		add(st.X.Set || st.Y.Set || st.XC.Set || st.YC.Set, "x/y/xc/yc")
		add(st.Background != nil, "bg")
		add(st.Border != nil, "b")
		add(st.Radius != 0 || st.RadiusMax, "r")
		add(st.Rotate.Set && !st.Rotate.Auto && st.Rotate.Degrees%90 != 0, "rt (angles other than multiples of 90)")
		add(st.Opacity.Set, "o")
		add(st.Trim.Set, "t")
		add(st.Sharpen.Set, "e-sharpen")
		add(st.UnsharpMask != nil, "e-usm")
		add(st.Contrast, "e-contrast")
		add(st.KeepCopyright && !st.KeepMetadata, "cp")
		add(st.Named != "", "n")
		if len(missing) > 0 {
			return errkind.New(errkind.Unsupported, "unsupported_parameter",
				"transformation parameter "+strings.Join(missing, ", ")+" is not supported yet")
		}
	}
	return nil
}

func cornerOrSide(f string) bool {
	switch f {
	case "top", "left", "bottom", "right", "top_left", "top_right", "bottom_left", "bottom_right":
		return true
	}
	return false
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
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(part, ";")
		if !strings.EqualFold(strings.TrimSpace(fields[0]), mime) {
			continue
		}
		for _, p := range fields[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") && (strings.TrimSpace(v) == "0" || strings.HasPrefix(strings.TrimSpace(v), "0.0") && strings.Trim(strings.TrimSpace(v), "0.") == "") {
				return false
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
