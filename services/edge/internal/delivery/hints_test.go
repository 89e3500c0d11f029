package delivery

import (
	_ "image/png" // the f-png case
	"strconv"
	"testing"
)

// TestClientHints serves w-auto and dpr-auto from a real origin's 600×400
// photo: the size each hint asks for, Vary naming what was consulted,
// Content-DPR, and a cache entry per resolved size.
func TestClientHints(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name       string
		target     string
		hdr        map[string]string
		width      int
		xcache     string
		vary       string
		contentDPR string
	}{
		{name: "w-auto without a hint: no width", target: "/demo/tr:w-auto/photo.jpg",
			width: 600, xcache: "MISS", vary: "Accept, Sec-CH-Width, Width, Sec-CH-DPR, DPR"},
		{name: "w-auto rounds the hint up", target: "/demo/tr:w-auto/photo.jpg", hdr: map[string]string{"Sec-CH-Width": "320"},
			width: 400, xcache: "MISS", vary: "Accept, Sec-CH-Width, Width, Sec-CH-DPR, DPR", contentDPR: "1.25"},
		{name: "another hint in the same 100 shares the entry", target: "/demo/tr:w-auto/photo.jpg", hdr: map[string]string{"Sec-CH-Width": "399", "Sec-CH-DPR": "2"},
			width: 400, xcache: "HIT-L1", vary: "Accept, Sec-CH-Width, Width, Sec-CH-DPR, DPR", contentDPR: "2.01"},
		{name: "an explicit w-400 is the same variant", target: "/demo/tr:w-400/photo.jpg",
			width: 400, xcache: "HIT-L1", vary: "Accept"},
		{name: "older Width spelling", target: "/demo/tr:w-auto/photo.jpg", hdr: map[string]string{"Width": "150"},
			width: 200, xcache: "MISS", vary: "Accept, Sec-CH-Width, Width, Sec-CH-DPR, DPR", contentDPR: "1.33"},
		{name: "Sec-CH-Width wins over Width", target: "/demo/tr:w-auto/photo.jpg", hdr: map[string]string{"Sec-CH-Width": "250", "Width": "150"},
			width: 300, xcache: "MISS", vary: "Accept, Sec-CH-Width, Width, Sec-CH-DPR, DPR", contentDPR: "1.2"},
		{name: "dpr-auto multiplies", target: "/demo/tr:w-100,dpr-auto/photo.jpg", hdr: map[string]string{"Sec-CH-DPR": "2"},
			width: 200, xcache: "MISS", vary: "Accept, Sec-CH-DPR, DPR", contentDPR: "2"},
		{name: "dpr-auto without a hint is dpr 1", target: "/demo/tr:w-100,dpr-auto/photo.jpg",
			width: 100, xcache: "MISS", vary: "Accept, Sec-CH-DPR, DPR"},
		{name: "older DPR spelling", target: "/demo/tr:w-100,dpr-auto/photo.jpg", hdr: map[string]string{"DPR": "3"},
			width: 300, xcache: "MISS", vary: "Accept, Sec-CH-DPR, DPR", contentDPR: "3"},
		{name: "a width hint makes dpr-auto moot", target: "/demo/tr:w-auto,dpr-auto/photo.jpg", hdr: map[string]string{"Sec-CH-Width": "500", "Sec-CH-DPR": "2"},
			width: 500, xcache: "MISS", vary: "Accept, Sec-CH-Width, Width, Sec-CH-DPR, DPR", contentDPR: "2"},
		{name: "a garbage hint is no hint", target: "/demo/tr:w-auto,h-100/photo.jpg", hdr: map[string]string{"Sec-CH-Width": "wide"},
			width: 150, xcache: "MISS", vary: "Accept, Sec-CH-Width, Width, Sec-CH-DPR, DPR"},
		{name: "hints on a URL without auto change nothing", target: "/demo/tr:w-120/photo.jpg", hdr: map[string]string{"Sec-CH-Width": "800", "Sec-CH-DPR": "3"},
			width: 120, xcache: "MISS", vary: "Accept"},
		{name: "explicit format: only the hints vary", target: "/demo/tr:w-auto,f-png/photo.jpg", hdr: map[string]string{"Sec-CH-Width": "90"},
			width: 100, xcache: "MISS", vary: "Sec-CH-Width, Width, Sec-CH-DPR, DPR", contentDPR: "1.11"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do("GET", tc.target, tc.hdr)
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if gw, _ := decodeSize(t, w.Body.Bytes()); gw != tc.width {
				t.Errorf("width %d, want %d", gw, tc.width)
			}
			h := w.Result().Header
			if got := h.Get("X-Cache"); got != tc.xcache {
				t.Errorf("X-Cache %q, want %q", got, tc.xcache)
			}
			if got := h.Values("Vary"); len(got) != 1 || got[0] != tc.vary {
				t.Errorf("Vary %q, want %q", got, tc.vary)
			}
			if got := h.Get("Content-DPR"); got != tc.contentDPR {
				t.Errorf("Content-DPR %q, want %q", got, tc.contentDPR)
			}
		})
	}
}

// TestClientHintsNotMemoised: the fast front's hit memo matches a request
// on Host, URI and Accept alone, so an answer that depends on a hint must
// never be served from it to a request with another hint.
func TestClientHintsNotMemoised(t *testing.T) {
	f := newFixture(t)
	p := newFrontPair(t, f.handler.(*Handler))
	url := p.fast + "/demo/tr:w-auto/photo.jpg"
	for i, tc := range []struct {
		width, want int
		xcache      string
	}{
		{320, 400, "MISS"}, {320, 400, "HIT-L1"}, {320, 400, "HIT-L1"}, // the third would be a memo hit
		{120, 200, "MISS"}, {320, 400, "HIT-L1"}, {120, 200, "HIT-L1"},
	} {
		r := fetch(t, "GET", url, map[string]string{"Sec-CH-Width": strconv.Itoa(tc.width)})
		if r.status != 200 || r.header.Get("X-Cache") != tc.xcache {
			t.Fatalf("request %d: status %d, X-Cache %q; want 200, %q", i, r.status, r.header.Get("X-Cache"), tc.xcache)
		}
		if w, _ := decodeSize(t, []byte(r.body)); w != tc.want {
			t.Fatalf("request %d (Sec-CH-Width %d): width %d, want %d", i, tc.width, w, tc.want)
		}
	}
}
