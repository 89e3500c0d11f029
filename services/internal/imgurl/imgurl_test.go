package imgurl

import (
	"net/url"
	"strings"
	"testing"

	"pictor/services/internal/errkind"
)

var parseCases = []struct {
	name      string
	in        string
	canonical string
	kind      errkind.Kind // expected error kind; Internal means no error
	errHas    string
}{
	{name: "empty", in: "", canonical: ""},
	{name: "width", in: "w-300", canonical: "w-300"},
	{name: "reordered params share a form", in: "h-200,w-300", canonical: "w-300,h-200"},
	{name: "duplicate param last wins", in: "w-100,w-300", canonical: "w-300"},
	{name: "fraction width", in: "w-0.5", canonical: "w-0.5"},
	{name: "fraction without leading zero", in: "h-.25", canonical: "h-0.25"},
	{name: "chained steps", in: "w-400:rt-90:bl-5", canonical: "w-400:rt-90:bl-5"},
	{name: "empty steps dropped", in: "w-400::rt-90", canonical: "w-400:rt-90"},
	{name: "negative rotation", in: "rt-N90", canonical: "rt-N90"},
	{name: "rotation auto", in: "rt-auto", canonical: "rt-auto"},
	{name: "aspect ratio", in: "ar-4-3,w-400", canonical: "w-400,ar-4-3"},
	{name: "crop and mode", in: "cm-pad_resize,c-at_max,fo-top_left", canonical: "c-at_max,cm-pad_resize,fo-top_left"},
	{name: "jpeg normalised", in: "f-jpeg", canonical: "f-jpg"},
	{name: "quality", in: "q-55", canonical: "q-55"},
	{name: "dpr", in: "dpr-2.50", canonical: "dpr-2.5"},
	{name: "bg hex lower", in: "bg-ff0000", canonical: "bg-FF0000"},
	{name: "bg with opacity", in: "bg-FF000080", canonical: "bg-FF000080"},
	{name: "bg transparent opacity", in: "bg-FF000000", canonical: "bg-FF000000"},
	{name: "bg named lower-case css", in: "bg-lightgreen", canonical: "bg-90EE90"},
	{name: "bg named", in: "bg-white", canonical: "bg-FFFFFF"},
	{name: "border", in: "b-5_red", canonical: "b-5_FF0000"},
	{name: "radius max", in: "r-max", canonical: "r-max"},
	{name: "flip v_h normalised", in: "fl-v_h", canonical: "fl-h_v"},
	{name: "trim true", in: "t-true", canonical: "t-true"},
	{name: "trim threshold", in: "t-20", canonical: "t-20"},
	{name: "trim false", in: "t-true,t-false", canonical: "t-false"},
	{name: "trim after false", in: "t-false,t-5", canonical: "t-5"},
	{name: "default image slashes", in: "di-folder@@default.jpg", canonical: "di-folder@@default.jpg"},
	{name: "effects fixed order", in: "e-contrast,e-grayscale", canonical: "e-grayscale,e-contrast"},
	{name: "sharpen default", in: "e-sharpen", canonical: "e-sharpen"},
	{name: "sharpen value", in: "e-sharpen-10", canonical: "e-sharpen-10"},
	{name: "usm", in: "e-usm-2-2-0.8-0.024", canonical: "e-usm-2-2-0.8-0.024"},
	{name: "shadow defaults", in: "e-shadow", canonical: "e-shadow-bl-10_st-30_x-2_y-2"},
	{name: "shadow params any order", in: "e-shadow-y-N5_bl-15_x-10_st-40", canonical: "e-shadow-bl-15_st-40_x-10_y-N5"},
	{name: "drop shadow defaults", in: "e-dropshadow", canonical: "e-dropshadow-az-215_el-45_st-60"},
	{name: "drop shadow azimuth", in: "e-dropshadow-az-45", canonical: "e-dropshadow-az-45_el-45_st-60"},
	{name: "gradient defaults", in: "e-gradient", canonical: "e-gradient-ld-180_from-FFFFFF_to-00000000_sp-1"},
	{name: "gradient named direction", in: "e-gradient-ld-top_right_from-FF000040_to-00FF0040_sp-0.9", canonical: "e-gradient-ld-45_from-FF000040_to-00FF0040_sp-0.9"},
	{name: "gradient colour names and pixels", in: "e-gradient-from-green_to-white_sp-100_ld-90", canonical: "e-gradient-ld-90_from-008000_to-FFFFFF_sp-100"},
	{name: "flags", in: "orig-true,pr-true,lo-true,md-true,cp-true", canonical: "orig-true,pr-true,lo-true,md-true,cp-true"},
	{name: "flag false clears", in: "pr-true,pr-false", canonical: ""},
	{name: "named", in: "n-thumb_small", canonical: "n-thumb_small"},
	{name: "coordinates", in: "cm-extract,x-10,y-20,xc-5,yc-6", canonical: "cm-extract,x-10,y-20,xc-5,yc-6"},
	{name: "opacity zero", in: "o-0", canonical: "o-0"},
	{name: "width auto", in: "w-auto", canonical: "w-auto"},
	{name: "dpr auto", in: "dpr-auto,w-100", canonical: "w-100,dpr-auto"},
	{name: "width auto then pixels", in: "w-auto,w-300", canonical: "w-300"},
	{name: "pixels then width auto", in: "w-300,w-auto", canonical: "w-auto"},
	{name: "dpr auto then number", in: "dpr-auto,dpr-2", canonical: "dpr-2"},

	{name: "width not a number", in: "w-abc", kind: errkind.Invalid, errHas: `"w"`},
	{name: "width NaN", in: "w-NaN", kind: errkind.Invalid, errHas: `"w"`},
	{name: "width negative", in: "w-N1", kind: errkind.Invalid, errHas: `"w"`},
	{name: "width zero", in: "w-0", kind: errkind.Invalid, errHas: `"w"`},
	{name: "width over limit", in: "w-100000", kind: errkind.Invalid, errHas: `"w"`},
	{name: "width exponent", in: "w-1e3", kind: errkind.Invalid, errHas: `"w"`},
	{name: "width fractional pixels", in: "w-300.5", kind: errkind.Invalid, errHas: `"w"`},
	{name: "width missing value", in: "w", kind: errkind.Invalid, errHas: `"w"`},
	{name: "width empty value", in: "w-", kind: errkind.Invalid, errHas: `"w"`},
	{name: "dpr too high", in: "dpr-50", kind: errkind.Invalid, errHas: `"dpr"`},
	{name: "height auto", in: "h-auto", kind: errkind.Invalid, errHas: `"h"`},
	{name: "width auto misspelt", in: "w-Auto", kind: errkind.Invalid, errHas: `"w"`},
	{name: "dpr too low", in: "dpr-0.01", kind: errkind.Invalid, errHas: `"dpr"`},
	{name: "quality zero", in: "q-0", kind: errkind.Invalid, errHas: `"q"`},
	{name: "quality over", in: "q-101", kind: errkind.Invalid, errHas: `"q"`},
	{name: "unknown key", in: "w-300,zz-1", kind: errkind.Invalid, errHas: `"zz"`},
	{name: "unknown crop", in: "c-squash", kind: errkind.Invalid, errHas: `"c"`},
	{name: "unknown format", in: "f-bmp", kind: errkind.Invalid, errHas: `"f"`},
	{name: "bad colour", in: "bg-GGGGGG", kind: errkind.Invalid, errHas: `"bg"`},
	{name: "unknown colour name", in: "bg-notacolour", kind: errkind.Invalid, errHas: `"bg"`},
	// ImageKit's 8-character colours end in a two-digit opacity percentage,
	// not hex alpha: "FF" is not a percentage.
	{name: "bg hex alpha refused", in: "bg-FF0000FF", kind: errkind.Invalid, errHas: `"bg"`},
	{name: "border without colour", in: "b-5", kind: errkind.Invalid, errHas: `"b"`},
	{name: "rotation too large", in: "rt-720", kind: errkind.Invalid, errHas: `"rt"`},
	{name: "blur zero", in: "bl-0", kind: errkind.Invalid, errHas: `"bl"`},
	{name: "di climbs out", in: "di-..@@etc@@passwd", kind: errkind.Invalid, errHas: `"di"`},
	{name: "di lone at", in: "di-a@b.jpg", kind: errkind.Invalid, errHas: `"di"`},
	{name: "unknown effect", in: "e-sepia", kind: errkind.Invalid, errHas: "sepia"},
	{name: "shadow blur over", in: "e-shadow-bl-16", kind: errkind.Invalid, errHas: "e-shadow"},
	{name: "shadow unknown key", in: "e-shadow-zz-1", kind: errkind.Invalid, errHas: "zz"},
	{name: "shadow not pairs", in: "e-shadow-15", kind: errkind.Invalid, errHas: "e-shadow"},
	{name: "gradient bad direction", in: "e-gradient-ld-up", kind: errkind.Invalid, errHas: "ld"},
	{name: "gradient angle over", in: "e-gradient-ld-360", kind: errkind.Invalid, errHas: "ld"},
	{name: "gradient fractional pixels", in: "e-gradient-sp-1.5", kind: errkind.Invalid, errHas: "sp"},
	{name: "gradient stop names the base outside a layer", in: "e-gradient-sp-bh_div_2", kind: errkind.Invalid, errHas: "base"},
	{name: "drop shadow over range", in: "e-dropshadow-el-91", kind: errkind.Invalid, errHas: "e-dropshadow"},
	{name: "ai effect still unsupported", in: "e-retouch", kind: errkind.Unsupported, errHas: "e-retouch"},
	{name: "grayscale with value", in: "e-grayscale-5", kind: errkind.Invalid, errHas: "e-grayscale"},
	{name: "usm wrong arity", in: "e-usm-2-2", kind: errkind.Invalid, errHas: "e-usm"},
	{name: "named bad chars", in: "n-a.b", kind: errkind.Invalid, errHas: `"n"`},
	{name: "bool bad", in: "pr-yes", kind: errkind.Invalid, errHas: `"pr"`},

	{name: "layer variables outside a layer", in: "w-bw_div_2", kind: errkind.Invalid, errHas: "only a layer"},
	{name: "video layer", in: "l-video,i-a.mp4,l-end", kind: errkind.Unsupported, errHas: "video"},
	{name: "layer without end", in: "l-image,i-a.png,w-10", kind: errkind.Invalid, errHas: "l-end"},
	{name: "layer end alone", in: "w-10,l-end", kind: errkind.Invalid, errHas: "l-end"},
	{name: "layer without input", in: "l-image,w-10,l-end", kind: errkind.Invalid, errHas: "input"},
	{name: "layer key outside a layer", in: "w-10,lx-5", kind: errkind.Invalid, errHas: "inside a layer"},
	{name: "text key outside a layer", in: "fs-10", kind: errkind.Invalid, errHas: "inside a layer"},
	{name: "text key on an image layer", in: "l-image,i-a.png,fs-10,l-end", kind: errkind.Invalid, errHas: "text layers"},
	{name: "layer path climbs out", in: "l-image,i-..@@etc@@passwd,l-end", kind: errkind.Invalid, errHas: `"i"`},
	{name: "layer from an absolute URL", in: "l-image,ie-aHR0cHM6Ly9ldmlsLmV4YW1wbGUvYS5wbmc=,l-end", kind: errkind.Unsupported, errHas: "absolute"},
	{name: "layer path with transformations", in: "l-image,ie-dHI6dy0xMDAvYS5wbmc=,l-end", kind: errkind.Invalid, errHas: "inside the layer"},
	{name: "solid without colour", in: "l-image,i-ik_canvas,w-10,l-end", kind: errkind.Invalid, errHas: "bg"},
	{name: "bad layer mode", in: "l-image,i-a.png,lm-screen,l-end", kind: errkind.Invalid, errHas: `"lm"`},
	{name: "WOFF font file", in: "l-text,i-hi,ff-fonts@@Brand.woff2,l-end", kind: errkind.Unsupported, errHas: ".woff2"},
	{name: "font file not a font", in: "l-text,i-hi,ff-fonts@@Brand.exe,l-end", kind: errkind.Invalid, errHas: ".ttf or .otf"},
	{name: "font file escaping", in: "l-text,i-hi,ff-fonts@@..@@Brand.ttf,l-end", kind: errkind.Invalid, errHas: "'..'"},
	{name: "unknown font", in: "l-text,i-hi,ff-Comic_Sans,l-end", kind: errkind.Invalid, errHas: `"ff"`},
	{name: "padding expression dangling operator", in: "l-text,i-hi,pa-bh_mul,l-end", kind: errkind.Invalid, errHas: `"pa"`},
	{name: "five paddings", in: "l-text,i-hi,pa-bh_1_2_3_4,l-end", kind: errkind.Invalid, errHas: "1 to 4"},
	{name: "font size names the layer's base outside a layer", in: "w-bw", kind: errkind.Invalid, errHas: "base"},
	{name: "dpr expression out of a layer names the base", in: "w-100,dpr-bw_div_100", kind: errkind.Invalid, errHas: "base"},
	{name: "font outline", in: "l-text,i-hi,fol-red_2,l-end", kind: errkind.Unsupported, errHas: "outline"},
	{name: "text too long", in: "l-text,i-" + strings.Repeat("a", MaxTextRunes+1) + ",l-end", kind: errkind.Invalid, errHas: "over the limit"},
	{name: "too many layers", in: strings.Repeat("l-image,i-a.png,l-end,", MaxLayers+1), kind: errkind.Invalid, errHas: "layers"},
	{name: "layers too deep", in: "l-image,i-a,l-image,i-b,l-image,i-c,l-image,i-d,l-end,l-end,l-end,l-end", kind: errkind.Invalid, errHas: "deep"},
	{name: "layer inside a conditional", in: "if-iw_gt_1,l-image,i-a.png,l-end,if-end", canonical: "if-iw_gt_1,l-image,i-a.png,l-end,if-end"},
	{name: "expression where none is taken", in: "q-iw_div_10", kind: errkind.Unsupported, errHas: "expression"},
	{name: "expression bad operator", in: "w-iw_times_2", kind: errkind.Invalid, errHas: "times"},
	{name: "expression dangling operator", in: "w-iw_div", kind: errkind.Invalid, errHas: `"w"`},
	{name: "expression bad operand", in: "w-iw_div_x", kind: errkind.Invalid, errHas: `"x"`},
	{name: "expression too long", in: "w-iw" + strings.Repeat("_add_1", MaxExprOperands), kind: errkind.Invalid, errHas: "at most"},
	{name: "if without end", in: "if-iw_gt_1,w-10", kind: errkind.Invalid, errHas: "if-end"},
	{name: "end without if", in: "w-10,if-end", kind: errkind.Invalid, errHas: "if-end"},
	{name: "else without if", in: "if-else,w-10", kind: errkind.Invalid, errHas: "if-else"},
	{name: "two elses", in: "if-iw_gt_1,if-else,if-else,if-end", kind: errkind.Invalid, errHas: "if-else"},
	{name: "nested if", in: "if-iw_gt_1,if-ih_gt_1,if-end,if-end", kind: errkind.Invalid, errHas: "nest"},
	{name: "condition without operator", in: "if-iw_1,w-1,if-end", kind: errkind.Invalid, errHas: "condition"},
	{name: "chained blocks overlapping", in: "if-iw_gt_1,w-1:rt-90,if-end,if-ar_gt_1,w-200:h-1,if-end", kind: errkind.Unsupported, errHas: "where another ends"},
	{name: "a layer's key in a conditional", in: "l-text,i-a,if-bw_gt_1,fs-10,if-end,l-end", kind: errkind.Unsupported, errHas: `"fs"`},
	{name: "layers beside a layer's chained block", in: "l-image,i-a.png,if-ar_gt_1,w-200:rt-90,if-end,l-text,i-b,l-end,l-end", kind: errkind.Unsupported, errHas: "over ':'"},
	{name: "page zero", in: "pg-0", kind: errkind.Invalid, errHas: `"pg"`},
	{name: "page by name", in: "pg-name-Layer_1", kind: errkind.Invalid, errHas: "page number"},
	{name: "page in a conditional", in: "if-iw_gt_1,pg-2,if-end", kind: errkind.Unsupported, errHas: `"pg"`},
	{name: "page in a layer", in: "l-image,i-a.gif,pg-2,l-end", kind: errkind.Invalid, errHas: "layer's image"},
	{name: "distort without a mode", in: "e-distort", kind: errkind.Invalid, errHas: "p-x1_y1"},
	{name: "perspective with seven numbers", in: "e-distort-p-1_2_3_4_5_6_7", kind: errkind.Invalid, errHas: "8 numbers"},
	{name: "perspective anticlockwise", in: "e-distort-p-0_0_0_100_100_100_100_0", kind: errkind.Invalid, errHas: "convex"},
	{name: "perspective crossed", in: "e-distort-p-0_0_100_100_100_0_0_100", kind: errkind.Invalid, errHas: "convex"},
	{name: "perspective flat", in: "e-distort-p-0_0_50_0_100_0_50_0", kind: errkind.Invalid, errHas: "convex"},
	{name: "arc of nothing", in: "e-distort-a-0", kind: errkind.Invalid, errHas: "not 0"},
	{name: "arc past a circle", in: "e-distort-a-360", kind: errkind.Invalid, errHas: "359"},
	{name: "distort mode unknown", in: "e-distort-b-10", kind: errkind.Invalid, errHas: "p- (perspective)"},
	{name: "chained block without end", in: "if-ar_gt_1,w-200:rt-90", kind: errkind.Invalid, errHas: "no if-end"},
	{name: "chained block nesting", in: "if-ar_gt_1,w-200:if-iw_gt_1,rt-90,if-end", kind: errkind.Invalid, errHas: "nest"},
	{name: "format inside a chained block", in: "if-ar_gt_1,w-200:f-webp,if-end", kind: errkind.Unsupported, errHas: `"f"`},
	{name: "layer inside a chained block", in: "if-ar_gt_1,w-200:l-text,i-a,l-end,if-end", canonical: "if-car_gt_1,w-200:l-text,i-a,l-end,if-end"},
	{name: "two else in a chained block", in: "if-ar_gt_1,w-200,if-else:rt-90,if-else,w-1,if-end", kind: errkind.Invalid, errHas: "twice"},
	{name: "dangling and", in: "if-w_gt_1_and,w-1,if-end", kind: errkind.Invalid, errHas: "condition"},
	{name: "bad ratio", in: "if-ar_gt_4-0,w-1,if-end", kind: errkind.Invalid, errHas: "ratio"},
	{name: "w outside a condition", in: "h-w_div_2", kind: errkind.Invalid, errHas: `"w"`},
	{name: "condition with two operators", in: "if-iw_gt_1_lt_2,w-1,if-end", kind: errkind.Invalid, errHas: "condition"},
	{name: "format inside a conditional", in: "if-iw_gt_1,f-webp,if-end", kind: errkind.Unsupported, errHas: "format"},
	{name: "named inside a conditional", in: "if-iw_gt_1,n-thumb,if-end", kind: errkind.Unsupported, errHas: "named"},
	{name: "client hints inside a conditional", in: "if-iw_gt_1,w-auto,if-end", kind: errkind.Unsupported, errHas: "w-auto"},
	{name: "too many conditionals", in: strings.Repeat("if-iw_gt_1,if-end,", MaxConditionals+1), kind: errkind.Invalid, errHas: "at most"},
	{name: "face focus", in: "fo-face,w-100,h-100", canonical: "w-100,h-100,fo-face"},
	{name: "object focus unsupported", in: "fo-car", kind: errkind.Unsupported, errHas: "fo-car"},
	{name: "expression in width", in: "w-iw_div_2", canonical: "w-iw_div_2"},
	{name: "expression numbers normalised", in: "h-ch_mul_0.50_add_N10", canonical: "h-ch_mul_0.5_add_N10"},
	{name: "bare variable", in: "w-cw", canonical: "w-cw"},
	{name: "expressions in coordinates and radius", in: "cm-extract,x-iw_div_4,yc-ih_div_2,r-cw_div_10", canonical: "cm-extract,x-iw_div_4,yc-ih_div_2,r-cw_div_10"},
	{name: "literal after expression wins", in: "w-iw_div_2,w-300", canonical: "w-300"},
	{name: "expression after literal wins", in: "w-300,w-iw_div_2", canonical: "w-iw_div_2"},
	{name: "expression replaces w-auto", in: "w-auto,w-iw", canonical: "w-iw"},
	{name: "path with _ch_ is not an expression", in: "di-my_ch_file.jpg", canonical: "di-my_ch_file.jpg"},
	{name: "name with _add_ is not an expression", in: "n-a_add_b", canonical: "n-a_add_b"},
	{name: "conditional", in: "if-iw_gt_1000,w-1000,if-end", canonical: "if-iw_gt_1000,w-1000,if-end"},
	{name: "conditional with else", in: "q-70,if-car_lt_1,h-500,if-else,w-500,if-end,rt-90", canonical: "q-70,rt-90,if-car_lt_1,h-500,if-else,w-500,if-end"},
	{name: "conditional on expressions", in: "if-iw_div_2_gte_ih,w-cw_div_2,if-end", canonical: "if-iw_div_2_gte_ih,w-cw_div_2,if-end"},
	{name: "empty branches", in: "w-10,if-iw_eq_1,if-else,if-end", canonical: "w-10,if-iw_eq_1,if-end"},
	{name: "image layer", in: "w-300,l-image,i-logo.png,w-50,l-end", canonical: "w-300,l-image,i-logo.png,w-50,l-end"},
	{name: "layer path slashes", in: "l-image,i-brand@@logo.png,l-end", canonical: "l-image,i-brand@@logo.png,l-end"},
	{name: "layer path base64", in: "l-image,ie-YnJhbmQvbG9nbyAxLnBuZw%3D%3D,l-end", canonical: "l-image,ie-YnJhbmQvbG9nbyAxLnBuZw,l-end"},
	{name: "layer keys in fixed order", in: "l-image,lm-multiply,lfo-top,ly-N5,lx-10,i-a.png,lap-bottom_right,l-end", canonical: "l-image,i-a.png,lx-10,ly-N5,lap-bottom_right,lfo-top,lm-multiply,l-end"},
	{name: "layer position expressions", in: "l-image,i-a.png,lx-bw_sub_cw_sub_10,lyc-bh_div_2,w-bw_mul_0.4,l-end", canonical: "l-image,i-a.png,lx-bw_sub_cw_sub_10,lyc-bh_div_2,w-bw_mul_0.4,l-end"},
	{name: "layer chain", in: "l-image,i-a.png,w-100:rt-90,l-end", canonical: "l-image,i-a.png,w-100:rt-90,l-end"},
	{name: "chain after a layer", in: "w-300,l-image,i-a.png,w-100:rt-90,l-end:bl-5", canonical: "w-300,l-image,i-a.png,w-100:rt-90,l-end:bl-5"},
	{name: "solid block", in: "l-image,i-ik_canvas,bg-FF0000,w-10,h-20,al-5,l-end", canonical: "l-image,i-ik_canvas,al-5,w-10,h-20,bg-FF0000,l-end"},
	{name: "font file from the origin", in: "l-text,i-hi,ff-fonts@@Brand.TTF,l-end", canonical: "l-text,i-hi,ff-fonts@@Brand.TTF,l-end"},
	{name: "font file at the root", in: "l-text,i-hi,ff-Brand.otf,l-end", canonical: "l-text,i-hi,ff-Brand.otf,l-end"},
	{name: "perspective", in: "e-distort-p-10_0_90_10_100_90_0_100", canonical: "e-distort-p-10_0_90_10_100_90_0_100"},
	{name: "perspective beyond the image", in: "e-distort-p-N10_N10_110_0_100_100_0_100", canonical: "e-distort-p-N10_N10_110_0_100_100_0_100"},
	{name: "arc", in: "e-distort-a-120", canonical: "e-distort-a-120"},
	{name: "page", in: "w-100,pg-3", canonical: "w-100,pg-3"},
	{name: "gradient stop expression", in: "e-gradient-sp-ih_mul_0.5_sub_10", canonical: "e-gradient-ld-180_from-FFFFFF_to-00000000_sp-ih_mul_0.5_sub_10"},
	{name: "arc downwards", in: "e-distort-a-N45", canonical: "e-distort-a-N45"},
	{name: "chained block", in: "if-ar_gt_1,w-200:rt-90,if-end", canonical: "if-car_gt_1,w-200:rt-90,if-end"},
	{name: "chained block with else and neighbours", in: "f-webp,w-100,if-ar_gt_1,w-200:rt-90,if-else,h-50,if-end,bl-5:e-grayscale",
		canonical: "f-webp:w-100,if-car_gt_1,w-200:rt-90,if-else,h-50,if-end,bl-5:e-grayscale"},
	{name: "chained block with an empty step", in: "if-ar_gt_1,w-200:,if-end", canonical: "if-car_gt_1,w-200:,if-end"},
	{name: "another block beside a chained one", in: "if-iw_gt_1,w-1,if-end,if-ar_gt_1,w-200:rt-90,if-end", canonical: "if-iw_gt_1,w-1,if-end,if-car_gt_1,w-200:rt-90,if-end"},
	{name: "chained block in a layer", in: "l-image,i-a.png,if-ar_gt_1,w-200:rt-90,if-end,l-end", canonical: "l-image,i-a.png,if-car_gt_1,w-200:rt-90,if-end,l-end"},
	{name: "text sizes as expressions", in: "l-text,i-hi,fs-bh_div_10,lh-bh_div_8,pa-bh_mul_0.02_10_bw_div_50,l-end",
		canonical: "l-text,i-hi,fs-bh_div_10,pa-bh_mul_0.02_10_bw_div_50,lh-bh_div_8,l-end"},
	{name: "one padding expression", in: "l-text,i-hi,pa-bh_div_20,l-end", canonical: "l-text,i-hi,pa-bh_div_20,l-end"},
	{name: "a number after an expression wins", in: "l-text,i-hi,fs-bh_div_10,fs-30,l-end", canonical: "l-text,i-hi,fs-30,l-end"},
	{name: "dpr expression", in: "w-100,dpr-iw_div_1000", canonical: "w-100,dpr-iw_div_1000"},
	{name: "text layer", in: "l-text,i-Hello%20World,fs-40,co-white,ff-DejaVu_Serif,tg-i_b,pa-5_10,ia-center,lh-50,w-200,l-end",
		canonical: "l-text,i-Hello%20World,fs-40,ff-dejavu_serif,co-FFFFFF,ia-center,pa-5_10,tg-b_i,lh-50,w-200,l-end"},
	{name: "base64 plus read as a space", in: "l-text,ie-Pz8+,l-end", canonical: "l-text,i-%3F%3F%3E,l-end"},
	{name: "base64 plus unescaped to a space", in: "l-text,ie-Pz8 ,l-end", canonical: "l-text,i-%3F%3F%3E,l-end"},
	{name: "text with grammar characters", in: "l-text,ie-YSxiOmMvZCUgZQ%3D%3D,l-end", canonical: "l-text,i-a%2Cb%3Ac%2Fd%25%20e,l-end"},
	{name: "nested layers", in: "l-image,i-a.png,l-text,i-x,l-end,l-end", canonical: "l-image,i-a.png,l-text,i-x,l-end,l-end"},
	{name: "ImageKit's condition properties", in: "if-ar_gt_1,w-200,if-else,w-300,if-end", canonical: "if-car_gt_1,w-200,if-else,w-300,if-end"},
	{name: "and binds tighter than or", in: "if-h_gte_100_and_h_lte_400_or_ar_lt_4-3,w-10,if-end", canonical: "if-ch_gte_100_and_ch_lte_400_or_car_lt_4-3,w-10,if-end"},
	{name: "original's properties", in: "if-iw_gt_200_and_iar_eq_16-9,w-10,if-end", canonical: "if-iw_gt_200_and_iar_eq_16-9,w-10,if-end"},
	{name: "two blocks", in: "if-iw_gt_10,w-10,if-end,if-ih_gt_10,h-10,if-end", canonical: "if-iw_gt_10,w-10,if-end,if-ih_gt_10,h-10,if-end"},
	{name: "ai effect unsupported", in: "e-bgremove", kind: errkind.Unsupported, errHas: "e-bgremove"},
	{name: "zoom", in: "fo-face,z-0.50,w-100,h-100", canonical: "w-100,h-100,fo-face,z-0.5"},
	{name: "zoom zero", in: "fo-face,z-0", kind: errkind.Invalid, errHas: `"z"`},
	{name: "video unsupported", in: "so-5", kind: errkind.Unsupported, errHas: `"so"`},

	{name: "too long", in: "w-1" + strings.Repeat(",w-1", MaxLength/4), kind: errkind.Invalid, errHas: "longer"},
	{name: "too many steps", in: strings.Repeat("w-1:", MaxSteps) + "w-1", kind: errkind.Invalid, errHas: "chained"},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Parse(tc.in)
			if tc.kind != errkind.Internal {
				if err == nil {
					t.Fatalf("Parse(%q) = %q, want %v error", tc.in, tr, tc.kind)
				}
				if got := errkind.KindOf(err); got != tc.kind {
					t.Fatalf("kind = %v, want %v (%v)", got, tc.kind, err)
				}
				if !strings.Contains(errkind.SafeMessage(err), tc.errHas) {
					t.Fatalf("message %q does not name %q", errkind.SafeMessage(err), tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := tr.String(); got != tc.canonical {
				t.Fatalf("canonical = %q, want %q", got, tc.canonical)
			}
			checkRoundTrip(t, tr)
		})
	}
}

// checkRoundTrip asserts parse(canonical(x)) == x in canonical form.
func checkRoundTrip(t *testing.T, tr Transformation) {
	t.Helper()
	c := tr.String()
	again, err := Parse(c)
	if err != nil {
		t.Fatalf("canonical %q does not parse: %v", c, err)
	}
	if again.String() != c {
		t.Fatalf("canonical not stable: %q → %q", c, again.String())
	}
}

func TestTypedValues(t *testing.T) {
	tr, err := Parse("w-0.5,h-200,q-70,f-webp,rt-N90,bg-00000080,dpr-2,t-true,e-sharpen")
	if err != nil {
		t.Fatal(err)
	}
	s := tr.Steps[0]
	if !s.Width.Fraction() || s.Width.Resolve(1000) != 500 {
		t.Errorf("width = %+v, want fraction 0.5", s.Width)
	}
	if s.Height.Fraction() || s.Height.Resolve(1000) != 200 {
		t.Errorf("height = %+v, want 200 px", s.Height)
	}
	if s.Quality != 70 || s.Format != "webp" || s.DPR != 2 {
		t.Errorf("q/f/dpr = %d/%s/%g", s.Quality, s.Format, s.DPR)
	}
	if s.Rotate != (Rotation{Set: true, Degrees: -90}) {
		t.Errorf("rotate = %+v", s.Rotate)
	}
	// "80" is ImageKit's 80 % opacity: round(0.8 × 255) = 204.
	if *s.Background != (Color{0, 0, 0, 204}) {
		t.Errorf("bg = %+v", *s.Background)
	}
	if !s.Trim.Set || s.Trim.Value != 0 || !s.Sharpen.Set {
		t.Errorf("trim/sharpen = %+v/%+v", s.Trim, s.Sharpen)
	}
}

func TestChain(t *testing.T) {
	a, _ := Parse("w-300")
	b, _ := Parse("rt-90")
	if got := Chain(a, b).String(); got != "w-300:rt-90" {
		t.Fatalf("Chain = %q", got)
	}
}

func TestSplitPath(t *testing.T) {
	cases := []struct{ name, in, steps, path string }{
		{"no transformation", "a/b.jpg", "", "a/b.jpg"},
		{"transformation", "tr:w-300,h-200/a/b.jpg", "w-300,h-200", "a/b.jpg"},
		{"folder named like tr", "trx/a.jpg", "", "trx/a.jpg"},
		{"transformation only", "tr:w-300", "w-300", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, p := SplitPath(tc.in)
			if s != tc.steps || p != tc.path {
				t.Fatalf("SplitPath(%q) = %q, %q; want %q, %q", tc.in, s, p, tc.steps, tc.path)
			}
		})
	}
}

func TestSplitQuery(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want Query
		bad  bool
	}{
		{name: "empty", in: "", want: Query{}},
		{name: "tr only", in: "tr=w-300%2Ch-200", want: Query{Transformation: "w-300,h-200"}},
		{name: "signed with forward", in: "v=2&tr=w-1&ik-t=123&ik-s=abc&x=%20y", want: Query{Transformation: "w-1", Expires: "123", Signature: "abc", Forward: "v=2&x=%20y"}},
		{name: "attachment", in: "ik-attachment=true", want: Query{Attachment: true}},
		{name: "two tr chain", in: "tr=w-1&tr=h-2", want: Query{Transformation: "w-1:h-2"}},
		{name: "bad escape", in: "tr=%zz", bad: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SplitQuery(tc.in)
			if tc.bad {
				if err == nil || errkind.KindOf(err) != errkind.Invalid {
					t.Fatalf("want invalid error, got %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("SplitQuery(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	named := map[string]string{
		"thumb": "w-100,h-100,c-force",
		"chain": "w-200:rt-90",
		"loop":  "n-thumb",
	}
	lookup := func(n string) (string, bool) { d, ok := named[n]; return d, ok }
	cases := []struct {
		name, in, want string
		kind           errkind.Kind
	}{
		{name: "plain", in: "n-thumb", want: "w-100,h-100,c-force"},
		{name: "override", in: "n-thumb,w-50", want: "w-50,h-100,c-force"},
		{name: "multi step", in: "n-chain,q-50:bl-3", want: "w-200:q-50,rt-90:bl-3"},
		{name: "unknown", in: "n-nope", kind: errkind.Invalid},
		{name: "nested refused", in: "n-loop", kind: errkind.Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Expand(tr, lookup)
			if tc.kind != errkind.Internal {
				if errkind.KindOf(err) != tc.kind {
					t.Fatalf("err = %v, want kind %v", err, tc.kind)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := Parse(s)
		if err != nil {
			if k := errkind.KindOf(err); k != errkind.Invalid && k != errkind.Unsupported {
				t.Fatalf("Parse(%q): error of kind %v: %v", s, k, err)
			}
			return
		}
		checkRoundTrip(t, tr)
	})
}

func FuzzSplitQuery(f *testing.F) {
	f.Add("v=2&tr=w-1&ik-t=123&ik-s=abc")
	f.Add("tr=%zz&&=")
	f.Fuzz(func(t *testing.T, s string) {
		q, err := SplitQuery(s)
		if err != nil {
			return
		}
		if len(q.Forward) > len(s) {
			t.Fatalf("forwarded query longer than the input")
		}
	})
}

func TestNormalizeEscapes(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain", "products/shoe.jpg", "products/shoe.jpg"},
		{"lower-case hex", "caf%c3%a9.jpg", "caf%C3%A9.jpg"},
		{"upper-case hex", "caf%C3%A9.jpg", "caf%C3%A9.jpg"},
		{"raw UTF-8", "café.jpg", "caf%C3%A9.jpg"},
		{"unreserved decoded", "%7Euser/%61%2D%5F%2e.jpg", "~user/a-_..jpg"},
		{"reserved kept escaped", "a%2fb%3Fc%23d.jpg", "a%2Fb%3Fc%23d.jpg"},
		{"reserved kept raw", "a/b;c=d,e.jpg", "a/b;c=d,e.jpg"},
		{"space and controls", "a b\x01.jpg", "a%20b%01.jpg"},
		{"stray percent escaped", "50%.jpg%zz%4", "50%25.jpg%25zz%254"},
		{"stable when normalised again", "%0%61", "%250a"},
		{"query", "v=%7e&x=a%2bb", "v=~&x=a%2Bb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := NormalizeEscapes(tc.in); got != tc.want {
				t.Fatalf("NormalizeEscapes(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzNormalizeEscapes: normalising is idempotent, and two strings that
// normalise alike decode alike (the form changes spelling, never meaning).
func FuzzNormalizeEscapes(f *testing.F) {
	for _, s := range []string{"caf%c3%a9.jpg", "café.jpg", "%7Euser/%61", "a%2fb", "50%.jpg%zz", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeEscapes(s)
		if NormalizeEscapes(n) != n {
			t.Fatalf("not idempotent: %q → %q → %q", s, n, NormalizeEscapes(n))
		}
		if a, err := url.PathUnescape(s); err == nil {
			b, err := url.PathUnescape(n)
			if err != nil || a != b {
				t.Fatalf("meaning changed: %q decodes to %q, its normal form %q to %q (%v)", s, a, n, b, err)
			}
		}
	})
}

func TestLayerSources(t *testing.T) {
	tr, err := Parse("l-image,i-logo.png,l-text,i-a,ff-f@@A.ttf,l-end,l-end,l-text,i-b,ff-f@@A.ttf,l-end:l-text,i-c,ff-B.otf,l-end,l-image,i-logo.png,l-end")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tr.LayerImages(), " "); got != "logo.png" {
		t.Errorf("LayerImages = %q, want logo.png once", got)
	}
	if got := strings.Join(tr.LayerFonts(), " "); got != "f/A.ttf B.otf" {
		t.Errorf("LayerFonts = %q, want f/A.ttf B.otf, each once", got)
	}
	// Both branches' layers are fetched and counted, whichever is taken.
	tr, err = Parse("if-iw_gt_1,l-image,i-a.png,l-end,if-else,l-image,i-b.png,l-end,if-end:if-ar_gt_1,w-1:l-image,i-c.png,l-end,if-end")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tr.LayerImages(), " "); got != "a.png b.png c.png" || tr.CountLayers() != 3 {
		t.Errorf("LayerImages = %q (%d layers), want a.png b.png c.png", got, tr.CountLayers())
	}
	if _, err := Parse(strings.Repeat("if-iw_gt_1,l-image,i-a.png,l-end,if-else,l-image,i-b.png,l-end,if-end,", 3) + strings.Repeat("l-image,i-c.png,l-end,", 5)); errkind.KindOf(err) != errkind.Invalid {
		t.Errorf("11 layers across branches: %v, want over the limit", err)
	}
}
