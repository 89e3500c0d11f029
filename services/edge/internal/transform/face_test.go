package transform

import (
	"context"
	"image"
	"image/draw"
	"os"
	"testing"

	"pictor/services/edge/internal/faces"
	"pictor/services/edge/internal/faces/facetest"
)

// faceIn is the largest face the detector finds in img, if any.
func faceIn(t *testing.T, img image.Image) (image.Rectangle, bool) {
	t.Helper()
	c, err := faces.Load(FaceCascade)
	if err != nil {
		t.Fatal(err)
	}
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
	found := c.Detect(g.Pix, g.Bounds().Dx(), g.Bounds().Dy(), 0)
	if len(found) == 0 {
		return image.Rectangle{}, false
	}
	return found[0], true
}

// TestFaceFocus: NASA's astronaut portrait (512×512, her face about
// (174,64)-(273,163)) cropped with fo-face shows her face, as ImageKit's
// face crop does, where the plain crop shows the whole picture; z- zooms.
func TestFaceFocus(t *testing.T) {
	src, err := os.ReadFile(facetest.Astronaut(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tr             string
		w, h           int
		faceLo, faceHi int // the face's width in the output
	}{
		// The crop's side is 1.5 × the face box at z-1: the face fills
		// about two thirds of it.
		{"w-150,h-150,fo-face", 150, 150, 80, 120},
		{"w-100,h-300,fo-face", 100, 300, 50, 85},
		{"w-150,h-150,fo-face,z-0.5", 150, 150, 38, 62}, // zoomed out: half the size
	} {
		t.Run(tc.tr, func(t *testing.T) {
			img := render(t, src, tc.tr, nil)
			if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
				t.Fatalf("%v, want %d×%d", b, tc.w, tc.h)
			}
			f, ok := faceIn(t, img)
			if !ok {
				t.Fatal("no face in the fo-face crop")
			}
			if f.Dx() < tc.faceLo || f.Dx() > tc.faceHi {
				t.Errorf("face %v is %d px wide, want %d–%d", f, f.Dx(), tc.faceLo, tc.faceHi)
			}
			if cx := (f.Min.X + f.Max.X) / 2; cx < tc.w/2-tc.w/6 || cx > tc.w/2+tc.w/6 {
				t.Errorf("face %v is not centred across the %d px crop", f, tc.w)
			}
		})
	}
	// Without fo-face the square crop of a square picture is all of it:
	// the face is a fifth of the width.
	if f, ok := faceIn(t, render(t, src, "w-150,h-150", nil)); !ok || f.Dx() > 45 {
		t.Errorf("plain w-150,h-150: face %v, %v; want a small one", f, ok)
	}
	// cm-extract keeps its window's size and centres it on the face.
	ex := render(t, src, "w-200,h-200,cm-extract,fo-face", nil)
	if f, ok := faceIn(t, ex); !ok || f.Dx() < 80 || (f.Min.X+f.Max.X)/2 < 80 || (f.Min.X+f.Max.X)/2 > 120 {
		t.Errorf("cm-extract,fo-face: face %v, %v; want her face, full size, in the middle", f, ok)
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
	if _, err := e.Transform(context.Background(), Request{Source: scene, Transformation: mustParse(t, "w-50,h-50,z-2"), Format: "png"}); err == nil {
		t.Error("z- without fo-face was accepted")
	}
}
