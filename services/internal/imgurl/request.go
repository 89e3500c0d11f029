package imgurl

import (
	"fmt"
	"net/url"
	"strings"

	"pictor/services/internal/errkind"
)

// SplitPath separates an optional leading "tr:" segment from the image path
// in the part of a request path that follows the URL-endpoint, e.g.
// "tr:w-300/a/b.jpg" → ("w-300", "a/b.jpg"). Both are still escaped.
func SplitPath(rest string) (steps, imagePath string) {
	if !strings.HasPrefix(rest, "tr:") {
		return "", rest
	}
	seg, after, _ := strings.Cut(rest, "/")
	return strings.TrimPrefix(seg, "tr:"), after
}

// Query is a request's query string split into Pictor's own parameters and
// the rest, which is forwarded to the origin and is part of the cache key.
type Query struct {
	Transformation string // tr
	Signature      string // ik-s
	Expires        string // ik-t
	Attachment     bool   // ik-attachment=true
	Forward        string // every other parameter, raw, in its original order
}

// SplitQuery splits a raw query string without re-encoding the parameters it
// forwards, so the origin sees them exactly as the client sent them.
func SplitQuery(raw string) (Query, error) {
	var q Query
	var fwd []string
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return Query{}, errkind.New(errkind.Invalid, "bad_query", "malformed query string")
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return Query{}, errkind.New(errkind.Invalid, "bad_query", "malformed query string")
		}
		switch key {
		case "tr":
			if q.Transformation != "" {
				q.Transformation += ":" + val
			} else {
				q.Transformation = val
			}
		case "ik-s":
			q.Signature = val
		case "ik-t":
			q.Expires = val
		case "ik-attachment":
			q.Attachment = val == "true"
		default:
			fwd = append(fwd, part)
		}
	}
	q.Forward = strings.Join(fwd, "&")
	return q, nil
}

// Expand replaces every n-{name} with the named transformation lookup
// returns. When the step sets other parameters too, they are applied on top
// of the named transformation's last step, so "n-thumb,q-50" is the thumb
// preset with quality 50. Named transformations cannot nest.
func Expand(t Transformation, lookup func(name string) (string, bool)) (Transformation, error) {
	out := Transformation{Steps: make([]Step, 0, len(t.Steps))}
	for _, st := range t.Steps {
		if st.Named == "" {
			out.Steps = append(out.Steps, st)
			continue
		}
		def, ok := lookup(st.Named)
		if !ok {
			return Transformation{}, errkind.New(errkind.Invalid, "unknown_named_transformation",
				fmt.Sprintf("unknown named transformation %q", st.Named))
		}
		named, err := ParseNamed(def)
		if err != nil {
			return Transformation{}, errkind.Wrap(errkind.Invalid, "bad_named_transformation",
				fmt.Sprintf("named transformation %q is invalid", st.Named), err)
		}
		own := st
		own.Named = ""
		if len(named.Steps) == 0 {
			out.Steps = append(out.Steps, own)
			continue
		}
		last := named.Steps[len(named.Steps)-1]
		merged, err := parseStep(joinNonEmpty(last.String(), own.String()))
		if err != nil {
			return Transformation{}, err
		}
		out.Steps = append(out.Steps, named.Steps[:len(named.Steps)-1]...)
		out.Steps = append(out.Steps, merged)
	}
	if len(out.Steps) > MaxSteps {
		return Transformation{}, errkind.New(errkind.Invalid, "too_many_steps",
			fmt.Sprintf("transformation has more than %d chained steps after expanding named transformations", MaxSteps))
	}
	return out, nil
}

// ParseNamed parses the definition of a named transformation: the normal
// grammar, minus n- (named transformations do not nest).
func ParseNamed(def string) (Transformation, error) {
	t, err := Parse(def)
	if err != nil {
		return Transformation{}, err
	}
	for _, st := range t.Steps {
		if st.Named != "" {
			return Transformation{}, errkind.New(errkind.Invalid, "nested_named_transformation",
				"a named transformation cannot refer to another one (n-)")
		}
	}
	return t, nil
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "," + b
}

// NormalizeEscapes puts an escaped URL path or query in one form (RFC 3986
// §6.2.2): percent-encodings of unreserved characters (letters, digits,
// "-", ".", "_", "~") are decoded, the others are written with upper-case
// hex, and bytes that may not appear raw in a URL (controls, space,
// non-ASCII, as some clients send UTF-8) are percent-encoded. Reserved
// characters keep their meaning: "/" and "%2F" stay different. Two
// spellings of one path normalise to the same string, so they share a
// cache entry, one purge covers both, and the origin sees one form. A "%"
// that starts no escape is itself escaped ("%25"), which keeps the form
// stable when normalised again.
func NormalizeEscapes(s string) string {
	if !needsNormalizing(s) {
		return s // the common case: nothing to change, nothing allocated
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(v) {
				b.WriteByte(v)
			} else {
				writeEscape(&b, v)
			}
			i += 2
		case c <= ' ' || c >= 0x7f || c == '%':
			writeEscape(&b, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func needsNormalizing(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '%' || c <= ' ' || c >= 0x7f {
			return true
		}
	}
	return false
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func writeEscape(b *strings.Builder, c byte) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&15])
}
