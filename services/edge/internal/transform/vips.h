// Small C wrappers around libvips for what bimg does not expose: varargs
// operations Go cannot call, fail-on-truncation loading, and saving with
// explicit options. Every function returns 0 on success and leaves its
// input untouched; the caller owns the output reference.
#include <stdlib.h>
#include <vips/vips.h>

int pictor_header(const void *buf, size_t len, int *width, int *height, int *pages,
                  int *orientation, int *has_alpha, const char **loader);
int pictor_thumbnail(const void *buf, size_t len, VipsImage **out, int width, int height,
                     int attention_crop);
int pictor_resize(VipsImage *in, VipsImage **out, double hscale, double vscale);
int pictor_extract(VipsImage *in, VipsImage **out, int left, int top, int width, int height);
int pictor_rot90s(VipsImage *in, VipsImage **out, int angle);
int pictor_flip(VipsImage *in, VipsImage **out, int horizontal);
int pictor_blur(VipsImage *in, VipsImage **out, double sigma);
int pictor_grayscale(VipsImage *in, VipsImage **out);
int pictor_flatten(VipsImage *in, VipsImage **out, double r, double g, double b);
int pictor_save(VipsImage *in, int format, int quality, int strip, int interlace,
                int lossless, int effort, void **buf, size_t *len);
int pictor_has_alpha(VipsImage *in);
void pictor_unref(VipsImage *in);
void pictor_kill(VipsImage *in);
char *pictor_error(void);
