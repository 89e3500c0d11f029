package transform

import (
	"sync"

	"pictor/services/edge/internal/faces"
	"pictor/services/internal/errkind"
)

// FaceCascade is the frontal face cascade fo-face uses, from Debian's
// opencv-data package (the bootstrap and the edge image install it).
const FaceCascade = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"

// faceThumbSide is the side faces are looked for at: large enough for a
// face a tenth of the picture, small enough to take a few tens of
// milliseconds.
const faceThumbSide = 320

var loadCascade = sync.OnceValues(func() (*faces.Cascade, error) { return faces.Load(FaceCascade) })

// faceCrop cuts a width×height window centred on the largest face, held
// inside the image; without a face it falls back to the attention crop, as
// ImageKit's fo-face falls back to fo-auto.
func faceCrop(img *vimage, width, height int) error {
	cascade, err := loadCascade()
	if err != nil {
		return errkind.Wrap(errkind.Unsupported, "face_detection_unavailable",
			"fo-face is unavailable on this edge (its face model is not installed)", err)
	}
	if err := img.random(); err != nil {
		return err
	}
	pix, tw, th, err := img.greyThumb(faceThumbSide)
	if err != nil {
		return err
	}
	found := cascade.Detect(pix, tw, th, min(tw, th)/10)
	if len(found) == 0 {
		return img.smartcrop(width, height)
	}
	f := found[0]
	sx, sy := float64(img.width())/float64(tw), float64(img.height())/float64(th)
	cx, cy := float64(f.Min.X+f.Max.X)/2*sx, float64(f.Min.Y+f.Max.Y)/2*sy
	left := min(max(round(cx)-width/2, 0), img.width()-width)
	top := min(max(round(cy)-height/2, 0), img.height()-height)
	return img.extract(rect{left, top, width, height})
}
