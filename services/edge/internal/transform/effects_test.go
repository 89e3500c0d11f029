package transform

import (
	"context"
	"image"
	"image/color"
	"math"
	"strconv"
	"testing"

	"pictor/services/internal/errkind"
)

// square is a w×h transparent PNG with an opaque c square of side n in the
// middle.
func square(t testing.TB, w, h, n int, c color.NRGBA) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	x0, y0 := (w-n)/2, (h-n)/2
	for y := y0; y < y0+n; y++ {
		for x := x0; x < x0+n; x++ {
			img.SetNRGBA(x, y, c)
		}
	}
	return encodePNGImage(t, img)
}

func TestShadowAndGradient(t *testing.T) {
	red := color.NRGBA{255, 0, 0, 255}
	cut := square(t, 100, 100, 40, red) // the square spans 30..69
	greyBase := flat(t, 100, 100, grey)
	for _, tc := range []struct {
		name   string
		src    []byte
		tr     string
		probes []probe
		tol    int
	}{
		{"hard shadow moved by x and y percent", cut, "e-shadow-bl-0_st-100_x-10_y-10",
			[]probe{{75, 75, black}, {50, 50, red}, {25, 25, clear}, {75, 35, clear}}, 2},
		{"shadow strength", cut, "e-shadow-bl-0_st-50_x-10_y-10",
			[]probe{{75, 75, color.NRGBA{0, 0, 0, 128}}}, 3},
		{"negative offsets", cut, "e-shadow-bl-0_st-100_x-N10_y-N10",
			[]probe{{25, 25, black}, {75, 75, clear}}, 2},
		{"default gradient: white to clear, downwards", greyBase, "e-gradient",
			[]probe{{50, 0, white}, {50, 99, grey}, {50, 50, color.NRGBA{191, 191, 191, 255}}}, 4},
		{"gradient to the right", greyBase, "e-gradient-ld-right_from-FF0000_to-0000FF",
			[]probe{{0, 50, red}, {99, 10, blue}}, 6},
		{"stop point as a fraction", greyBase, "e-gradient-ld-90_from-FF0000_to-0000FF_sp-0.5",
			[]probe{{55, 50, blue}, {0, 50, red}}, 6},
		{"stop point in pixels", greyBase, "e-gradient-ld-90_from-FF0000_to-0000FF_sp-10",
			[]probe{{15, 50, blue}, {0, 50, red}}, 6},
		{"stop point by expression", greyBase, "e-gradient-ld-90_from-FF0000_to-0000FF_sp-cw_div_10",
			[]probe{{15, 50, blue}, {0, 50, red}}, 6},
		{"gradient block on a layer", greyBase, "l-image,i-ik_canvas,e-gradient-ld-top_from-FF0000_to-0000FF,w-10,h-100,lx-0,ly-0,l-end",
			[]probe{{5, 99, red}, {5, 0, blue}, {50, 50, grey}}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := render(t, tc.src, tc.tr, nil)
			for _, p := range tc.probes {
				got := nrgba(img.At(p.x, p.y))
				if got.A == 0 {
					got = clear
				}
				if !near(got, p.want, tc.tol) {
					t.Errorf("pixel (%d,%d) = %v, want %v", p.x, p.y, got, p.want)
				}
			}
		})
	}
	// e-dropshadow: the shadow falls away from the light — light from the
	// top-left (az 315) darkens below-right of the square, not above-left;
	// from the right (az 90) it falls to the left; from straight above
	// (el 90) it is even all round.
	alphaAt := func(tr string, x, y int) int { return int(nrgba(render(t, cut, tr, nil).At(x, y)).A) }
	if br, tl := alphaAt("e-dropshadow-az-315_st-100", 71, 71), alphaAt("e-dropshadow-az-315_st-100", 28, 28); br < tl+50 {
		t.Errorf("az-315: alpha %d below-right, %d above-left; want the shadow below-right", br, tl)
	}
	if l, r := alphaAt("e-dropshadow-az-90_st-100", 27, 50), alphaAt("e-dropshadow-az-90_st-100", 72, 50); l < r+50 {
		t.Errorf("az-90: alpha %d left, %d right; want the shadow on the left", l, r)
	}
	if a, b := alphaAt("e-dropshadow-el-90_st-100", 28, 28), alphaAt("e-dropshadow-el-90_st-100", 71, 71); a-b > 10 || b-a > 10 {
		t.Errorf("el-90: alpha %d and %d at opposite corners; want the same", a, b)
	}
	if weak, strong := alphaAt("e-dropshadow-az-315_st-20", 71, 71), alphaAt("e-dropshadow-az-315_st-100", 71, 71); weak*3 > strong {
		t.Errorf("st-20 alpha %d vs st-100 %d: want about a fifth", weak, strong)
	}

	// ImageKit's limit: e-shadow on at most 2 megapixels.
	_, err := testEngine().Transform(context.Background(), Request{Source: flat(t, 2000, 1001, white), Transformation: mustParse(t, "e-shadow"), Format: "png"})
	if errkind.Reason(err) != "shadow_too_large" {
		t.Fatalf("e-shadow on 2.002 MP: %v", err)
	}
	if res, err := testEngine().Transform(context.Background(), Request{Source: flat(t, 2000, 1001, white), Transformation: mustParse(t, "w-500,e-shadow"), Format: "png"}); err != nil || res.Width != 500 {
		t.Fatalf("w-500,e-shadow on 2.002 MP: %v", err)
	}
}

// TestDistort: e-distort's perspective moves the image's corners to the
// given points, and its arc bends the width round a circle, the top row
// outermost when it bends up.
func TestDistort(t *testing.T) {
	quads := encodePNGImage(t, quadrants(100, 100))
	q := func(i int) color.NRGBA { return quadColours[i] }
	for _, tc := range []struct {
		name   string
		tr     string
		probes []probe
	}{
		{"corners in place", "e-distort-p-0_0_100_0_100_100_0_100",
			[]probe{{25, 25, q(0)}, {75, 25, q(1)}, {25, 75, q(2)}, {75, 75, q(3)}}},
		{"into the right half", "e-distort-p-50_0_100_0_100_100_50_100",
			[]probe{{25, 50, clear}, {62, 25, q(0)}, {88, 25, q(1)}, {62, 75, q(2)}, {88, 75, q(3)}}},
		{"top edge narrowed", "e-distort-p-30_0_70_0_100_100_0_100",
			[]probe{{5, 5, clear}, {95, 5, clear}, {10, 95, q(2)}, {90, 95, q(3)}, {40, 5, q(0)}, {60, 5, q(1)}}},
		{"corners past the image", "e-distort-p-N100_N100_200_N100_200_200_N100_200",
			[]probe{{5, 5, q(0)}, {95, 95, q(3)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := render(t, quads, tc.tr, nil)
			if b := img.Bounds(); b.Dx() != 100 || b.Dy() != 100 {
				t.Fatalf("size %v, want the image's own 100×100", b)
			}
			for _, p := range tc.probes {
				if got := opaqueOrClear(img.At(p.x, p.y)); !near(got, p.want, 8) {
					t.Errorf("pixel (%d,%d) = %v, want %v", p.x, p.y, got, p.want)
				}
			}
		})
	}

	wide := encodePNGImage(t, quadrants(200, 50))
	for _, tc := range []struct {
		name string
		arc  int
		// probes in polar terms: angle from the arc's middle, and depth
		// into the band from its top row (0) to its bottom (1)
		probes []struct {
			deg, depth float64
			want       color.NRGBA
		}
	}{
		{"half a circle, up", 180, []struct {
			deg, depth float64
			want       color.NRGBA
		}{{-45, 0.2, q(0)}, {45, 0.2, q(1)}, {-45, 0.8, q(2)}, {45, 0.8, q(3)}}},
		{"a quarter, down", -90, []struct {
			deg, depth float64
			want       color.NRGBA
		}{{-20, 0.2, q(0)}, {20, 0.2, q(1)}, {-20, 0.8, q(2)}, {20, 0.8, q(3)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := render(t, wide, "e-distort-a-"+fmtDeg(tc.arc), nil)
			g := arcFor(200, 50, tc.arc)
			if b := img.Bounds(); b.Dx() != g.width || b.Dy() != g.height {
				t.Fatalf("size %v, want the arc's box %d×%d", b, g.width, g.height)
			}
			if g.up && (g.height > 120 || g.width < 220) {
				t.Fatalf("half circle of a 200×50 band: %d×%d", g.width, g.height)
			}
			for _, p := range tc.probes {
				r := g.rOut - p.depth*(g.rOut-g.rIn) // top row outermost
				s := 1.0
				if !g.up {
					r, s = g.rIn+p.depth*(g.rOut-g.rIn), -1 // top row innermost
				}
				phi := p.deg * math.Pi / 180
				x, y := g.cx+r*math.Sin(phi), g.cy-s*r*math.Cos(phi)
				if got := opaqueOrClear(img.At(int(x), int(y))); !near(got, p.want, 8) {
					t.Errorf("%g° at depth %g, pixel (%.0f,%.0f) = %v, want %v", p.deg, p.depth, x, y, got, p.want)
				}
			}
			if got := opaqueOrClear(img.At(int(g.cx), int(math.Min(g.cy, float64(g.height-1))))); got != clear {
				t.Errorf("at the circle's centre %v, want nothing", got)
			}
		})
	}
}

func opaqueOrClear(c color.Color) color.NRGBA {
	got := nrgba(c)
	if got.A == 0 {
		return clear
	}
	return got
}

func fmtDeg(d int) string {
	if d < 0 {
		return "N" + strconv.Itoa(-d)
	}
	return strconv.Itoa(d)
}
