package transform

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// Sources are generated, not stored, except where Go cannot write the
// format (CMYK JPEG): the repository stays small and each fixture says how
// it was made.

// scene draws a w×h picture with structure at several scales: a smooth
// gradient, a red disc, a dark bar and fine stripes, so crops, rotations
// and filters all change its perceptual hash.
func scene(w, h int, alpha bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	cx, cy, r := float64(w)*0.35, float64(h)*0.4, float64(min(w, h))*0.22
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{uint8(40 + x*180/w), uint8(60 + y*160/h), 150, 255}
			if math.Hypot(float64(x)-cx, float64(y)-cy) < r {
				c = color.NRGBA{220, 30, 40, 255}
			}
			if y > h*3/4 && y < h*3/4+h/12 && x > w/10 && x < w*9/10 {
				c = color.NRGBA{20, 20, 30, 255}
			}
			if x > w*3/4 && (y/4)%2 == 0 {
				c = color.NRGBA{250, 250, 240, 255}
			}
			if alpha && (x < w/8 || y < h/8) {
				c.A = 0
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func encodeJPEGImage(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNGImage(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func photoJPEG(t testing.TB, w, h int) []byte { return encodeJPEGImage(t, scene(w, h, false), 92) }
func alphaPNG(t testing.TB, w, h int) []byte  { return encodePNGImage(t, scene(w, h, true)) }

// quadrants is an upright w×h image with four flat colours, so orientation
// and flips can be read back from the output's corners.
var quadColours = [4]color.NRGBA{{230, 20, 20, 255}, {20, 200, 40, 255}, {30, 40, 220, 255}, {240, 220, 30, 255}}

func quadrants(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			q := 0
			if x >= w/2 {
				q++
			}
			if y >= h/2 {
				q += 2
			}
			img.SetNRGBA(x, y, quadColours[q])
		}
	}
	return img
}

// storedFor returns how a camera would store upright image u when it
// writes EXIF orientation o: the inverse of the transform a viewer applies.
func storedFor(u *image.NRGBA, o int) *image.NRGBA {
	w, h := u.Bounds().Dx(), u.Bounds().Dy()
	sw, sh := w, h
	if o >= 5 {
		sw, sh = h, w
	}
	s := image.NewNRGBA(image.Rect(0, 0, sw, sh))
	for y := 0; y < sh; y++ {
		for x := 0; x < sw; x++ {
			// (ux, uy) is where stored pixel (x, y) lands once displayed.
			var ux, uy int
			switch o {
			case 1:
				ux, uy = x, y
			case 2: // mirror horizontal
				ux, uy = sw-1-x, y
			case 3: // rotate 180
				ux, uy = sw-1-x, sh-1-y
			case 4: // mirror vertical
				ux, uy = x, sh-1-y
			case 5: // transpose
				ux, uy = y, x
			case 6: // rotate 90 CW to display
				ux, uy = sh-1-y, x
			case 7: // transverse
				ux, uy = sh-1-y, sw-1-x
			case 8: // rotate 90 CCW to display
				ux, uy = y, sw-1-x
			}
			s.SetNRGBA(x, y, u.NRGBAAt(ux, uy))
		}
	}
	return s
}

// withEXIF inserts, after SOI, an EXIF APP1 segment (Orientation,
// Copyright and a GPS IFD with a latitude) and an XMP APP1 segment: what a
// phone writes, and what must not leak into variants.
func withEXIF(jpg []byte, orientation int) []byte {
	var tiff bytes.Buffer
	be := binary.BigEndian
	w16 := func(v uint16) { binary.Write(&tiff, be, v) }
	w32 := func(v uint32) { binary.Write(&tiff, be, v) }
	copyright := "Pictor test photographer\x00"
	// Layout: header(8) IFD0(2+3*12+4=42) → 50: copyright string;
	// then GPS IFD (2+2*12+4=30); then 3 rationals (24 bytes).
	copyOff := uint32(8 + 42)
	gpsOff := copyOff + uint32(len(copyright))
	ratOff := gpsOff + 30
	tiff.WriteString("MM")
	w16(42)
	w32(8)
	w16(3)
	w16(0x0112) // Orientation
	w16(3)
	w32(1)
	w16(uint16(orientation))
	w16(0)
	w16(0x8298) // Copyright
	w16(2)
	w32(uint32(len(copyright)))
	w32(copyOff)
	w16(0x8825) // GPSInfo IFD pointer
	w16(4)
	w32(1)
	w32(gpsOff)
	w32(0)
	tiff.WriteString(copyright)
	w16(2)
	w16(0x0001) // GPSLatitudeRef "N"
	w16(2)
	w32(2)
	tiff.Write([]byte{'N', 0, 0, 0})
	w16(0x0002) // GPSLatitude 48/1 51/1 30/1
	w16(5)
	w32(3)
	w32(ratOff)
	w32(0)
	for _, v := range []uint32{48, 1, 51, 1, 30, 1} {
		w32(v)
	}
	exif := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	xmp := []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description xmlns:dc='http://purl.org/dc/elements/1.1/' dc:creator='Pictor test'/></rdf:RDF></x:xmpmeta>")
	var out bytes.Buffer
	out.Write(jpg[:2])
	for _, seg := range [][]byte{exif, xmp} {
		out.Write([]byte{0xFF, 0xE1})
		binary.Write(&out, be, uint16(len(seg)+2))
		out.Write(seg)
	}
	out.Write(jpg[2:])
	return out.Bytes()
}

// orientedJPEG is the quadrant image as a camera with orientation o stores it.
func orientedJPEG(t testing.TB, w, h, o int) []byte {
	return withEXIF(encodeJPEGImage(t, storedFor(quadrants(w, h), o), 95), o)
}

// animatedGIF has frames of distinct flat colours; only the first must be
// rendered.
func animatedGIF(t testing.TB, w, h, frames int) []byte {
	t.Helper()
	anim := &gif.GIF{}
	cols := []color.Color{color.RGBA{200, 30, 30, 255}, color.RGBA{30, 200, 30, 255}, color.RGBA{30, 30, 200, 255}}
	for i := 0; i < frames; i++ {
		f := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				f.Set(x, y, cols[i%len(cols)])
			}
		}
		anim.Image = append(anim.Image, f)
		anim.Delay = append(anim.Delay, 10)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// lottapixelJPEG is a few-KB JPEG whose frame header claims w×h pixels
// (fuzzdb's lottapixel.jpg): refused from the header, never decoded.
func lottapixelJPEG(t testing.TB, w, h int) []byte {
	jpg := photoJPEG(t, 64, 48)
	out := bytes.Clone(jpg)
	for i := 2; i+9 < len(out); {
		if out[i] != 0xFF {
			t.Fatal("lottapixel: lost JPEG marker sync")
		}
		marker := out[i+1]
		n := int(binary.BigEndian.Uint16(out[i+2:]))
		if marker == 0xC0 || marker == 0xC2 {
			binary.BigEndian.PutUint16(out[i+5:], uint16(h))
			binary.BigEndian.PutUint16(out[i+7:], uint16(w))
			return out
		}
		i += 2 + n
	}
	t.Fatal("lottapixel: no SOF marker")
	return nil
}

// pngWithSize rewrites the IHDR of a 1×1 PNG to claim w×h.
func pngWithSize(t testing.TB, w, h uint32) []byte {
	p := encodePNGImage(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	out := bytes.Clone(p)
	binary.BigEndian.PutUint32(out[16:], w)
	binary.BigEndian.PutUint32(out[20:], h)
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// metadataIn lists the metadata blocks an encoded file carries, read from
// the container itself rather than through libvips.
func metadataIn(t testing.TB, b []byte) map[string]bool {
	t.Helper()
	found := map[string]bool{}
	switch {
	case len(b) > 3 && b[0] == 0xFF && b[1] == 0xD8:
		for i := 2; i+4 <= len(b); {
			if b[i] != 0xFF {
				t.Fatalf("JPEG segment sync lost at %d", i)
			}
			marker := b[i+1]
			if marker == 0xDA || marker == 0xD9 {
				break
			}
			n := int(binary.BigEndian.Uint16(b[i+2:]))
			seg := b[i+4 : i+2+n]
			switch {
			case marker == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")):
				found["exif"] = true
				if bytes.Contains(seg, []byte{0x88, 0x25}) || bytes.Contains(seg, []byte{0x25, 0x88}) {
					found["gps"] = true
				}
			case marker == 0xE1 && bytes.HasPrefix(seg, []byte("http://ns.adobe.com/xap/1.0/")):
				found["xmp"] = true
			case marker == 0xE2 && bytes.HasPrefix(seg, []byte("ICC_PROFILE")):
				found["icc"] = true
			case marker == 0xED:
				found["iptc"] = true
			case marker == 0xFE:
				found["comment"] = true
			}
			i += 2 + n
		}
	case bytes.HasPrefix(b, []byte("\x89PNG")):
		for i := 8; i+8 <= len(b); {
			n := int(binary.BigEndian.Uint32(b[i:]))
			typ := string(b[i+4 : i+8])
			switch typ {
			case "eXIf":
				found["exif"] = true
			case "iCCP":
				found["icc"] = true
			case "iTXt", "tEXt", "zTXt":
				found["text"] = true
			}
			i += 12 + n
		}
	case bytes.HasPrefix(b, []byte("RIFF")) && len(b) > 12 && string(b[8:12]) == "WEBP":
		for i := 12; i+8 <= len(b); {
			n := int(binary.LittleEndian.Uint32(b[i+4:]))
			switch string(b[i : i+4]) {
			case "EXIF":
				found["exif"] = true
			case "XMP ":
				found["xmp"] = true
			case "ICCP":
				found["icc"] = true
			}
			i += 8 + n + n%2
		}
	}
	return found
}

// decode reads an encoded JPEG, PNG or GIF with Go's own decoders, so the
// checks do not trust libvips to read back what libvips wrote.
func decode(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode output: %v", err)
	}
	return img
}

func nrgbaAt(img image.Image, x, y int) color.NRGBA {
	return color.NRGBAModel.Convert(img.At(img.Bounds().Min.X+x, img.Bounds().Min.Y+y)).(color.NRGBA)
}

// near reports whether two colours are within tol on every channel.
func near(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) bool { return int(x)-int(y) <= tol && int(y)-int(x) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && d(a.A, b.A)
}
