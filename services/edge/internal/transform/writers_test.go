package transform

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// Writers for the files Go's image encoders cannot make: TIFFs with any
// number of samples, pages and sample formats, PNGs of any colour type and
// depth, and animated WebP. They write the containers field by field so each
// corpus file says exactly what it holds.

// tiffPage is one uncompressed, single-strip image of a TIFF.
type tiffPage struct {
	width, height int
	samples       int      // samples per pixel
	bits          int      // bits per sample: 8, 16 or 32
	float         bool     // IEEE floating-point samples (SampleFormat 3)
	photometric   int      // 1 grey (black is zero), 2 RGB, 5 separated (CMYK)
	extra         []uint16 // ExtraSamples values, one per sample past the colour ones
	pix           []byte   // rows of interleaved samples, little-endian
}

// tiffFile writes a little-endian TIFF with one IFD per page.
func tiffFile(pages ...tiffPage) []byte {
	le := binary.LittleEndian
	var b bytes.Buffer
	b.WriteString("II")
	binary.Write(&b, le, uint16(42))
	binary.Write(&b, le, uint32(8))
	for i, p := range pages {
		type entry struct {
			tag, typ uint16
			values   []uint32
		}
		short := func(tag uint16, v ...uint32) entry { return entry{tag, 3, v} }
		long := func(tag uint16, v ...uint32) entry { return entry{tag, 4, v} }
		bits := make([]uint32, p.samples)
		format := make([]uint32, p.samples)
		for s := range bits {
			bits[s] = uint32(p.bits)
			format[s] = 1
			if p.float {
				format[s] = 3
			}
		}
		entries := []entry{
			long(256, uint32(p.width)), long(257, uint32(p.height)), short(258, bits...),
			short(259, 1), short(262, uint32(p.photometric)), long(273, 0),
			short(277, uint32(p.samples)), long(278, uint32(p.height)), long(279, uint32(len(p.pix))),
			short(284, 1), // planar configuration: interleaved
		}
		if len(p.extra) > 0 {
			ex := make([]uint32, len(p.extra))
			for j, v := range p.extra {
				ex[j] = uint32(v)
			}
			entries = append(entries, short(338, ex...))
		}
		entries = append(entries, short(339, format...))
		// Layout: IFD, then the arrays that do not fit in an entry, then
		// the pixels; the next IFD follows, word-aligned.
		ifdStart := b.Len()
		ifdLen := 2 + 12*len(entries) + 4
		var extraData bytes.Buffer
		dataStart := ifdStart + ifdLen
		size := map[uint16]int{3: 2, 4: 4}
		offsets := make([]uint32, len(entries))
		for j, e := range entries {
			if n := size[e.typ] * len(e.values); n > 4 {
				offsets[j] = uint32(dataStart + extraData.Len())
				for _, v := range e.values {
					if e.typ == 3 {
						binary.Write(&extraData, le, uint16(v))
					} else {
						binary.Write(&extraData, le, v)
					}
				}
			}
		}
		pixStart := dataStart + extraData.Len()
		next := uint32(0)
		if i < len(pages)-1 {
			next = uint32((pixStart + len(p.pix) + 1) &^ 1)
		}
		binary.Write(&b, le, uint16(len(entries)))
		for j, e := range entries {
			binary.Write(&b, le, e.tag)
			binary.Write(&b, le, e.typ)
			binary.Write(&b, le, uint32(len(e.values)))
			switch {
			case e.tag == 273:
				binary.Write(&b, le, uint32(pixStart))
			case offsets[j] != 0:
				binary.Write(&b, le, offsets[j])
			case e.typ == 3 && len(e.values) == 2:
				binary.Write(&b, le, uint16(e.values[0]))
				binary.Write(&b, le, uint16(e.values[1]))
			case e.typ == 3:
				binary.Write(&b, le, uint16(e.values[0]))
				binary.Write(&b, le, uint16(0))
			default:
				binary.Write(&b, le, e.values[0])
			}
		}
		binary.Write(&b, le, next)
		b.Write(extraData.Bytes())
		b.Write(p.pix)
		if b.Len()%2 == 1 {
			b.WriteByte(0)
		}
	}
	return b.Bytes()
}

// samplePixels fills w×h pixels of n 8-bit samples: sample s of pixel
// (x, y) is f(x, y, s).
func samplePixels(w, h, n int, f func(x, y, s int) byte) []byte {
	pix := make([]byte, 0, w*h*n)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for s := 0; s < n; s++ {
				pix = append(pix, f(x, y, s))
			}
		}
	}
	return pix
}

// bandTIFF is a w×h RGB TIFF with n samples per pixel: the scene's colour
// in the first three, then n−4 extra bands of 77, then alpha (the left
// quarter transparent, the rest 200) as the last. libvips loads it as
// n-band sRGB with the last band as alpha.
func bandTIFF(w, h, n int) []byte {
	s := scene(w, h, false)
	pix := samplePixels(w, h, n, func(x, y, c int) byte {
		switch {
		case c < 3:
			return s.Pix[(y*w+x)*4+c]
		case c < n-1:
			return 77
		case x < w/4:
			return 0
		}
		return 200
	})
	extra := make([]uint16, n-3)
	extra[len(extra)-1] = 2 // unassociated alpha
	return tiffFile(tiffPage{width: w, height: h, samples: n, bits: 8, photometric: 2, extra: extra, pix: pix})
}

// pngChunk appends one chunk with its CRC.
func pngChunk(b *bytes.Buffer, typ string, data []byte) {
	binary.Write(b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	binary.Write(b, binary.BigEndian, crc.Sum32())
}

// rawPNG writes a PNG of any colour type and depth from unfiltered rows;
// extra chunks (PLTE, tRNS) go before the image data.
func rawPNG(t testing.TB, w, h, colourType, depth int, rows []byte, extra ...[2]string) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = byte(depth), byte(colourType)
	pngChunk(&b, "IHDR", ihdr)
	for _, c := range extra {
		pngChunk(&b, c[0], []byte(c[1]))
	}
	stride := len(rows) / h
	var raw bytes.Buffer
	for y := 0; y < h; y++ {
		raw.WriteByte(0) // filter: none
		raw.Write(rows[y*stride : (y+1)*stride])
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	pngChunk(&b, "IDAT", z.Bytes())
	pngChunk(&b, "IEND", nil)
	return b.Bytes()
}

// riffChunk appends one RIFF chunk, padded to an even length.
func riffChunk(b *bytes.Buffer, fourcc string, data []byte) {
	b.WriteString(fourcc)
	binary.Write(b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	if len(data)%2 == 1 {
		b.WriteByte(0)
	}
}

func put24(b []byte, v int) { b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16) }

// animatedWebP wraps still WebP files of one size as the frames of an
// animation (VP8X + ANIM + one ANMF per frame), which is how libwebp's
// muxer lays them out.
func animatedWebP(t testing.TB, w, h int, stills ...[]byte) []byte {
	t.Helper()
	var body bytes.Buffer
	vp8x := make([]byte, 10)
	vp8x[0] = 0x02 | 0x10 // animation, alpha
	put24(vp8x[4:], w-1)
	put24(vp8x[7:], h-1)
	riffChunk(&body, "VP8X", vp8x)
	riffChunk(&body, "ANIM", []byte{0, 0, 0, 0, 0, 0}) // background, loop forever
	for _, still := range stills {
		frame := make([]byte, 16)
		put24(frame[6:], w-1)
		put24(frame[9:], h-1)
		put24(frame[12:], 100) // duration, ms
		found := false
		for i := 12; i+8 <= len(still); {
			n := int(binary.LittleEndian.Uint32(still[i+4:]))
			switch string(still[i : i+4]) {
			case "ALPH", "VP8 ", "VP8L":
				frame = append(frame, still[i:min(i+8+n+n%2, len(still))]...)
				found = true
			}
			i += 8 + n + n%2
		}
		if !found {
			t.Fatal("animatedWebP: no image data in a still")
		}
		riffChunk(&body, "ANMF", frame)
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(4+body.Len()))
	b.WriteString("WEBP")
	b.Write(body.Bytes())
	return b.Bytes()
}
