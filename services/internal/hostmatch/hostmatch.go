// Package hostmatch is the one rule for the host lists of web-proxy origins
// (allowedHosts, a Pictor extension): which patterns are valid, checked by
// the control plane when an origin is saved, and which hosts they admit,
// checked by the edge before every request and redirect it proxies.
//
// A pattern is a lower-case DNS name ("images.example.com") or "*." and a
// name ("*.example.com"), which admits every name under it but not the name
// itself, as a TLS wildcard does. IP literals are not patterns: a proxy
// that may only fetch from named hosts cannot be pointed at an address.
package hostmatch

import (
	"fmt"
	"net/netip"
	"strings"
)

// MaxPatterns bounds one origin's list.
const MaxPatterns = 100

// Check reports why pattern is not a valid host pattern, or nil.
func Check(pattern string) error {
	name := strings.TrimPrefix(pattern, "*.")
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return fmt.Errorf("%q is an IP address; allowedHosts names hosts", pattern)
	}
	if name != strings.ToLower(name) {
		return fmt.Errorf("%q: host names are lower case", pattern)
	}
	if len(name) == 0 || len(name) > 253 {
		return fmt.Errorf("%q is not a host name", pattern)
	}
	for _, label := range strings.Split(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a host name", pattern)
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("%q is not a host name (letters, digits, '-' and '.'; '*.' only in front)", pattern)
			}
		}
	}
	return nil
}

// Match reports whether host (as in a URL, any case, maybe with a port or
// a trailing dot) is admitted by patterns; an empty list admits any host.
func Match(host string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for _, p := range patterns {
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			if strings.HasSuffix(h, "."+rest) {
				return true
			}
		} else if h == p {
			return true
		}
	}
	return false
}
