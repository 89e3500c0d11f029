package transform

import (
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"pictor/services/edge/internal/fonts"
	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

// Layers (imgurl.Layer): each is rendered on its own — an image from the
// endpoint put through the layer's transformations, a solid block, or
// text — then placed on the picture of the step that holds it and blended.

// Text defaults, as ImageKit documents them: black 45 px text in the
// default face, lines centred.
const (
	defaultFontSize = 45
	defaultFont     = "sans"
)

// tenantFonts are the font files text layers have named (ff-Brand.ttf),
// kept for the life of the process as fontconfig, which learns them, is
// one per process. A thousand distinct files is far beyond real use.
var tenantFonts = fonts.NewStore(filepath.Join(os.TempDir(), fmt.Sprintf("pictor-fonts-%d", os.Getpid())), 1000)

func drawLayer(base *vimage, l imgurl.Layer, env stepEnv) error {
	bw, bh := base.width(), base.height()
	ov, err := renderLayer(l, bw, bh, env)
	if err != nil {
		return err
	}
	defer ov.close()
	if l.Text.Alpha > 0 {
		if err := ov.opacity(float64(l.Text.Alpha) / 10); err != nil {
			return err
		}
	}
	pos, err := l.Pos.BindPos(imgurl.Vars{BW: bw, BH: bh, CW: ov.width(), CH: ov.height(), IW: bw, IH: bh})
	if err != nil {
		return err
	}
	x, y := place(pos, bw, bh, ov.width(), ov.height())
	return base.composite(ov, blendModes[l.Mode], x, y)
}

var blendModes = map[string]int{"": 0, "multiply": 1, "cutter": 2, "cutout": 3}

func renderLayer(l imgurl.Layer, bw, bh int, env stepEnv) (*vimage, error) {
	switch {
	case l.Kind == "text":
		return renderText(l, bw, bh, env)
	case l.Canvas():
		return renderCanvas(l, bw, bh, env)
	}
	return renderImage(l, bw, bh, env)
}

// layerSteps are a layer's transformations, at least one (empty) step.
func layerSteps(l imgurl.Layer) []imgurl.Step {
	if len(l.Steps) == 0 {
		return []imgurl.Step{{}}
	}
	return l.Steps
}

// runLayerSteps runs steps[from:] on ov, each bound on ov as it is then.
func runLayerSteps(ov *vimage, steps []imgurl.Step, from int, vars imgurl.Vars, env stepEnv) error {
	for i := from; i < len(steps); i++ {
		v := vars
		v.CW, v.CH = ov.width(), ov.height()
		var err error
		if steps, err = imgurl.Unfold(steps, i, v); err != nil {
			return err
		}
		st, err := steps[i].Bind(v)
		if err != nil {
			return err
		}
		if err := runStep(ov, st, nil, env); err != nil {
			return err
		}
	}
	return nil
}

// renderImage loads the layer's image as a source is loaded — checked
// against the same limits, decoded straight to its first step's size —
// and runs its transformations.
func renderImage(l imgurl.Layer, bw, bh int, env stepEnv) (*vimage, error) {
	src, ok := env.layers[l.Input]
	if !ok || len(src) == 0 {
		return nil, errkind.New(errkind.Internal, "layer_source_missing", "a layer's image was not fetched: "+l.Input)
	}
	hd, err := env.inspect(src)
	if err != nil {
		return nil, layerError(l, err)
	}
	w, h := hd.width, hd.height
	if hd.orientation >= 5 && hd.orientation <= 8 {
		w, h = h, w
	}
	vars := imgurl.Vars{IW: w, IH: h, CW: w, CH: h, BW: bw, BH: bh}
	steps, err := imgurl.Unfold(append([]imgurl.Step(nil), layerSteps(l)...), 0, vars)
	if err != nil {
		return nil, err
	}
	if steps[0], err = steps[0].Bind(vars); err != nil {
		return nil, err
	}
	if !steps[0].Trim.Set && !steps[0].NoTrim {
		steps[0].Trim = imgurl.OptInt{Set: true} // ImageKit trims an image layer unless told t-false
	}
	first, err := planResize(w, h, steps[0])
	if err != nil {
		return nil, err
	}
	loadW, loadH, planned := first.resizeW, first.resizeH, &first
	if first.region != nil || steps[0].Trim.Set || first.faceFit {
		loadW, loadH, planned = w, h, nil
	}
	if err := env.checkSize(loadW, loadH); err != nil {
		return nil, err
	}
	ov := &vimage{}
	if err := ov.loadPinned(env.pin, src, loadW, loadH, hd.hasICC); err != nil {
		ov.close()
		return nil, err
	}
	if err := runStep(ov, steps[0], planned, env); err != nil {
		ov.close()
		return nil, err
	}
	if err := runLayerSteps(ov, steps, 1, vars, env); err != nil {
		ov.close()
		return nil, err
	}
	return ov, nil
}

// renderCanvas makes the solid block: the first step's w×h (a fraction is
// of the base), the base's size without them, in the first bg found.
func renderCanvas(l imgurl.Layer, bw, bh int, env stepEnv) (*vimage, error) {
	vars := imgurl.Vars{IW: bw, IH: bh, CW: bw, CH: bh, BW: bw, BH: bh}
	steps, err := imgurl.Unfold(append([]imgurl.Step(nil), layerSteps(l)...), 0, vars)
	if err != nil {
		return nil, err
	}
	first, err := steps[0].Bind(vars)
	if err != nil {
		return nil, err
	}
	w, h := bw, bh
	if first.Width.Set {
		w = first.Width.Resolve(bw)
	}
	if first.Height.Set {
		h = first.Height.Resolve(bh)
	}
	if err := env.checkSize(w, h); err != nil {
		return nil, err
	}
	// Black unless bg says otherwise; clear under a gradient block.
	fill, gradientOnly := imgurl.Color{A: 255}, false
	for _, st := range steps {
		gradientOnly = gradientOnly || st.Gradient != nil
	}
	if gradientOnly {
		fill = imgurl.Color{}
	}
	for _, st := range steps {
		if st.Background != nil {
			fill = *st.Background
			break
		}
	}
	ov, err := newSolid(w, h, fill)
	if err != nil {
		return nil, err
	}
	// The block is already its size and colour: the steps add the rest
	// (radius, rotation, border, nested layers).
	first.Width, first.Height, first.Background = imgurl.Size{}, imgurl.Size{}, nil
	steps[0] = first
	if err := runLayerSteps(ov, steps, 0, vars, env); err != nil {
		ov.close()
		return nil, err
	}
	return ov, nil
}

// renderText sets the text with Pango: the first step's w is the wrap
// width and its bg the box behind the text and its padding; its other
// parameters (rotation, radius, flips…) and later steps apply to the box.
func renderText(l imgurl.Layer, bw, bh int, env stepEnv) (*vimage, error) {
	vars := imgurl.Vars{IW: bw, IH: bh, CW: bw, CH: bh, BW: bw, BH: bh}
	steps, err := imgurl.Unfold(append([]imgurl.Step(nil), layerSteps(l)...), 0, vars)
	if err != nil {
		return nil, err
	}
	first, err := steps[0].Bind(vars)
	if err != nil {
		return nil, err
	}
	t, err := l.Text.BindText(vars)
	if err != nil {
		return nil, err
	}
	o := textOptions{markup: textMarkup(l.Input, t), font: fontDescription(imgurl.Fonts[t.Font], t), align: textAlign(t.Align),
		spacing: lineSpacing(t), fg: imgurl.Color{A: 255}}
	if t.FontFile != "" {
		f, err := tenantFonts.Load(env.layers[t.FontFile])
		if err != nil {
			return nil, errkind.Wrap(errkind.KindOf(err), "layer_"+errkind.Reason(err),
				"layer font "+t.FontFile+": "+errkind.SafeMessage(err), err)
		}
		o.font, o.fontfile = fontDescription(f.Family, t), f.Path
	}
	if t.Color != nil {
		o.fg = *t.Color
	}
	if first.Width.Set {
		o.width = first.Width.Resolve(bw)
	}
	if first.Background != nil {
		o.bg = *first.Background
	}
	o.top, o.right, o.bottom, o.left = t.Edges()
	ov, err := newText(o)
	if err != nil {
		return nil, errkind.Wrap(errkind.Invalid, "text_not_rendered", "the text layer could not be set (is it only blank space?)", err)
	}
	if err := env.checkSize(ov.width(), ov.height()); err != nil {
		ov.close()
		return nil, err
	}
	first.Width, first.Height, first.Background, first.AspectRatio = imgurl.Size{}, imgurl.Size{}, nil, nil
	steps[0] = first
	if err := runLayerSteps(ov, steps, 0, vars, env); err != nil {
		ov.close()
		return nil, err
	}
	return ov, nil
}

// textMarkup is the text as Pango markup: escaped, so nothing in it is
// read as markup, inside the tags its typography asks for.
func textMarkup(text string, t imgurl.TextStyle) string {
	m := html.EscapeString(text)
	if t.Strike {
		m = "<s>" + m + "</s>"
	}
	if t.Italic {
		m = "<i>" + m + "</i>"
	}
	if t.Bold {
		m = "<b>" + m + "</b>"
	}
	return m
}

// lineSpacing is the space Pango adds between lines for lh, the distance
// from one line to the next: lh less the font's own line height (about
// 1.17 × its size for the installed faces), never negative.
func lineSpacing(t imgurl.TextStyle) int {
	if t.LineHeight == 0 {
		return 0
	}
	size := t.Size
	if size == 0 {
		size = defaultFontSize
	}
	return max(0, t.LineHeight-int(math.Round(float64(size)*1.17)))
}

// fontDescription is Pango's name for the font: the family (with a comma,
// so no word of it reads as a style) and the size.
func fontDescription(family string, t imgurl.TextStyle) string {
	if family == "" {
		family = imgurl.Fonts[defaultFont]
	}
	size := t.Size
	if size == 0 {
		size = defaultFontSize
	}
	// At 72 dpi a point is a pixel.
	return family + ", " + strconv.Itoa(size)
}

func textAlign(a string) int {
	switch a {
	case "left":
		return 0
	case "right":
		return 2
	}
	return 1
}

// place is where the layer's top-left corner goes on the base: see
// imgurl's Layer for the rules.
func place(p imgurl.LayerPos, bw, bh, ow, oh int) (x, y int) {
	if !(p.X.Set || p.Y.Set || p.XC.Set || p.YC.Set) {
		f := p.Focus
		if f == "" {
			f = "center"
		}
		return along(horizontal(f), bw, ow, 0, false), along(vertical(f), bh, oh, 0, false)
	}
	a := p.Anchor
	if a == "" {
		a = "top_left"
	}
	x = offset(horizontal(a), bw, ow, p.X, p.XC)
	y = offset(vertical(a), bh, oh, p.Y, p.YC)
	return x, y
}

// offset places a layer of size o on one axis of a base of size b from the
// anchor's side (-1 left/top, 0 centre, 1 right/bottom): corner is lx/ly,
// centre lxc/lyc (it wins when both are set). A negative value measures
// from the opposite side; the result is held inside the base when the
// layer fits in it.
func offset(side, b, o int, corner, centre imgurl.OptInt) int {
	v, centred := corner.Value, false
	if centre.Set {
		v, centred = centre.Value, true
	}
	if v < 0 && side != 0 {
		side, v = -side, -v
	}
	at := along(side, b, o, v, centred)
	if o <= b {
		at = min(max(at, 0), b-o)
	}
	return at
}

// along places a layer of size o on one axis of a base of size b: side is
// -1 (left/top), 0 (centre) or 1 (right/bottom); the offset points into
// the base from that side, and centred places the layer's centre, not its
// near edge, at it.
func along(side, b, o, offset int, centred bool) int {
	half := 0
	if centred {
		half = o / 2
	}
	switch side {
	case -1:
		return offset - half
	case 1:
		if centred {
			return b - offset - half
		}
		return b - o - offset
	}
	if centred {
		return b/2 + offset - half
	}
	return (b-o)/2 + offset
}

func horizontal(pos string) int {
	switch {
	case strings.HasSuffix(pos, "left"):
		return -1
	case strings.HasSuffix(pos, "right"):
		return 1
	}
	return 0
}

func vertical(pos string) int {
	switch {
	case strings.HasPrefix(pos, "top"):
		return -1
	case strings.HasPrefix(pos, "bottom"):
		return 1
	}
	return 0
}

// layerFootprint is what req's layers may hold at once, for the memory
// budget, and checks each layer image against the source limits before
// anything is leased or decoded: an image layer its whole decoded source
// (libvips may decode it at full size), a text layer its set glyphs.
func (e *Engine) layerFootprint(req Request, src imgurl.Vars) (int64, error) {
	var n int64
	err := req.Transformation.EachLayer(func(l imgurl.Layer) error {
		switch {
		case l.Kind == "text":
			if f := l.Text.FontFile; f != "" && len(req.Layers[f]) == 0 {
				return errkind.New(errkind.Internal, "layer_source_missing", "a layer's font was not fetched: "+f)
			}
			// An fs expression is estimated on the source, the base it is
			// drawn on not being known yet.
			src.BW, src.BH = src.IW, src.IH
			t, err := l.Text.BindText(src)
			if err != nil {
				t = imgurl.TextStyle{Size: imgurl.MaxFontSize}
			}
			size := int64(max(t.Size, defaultFontSize))
			n += min(int64(utf8.RuneCountInString(l.Input))*size*size*2, e.cfg.MaxSourcePixels) * bytesPerPixel
		case !l.Canvas():
			src, ok := req.Layers[l.Input]
			if !ok || len(src) == 0 {
				return errkind.New(errkind.Internal, "layer_source_missing", "a layer's image was not fetched: "+l.Input)
			}
			hd, err := e.inspect(src)
			if err != nil {
				return layerError(l, err)
			}
			n += int64(hd.width) * int64(hd.height) * bytesPerPixel
		}
		return nil
	})
	return n, err
}

// layerError names the layer in a refusal of its image, and gives it a
// reason of its own: the base image is not at fault, so a corrupt layer
// must not be remembered as the base's failure.
func layerError(l imgurl.Layer, err error) error {
	return errkind.Wrap(errkind.KindOf(err), "layer_"+errkind.Reason(err),
		"layer image "+l.Input+": "+errkind.SafeMessage(err), err)
}
