// Package faces finds frontal faces in a greyscale picture with a Haar
// cascade in OpenCV's XML format (Debian's opencv-data package ships
// Lienhart's haarcascade_frontalface_default.xml), for fo-face. It is the
// Viola–Jones detector as OpenCV runs it — an image pyramid, a 24×24
// window, stump classifiers on variance-normalised Haar features, and
// neighbouring detections grouped — written in Go so the edge needs no
// C++ library for it.
package faces

import (
	"encoding/xml"
	"fmt"
	"image"
	"math"
	"os"
	"strconv"
	"strings"
)

// Cascade is a loaded classifier.
type Cascade struct {
	w, h     int
	stages   []stage
	features []feature
}

type stage struct {
	threshold float64
	weak      []stump
}

// stump is a one-node tree: feature < threshold → left, else right.
type stump struct {
	feature     int
	threshold   float64
	left, right float64
}

type feature struct{ rects []wrect }

type wrect struct {
	x, y, w, h int
	weight     float64
}

// The XML, as OpenCV writes it (new-style cascades).
type xmlCascade struct {
	Cascade struct {
		StageType   string `xml:"stageType"`
		FeatureType string `xml:"featureType"`
		Height      int    `xml:"height"`
		Width       int    `xml:"width"`
		Stages      struct {
			Stage []struct {
				Threshold float64 `xml:"stageThreshold"`
				Weak      struct {
					Item []struct {
						Nodes  string `xml:"internalNodes"`
						Leaves string `xml:"leafValues"`
					} `xml:"_"`
				} `xml:"weakClassifiers"`
			} `xml:"_"`
		} `xml:"stages"`
		Features struct {
			Item []struct {
				Rects struct {
					Item []string `xml:"_"`
				} `xml:"rects"`
				Tilted int `xml:"tilted"`
			} `xml:"_"`
		} `xml:"features"`
	} `xml:"cascade"`
}

// Load reads a Haar cascade.
func Load(path string) (*Cascade, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load cascade: %w", err)
	}
	var x xmlCascade
	if err := xml.Unmarshal(b, &x); err != nil {
		return nil, fmt.Errorf("load cascade %s: %w", path, err)
	}
	xc := x.Cascade
	if xc.StageType != "BOOST" || xc.FeatureType != "HAAR" || xc.Width <= 0 || xc.Height <= 0 || len(xc.Stages.Stage) == 0 {
		return nil, fmt.Errorf("load cascade %s: not a boosted Haar cascade", path)
	}
	c := &Cascade{w: xc.Width, h: xc.Height}
	for _, f := range xc.Features.Item {
		if f.Tilted != 0 {
			return nil, fmt.Errorf("load cascade %s: tilted features are not supported", path)
		}
		var ft feature
		for _, r := range f.Rects.Item {
			v := strings.Fields(r)
			if len(v) != 5 {
				return nil, fmt.Errorf("load cascade %s: bad rect %q", path, r)
			}
			n := make([]float64, 5)
			for i, s := range v {
				if n[i], err = strconv.ParseFloat(strings.TrimSuffix(s, "."), 64); err != nil {
					return nil, fmt.Errorf("load cascade %s: bad rect %q", path, r)
				}
			}
			ft.rects = append(ft.rects, wrect{int(n[0]), int(n[1]), int(n[2]), int(n[3]), n[4]})
		}
		c.features = append(c.features, ft)
	}
	for _, s := range xc.Stages.Stage {
		st := stage{threshold: s.Threshold}
		for _, w := range s.Weak.Item {
			nodes, leaves := strings.Fields(w.Nodes), strings.Fields(w.Leaves)
			if len(nodes) != 4 || len(leaves) != 2 {
				return nil, fmt.Errorf("load cascade %s: only stump classifiers are supported", path)
			}
			fi, err1 := strconv.Atoi(nodes[2])
			th, err2 := strconv.ParseFloat(nodes[3], 64)
			l, err3 := strconv.ParseFloat(leaves[0], 64)
			r, err4 := strconv.ParseFloat(leaves[1], 64)
			if err1 != nil || err2 != nil || err3 != nil || err4 != nil || fi < 0 || fi >= len(c.features) {
				return nil, fmt.Errorf("load cascade %s: bad classifier %q", path, w.Nodes)
			}
			st.weak = append(st.weak, stump{feature: fi, threshold: th, left: l, right: r})
		}
		c.stages = append(c.stages, st)
	}
	return c, nil
}

// Detect returns the faces at least minFace pixels wide in a w×h greyscale
// picture (one byte a pixel, rows of w), largest first. Faces smaller than
// the cascade's window are never found; pictures of a few hundred pixels a
// side are what it is for.
func (c *Cascade) Detect(gray []byte, w, h, minFace int) []image.Rectangle {
	if w < c.w || h < c.h || len(gray) < w*h {
		return nil
	}
	var hits []image.Rectangle
	start := max(1, float64(minFace)/float64(c.w))
	for f := start; float64(w)/f >= float64(c.w) && float64(h)/f >= float64(c.h); f *= 1.1 {
		sw, sh := int(float64(w)/f), int(float64(h)/f)
		ii, sq := integrals(scaled(gray, w, h, sw, sh), sw, sh)
		step := 2
		if f > 2 {
			step = 1
		}
		for y := 0; y+c.h <= sh; y += step {
			for x := 0; x+c.w <= sw; x += step {
				if c.window(ii, sq, sw+1, x, y) {
					hits = append(hits, image.Rect(int(float64(x)*f), int(float64(y)*f),
						int(float64(x+c.w)*f), int(float64(y+c.h)*f)))
				}
			}
		}
	}
	return group(hits, 3, 0.2)
}

// window runs the cascade on the window at (x, y) of the integral images
// (stride s).
func (c *Cascade) window(ii []int64, sq []float64, s, x, y int) bool {
	sum := func(rx, ry, rw, rh int) int64 {
		a, b := (y+ry)*s+x+rx, (y+ry)*s+x+rx+rw
		cc, d := (y+ry+rh)*s+x+rx, (y+ry+rh)*s+x+rx+rw
		return ii[d] - ii[b] - ii[cc] + ii[a]
	}
	// Variance normalisation over the window less a one-pixel border, as
	// OpenCV does.
	nw, nh := c.w-2, c.h-2
	a, b := (y+1)*s+x+1, (y+1)*s+x+1+nw
	cc, d := (y+1+nh)*s+x+1, (y+1+nh)*s+x+1+nw
	vs := float64(ii[d] - ii[b] - ii[cc] + ii[a])
	vq := sq[d] - sq[b] - sq[cc] + sq[a]
	nf := float64(nw*nh)*vq - vs*vs
	if nf > 0 {
		nf = math.Sqrt(nf)
	} else {
		nf = 1
	}
	for _, st := range c.stages {
		total := 0.0
		for _, wk := range st.weak {
			v := 0.0
			for _, r := range c.features[wk.feature].rects {
				v += r.weight * float64(sum(r.x, r.y, r.w, r.h))
			}
			if v < wk.threshold*nf {
				total += wk.left
			} else {
				total += wk.right
			}
		}
		if total < st.threshold {
			return false
		}
	}
	return true
}

// scaled resizes gray to sw×sh by averaging (area sampling).
func scaled(gray []byte, w, h, sw, sh int) []byte {
	if sw == w && sh == h {
		return gray
	}
	out := make([]byte, sw*sh)
	fx, fy := float64(w)/float64(sw), float64(h)/float64(sh)
	for y := 0; y < sh; y++ {
		y0, y1 := int(float64(y)*fy), max(int(float64(y+1)*fy), int(float64(y)*fy)+1)
		for x := 0; x < sw; x++ {
			x0, x1 := int(float64(x)*fx), max(int(float64(x+1)*fx), int(float64(x)*fx)+1)
			total, n := 0, 0
			for yy := y0; yy < min(y1, h); yy++ {
				for xx := x0; xx < min(x1, w); xx++ {
					total += int(gray[yy*w+xx])
					n++
				}
			}
			out[y*sw+x] = byte(total / max(n, 1))
		}
	}
	return out
}

// integrals are the summed-area tables of g and of its squares, with a
// zero first row and column (stride w+1).
func integrals(g []byte, w, h int) ([]int64, []float64) {
	s := w + 1
	ii, sq := make([]int64, s*(h+1)), make([]float64, s*(h+1))
	for y := 0; y < h; y++ {
		var row int64
		var rowSq float64
		for x := 0; x < w; x++ {
			v := int64(g[y*w+x])
			row += v
			rowSq += float64(v * v)
			ii[(y+1)*s+x+1] = ii[y*s+x+1] + row
			sq[(y+1)*s+x+1] = sq[y*s+x+1] + rowSq
		}
	}
	return ii, sq
}

// group merges overlapping detections as OpenCV's groupRectangles does:
// rectangles whose corners are within eps of each other's size form a
// class; classes with more than minNeighbors members become their average.
func group(rs []image.Rectangle, minNeighbors int, eps float64) []image.Rectangle {
	label := make([]int, len(rs))
	for i := range label {
		label[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for label[i] != i {
			label[i] = label[label[i]]
			i = label[i]
		}
		return i
	}
	similar := func(a, b image.Rectangle) bool {
		delta := eps * float64(min(a.Dx(), b.Dx())+min(a.Dy(), b.Dy())) * 0.5
		return math.Abs(float64(a.Min.X-b.Min.X)) <= delta && math.Abs(float64(a.Min.Y-b.Min.Y)) <= delta &&
			math.Abs(float64(a.Max.X-b.Max.X)) <= delta && math.Abs(float64(a.Max.Y-b.Max.Y)) <= delta
	}
	for i := range rs {
		for j := i + 1; j < len(rs); j++ {
			if similar(rs[i], rs[j]) {
				label[find(i)] = find(j)
			}
		}
	}
	type acc struct{ x0, y0, x1, y1, n int }
	classes := map[int]*acc{}
	for i, r := range rs {
		k := find(i)
		a := classes[k]
		if a == nil {
			a = &acc{}
			classes[k] = a
		}
		a.x0, a.y0, a.x1, a.y1, a.n = a.x0+r.Min.X, a.y0+r.Min.Y, a.x1+r.Max.X, a.y1+r.Max.Y, a.n+1
	}
	var out []image.Rectangle
	for _, a := range classes {
		if a.n > minNeighbors {
			out = append(out, image.Rect(a.x0/a.n, a.y0/a.n, a.x1/a.n, a.y1/a.n))
		}
	}
	// Largest first; equal sizes by position, so the order is stable.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && less(out[j], out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func less(a, b image.Rectangle) bool {
	if a.Dx()*a.Dy() != b.Dx()*b.Dy() {
		return a.Dx()*a.Dy() > b.Dx()*b.Dy()
	}
	if a.Min.Y != b.Min.Y {
		return a.Min.Y < b.Min.Y
	}
	return a.Min.X < b.Min.X
}
