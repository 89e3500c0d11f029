package transform

import (
	"encoding/binary"
	"math"

	"pictor/services/internal/imgurl"
)

// footprint estimates the most memory one transform holds at once, so the
// engine can reserve it from the edge's memory budget before decoding. It
// errs on the side of too much: a reservation that is too small lets the
// process grow past its budget; one that is too large only makes a busy
// edge answer 503 a little earlier.
//
// The figures come from measuring vipsthumbnail on the pipelines Pictor
// runs (docs/benchmarks.md, "Memory budget"): a JPEG decoded with
// shrink-on-load and encoded as JPEG or PNG streams through line buffers
// (about 2 bytes per decoded pixel while resizing); a few decoders and
// every whole-image operation need the full frame in memory; the WebP,
// AVIF and GIF encoders take the whole output image at once.
type footprint struct {
	hd           header
	src          []byte
	loadW, loadH int
	steps        []imgurl.Step
	firstPlanned *geometry // the first step's geometry, applied at load
	out          string    // output format
	// vars are the source's sizes, for the expressions and conditionals of
	// the steps after the first (which the caller has bound already).
	vars imgurl.Vars
	// layers is what the transformation's layers hold (layerFootprint).
	layers int64
}

const (
	footprintBase = 24 << 20 // decoder and encoder state, libvips' buffers and thread
	bytesPerPixel = 4        // at most sRGB plus alpha, 8 bits (after normalisation)
)

func (f footprint) bytes() int64 {
	peak, outW, outH, random := f.sizes()
	loaded := int64(f.loadW) * int64(f.loadH)
	n := int64(footprintBase) + f.decoder()
	if int64(outW)*int64(outH) != loaded {
		n += 2 * loaded // the resize's line buffers
	}
	if random {
		n += peak * bytesPerPixel // the whole image, copied to memory once
	}
	return n + f.encoder(int64(outW)*int64(outH)) + f.layers
}

// decoder is what the loader holds beyond streaming: formats that decode a
// whole frame before libvips sees a line.
func (f footprint) decoder() int64 {
	src := int64(f.hd.width) * int64(f.hd.height)
	loaded := int64(f.loadW) * int64(f.loadH)
	switch f.hd.loader {
	case "jpegload_buffer":
		return progressiveJPEGCoefficients(f.src) // 0 for baseline JPEG
	case "pngload_buffer":
		if interlacedPNG(f.src) {
			return src * 8 // up to 16-bit RGBA
		}
		return 0
	case "webpload_buffer":
		return loaded * bytesPerPixel // decoded at the scaled size
	case "gifload_buffer":
		return 2 * src * bytesPerPixel // the decoder's frame and libvips' copy
	case "heifload_buffer":
		return 2 * src * bytesPerPixel // libheif decodes at full size
	}
	return loaded * bytesPerPixel
}

// encoder is the encoder's working memory plus the encoded file (held in C
// and copied once to Go).
func (f footprint) encoder(out int64) int64 {
	switch f.out {
	case "webp":
		return out * 9
	case "avif":
		return out * 10
	case "gif":
		return out * 6
	case "png":
		return out * 4 // the file, which can exceed the raw pixels
	}
	return out // JPEG streams; the file is well under a byte per pixel
}

// sizes walks the steps' geometry from the loaded size: the largest image
// (in pixels) any step makes, the output size, and whether any step needs
// the whole image in memory (rotation, vertical flips, attention cropping,
// trimming).
func (f footprint) sizes() (peak int64, w, h int, random bool) {
	w, h = f.loadW, f.loadH
	peak = int64(w) * int64(h)
	steps := f.steps
	for i := 0; i < len(steps); i++ {
		st := steps[i]
		if i > 0 {
			v := f.vars
			v.CW, v.CH = w, h
			unfolded, err := imgurl.Unfold(steps, i, v)
			if err != nil {
				break // the transform will refuse it; nothing more to reserve for
			}
			steps = unfolded
			if st, err = steps[i].Bind(v); err != nil {
				continue // likewise
			}
		}
		if st.Trim.Set {
			random = true
		}
		var g geometry
		switch {
		case i == 0 && f.firstPlanned != nil:
			g = *f.firstPlanned
			g.region = nil // already applied: the image was loaded at the step's size
			g.resizeW, g.resizeH = w, h
		default:
			var err error
			if g, err = planResize(w, h, st); err != nil {
				continue // the transform will refuse it; nothing to reserve for
			}
		}
		random = random || g.attention
		peak = max(peak, int64(g.resizeW)*int64(g.resizeH))
		w, h = g.outputSize()
		if st.Rotate.Set && !st.Rotate.Auto && st.Rotate.Degrees%360 != 0 {
			random = true
			if st.Rotate.Degrees%90 != 0 {
				side := int(math.Ceil(math.Hypot(float64(w), float64(h))))
				w, h = side, side // the rotated bounding box, at most the diagonal
			}
		}
		if st.Flip == "v" || st.Flip == "h_v" || st.Flip == "v_h" {
			random = true
		}
		if d := st.Distort; d != nil {
			random = true // any output pixel may read any source pixel
			if d.Corners == nil {
				g := arcFor(w, h, d.Arc)
				w, h = g.width, g.height
			}
		}
		peak = max(peak, int64(w)*int64(h))
	}
	return peak, w, h, random
}

// progressiveJPEGCoefficients is the memory libjpeg needs for a
// progressive JPEG: every DCT coefficient of every component at full
// resolution (2 bytes each), whatever the scale it decodes at. A baseline
// JPEG needs none of it (0).
func progressiveJPEGCoefficients(b []byte) int64 {
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			return 0
		}
		marker := b[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return 0
		}
		switch marker {
		case 0xC2, 0xC6, 0xCA, 0xCE: // progressive SOFs (Huffman, arithmetic, differential)
			return sofCoefficients(b[i+4 : i+2+n])
		case 0xC0, 0xC1, 0xC3, 0xC5, 0xC7, 0xC9, 0xCB, 0xCD:
			return 0
		case 0xDA:
			return 0
		}
		i += 2 + n
	}
	return 0
}

// sofCoefficients sums the coefficient storage of a frame header's
// components: each is width×height scaled by its sampling factors against
// the largest, rounded up to whole 8×8 blocks, at 2 bytes a coefficient.
func sofCoefficients(sof []byte) int64 {
	if len(sof) < 6 {
		return 0
	}
	h := int64(binary.BigEndian.Uint16(sof[1:]))
	w := int64(binary.BigEndian.Uint16(sof[3:]))
	nc := int(sof[5])
	if len(sof) < 6+3*nc || nc == 0 {
		return 0
	}
	var hmax, vmax int64 = 1, 1
	for c := 0; c < nc; c++ {
		s := sof[6+3*c+1]
		hmax, vmax = max(hmax, int64(s>>4)), max(vmax, int64(s&15))
	}
	var total int64
	for c := 0; c < nc; c++ {
		s := sof[6+3*c+1]
		hs, vs := max(int64(s>>4), 1), max(int64(s&15), 1)
		cw := (w*hs/hmax + 7) / 8 * 8
		ch := (h*vs/vmax + 7) / 8 * 8
		total += cw * ch * 2
	}
	return total
}

// interlacedPNG reports an Adam7 PNG, which libpng can only hand over
// once the whole image is decoded.
func interlacedPNG(b []byte) bool {
	// signature (8), IHDR length and type (8), width, height, depth,
	// colour type, compression, filter, interlace method.
	return len(b) > 28 && string(b[12:16]) == "IHDR" && b[28] == 1
}
