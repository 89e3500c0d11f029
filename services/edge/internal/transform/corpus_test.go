package transform

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

var updateCorpus = flag.Bool("update-corpus", false, "regenerate testdata/malformed and testdata/odd from the generators below")

const (
	corpusDir = "testdata/malformed"
	// oddDir holds well-formed files in layouts the pipeline normalises:
	// more bands than it works on, CMYK, 16 bits, palettes, several pages.
	oddDir = "testdata/odd"
)

// corpusExpect says what each malformed file must produce. Files not listed
// (bit flips) may decode or fail, but only as a 422.
var corpusExpect = map[string]string{
	"empty.bin":             "source_empty",
	"garbage.txt":           "source_corrupt",
	"truncated.jpg":         "source_corrupt",
	"truncated.png":         "source_corrupt",
	"truncated.gif":         "source_corrupt",
	"truncated.webp":        "source_corrupt",
	"wrong-magic.png":       "source_corrupt",
	"lottapixel.jpg":        "source_too_many_pixels",
	"bomb.png":              "source_too_many_pixels",
	"huge-screen.gif":       "", // libnsgif sizes the image by its frames, not the claimed screen
	"huge.webp":             "source_too_many_pixels",
	"huge.tiff":             "source_too_many_pixels",
	"script.svg":            "source_format_blocked",
	"xinclude.svg":          "source_format_blocked",
	"entity-bomb.svg":       "source_format_blocked",
	"document.pdf":          "source_format_blocked",
	"native.v":              "source_format_blocked",
	"image.ppm":             "source_format_blocked",
	"image.fits":            "source_format_blocked",
	"table.csv":             "source_corrupt", // libvips knows CSV by file name only: not an image
	"matrix.mat":            "source_format_blocked",
	"jpeg-zero-length-sof":  "source_corrupt",
	"png-bad-crc-ihdr.png":  "source_corrupt",
	"gif-zero-size.gif":     "",
	"jpeg-garbage-tail.jpg": "",
}

// TestMalformedCorpus runs every file in testdata/malformed through a few
// transformations. The process must survive all of them (a crash in C
// cannot be recovered in Go), and every failure must be a 422.
func TestMalformedCorpus(t *testing.T) {
	if *updateCorpus {
		generateMalformedCorpus(t)
		writeCorpus(t, oddDir, oddCorpus(t))
	}
	e := New(Config{MaxSourcePixels: 100_000_000, Workers: 2, QueueLength: 64, QueueWait: 10 * time.Second, Deadline: 10 * time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 20 {
		t.Fatalf("corpus has %d files; regenerate it with -update-corpus", len(entries))
	}
	for _, ent := range entries {
		name := ent.Name()
		src, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range []string{"", "w-64,h-64", "t-true:rt-45:r-max", "w-32,f-webp"} {
			res, err := e.Transform(context.Background(), Request{Source: src, Transformation: mustParse(t, tr)})
			if err == nil {
				if want := corpusExpect[name]; want != "" {
					t.Errorf("%s [%s]: rendered %s %d×%d, want %s", name, tr, res.Format, res.Width, res.Height, want)
				}
				continue
			}
			if res != nil {
				t.Errorf("%s [%s]: error with a result", name, tr)
			}
			if errkind.KindOf(err) != errkind.Unprocessable {
				t.Errorf("%s [%s]: %v, want a 422 (unprocessable)", name, tr, err)
				continue
			}
			if want := corpusExpect[name]; want != "" && errkind.Reason(err) != want {
				t.Errorf("%s [%s]: reason %s, want %s (%v)", name, tr, errkind.Reason(err), want, err)
			}
		}
	}
}

// FuzzTransform feeds arbitrary bytes and transformation strings to the
// engine. Seeded with the malformed and odd corpora and the valid fixtures; run it
// with go test -run '^$' -fuzz FuzzTransform -fuzztime 30s.
func FuzzTransform(f *testing.F) {
	for dir, tr := range map[string]string{corpusDir: "w-40,h-30", oddDir: "w-40,h-30,o-50"} {
		entries, _ := os.ReadDir(dir)
		for _, ent := range entries {
			b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
			if err == nil && len(b) < 64<<10 {
				f.Add(b, tr)
			}
		}
	}
	for name, b := range sources(f) {
		if len(b) < 64<<10 {
			f.Add(b, map[string]string{"anim": "w-10", "exif6": "t-true,rt-30", "alpha": "r-max,b-2_FF0000"}[name])
		}
	}
	// A small pixel limit and deadline keep each input cheap: the fuzzer is
	// after crashes, not big images.
	e := New(Config{MaxSourcePixels: 4_000_000, Workers: 1, QueueLength: 1, QueueWait: 10 * time.Second, Deadline: 2 * time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.Fuzz(func(t *testing.T, src []byte, trs string) {
		tr, err := imgurl.Parse(trs)
		if err != nil {
			return
		}
		res, err := e.Transform(context.Background(), Request{Source: src, Transformation: tr, Format: "png"})
		if err != nil {
			if res != nil {
				t.Fatal("error with a result")
			}
			switch errkind.KindOf(err) {
			case errkind.Unprocessable, errkind.Invalid, errkind.Unsupported, errkind.Unavailable:
			default:
				t.Fatalf("error kind %v: %v", errkind.KindOf(err), err)
			}
			return
		}
		if len(res.Body) == 0 || res.Width < 1 || res.Height < 1 {
			t.Fatalf("empty result %+v", res)
		}
	})
}

// generateMalformedCorpus rewrites testdata/malformed (go test
// -update-corpus). Every file is made here, so the corpus can be audited
// and rebuilt.
func generateMalformedCorpus(t *testing.T) {
	t.Helper()
	photo := photoJPEG(t, 160, 120)
	scenePNG := alphaPNG(t, 160, 120)
	gifb := animatedGIF(t, 40, 30, 2)
	e := testEngine()
	webp, err := e.Transform(context.Background(), Request{Source: photo, Format: "webp"})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"empty.bin":             {},
		"garbage.txt":           []byte("<html><body>this is not an image at all</body></html>\n"),
		"truncated.jpg":         photo[:len(photo)/2],
		"truncated.png":         scenePNG[:len(scenePNG)/2],
		"truncated.gif":         gifb[:len(gifb)/2],
		"truncated.webp":        webp.Body[:len(webp.Body)/2],
		"wrong-magic.png":       append([]byte("\x89PNG\r\n\x1a\n"), photo[2:]...),
		"lottapixel.jpg":        lottapixelJPEG(t, 64250, 64250),
		"bomb.png":              pngWithSize(t, 20000, 20000),
		"huge-screen.gif":       gifWithScreen(gifb, 65535, 65535),
		"huge.webp":             webpWithSize(t, webp.Body, 16383, 16383),
		"huge.tiff":             tiffClaiming(100000, 100000),
		"script.svg":            []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="alert(1)"><script>alert(2)</script><rect width="10" height="10"/></svg>`),
		"xinclude.svg":          []byte(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xi="http://www.w3.org/2001/XInclude" width="10" height="10"><text><xi:include href=".?../../../../../etc/passwd" parse="text"/></text></svg>`),
		"entity-bomb.svg":       []byte(`<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&d;&d;&d;</text></svg>`),
		"document.pdf":          []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"),
		"native.v":              vipsNative(),
		"image.ppm":             append([]byte("P6\n4 4\n255\n"), bytes.Repeat([]byte{200, 10, 10}, 16)...),
		"image.fits":            fitsImage(),
		"table.csv":             []byte("1,2,3\n4,5,6\n7,8,9\n"),
		"matrix.mat":            []byte("3 3\n1 2 3\n4 5 6\n7 8 9\n"),
		"jpeg-zero-length-sof":  jpegZeroSOF(t, photo),
		"png-bad-crc-ihdr.png":  badCRC(scenePNG),
		"gif-zero-size.gif":     gifWithScreen(gifb, 0, 0),
		"jpeg-garbage-tail.jpg": append(bytes.Clone(photo), bytes.Repeat([]byte{0xAB}, 200)...),
	}
	// Bit flips at fixed, spread-out offsets: headers, tables and data.
	for i, off := range []int{3, 20, 90, 160, 400, 1000} {
		if off < len(photo) {
			b := bytes.Clone(photo)
			b[off] ^= 0x5A
			files["bitflip-"+itoa(i)+".jpg"] = b
		}
		if off < len(scenePNG) {
			b := bytes.Clone(scenePNG)
			b[off] ^= 0x5A
			files["bitflip-"+itoa(i)+".png"] = b
		}
		if off < len(gifb) {
			b := bytes.Clone(gifb)
			b[off] ^= 0x5A
			files["bitflip-"+itoa(i)+".gif"] = b
		}
		if off < len(webp.Body) {
			b := bytes.Clone(webp.Body)
			b[off] ^= 0x5A
			files["bitflip-"+itoa(i)+".webp"] = b
		}
	}
	writeCorpus(t, corpusDir, files)
}

// writeCorpus replaces dir with files.
func writeCorpus(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

// gifWithScreen rewrites the logical screen size of a GIF.
func gifWithScreen(g []byte, w, h uint16) []byte {
	b := bytes.Clone(g)
	binary.LittleEndian.PutUint16(b[6:], w)
	binary.LittleEndian.PutUint16(b[8:], h)
	return b
}

// webpWithSize rewrites the canvas (VP8X) and frame (VP8) sizes of a lossy
// WebP, keeping them consistent so the decoder believes both.
func webpWithSize(t testing.TB, w []byte, width, height uint32) []byte {
	b := bytes.Clone(w)
	found := false
	for i := 12; i+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		switch string(b[i : i+4]) {
		case "VP8X":
			put24 := func(at int, v uint32) { b[at], b[at+1], b[at+2] = byte(v), byte(v>>8), byte(v>>16) }
			put24(i+8+4, width-1)
			put24(i+8+7, height-1)
		case "VP8 ":
			// Key frame: 3-byte tag, 3-byte start code, then 14-bit sizes.
			binary.LittleEndian.PutUint16(b[i+8+6:], uint16(width&0x3FFF))
			binary.LittleEndian.PutUint16(b[i+8+8:], uint16(height&0x3FFF))
			found = true
		}
		i += 8 + n + n%2
	}
	if !found {
		t.Fatal("no lossy VP8 frame in the WebP")
	}
	return b
}

// tiffClaiming is a minimal little-endian TIFF whose IFD claims w×h.
func tiffClaiming(w, h uint32) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("II")
	binary.Write(&b, le, uint16(42))
	binary.Write(&b, le, uint32(8))
	entries := [][3]uint32{
		{256, 4, w},   // ImageWidth LONG
		{257, 4, h},   // ImageLength LONG
		{258, 3, 8},   // BitsPerSample
		{259, 3, 1},   // Compression none
		{262, 3, 1},   // Photometric: black is zero
		{273, 4, 200}, // StripOffsets
		{277, 3, 1},   // SamplesPerPixel
		{278, 4, h},   // RowsPerStrip
		{279, 4, 16},  // StripByteCounts
	}
	binary.Write(&b, le, uint16(len(entries)))
	for _, e := range entries {
		binary.Write(&b, le, uint16(e[0]))
		binary.Write(&b, le, uint16(e[1]))
		binary.Write(&b, le, uint32(1))
		if e[1] == 3 {
			binary.Write(&b, le, uint16(e[2]))
			binary.Write(&b, le, uint16(0))
		} else {
			binary.Write(&b, le, e[2])
		}
	}
	binary.Write(&b, le, uint32(0))
	for b.Len() < 216 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// vipsNative is the header of libvips' own .v format (untrusted loader).
func vipsNative() []byte {
	b := make([]byte, 64+16)
	binary.LittleEndian.PutUint32(b[0:], 0xb6a6f208)
	binary.LittleEndian.PutUint32(b[4:], 4)  // width
	binary.LittleEndian.PutUint32(b[8:], 4)  // height
	binary.LittleEndian.PutUint32(b[12:], 1) // bands
	return b
}

func fitsImage() []byte {
	cards := []string{"SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    2",
		"NAXIS1  =                    4", "NAXIS2  =                    4", "END"}
	var b bytes.Buffer
	for _, c := range cards {
		b.WriteString(c + strings.Repeat(" ", 80-len(c)))
	}
	for b.Len()%2880 != 0 {
		b.WriteByte(' ')
	}
	b.Write(make([]byte, 2880))
	return b.Bytes()
}

// jpegZeroSOF zeroes the frame size: a JPEG claiming 0×0 pixels.
func jpegZeroSOF(t testing.TB, jpg []byte) []byte {
	return lottapixelFrom(t, jpg, 0, 0)
}

func lottapixelFrom(t testing.TB, jpg []byte, w, h uint16) []byte {
	out := bytes.Clone(jpg)
	for i := 2; i+9 < len(out); {
		marker := out[i+1]
		n := int(binary.BigEndian.Uint16(out[i+2:]))
		if marker == 0xC0 || marker == 0xC2 {
			binary.BigEndian.PutUint16(out[i+5:], h)
			binary.BigEndian.PutUint16(out[i+7:], w)
			return out
		}
		i += 2 + n
	}
	t.Fatal("no SOF marker")
	return nil
}

func badCRC(p []byte) []byte {
	b := bytes.Clone(p)
	b[29] ^= 0xFF // IHDR CRC
	return b
}
