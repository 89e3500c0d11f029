package imgurl

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Limits on values, from DESIGN §3 and §5.
const (
	MaxSide       = 65535 // largest output side for any format
	MaxSideWebP   = 16383 // WebP's own limit
	MinDPR        = 0.1
	MaxDPR        = 5.0
	MaxBorder     = 1000
	MaxRadius     = 10000
	MaxCoordinate = 65535
	MaxPage       = 100000
)

// Size is a width or height: pixels (>= 1) or a fraction of the source in (0,1).
type Size struct {
	Set   bool
	Value float64
}

// Fraction reports whether the size is relative to the source.
func (s Size) Fraction() bool { return s.Set && s.Value < 1 }

// Resolve returns the size in pixels for a source side of n pixels.
func (s Size) Resolve(n int) int {
	if !s.Set {
		return 0
	}
	if s.Fraction() {
		return max(1, int(math.Round(s.Value*float64(n))))
	}
	return int(s.Value)
}

// Ratio is an aspect ratio W:H.
type Ratio struct{ W, H float64 }

// Color is an RGBA colour; A is alpha on the 0–255 scale (see parseColor
// for how ImageKit's opacity percentage maps onto it).
type Color struct{ R, G, B, A uint8 }

// Border is a solid border drawn around the image.
type Border struct {
	Width int
	Color Color
}

// Rotation is an angle in degrees (clockwise), or "auto" (EXIF orientation).
type Rotation struct {
	Set     bool
	Auto    bool
	Degrees int
}

// OptInt is an optional integer parameter.
type OptInt struct {
	Set   bool
	Value int
}

// USM holds unsharp-mask parameters: radius, sigma, amount, threshold.
type USM struct{ Radius, Sigma, Amount, Threshold float64 }

// Step is one step of a chain: every parameter that may appear in it.
type Step struct {
	Width, Height Size
	// WidthAuto (w-auto) and DPRAuto (dpr-auto) take the width and the
	// pixel ratio from the request's client hints: ResolveHints replaces
	// them before a transformation is planned or named in the cache.
	WidthAuto, DPRAuto bool
	AspectRatio        *Ratio
	Crop               string  // maintain_ratio, force, at_max, at_max_enlarge, at_least
	CropMode           string  // pad_resize, extract, pad_extract
	Focus              string  // center, top, ..., auto, face
	Zoom               float64 // z, with fo-face: > 1 closer to the face, < 1 more around it; 0 = 1
	X, Y, XC, YC       OptInt
	Quality            int     // 0 = account default
	Format             string  // auto, jpg, png, webp, avif, gif, orig
	DPR                float64 // 0 = unset (1)
	Background         *Color
	Border             *Border
	Radius             int // 0 = none
	RadiusMax          bool
	Rotate             Rotation
	Flip               string // h, v, h_v
	Blur               int
	Opacity            OptInt
	Trim               OptInt // Set with Value 0 means "true" (default threshold)
	// NoTrim is t-false: an image layer, trimmed by default as ImageKit
	// trims it, is not; elsewhere it changes nothing.
	NoTrim       bool
	Named        string
	DefaultImage string // path; '/' already decoded from '@@'
	Original     bool
	Progressive  bool
	Lossless     bool
	KeepMetadata bool
	// KeepCopyright is cp-true. ImageKit documents cp as "color profile":
	// keep the source's ICC profile (and its untransformed pixel values)
	// while every other piece of metadata is still stripped. The field name
	// is historical and kept so the API does not change.
	KeepCopyright bool
	Grayscale     bool
	Sharpen       OptInt // Set with Value 0 means default strength
	UnsharpMask   *USM
	Contrast      bool
	Shadow        *Shadow     // e-shadow
	Gradient      *Gradient   // e-gradient
	DropShadow    *DropShadow // e-dropshadow
	Distort       *Distort    // e-distort
	Page          int         // pg: the source's page (frame) to render, 1-based; 0 = the first
	// Exprs are parameters given as arithmetic expressions, and Conds the
	// step's if-…-if-end blocks, in the order written; Bind turns both into
	// plain values once the image's sizes are known.
	Exprs []KeyExpr
	Conds []Conditional
	// Chain, when set, is all the step is: an if- block over chained
	// steps, replaced by its branch as the step is reached (Unfold).
	Chain *ChainBlock
	// Layers are drawn over the step's result, in order.
	Layers []Layer
	// inLayer: the step is a layer's own, where bw, bh and bar exist.
	inLayer bool
}

// IsZero reports whether the step sets no parameter.
func (s Step) IsZero() bool { return s.String() == "" }

// String returns the step's canonical form.
func (s Step) String() string {
	if s.Chain != nil {
		return s.Chain.String()
	}
	var b strings.Builder
	for _, sp := range specs {
		v, ok := sp.format(&s)
		if e := s.exprOf(sp.key); e != nil && sp.parse != nil {
			v, ok = e.String(), true
		}
		if !ok {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(sp.key)
		b.WriteByte('-')
		b.WriteString(v)
	}
	for _, c := range s.Conds {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString("if-" + c.If.String())
		if t := c.Then.String(); t != "" {
			b.WriteString("," + t)
		}
		if e := c.Else.String(); e != "" {
			b.WriteString(",if-else," + e)
		}
		b.WriteString(",if-end")
	}
	for _, l := range s.Layers {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.String())
	}
	return b.String()
}

// spec describes one parameter: how to parse its value into a Step and how
// to print it back. The order of specs is the canonical parameter order.
type spec struct {
	key    string
	parse  func(*Step, string) error
	format func(*Step) (string, bool)
}

// specsByKey finds the parser of a key. Effects share the key "e" and one
// parser; each effect prints as its own canonical entry, so a step with
// several effects keeps them in a fixed order.
var specsByKey = map[string]*spec{"e": {key: "e", parse: parseEffect}}

func init() {
	for i := range specs {
		if specs[i].parse != nil {
			specsByKey[specs[i].key] = &specs[i]
		}
	}
}

var specs = []spec{
	{"w", func(s *Step, v string) error {
		if v == "auto" {
			s.Width, s.WidthAuto = Size{}, true
			return nil
		}
		s.WidthAuto = false
		return parseSize("w", v, &s.Width)
	}, func(s *Step) (string, bool) {
		if s.WidthAuto {
			return "auto", true
		}
		return fmtSize(s.Width)
	}},
	{"h", func(s *Step, v string) error { return parseSize("h", v, &s.Height) }, func(s *Step) (string, bool) { return fmtSize(s.Height) }},
	{"ar", parseAspectRatio, func(s *Step) (string, bool) {
		if s.AspectRatio == nil {
			return "", false
		}
		return fmtFloat(s.AspectRatio.W) + "-" + fmtFloat(s.AspectRatio.H), true
	}},
	{"c", enumParser("c", func(s *Step) *string { return &s.Crop }, "maintain_ratio", "force", "at_max", "at_max_enlarge", "at_least"),
		func(s *Step) (string, bool) { return s.Crop, s.Crop != "" }},
	{"cm", enumParser("cm", func(s *Step) *string { return &s.CropMode }, "pad_resize", "extract", "pad_extract"),
		func(s *Step) (string, bool) { return s.CropMode, s.CropMode != "" }},
	{"fo", enumParser("fo", func(s *Step) *string { return &s.Focus }, "center", "top", "left", "bottom", "right",
		"top_left", "top_right", "bottom_left", "bottom_right", "auto", "face"),
		func(s *Step) (string, bool) { return s.Focus, s.Focus != "" }},
	{"z", func(s *Step, v string) error {
		f, err := parseDecimal(v)
		if err != nil || f <= 0 || f > 100 {
			return invalidValue("z", "want a number above 0 (under 1 zooms out from the face, over 1 in), at most 100")
		}
		s.Zoom = f
		return nil
	}, func(s *Step) (string, bool) { return fmtFloat(s.Zoom), s.Zoom != 0 }},
	{"x", intParser("x", 0, MaxCoordinate, func(s *Step) *OptInt { return &s.X }), func(s *Step) (string, bool) { return fmtOpt(s.X) }},
	{"y", intParser("y", 0, MaxCoordinate, func(s *Step) *OptInt { return &s.Y }), func(s *Step) (string, bool) { return fmtOpt(s.Y) }},
	{"xc", intParser("xc", 0, MaxCoordinate, func(s *Step) *OptInt { return &s.XC }), func(s *Step) (string, bool) { return fmtOpt(s.XC) }},
	{"yc", intParser("yc", 0, MaxCoordinate, func(s *Step) *OptInt { return &s.YC }), func(s *Step) (string, bool) { return fmtOpt(s.YC) }},
	{"q", func(s *Step, v string) error {
		var o OptInt
		if err := intParser("q", 1, 100, func(*Step) *OptInt { return &o })(s, v); err != nil {
			return err
		}
		s.Quality = o.Value
		return nil
	}, func(s *Step) (string, bool) { return strconv.Itoa(s.Quality), s.Quality != 0 }},
	{"f", func(s *Step, v string) error {
		switch v {
		case "auto", "jpg", "png", "webp", "avif", "gif", "orig":
			s.Format = v
		case "jpeg":
			s.Format = "jpg"
		default:
			return invalidValue("f", "want auto, jpg, jpeg, png, webp, avif, gif or orig")
		}
		return nil
	}, func(s *Step) (string, bool) { return s.Format, s.Format != "" }},
	{"dpr", func(s *Step, v string) error {
		if v == "auto" {
			s.DPR, s.DPRAuto = 0, true
			return nil
		}
		f, err := parseDecimal(v)
		if err != nil || f < MinDPR || f > MaxDPR {
			return invalidValue("dpr", fmt.Sprintf("want auto or a number from %g to %g", MinDPR, MaxDPR))
		}
		s.DPR, s.DPRAuto = f, false
		return nil
	}, func(s *Step) (string, bool) {
		if s.DPRAuto {
			return "auto", true
		}
		return fmtFloat(s.DPR), s.DPR != 0
	}},
	{"bg", func(s *Step, v string) error {
		c, err := parseColor("bg", v)
		if err != nil {
			return err
		}
		s.Background = &c
		return nil
	}, func(s *Step) (string, bool) {
		if s.Background == nil {
			return "", false
		}
		return fmtColor(*s.Background), true
	}},
	{"b", parseBorder, func(s *Step) (string, bool) {
		if s.Border == nil {
			return "", false
		}
		return strconv.Itoa(s.Border.Width) + "_" + fmtColor(s.Border.Color), true
	}},
	{"r", func(s *Step, v string) error {
		if v == "max" {
			s.RadiusMax, s.Radius = true, 0
			return nil
		}
		var o OptInt
		if err := intParser("r", 1, MaxRadius, func(*Step) *OptInt { return &o })(s, v); err != nil {
			return invalidValue("r", fmt.Sprintf("want max or a whole number from 1 to %d", MaxRadius))
		}
		s.Radius, s.RadiusMax = o.Value, false
		return nil
	}, func(s *Step) (string, bool) {
		if s.RadiusMax {
			return "max", true
		}
		return strconv.Itoa(s.Radius), s.Radius != 0
	}},
	{"rt", func(s *Step, v string) error {
		if v == "auto" {
			s.Rotate = Rotation{Set: true, Auto: true}
			return nil
		}
		n, err := parseInt(v)
		if err != nil || n < -360 || n > 360 {
			return invalidValue("rt", "want auto or whole degrees from -360 to 360 (N for negative)")
		}
		s.Rotate = Rotation{Set: true, Degrees: n}
		return nil
	}, func(s *Step) (string, bool) {
		switch {
		case !s.Rotate.Set:
			return "", false
		case s.Rotate.Auto:
			return "auto", true
		}
		return fmtInt(s.Rotate.Degrees), true
	}},
	{"fl", enumParser("fl", func(s *Step) *string { return &s.Flip }, "h", "v", "h_v", "v_h"),
		func(s *Step) (string, bool) {
			if s.Flip == "v_h" {
				return "h_v", true
			}
			return s.Flip, s.Flip != ""
		}},
	{"bl", func(s *Step, v string) error {
		var o OptInt
		if err := intParser("bl", 1, 100, func(*Step) *OptInt { return &o })(s, v); err != nil {
			return err
		}
		s.Blur = o.Value
		return nil
	}, func(s *Step) (string, bool) { return strconv.Itoa(s.Blur), s.Blur != 0 }},
	{"o", intParser("o", 0, 100, func(s *Step) *OptInt { return &s.Opacity }), func(s *Step) (string, bool) { return fmtOpt(s.Opacity) }},
	{"t", func(s *Step, v string) error {
		s.NoTrim = false
		switch v {
		case "true":
			s.Trim = OptInt{Set: true}
			return nil
		case "false":
			s.Trim, s.NoTrim = OptInt{}, true
			return nil
		}
		return intParser("t", 1, 99, func(s *Step) *OptInt { return &s.Trim })(s, v)
	}, func(s *Step) (string, bool) {
		if s.NoTrim {
			return "false", true
		}
		if !s.Trim.Set {
			return "", false
		}
		if s.Trim.Value == 0 {
			return "true", true
		}
		return strconv.Itoa(s.Trim.Value), true
	}},
	{"n", func(s *Step, v string) error {
		if !namePattern.MatchString(v) {
			return invalidValue("n", "want a name of letters, digits, '_' and '-'")
		}
		s.Named = v
		return nil
	}, func(s *Step) (string, bool) { return s.Named, s.Named != "" }},
	{"di", func(s *Step, v string) error {
		p := strings.ReplaceAll(v, "@@", "/")
		p = strings.TrimPrefix(p, "/")
		// '@' is refused outright: with "@@" standing for '/', a lone '@'
		// would make "@@@" mean two different paths.
		if p == "" || strings.ContainsAny(p, "\\@") {
			return invalidValue("di", "want an image path without '\\' or '@' ('@@' stands for '/')")
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return invalidValue("di", "path must not contain empty, '.' or '..' segments")
			}
		}
		s.DefaultImage = p
		return nil
	}, func(s *Step) (string, bool) {
		return strings.ReplaceAll(s.DefaultImage, "/", "@@"), s.DefaultImage != ""
	}},
	{"pg", func(s *Step, v string) error {
		if s.inLayer {
			return invalidValue("pg", "selects the page of the transformation's own image; a layer's image is its first page")
		}
		n, err := parseInt(v)
		if err != nil || n < 1 || n > MaxPage {
			return invalidValue("pg", fmt.Sprintf("want a page number from 1 to %d", MaxPage))
		}
		s.Page = n
		return nil
	}, func(s *Step) (string, bool) { return strconv.Itoa(s.Page), s.Page != 0 }},
	{"orig", boolParser("orig", func(s *Step) *bool { return &s.Original }), fmtBool(func(s *Step) bool { return s.Original })},
	{"pr", boolParser("pr", func(s *Step) *bool { return &s.Progressive }), fmtBool(func(s *Step) bool { return s.Progressive })},
	{"lo", boolParser("lo", func(s *Step) *bool { return &s.Lossless }), fmtBool(func(s *Step) bool { return s.Lossless })},
	{"md", boolParser("md", func(s *Step) *bool { return &s.KeepMetadata }), fmtBool(func(s *Step) bool { return s.KeepMetadata })},
	{"cp", boolParser("cp", func(s *Step) *bool { return &s.KeepCopyright }), fmtBool(func(s *Step) bool { return s.KeepCopyright })},
	{"e", nil, func(s *Step) (string, bool) { return "grayscale", s.Grayscale }},
	{"e", nil, func(s *Step) (string, bool) {
		if !s.Sharpen.Set {
			return "", false
		}
		if s.Sharpen.Value == 0 {
			return "sharpen", true
		}
		return "sharpen-" + strconv.Itoa(s.Sharpen.Value), true
	}},
	{"e", nil, func(s *Step) (string, bool) {
		u := s.UnsharpMask
		if u == nil {
			return "", false
		}
		return "usm-" + fmtFloat(u.Radius) + "-" + fmtFloat(u.Sigma) + "-" + fmtFloat(u.Amount) + "-" + fmtFloat(u.Threshold), true
	}},
	{"e", nil, func(s *Step) (string, bool) { return "contrast", s.Contrast }},
	{"e", nil, func(s *Step) (string, bool) {
		if s.Shadow == nil {
			return "", false
		}
		return "shadow-" + s.Shadow.String(), true
	}},
	{"e", nil, func(s *Step) (string, bool) {
		if s.DropShadow == nil {
			return "", false
		}
		return "dropshadow-" + s.DropShadow.String(), true
	}},
	{"e", nil, func(s *Step) (string, bool) {
		if s.Gradient == nil {
			return "", false
		}
		return "gradient-" + s.Gradient.String(), true
	}},
	{"e", nil, func(s *Step) (string, bool) {
		if s.Distort == nil {
			return "", false
		}
		return "distort-" + s.Distort.String(), true
	}},
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// parseDecimal accepts plain decimals only — up to six digits before and
// after the point, an optional leading N for negative — and none of the
// exponents, NaN, Inf, signs or hex that strconv.ParseFloat would take.
// It is hand-written because it runs for every parameter of every request.
func parseDecimal(v string) (float64, error) {
	neg := false
	if strings.HasPrefix(v, "N") {
		neg, v = true, v[1:]
	}
	intPart, frac, hasPoint := strings.Cut(v, ".")
	if len(intPart) > 6 || len(frac) > 6 || (intPart == "" && frac == "") || (hasPoint && frac == "") ||
		!allDigits(intPart) || !allDigits(frac) {
		return 0, fmt.Errorf("not a decimal: %q", v)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, err
	}
	if neg {
		f = -f
	}
	return f, nil
}

// parseInt accepts up to six digits with an optional leading N.
func parseInt(v string) (int, error) {
	neg := false
	if strings.HasPrefix(v, "N") {
		neg, v = true, v[1:]
	}
	if v == "" || len(v) > 6 || !allDigits(v) {
		return 0, fmt.Errorf("not a whole number: %q", v)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, err
	}
	if neg {
		n = -n
	}
	return n, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func fmtInt(n int) string {
	if n < 0 {
		return "N" + strconv.Itoa(-n)
	}
	return strconv.Itoa(n)
}

func fmtFloat(f float64) string {
	s := strconv.FormatFloat(math.Abs(f), 'f', -1, 64)
	if f < 0 {
		return "N" + s
	}
	return s
}

func parseSize(key, v string, dst *Size) error {
	f, err := parseDecimal(v)
	switch {
	case err != nil || f <= 0:
		return invalidValue(key, fmt.Sprintf("want pixels from 1 to %d or a fraction between 0 and 1%s", MaxSide,
			map[bool]string{true: " (or auto)"}[key == "w"]))
	case f < 1:
		*dst = Size{Set: true, Value: f}
	case f != math.Trunc(f):
		return invalidValue(key, "pixels must be a whole number")
	case f > MaxSide:
		return invalidValue(key, fmt.Sprintf("at most %d pixels", MaxSide))
	default:
		*dst = Size{Set: true, Value: f}
	}
	return nil
}

func fmtSize(s Size) (string, bool) {
	if !s.Set {
		return "", false
	}
	return fmtFloat(s.Value), true
}

func parseAspectRatio(s *Step, v string) error {
	ws, hs, ok := strings.Cut(v, "-")
	if !ok {
		return invalidValue("ar", "want W-H, e.g. ar-4-3")
	}
	w, err1 := parseDecimal(ws)
	h, err2 := parseDecimal(hs)
	if err1 != nil || err2 != nil || w <= 0 || h <= 0 || w/h > 100 || h/w > 100 {
		return invalidValue("ar", "want two positive numbers W-H within 100:1")
	}
	s.AspectRatio = &Ratio{W: w, H: h}
	return nil
}

func enumParser(key string, field func(*Step) *string, allowed ...string) func(*Step, string) error {
	return func(s *Step, v string) error {
		for _, a := range allowed {
			if v == a {
				*field(s) = v
				return nil
			}
		}
		return invalidValue(key, "want one of "+strings.Join(allowed, ", "))
	}
}

func intParser(key string, lo, hi int, field func(*Step) *OptInt) func(*Step, string) error {
	return func(s *Step, v string) error {
		n, err := parseInt(v)
		if err != nil || n < lo || n > hi {
			return invalidValue(key, fmt.Sprintf("want a whole number from %d to %d", lo, hi))
		}
		*field(s) = OptInt{Set: true, Value: n}
		return nil
	}
}

func fmtOpt(o OptInt) (string, bool) {
	if !o.Set {
		return "", false
	}
	return fmtInt(o.Value), true
}

func boolParser(key string, field func(*Step) *bool) func(*Step, string) error {
	return func(s *Step, v string) error {
		switch v {
		case "true":
			*field(s) = true
		case "false":
			*field(s) = false
		default:
			return invalidValue(key, "want true")
		}
		return nil
	}
}

func fmtBool(get func(*Step) bool) func(*Step) (string, bool) {
	return func(s *Step) (string, bool) { return "true", get(s) }
}

func parseBorder(s *Step, v string) error {
	ws, cs, ok := strings.Cut(v, "_")
	if !ok {
		return invalidValue("b", "want WIDTH_COLOR, e.g. b-5_FF0000")
	}
	w, err := parseInt(ws)
	if err != nil || w < 1 || w > MaxBorder {
		return invalidValue("b", fmt.Sprintf("width must be a whole number from 1 to %d", MaxBorder))
	}
	c, err := parseColor("b", cs)
	if err != nil {
		return err
	}
	s.Border = &Border{Width: w, Color: c}
	return nil
}

func parseEffect(s *Step, v string) error {
	name, arg, hasArg := strings.Cut(v, "-")
	switch name {
	case "grayscale":
		if hasArg {
			return invalidValue("e-grayscale", "takes no value")
		}
		s.Grayscale = true
	case "contrast":
		if hasArg {
			return invalidValue("e-contrast", "takes no value")
		}
		s.Contrast = true
	case "sharpen":
		if !hasArg {
			s.Sharpen = OptInt{Set: true}
			return nil
		}
		n, err := parseInt(arg)
		if err != nil || n < 1 || n > 100 {
			return invalidValue("e-sharpen", "want a whole number from 1 to 100")
		}
		s.Sharpen = OptInt{Set: true, Value: n}
	case "shadow":
		sh, err := parseShadow(arg, hasArg)
		if err != nil {
			return err
		}
		s.Shadow = sh
	case "dropshadow":
		d, err := parseDropShadow(arg, hasArg)
		if err != nil {
			return err
		}
		s.DropShadow = d
	case "distort":
		d, err := parseDistort(arg, hasArg)
		if err != nil {
			return err
		}
		s.Distort = d
	case "gradient":
		g, err := parseGradient(arg, hasArg, s.inLayer)
		if err != nil {
			return err
		}
		s.Gradient = g
	case "usm":
		parts := strings.Split(arg, "-")
		if !hasArg || len(parts) != 4 {
			return invalidValue("e-usm", "want e-usm-RADIUS-SIGMA-AMOUNT-THRESHOLD")
		}
		var f [4]float64
		for i, p := range parts {
			x, err := parseDecimal(p)
			if err != nil || x < 0 || x > 1000 {
				return invalidValue("e-usm", "values must be non-negative numbers")
			}
			f[i] = x
		}
		if f[1] == 0 {
			return invalidValue("e-usm", "sigma must be positive")
		}
		s.UnsharpMask = &USM{Radius: f[0], Sigma: f[1], Amount: f[2], Threshold: f[3]}
	default:
		return invalidValue("e", fmt.Sprintf("unknown effect %q", name))
	}
	return nil
}
