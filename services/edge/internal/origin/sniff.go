package origin

import "bytes"

// Format is an image format recognised from its leading bytes.
type Format string

// Formats recognised by Sniff. Some are recognised only to be refused later
// (SVG, PDF, ...): they are images, so the answer is 422, not 502.
const (
	Unknown Format = ""
	JPEG    Format = "jpeg"
	PNG     Format = "png"
	GIF     Format = "gif"
	WebP    Format = "webp"
	AVIF    Format = "avif"
	HEIF    Format = "heif"
	TIFF    Format = "tiff"
	BMP     Format = "bmp"
	ICO     Format = "ico"
	JXL     Format = "jxl"
	SVG     Format = "svg"
	PDF     Format = "pdf"
)

// Sniff recognises an image by its magic bytes; Content-Type from the
// origin is not trusted (an HTML error page is often served as image/png).
func Sniff(b []byte) Format {
	switch {
	case len(b) < 4:
		return Unknown
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return GIF
	case len(b) >= 12 && bytes.HasPrefix(b, []byte("RIFF")) && bytes.Equal(b[8:12], []byte("WEBP")):
		return WebP
	case len(b) >= 12 && bytes.Equal(b[4:8], []byte("ftyp")):
		switch string(b[8:12]) {
		case "avif", "avis":
			return AVIF
		case "heic", "heix", "hevc", "heim", "heis", "mif1", "msf1":
			return HEIF
		}
		return Unknown
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return TIFF
	case bytes.HasPrefix(b, []byte("BM")) && len(b) >= 14:
		return BMP
	case bytes.HasPrefix(b, []byte{0, 0, 1, 0}):
		return ICO
	case bytes.HasPrefix(b, []byte{0xFF, 0x0A}), bytes.HasPrefix(b, []byte("\x00\x00\x00\x0cJXL \r\n\x87\n")):
		return JXL
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return PDF
	case isSVG(b):
		return SVG
	}
	return Unknown
}

func isSVG(b []byte) bool {
	head := b
	if len(head) > 1024 {
		head = head[:1024]
	}
	head = bytes.TrimLeft(head, "\xEF\xBB\xBF \t\r\n")
	if !bytes.HasPrefix(head, []byte("<")) {
		return false
	}
	return bytes.Contains(bytes.ToLower(head), []byte("<svg"))
}
