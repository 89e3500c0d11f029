package tenant

import (
	"net/url"
	"strconv"
	"strings"

	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

// ParsePurgeURL takes apart the URL of a purge request (DESIGN §7). Which
// account and endpoint it names depends on stored data (custom domains,
// prefixes), so that is left to storage; PurgePath finishes the job.
func ParsePurgeURL(raw string) (PurgeURL, error) {
	const field = "url"
	switch {
	case raw == "":
		return PurgeURL{}, errkind.InvalidField(field, "url is required")
	case len(raw) > MaxURLLen:
		return PurgeURL{}, errkind.InvalidField(field, "url must be at most "+strconv.Itoa(MaxURLLen)+" bytes")
	case strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }):
		return PurgeURL{}, errkind.InvalidField(field, "url must not contain spaces, control characters or backslashes")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return PurgeURL{}, errkind.InvalidField(field, "url must be an absolute http or https URL of an image on Pictor")
	}
	if u.User != nil {
		return PurgeURL{}, errkind.InvalidField(field, "url must not contain credentials")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return PurgeURL{Raw: raw, Host: host, Path: p}, nil
}

// PurgePath turns the part of a purge URL's path after its endpoint
// (escaped, no leading slash) into the rule edges match cached paths
// against: a `tr:` segment is dropped (a purge covers every variant), and a
// trailing `*` makes the rule cover every path starting with the rest.
func PurgePath(rest string) (path string, prefix bool, err error) {
	const field = "url"
	_, path = imgurl.SplitPath(rest)
	if strings.HasSuffix(path, "*") {
		path, prefix = strings.TrimSuffix(path, "*"), true
	}
	if path == "" && !prefix {
		return "", false, errkind.InvalidField(field, "url names no image: give its path, or end it with * to purge everything under it")
	}
	decoded, uerr := url.PathUnescape(path)
	if uerr != nil {
		return "", false, errkind.InvalidField(field, "url has malformed %-escapes in its path")
	}
	for _, seg := range strings.Split(decoded, "/") {
		if seg == "." || seg == ".." {
			return "", false, errkind.InvalidField(field, "url must not contain '.' or '..' segments")
		}
	}
	// The edges key and match paths in their one normal form (RFC 3986
	// §6.2.2), so a purge of one spelling covers them all.
	return imgurl.NormalizeEscapes(path), prefix, nil
}
