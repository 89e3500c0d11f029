#include <math.h>
#include "vips.h"
#include "_cgo_export.h"

// Temporaries live in a local array attached to a context object, so one
// unref on every exit path releases them; the result is referenced first.
// The static helpers below that take a ctx hand back images the ctx owns:
// callers keep those in plain variables, never in their own local array,
// or the image would be released twice.
static VipsObject *new_context(void) {
	return VIPS_OBJECT(vips_image_new());
}

static int finish(VipsObject *ctx, VipsImage *result, VipsImage **out) {
	g_object_ref(result);
	*out = result;
	g_object_unref(ctx);
	return 0;
}

static int fail(VipsObject *ctx) {
	g_object_unref(ctx);
	return -1;
}

static int colour_bands(VipsImage *in) {
	return vips_image_hasalpha(in) ? in->Bands - 1 : in->Bands;
}

// The most values a colour laid out like an image's bands can have: three
// colour bands and alpha.
#define MAX_INK 4

// pipeline_layout says whether in is what pictor_normalise produces, the
// only layout the operations that paint or convert colour are written for:
// 8-bit sRGB or grey, with at most one alpha band. They check it on entry
// and refuse anything else, so a gap in normalisation is a refusal, never
// an array overrun or a band mismatch.
static int pipeline_layout(VipsImage *in) {
	if (in->Coding != VIPS_CODING_NONE || in->BandFmt != VIPS_FORMAT_UCHAR)
		return 0;
	switch (in->Type) {
	case VIPS_INTERPRETATION_sRGB:
		return in->Bands == 3 || in->Bands == 4;
	case VIPS_INTERPRETATION_B_W:
		return in->Bands == 1 || in->Bands == 2;
	default:
		return 0;
	}
}

// fit_colour readies in (in the pipeline layout) for an operation that
// paints colour c: a grey image becomes sRGB when c is not grey, an alpha
// band is added when want_alpha, and bg (MAX_INK long) receives c laid out
// to match the bands of the result: at most three colours and alpha. When
// premultiplied, the colour bands of bg are scaled by alpha, for
// operations that run on premultiplied pixels.
static int fit_colour(VipsObject *ctx, VipsImage *in, PictorColour c, int want_alpha,
                      int premultiplied, VipsImage **out, double *bg, int *n) {
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 2);
	VipsImage *x = in;
	if (colour_bands(x) < 3 && !(c.r == c.g && c.g == c.b)) {
		if (vips_colourspace(x, &t[0], VIPS_INTERPRETATION_sRGB, NULL))
			return -1;
		x = t[0];
	}
	if (want_alpha && !vips_image_hasalpha(x)) {
		if (vips_bandjoin_const1(x, &t[1], 255, NULL))
			return -1;
		x = t[1];
	}
	double scale = premultiplied && vips_image_hasalpha(x) ? c.a / 255.0 : 1.0;
	int cb = colour_bands(x), i = 0;
	if (cb >= 3) {
		bg[i++] = c.r * scale;
		bg[i++] = c.g * scale;
		bg[i++] = c.b * scale;
	} else {
		bg[i++] = c.r * scale;
	}
	if (vips_image_hasalpha(x))
		bg[i++] = c.a;
	*n = i;
	*out = x;
	return 0;
}

// split separates colour bands from alpha; *alpha is NULL without alpha.
static int split(VipsObject *ctx, VipsImage *in, VipsImage **colour, VipsImage **alpha) {
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 2);
	if (!vips_image_hasalpha(in)) {
		*colour = in;
		*alpha = NULL;
		return 0;
	}
	if (vips_extract_band(in, &t[0], 0, "n", in->Bands - 1, NULL) ||
	    vips_extract_band(in, &t[1], in->Bands - 1, NULL))
		return -1;
	*colour = t[0];
	*alpha = t[1];
	return 0;
}

// rejoin puts an 8-bit result back together with its alpha and the
// interpretation the rest of the pipeline expects.
static int rejoin(VipsObject *ctx, VipsImage *colour, VipsImage *alpha, VipsImage **out) {
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 3);
	VipsImage *x = colour;
	if (x->BandFmt != VIPS_FORMAT_UCHAR) {
		if (vips_cast(x, &t[0], VIPS_FORMAT_UCHAR, NULL))
			return -1;
		x = t[0];
	}
	if (alpha != NULL) {
		if (vips_bandjoin2(x, alpha, &t[1], NULL))
			return -1;
		x = t[1];
	}
	VipsInterpretation it = colour->Bands >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W;
	if (vips_copy(x, &t[2], "interpretation", it, NULL))
		return -1;
	*out = t[2];
	return 0;
}

int pictor_find_loader(const void *buf, size_t len, const char **loader) {
	// find_load_buffer names the loader's type; its nickname
	// ("jpegload_buffer") is the stable name Go checks against its
	// allow-list before any decoder runs.
	*loader = NULL;
	const char *type_name = vips_foreign_find_load_buffer(buf, len);
	if (type_name == NULL) {
		// Some formats (PPM, FITS, CSV, the .v native format) have only
		// source loaders. Recognising them lets the caller refuse them
		// by name instead of calling them corrupt.
		VipsSource *source = vips_source_new_from_memory(buf, len);
		if (source == NULL)
			return PICTOR_EVIPS;
		type_name = vips_foreign_find_load_source(source);
		g_object_unref(source);
	}
	if (type_name == NULL)
		return PICTOR_EVIPS;
	*loader = vips_nickname_find(g_type_from_name(type_name));
	return *loader == NULL ? PICTOR_EVIPS : PICTOR_OK;
}

// source_layout reads how in's bands divide into colour and alpha, for the
// layouts pictor_normalise converts: 8- or 16-bit grey, RGB or CMYK with
// any number of further bands, the last of which is alpha when libvips says
// the image has one. Anything else is refused: float, signed and 32-bit
// samples, Lab, coded and multiband images, too few bands for the
// interpretation. No web format carries those; TIFF can carry anything.
static int source_layout(VipsImage *in, int *colour, int *alpha) {
	if (in->Coding != VIPS_CODING_NONE ||
	    (in->BandFmt != VIPS_FORMAT_UCHAR && in->BandFmt != VIPS_FORMAT_USHORT))
		return -1;
	switch (in->Type) {
	case VIPS_INTERPRETATION_B_W:
	case VIPS_INTERPRETATION_GREY16:
		*colour = 1;
		break;
	case VIPS_INTERPRETATION_sRGB:
	case VIPS_INTERPRETATION_RGB:
	case VIPS_INTERPRETATION_RGB16:
		*colour = 3;
		break;
	case VIPS_INTERPRETATION_CMYK:
		*colour = 4;
		break;
	default:
		return -1;
	}
	if (in->Bands < *colour)
		return -1;
	*alpha = vips_image_hasalpha(in);
	return 0;
}

// page_options is the loader option string for page (0 = the first, which
// needs no option: single-page loaders have none).
static void page_options(char *dst, size_t n, const char *base, int page) {
	if (page > 0)
		g_snprintf(dst, n, "%s%spage=%d", base, *base ? "," : "", page);
	else
		g_snprintf(dst, n, "%s", base);
}

int pictor_header(const void *buf, size_t len, int page, PictorHeader *h) {
	// Header only: libvips loads lazily, so nothing is decoded here.
	char options[64];
	page_options(options, sizeof options, "", page);
	VipsImage *img = vips_image_new_from_buffer(buf, len, options, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
	if (img == NULL)
		return PICTOR_EVIPS;
	h->width = vips_image_get_width(img);
	h->height = vips_image_get_height(img);
	h->pages = vips_image_get_n_pages(img);
	h->orientation = vips_image_get_orientation(img);
	h->has_icc = vips_image_get_typeof(img, VIPS_META_ICC_NAME) != 0;
	h->bands = img->Bands;
	h->format = vips_enum_nick(VIPS_TYPE_BAND_FORMAT, img->BandFmt);
	h->interpretation = vips_enum_nick(VIPS_TYPE_INTERPRETATION, img->Type);
	h->coding = vips_enum_nick(VIPS_TYPE_CODING, img->Coding);
	// The same rule pictor_normalise applies after loading, so the output
	// format chosen from has_alpha matches the pixels.
	int colour, alpha;
	h->supported = source_layout(img, &colour, &alpha) == 0;
	h->has_alpha = h->supported && alpha;
	g_object_unref(img);
	return PICTOR_OK;
}

int pictor_load(const void *buf, size_t len, VipsImage **out, int width, int height,
                int to_srgb, int page) {
	// size=force with dimensions the caller computed keeps the geometry in
	// Go; thumbnail still picks shrink-on-load, applies EXIF orientation
	// and premultiplies alpha while it shrinks. fail_on=truncated turns a
	// cut-off file into an error instead of a half-grey image; in 8.14 it
	// reaches the loader only through option_string (thumbnail's own
	// fail_on property is not passed on). to_srgb converts through the
	// embedded ICC profile (the caller asks only when there is one: libvips
	// would otherwise assume a profile for untagged pixels and shift their
	// colours). Normalising here, in the one call that loads, means no
	// load path can hand the operations an image they were not written for.
	VipsImage *img;
	int rc;
	char options[64];
	page_options(options, sizeof options, "fail_on=truncated", page);
	if (!to_srgb)
		rc = vips_thumbnail_buffer((void *) buf, len, &img, width, "height", height,
			"size", VIPS_SIZE_FORCE, "option_string", options, NULL);
	else
		rc = vips_thumbnail_buffer((void *) buf, len, &img, width, "height", height,
			"size", VIPS_SIZE_FORCE, "option_string", options,
			"export_profile", "srgb", NULL);
	if (rc)
		return PICTOR_EVIPS;
	rc = pictor_normalise(img, out);
	g_object_unref(img);
	return rc;
}

int pictor_load_as_is(const void *buf, size_t len, VipsImage **out) {
	*out = vips_image_new_from_buffer(buf, len, "", NULL);
	return *out == NULL ? PICTOR_EVIPS : PICTOR_OK;
}

int pictor_normalise(VipsImage *in, VipsImage **out) {
	// Every later operation works on 8-bit sRGB or 8-bit grey with at most
	// one alpha band; sources are brought there once, here. Bands past the
	// colour ones are dropped, except the last when it is alpha.
	int cb, alpha;
	if (source_layout(in, &cb, &alpha))
		return PICTOR_ELAYOUT;
	VipsInterpretation target = cb == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
	int target_bands = (cb == 1 ? 1 : 3) + alpha;
	if (in->BandFmt == VIPS_FORMAT_UCHAR && in->Type == target && in->Bands == target_bands) {
		g_object_ref(in);
		*out = in;
		return PICTOR_OK;
	}
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 8);
	VipsImage *colour = in, *a = NULL;
	if (in->Bands > cb) {
		if (vips_extract_band(in, &t[0], 0, "n", cb, NULL))
			return fail(ctx);
		colour = t[0];
	}
	if (alpha) {
		if (vips_extract_band(in, &t[1], in->Bands - 1, NULL))
			return fail(ctx);
		a = t[1];
	}
	// Alpha is kept apart from the colour conversion, which would pass it
	// through with a plain cast: 16-bit alpha would clip to opaque.
	if (colour->BandFmt == VIPS_FORMAT_USHORT && cb != 4) {
		// Tagged 16-bit, vips_colourspace scales the samples to 8 bits
		// rather than clipping them.
		if (vips_copy(colour, &t[2], "interpretation",
		        cb == 1 ? VIPS_INTERPRETATION_GREY16 : VIPS_INTERPRETATION_RGB16, NULL))
			return fail(ctx);
		colour = t[2];
	}
	if (colour->Type != target) {
		if (vips_colourspace(colour, &t[3], target, NULL))
			return fail(ctx);
		colour = t[3];
	}
	if (colour->BandFmt != VIPS_FORMAT_UCHAR) {
		if (vips_cast(colour, &t[4], VIPS_FORMAT_UCHAR, NULL))
			return fail(ctx);
		colour = t[4];
	}
	VipsImage *x = colour;
	if (a != NULL) {
		if (a->BandFmt != VIPS_FORMAT_UCHAR) {
			if (vips_cast(a, &t[5], VIPS_FORMAT_UCHAR, "shift", TRUE, NULL))
				return fail(ctx);
			a = t[5];
		}
		if (vips_bandjoin2(colour, a, &t[6], NULL))
			return fail(ctx);
		x = t[6];
	}
	if (vips_copy(x, &t[7], "interpretation", target, NULL))
		return fail(ctx);
	return finish(ctx, t[7], out);
}

int pictor_copy_memory(VipsImage *in, VipsImage **out) {
	VipsImage *m = vips_image_copy_memory(in);
	if (m == NULL)
		return -1;
	*out = m;
	return 0;
}

// with_premultiplied runs op on premultiplied pixels when in has alpha, so
// transparent pixels do not bleed their (meaningless) colour into the
// neighbours an interpolation or blur mixes them with.
typedef int (*pixel_op)(VipsImage *in, VipsImage **out, void *arg);

static int with_premultiplied(VipsImage *in, VipsImage **out, pixel_op op, void *arg) {
	if (!vips_image_hasalpha(in))
		return op(in, out, arg);
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 4);
	if (vips_premultiply(in, &t[0], NULL) ||
	    op(t[0], &t[1], arg) ||
	    vips_unpremultiply(t[1], &t[2], NULL) ||
	    vips_cast(t[2], &t[3], in->BandFmt, NULL))
		return fail(ctx);
	return finish(ctx, t[3], out);
}

typedef struct {
	double h, v;
} scale_arg;

static int resize_op(VipsImage *in, VipsImage **out, void *arg) {
	scale_arg *s = arg;
	return vips_resize(in, out, s->h, "vscale", s->v, NULL);
}

int pictor_resize(VipsImage *in, VipsImage **out, double hscale, double vscale) {
	scale_arg s = {hscale, vscale};
	return with_premultiplied(in, out, resize_op, &s);
}

int pictor_extract(VipsImage *in, VipsImage **out, int left, int top, int width, int height) {
	return vips_extract_area(in, out, left, top, width, height, NULL);
}

int pictor_smartcrop(VipsImage *in, VipsImage **out, int width, int height) {
	return vips_smartcrop(in, out, width, height, "interesting", VIPS_INTERESTING_ATTENTION, NULL);
}

int pictor_embed(VipsImage *in, VipsImage **out, int left, int top, int width, int height,
                 PictorColour fill) {
	if (!pipeline_layout(in))
		return PICTOR_ELAYOUT;
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 1);
	VipsImage *x;
	double bg[MAX_INK];
	int n;
	if (fit_colour(ctx, in, fill, fill.a < 255, 0, &x, bg, &n))
		return fail(ctx);
	VipsArrayDouble *bga = vips_array_double_new(bg, n);
	int rc = vips_embed(x, &t[0], left, top, width, height,
		"extend", VIPS_EXTEND_BACKGROUND, "background", bga, NULL);
	vips_area_unref(VIPS_AREA(bga));
	if (rc)
		return fail(ctx);
	return finish(ctx, t[0], out);
}

typedef struct {
	double angle;
	VipsArrayDouble *bg;
} rotate_arg;

static int rotate_op(VipsImage *in, VipsImage **out, void *arg) {
	// Turn about the image's centre onto a canvas the size of the rotated
	// bounding box, centred in it. vips_rotate turns about the centre of
	// the top-left pixel instead, which leaves the result half a pixel off
	// centre: visible as lopsided edges on small images. The offsets
	// below are in libvips' convention, where integer coordinates are
	// pixel centres.
	rotate_arg *r = arg;
	double rad = r->angle * G_PI / 180, c = cos(rad), s = sin(rad);
	double w = in->Xsize, h = in->Ysize;
	int ow = VIPS_MAX(1, (int) VIPS_RINT(fabs(w * c) + fabs(h * s)));
	int oh = VIPS_MAX(1, (int) VIPS_RINT(fabs(w * s) + fabs(h * c)));
	VipsArrayInt *area = vips_array_int_newv(4, 0, 0, ow, oh);
	int rc = vips_affine(in, out, c, -s, s, c,
		"idx", -(w - 1) / 2, "idy", -(h - 1) / 2,
		"odx", (ow - 1) / 2.0, "ody", (oh - 1) / 2.0,
		"oarea", area, "background", r->bg, NULL);
	vips_area_unref(VIPS_AREA(area));
	return rc;
}

int pictor_rotate(VipsImage *in, VipsImage **out, double angle, PictorColour fill) {
	// angle is clockwise degrees in [0, 360).
	if (angle == 0 || angle == 90 || angle == 180 || angle == 270) {
		VipsAngle a = angle == 90 ? VIPS_ANGLE_D90 : angle == 180 ? VIPS_ANGLE_D180 :
			angle == 270 ? VIPS_ANGLE_D270 : VIPS_ANGLE_D0;
		return vips_rot(in, out, a, NULL);
	}
	if (!pipeline_layout(in))
		return PICTOR_ELAYOUT;
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 1);
	VipsImage *x;
	double bg[MAX_INK];
	int n;
	// The corners are painted while the pixels are premultiplied, so the
	// fill colour is premultiplied too.
	if (fit_colour(ctx, in, fill, fill.a < 255, 1, &x, bg, &n))
		return fail(ctx);
	rotate_arg r = {angle, vips_array_double_new(bg, n)};
	int rc = with_premultiplied(x, &t[0], rotate_op, &r);
	vips_area_unref(VIPS_AREA(r.bg));
	if (rc)
		return fail(ctx);
	return finish(ctx, t[0], out);
}

int pictor_flip(VipsImage *in, VipsImage **out, int horizontal) {
	return vips_flip(in, out, horizontal ? VIPS_DIRECTION_HORIZONTAL : VIPS_DIRECTION_VERTICAL, NULL);
}

static int blur_op(VipsImage *in, VipsImage **out, void *arg) {
	return vips_gaussblur(in, out, *(double *) arg, NULL);
}

int pictor_blur(VipsImage *in, VipsImage **out, double sigma) {
	return with_premultiplied(in, out, blur_op, &sigma);
}

// colour_premultiplied runs a filter on the colour bands only, weighted by
// alpha, and leaves alpha itself alone: sharpening compares a pixel with
// its neighbours, and the colour a fully transparent neighbour happens to
// carry is not part of the picture. op gets and returns 8-bit colour bands.
static int colour_premultiplied(VipsImage *in, VipsImage **out, pixel_op op, void *arg) {
	if (!vips_image_hasalpha(in))
		return op(in, out, arg);
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 7);
	VipsImage *colour, *alpha, *result;
	if (split(ctx, in, &colour, &alpha) ||
	    vips_multiply(colour, alpha, &t[0], NULL) ||
	    vips_linear1(t[0], &t[1], 1.0 / 255, 0, NULL) ||
	    vips_cast(t[1], &t[2], VIPS_FORMAT_UCHAR, NULL) ||
	    vips_copy(t[2], &t[3], "interpretation", colour->Type, NULL) ||
	    op(t[3], &t[4], arg) ||
	    vips_linear1(t[4], &t[5], 255, 0, NULL) ||
	    // x / 0 is 0 in libvips: fully transparent pixels come out black.
	    vips_divide(t[5], alpha, &t[6], NULL) ||
	    rejoin(ctx, t[6], alpha, &result))
		return fail(ctx);
	return finish(ctx, result, out);
}

static int sharpen_op(VipsImage *in, VipsImage **out, void *arg) {
	double *p = arg;
	// vips_sharpen works on the L of LabS and hands back LabS-derived
	// formats; normalise brings the result back to 8-bit sRGB/grey.
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 2);
	if (vips_sharpen(in, &t[0], "sigma", p[0], "x1", p[1], "y2", p[2], "y3", p[3],
	        "m1", p[4], "m2", p[5], NULL) ||
	    pictor_normalise(t[0], &t[1]))
		return fail(ctx);
	return finish(ctx, t[1], out);
}

int pictor_sharpen(VipsImage *in, VipsImage **out, double sigma, double x1, double y2,
                   double y3, double m1, double m2) {
	if (!pipeline_layout(in))
		return PICTOR_ELAYOUT;
	double p[6] = {sigma, x1, y2, y3, m1, m2};
	return colour_premultiplied(in, out, sharpen_op, p);
}

typedef struct {
	int radius;
	double sigma, amount, threshold;
} unsharp_arg;

static int unsharp_op(VipsImage *in, VipsImage **out, void *arg) {
	// ImageMagick's -unsharp RADIUSxSIGMA+AMOUNT+THRESHOLD, per colour band:
	// out = in + amount × (in − gauss(in)) where |in − gauss(in)| exceeds
	// threshold × 255, else in. radius bounds the kernel (0: as wide as the
	// Gaussian needs).
	unsharp_arg *u = arg;
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 12);
	VipsImage *mask, *result;
	if (vips_gaussmat(&t[0], u->sigma, 0.001, "separable", TRUE, "precision", VIPS_PRECISION_FLOAT, NULL))
		return fail(ctx);
	mask = t[0];
	if (u->radius > 0 && mask->Xsize > 2 * u->radius + 1) {
		int width = 2 * u->radius + 1;
		double avg;
		if (vips_extract_area(mask, &t[1], (mask->Xsize - width) / 2, 0, width, 1, NULL) ||
		    vips_avg(t[1], &avg, NULL) ||
		    vips_copy(t[1], &t[2], NULL))
			return fail(ctx);
		// A cut kernel must still sum to one.
		vips_image_set_double(t[2], "scale", avg * width);
		mask = t[2];
	}
	if (vips_convsep(in, &t[3], mask, "precision", VIPS_PRECISION_FLOAT, NULL) ||
	    vips_subtract(in, t[3], &t[4], NULL) ||
	    vips_abs(t[4], &t[5], NULL) ||
	    vips_relational_const1(t[5], &t[6], VIPS_OPERATION_RELATIONAL_MORE, u->threshold * 255, NULL) ||
	    vips_linear1(t[4], &t[7], u->amount, 0, NULL) ||
	    vips_add(in, t[7], &t[8], NULL) ||
	    vips_ifthenelse(t[6], t[8], in, &t[9], NULL) ||
	    rejoin(ctx, t[9], NULL, &result))
		return fail(ctx);
	return finish(ctx, result, out);
}

int pictor_unsharp(VipsImage *in, VipsImage **out, int radius, double sigma, double amount,
                   double threshold) {
	if (!pipeline_layout(in))
		return PICTOR_ELAYOUT;
	unsharp_arg u = {radius, sigma, amount, threshold};
	return colour_premultiplied(in, out, unsharp_op, &u);
}

int pictor_contrast(VipsImage *in, VipsImage **out, double lower, double upper) {
	if (!pipeline_layout(in))
		return PICTOR_ELAYOUT;
	// The same definition as sharp's normalise(): find the lower and upper
	// percentiles of lightness (L of Lab, or the grey band) and stretch that
	// range linearly to the full scale; hue and saturation are left alone.
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 12);
	VipsImage *colour, *alpha;
	int grey, lo, hi;
	double full;
	// Percentiles and the stretch both read the pixels: keep one decoded
	// copy rather than decoding a sequential source twice.
	if (pictor_copy_memory(in, &t[0]) ||
	    split(ctx, t[0], &colour, &alpha))
		return fail(ctx);
	grey = colour->Bands < 3;
	full = grey ? 255 : 100;
	VipsImage *light, *rest = NULL;
	if (grey) {
		light = colour;
	} else {
		if (vips_colourspace(colour, &t[1], VIPS_INTERPRETATION_LAB, NULL) ||
		    vips_extract_band(t[1], &t[2], 0, NULL) ||
		    vips_extract_band(t[1], &t[3], 1, "n", 2, NULL))
			return fail(ctx);
		light = t[2];
		rest = t[3];
	}
	if (vips_cast(light, &t[4], VIPS_FORMAT_UCHAR, NULL) ||
	    vips_percent(t[4], lower, &lo, NULL) ||
	    vips_percent(t[4], upper, &hi, NULL))
		return fail(ctx);
	if (hi - lo <= 1) {
		// A flat image has no range to stretch.
		g_object_unref(ctx);
		g_object_ref(in);
		*out = in;
		return 0;
	}
	double f = full / (hi - lo);
	if (vips_linear1(light, &t[5], f, -lo * f, NULL))
		return fail(ctx);
	VipsImage *result = t[5];
	if (!grey) {
		if (vips_bandjoin2(t[5], rest, &t[6], NULL) ||
		    vips_copy(t[6], &t[7], "interpretation", VIPS_INTERPRETATION_LAB, NULL) ||
		    vips_colourspace(t[7], &t[8], VIPS_INTERPRETATION_sRGB, NULL))
			return fail(ctx);
		result = t[8];
	}
	VipsImage *joined;
	if (rejoin(ctx, result, alpha, &joined))
		return fail(ctx);
	return finish(ctx, joined, out);
}

int pictor_grayscale(VipsImage *in, VipsImage **out) {
	if (!pipeline_layout(in))
		return PICTOR_ELAYOUT;
	return vips_colourspace(in, out, VIPS_INTERPRETATION_B_W, NULL);
}

int pictor_find_trim(VipsImage *in, double threshold, int *left, int *top, int *width,
                     int *height) {
	if (!pipeline_layout(in))
		return PICTOR_ELAYOUT;
	// The background is the colour of the top-left pixel. When that pixel
	// is fully transparent, transparency is the background and the search
	// runs on alpha alone; otherwise on the colour, with any alpha
	// flattened onto the background colour.
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 2);
	double *corner;
	int n;
	if (vips_getpoint(in, &corner, &n, 0, 0, NULL))
		return fail(ctx);
	int alpha = vips_image_hasalpha(in);
	int cb = alpha ? n - 1 : n;
	VipsImage *search = in;
	VipsArrayDouble *bg;
	int rc = 0;
	if (alpha && corner[n - 1] == 0) {
		double zero = 0;
		rc = vips_extract_band(in, &t[0], n - 1, NULL);
		search = t[0];
		bg = vips_array_double_new(&zero, 1);
	} else {
		bg = vips_array_double_new(corner, cb);
		if (alpha) {
			rc = vips_flatten(in, &t[1], "background", bg, NULL);
			search = t[1];
		}
	}
	g_free(corner);
	if (rc == 0)
		rc = vips_find_trim(search, left, top, width, height, "threshold", threshold,
			"background", bg, NULL);
	vips_area_unref(VIPS_AREA(bg));
	g_object_unref(ctx);
	return rc;
}

// max0 is max(v, 0) as (v + |v|) / 2: libvips 8.14 has no maxpair.
static int max0(VipsObject *ctx, VipsImage *v, VipsImage **out) {
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 3);
	if (vips_abs(v, &t[0], NULL) || vips_add(v, t[0], &t[1], NULL) ||
	    vips_linear1(t[1], &t[2], 0.5, 0, NULL))
		return -1;
	*out = t[2];
	return 0;
}

// coverage turns an estimate of the signed distance (in pixels, positive
// inside) from a pixel centre to an edge into 0-255 coverage: 0.5 at the
// edge, saturating a pixel either side. The cast to uchar clips exactly,
// however large the distance, where float min/max arithmetic would lose the
// half pixel that matters to rounding.
static int coverage(VipsObject *ctx, VipsImage *distance, VipsImage **out) {
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 2);
	if (vips_linear1(distance, &t[0], 255, 127.5, NULL) ||
	    vips_cast(t[0], &t[1], VIPS_FORMAT_UCHAR, NULL))
		return -1;
	*out = t[1];
	return 0;
}

static int square(VipsObject *ctx, VipsImage *v, VipsImage **out) {
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 1);
	if (vips_multiply(v, v, &t[0], NULL))
		return -1;
	*out = t[0];
	return 0;
}

// rrect_mask makes a one-band float w×h coverage image: 1 inside the
// rectangle inset by `inset` pixels whose corners are quarter-ellipses of
// radii rx, ry (no rounding when either is 0), 0 outside, and the fraction
// covered along the edge, so curves are anti-aliased. It is built from
// per-pixel arithmetic (not drawn) so it stays lazy and streams with the
// rest of the pipeline.
static int rrect_mask(VipsObject *ctx, int w, int h, double inset, double rx, double ry,
                      VipsImage **out) {
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 30);
	double hw = w / 2.0, hh = h / 2.0;
	// |distance of the pixel centre from the centre lines|
	if (vips_xyz(&t[0], w, h, NULL) ||
	    vips_extract_band(t[0], &t[1], 0, NULL) ||
	    vips_linear1(t[1], &t[2], 1, 0.5 - hw, NULL) ||
	    vips_abs(t[2], &t[3], NULL) ||
	    vips_extract_band(t[0], &t[4], 1, NULL) ||
	    vips_linear1(t[4], &t[5], 1, 0.5 - hh, NULL) ||
	    vips_abs(t[5], &t[6], NULL))
		return -1;
	VipsImage *ax = t[3], *ay = t[6], *bx, *by, *dx, *dy, *edge;
	// Straight edges: the distance to the edge is hw − inset − ax.
	if (vips_linear1(ax, &t[7], -1, hw - inset, NULL) || coverage(ctx, t[7], &bx) ||
	    vips_linear1(ay, &t[9], -1, hh - inset, NULL) || coverage(ctx, t[9], &by) ||
	    vips_multiply(bx, by, &t[11], NULL) ||
	    vips_linear1(t[11], &t[12], 1.0 / (255 * 255), 0, NULL))
		return -1;
	VipsImage *m = t[12];
	if (rx > 0 && ry > 0) {
		// (ux, uy): position inside the corner ellipse, 1 on its curve.
		// The signed distance to the curve is (1 − |u|) / |∇|u||, a
		// first-order estimate that is exact on the axes; the tiny term
		// keeps the centre, where the gradient vanishes, from dividing by 0.
		if (vips_linear1(ax, &t[13], 1, -(hw - inset - rx), NULL) || max0(ctx, t[13], &dx) ||
		    vips_linear1(dx, &t[14], 1 / rx, 0, NULL) ||
		    vips_linear1(ay, &t[15], 1, -(hh - inset - ry), NULL) || max0(ctx, t[15], &dy) ||
		    vips_linear1(dy, &t[17], 1 / ry, 0, NULL))
			return -1;
		VipsImage *ux = t[14], *uy = t[17], *ux2, *uy2, *gx2, *gy2;
		if (square(ctx, ux, &ux2) || square(ctx, uy, &uy2) ||
		    vips_add(ux2, uy2, &t[18], NULL) || vips_pow_const1(t[18], &t[19], 0.5, NULL) ||
		    vips_linear1(ux, &t[20], 1 / rx, 0, NULL) || vips_linear1(uy, &t[21], 1 / ry, 0, NULL) ||
		    square(ctx, t[20], &gx2) || square(ctx, t[21], &gy2) ||
		    vips_add(gx2, gy2, &t[22], NULL) || vips_pow_const1(t[22], &t[23], 0.5, NULL) ||
		    vips_linear1(t[23], &t[24], 1, 1e-12, NULL) ||
		    vips_linear1(t[19], &t[25], -1, 1, NULL) ||
		    vips_divide(t[25], t[24], &t[26], NULL) ||
		    coverage(ctx, t[26], &edge) ||
		    vips_linear1(edge, &t[27], 1.0 / 255, 0, NULL) ||
		    vips_multiply(m, t[27], &t[29], NULL))
			return -1;
		m = t[29];
	}
	*out = m;
	return 0;
}

// solid makes a w×h image of one colour with the given band layout.
static int solid(VipsObject *ctx, int w, int h, const double *bg, int n, VipsImage **out) {
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 4);
	double zero[MAX_INK] = {0, 0, 0, 0};
	if (vips_black(&t[0], w, h, "bands", n, NULL) ||
	    vips_linear(t[0], &t[1], zero, (double *) bg, n, NULL) ||
	    vips_cast(t[1], &t[2], VIPS_FORMAT_UCHAR, NULL) ||
	    vips_copy(t[2], &t[3], "interpretation",
	        n >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W, NULL))
		return -1;
	*out = t[3];
	return 0;
}

// scale_alpha multiplies the alpha band of in by a coverage mask.
static int scale_alpha(VipsObject *ctx, VipsImage *in, VipsImage *mask, VipsImage **out) {
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 2);
	VipsImage *colour, *alpha;
	if (split(ctx, in, &colour, &alpha) ||
	    vips_multiply(alpha, mask, &t[0], NULL) ||
	    vips_cast(t[0], &t[1], VIPS_FORMAT_UCHAR, NULL) ||
	    rejoin(ctx, colour, t[1], out))
		return -1;
	return 0;
}

int pictor_frame(VipsImage *in, VipsImage **out, int border, PictorColour colour, double rx,
                 double ry) {
	if (!pipeline_layout(in))
		return PICTOR_ELAYOUT;
	// A border is painted inside the image (the size does not change) and
	// follows rounded corners when there are any; then everything outside
	// the rounded outline becomes transparent.
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 10);
	int w = in->Xsize, h = in->Ysize;
	VipsImage *x = in;
	if (border > 0) {
		VipsImage *inner;
		double bg[MAX_INK];
		int n;
		if (rrect_mask(ctx, w, h, border, rx > border ? rx - border : 0,
		        ry > border ? ry - border : 0, &inner) ||
		    fit_colour(ctx, x, colour, colour.a < 255, 0, &x, bg, &n))
			return fail(ctx);
		if (!vips_image_hasalpha(x)) {
			// Opaque: out = (in − c) × coverage + c.
			double one[MAX_INK] = {1, 1, 1, 1}, neg[MAX_INK];
			for (int i = 0; i < n; i++)
				neg[i] = -bg[i];
			if (vips_linear(x, &t[0], one, neg, n, NULL) ||
			    vips_multiply(t[0], inner, &t[1], NULL) ||
			    vips_linear(t[1], &t[2], one, bg, n, NULL) ||
			    rejoin(ctx, t[2], NULL, &x))
				return fail(ctx);
		} else {
			// With alpha: a ring of the border colour (its alpha cut by
			// 1 − coverage of the inner outline) painted over the image, so a
			// translucent border lets the picture show through.
			VipsImage *fill, *ring;
			if (colour_bands(x) < 3) {
				if (vips_colourspace(x, &t[4], VIPS_INTERPRETATION_sRGB, NULL) ||
				    fit_colour(ctx, t[4], colour, 1, 0, &x, bg, &n))
					return fail(ctx);
			}
			if (solid(ctx, w, h, bg, n, &fill) ||
			    vips_linear1(inner, &t[8], -1, 1, NULL) ||
			    scale_alpha(ctx, fill, t[8], &ring) ||
			    vips_composite2(x, ring, &t[5], VIPS_BLEND_MODE_OVER, NULL) ||
			    rejoin(ctx, t[5], NULL, &x))
				return fail(ctx);
		}
	}
	if (rx > 0 && ry > 0) {
		VipsImage *outer;
		if (rrect_mask(ctx, w, h, 0, rx, ry, &outer))
			return fail(ctx);
		if (!vips_image_hasalpha(x)) {
			if (vips_bandjoin_const1(x, &t[7], 255, NULL))
				return fail(ctx);
			x = t[7];
		}
		if (scale_alpha(ctx, x, outer, &x))
			return fail(ctx);
	}
	return finish(ctx, x, out);
}

int pictor_background(VipsImage *in, VipsImage **out, PictorColour colour) {
	// bg shows wherever the image is transparent: an opaque colour
	// flattens the image; a translucent one is composited under it.
	if (!pipeline_layout(in))
		return PICTOR_ELAYOUT;
	if (!vips_image_hasalpha(in)) {
		g_object_ref(in);
		*out = in;
		return 0;
	}
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 4);
	VipsImage *x;
	double bg[MAX_INK];
	int n;
	if (colour.a >= 255) {
		if (fit_colour(ctx, in, colour, 0, 0, &x, bg, &n))
			return fail(ctx);
		VipsArrayDouble *bga = vips_array_double_new(bg, n - 1);
		int rc = vips_flatten(x, &t[0], "background", bga, NULL);
		vips_area_unref(VIPS_AREA(bga));
		if (rc || rejoin(ctx, t[0], NULL, &x))
			return fail(ctx);
		return finish(ctx, x, out);
	}
	VipsImage *fill;
	x = in;
	if (colour_bands(x) < 3) {
		if (vips_colourspace(x, &t[2], VIPS_INTERPRETATION_sRGB, NULL))
			return fail(ctx);
		x = t[2];
	}
	if (fit_colour(ctx, x, colour, 1, 0, &x, bg, &n) ||
	    solid(ctx, in->Xsize, in->Ysize, bg, n, &fill) ||
	    vips_composite2(fill, x, &t[3], VIPS_BLEND_MODE_OVER, NULL) ||
	    rejoin(ctx, t[3], NULL, &x))
		return fail(ctx);
	return finish(ctx, x, out);
}

int pictor_opacity(VipsImage *in, VipsImage **out, double factor) {
	// Only the last band (alpha, added opaque when there is none) is
	// scaled, and it is picked by index: no per-band array, so any band
	// count is safe. (A fixed a[5]/b[5] indexed by Bands − 1 once wrote past
	// the stack array for a 6-band TIFF.)
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 6);
	VipsImage *x = in;
	if (!vips_image_hasalpha(x)) {
		if (vips_bandjoin_const1(x, &t[0], 255, NULL))
			return fail(ctx);
		x = t[0];
	}
	int last = x->Bands - 1;
	if (vips_extract_band(x, &t[1], 0, "n", last, NULL) ||
	    vips_extract_band(x, &t[2], last, NULL) ||
	    vips_linear1(t[2], &t[3], factor, 0, NULL) ||
	    vips_cast(t[3], &t[4], x->BandFmt, NULL) ||
	    vips_bandjoin2(t[1], t[4], &t[5], NULL))
		return fail(ctx);
	return finish(ctx, t[5], out);
}

// srgba brings an image in the pipeline layout to 8-bit sRGB with alpha,
// the layout compositing works in.
static int srgba(VipsObject *ctx, VipsImage *in, VipsImage **out) {
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 2);
	VipsImage *x = in;
	if (colour_bands(x) < 3) {
		if (vips_colourspace(x, &t[0], VIPS_INTERPRETATION_sRGB, NULL))
			return -1;
		x = t[0];
	}
	if (!vips_image_hasalpha(x)) {
		if (vips_bandjoin_const1(x, &t[1], 255, NULL))
			return -1;
		x = t[1];
	}
	*out = x;
	return 0;
}

int pictor_solid(int width, int height, PictorColour colour, VipsImage **out) {
	VipsObject *ctx = new_context();
	double ink[MAX_INK] = {colour.r, colour.g, colour.b, colour.a};
	VipsImage *x;
	if (solid(ctx, width, height, ink, 4, &x))
		return fail(ctx);
	return finish(ctx, x, out);
}

// text_op runs libvips' text operation with the options that are set:
// libvips treats 0 as a value, so unset ones are never passed.
static int text_op(const char *markup, const char *font, const char *fontfile, int width,
                   VipsAlign align, int spacing, VipsImage **out) {
	VipsOperation *op = vips_operation_new("text");
	if (!op)
		return -1;
	g_object_set(op, "text", markup, "font", font, "dpi", 72, "align", align, NULL);
	if (width > 0)
		g_object_set(op, "width", width, NULL);
	if (spacing > 0)
		g_object_set(op, "spacing", spacing, NULL);
	if (fontfile)
		g_object_set(op, "fontfile", fontfile, NULL);
	if (vips_cache_operation_buildp(&op)) {
		vips_object_unref_outputs(VIPS_OBJECT(op));
		g_object_unref(op);
		return -1;
	}
	g_object_get(op, "out", out, NULL);
	vips_object_unref_outputs(VIPS_OBJECT(op));
	g_object_unref(op);
	return 0;
}

int pictor_text(const char *markup, const char *font, const char *fontfile, int width, int align,
                int spacing, PictorColour fg, PictorColour bg, const int *padding, VipsImage **out) {
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 8);
	VipsAlign a = align == 1 ? VIPS_ALIGN_CENTRE : align == 2 ? VIPS_ALIGN_HIGH : VIPS_ALIGN_LOW;
	int rc = text_op(markup, font, fontfile, width, a, spacing, &t[0]);
	if (rc)
		return fail(ctx);
	// t[0] is the glyphs' coverage, one 8-bit band; the text colour's alpha
	// scales it.
	int top = padding[0], right = padding[1], bottom = padding[2], left = padding[3];
	int w = t[0]->Xsize + left + right, h = t[0]->Ysize + top + bottom;
	double ink[MAX_INK] = {fg.r, fg.g, fg.b, 255};
	VipsImage *colour, *glyphs, *text;
	if (vips_embed(t[0], &t[1], left, top, w, h, NULL) ||
	    vips_linear1(t[1], &t[2], fg.a / 255.0, 0, NULL) ||
	    vips_cast(t[2], &t[3], VIPS_FORMAT_UCHAR, NULL) ||
	    solid(ctx, w, h, ink, 3, &colour) ||
	    vips_bandjoin2(colour, t[3], &t[4], NULL) ||
	    vips_copy(t[4], &t[5], "interpretation", VIPS_INTERPRETATION_sRGB, NULL))
		return fail(ctx);
	glyphs = t[5];
	text = glyphs;
	if (bg.a > 0) {
		double back[MAX_INK] = {bg.r, bg.g, bg.b, bg.a};
		VipsImage *box;
		if (solid(ctx, w, h, back, 4, &box) ||
		    vips_composite2(box, glyphs, &t[6], VIPS_BLEND_MODE_OVER, NULL) ||
		    rejoin(ctx, t[6], NULL, &text))
			return fail(ctx);
	}
	return finish(ctx, text, out);
}

int pictor_composite(VipsImage *base, VipsImage *layer, VipsImage **out, int mode, int x, int y) {
	if (!pipeline_layout(base) || !pipeline_layout(layer))
		return PICTOR_ELAYOUT;
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 2);
	VipsImage *b, *l, *x2;
	VipsBlendMode m = VIPS_BLEND_MODE_OVER;
	switch (mode) {
	case 1:
		m = VIPS_BLEND_MODE_MULTIPLY;
		break;
	case 2:
		m = VIPS_BLEND_MODE_DEST_OUT;
		break;
	case 3:
		m = VIPS_BLEND_MODE_DEST_IN;
		break;
	}
	if (srgba(ctx, base, &b) || srgba(ctx, layer, &l))
		return fail(ctx);
	if (m == VIPS_BLEND_MODE_DEST_IN) {
		// Outside the layer nothing of the base stays: the layer is first
		// laid on a transparent canvas of the base's size.
		double none[MAX_INK] = {0, 0, 0, 0};
		VipsImage *clear;
		if (solid(ctx, b->Xsize, b->Ysize, none, 4, &clear) ||
		    vips_composite2(clear, l, &t[0], VIPS_BLEND_MODE_OVER, "x", x, "y", y, NULL) ||
		    rejoin(ctx, t[0], NULL, &l))
			return fail(ctx);
		x = y = 0;
	}
	if (vips_composite2(b, l, &t[1], m, "x", x, "y", y, NULL) ||
	    rejoin(ctx, t[1], NULL, &x2))
		return fail(ctx);
	return finish(ctx, x2, out);
}

int pictor_grey_thumb(VipsImage *in, int max_side, void **buf, int *w, int *h) {
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 4);
	double scale = (double) max_side / (in->Xsize > in->Ysize ? in->Xsize : in->Ysize);
	if (scale > 1)
		scale = 1;
	size_t len;
	if (vips_resize(in, &t[0], scale, NULL) ||
	    vips_colourspace(t[0], &t[1], VIPS_INTERPRETATION_B_W, NULL) ||
	    vips_extract_band(t[1], &t[2], 0, NULL) ||
	    vips_cast(t[2], &t[3], VIPS_FORMAT_UCHAR, NULL))
		return fail(ctx);
	*buf = vips_image_write_to_memory(t[3], &len);
	if (*buf == NULL)
		return fail(ctx);
	*w = t[3]->Xsize;
	*h = t[3]->Ysize;
	g_object_unref(ctx);
	return 0;
}

int pictor_shadow(VipsImage *in, VipsImage **out, double sigma, double opacity, int dx, int dy) {
	if (!pipeline_layout(in))
		return PICTOR_ELAYOUT;
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 8);
	VipsImage *x, *colour, *alpha, *black, *shadow;
	double ink[MAX_INK] = {0, 0, 0};
	if (srgba(ctx, in, &x) || split(ctx, x, &colour, &alpha))
		return fail(ctx);
	VipsImage *a = alpha;
	if (sigma > 0) {
		if (vips_gaussblur(a, &t[0], sigma, NULL))
			return fail(ctx);
		a = t[0];
	}
	int w = x->Xsize, h = x->Ysize;
	// The shadow's alpha, moved by (dx, dy) on a canvas of the image's size.
	if (vips_linear1(a, &t[1], opacity, 0, NULL) ||
	    vips_cast(t[1], &t[2], VIPS_FORMAT_UCHAR, NULL) ||
	    vips_embed(t[2], &t[3], dx, dy, w, h, "extend", VIPS_EXTEND_BLACK, NULL) ||
	    solid(ctx, w, h, ink, 3, &black) ||
	    vips_bandjoin2(black, t[3], &t[4], NULL) ||
	    vips_copy(t[4], &t[5], "interpretation", VIPS_INTERPRETATION_sRGB, NULL))
		return fail(ctx);
	shadow = t[5];
	if (vips_composite2(shadow, x, &t[6], VIPS_BLEND_MODE_OVER, NULL) ||
	    rejoin(ctx, t[6], NULL, &x))
		return fail(ctx);
	return finish(ctx, x, out);
}

int pictor_gradient(VipsImage *in, VipsImage **out, double dx, double dy, double stop,
                    PictorColour from, PictorColour to) {
	if (!pipeline_layout(in))
		return PICTOR_ELAYOUT;
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 11);
	VipsImage *x, *ramp, *grad;
	if (srgba(ctx, in, &x))
		return fail(ctx);
	int w = x->Xsize, h = x->Ysize;
	// As CSS lays a linear gradient: the line through the centre in the
	// direction, long enough that its ends' perpendiculars touch the
	// corners; t is a pixel's position along it, 0 to 1.
	double len = fabs(w * dx) + fabs(h * dy);
	if (len <= 0)
		len = 1;
	double a[2] = {dx / len, dy / len};
	double b[2] = {0.5 - (w / 2.0 * dx + h / 2.0 * dy) / len, 0};
	if (stop <= 0)
		stop = 1;
	// ramp = clip(t / stop) × 255: from where t is 0, to from t = stop on.
	if (vips_xyz(&t[0], w, h, NULL) ||
	    vips_cast(t[0], &t[1], VIPS_FORMAT_FLOAT, NULL) ||
	    vips_linear(t[1], &t[2], a, b, 2, NULL) ||
	    vips_bandmean(t[2], &t[3], NULL) ||
	    vips_linear1(t[3], &t[4], 2 * 255.0 / stop, 0, NULL) ||
	    vips_cast(t[4], &t[5], VIPS_FORMAT_UCHAR, NULL))
		return fail(ctx);
	ramp = t[5];
	// Colours are interpolated premultiplied, as CSS does, so fading to a
	// transparent colour fades out rather than darkening.
	double fa = from.a / 255.0, ta = to.a / 255.0;
	double k[MAX_INK] = {(to.r * ta - from.r * fa) / 255.0, (to.g * ta - from.g * fa) / 255.0,
	                     (to.b * ta - from.b * fa) / 255.0, (to.a - from.a) / 255.0};
	double c[MAX_INK] = {from.r * fa, from.g * fa, from.b * fa, from.a};
	if (vips_linear(ramp, &t[6], k, c, 4, NULL) ||
	    vips_unpremultiply(t[6], &t[10], NULL) ||
	    vips_cast(t[10], &t[7], VIPS_FORMAT_UCHAR, NULL) ||
	    vips_copy(t[7], &t[8], "interpretation", VIPS_INTERPRETATION_sRGB, NULL))
		return fail(ctx);
	grad = t[8];
	if (vips_composite2(x, grad, &t[9], VIPS_BLEND_MODE_OVER, NULL) ||
	    rejoin(ctx, t[9], NULL, &x))
		return fail(ctx);
	return finish(ctx, x, out);
}

int pictor_strip(VipsImage *in, VipsImage **out, int keep_icc) {
	// libvips 8.14 savers either strip everything or keep everything, so
	// the fields not wanted are removed from a copy and the copy is saved
	// without strip.
	if (vips_copy(in, out, NULL))
		return -1;
	gchar **fields = vips_image_get_fields(*out);
	for (int i = 0; fields[i] != NULL; i++) {
		if (keep_icc && strcmp(fields[i], VIPS_META_ICC_NAME) == 0)
			continue;
		vips_image_remove(*out, fields[i]);
	}
	g_strfreev(fields);
	return 0;
}

int pictor_has_alpha(VipsImage *in) {
	return vips_image_hasalpha(in);
}

// Formats, kept in step with the Go constants in vips.go.
enum { PICTOR_JPEG = 1, PICTOR_PNG, PICTOR_WEBP, PICTOR_AVIF, PICTOR_GIF };

// save_webp works around a leak in libvips 8.14's webpsave: when the
// evaluation fails (a kill, a truncated source found while reading the
// pixels) it returns without releasing its copy of the input, and with it
// the whole pipeline back to the loader: about 1.8 MB for each killed
// 3000-px transform, for the life of the process (fixed upstream by
// libvips PR #4107, 8.16). So the pixels are computed here first, into a
// new memory image, where a kill or a decode error fails without leaking;
// webpsave then reads that image, which has nothing upstream that can fail
// and which the watchdog cannot kill (it kills in, not m). What is left to
// webpsave is libwebp's encode, which a kill could not interrupt anyway:
// 8.14 encodes a frame only once all its rows are in. The cost is one more
// output-sized buffer while the frame is encoded.
static int save_webp(VipsImage *in, int quality, int strip, int lossless, void **buf,
                     size_t *len) {
	VipsImage *m = vips_image_new_memory();
	if (vips_image_write(in, m)) {
		g_object_unref(m);
		return PICTOR_EVIPS;
	}
	int rc = vips_webpsave_buffer(m, buf, len, "Q", quality, "strip", strip,
		"lossless", lossless, "effort", 4, NULL);
	g_object_unref(m);
	return rc ? PICTOR_EVIPS : PICTOR_OK;
}

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
		return save_webp(in, quality, strip, lossless, buf, len);
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

static void *count_object(void *object, void *a, void *b) {
	(*(int *) a)++;
	return NULL;
}

int pictor_live_objects(void) {
	int n = 0;
	vips_object_map(count_object, &n, NULL);
	return n;
}

// vips/vector.h is not part of vips/vips.h in 8.14.
void vips_vector_set_enabled(gboolean enabled);
gboolean vips_vector_isenabled(void);

int pictor_vector_enabled(void) {
	return vips_vector_isenabled();
}

void pictor_vector_off(void) {
	vips_vector_set_enabled(FALSE);
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

static void log_handler(const gchar *domain, GLogLevelFlags level, const gchar *message,
                        gpointer data) {
	pictorLog((char *) (domain ? domain : ""), (int) level, (char *) message);
}

// pictor_route_logs sends libvips' warnings (a truncated file, an odd
// header) to the Go logger instead of stderr, where every bad upload from
// the internet would otherwise print a line.
void pictor_route_logs(void) {
	g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO |
		G_LOG_LEVEL_DEBUG, log_handler, NULL);
}

// remap samples x (8-bit sRGB with alpha) at the coordinates index holds
// for each output pixel, bilinearly; coordinates outside x give
// transparent pixels. Where valid (0/255) is given and 0, the output is
// transparent too.
static int remap(VipsObject *ctx, VipsImage *x, VipsImage *index, VipsImage *valid, VipsImage **out) {
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 4);
	VipsImage *colour, *alpha;
	double none[MAX_INK] = {0, 0, 0, 0};
	VipsArrayDouble *bg = vips_array_double_new(none, x->Bands);
	vips_object_local(ctx, bg);
	if (vips_mapim(x, &t[0], index, "interpolate", vips_interpolate_bilinear_static(),
	        "background", bg, NULL) ||
	    vips_cast(t[0], &t[1], VIPS_FORMAT_UCHAR, NULL) ||
	    split(ctx, t[1], &colour, &alpha))
		return -1;
	if (valid != NULL) {
		if (vips_andimage(alpha, valid, &t[2], NULL))
			return -1;
		alpha = t[2];
	}
	return rejoin(ctx, colour, alpha, out);
}

int pictor_perspective(VipsImage *in, VipsImage **out, const double *m) {
	if (!pipeline_layout(in))
		return PICTOR_ELAYOUT;
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 9);
	VipsImage *x, *result;
	if (srgba(ctx, in, &x))
		return fail(ctx);
	VipsImage *matrix = vips_image_new_matrix_from_array(3, 3, m, 9);
	if (!matrix)
		return fail(ctx);
	vips_object_local(ctx, matrix);
	// Each output pixel (u, v, 1) through the matrix gives the source point
	// in homogeneous coordinates; w <= 0 is behind the picture's horizon.
	if (vips_xyz(&t[0], x->Xsize, x->Ysize, NULL) ||
	    vips_cast(t[0], &t[1], VIPS_FORMAT_FLOAT, NULL) ||
	    vips_bandjoin_const1(t[1], &t[2], 1.0, NULL) ||
	    vips_recomb(t[2], &t[3], matrix, NULL) ||
	    vips_extract_band(t[3], &t[4], 0, "n", 2, NULL) ||
	    vips_extract_band(t[3], &t[5], 2, NULL) ||
	    vips_divide(t[4], t[5], &t[6], NULL) ||
	    vips_relational_const1(t[5], &t[7], VIPS_OPERATION_RELATIONAL_MORE, 0, NULL) ||
	    remap(ctx, x, t[6], t[7], &result))
		return fail(ctx);
	return finish(ctx, result, out);
}

int pictor_arc(VipsImage *in, VipsImage **out, int width, int height, double cx, double cy,
               int up, double r_in, double r_out, double degrees) {
	if (!pipeline_layout(in))
		return PICTOR_ELAYOUT;
	VipsObject *ctx = new_context();
	VipsImage **t = (VipsImage **) vips_object_local_array(ctx, 16);
	VipsImage *x, *result;
	if (srgba(ctx, in, &x))
		return fail(ctx);
	double s = up ? 1 : -1, w = x->Xsize;
	// (dx, dy): the output pixel's centre from the circle's centre, dy
	// pointing away from the centre through the arc's middle.
	double a[2] = {1, -s}, b[2] = {0.5 - cx, s * (cy - 0.5)};
	double sum[2] = {1, 1};
	VipsImage *adder = vips_image_new_matrix_from_array(2, 1, sum, 2);
	if (!adder)
		return fail(ctx);
	vips_object_local(ctx, adder);
	if (vips_xyz(&t[0], width, height, NULL) ||
	    vips_cast(t[0], &t[1], VIPS_FORMAT_FLOAT, NULL) ||
	    vips_linear(t[1], &t[2], a, b, 2, NULL) ||
	    vips_multiply(t[2], t[2], &t[3], NULL) ||
	    vips_recomb(t[3], &t[4], adder, NULL) ||
	    vips_pow_const1(t[4], &t[5], 0.5, NULL) ||
	    vips_extract_band(t[2], &t[6], 0, NULL) ||
	    vips_extract_band(t[2], &t[7], 1, NULL) ||
	    vips_math2(t[6], t[7], &t[8], VIPS_OPERATION_MATH2_ATAN2, NULL))
		return fail(ctx);
	// libvips gives atan2 in degrees from 0 to 360: angles left of the
	// middle come back as 360 - a.
	if (vips_relational_const1(t[8], &t[9], VIPS_OPERATION_RELATIONAL_MORE, 180, NULL) ||
	    vips_linear1(t[8], &t[10], 1, -360, NULL) ||
	    vips_ifthenelse(t[9], t[10], t[8], &t[11], NULL) ||
	    // The angle runs along the image's width, the radius down its height:
	    // the top row on the outer circle when it bends up, the inner when
	    // it bends down.
	    vips_linear1(t[11], &t[12], w / degrees, 0.5 * w - 0.5, NULL) ||
	    vips_linear1(t[5], &t[13], -s, (up ? r_out : -r_in) - 0.5, NULL) ||
	    vips_bandjoin2(t[12], t[13], &t[14], NULL) ||
	    remap(ctx, x, t[14], NULL, &result))
		return fail(ctx);
	return finish(ctx, result, out);
}
