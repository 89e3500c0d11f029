package transform

import (
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"os"
	"os/exec"
	"strings"
	"testing"

	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

// flat is a w×h PNG of one colour.
// framed is a w×h block of c inside a margin of m pixels of edge.
func framed(t testing.TB, w, h, m int, c, edge color.Color) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w+2*m, h+2*m))
	for y := 0; y < h+2*m; y++ {
		for x := 0; x < w+2*m; x++ {
			img.Set(x, y, edge)
			if x >= m && x < w+m && y >= m && y < h+m {
				img.Set(x, y, c)
			}
		}
	}
	return encodePNGImage(t, img)
}

func flat(t testing.TB, w, h int, c color.Color) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return encodePNGImage(t, img)
}

var grey = color.NRGBA{128, 128, 128, 255}

func nrgba(c color.Color) color.NRGBA { return color.NRGBAModel.Convert(c).(color.NRGBA) }

// render transforms a 200×100 white PNG (or src) with tr and its layers,
// to PNG, and decodes the result.
func render(t *testing.T, src []byte, tr string, layers map[string][]byte) image.Image {
	t.Helper()
	if src == nil {
		src = flat(t, 200, 100, white)
	}
	res, err := testEngine().Transform(context.Background(), Request{Source: src, Transformation: mustParse(t, tr), Format: "png", Layers: layers})
	if err != nil {
		t.Fatalf("%s: %v", tr, err)
	}
	return decode(t, res.Body)
}

// probe is a pixel and the colour it must have.
type probe struct {
	x, y int
	want color.NRGBA
}

// TestLayerPlacement draws a 20×10 block (solid, or a blue PNG from the
// endpoint) on a white 200×100 base and checks pixels inside and just
// outside where each position rule puts it.
func TestLayerPlacement(t *testing.T) {
	// A blue logo with a 5 px white margin: trimmed away by default.
	logo := map[string][]byte{"brand/logo.png": framed(t, 40, 20, 5, blue, white)}
	for _, tc := range []struct {
		name   string
		tr     string
		probes []probe
	}{
		{"solid, centred by default", "l-image,i-ik_canvas,bg-FF0000,w-20,h-10,l-end",
			[]probe{{100, 50, red}, {91, 46, red}, {89, 50, white}, {111, 50, white}, {100, 44, white}}},
		{"lx ly from the top-left", "l-image,i-ik_canvas,bg-FF0000,w-20,h-10,lx-5,ly-7,l-end",
			[]probe{{5, 7, red}, {24, 16, red}, {4, 7, white}, {25, 7, white}, {5, 17, white}}},
		{"lx alone: top edge", "l-image,i-ik_canvas,bg-FF0000,w-20,h-10,lx-30,l-end",
			[]probe{{30, 0, red}, {49, 9, red}, {30, 10, white}}},
		{"negative lx measures from the right", "l-image,i-ik_canvas,bg-FF0000,w-20,h-10,lx-N10,ly-0,l-end",
			[]probe{{189, 0, red}, {170, 9, red}, {169, 0, white}, {190, 0, white}}},
		{"an offset past the base is pulled inside", "l-image,i-ik_canvas,bg-FF0000,w-20,h-10,lx-500,ly-N500,l-end",
			[]probe{{199, 0, red}, {180, 9, red}, {179, 5, white}, {199, 10, white}}},
		{"bottom-right anchor", "l-image,i-ik_canvas,bg-FF0000,w-20,h-10,lap-bottom_right,lx-3,ly-4,l-end",
			[]probe{{177, 86, red}, {196, 95, red}, {197, 95, white}, {176, 86, white}, {177, 85, white}}},
		{"centre coordinates", "l-image,i-ik_canvas,bg-FF0000,w-20,h-10,lxc-50,lyc-20,l-end",
			[]probe{{40, 15, red}, {59, 24, red}, {39, 15, white}, {60, 24, white}}},
		{"focus bottom-left", "l-image,i-ik_canvas,bg-FF0000,w-20,h-10,lfo-bottom_left,l-end",
			[]probe{{0, 99, red}, {19, 90, red}, {20, 95, white}, {0, 89, white}}},
		{"position by expression", "l-image,i-ik_canvas,bg-FF0000,w-20,h-10,lx-bw_sub_cw,ly-bh_sub_ch_sub_1,l-end",
			[]probe{{199, 98, red}, {180, 89, red}, {179, 89, white}, {199, 99, white}}},
		{"a chained conditional in the layer", "l-image,i-ik_canvas,bg-FF0000,w-20,h-10,if-iw_gt_100,w-40:rt-90,if-end,lx-0,ly-0,l-end",
			[]probe{{5, 35, red}, {9, 39, red}, {10, 5, white}, {30, 5, white}}},
		{"its else branch", "l-image,i-ik_canvas,bg-FF0000,w-20,h-10,if-iw_gt_1000,w-40:rt-90,if-end,lx-0,ly-0,l-end",
			[]probe{{19, 9, red}, {20, 5, white}, {5, 10, white}}},
		{"a layer in a conditional that holds", "if-iw_gt_100,l-image,i-ik_canvas,bg-FF0000,w-20,h-10,lx-0,ly-0,l-end,if-end",
			[]probe{{5, 5, red}, {25, 5, white}}},
		{"a layer in a conditional that does not", "if-iw_gt_1000,l-image,i-ik_canvas,bg-FF0000,w-20,h-10,lx-0,ly-0,l-end,if-else,w-0.5,if-end",
			[]probe{{5, 5, white}}},
		{"size as a fraction of the base", "l-image,i-ik_canvas,bg-FF0000,w-0.5,h-0.5,lx-0,ly-0,l-end",
			[]probe{{99, 49, red}, {100, 49, white}, {99, 50, white}}},
		{"image layer from the endpoint, centred", "l-image,i-brand@@logo.png,l-end",
			[]probe{{100, 50, blue}, {81, 41, blue}, {118, 58, blue}, {79, 50, white}, {100, 39, white}}},
		{"image layer trimmed by default", "l-image,i-brand@@logo.png,lx-0,ly-0,l-end",
			[]probe{{1, 1, blue}, {39, 19, blue}, {41, 5, white}, {5, 21, white}}},
		{"t-false keeps the margin", "l-image,i-brand@@logo.png,t-false,lx-0,ly-0,l-end",
			[]probe{{2, 2, white}, {6, 6, blue}, {44, 24, blue}, {48, 28, white}}},
		{"image layer's own transformations", "l-image,i-brand@@logo.png,w-20,lx-0,ly-0,l-end",
			[]probe{{19, 9, blue}, {20, 5, white}, {5, 10, white}}},
		{"image layer sized from the base", "l-image,i-brand@@logo.png,w-bw_div_2,lx-0,ly-0,l-end",
			[]probe{{99, 49, blue}, {100, 20, white}}},
		{"layers in order", "l-image,i-ik_canvas,bg-FF0000,w-20,h-10,lx-0,ly-0,l-end,l-image,i-brand@@logo.png,w-10,lx-0,ly-0,l-end",
			[]probe{{5, 2, blue}, {15, 2, red}}},
		{"nested: a block on the layer", "l-image,i-brand@@logo.png,lx-0,ly-0,l-image,i-ik_canvas,bg-FF0000,w-10,h-10,lx-0,ly-0,l-end,l-end",
			[]probe{{5, 5, red}, {15, 5, blue}, {45, 5, white}}},
		{"layer after a resize", "w-100,l-image,i-ik_canvas,bg-FF0000,w-10,h-10,lap-bottom_right,lx-0,ly-0,l-end",
			[]probe{{95, 45, red}, {85, 45, white}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := render(t, nil, tc.tr, logo)
			for _, p := range tc.probes {
				if got := nrgba(img.At(p.x, p.y)); !near(got, p.want, 8) {
					t.Errorf("pixel (%d,%d) = %v, want %v", p.x, p.y, got, p.want)
				}
			}
		})
	}
}

// TestLayerBlending: translucency and the three layer modes.
func TestLayerBlending(t *testing.T) {
	base := flat(t, 100, 100, grey)
	for _, tc := range []struct {
		name   string
		tr     string
		probes []probe
	}{
		{"alpha on a solid block", "l-image,i-ik_canvas,bg-FFFFFF,al-5,l-end",
			[]probe{{50, 50, color.NRGBA{191, 191, 191, 255}}}},
		{"translucent colour", "l-image,i-ik_canvas,bg-00000050,l-end",
			[]probe{{50, 50, color.NRGBA{64, 64, 64, 255}}}},
		{"multiply", "l-image,i-ik_canvas,bg-FF0000,w-10,h-10,lx-0,ly-0,lm-multiply,l-end",
			[]probe{{5, 5, color.NRGBA{128, 0, 0, 255}}, {50, 50, grey}}},
		{"cutter cuts the shape out", "l-image,i-ik_canvas,bg-FF0000,w-10,h-10,lx-0,ly-0,lm-cutter,l-end",
			[]probe{{5, 5, color.NRGBA{0, 0, 0, 0}}, {50, 50, grey}}},
		{"cutout keeps only the shape", "l-image,i-ik_canvas,bg-FF0000,w-10,h-10,lx-0,ly-0,lm-cutout,l-end",
			[]probe{{5, 5, grey}, {50, 50, color.NRGBA{0, 0, 0, 0}}}},
		{"o- fades an image layer", "l-image,i-ik_canvas,bg-FFFFFF,o-50,l-end",
			[]probe{{50, 50, color.NRGBA{191, 191, 191, 255}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := render(t, base, tc.tr, nil)
			for _, p := range tc.probes {
				got := nrgba(img.At(p.x, p.y))
				if got.A == 0 {
					got = color.NRGBA{} // fully transparent: its colour does not matter
				}
				if !near(got, p.want, 3) {
					t.Errorf("pixel (%d,%d) = %v, want %v", p.x, p.y, got, p.want)
				}
			}
		})
	}
}

// ink is the bounding box of the pixels at least half dark on a light
// image, and how many there are.
func ink(img image.Image) (image.Rectangle, int) {
	box, n := image.Rectangle{}, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			if (r+g+bb)/3 < 0x8000 {
				box = box.Union(image.Rect(x, y, x+1, y+1))
				n++
			}
		}
	}
	return box, n
}

// TestTextLayers sets real text with the installed fonts and checks where
// the ink lands and how each parameter changes it.
func TestTextLayers(t *testing.T) {
	base := flat(t, 400, 200, white)
	inkOf := func(tr string) (image.Rectangle, int) {
		t.Helper()
		return ink(render(t, base, tr, nil))
	}
	if def, _ := inkOf("l-text,i-Pictor,l-end"); def.Dy() < 30 || def.Dy() > 45 {
		t.Errorf("default size: ink %v, want ImageKit's 45 px text (caps about 33 px tall)", def)
	}
	plain, n := inkOf("l-text,i-Pictor,fs-40,l-end")
	if n == 0 || plain.Dx() < 60 || plain.Dy() < 20 {
		t.Fatalf("40 px text: ink %v (%d px), want a word of about 40 px", plain, n)
	}
	if c := plain.Min.Add(plain.Max).Div(2); c.X < 190 || c.X > 210 || c.Y < 90 || c.Y > 115 {
		t.Errorf("text centred by default: ink centre %v, want about (200,100)", c)
	}
	if small, _ := inkOf("l-text,i-Pictor,fs-20,l-end"); small.Dx()*2 > plain.Dx()+10 || small.Dx()*2 < plain.Dx()-10 {
		t.Errorf("fs-20 is %d px wide, fs-40 %d: want half", small.Dx(), plain.Dx())
	}
	if _, bold := inkOf("l-text,i-Pictor,fs-40,tg-b,l-end"); bold <= n*11/10 {
		t.Errorf("bold: %d dark pixels, regular %d: want more", bold, n)
	}
	if at, _ := inkOf("l-text,i-Pictor,fs-40,lx-10,ly-10,l-end"); at.Min.X < 10 || at.Min.X > 16 || at.Min.Y < 10 || at.Min.Y > 22 {
		t.Errorf("lx-10,ly-10: ink starts at %v", at.Min)
	}
	if wrapped, _ := inkOf("l-text,i-Pictor%20Pictor%20Pictor,fs-40,w-150,l-end"); wrapped.Dy() < 2*plain.Dy() || wrapped.Dx() > 160 {
		t.Errorf("w-150 wraps: ink %v, one line is %v", wrapped, plain)
	}
	if _, light := inkOf("l-text,i-Pictor,fs-40,co-FFFFFF,l-end"); light != 0 {
		t.Errorf("white text on white: %d dark pixels", light)
	}
	if box, _ := inkOf("l-text,i-Pictor,fs-40,co-FFFFFF,pa-10,bg-000000,l-end"); box.Dx() < plain.Dx()+20 || box.Dy() < plain.Dy()+20 {
		t.Errorf("bg with pa-10: box %v, want the text's %v grown by 10 px a side", box, plain)
	}
	if turned, _ := inkOf("l-text,i-Pictor,fs-40,rt-90,l-end"); turned.Dy() < plain.Dx()-4 {
		t.Errorf("rt-90: ink %v, want the word standing up (%d px tall)", turned, plain.Dx())
	}
	for _, script := range []string{"नमस्ते", "你好世界"} {
		tr := "l-text,i-" + escape(script) + ",fs-40,l-end"
		if box, n := inkOf(tr); n == 0 || box.Dy() < 20 {
			t.Errorf("%s: ink %v (%d px)", script, box, n)
		}
	}
	if _, struck := inkOf("l-text,i-Pictor,fs-40,tg-strikethrough,l-end"); struck <= n {
		t.Errorf("strikethrough: %d dark pixels, plain %d: want the line too", struck, n)
	}
	if _, italic := inkOf("l-text,i-Pictor,fs-40,tg-i,l-end"); italic == n {
		t.Errorf("italic set exactly as many dark pixels as regular (%d): not slanted", n)
	}
	if _, serif := inkOf("l-text,i-Pictor,fs-40,ff-serif,l-end"); serif == n {
		t.Errorf("ff-serif set exactly as many dark pixels as sans (%d): the family was not used", n)
	}
	if _, mono := inkOf("l-text,i-Pictor,fs-40,ff-DejaVu_Sans_Mono,l-end"); mono == n {
		t.Errorf("ff-DejaVu_Sans_Mono set exactly as many dark pixels as sans (%d)", n)
	}
	// Two lines of different length, wrapped at 200 px: ia moves the short
	// one.
	lines := func(ia string) image.Rectangle {
		// The second line, "Pic", sits in the lower half of the ink.
		img := render(t, base, "l-text,i-Pictor%20Pictor%20Pic,fs-40,w-300,lx-0,ly-0,ia-"+ia+",l-end", nil)
		all, _ := ink(img)
		lower, _ := ink(cropTo(img, image.Rect(0, all.Min.Y+all.Dy()/2+2, 400, all.Max.Y)))
		return lower
	}
	if l, r := lines("left"), lines("right"); l.Min.X >= r.Min.X-20 {
		t.Errorf("ia-left puts the short line at x=%d, ia-right at x=%d: want it further right", l.Min.X, r.Min.X)
	}
	tallBase := flat(t, 400, 400, white)
	tall, _ := ink(render(t, tallBase, "l-text,i-Pictor%20Pictor%20Pictor,fs-40,w-150,lh-80,l-end", nil))
	if normal, _ := ink(render(t, tallBase, "l-text,i-Pictor%20Pictor%20Pictor,fs-40,w-150,l-end", nil)); tall.Dy() < normal.Dy()+50 {
		t.Errorf("lh-80: ink %d px tall, default line height %d: want the lines further apart", tall.Dy(), normal.Dy())
	}
	if _, faint := inkOf("l-text,i-Pictor,fs-40,al-3,l-end"); faint != 0 {
		t.Errorf("al-3 (30 %% opaque) black text on white: %d pixels darker than half", faint)
	}
	if _, markup := inkOf("l-text,i-" + escape("<b>&amp;</b>") + ",fs-40,l-end"); markup == 0 {
		t.Error("markup characters in the text: nothing set")
	}
}

// TestTextExpressions: fs, lh and pa given as expressions over the base
// set the same text as the numbers they come to.
func TestTextExpressions(t *testing.T) {
	base := flat(t, 400, 200, white)
	for _, tc := range []struct{ name, expr, literal string }{
		{"font size", "fs-bh_div_5", "fs-40"},
		{"padding", "fs-40,co-FFFFFF,bg-000000,pa-bh_div_20_bw_div_40", "fs-40,co-FFFFFF,bg-000000,pa-10"},
		{"line height", "fs-40,w-150,lh-bh_div_2_sub_20", "fs-40,w-150,lh-80"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "l-text,i-Pictor%20Pictor,"
			got, gotN := ink(render(t, base, text+tc.expr+",l-end", nil))
			want, wantN := ink(render(t, base, text+tc.literal+",l-end", nil))
			if got != want || gotN != wantN {
				t.Fatalf("%s: ink %v (%d px); %s: %v (%d px)", tc.expr, got, gotN, tc.literal, want, wantN)
			}
		})
	}
}

// TestTenantFonts: ff- naming a font file from the endpoint sets the text
// in that font, and a file calling itself by an installed family's name
// changes no one else's text.
func TestTenantFonts(t *testing.T) {
	base := flat(t, 400, 200, white)
	serif, err := os.ReadFile("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
	if err != nil {
		t.Fatal(err)
	}
	const text = "l-text,i-Pictor,fs-40,"
	_, sansN := ink(render(t, base, text+"l-end", nil))
	_, serifN := ink(render(t, base, text+"ff-serif,l-end", nil))
	if sansN == serifN {
		t.Fatalf("sans and serif set the same ink (%d px): the test cannot tell fonts apart", sansN)
	}
	// The serif face, its naming table saying it is "DejaVu Sans".
	impostor := withFamily(t, serif, "DejaVu Sans")
	for _, f := range []string{"fonts/Brand.ttf", "fonts/Impostor.ttf"} {
		src := map[string][]byte{"fonts/Brand.ttf": serif, "fonts/Impostor.ttf": impostor}
		_, n := ink(render(t, base, text+"ff-"+strings.ReplaceAll(f, "/", "@@")+",l-end", src))
		if n != serifN {
			t.Errorf("%s (DejaVu Serif inside): %d px of ink, ff-serif sets %d", f, n, serifN)
		}
	}
	if _, n := ink(render(t, base, text+"l-end", nil)); n != sansN {
		t.Errorf("after a tenant's font called DejaVu Sans, default text sets %d px of ink, before %d", n, sansN)
	}
	e := testEngine()
	for _, tc := range []struct {
		name string
		file []byte
		kind errkind.Kind
	}{
		{"not a font", []byte("<html>not a font</html>"), errkind.Invalid},
		{"a font collection", append([]byte("ttcf"), serif[4:]...), errkind.Unsupported},
		{"damaged", serif[:2048], errkind.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Transform(context.Background(), Request{Source: base, Format: "png",
				Transformation: mustParse(t, text+"ff-f.ttf,l-end"), Layers: map[string][]byte{"f.ttf": tc.file}})
			if errkind.KindOf(err) != tc.kind || !strings.Contains(errkind.SafeMessage(err), "layer font f.ttf") {
				t.Fatalf("err = %v (kind %v), want %v naming the layer font", err, errkind.KindOf(err), tc.kind)
			}
		})
	}
	_, err = e.Transform(context.Background(), Request{Source: base, Format: "png", Transformation: mustParse(t, text+"ff-f.ttf,l-end")})
	if errkind.Reason(err) != "layer_source_missing" {
		t.Fatalf("font not fetched: %v", err)
	}
}

// withFamily returns the font with a naming table that gives family as its
// name, as a hostile file would.
func withFamily(t *testing.T, font []byte, family string) []byte {
	t.Helper()
	n := int(binary.BigEndian.Uint16(font[4:]))
	nameAt := -1
	for i := range n {
		if rec := font[12+16*i:]; string(rec[:4]) == "name" {
			nameAt = int(binary.BigEndian.Uint32(rec[8:]))
		}
	}
	if nameAt < 0 {
		t.Fatal("no naming table")
	}
	name := font[nameAt:]
	// Rewrite every family and full-name record in place, padded with
	// spaces to its length (UTF-16 for Windows records).
	out := append([]byte(nil), font...)
	count, strs := int(binary.BigEndian.Uint16(name[2:])), int(binary.BigEndian.Uint16(name[4:]))
	for i := range count {
		r := name[6+12*i:]
		platform, id := binary.BigEndian.Uint16(r), binary.BigEndian.Uint16(r[6:])
		length, off := int(binary.BigEndian.Uint16(r[8:])), int(binary.BigEndian.Uint16(r[10:]))
		if id != 1 && id != 4 && id != 16 {
			continue
		}
		text := []byte(family)
		if platform == 3 || platform == 0 {
			text = nil
			for _, c := range family {
				text = binary.BigEndian.AppendUint16(text, uint16(c))
			}
		}
		if len(text) > length {
			t.Fatalf("record %d too short for %q", i, family)
		}
		dst := out[nameAt+strs+off:][:length]
		for j := range dst {
			dst[j] = 0
		}
		copy(dst, text)
		binary.BigEndian.PutUint16(out[nameAt+6+12*i+8:], uint16(len(text)))
	}
	return out
}

func escape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
	}
	return b.String()
}

// TestFontsInstalled: every family ff- may name is installed (the bootstrap
// installs them), or text would silently fall back to another face.
func TestFontsInstalled(t *testing.T) {
	out, err := exec.Command("fc-list", ":", "family").Output()
	if err != nil {
		t.Fatalf("fc-list: %v", err)
	}
	for _, family := range imgurl.Fonts {
		if !strings.Contains(string(out), family) {
			t.Errorf("font %q is not installed (scripts/bootstrap.sh installs it)", family)
		}
	}
}

func TestLayerRefusals(t *testing.T) {
	e := testEngine()
	base := flat(t, 50, 50, white)
	for _, tc := range []struct {
		name   string
		tr     string
		layers map[string][]byte
		kind   errkind.Kind
	}{
		{"image not fetched", "l-image,i-a.png,l-end", nil, errkind.Internal},
		{"layer image corrupt", "l-image,i-a.png,l-end", map[string][]byte{"a.png": []byte("not an image")}, errkind.Unprocessable},
		{"layer image over the pixel limit", "l-image,i-a.png,l-end", map[string][]byte{"a.png": pngWithSize(t, 20000, 20000)}, errkind.Unprocessable},
		{"layer block over the size limit", "l-image,i-ik_canvas,bg-red,w-65535,h-65535,l-end", nil, errkind.Invalid},
		{"blank text", "l-text,i-%20%20,l-end", nil, errkind.Invalid},
		{"position impossible", "l-image,i-ik_canvas,bg-red,lx-bw_div_0,l-end", nil, errkind.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Transform(context.Background(), Request{Source: base, Transformation: mustParse(t, tc.tr), Format: "png", Layers: tc.layers})
			if errkind.KindOf(err) != tc.kind {
				t.Fatalf("err = %v (kind %v), want %v", err, errkind.KindOf(err), tc.kind)
			}
		})
	}
}

// cropTo is img seen through r (pixels outside it read as white).
func cropTo(img image.Image, r image.Rectangle) image.Image {
	out := image.NewNRGBA(img.Bounds())
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			if image.Pt(x, y).In(r) {
				out.Set(x, y, img.At(x, y))
			} else {
				out.Set(x, y, white)
			}
		}
	}
	return out
}
