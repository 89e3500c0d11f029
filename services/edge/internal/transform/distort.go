package transform

import (
	"math"

	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

// e-distort. A perspective keeps the image's size and moves its corners to
// the four points; an arc lays its width along the arc and its height
// across it, on a canvas just large enough, as ImageMagick's Arc does.

// distort applies d to img.
func distort(img *vimage, d imgurl.Distort, env stepEnv) error {
	if d.Corners == nil {
		g := arcFor(img.width(), img.height(), d.Arc)
		if err := env.checkSize(g.width, g.height); err != nil {
			return err
		}
		return img.arc(g)
	}
	m, ok := perspectiveMatrix(img.width(), img.height(), *d.Corners)
	if !ok {
		return errkind.New(errkind.Invalid, "invalid_parameter", "invalid value for transformation parameter \"e-distort\": the corners cannot be reached from the image")
	}
	return img.perspective(m)
}

// perspectiveMatrix is the homography that takes an output pixel (u, v, 1)
// to the point of the w×h source it shows, given where the source's corners
// go (clockwise from the top-left). Corners are the pixels' outer edges;
// pixels are sampled at their centres.
func perspectiveMatrix(w, h int, c [8]int) ([9]float64, bool) {
	src := [8]float64{0, 0, float64(w), 0, float64(w), float64(h), 0, float64(h)}
	// Solve for a..h in X = (a x + b y + c)/(g x + h y + 1), Y likewise,
	// for the four pairs (x, y) → (X, Y).
	var a [8][9]float64
	for i := range 4 {
		x, y := float64(c[2*i]), float64(c[2*i+1])
		X, Y := src[2*i], src[2*i+1]
		a[2*i] = [9]float64{x, y, 1, 0, 0, 0, -x * X, -y * X, X}
		a[2*i+1] = [9]float64{0, 0, 0, x, y, 1, -x * Y, -y * Y, Y}
	}
	for col := range 8 {
		pivot := col
		for r := col + 1; r < 8; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[pivot][col]) {
				pivot = r
			}
		}
		if math.Abs(a[pivot][col]) < 1e-12 {
			return [9]float64{}, false
		}
		a[col], a[pivot] = a[pivot], a[col]
		for r := range 8 {
			if r == col {
				continue
			}
			f := a[r][col] / a[col][col]
			for k := col; k < 9; k++ {
				a[r][k] -= f * a[col][k]
			}
		}
	}
	var hm [9]float64
	for i := range 8 {
		hm[i] = a[i][8] / a[i][i]
	}
	hm[8] = 1
	// From pixel indices to centres and back: M = T(-½)·H·T(+½).
	t := func(d float64) [9]float64 { return [9]float64{1, 0, d, 0, 1, d, 0, 0, 1} }
	return mul3(mul3(t(-0.5), hm), t(0.5)), true
}

func mul3(a, b [9]float64) [9]float64 {
	var out [9]float64
	for r := range 3 {
		for c := range 3 {
			for k := range 3 {
				out[3*r+c] += a[3*r+k] * b[3*k+c]
			}
		}
	}
	return out
}

// arcGeometry is where an arc puts a w×h image: the inner circle as long as
// the image is wide (so the bottom row, or the top when bending down, keeps
// its length), the outer one the image's height further out, the canvas
// the arc's bounding box and (cx, cy) the circle's centre on it.
type arcGeometry struct {
	width, height int
	cx, cy        float64
	up            bool
	rIn, rOut     float64
	degrees       float64 // of arc, positive
}

func arcFor(w, h, arc int) arcGeometry {
	deg := math.Abs(float64(arc))
	theta := deg * math.Pi / 180
	g := arcGeometry{up: arc > 0, degrees: deg, rIn: float64(w) / theta}
	g.rOut = g.rIn + float64(h)
	s := 1.0
	if !g.up {
		s = -1
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	add := func(phi float64) {
		for _, r := range []float64{g.rIn, g.rOut} {
			x, y := r*math.Sin(phi), -s*r*math.Cos(phi)
			minX, maxX = math.Min(minX, x), math.Max(maxX, x)
			minY, maxY = math.Min(minY, y), math.Max(maxY, y)
		}
	}
	const samples = 256
	for i := 0; i <= samples; i++ {
		add(-theta/2 + theta*float64(i)/samples)
	}
	// The extremes of the circle that the arc reaches.
	for _, phi := range []float64{-math.Pi, -math.Pi / 2, 0, math.Pi / 2, math.Pi} {
		if math.Abs(phi) <= theta/2 {
			add(phi)
		}
	}
	g.width, g.height = int(math.Ceil(maxX-minX)), int(math.Ceil(maxY-minY))
	g.cx, g.cy = -minX, -minY
	return g
}
