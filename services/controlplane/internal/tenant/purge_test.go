package tenant

import (
	"slices"
	"testing"

	"pictor/services/internal/errkind"
)

func TestParsePurgeURL(t *testing.T) {
	tests := []struct {
		raw, host, path string
		ok              bool
	}{
		{"http://edge.example:8081/demo/a.jpg", "edge.example", "/demo/a.jpg", true},
		{"https://IMG.Example.COM./tr:w-1/a.jpg?x=1#f", "img.example.com", "/tr:w-1/a.jpg", true},
		{"https://img.example.com", "img.example.com", "/", true},
		{"http://[::1]:8081/demo/a.jpg", "::1", "/demo/a.jpg", true},
		{"http://edge/demo/caf%C3%A9.jpg", "edge", "/demo/caf%C3%A9.jpg", true},
		{"http://edge/demo/café.jpg", "edge", "/demo/caf%C3%A9.jpg", true},
		{"", "", "", false},
		{"/demo/a.jpg", "", "", false},
		{"edge/demo/a.jpg", "", "", false},
		{"ftp://edge/demo/a.jpg", "", "", false},
		{"http://u:p@edge/demo/a.jpg", "", "", false},
		{"http://edge/demo/a b.jpg", "", "", false},
		{"http://edge/demo/a\\b.jpg", "", "", false},
		{"http:edge/demo", "", "", false},
	}
	for _, tt := range tests {
		u, err := ParsePurgeURL(tt.raw)
		if (err == nil) != tt.ok {
			t.Errorf("ParsePurgeURL(%q) = %v, want ok=%v", tt.raw, err, tt.ok)
			continue
		}
		if err != nil {
			if errkind.FieldOf(err) != "url" {
				t.Errorf("ParsePurgeURL(%q) names field %q", tt.raw, errkind.FieldOf(err))
			}
			continue
		}
		if u.Host != tt.host || u.Path != tt.path || u.Raw != tt.raw {
			t.Errorf("ParsePurgeURL(%q) = %+v, want host %q path %q", tt.raw, u, tt.host, tt.path)
		}
	}
}

func TestPurgePath(t *testing.T) {
	tests := []struct {
		rest, path string
		prefix, ok bool
	}{
		{"a/b.jpg", "a/b.jpg", false, true},
		{"tr:w-300,h-200/a/b.jpg", "a/b.jpg", false, true},
		{"a/*", "a/", true, true},
		{"shoe*", "shoe", true, true},
		{"*", "", true, true},
		{"tr:w-1/*", "", true, true},
		{"a/*/b.jpg", "a/*/b.jpg", false, true}, // only a trailing * is a wildcard
		// One normal form (RFC 3986 §6.2.2), as edges key paths.
		{"caf%c3%a9.jpg", "caf%C3%A9.jpg", false, true},
		{"%7Euser/%61.jpg", "~user/a.jpg", false, true},
		{"caf%c3%a9*", "caf%C3%A9", true, true},
		{"", "", false, false},
		{"tr:w-1", "", false, false},
		{"tr:w-1/", "", false, false},
		{"a/../b.jpg", "", false, false},
		{"a/%2e%2e/b.jpg", "", false, false},
		{"a%zz", "", false, false},
	}
	for _, tt := range tests {
		path, prefix, err := PurgePath(tt.rest)
		if (err == nil) != tt.ok || path != tt.path || prefix != tt.prefix {
			t.Errorf("PurgePath(%q) = %q, %v, %v; want %q, %v, ok=%v", tt.rest, path, prefix, err, tt.path, tt.prefix, tt.ok)
		}
	}
}

func TestNormalizeCustomDomains(t *testing.T) {
	got, err := NormalizeCustomDomains([]string{"Img.Example.COM.", "img.example.com:443", "b.example.com", "xn--bcher-kva.example"})
	if err != nil || !slices.Equal(got, []string{"img.example.com", "b.example.com", "xn--bcher-kva.example"}) {
		t.Fatalf("NormalizeCustomDomains = %v, %v", got, err)
	}
	if got, err := NormalizeCustomDomains(nil); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("nil list = %v, %v; want an empty list", got, err)
	}
	for _, bad := range []string{"", "localhost", "1.2.3.4", "[::1]", "a_b.example", "-a.example", "a..example", "bücher.example",
		"http://a.example", "a.example/x", "a.example:0", "a.example:x", "a.123"} {
		if _, err := NormalizeCustomDomains([]string{bad}); err == nil || errkind.FieldOf(err) != "customDomains" {
			t.Errorf("NormalizeCustomDomains(%q) = %v, want an error naming customDomains", bad, err)
		}
	}
	many := make([]string, MaxCustomDomains+1)
	for i := range many {
		many[i] = "d" + string(rune('a'+i)) + ".example"
	}
	if _, err := NormalizeCustomDomains(many); err == nil {
		t.Error("more than MaxCustomDomains accepted")
	}
}
