#include "vips.h"

int pictor_header(const void *buf, size_t len, int *width, int *height, int *pages,
                  int *orientation, int *has_alpha, const char **loader) {
	// find_load_buffer names the loader's type; its nickname
	// ("jpegload_buffer") is the stable name Go checks against.
	const char *type_name = vips_foreign_find_load_buffer(buf, len);
	if (type_name == NULL)
		return -1;
	*loader = vips_nickname_find(g_type_from_name(type_name));
	if (*loader == NULL)
		return -1;
	// Header only: libvips loads lazily, so nothing is decoded here.
	VipsImage *img = vips_image_new_from_buffer(buf, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
	if (img == NULL)
		return -1;
	*width = vips_image_get_width(img);
	*height = vips_image_get_height(img);
	*pages = vips_image_get_n_pages(img);
	*orientation = vips_image_get_orientation(img);
	*has_alpha = vips_image_hasalpha(img);
	g_object_unref(img);
	return 0;
}

int pictor_thumbnail(const void *buf, size_t len, VipsImage **out, int width, int height,
                     int attention_crop) {
	// size=force with dimensions the caller computed keeps the geometry in
	// Go; thumbnail still picks shrink-on-load and applies EXIF orientation.
	// fail_on=truncated turns a cut-off file into an error instead of a
	// half-grey image.
	if (attention_crop)
		return vips_thumbnail_buffer((void *) buf, len, out, width, "height", height,
			"crop", VIPS_INTERESTING_ATTENTION, "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
	return vips_thumbnail_buffer((void *) buf, len, out, width, "height", height,
		"size", VIPS_SIZE_FORCE, "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
}

int pictor_resize(VipsImage *in, VipsImage **out, double hscale, double vscale) {
	return vips_resize(in, out, hscale, "vscale", vscale, NULL);
}

int pictor_extract(VipsImage *in, VipsImage **out, int left, int top, int width, int height) {
	return vips_extract_area(in, out, left, top, width, height, NULL);
}

int pictor_rot90s(VipsImage *in, VipsImage **out, int angle) {
	VipsAngle a = VIPS_ANGLE_D0;
	switch (angle) {
	case 90: a = VIPS_ANGLE_D90; break;
	case 180: a = VIPS_ANGLE_D180; break;
	case 270: a = VIPS_ANGLE_D270; break;
	}
	return vips_rot(in, out, a, NULL);
}

int pictor_flip(VipsImage *in, VipsImage **out, int horizontal) {
	return vips_flip(in, out, horizontal ? VIPS_DIRECTION_HORIZONTAL : VIPS_DIRECTION_VERTICAL, NULL);
}

int pictor_blur(VipsImage *in, VipsImage **out, double sigma) {
	return vips_gaussblur(in, out, sigma, NULL);
}

int pictor_grayscale(VipsImage *in, VipsImage **out) {
	return vips_colourspace(in, out, VIPS_INTERPRETATION_B_W, NULL);
}

int pictor_flatten(VipsImage *in, VipsImage **out, double r, double g, double b) {
	VipsArrayDouble *bg = vips_array_double_newv(3, r, g, b);
	int rc = vips_flatten(in, out, "background", bg, NULL);
	vips_area_unref(VIPS_AREA(bg));
	return rc;
}

int pictor_has_alpha(VipsImage *in) {
	return vips_image_hasalpha(in);
}

// Formats, kept in step with the Go constants in vips.go.
enum { PICTOR_JPEG = 1, PICTOR_PNG, PICTOR_WEBP, PICTOR_AVIF, PICTOR_GIF };

int pictor_save(VipsImage *in, int format, int quality, int strip, int interlace,
                int lossless, int effort, void **buf, size_t *len) {
	switch (format) {
	case PICTOR_JPEG:
		return vips_jpegsave_buffer(in, buf, len, "Q", quality, "strip", strip,
			"interlace", interlace, "optimize_coding", TRUE, NULL);
	case PICTOR_PNG:
		return vips_pngsave_buffer(in, buf, len, "compression", 6, "strip", strip,
			"interlace", interlace, NULL);
	case PICTOR_WEBP:
		return vips_webpsave_buffer(in, buf, len, "Q", quality, "strip", strip,
			"lossless", lossless, "effort", 4, NULL);
	case PICTOR_AVIF:
		return vips_heifsave_buffer(in, buf, len, "Q", quality, "strip", strip,
			"lossless", lossless, "compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
			"effort", effort, NULL);
	case PICTOR_GIF:
		return vips_gifsave_buffer(in, buf, len, "strip", strip, NULL);
	}
	vips_error("pictor", "unknown output format %d", format);
	return -1;
}

void pictor_unref(VipsImage *in) {
	if (in != NULL)
		g_object_unref(in);
}

void pictor_kill(VipsImage *in) {
	vips_image_set_kill(in, TRUE);
}

// pictor_error returns and clears libvips' error text; the caller frees it.
char *pictor_error(void) {
	return vips_error_buffer_copy();
}
