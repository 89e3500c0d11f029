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
