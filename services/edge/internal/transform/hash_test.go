package transform

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json from the current output")

// signature is a perceptual fingerprint of an image: a 128-bit difference
// hash (dHash: the sign of the brightness step between neighbouring cells of
// a 9×9 grid, 64 bits across and 64 down) and the mean colour and alpha of a
// 4×4 grid, because dHash alone is blind to colour. Encoded bytes are never
// compared: a libvips or codec upgrade may change every byte and still
// produce the same picture.
type signature struct {
	DHash string `json:"dhash"`
	Grid  string `json:"grid"`
}

// Tolerances: a few flipped dHash bits and a small colour drift are codec
// noise; a wrong crop, rotation, colour or effect moves far more.
const (
	maxHashBits   = 10
	maxGridColour = 24
)

func signatureOf(img image.Image) signature {
	// Colour is composited over mid-grey, so transparency shows as a change.
	lum := cells(img, 9, 9, func(c color.NRGBA) [4]float64 {
		r, g, b := over(c)
		return [4]float64{0.299*r + 0.587*g + 0.114*b}
	})
	var h [16]byte
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			i := y*8 + x
			if lum[y][x][0] > lum[y][x+1][0] {
				h[i/8] |= 1 << (i % 8)
			}
			if lum[x][y][0] > lum[x+1][y][0] { // down the columns
				h[8+i/8] |= 1 << (i % 8)
			}
		}
	}
	grid := cells(img, 4, 4, func(c color.NRGBA) [4]float64 {
		r, g, b := over(c)
		return [4]float64{r, g, b, float64(c.A)}
	})
	var gb []byte
	for _, row := range grid {
		for _, c := range row {
			for _, v := range c {
				gb = append(gb, uint8(v+0.5))
			}
		}
	}
	return signature{DHash: hex.EncodeToString(h[:]), Grid: hex.EncodeToString(gb)}
}

func over(c color.NRGBA) (r, g, b float64) {
	a := float64(c.A) / 255
	return float64(c.R)*a + 128*(1-a), float64(c.G)*a + 128*(1-a), float64(c.B)*a + 128*(1-a)
}

// cells box-averages f over an n×m grid; an image smaller than the grid
// repeats its pixels.
func cells(img image.Image, n, m int, f func(color.NRGBA) [4]float64) [][][4]float64 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([][][4]float64, m)
	for cy := 0; cy < m; cy++ {
		out[cy] = make([][4]float64, n)
		y0, y1 := cy*h/m, max((cy+1)*h/m, cy*h/m+1)
		for cx := 0; cx < n; cx++ {
			x0, x1 := cx*w/n, max((cx+1)*w/n, cx*w/n+1)
			var sum [4]float64
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					v := f(color.NRGBAModel.Convert(img.At(b.Min.X+min(x, w-1), b.Min.Y+min(y, h-1))).(color.NRGBA))
					for i := range sum {
						sum[i] += v[i]
					}
				}
			}
			k := float64((y1 - y0) * (x1 - x0))
			for i := range sum {
				sum[i] /= k
			}
			out[cy][cx] = sum
		}
	}
	return out
}

// distance returns the dHash bits that differ and the largest grid
// channel difference.
func (s signature) distance(o signature) (int, int) {
	a, _ := hex.DecodeString(s.DHash)
	b, _ := hex.DecodeString(o.DHash)
	d := 0
	for i := range min(len(a), len(b)) {
		d += bits.OnesCount8(a[i] ^ b[i])
	}
	if len(a) != len(b) {
		d += 128
	}
	ga, _ := hex.DecodeString(s.Grid)
	gb, _ := hex.DecodeString(o.Grid)
	worst := 0
	if len(ga) != len(gb) {
		return d, 255
	}
	for i := range ga {
		worst = max(worst, abs(int(ga[i])-int(gb[i])))
	}
	return d, worst
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// goldens holds testdata/golden.json; with -update, what the run produced
// is written back when the test binary finishes.
var goldens = struct {
	sync.Mutex
	loaded bool
	m      map[string]signature
	seen   map[string]bool
}{}

const goldenFile = "testdata/golden.json"

func loadGoldens(t *testing.T) {
	goldens.Lock()
	defer goldens.Unlock()
	if goldens.loaded {
		return
	}
	goldens.loaded = true
	goldens.m = map[string]signature{}
	goldens.seen = map[string]bool{}
	b, err := os.ReadFile(goldenFile)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &goldens.m); err != nil {
			t.Fatalf("%s: %v", goldenFile, err)
		}
	}
}

// checkGolden compares img with the golden signature stored under name.
func checkGolden(t *testing.T, name string, img image.Image) {
	t.Helper()
	loadGoldens(t)
	got := signatureOf(img)
	goldens.Lock()
	defer goldens.Unlock()
	goldens.seen[name] = true
	if *update {
		goldens.m[name] = got
		return
	}
	want, ok := goldens.m[name]
	if !ok {
		t.Fatalf("no golden signature for %q: run go test ./internal/transform -run Golden -update", name)
	}
	if d, c := got.distance(want); d > maxHashBits || c > maxGridColour {
		t.Errorf("%s: output differs from golden (%d dHash bits, colour off by %d; limits %d, %d)", name, d, c, maxHashBits, maxGridColour)
	}
}

// writeGoldens saves the signatures (only with -update); entries this run
// did not reach (a -run filter) are kept as they were.
func writeGoldens() error {
	goldens.Lock()
	defer goldens.Unlock()
	if !*update || goldens.m == nil {
		return nil
	}
	keys := make([]string, 0, len(goldens.m))
	for k := range goldens.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ordered := make(map[string]signature, len(keys))
	for _, k := range keys {
		ordered[k] = goldens.m[k]
	}
	b, err := json.MarshalIndent(ordered, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(goldenFile), 0o755); err != nil {
		return err
	}
	return os.WriteFile(goldenFile, append(b, '\n'), 0o644)
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if err := writeGoldens(); err != nil {
		fmt.Fprintln(os.Stderr, "writing goldens:", err)
		code = 1
	}
	os.Exit(code)
}

func TestSignatureDistinguishes(t *testing.T) {
	a := signatureOf(scene(120, 90, false))
	if d, c := a.distance(a); d != 0 || c != 0 {
		t.Fatalf("self distance %d/%d", d, c)
	}
	if d, c := a.distance(signatureOf(quadrants(120, 90))); d <= maxHashBits && c <= maxGridColour {
		t.Fatalf("different pictures within tolerance: %d bits, colour %d", d, c)
	}
}
