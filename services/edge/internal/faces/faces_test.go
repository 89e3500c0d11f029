package faces

import (
	"image"
	"image/draw"
	_ "image/png"
	"os"
	"path/filepath"

	"pictor/services/edge/internal/faces/facetest"
	"testing"
)

// cascadePath is where Debian's opencv-data package (installed by the
// bootstrap) puts the frontal face cascade.
const cascadePath = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"

func grey(img image.Image) ([]byte, int, int) {
	b := img.Bounds()
	g := image.NewGray(b)
	draw.Draw(g, b, img, b.Min, draw.Src)
	return g.Pix, b.Dx(), b.Dy()
}

func TestAstronautFace(t *testing.T) {
	c, err := Load(cascadePath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(facetest.Astronaut(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	pix, w, h := grey(img)
	faces := c.Detect(pix, w, h, 0)
	if len(faces) == 0 {
		t.Fatal("no face found in the astronaut portrait")
	}
	// Her face, by eye, in the 512×512 picture: about x 170–270, y 50–170.
	face := faces[0]
	centre := image.Pt((face.Min.X+face.Max.X)/2, (face.Min.Y+face.Max.Y)/2)
	if !centre.In(image.Rect(180, 70, 260, 160)) || face.Dx() < 60 || face.Dx() > 160 {
		t.Errorf("largest face %v (centre %v), want about (170,50)-(270,170)", face, centre)
	}
	t.Logf("faces: %v", faces)
	// At the transform's size, looking for faces a tenth of the picture.
	small := scaled(pix, w, h, 320, 320)
	if f := c.Detect(small, 320, 320, 32); len(f) == 0 || !image.Pt((f[0].Min.X+f[0].Max.X)*512/640, (f[0].Min.Y+f[0].Max.Y)*512/640).In(image.Rect(180, 70, 260, 160)) {
		t.Errorf("at 320 px with faces over 32 px: %v", f)
	}
}

func TestNoFaces(t *testing.T) {
	c, err := Load(cascadePath)
	if err != nil {
		t.Fatal(err)
	}
	// A smooth gradient and a checkerboard: nothing like a face.
	w, h := 300, 200
	grad := make([]byte, w*h)
	check := make([]byte, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			grad[y*w+x] = byte(x * 255 / w)
			if (x/10+y/10)%2 == 0 {
				check[y*w+x] = 255
			}
		}
	}
	for name, pix := range map[string][]byte{"gradient": grad, "checkerboard": check} {
		if faces := c.Detect(pix, w, h, 0); len(faces) != 0 {
			t.Errorf("%s: found %v", name, faces)
		}
	}
	if faces := c.Detect(make([]byte, 10*10), 10, 10, 0); faces != nil {
		t.Errorf("a picture smaller than the window: %v", faces)
	}
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not xml":     "nope",
		"not haar":    `<opencv_storage><cascade><stageType>BOOST</stageType><featureType>LBP</featureType><height>24</height><width>24</width><stages><_><stageThreshold>1</stageThreshold></_></stages></cascade></opencv_storage>`,
		"bad feature": `<opencv_storage><cascade><stageType>BOOST</stageType><featureType>HAAR</featureType><height>24</height><width>24</width><stages><_><stageThreshold>1</stageThreshold><weakClassifiers><_><internalNodes>0 -1 5 1</internalNodes><leafValues>1 2</leafValues></_></weakClassifiers></_></stages><features><_><rects><_>0 0 1 1 1.</_></rects></_></features></cascade></opencv_storage>`,
	} {
		p := filepath.Join(dir, "c.xml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.xml")); err == nil {
		t.Error("a missing file loaded")
	}
}
