package imgurl

import (
	"testing"
)

func TestResolveHints(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tr        string
		hints     Hints
		canonical string // of the resolved transformation
		use       HintUse
	}{
		{name: "no auto: untouched, hints not consulted", tr: "w-300,dpr-2", hints: Hints{Width: "640", DPR: "3"},
			canonical: "w-300,dpr-2"},
		{name: "width rounded up to the next 100", tr: "w-auto", hints: Hints{Width: "320"},
			canonical: "w-400", use: HintUse{Width: true, DPR: true, ContentDPR: 1.25}},
		{name: "a multiple of 100 stays", tr: "w-auto", hints: Hints{Width: "600"},
			canonical: "w-600", use: HintUse{Width: true, DPR: true, ContentDPR: 1}},
		{name: "width hint ignores dpr", tr: "w-auto,dpr-auto", hints: Hints{Width: "600", DPR: "2"},
			canonical: "w-600", use: HintUse{Width: true, DPR: true, ContentDPR: 2}},
		{name: "width hint ignores an explicit dpr", tr: "w-auto,dpr-3", hints: Hints{Width: "320", DPR: "2"},
			canonical: "w-400", use: HintUse{Width: true, DPR: true, ContentDPR: 2.5}},
		{name: "no width hint: no width", tr: "w-auto,h-200", hints: Hints{},
			canonical: "h-200", use: HintUse{Width: true, DPR: true}},
		{name: "no width hint, dpr hint", tr: "w-auto,h-200,dpr-auto", hints: Hints{DPR: "2"},
			canonical: "h-200,dpr-2", use: HintUse{Width: true, DPR: true, ContentDPR: 2}},
		{name: "dpr multiplies an explicit width", tr: "w-100,dpr-auto", hints: Hints{DPR: "2"},
			canonical: "w-100,dpr-2", use: HintUse{DPR: true, ContentDPR: 2}},
		{name: "dpr one is no dpr", tr: "w-100,dpr-auto", hints: Hints{DPR: "1"},
			canonical: "w-100", use: HintUse{DPR: true, ContentDPR: 1}},
		{name: "no dpr hint: dpr 1", tr: "w-100,dpr-auto", hints: Hints{Width: "500"},
			canonical: "w-100", use: HintUse{DPR: true}},
		{name: "dpr held to the maximum", tr: "w-100,dpr-auto", hints: Hints{DPR: "9"},
			canonical: "w-100,dpr-5", use: HintUse{DPR: true, ContentDPR: 5}},
		{name: "dpr kept to two decimals", tr: "w-100,dpr-auto", hints: Hints{DPR: "2.625"},
			canonical: "w-100,dpr-2.63", use: HintUse{DPR: true, ContentDPR: 2.63}},
		{name: "huge width held to the largest side", tr: "w-auto", hints: Hints{Width: "999999"},
			canonical: "w-65500", use: HintUse{Width: true, DPR: true, ContentDPR: 1}},
		{name: "garbage width is no hint", tr: "w-auto,h-50", hints: Hints{Width: "12px"},
			canonical: "h-50", use: HintUse{Width: true, DPR: true}},
		{name: "negative width is no hint", tr: "w-auto,h-50", hints: Hints{Width: "-5"},
			canonical: "h-50", use: HintUse{Width: true, DPR: true}},
		{name: "zero width is no hint", tr: "w-auto,h-50", hints: Hints{Width: "0"},
			canonical: "h-50", use: HintUse{Width: true, DPR: true}},
		{name: "garbage dpr is no hint", tr: "w-100,dpr-auto", hints: Hints{DPR: "2e1"},
			canonical: "w-100", use: HintUse{DPR: true}},
		{name: "N-negative dpr is no hint", tr: "w-100,dpr-auto", hints: Hints{DPR: "N2"},
			canonical: "w-100", use: HintUse{DPR: true}},
		{name: "each step resolved", tr: "w-auto:w-100,dpr-auto", hints: Hints{Width: "250", DPR: "1.5"},
			canonical: "w-300:w-100,dpr-1.5", use: HintUse{Width: true, DPR: true, ContentDPR: 1.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Parse(tc.tr)
			if err != nil {
				t.Fatal(err)
			}
			got, use := tr.ResolveHints(tc.hints)
			if got.String() != tc.canonical || use != tc.use {
				t.Errorf("ResolveHints(%q, %+v) = %q, %+v; want %q, %+v", tc.tr, tc.hints, got, use, tc.canonical, tc.use)
			}
			if got.UsesHints() {
				t.Errorf("%q still has an auto after resolving", got)
			}
			if again, err := Parse(tr.String()); err != nil || again.String() != tr.String() {
				t.Errorf("the unresolved form %q does not parse back: %v", tr, err)
			}
		})
	}
}

// ResolveHints must leave the transformation it was given as it was: the
// parse memo shares one parsed transformation among requests.
func TestResolveHintsLeavesItsInputAlone(t *testing.T) {
	tr, err := Parse("w-auto,dpr-auto:w-auto")
	if err != nil {
		t.Fatal(err)
	}
	before := tr.String()
	tr.ResolveHints(Hints{Width: "640", DPR: "2"})
	if tr.String() != before {
		t.Fatalf("the input changed from %q to %q", before, tr)
	}
}

func FuzzResolveHints(f *testing.F) {
	for _, seed := range [][3]string{{"w-auto", "320", "2"}, {"w-100,dpr-auto", "", "1.5"}, {"w-auto,dpr-auto", "999999", "N2"},
		{"w-auto:h-10", "12px", "2e1"}, {"dpr-auto", " 640 ", " 3 "}} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, s, width, dpr string) {
		tr, err := Parse(s)
		if err != nil {
			return
		}
		got, use := tr.ResolveHints(Hints{Width: width, DPR: dpr})
		if got.UsesHints() {
			t.Fatalf("%q with hints %q, %q still has an auto: %q", s, width, dpr, got)
		}
		// The resolved form is a transformation any URL could name.
		again, err := Parse(got.String())
		if err != nil || again.String() != got.String() {
			t.Fatalf("resolved %q does not parse back: %v", got, err)
		}
		if use.ContentDPR < 0 || use.ContentDPR > 65535 || (use.ContentDPR > 0 && !use.Any()) {
			t.Fatalf("Content-DPR %v with %+v", use.ContentDPR, use)
		}
	})
}
