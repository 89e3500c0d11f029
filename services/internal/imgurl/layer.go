package imgurl

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"pictor/services/internal/errkind"
)

// Layers, ImageKit's way: "l-image,i-logo.png,w-100,lx-10,l-end" puts an
// image from the same URL-endpoint over the step's result,
// "l-image,i-ik_canvas,bg-FF0000,w-50,h-50,l-end" a solid block and
// "l-text,i-Hello,fs-40,co-white,l-end" text. Between l-… and l-end come the
// layer's own parameters (input, position, blending, text style) and its
// own transformations, which may chain with ':' and hold layers of their
// own, up to MaxLayerDepth deep. Layers are drawn after everything else
// in their step, in the order written.
//
// Position (on the base the layer is drawn on), as ImageKit documents it:
// lx/ly put the layer's top-left corner, lxc/lyc its centre, at that offset
// from the anchor lap (default top_left; offsets point into the base from a
// right or bottom anchor); a negative offset (N) is measured from the
// opposite edge instead, and an offset that would put the layer past the
// base is pulled back inside it. Without any of them lfo places it
// (default centre). Offsets may be expressions, where bw, bh and bar name
// the base and cw, ch and car the layer. An image layer is trimmed first
// (t-true) unless it says t-false. lm picks the blend: multiply, cutter (the
// layer cuts its shape out of the base) or cutout (only the base under the
// layer stays).

// Limits on layers.
const (
	MaxLayers      = 10   // in a whole transformation, nested ones included
	MaxLayerDepth  = 3    // layers in layers in layers
	MaxTextRunes   = 1000 // of a text layer
	MaxFontSize    = 1000
	MaxPadding     = 1000
	MaxLineHeight  = 1000
	canvasInput    = "ik_canvas"
	maxInputLength = 1024
)

// Layer is one l-…,l-end block.
type Layer struct {
	Kind  string // image or text
	Input string // image: the path on the endpoint ('/' decoded) or ik_canvas; text: the text
	Steps []Step // the layer's own transformations, chained
	Pos   LayerPos
	Mode  string // "", multiply, cutter, cutout
	Text  TextStyle
}

// Canvas reports whether the layer is a solid block (i-ik_canvas).
func (l Layer) Canvas() bool { return l.Kind == "image" && l.Input == canvasInput }

// LayerPos is where a layer goes on its base.
type LayerPos struct {
	X, Y, XC, YC OptInt
	Exprs        []KeyExpr // lx, ly, lxc, lyc given as expressions
	Anchor       string    // lap
	Focus        string    // lfo
}

// TextStyle is a text layer's look; Alpha applies to solid blocks too.
type TextStyle struct {
	Size       int    // fs, 0 = default
	Font       string // ff: an installed family (lower case, spaces)
	FontFile   string // ff: or a font file's path on the URL-endpoint
	Color      *Color // co
	Align      string // ia: left, right, center
	Padding    []int  // pa: 1 to 4 values, CSS order
	Alpha      int    // al: 1 (nearly transparent) to 9; 0 = opaque
	Bold       bool   // tg
	Italic     bool
	Strike     bool
	LineHeight int // lh, pixels between lines' baselines; 0 = the font's

	// fs, lh and pa given as expressions (over bw, bh, bar and iw, ih, iar,
	// which in a text layer are the base too): BindText evaluates them.
	SizeExpr, LineHeightExpr *Expr
	PaddingExprs             []*Expr // parallel to Padding, nil where a number
}

var positions = []string{"center", "top", "left", "bottom", "right", "top_left", "top_right", "bottom_left", "bottom_right"}

// layerKeys are the parameters that belong to the layer itself rather than
// to its transformations.
var layerKeys = map[string]func(l *Layer, v string) error{
	"i":   func(l *Layer, v string) error { return l.setInput(v, false) },
	"ie":  func(l *Layer, v string) error { return l.setInput(v, true) },
	"lx":  func(l *Layer, v string) error { return l.Pos.set("lx", v, &l.Pos.X) },
	"ly":  func(l *Layer, v string) error { return l.Pos.set("ly", v, &l.Pos.Y) },
	"lxc": func(l *Layer, v string) error { return l.Pos.set("lxc", v, &l.Pos.XC) },
	"lyc": func(l *Layer, v string) error { return l.Pos.set("lyc", v, &l.Pos.YC) },
	"lap": func(l *Layer, v string) error { return enumInto("lap", v, &l.Pos.Anchor, positions...) },
	"lfo": func(l *Layer, v string) error { return enumInto("lfo", v, &l.Pos.Focus, positions...) },
	"lm":  func(l *Layer, v string) error { return enumInto("lm", v, &l.Mode, "multiply", "cutter", "cutout") },
	"fs": textOnly("fs", func(l *Layer, v string) error {
		return exprOrIntInto("fs", v, 1, MaxFontSize, &l.Text.Size, &l.Text.SizeExpr)
	}),
	"ff": textOnly("ff", func(l *Layer, v string) error { return l.Text.setFont(v) }),
	"co": textOnly("co", func(l *Layer, v string) error {
		c, err := parseColor("co", v)
		l.Text.Color = &c
		return err
	}),
	"ia": textOnly("ia", func(l *Layer, v string) error { return enumInto("ia", v, &l.Text.Align, "left", "right", "center") }),
	"pa": textOnly("pa", func(l *Layer, v string) error { return l.Text.setPadding(v) }),
	"al": func(l *Layer, v string) error {
		if l.Kind == "image" && !l.Canvas() {
			return invalidValue("al", "is for text layers and solid blocks (use o- on an image layer)")
		}
		return intInto("al", v, 1, 9, &l.Text.Alpha)
	},
	"tg": textOnly("tg", func(l *Layer, v string) error { return l.Text.setTypography(v) }),
	"lh": textOnly("lh", func(l *Layer, v string) error {
		return exprOrIntInto("lh", v, 1, MaxLineHeight, &l.Text.LineHeight, &l.Text.LineHeightExpr)
	}),
}

func textOnly(key string, f func(*Layer, string) error) func(*Layer, string) error {
	return func(l *Layer, v string) error {
		if l.Kind != "text" {
			return invalidValue(key, "is for text layers")
		}
		return f(l, v)
	}
}

// unsupportedInLayer are ImageKit layer parameters not rendered yet.
var unsupportedInLayer = map[string]string{
	"lso": "video layers", "leo": "video layers", "ldu": "video layers",
	"fol": "font outlines", "fsh": "font shadows",
}

func enumInto(key, v string, dst *string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			*dst = v
			return nil
		}
	}
	return invalidValue(key, "want one of "+strings.Join(allowed, ", "))
}

// exprOrIntInto reads a whole number or an expression over the layer's
// variables; the last value given wins, whichever kind it is.
func exprOrIntInto(key, v string, lo, hi int, dst *int, dstExpr **Expr) error {
	if isExpression(v) {
		e, err := parseLayerExpr(key, v)
		if err != nil {
			return err
		}
		*dst, *dstExpr = 0, e
		return nil
	}
	*dstExpr = nil
	return intInto(key, v, lo, hi, dst)
}

func intInto(key, v string, lo, hi int, dst *int) error {
	n, err := parseInt(v)
	if err != nil || n < lo || n > hi {
		return invalidValue(key, fmt.Sprintf("want a whole number from %d to %d", lo, hi))
	}
	*dst = n
	return nil
}

func (p *LayerPos) set(key, v string, dst *OptInt) error {
	if isExpression(v) {
		e, err := parseLayerExpr(key, v)
		if err != nil {
			return err
		}
		*dst = OptInt{}
		p.dropExpr(key)
		p.Exprs = append(p.Exprs, KeyExpr{Key: key, Expr: e})
		return nil
	}
	n, err := parseInt(v)
	if err != nil || n < -MaxCoordinate || n > MaxCoordinate {
		return invalidValue(key, fmt.Sprintf("want a whole number from -%d to %d (N for negative) or an expression", MaxCoordinate, MaxCoordinate))
	}
	p.dropExpr(key)
	*dst = OptInt{Set: true, Value: n}
	return nil
}

func (p *LayerPos) dropExpr(key string) {
	for i, ke := range p.Exprs {
		if ke.Key == key {
			p.Exprs = append(p.Exprs[:i:i], p.Exprs[i+1:]...)
			return
		}
	}
}

func (p *LayerPos) expr(key string) *Expr {
	for _, ke := range p.Exprs {
		if ke.Key == key {
			return ke.Expr
		}
	}
	return nil
}

// setInput reads i- (plain: '@@' for '/' in a path, percent-escapes in a
// text) or ie- (base64, as ImageKit's SDKs write it when plain will not do).
func (l *Layer) setInput(v string, encoded bool) error {
	key := "i"
	if encoded {
		key = "ie"
	}
	s := v
	if u, err := url.PathUnescape(v); err == nil {
		s = u
	}
	if encoded {
		b, err := decodeBase64(s)
		if err != nil {
			return invalidValue(key, "not base64")
		}
		s = string(b)
	}
	if l.Kind == "text" {
		if !utf8.ValidString(s) || s == "" {
			return invalidValue(key, "want non-empty UTF-8 text")
		}
		if n := utf8.RuneCountInString(s); n > MaxTextRunes {
			return invalidValue(key, fmt.Sprintf("text of %d characters is over the limit of %d", n, MaxTextRunes))
		}
		l.Input = s
		return nil
	}
	if !encoded {
		s = strings.ReplaceAll(s, "@@", "/")
	}
	p, err := endpointPath(key, s)
	if err != nil {
		return err
	}
	l.Input = p
	return nil
}

// endpointPath checks a path on the URL-endpoint named in a layer ('/'
// already decoded): an original's path, relative, without tricks.
func endpointPath(key, s string) (string, error) {
	p := strings.TrimPrefix(s, "/")
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		return "", unsupported(key, "layers from absolute URLs")
	}
	if p == "" || len(p) > maxInputLength || strings.ContainsAny(p, "\\?#") || !utf8.ValidString(p) {
		return "", invalidValue(key, "want a path on the URL-endpoint ('@@' stands for '/')")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", invalidValue(key, "path must not contain empty, '.' or '..' segments")
		}
		if strings.HasPrefix(seg, "tr:") {
			return "", invalidValue(key, "a layer's image is an original: its transformations go inside the layer, not in its path")
		}
	}
	return p, nil
}

func decodeBase64(s string) ([]byte, error) {
	// A '+' that reached us through a query string unescaped reads as a
	// space there; base64 has no spaces.
	s = strings.ReplaceAll(s, " ", "+")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("not base64")
}

// Fonts are the families text layers may name with ff-, installed from
// Debian's packages by the bootstrap; fontconfig falls back to another of
// them for scripts a family lacks (Devanagari, CJK).
var Fonts = map[string]string{
	"sans": "DejaVu Sans", "serif": "DejaVu Serif", "mono": "DejaVu Sans Mono",
	"dejavu sans": "DejaVu Sans", "dejavu serif": "DejaVu Serif", "dejavu sans mono": "DejaVu Sans Mono",
	"lohit devanagari": "Lohit Devanagari", "wenquanyi micro hei": "WenQuanYi Micro Hei",
}

func (t *TextStyle) setFont(v string) error {
	if strings.Contains(v, "@@") || strings.Contains(v, ".") {
		return t.setFontFile(v)
	}
	name := strings.ReplaceAll(v, "_", " ")
	if _, ok := Fonts[strings.ToLower(name)]; !ok {
		return invalidValue("ff", "want one of the installed fonts: sans, serif, mono, DejaVu_Sans, DejaVu_Serif, DejaVu_Sans_Mono, Lohit_Devanagari, WenQuanYi_Micro_Hei, or a .ttf or .otf file on the URL-endpoint (ff-fonts@@Brand.ttf)")
	}
	t.Font, t.FontFile = strings.ToLower(name), ""
	return nil
}

// setFontFile reads ImageKit's custom font: a .ttf or .otf file among the
// URL-endpoint's originals, '@@' for '/'.
func (t *TextStyle) setFontFile(v string) error {
	p, err := endpointPath("ff", strings.ReplaceAll(v, "@@", "/"))
	if err != nil {
		return err
	}
	switch ext := strings.ToLower(p[strings.LastIndexByte(p, '.')+1:]); ext {
	case "ttf", "otf":
	case "woff", "woff2", "ttc":
		return unsupported("ff-"+v, "."+ext+" fonts (use the .ttf or .otf)")
	default:
		return invalidValue("ff", "a font file is a .ttf or .otf on the URL-endpoint ('@@' stands for '/')")
	}
	t.Font, t.FontFile = "", p
	return nil
}

// setPadding reads 1 to 4 values joined by '_', each a number or an
// expression; as expressions join with '_' too, a value ends where an
// operand is followed by another operand (pa-bh_mul_0.1_20 is two values).
func (t *TextStyle) setPadding(v string) error {
	var groups [][]string
	toks := strings.Split(v, "_")
	for i, tok := range toks {
		_, isOp := exprOps[tok]
		_, prevOp := exprOps[toks[max(i-1, 0)]]
		if i == 0 || (!isOp && !prevOp) {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], tok)
	}
	if len(groups) > 4 {
		return invalidValue("pa", "want 1 to 4 values joined by '_', in CSS order")
	}
	pad, exprs := make([]int, len(groups)), make([]*Expr, len(groups))
	anyExpr := false
	for i, g := range groups {
		if err := exprOrIntInto("pa", strings.Join(g, "_"), 0, MaxPadding, &pad[i], &exprs[i]); err != nil {
			return err
		}
		anyExpr = anyExpr || exprs[i] != nil
	}
	t.Padding, t.PaddingExprs = pad, nil
	if anyExpr {
		t.PaddingExprs = exprs
	}
	return nil
}

// BindText returns the style with its expressions evaluated on v, each
// checked as the literal would be.
func (t TextStyle) BindText(v Vars) (TextStyle, error) {
	out := t
	out.SizeExpr, out.LineHeightExpr, out.PaddingExprs = nil, nil, nil
	bind := func(key string, e *Expr, lo, hi int, dst *int) error {
		if e == nil {
			return nil
		}
		f, err := e.Eval(v)
		if err != nil {
			return invalidValue(key, err.Error())
		}
		n := int(math.Round(f))
		if f < float64(lo)-0.5 || f > float64(hi)+0.5 {
			return invalidValue(key, fmt.Sprintf("%s is %g for this image; want %d to %d", e, f, lo, hi))
		}
		*dst = n
		return nil
	}
	if err := bind("fs", t.SizeExpr, 1, MaxFontSize, &out.Size); err != nil {
		return TextStyle{}, err
	}
	if err := bind("lh", t.LineHeightExpr, 1, MaxLineHeight, &out.LineHeight); err != nil {
		return TextStyle{}, err
	}
	if t.PaddingExprs != nil {
		out.Padding = append([]int(nil), t.Padding...)
		for i, e := range t.PaddingExprs {
			if err := bind("pa", e, 0, MaxPadding, &out.Padding[i]); err != nil {
				return TextStyle{}, err
			}
		}
	}
	return out, nil
}

// Edges returns the padding as top, right, bottom, left (CSS shorthand).
func (t TextStyle) Edges() (top, right, bottom, left int) {
	p := t.Padding
	switch len(p) {
	case 1:
		return p[0], p[0], p[0], p[0]
	case 2:
		return p[0], p[1], p[0], p[1]
	case 3:
		return p[0], p[1], p[2], p[1]
	case 4:
		return p[0], p[1], p[2], p[3]
	}
	return 0, 0, 0, 0
}

func (t *TextStyle) setTypography(v string) error {
	var b, i, s bool
	for _, p := range strings.Split(v, "_") {
		switch p {
		case "b":
			b = true
		case "i":
			i = true
		case "strikethrough":
			s = true
		default:
			return invalidValue("tg", "want b, i, strikethrough or a combination joined by '_' (b_i)")
		}
	}
	t.Bold, t.Italic, t.Strike = b, i, s
	return nil
}

// String is the layer's canonical form, l-… to l-end.
func (l Layer) String() string {
	parts := []string{"l-" + l.Kind, l.inputString()}
	add := func(k, v string) { parts = append(parts, k+"-"+v) }
	for _, k := range []struct {
		key string
		v   OptInt
	}{{"lx", l.Pos.X}, {"ly", l.Pos.Y}, {"lxc", l.Pos.XC}, {"lyc", l.Pos.YC}} {
		if e := l.Pos.expr(k.key); e != nil {
			add(k.key, e.String())
		} else if k.v.Set {
			add(k.key, fmtInt(k.v.Value))
		}
	}
	if l.Pos.Anchor != "" {
		add("lap", l.Pos.Anchor)
	}
	if l.Pos.Focus != "" {
		add("lfo", l.Pos.Focus)
	}
	if l.Mode != "" {
		add("lm", l.Mode)
	}
	t := l.Text
	if t.SizeExpr != nil {
		add("fs", t.SizeExpr.String())
	} else if t.Size != 0 {
		add("fs", strconv.Itoa(t.Size))
	}
	if t.Font != "" {
		add("ff", strings.ReplaceAll(t.Font, " ", "_"))
	}
	if t.FontFile != "" {
		add("ff", strings.ReplaceAll(t.FontFile, "/", "@@"))
	}
	if t.Color != nil {
		add("co", fmtColor(*t.Color))
	}
	if t.Align != "" {
		add("ia", t.Align)
	}
	if len(t.Padding) > 0 {
		ps := make([]string, len(t.Padding))
		for i, p := range t.Padding {
			ps[i] = strconv.Itoa(p)
			if t.PaddingExprs != nil && t.PaddingExprs[i] != nil {
				ps[i] = t.PaddingExprs[i].String()
			}
		}
		add("pa", strings.Join(ps, "_"))
	}
	if t.Alpha != 0 {
		add("al", strconv.Itoa(t.Alpha))
	}
	if t.Bold || t.Italic || t.Strike {
		var tg []string
		for _, f := range []struct {
			on   bool
			name string
		}{{t.Bold, "b"}, {t.Italic, "i"}, {t.Strike, "strikethrough"}} {
			if f.on {
				tg = append(tg, f.name)
			}
		}
		add("tg", strings.Join(tg, "_"))
	}
	if t.LineHeightExpr != nil {
		add("lh", t.LineHeightExpr.String())
	} else if t.LineHeight != 0 {
		add("lh", strconv.Itoa(t.LineHeight))
	}
	var steps []string
	for _, s := range l.Steps {
		steps = append(steps, s.String())
	}
	if chain := strings.Join(steps, ":"); strings.Trim(chain, ":") != "" {
		parts = append(parts, chain)
	}
	return strings.Join(append(parts, "l-end"), ",")
}

func (l Layer) inputString() string {
	if l.Kind == "text" {
		return "i-" + escapeText(l.Input)
	}
	for _, r := range l.Input {
		if !(r < utf8.RuneSelf && (isUnreserved(byte(r)) || r == '/')) {
			return "ie-" + base64.RawURLEncoding.EncodeToString([]byte(l.Input))
		}
	}
	return "i-" + strings.ReplaceAll(l.Input, "/", "@@")
}

// escapeText percent-encodes all but unreserved characters, so a text's
// ',' ':' '/' and '%' never read as grammar.
func escapeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; isUnreserved(c) {
			b.WriteByte(c)
		} else {
			writeEscape(&b, c)
		}
	}
	return b.String()
}

// parseLayerExpr is parseExpr where the layer variables are known.
func parseLayerExpr(key, v string) (*Expr, error) {
	return parseExprWith(key, v, true)
}

// splitTop splits s at sep where no layer is open: a layer's own ',' and
// ':' stay inside it.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start, param := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != ',' && s[i] != ':' {
			continue
		}
		switch p := s[param:i]; {
		case p == "l-end":
			depth = max(depth-1, 0)
		case strings.HasPrefix(p, "l-"):
			depth++
		}
		if i < len(s) && s[i] == sep && depth == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
		param = i + 1
	}
	return append(out, s[start:])
}

// parseLayer reads the inside of one layer — kind is "image" or "text" and
// body what follows "l-KIND," up to its l-end — at nesting depth depth.
func parseLayer(kind, body string, depth int) (Layer, error) {
	if depth > MaxLayerDepth {
		return Layer{}, invalidValue("l", fmt.Sprintf("layers nest at most %d deep", MaxLayerDepth))
	}
	l := Layer{Kind: kind}
	var own []string     // per ':' segment, the layer's step parameters
	var layers [][]Layer // per segment, the layers drawn in that step
	inBlock := false
	for _, seg := range splitTop(body, ':') {
		var params []string
		var sub []Layer
		for _, p := range splitTop(seg, ',') {
			if p == "" {
				continue
			}
			key, value, _ := strings.Cut(p, "-")
			switch {
			case isIfOpen(p):
				inBlock = true
			case p == "if-end":
				inBlock = false
			}
			if key == "l" {
				if inBlock {
					return Layer{}, unsupported("l", "layers inside conditionals")
				}
				sl, err := parseLayerParam(p, depth+1)
				if err != nil {
					return Layer{}, err
				}
				sub = append(sub, sl)
				continue
			}
			if what, ok := unsupportedInLayer[key]; ok {
				return Layer{}, unsupported(key, what)
			}
			if set, ok := layerKeys[key]; ok {
				if inBlock {
					return Layer{}, unsupported(key, "a layer's own parameters (input, position, blend, text style) inside conditionals")
				}
				if err := set(&l, value); err != nil {
					return Layer{}, err
				}
				continue
			}
			params = append(params, p)
		}
		own = append(own, strings.Join(params, ","))
		layers = append(layers, sub)
	}
	steps, err := parseStepsIn(strings.Join(own, ":"), true)
	if err != nil {
		return Layer{}, err
	}
	if len(steps) != len(own) {
		// A chained if- block joined segments: their layers have no step
		// of their own to go to.
		for _, sub := range layers {
			if len(sub) > 0 {
				return Layer{}, unsupported("l", "layers in a layer whose steps hold an if- block over ':'")
			}
		}
	} else {
		for i := range steps {
			steps[i].Layers = layers[i]
		}
	}
	l.Steps = steps
	if l.Input == "" {
		return Layer{}, invalidValue("l", "a layer needs its input: i- or ie-")
	}
	if l.Canvas() {
		for _, st := range l.Steps {
			if c := st.Chain; c != nil {
				st = c.Before // the block's colour comes before any branch
			}
			if st.Background == nil && st.Gradient == nil && len(l.Steps) == 1 {
				return Layer{}, invalidValue("bg", "a solid block (i-ik_canvas) needs its colour: bg- (or e-gradient)")
			}
		}
	}
	for len(l.Steps) > 0 && l.Steps[len(l.Steps)-1].IsZero() {
		l.Steps = l.Steps[:len(l.Steps)-1]
	}
	return l, nil
}

// parseLayerParam reads one "l-KIND,…,l-end" parameter as splitTop cut it.
func parseLayerParam(p string, depth int) (Layer, error) {
	head, body, _ := strings.Cut(p, ",")
	kind := strings.TrimPrefix(head, "l-")
	switch kind {
	case "image", "text":
	case "video", "subtitles", "audio":
		return Layer{}, unsupported("l-"+kind, kind+" layers")
	case "end":
		return Layer{}, invalidValue("l", "l-end without a layer")
	default:
		return Layer{}, invalidValue("l", "want l-image or l-text")
	}
	if !strings.HasSuffix(body, "l-end") || (len(body) > 5 && body[len(body)-6] != ',' && body[len(body)-6] != ':') {
		return Layer{}, invalidValue("l", "a layer has no l-end")
	}
	return parseLayer(kind, strings.TrimSuffix(strings.TrimSuffix(body, "l-end"), ","), depth)
}

// EachLayer calls f for every layer of t, nested ones included, parents
// before the layers they hold.
func (t Transformation) EachLayer(f func(Layer) error) error {
	var walk func([]Layer) error
	walk = func(ls []Layer) error {
		for _, l := range ls {
			if err := f(l); err != nil {
				return err
			}
			for _, st := range l.Steps {
				if err := walk(st.Layers); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var steps func([]Step) error
	steps = func(ss []Step) error {
		for _, st := range ss {
			if c := st.Chain; c != nil {
				if err := steps(c.steps().Steps); err != nil {
					return err
				}
			}
			if err := walk(st.Layers); err != nil {
				return err
			}
			// A conditional's layers count and are fetched whichever
			// branch the image takes.
			for _, c := range st.Conds {
				if err := steps([]Step{c.Then, c.Else}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return steps(t.Steps)
}

// CountLayers is every layer of t, nested ones included.
func (t Transformation) CountLayers() int {
	n := 0
	t.EachLayer(func(Layer) error { n++; return nil })
	return n
}

// LayerImages lists the distinct image paths t's layers draw, nested ones
// included: the originals to fetch before rendering.
func (t Transformation) LayerImages() []string {
	return t.layerPaths(func(l Layer) string {
		if l.Kind == "image" && !l.Canvas() {
			return l.Input
		}
		return ""
	})
}

// LayerFonts lists the font files text layers name, each once.
func (t Transformation) LayerFonts() []string {
	return t.layerPaths(func(l Layer) string { return l.Text.FontFile })
}

func (t Transformation) layerPaths(pathOf func(Layer) string) []string {
	var out []string
	seen := map[string]bool{}
	t.EachLayer(func(l Layer) error {
		if p := pathOf(l); p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
		return nil
	})
	return out
}

func errLayerKey(key string) error {
	return errkind.New(errkind.Invalid, "invalid_parameter",
		fmt.Sprintf("transformation parameter %q belongs inside a layer (l-image or l-text … l-end)", key))
}

// layerDepth is the nesting depth of a step's own layers' parent: 0 for a
// transformation's step, 1 for a layer's (deeper nesting is counted by
// parseLayer as it reads).
func layerDepth(inLayer bool) int {
	if inLayer {
		return 1
	}
	return 0
}

// BindPos returns the layer's position with its expressions evaluated: v
// has the base in BW/BH and the rendered layer in CW/CH.
func (p LayerPos) BindPos(v Vars) (LayerPos, error) {
	out := p
	out.Exprs = nil
	for _, ke := range p.Exprs {
		f, err := ke.Expr.Eval(v)
		if err != nil {
			return LayerPos{}, invalidValue(ke.Key, err.Error())
		}
		if f < -MaxCoordinate || f > MaxCoordinate {
			return LayerPos{}, invalidValue(ke.Key, fmt.Sprintf("%s is %g for this image, out of range", ke.Expr, f))
		}
		o := OptInt{Set: true, Value: int(math.Round(f))}
		switch ke.Key {
		case "lx":
			out.X = o
		case "ly":
			out.Y = o
		case "lxc":
			out.XC = o
		case "lyc":
			out.YC = o
		}
	}
	return out, nil
}
