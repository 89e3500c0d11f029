package imgurl

import (
	"math"
	"strconv"
	"strings"
)

// Client hints (w-auto, dpr-auto) as ImageKit serves them: the browser says
// how wide the image will be drawn in device pixels (Sec-CH-Width, or the
// older Width) and its device pixel ratio (Sec-CH-DPR, or DPR), and one URL
// yields the size each device needs.
//
//   - w-auto with a width hint: the width is the hint rounded up to the next
//     100 px (so a hostile client cannot make more than one variant per 100
//     px), and any dpr of the step is ignored, the hint being device pixels
//     already. Content-DPR is then the delivered width over the hint's CSS
//     width (hint ÷ DPR hint, or the hint itself without one).
//   - w-auto without one: the step has no width, as if w were absent.
//   - dpr-auto with a DPR hint (and no width hint used): the step's dpr is
//     the hint, held within MinDPR–MaxDPR; without one, dpr 1.
//
// A hint that is not a plain positive number is treated as absent: it
// comes from the client, and a wrong one must not cost more than no hint.

// HintWidthStep is the rounding of widths taken from a hint.
const HintWidthStep = 100

// Hints are a request's client hints, as sent; empty when absent.
type Hints struct {
	Width string // Sec-CH-Width, else Width
	DPR   string // Sec-CH-DPR, else DPR
}

// HintUse says which hints a transformation consults — whether or not the
// request carried them, since a request that does gets another answer —
// and the Content-DPR of the answer (0: none to send). w-auto consults
// both (the DPR hint sets Content-DPR), dpr-auto the DPR hint.
type HintUse struct {
	Width, DPR bool
	ContentDPR float64
}

// Any reports whether any hint is consulted.
func (u HintUse) Any() bool { return u.Width || u.DPR }

// UsesHints reports whether a step of t is w-auto or dpr-auto.
func (t Transformation) UsesHints() bool {
	for _, s := range t.Steps {
		if s.WidthAuto || s.DPRAuto {
			return true
		}
		if c := s.Chain; c != nil && c.steps().UsesHints() {
			return true
		}
	}
	return false
}

// ResolveHints returns t with w-auto and dpr-auto replaced by what the
// hints say, so that the result's canonical form names the variant (and
// the cache tells hint values apart), and which hints it consulted. A t
// without them is returned as it is.
func (t Transformation) ResolveHints(h Hints) (Transformation, HintUse) {
	var use HintUse
	if !t.UsesHints() {
		return t, use
	}
	width, hasWidth := hintWidth(h.Width)
	dpr, hasDPR := hintDPR(h.DPR)
	out := Transformation{Steps: make([]Step, len(t.Steps))}
	for i, s := range t.Steps {
		if c := s.Chain; c != nil {
			// w-auto beside a chained block: resolved in place, as anywhere.
			all, u := c.steps().ResolveHints(h)
			s.Chain = c.withSteps(all.Steps)
			use.Width, use.DPR = use.Width || u.Width, use.DPR || u.DPR
			use.ContentDPR = max(use.ContentDPR, u.ContentDPR)
		}
		if s.WidthAuto {
			// The DPR hint sets Content-DPR here, so it is consulted too.
			use.Width, use.DPR = true, true
			s.WidthAuto = false
			if hasWidth {
				s.Width = Size{Set: true, Value: float64(roundUp(width, HintWidthStep))}
				s.DPR, s.DPRAuto = 0, false
				s.dropExpr("dpr")
				css := float64(width)
				if hasDPR {
					css /= dpr
				}
				use.ContentDPR = roundDPR(s.Width.Value / css)
			}
		}
		if s.DPRAuto {
			use.DPR = true
			s.DPRAuto, s.DPR = false, 0
			if hasDPR && dpr != 1 {
				s.DPR = dpr
			}
			if hasDPR {
				use.ContentDPR = dpr
			}
		}
		out.Steps[i] = s
	}
	return out, use
}

// hintWidth reads a width hint: whole device pixels from 1 to MaxSide.
func hintWidth(v string) (int, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 6 || !allDigits(v) {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, false
	}
	return min(n, MaxSide-MaxSide%HintWidthStep), true
}

// hintDPR reads a DPR hint: a plain decimal, held within MinDPR–MaxDPR and
// kept to two decimals so that near-equal ratios share a variant.
func hintDPR(v string) (float64, bool) {
	f, err := parseDecimal(strings.TrimSpace(v))
	if err != nil || f <= 0 || strings.HasPrefix(strings.TrimSpace(v), "N") {
		return 0, false
	}
	return roundDPR(math.Min(math.Max(f, MinDPR), MaxDPR)), true
}

func roundUp(n, step int) int { return (n + step - 1) / step * step }

func roundDPR(f float64) float64 { return math.Round(f*100) / 100 }

// FormatDPR prints a Content-DPR value.
func FormatDPR(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
