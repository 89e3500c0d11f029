package transform

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// libvips 8.14's savers cannot be told to keep only part of the metadata:
// the WebP saver writes EXIF, XMP and ICC chunks even when asked to strip,
// and with stripping off (needed to keep an ICC profile) the JPEG and WebP
// savers add an EXIF block of their own. dropMetadata removes those blocks
// from the encoded container, which is a small, well-defined edit of the
// file's framing; the compressed image data is copied untouched.
//
// AVIF is not edited: its saver strips correctly, and under cp-true the
// EXIF item it adds holds only libexif's defaults (resolution,
// orientation 1), never anything from the source.
func dropMetadata(format string, b []byte, keepICC bool) ([]byte, error) {
	switch format {
	case "jpeg":
		return jpegWithout(b, keepICC)
	case "webp":
		return webpWithout(b, keepICC)
	}
	return b, nil
}

// jpegWithout drops APP1 (EXIF, XMP), APP13 (IPTC), comments and, unless
// keepICC, APP2 (ICC) segments before the image data.
func jpegWithout(b []byte, keepICC bool) ([]byte, error) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, errors.New("jpeg: no SOI marker")
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:2]...)
	i := 2
	for {
		if i+4 > len(b) || b[i] != 0xFF {
			return nil, fmt.Errorf("jpeg: lost segment sync at %d", i)
		}
		marker := b[i+1]
		if marker == 0xDA { // start of scan: the rest is image data
			return append(out, b[i:]...), nil
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return nil, fmt.Errorf("jpeg: segment length %d at %d", n, i)
		}
		drop := marker == 0xE1 || marker == 0xED || marker == 0xFE || (marker == 0xE2 && !keepICC)
		if !drop {
			out = append(out, b[i:i+2+n]...)
		}
		i += 2 + n
	}
}

// webpWithout drops the EXIF, XMP and (unless keepICC) ICCP chunks and
// clears their flags in the VP8X header.
func webpWithout(b []byte, keepICC bool) ([]byte, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, errors.New("webp: not a RIFF WEBP file")
	}
	const (
		flagICC  = 0x20
		flagEXIF = 0x08
		flagXMP  = 0x04
	)
	out := bytes.NewBuffer(make([]byte, 0, len(b)))
	out.Write(b[:12])
	vp8x := -1
	for i := 12; i < len(b); {
		if i+8 > len(b) {
			return nil, fmt.Errorf("webp: truncated chunk header at %d", i)
		}
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		end := i + 8 + n + n%2
		if n < 0 || end > len(b) {
			return nil, fmt.Errorf("webp: chunk length %d at %d", n, i)
		}
		switch fourcc := string(b[i : i+4]); {
		case fourcc == "EXIF" || fourcc == "XMP " || (fourcc == "ICCP" && !keepICC):
		case fourcc == "VP8X" && n < 10:
			// Its flags byte is edited below; a shorter chunk would have
			// the edit land in the next chunk's header, or past the end.
			return nil, fmt.Errorf("webp: VP8X chunk of %d bytes at %d", n, i)
		default:
			if fourcc == "VP8X" {
				vp8x = out.Len()
			}
			out.Write(b[i:end])
		}
		i = end
	}
	res := out.Bytes()
	if vp8x >= 0 {
		clear := byte(flagEXIF | flagXMP)
		if !keepICC {
			clear |= flagICC
		}
		res[vp8x+8] &^= clear
	}
	binary.LittleEndian.PutUint32(res[4:], uint32(len(res)-8))
	return res, nil
}
