// Package configrules holds the rules a tenant's configuration must keep
// (DESIGN §3, §8): the control plane refuses a write that breaks one, and
// an edge refuses (per account) a pushed config that does. Keeping them in
// one place means the two can never disagree about what is valid.
//
// Each check returns an error whose text completes a sentence that starts
// with the field's name ("must be 3 to 63 characters"), so the control
// plane can say "bucket must be 3 to 63 characters" and an edge "account
// "acme": origin "o1": bucket "x": must be 3 to 63 characters". Policy
// that depends on the deployment (private addresses allowed or not) is not
// here: the control plane applies it to literals, the edge's dialer to
// every address it connects to.
package configrules

import (
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"pictor/services/internal/netguard"
)

// Limits (bytes).
const (
	MaxURLLen      = 2048
	MaxPrefixLen   = 1024 // S3's bound on a whole key
	MaxSASTokenLen = 2048
)

var (
	accountIDPattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,39}$`)
	urlPrefixPattern      = regexp.MustCompile(`^[A-Za-z0-9-]{1,100}$`)
	bucketPattern         = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	bucketIPPattern       = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$`)
	containerPattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	storageAccountPattern = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
)

// reservedAccountIDs would shadow the edge's and control plane's own paths
// (DESIGN §3); names starting with "_" are excluded by the pattern.
var reservedAccountIDs = map[string]bool{
	"admin": true, "api": true, "v1": true, "healthz": true,
	"readyz": true, "metrics": true, "static": true,
}

// AccountID: the first path segment of every image URL of the account.
func AccountID(id string) error {
	switch {
	case !accountIDPattern.MatchString(id):
		return errors.New("must be 2 to 40 characters of a-z, 0-9, '_' and '-', starting with a letter or digit")
	case reservedAccountIDs[id]:
		return errors.New("is reserved")
	}
	return nil
}

// URLPrefix: a non-default endpoint's prefix, one path segment.
func URLPrefix(p string) error {
	if !urlPrefixPattern.MatchString(p) {
		return errors.New("must be 1 to 100 letters, digits and '-'")
	}
	return nil
}

// Domain: a custom domain as the edge matches Host headers (lower case,
// no port, no trailing dot), a DNS name of at least two labels whose last
// is not numeric. IP literals and single-label names are refused: bound to
// an endpoint they would capture traffic meant for every tenant reaching
// the edge by that address ("127.0.0.1", "localhost").
func Domain(d string) error {
	if d == "" || len(d) > 253 {
		return errors.New("is not a valid domain name")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return errors.New("must be a fully qualified domain name such as images.example.com")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("is not a valid domain name")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return errors.New("is not a valid domain name (write international names in their xn-- form)")
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return errors.New("is an IP address, not a domain")
	}
	return nil
}

// Bucket: S3's bucket naming rules.
func Bucket(b string) error {
	switch {
	case b == "":
		return errors.New("is required")
	case len(b) < 3 || len(b) > 63:
		return errors.New("must be 3 to 63 characters")
	case !bucketPattern.MatchString(b):
		return errors.New("must be lower-case letters, digits, '.' and '-', starting and ending with a letter or digit")
	case strings.Contains(b, ".."):
		return errors.New(`must not contain ".."`)
	case bucketIPPattern.MatchString(b):
		return errors.New("must not be an IP address")
	}
	return nil
}

// Container: Azure's container naming rules.
func Container(c string) error {
	switch {
	case c == "":
		return errors.New("is required")
	case len(c) < 3 || len(c) > 63:
		return errors.New("must be 3 to 63 characters")
	case !containerPattern.MatchString(c):
		return errors.New("must be lower-case letters, digits and '-', starting and ending with a letter or digit")
	case strings.Contains(c, "--"):
		return errors.New(`must not contain "--"`)
	}
	return nil
}

// StorageAccount: Azure's storage account naming rules.
func StorageAccount(a string) error {
	switch {
	case a == "":
		return errors.New("is required")
	case !storageAccountPattern.MatchString(a):
		return errors.New("must be 3 to 24 lower-case letters and digits")
	}
	return nil
}

// SASToken: a URL query string (a leading '?' is accepted) of printable
// ASCII with at least sv and sig. Messages never echo it: it is a secret.
func SASToken(raw string) error {
	t := strings.TrimPrefix(raw, "?")
	if len(t) > MaxSASTokenLen {
		return errors.New("must be at most " + strconv.Itoa(MaxSASTokenLen) + " characters")
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' {
			return errors.New("must be printable ASCII characters without spaces: a URL query string such as sv=...&sig=...")
		}
	}
	q, err := url.ParseQuery(t)
	if err != nil {
		return errors.New("must be a URL query string such as sv=...&sig=... (as Azure gives it, with or without the leading '?')")
	}
	if q.Get("sv") == "" || q.Get("sig") == "" {
		return errors.New("must include the sv and sig parameters: give the whole SAS query string Azure generated")
	}
	return nil
}

// KeyPrefix: a bucket's key prefix or a container's blob name prefix,
// optional. Trailing slashes are accepted (stored without them).
func KeyPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	switch {
	case len(prefix) > MaxPrefixLen:
		return errors.New("must be at most " + strconv.Itoa(MaxPrefixLen) + " bytes")
	case !utf8.ValidString(prefix):
		return errors.New("must be valid UTF-8")
	case strings.ContainsFunc(prefix, unicode.IsControl):
		return errors.New("must not contain control characters")
	case strings.Contains(prefix, "\\"):
		return errors.New("must not contain backslashes")
	case strings.HasPrefix(prefix, "/"):
		return errors.New("must not start with '/': it is a key prefix inside the bucket, such as images/originals")
	}
	for _, seg := range strings.Split(strings.TrimRight(prefix, "/"), "/") {
		switch seg {
		case ".", "..":
			return errors.New("must not contain '.' or '..' segments")
		case "":
			return errors.New(`must not contain empty segments ("//")`)
		}
	}
	return nil
}

// OriginURL parses an origin's base URL (or an S3-compatible endpoint):
// absolute http(s), a host that is an ASCII DNS name or a canonical IP
// literal (never a numeric form that smuggles an address), no
// credentials, query or fragment, nothing a URL parser reads two ways.
// literal is true when the host is an IP address, for the caller's
// address policy.
func OriginURL(raw string) (u *url.URL, literal bool, err error) {
	if raw == "" {
		return nil, false, errors.New("is required")
	}
	if len(raw) > MaxURLLen {
		return nil, false, errors.New("must be at most " + strconv.Itoa(MaxURLLen) + " bytes")
	}
	// Spaces, control characters and backslashes are read differently by
	// different URL parsers (browsers turn '\' into '/').
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }) {
		return nil, false, errors.New("must not contain spaces, control characters or backslashes")
	}
	if strings.Contains(raw, "#") {
		return nil, false, errors.New("must not have a fragment")
	}
	// An encoded host only exists to hide what it names (url.Parse would
	// decode some escapes and refuse others).
	if strings.Contains(authority(raw), "%") {
		return nil, false, errors.New("must not percent-encode its host")
	}
	u, perr := url.Parse(raw)
	switch {
	case perr != nil || u.Scheme == "" || u.Opaque != "":
		return nil, false, errors.New("must be an absolute http or https URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, false, errors.New("must use http or https")
	case u.User != nil:
		return nil, false, errors.New("must not contain credentials")
	case u.Host == "" || u.Hostname() == "":
		return nil, false, errors.New("must name a host")
	case strings.HasSuffix(u.Host, ":"):
		return nil, false, errors.New("has an empty port")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, false, errors.New("must not have a query: image paths are appended to it")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, false, errors.New("has an invalid port")
		}
	}
	addr, literal, obfuscated := netguard.HostLiteral(u.Hostname())
	switch {
	case obfuscated:
		return nil, false, errors.New("has a numeric host that is not a dotted-decimal IPv4 address")
	case literal && addr.Zone() != "":
		return nil, false, errors.New("must not have an IPv6 zone")
	case literal:
		return u, true, nil
	}
	if err := hostname(u.Hostname()); err != nil {
		return nil, false, err
	}
	return u, false, nil
}

// authority returns the raw "host[:port]" part of an absolute URL.
func authority(raw string) string {
	_, rest, ok := strings.Cut(raw, "//")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// hostname accepts an ASCII DNS name (IDNs in their xn-- form) whose last
// label is not numeric: resolvers and browsers read a name ending in a
// number as an IPv4 address.
func hostname(host string) error {
	name := strings.TrimSuffix(host, ".")
	if name == "" || len(name) > 253 {
		return errors.New("has an invalid host")
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("has an invalid host")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return errors.New("has an invalid host (write international names in their xn-- form)")
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" || strings.HasPrefix(strings.ToLower(last), "0x") && strings.Trim(strings.ToLower(last[2:]), "0123456789abcdef") == "" {
		return errors.New("has a numeric host that is not a dotted-decimal IPv4 address")
	}
	return nil
}
