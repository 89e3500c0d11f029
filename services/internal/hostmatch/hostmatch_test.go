package hostmatch

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, pattern string
		has           string // in the error; "" for a valid pattern
	}{
		{"name", "images.example.com", ""},
		{"wildcard", "*.example.com", ""},
		{"single label", "localhost", ""},
		{"upper case", "Images.example.com", "lower case"},
		{"IPv4", "127.0.0.1", "IP address"},
		{"IPv6", "[::1]", "IP address"},
		{"bare IPv6", "::1", "IP address"},
		{"numeric IPv4 spelling", "2130706433", "IP address"},
		{"hex IPv4 spelling", "0x7f.1", "IP address"},
		{"wildcard IP", "*.10.0.0.1", "IP address"},
		{"numeric last label", "a.123", "numeric"},
		{"port", "example.com:8080", "port"},
		{"scheme", "https://example.com", "not a URL"},
		{"path", "example.com/a", "not a URL"},
		{"wildcard inside", "a.*.example.com", `"*" is allowed nowhere else`},
		{"trailing dot", "example.com.", "dot"},
		{"empty", "", "empty"},
		{"empty label", "a..b", "not a valid host name"},
		{"leading hyphen", "-a.example.com", "not a valid host name"},
		{"underscore", "a_b.example.com", "not a valid host name"},
		{"label too long", strings.Repeat("a", 64) + ".com", "not a valid host name"},
		{"name too long", strings.Repeat("a.", 127) + "com", "longer than 253"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.pattern)
			if tc.has == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v", tc.pattern, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.has) {
				t.Fatalf("Check(%q) = %v, want an error with %q", tc.pattern, err, tc.has)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	list := []string{"images.example.com", "*.cdn.example.net"}
	for _, tc := range []struct {
		name     string
		host     string
		patterns []string
		want     bool
	}{
		{"no list admits any host", "anything.example", nil, true},
		{"exact", "images.example.com", list, true},
		{"case and port", "IMAGES.Example.com:443", list, true},
		{"trailing dot", "images.example.com.", list, true},
		{"another host", "evil.example.com", list, false},
		{"a suffix is not a subdomain", "evilimages.example.com", list, false},
		{"wildcard subdomain", "a.b.cdn.example.net", list, true},
		{"wildcard apex", "cdn.example.net", list, false},
		{"wildcard lookalike", "xcdn.example.net", list, false},
		{"IPv6 literal with port", "[::1]:8080", list, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Match(tc.host, tc.patterns); got != tc.want {
				t.Fatalf("Match(%q, %q) = %v, want %v", tc.host, tc.patterns, got, tc.want)
			}
		})
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{"images.example.com", "IMAGES.Example.com:443", "[::1]:8080", "a.b.cdn.example.net", ""} {
		f.Add(s, "*.cdn.example.net")
	}
	f.Fuzz(func(t *testing.T, host, pattern string) {
		if Check(pattern) != nil {
			return
		}
		// A host that matches a valid pattern ends with the pattern's name.
		if Match(host, []string{pattern}) {
			h := strings.TrimSuffix(strings.ToLower(host), ".")
			if !strings.Contains(h, strings.TrimPrefix(pattern, "*.")) {
				t.Fatalf("Match(%q, %q) but the host does not hold the name", host, pattern)
			}
		}
	})
}
