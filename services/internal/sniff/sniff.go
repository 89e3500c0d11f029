// Package sniff tells an image's format from its leading bytes, the one
// rule both the edge (what an origin sent) and the control plane (what an
// origin test fetched) go by; Content-Type from an origin is not trusted.
package sniff

import "bytes"

// Format is an image format recognised from its leading bytes.
type Format string

// Formats recognised by Sniff. Every format libvips (or the ImageMagick
// loader behind it) can load is recognised, so that a source which is an
// image, but one Pictor will not decode (SVG, PDF, JPEG 2000, FITS, ...),
// is answered 422 by the transform's allow-list rather than 502 "not an
// image"; bytes that are no image at all (HTML, JSON, text) stay Unknown.
const (
	Unknown  Format = ""
	JPEG     Format = "jpeg"
	PNG      Format = "png"
	GIF      Format = "gif"
	WebP     Format = "webp"
	AVIF     Format = "avif"
	HEIF     Format = "heif"
	TIFF     Format = "tiff"
	BMP      Format = "bmp"
	ICO      Format = "ico"
	JXL      Format = "jxl"
	JP2K     Format = "jp2k"
	SVG      Format = "svg"
	PDF      Format = "pdf"
	PPM      Format = "ppm"
	FITS     Format = "fits"
	VIPS     Format = "vips"
	MAT      Format = "mat"
	EXR      Format = "exr"
	Radiance Format = "radiance"
	Analyze  Format = "analyze"
	PSD      Format = "psd"
	XCF      Format = "xcf"
	DDS      Format = "dds"
	ICNS     Format = "icns"
	DICOM    Format = "dicom"
	XPM      Format = "xpm"
	MIFF     Format = "miff"
	DPX      Format = "dpx"
	// Fonts are no images, but text layers fetch them from the same
	// origins (ff-fonts@@Brand.ttf); as a base image they are refused.
	TrueType Format = "ttf"
	OpenType Format = "otf"
)

// Deliverable reports whether the format may be answered as it is (orig-true):
// the output allow-list, DESIGN §6. Everything else is answered only
// transformed into one of these.
func (f Format) Deliverable() bool {
	switch f {
	case JPEG, PNG, GIF, WebP, AVIF:
		return true
	}
	return false
}

// signature is a format's magic bytes at an offset.
type signature struct {
	offset int
	magic  string
	format Format
}

var signatures = []signature{
	{0, "\xFF\xD8\xFF", JPEG},
	{0, "\x89PNG\r\n\x1a\n", PNG},
	{0, "GIF87a", GIF},
	{0, "GIF89a", GIF},
	{0, "II*\x00", TIFF},
	{0, "MM\x00*", TIFF},
	{0, "II+\x00", TIFF}, // BigTIFF
	{0, "MM\x00+", TIFF},
	{0, "\x00\x00\x01\x00", ICO},
	{0, "\xFF\x0A", JXL},
	{0, "\x00\x00\x00\x0cJXL \r\n\x87\n", JXL},
	{0, "\x00\x00\x00\x0cjP  \r\n\x87\n", JP2K},
	{0, "\xFF\x4F\xFF\x51", JP2K}, // a bare codestream
	{0, "%PDF-", PDF},
	{0, "SIMPLE  =", FITS},
	{0, "\x08\xf2\xa6\xb6", VIPS},
	{0, "\xb6\xa6\xf2\x08", VIPS},
	{0, "MATLAB 5.0 MAT-file", MAT},
	{0, "\x76\x2f\x31\x01", EXR},
	{0, "#?RADIANCE", Radiance},
	{0, "#?RGBE", Radiance},
	{0, "\x5c\x01\x00\x00", Analyze}, // header size 348, little-endian
	{0, "\x00\x00\x01\x5c", Analyze},
	{0, "8BPS", PSD},
	{0, "gimp xcf", XCF},
	{0, "DDS ", DDS},
	{0, "icns", ICNS},
	{128, "DICM", DICOM},
	{0, "/* XPM */", XPM},
	{0, "id=ImageMagick", MIFF},
	{0, "SDPX", DPX},
	{0, "XPDS", DPX},
	{0, "\x00\x01\x00\x00", TrueType},
	{0, "true", TrueType},
	{0, "OTTO", OpenType},
}

// Sniff recognises an image by its magic bytes; Content-Type from the
// origin is not trusted (an HTML error page is often served as image/png).
func Sniff(b []byte) Format {
	if len(b) < 4 {
		return Unknown
	}
	for _, s := range signatures {
		if len(b) >= s.offset+len(s.magic) && string(b[s.offset:s.offset+len(s.magic)]) == s.magic {
			return s.format
		}
	}
	switch {
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return WebP
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		return isoBrand(b[8:12])
	case len(b) >= 14 && b[0] == 'B' && b[1] == 'M':
		return BMP
	case isNetpbm(b):
		return PPM
	case isSVG(b):
		return SVG
	}
	return Unknown
}

// isoBrand tells an AVIF from other HEIF files by the ftyp major brand.
func isoBrand(brand []byte) Format {
	switch string(brand) {
	case "avif", "avis":
		return AVIF
	case "heic", "heix", "hevc", "heim", "heis", "hevm", "hevs", "mif1", "msf1":
		return HEIF
	}
	return Unknown
}

// isNetpbm recognises PBM, PGM, PPM, PAM and PFM: "P1".."P7", "PF", "Pf",
// then whitespace.
func isNetpbm(b []byte) bool {
	if b[0] != 'P' {
		return false
	}
	switch b[1] {
	case '1', '2', '3', '4', '5', '6', '7', 'F', 'f':
	default:
		return false
	}
	switch b[2] {
	case ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// isSVG recognises an SVG document by its root element: after an optional
// byte-order mark, XML declaration, comments, processing instructions and
// doctype, the first element is <svg>. An HTML page that merely contains an
// <svg> element is not an SVG image.
func isSVG(b []byte) bool {
	if len(b) > 4096 {
		b = b[:4096]
	}
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		var end []byte
		switch {
		case bytes.HasPrefix(b, []byte("<?")):
			end = []byte("?>")
		case bytes.HasPrefix(b, []byte("<!--")):
			end = []byte("-->")
		case bytes.HasPrefix(b, []byte("<!")):
			// A doctype, possibly with an internal subset in brackets.
			if i := bytes.IndexByte(b, '['); i >= 0 && i < bytes.IndexByte(b, '>') {
				end = []byte("]>")
			} else {
				end = []byte(">")
			}
		case bytes.HasPrefix(b, []byte("<svg")) || bytes.HasPrefix(b, []byte("<svg:svg")):
			rest := b[len("<svg"):]
			if bytes.HasPrefix(b, []byte("<svg:svg")) {
				rest = b[len("<svg:svg"):]
			}
			return len(rest) > 0 && bytes.IndexByte([]byte(" \t\r\n>/"), rest[0]) >= 0
		default:
			return false
		}
		i := bytes.Index(b, end)
		if i < 0 {
			return false
		}
		b = b[i+len(end):]
	}
}
