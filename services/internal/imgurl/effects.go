package imgurl

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// e-shadow and e-gradient, with ImageKit's parameters and defaults. Both
// take "key-value" pairs joined by '_' in any order: e-shadow-bl-15_st-40,
// e-gradient-ld-top_from-green_to-00FF0010_sp-1.

// Shadow is e-shadow: a shadow under the non-transparent pixels of an
// image with a transparent background.
type Shadow struct {
	Blur       int // bl, 0–15, default 10
	Saturation int // st, 0–100 (the shadow's strength), default 30
	X, Y       int // percent of the width and height, -100–100, default 2
}

// DefaultShadow is e-shadow without parameters.
var DefaultShadow = Shadow{Blur: 10, Saturation: 30, X: 2, Y: 2}

func (s Shadow) String() string {
	return "bl-" + strconv.Itoa(s.Blur) + "_st-" + strconv.Itoa(s.Saturation) + "_x-" + fmtInt(s.X) + "_y-" + fmtInt(s.Y)
}

// Gradient is e-gradient: a linear gradient laid over the image.
type Gradient struct {
	Angle    int     // ld in degrees clockwise from top (0–359); default 180, towards the bottom
	From, To Color   // default FFFFFF and 00000000
	Stop     float64 // sp: ≤ 1 a fraction of the gradient's length, > 1 pixels; default 1
	StopExpr *Expr   // sp as an expression, until Bind evaluates it
}

// DefaultGradient is e-gradient without parameters.
var DefaultGradient = Gradient{Angle: 180, From: Color{255, 255, 255, 255}, To: Color{}, Stop: 1}

func (g Gradient) String() string {
	sp := fmtFloat(g.Stop)
	if g.StopExpr != nil {
		sp = g.StopExpr.String()
	}
	return "ld-" + strconv.Itoa(g.Angle) + "_from-" + fmtColor(g.From) + "_to-" + fmtColor(g.To) + "_sp-" + sp
}

// setStop checks a stop point: a fraction from 0.01 to 1, or whole pixels.
func (g *Gradient) setStop(f float64) error {
	if f < 0.01 || (f > 1 && f != math.Trunc(f)) || f > MaxSide {
		return invalidValue("e-gradient", "sp wants a fraction from 0.01 to 1 or whole pixels")
	}
	g.Stop, g.StopExpr = f, nil
	return nil
}

var gradientDirections = map[string]int{"top": 0, "top_right": 45, "right": 90, "bottom_right": 135,
	"bottom": 180, "bottom_left": 225, "left": 270, "top_left": 315, "topleft": 315}

// effectPairs splits "k-v_k-v" into pairs. Direction names contain '_'
// themselves (ld-top_right), so a piece without '-' joins the value before
// it.
func effectPairs(name, arg string) ([][2]string, error) {
	var out [][2]string
	for _, piece := range strings.Split(arg, "_") {
		k, v, ok := strings.Cut(piece, "-")
		if !ok {
			if len(out) == 0 {
				return nil, invalidValue("e-"+name, fmt.Sprintf("want key-value pairs joined by '_', got %q", piece))
			}
			out[len(out)-1][1] += "_" + piece
			continue
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

func parseShadow(arg string, hasArg bool) (*Shadow, error) {
	sh := DefaultShadow
	if !hasArg {
		return &sh, nil
	}
	pairs, err := effectPairs("shadow", arg)
	if err != nil {
		return nil, err
	}
	for _, p := range pairs {
		var lo, hi int
		var dst *int
		switch p[0] {
		case "bl":
			lo, hi, dst = 0, 15, &sh.Blur
		case "st":
			lo, hi, dst = 0, 100, &sh.Saturation
		case "x":
			lo, hi, dst = -100, 100, &sh.X
		case "y":
			lo, hi, dst = -100, 100, &sh.Y
		default:
			return nil, invalidValue("e-shadow", fmt.Sprintf("unknown parameter %q (want bl, st, x, y)", p[0]))
		}
		n, err := parseInt(p[1])
		if err != nil || n < lo || n > hi {
			return nil, invalidValue("e-shadow", fmt.Sprintf("%s wants a whole number from %s to %d", p[0], fmtInt(lo), hi))
		}
		*dst = n
	}
	return &sh, nil
}

func parseGradient(arg string, hasArg, inLayer bool) (*Gradient, error) {
	g := DefaultGradient
	if !hasArg {
		return &g, nil
	}
	pairs, err := effectPairs("gradient", arg)
	if err != nil {
		return nil, err
	}
	for _, p := range pairs {
		switch p[0] {
		case "ld":
			if a, ok := gradientDirections[p[1]]; ok {
				g.Angle = a
				continue
			}
			n, err := parseInt(p[1])
			if err != nil || n < 0 || n > 359 {
				return nil, invalidValue("e-gradient", "ld wants top, top_right, right, bottom_right, bottom, bottom_left, left, top_left or degrees from 0 to 359")
			}
			g.Angle = n
		case "from", "to":
			c, err := parseColor("e-gradient", p[1])
			if err != nil {
				return nil, err
			}
			if p[0] == "from" {
				g.From = c
			} else {
				g.To = c
			}
		case "sp":
			if isExpression(p[1]) {
				e, err := parseExprWith("e-gradient", p[1], inLayer)
				if err != nil {
					return nil, err
				}
				g.StopExpr = e
				continue
			}
			f, err := parseDecimal(p[1])
			if err != nil {
				return nil, invalidValue("e-gradient", "sp wants a fraction from 0.01 to 1 or whole pixels")
			}
			if err := g.setStop(f); err != nil {
				return nil, err
			}
		default:
			return nil, invalidValue("e-gradient", fmt.Sprintf("unknown parameter %q (want ld, from, to, sp)", p[0]))
		}
	}
	return &g, nil
}

// DropShadow is e-dropshadow: ImageKit's parameters and defaults (light
// azimuth az 0–360, default 215; elevation el 0–90, default 45; strength
// st 0–100, default 60). ImageKit renders it with a model; Pictor casts
// the shadow geometrically from the object's outline: away from the light,
// longer the lower the light, softer the longer.
type DropShadow struct {
	Azimuth, Elevation, Saturation int
}

// DefaultDropShadow is e-dropshadow without parameters.
var DefaultDropShadow = DropShadow{Azimuth: 215, Elevation: 45, Saturation: 60}

func (d DropShadow) String() string {
	return "az-" + strconv.Itoa(d.Azimuth) + "_el-" + strconv.Itoa(d.Elevation) + "_st-" + strconv.Itoa(d.Saturation)
}

func parseDropShadow(arg string, hasArg bool) (*DropShadow, error) {
	d := DefaultDropShadow
	if !hasArg {
		return &d, nil
	}
	pairs, err := effectPairs("dropshadow", arg)
	if err != nil {
		return nil, err
	}
	for _, p := range pairs {
		var hi int
		var dst *int
		switch p[0] {
		case "az":
			hi, dst = 360, &d.Azimuth
		case "el":
			hi, dst = 90, &d.Elevation
		case "st":
			hi, dst = 100, &d.Saturation
		default:
			return nil, invalidValue("e-dropshadow", fmt.Sprintf("unknown parameter %q (want az, el, st)", p[0]))
		}
		n, err := parseInt(p[1])
		if err != nil || n < 0 || n > hi {
			return nil, invalidValue("e-dropshadow", fmt.Sprintf("%s wants a whole number from 0 to %d", p[0], hi))
		}
		*dst = n
	}
	return &d, nil
}

// Distort is e-distort, ImageKit's two modes: a perspective that moves the
// image's four corners (p-x1_y1_x2_y2_x3_y3_x4_y4, clockwise from the
// top-left, in pixels of the image as the step has it, N for negative) or
// an arc (a-DEGREES) that bends it round a circle, upwards for positive
// degrees, downwards for negative.
type Distort struct {
	Corners *[8]int // perspective
	Arc     int     // degrees, -359–359 but not 0, when Corners is nil
}

func (d Distort) String() string {
	if d.Corners == nil {
		return "a-" + fmtInt(d.Arc)
	}
	parts := make([]string, 8)
	for i, c := range d.Corners {
		parts[i] = fmtInt(c)
	}
	return "p-" + strings.Join(parts, "_")
}

func parseDistort(arg string, hasArg bool) (*Distort, error) {
	mode, vals, _ := strings.Cut(arg, "-")
	switch {
	case !hasArg:
		return nil, invalidValue("e-distort", "want p-x1_y1_x2_y2_x3_y3_x4_y4 (the corners, clockwise from the top-left) or a-DEGREES")
	case mode == "a":
		n, err := parseInt(vals)
		if err != nil || n == 0 || n < -359 || n > 359 {
			return nil, invalidValue("e-distort", "a- wants degrees from -359 to 359 (N for negative), not 0")
		}
		return &Distort{Arc: n}, nil
	case mode == "p":
		parts := strings.Split(vals, "_")
		if len(parts) != 8 {
			return nil, invalidValue("e-distort", "p- wants 8 numbers joined by '_': x1_y1_x2_y2_x3_y3_x4_y4")
		}
		var c [8]int
		for i, p := range parts {
			n, err := parseInt(p)
			if err != nil || n < -MaxCoordinate || n > MaxCoordinate {
				return nil, invalidValue("e-distort", fmt.Sprintf("p- wants whole pixels from -%d to %d (N for negative)", MaxCoordinate, MaxCoordinate))
			}
			c[i] = n
		}
		if !convexQuad(c) {
			return nil, invalidValue("e-distort", "the four corners must make a convex shape, clockwise from the top-left, with some area")
		}
		return &Distort{Corners: &c}, nil
	}
	return nil, invalidValue("e-distort", "want p- (perspective) or a- (arc)")
}

// convexQuad reports whether the corners, in order, turn the same way at
// every corner (clockwise on the screen) and enclose a pixel or more.
func convexQuad(c [8]int) bool {
	area := 0
	for i := range 4 {
		ax, ay := c[2*i], c[2*i+1]
		bx, by := c[2*((i+1)%4)], c[2*((i+1)%4)+1]
		cx, cy := c[2*((i+2)%4)], c[2*((i+2)%4)+1]
		if (bx-ax)*(cy-by)-(by-ay)*(cx-bx) <= 0 {
			return false
		}
		area += ax*by - bx*ay
	}
	return area >= 2
}
