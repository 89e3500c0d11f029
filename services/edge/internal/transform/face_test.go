package transform

import (
	"context"
	"image"
	"os"
	"testing"

	"pictor/services/edge/internal/faces/facetest"
)

// offsetIn finds where small (a crop of the same picture) sits
// horizontally in big: the x with the least difference.
func offsetIn(big, small image.Image) int {
	best, bestX := int64(-1), -1
	for x := 0; x+small.Bounds().Dx() <= big.Bounds().Dx(); x++ {
		var d int64
		for y := 0; y < small.Bounds().Dy(); y += 3 {
			for sx := 0; sx < small.Bounds().Dx(); sx += 3 {
				a, b := nrgba(big.At(x+sx, y)), nrgba(small.At(sx, y))
				d += int64(abs(int(a.R)-int(b.R)) + abs(int(a.G)-int(b.G)) + abs(int(a.B)-int(b.B)))
			}
		}
		if best < 0 || d < best {
			best, bestX = d, x
		}
	}
	return bestX
}

// TestFaceFocus crops NASA's astronaut portrait (512×512, her face about
// x 174–273) to a 100×300 strip: fo-face puts the strip on her face,
// where the centre would miss it.
func TestFaceFocus(t *testing.T) {
	src, err := os.ReadFile(facetest.Astronaut(t))
	if err != nil {
		t.Fatal(err)
	}
	full := render(t, src, "w-300,h-300", nil) // the picture the strip is cut from
	face := render(t, src, "w-100,h-300,fo-face", nil)
	centre := render(t, src, "w-100,h-300", nil)
	// Her face's centre at 300 px: about (174+273)/2 × 300/512 = 131.
	if x := offsetIn(full, face); x < 76 || x > 86 {
		t.Errorf("fo-face strip starts at x=%d, want about 81 (centred on the face)", x)
	}
	if x := offsetIn(full, centre); x < 98 || x > 102 {
		t.Errorf("centred strip starts at x=%d, want 100", x)
	}

	// No face: fo-face is fo-auto.
	scene := photoJPEG(t, 400, 300)
	e := testEngine()
	a, err := e.Transform(context.Background(), Request{Source: scene, Transformation: mustParse(t, "w-50,h-100,fo-face"), Format: "png"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Transform(context.Background(), Request{Source: scene, Transformation: mustParse(t, "w-50,h-100,fo-auto"), Format: "png"})
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Body) != string(b.Body) {
		t.Error("without a face, fo-face did not crop as fo-auto does")
	}
}
