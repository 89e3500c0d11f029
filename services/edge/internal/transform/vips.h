// Small C wrappers around libvips for what bimg does not expose: varargs
// operations Go cannot call, fail-on-truncation loading, normalising what
// loaders deliver, compositing with alpha, and saving with explicit options.
// Every function that can fail returns one of the codes below; it leaves its
// input untouched, and the caller owns the output reference.
#include <stdlib.h>
#include <vips/vips.h>

enum {
	PICTOR_OK = 0,
	// A libvips call failed. Its text, if it wrote any, is in libvips'
	// process-wide error buffer (pictor_error).
	PICTOR_EVIPS = -1,
	// pictor's own check refused the image's layout (bands, sample format,
	// coding, interpretation). Nothing is written to the error buffer: the
	// caller knows which call it made and can describe the image itself.
	PICTOR_ELAYOUT = -2,
};

// Colour arguments are straight (not premultiplied) sRGB with alpha, 0-255.
typedef struct {
	double r, g, b, a;
} PictorColour;

// What a source's header says, read without decoding pixels.
typedef struct {
	int width, height, pages, orientation, has_icc;
	// The layout as the loader delivers it, for the log. The strings are
	// libvips' static enum nicknames.
	int bands;
	const char *format, *interpretation, *coding;
	// supported: pictor_normalise can bring the pixels to 8-bit sRGB or
	// grey with at most one alpha band; has_alpha: the result has one.
	int supported, has_alpha;
} PictorHeader;

// pictor_find_loader names the loader libvips would open buf with (its
// nickname, such as "jpegload_buffer") without running it.
int pictor_find_loader(const void *buf, size_t len, const char **loader);
// pictor_header reads page (0-based; 0 for single-page formats) of buf's
// header without decoding pixels.
int pictor_header(const void *buf, size_t len, int page, PictorHeader *h);
// pictor_load decodes page of buf at width×height and normalises it: on
// success *out is 8-bit sRGB or grey with at most one alpha band.
int pictor_load(const void *buf, size_t len, VipsImage **out, int width, int height,
                int to_srgb, int page);
// pictor_load_as_is decodes buf at its own size exactly as the loader
// delivers it: bands, sample format and interpretation untouched. The
// engine never serves such an image (pictor_load normalises); tests use it
// to hand the operations below layouts normalisation would remove.
int pictor_load_as_is(const void *buf, size_t len, VipsImage **out);
int pictor_normalise(VipsImage *in, VipsImage **out);
int pictor_copy_memory(VipsImage *in, VipsImage **out);
int pictor_resize(VipsImage *in, VipsImage **out, double hscale, double vscale);
int pictor_extract(VipsImage *in, VipsImage **out, int left, int top, int width, int height);
int pictor_smartcrop(VipsImage *in, VipsImage **out, int width, int height);
int pictor_embed(VipsImage *in, VipsImage **out, int left, int top, int width, int height,
                 PictorColour fill);
int pictor_rotate(VipsImage *in, VipsImage **out, double angle, PictorColour fill);
int pictor_flip(VipsImage *in, VipsImage **out, int horizontal);
int pictor_blur(VipsImage *in, VipsImage **out, double sigma);
int pictor_sharpen(VipsImage *in, VipsImage **out, double sigma, double x1, double y2,
                   double y3, double m1, double m2);
int pictor_unsharp(VipsImage *in, VipsImage **out, int radius, double sigma, double amount,
                   double threshold);
int pictor_contrast(VipsImage *in, VipsImage **out, double lower, double upper);
int pictor_grayscale(VipsImage *in, VipsImage **out);
int pictor_find_trim(VipsImage *in, double threshold, int *left, int *top, int *width,
                     int *height);
int pictor_frame(VipsImage *in, VipsImage **out, int border, PictorColour colour, double rx,
                 double ry);
int pictor_background(VipsImage *in, VipsImage **out, PictorColour colour);
int pictor_opacity(VipsImage *in, VipsImage **out, double factor);
int pictor_strip(VipsImage *in, VipsImage **out, int keep_icc);
int pictor_save(VipsImage *in, int format, int quality, int strip, int interlace,
                int lossless, int effort, void **buf, size_t *len);
int pictor_has_alpha(VipsImage *in);
// pictor_text renders Pango markup in font ("Family Style Size") at 72 dpi,
// wrapped at width pixels when width > 0, lines aligned by align (0 left,
// 1 centre, 2 right) and spacing pixels apart when spacing > 0, as an 8-bit
// sRGB image with alpha: fg where the glyphs are (their coverage scaling
// its alpha) over bg (alpha 0 for none), with padding (top, right, bottom,
// left) around the ink. fontfile, unless NULL, is a font file fontconfig
// learns before the font is looked up (a tenant's, named by package fonts).
int pictor_text(const char *markup, const char *font, const char *fontfile, int width, int align, int spacing,
                PictorColour fg, PictorColour bg, const int *padding, VipsImage **out);
// pictor_perspective maps in through the 3×3 matrix m (row-major), which
// takes an output pixel (u, v, 1) to its source point in homogeneous
// coordinates; the output has in's size, transparent where no source
// pixel lands.
int pictor_perspective(VipsImage *in, VipsImage **out, const double *m);
// pictor_arc bends in round a circle centred at (cx, cy) of a width×height
// output: its width along degrees of arc, its height from r_in to r_out,
// the middle at the top (up) or at the bottom; transparent elsewhere.
int pictor_arc(VipsImage *in, VipsImage **out, int width, int height, double cx, double cy,
               int up, double r_in, double r_out, double degrees);
// pictor_solid makes a width×height image of one colour, 8-bit sRGB with
// alpha.
int pictor_solid(int width, int height, PictorColour colour, VipsImage **out);
// pictor_composite draws layer over base with its top-left corner at
// (x, y), blended by mode (0 over, 1 multiply, 2 cutter: the layer's shape
// is cut out of the base, 3 cutout: only the base under the layer stays).
// Both are in the pipeline layout; the result is 8-bit sRGB with alpha, the
// base's size.
int pictor_composite(VipsImage *base, VipsImage *layer, VipsImage **out, int mode, int x, int y);
// pictor_shadow puts a black shadow of in's alpha (Gaussian blur sigma,
// opacity 0–1, moved by dx, dy) under in; the result is 8-bit sRGB with
// alpha, in's size.
// pictor_grey_thumb writes in, scaled to at most max_side pixels a side,
// as 8-bit grey pixels into a new buffer (*buf, *w × *h; g_free it).
int pictor_grey_thumb(VipsImage *in, int max_side, void **buf, int *w, int *h);
int pictor_shadow(VipsImage *in, VipsImage **out, double sigma, double opacity, int dx, int dy);
// pictor_gradient lays a linear gradient over in: from at the start of
// the direction (dx, dy, a unit vector in image coordinates), to from stop
// (0–1 of the gradient's length) on; 8-bit sRGB with alpha out.
int pictor_gradient(VipsImage *in, VipsImage **out, double dx, double dy, double stop,
                    PictorColour from, PictorColour to);
// pictor_live_objects counts the libvips objects (images, operations,
// sources) alive in the process; tests compare it before and after a run
// to catch a reference the code above forgets to drop.
int pictor_live_objects(void);
void pictor_unref(VipsImage *in);
void pictor_kill(VipsImage *in);
char *pictor_error(void);
void pictor_route_logs(void);
void pictor_vector_off(void);
int pictor_vector_enabled(void);
