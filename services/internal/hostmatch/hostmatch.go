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
	"errors"
	"strings"

	"pictor/services/internal/netguard"
)

// MaxPatterns bounds one origin's list.
const MaxPatterns = 100

// Check reports why pattern is not a valid host pattern, or nil; the
// error completes a sentence that starts with the quoted pattern. Forms
// Match could never admit (upper case, a port, a trailing dot) are refused
// rather than kept as patterns that silently admit nothing.
func Check(pattern string) error {
	h := pattern
	if h == "" {
		return errors.New("is empty; list host names such as images.example.com")
	}
	if strings.Contains(h, "://") || strings.HasPrefix(h, "http:") || strings.HasPrefix(h, "https:") || strings.ContainsAny(h, "/?#@\\") {
		return errors.New("must be a bare host name such as images.example.com, not a URL")
	}
	// "[::1]", "::1", "1.2.3.4", and the numeric spellings resolvers read
	// as IPv4 ("2130706433", "0x7f.1").
	if strings.HasPrefix(h, "[") || strings.Count(h, ":") > 1 {
		return errIP
	}
	if _, literal, obfuscated := netguard.HostLiteral(strings.TrimPrefix(h, "*.")); literal || obfuscated {
		return errIP
	}
	if strings.Contains(h, ":") {
		return errors.New("must not have a port: any port of the host is allowed")
	}
	if strings.ToLower(h) != h {
		return errors.New("must be lower case")
	}
	if strings.HasSuffix(h, ".") {
		return errors.New("must not end with a dot")
	}
	name := strings.TrimPrefix(h, "*.")
	if strings.Contains(name, "*") {
		return errors.New(`may only start with "*." (any subdomain); "*" is allowed nowhere else`)
	}
	if len(name) > 253 {
		return errors.New("is longer than 253 characters")
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("is not a valid host name (labels of 1 to 63 letters, digits and hyphens, separated by dots)")
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return errors.New("is not a valid host name (letters, digits, hyphens and dots; write international names in their xn-- form)")
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") && strings.Trim(last[2:], "0123456789abcdef") == "" {
		return errors.New("is not a host name: resolvers read a name whose last label is numeric as an IP address")
	}
	return nil
}

var errIP = errors.New("is an IP address; allowedHosts lists host names only")

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
