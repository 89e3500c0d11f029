package imgurl

import (
	"strings"
	"testing"

	"pictor/services/internal/errkind"
)

func TestBind(t *testing.T) {
	photo := Vars{IW: 1200, IH: 800, CW: 600, CH: 400}
	portrait := Vars{IW: 800, IH: 1200, CW: 800, CH: 1200}
	for _, tc := range []struct {
		name string
		in   string
		vars Vars
		want string // the bound step's canonical form
		kind errkind.Kind
		has  string // in the error
	}{
		{name: "nothing to bind", in: "w-300,rt-90", vars: photo, want: "w-300,rt-90"},
		{name: "input width halved", in: "w-iw_div_2", vars: photo, want: "w-600"},
		{name: "current width", in: "w-cw_sub_100", vars: photo, want: "w-500"},
		{name: "rounded to whole pixels", in: "w-iw_div_7", vars: photo, want: "w-171"},
		{name: "precedence: mul before add", in: "w-10_add_cw_mul_2", vars: photo, want: "w-1210"},
		{name: "left to right at one level", in: "w-cw_div_2_mul_3", vars: photo, want: "w-900"},
		{name: "pow first, right to left", in: "w-2_pow_3_pow_2", vars: photo, want: "w-512"},
		{name: "mod", in: "w-iw_mod_7_add_1", vars: photo, want: "w-4"},
		{name: "aspect ratios", in: "w-ih_mul_iar,h-ch_mul_car", vars: photo, want: "w-1200,h-600"},
		{name: "negative numbers", in: "h-ch_add_N100", vars: photo, want: "h-300"},
		{name: "coordinates and radius", in: "cm-extract,w-100,h-100,xc-iw_div_2,y-0_add_10,r-cw_div_6", vars: photo,
			want: "w-100,h-100,cm-extract,y-10,xc-600,r-100"},
		{name: "radius zero is none", in: "w-10,r-cw_mul_0", vars: photo, want: "w-10"},
		{name: "then branch", in: "if-iw_gt_1000,w-1000,if-else,w-iw,if-end", vars: photo, want: "w-1000"},
		{name: "else branch", in: "if-iw_gt_1000,w-1000,if-else,w-iw,if-end", vars: portrait, want: "w-800"},
		{name: "no else: the step as it is", in: "w-50,if-iw_gt_5000,w-1000,if-end", vars: photo, want: "w-50"},
		{name: "branch overrides the step", in: "w-50,h-50,if-car_gt_1,w-100,if-end", vars: photo, want: "w-100,h-50"},
		{name: "blocks apply in order", in: "if-iw_gt_1,w-10,if-end,if-ih_gt_1,w-20,if-end", vars: photo, want: "w-20"},
		{name: "conditions on expressions", in: "if-iw_div_2_eq_cw,e-grayscale,if-end", vars: photo, want: "e-grayscale"},
		{name: "ne lte lt gte", in: "if-iw_ne_ih,w-1,if-end,if-ih_lte_800,h-2,if-end,if-cw_lt_600,w-3,if-end,if-ch_gte_400,rt-90,if-end",
			vars: photo, want: "w-1,h-2,rt-90"},

		{name: "w h ar are the image at the step", in: "if-w_eq_600_and_h_eq_400_and_ar_eq_3-2,w-1,if-end", vars: photo, want: "w-1"},
		{name: "and before or", in: "if-w_lt_10_and_h_lt_10_or_iw_eq_1200,w-2,if-end", vars: photo, want: "w-2"},
		{name: "and fails whole", in: "if-w_lt_10_or_iw_eq_1200_and_ih_eq_1,w-2,if-else,w-3,if-end", vars: photo, want: "w-3"},
		{name: "gradient stop in pixels", in: "e-gradient-sp-ch_div_4", vars: photo, want: "e-gradient-ld-180_from-FFFFFF_to-00000000_sp-100"},
		{name: "gradient stop as a fraction", in: "e-gradient-ld-top_sp-cw_div_cw_div_2", vars: photo, want: "e-gradient-ld-0_from-FFFFFF_to-00000000_sp-0.5"},
		{name: "gradient stop of nothing", in: "e-gradient-sp-cw_mul_0", vars: photo, kind: errkind.Invalid, has: "sp cw_mul_0 is 0"},
		{name: "dpr keeps two decimals", in: "w-100,dpr-iw_div_700", vars: photo, want: "w-100,dpr-1.71"},
		{name: "dpr out of range", in: "w-100,dpr-iw", vars: photo, kind: errkind.Invalid, has: `"dpr"`},
		{name: "division by zero", in: "w-iw_div_0", vars: photo, kind: errkind.Invalid, has: "div by zero"},
		{name: "modulo by zero", in: "w-iw_mod_0", vars: photo, kind: errkind.Invalid, has: "mod by zero"},
		{name: "zero width", in: "w-iw_sub_iw", vars: photo, kind: errkind.Invalid, has: `"w"`},
		{name: "negative width", in: "w-cw_sub_1000", vars: photo, kind: errkind.Invalid, has: "-400"},
		{name: "over the largest side", in: "w-iw_mul_iw", vars: photo, kind: errkind.Invalid, has: "1440000"},
		{name: "astronomical", in: "w-iw_pow_iw", vars: photo, kind: errkind.Invalid, has: `"w"`},
		{name: "condition dividing by zero", in: "if-iw_div_0_gt_1,w-1,if-end", vars: photo, kind: errkind.Invalid, has: `"if"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tr.Steps[0].Bind(tc.vars)
			if tc.has != "" {
				if errkind.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.has) {
					t.Fatalf("Bind(%q) = %q, %v; want a %v error with %q", tc.in, got, err, tc.kind, tc.has)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("Bind(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			if len(got.Exprs) > 0 || len(got.Conds) > 0 || (got.Gradient != nil && got.Gradient.StopExpr != nil) {
				t.Fatalf("Bind(%q) left expressions or conditionals: %q", tc.in, got)
			}
		})
	}
}

func TestBindText(t *testing.T) {
	base := Vars{IW: 1000, IH: 500, CW: 1000, CH: 500, BW: 1000, BH: 500}
	for _, tc := range []struct {
		name string
		in   string // a text layer's parameters
		want string // the bound layer's canonical parameters
		has  string // in the error
	}{
		{name: "literals stay", in: "fs-20,lh-30,pa-5", want: "fs-20,pa-5,lh-30"},
		{name: "font size from the base", in: "fs-bh_div_10", want: "fs-50"},
		{name: "line height and padding", in: "lh-bh_div_4,pa-bh_mul_0.02_10_bw_div_50", want: "pa-10_10_20,lh-125"},
		{name: "rounded", in: "fs-bw_div_3", want: "fs-333"},
		{name: "font size under one", in: "fs-bh_div_10000", has: `"fs"`},
		{name: "font size over the limit", in: "fs-bw_mul_2", has: "want 1 to 1000"},
		{name: "negative padding", in: "pa-N1_mul_bh", has: `"pa"`},
		{name: "line height dividing by zero", in: "lh-bh_div_0", has: "div by zero"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Parse("l-text,i-x," + tc.in + ",l-end")
			if err != nil {
				t.Fatal(err)
			}
			l := tr.Steps[0].Layers[0]
			before := l.String()
			got, err := l.Text.BindText(base)
			if tc.has != "" {
				if errkind.KindOf(err) != errkind.Invalid || !strings.Contains(err.Error(), tc.has) {
					t.Fatalf("BindText(%s) = %v; want an invalid error with %q", tc.in, err, tc.has)
				}
				return
			}
			l.Text = got
			if err != nil || l.String() != "l-text,i-x,"+tc.want+",l-end" {
				t.Fatalf("BindText(%s) = %q, %v; want %q", tc.in, l.String(), err, tc.want)
			}
			if got.SizeExpr != nil || got.LineHeightExpr != nil || got.PaddingExprs != nil {
				t.Fatalf("BindText(%s) left expressions", tc.in)
			}
			if after := tr.Steps[0].Layers[0].String(); after != before {
				t.Fatalf("BindText changed the parsed layer: %q, was %q", after, before)
			}
		})
	}
}

// Bind must not change the step it was called on: parsed transformations
// are shared by requests through the edge's parse memo.
func TestBindLeavesItsStepAlone(t *testing.T) {
	tr, err := Parse("w-iw_div_2,h-10,if-iw_gt_1,h-ch,r-cw,if-end,x-1")
	if err != nil {
		t.Fatal(err)
	}
	before := tr.String()
	for range 3 {
		if _, err := tr.Steps[0].Bind(Vars{IW: 100, IH: 100, CW: 50, CH: 50}); err != nil {
			t.Fatal(err)
		}
	}
	if tr.String() != before {
		t.Fatalf("Bind changed its step from %q to %q", before, tr)
	}
}

func FuzzBind(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in, 1200, 800, 600, 400)
	}
	f.Add("if-iw_gt_1000,w-1000,if-else,w-iw_div_3,if-end", 5000, 10, 1, 1)
	f.Add("w-2_pow_3_pow_2,r-cw_mod_7", 0, 0, 0, 0)
	f.Fuzz(func(t *testing.T, s string, iw, ih, cw, ch int) {
		tr, err := Parse(s)
		if err != nil {
			return
		}
		steps := tr.Steps
		for i := 0; i < len(steps); i++ {
			v := Vars{IW: iw, IH: ih, CW: cw, CH: ch}
			if steps, err = Unfold(steps, i, v); err != nil {
				if errkind.KindOf(err) != errkind.Invalid {
					t.Fatalf("Unfold(%q): %v", steps[i], err)
				}
				break
			}
			st := steps[i]
			if st.Chain != nil {
				t.Fatalf("Unfold left a chained block: %q", st)
			}
			b, err := st.Bind(v)
			if err != nil {
				if k := errkind.KindOf(err); k != errkind.Invalid && k != errkind.Unsupported {
					t.Fatalf("Bind(%q): error of kind %v: %v", st, k, err)
				}
				continue
			}
			if len(b.Exprs) > 0 || len(b.Conds) > 0 {
				t.Fatalf("Bind(%q) left expressions or conditionals: %q", st, b)
			}
			again, err := Parse(b.String())
			if err != nil || again.String() != b.String() {
				t.Fatalf("bound %q does not parse back: %v", b, err)
			}
		}
	})
}

func TestUnfold(t *testing.T) {
	landscape := Vars{IW: 1200, IH: 800, CW: 1200, CH: 800}
	portrait := Vars{IW: 800, IH: 1200, CW: 800, CH: 1200}
	for _, tc := range []struct {
		name string
		in   string
		vars Vars
		want string // the steps once every chained block is unfolded
	}{
		{name: "then chain", in: "if-ar_gt_1,w-200:rt-90,if-end", vars: landscape, want: "w-200:rt-90"},
		{name: "no else: nothing", in: "if-ar_gt_1,w-200:rt-90,if-end", vars: portrait, want: ""},
		{name: "else chain", in: "if-ar_gt_1,w-200,if-else,h-100:e-grayscale,if-end", vars: portrait, want: "h-100:e-grayscale"},
		{name: "neighbours join the branch", in: "w-100,if-ar_gt_1,w-200:rt-90,if-end,bl-5:e-grayscale", vars: landscape,
			want: "w-200:rt-90,bl-5:e-grayscale"},
		{name: "neighbours without the branch", in: "w-100,if-ar_gt_1,w-200:rt-90,if-end,bl-5:e-grayscale", vars: portrait,
			want: "w-100,bl-5:e-grayscale"},
		{name: "decided on the image the block receives", in: "w-100,h-300:if-ar_gt_1,w-200:rt-90,if-end", vars: Vars{IW: 1200, IH: 800, CW: 100, CH: 300},
			want: "w-100,h-300"},
		{name: "a step's own block beside a chained one", in: "if-iw_gt_1,w-1,if-end,if-ar_gt_1,rt-90:w-200,if-end", vars: landscape, want: "rt-90,if-iw_gt_1,w-1,if-end:w-200"},
		{name: "empty steps keep the chain's shape", in: "rt-90,if-ar_gt_1,:w-200,if-end", vars: landscape, want: "rt-90:w-200"},
		{name: "two chained blocks", in: "if-iw_gt_1000,w-500:rt-90,if-end:if-ih_gt_1000,w-50:rt-180,if-else,h-60:bl-1,if-end", vars: landscape,
			want: "w-500:rt-90:h-60:bl-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			steps := tr.Steps
			for i := 0; i < len(steps); i++ {
				if steps, err = Unfold(steps, i, tc.vars); err != nil {
					t.Fatal(err)
				}
				if steps[i].Chain != nil {
					t.Fatalf("step %d still a chained block", i)
				}
			}
			if got := (Transformation{Steps: steps}).String(); got != tc.want {
				t.Fatalf("unfolded %q = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
