package transform

import (
	"image"
	"math"
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

// faceMargin is how much of what is around a face a fo-face crop keeps at
// z-1: the crop's shorter side is this many times the detected face box
// (which spans brow to chin), so the head and a little around it show.
const faceMargin = 1.5

// largestFace finds the largest face in img, in img's pixels.
func largestFace(img *vimage) (image.Rectangle, bool, error) {
	cascade, err := loadCascade()
	if err != nil {
		return image.Rectangle{}, false, errkind.Wrap(errkind.Unsupported, "face_detection_unavailable",
			"fo-face is unavailable on this edge (its face model is not installed)", err)
	}
	if err := img.random(); err != nil {
		return image.Rectangle{}, false, err
	}
	pix, tw, th, err := img.greyThumb(faceThumbSide)
	if err != nil {
		return image.Rectangle{}, false, err
	}
	found := cascade.Detect(pix, tw, th, min(tw, th)/10)
	if len(found) == 0 {
		return image.Rectangle{}, false, nil
	}
	f := found[0]
	sx, sy := float64(img.width())/float64(tw), float64(img.height())/float64(th)
	return image.Rect(round(float64(f.Min.X)*sx), round(float64(f.Min.Y)*sy), round(float64(f.Max.X)*sx), round(float64(f.Max.Y)*sy)), true, nil
}

// faceFit is fo-face with c-maintain_ratio, as ImageKit does it: the
// output shows the face, not the whole picture — a region around the
// largest face (faceMargin times its box, divided by z-), widened to the
// output's shape and held inside the picture, scaled to the output size.
// Without a face it is fo-auto: cover, then the attention crop.
func faceFit(img *vimage, g geometry) error {
	cw, ch := g.crop.width, g.crop.height
	f, found, err := largestFace(img)
	if err != nil {
		return err
	}
	if !found {
		if err := img.resize(float64(g.resizeW)/float64(img.width()), float64(g.resizeH)/float64(img.height())); err != nil {
			return err
		}
		if err := fitExactly(img, g.resizeW, g.resizeH); err != nil {
			return err
		}
		if g.resizeW == cw && g.resizeH == ch {
			return nil
		}
		return img.smartcrop(cw, ch)
	}
	zoom := g.zoom
	if zoom <= 0 {
		zoom = 1
	}
	side := float64(max(f.Dx(), f.Dy())) * faceMargin / zoom
	aspect := float64(cw) / float64(ch)
	rw, rh := side, side
	if aspect > 1 {
		rw = side * aspect
	} else {
		rh = side / aspect
	}
	W, H := float64(img.width()), float64(img.height())
	if rw > W || rh > H {
		k := math.Min(W/rw, H/rh)
		rw, rh = rw*k, rh*k
	}
	w, h := max(1, round(rw)), max(1, round(rh))
	cx, cy := float64(f.Min.X+f.Max.X)/2, float64(f.Min.Y+f.Max.Y)/2
	left := min(max(round(cx-rw/2), 0), img.width()-w)
	top := min(max(round(cy-rh/2), 0), img.height()-h)
	if err := img.extract(rect{left, top, w, h}); err != nil {
		return err
	}
	if err := img.resize(float64(cw)/float64(w), float64(ch)/float64(h)); err != nil {
		return err
	}
	return fitExactly(img, cw, ch)
}

// faceCrop is fo-face with cm-extract: a width×height window centred on
// the largest face, held inside the image; without a face the attention
// crop, as ImageKit's fo-face falls back to fo-auto.
func faceCrop(img *vimage, width, height int) error {
	f, found, err := largestFace(img)
	if err != nil {
		return err
	}
	if !found {
		return img.smartcrop(width, height)
	}
	cx, cy := float64(f.Min.X+f.Max.X)/2, float64(f.Min.Y+f.Max.Y)/2
	left := min(max(round(cx)-width/2, 0), img.width()-width)
	top := min(max(round(cy)-height/2, 0), img.height()-height)
	return img.extract(rect{left, top, width, height})
}
