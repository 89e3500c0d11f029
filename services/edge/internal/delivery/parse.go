package delivery

import (
	"net/url"

	"github.com/maypok86/otter/v2"

	"pictor/services/edge/internal/routing"
	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

// parseMemo remembers parsed transformation strings. Parsing is a pure
// function of the raw strings, so entries never go stale; only the
// expansion of named transformations depends on the account and is redone
// per request. The memo is bounded: unique strings from a scanner cost one
// parse each and are evicted.
type parseMemo struct {
	entries *otter.Cache[string, *parsed]
}

type parsed struct {
	tr        imgurl.Transformation // shared, read-only
	canonical string
	named     bool // contains n-: must be expanded per account
}

func newParseMemo(size int) *parseMemo {
	return &parseMemo{entries: otter.Must(&otter.Options[string, *parsed]{MaximumSize: size})}
}

// parse returns the chained path and query transformation, expanded for acc,
// and its canonical form.
func (m *parseMemo) parse(pathSteps, querySteps string, acc *routing.Account) (imgurl.Transformation, string, error) {
	key := pathSteps + "\x00" + querySteps
	p, ok := m.entries.GetIfPresent(key)
	if !ok {
		var err error
		if p, err = parseRaw(pathSteps, querySteps); err != nil {
			return imgurl.Transformation{}, "", err
		}
		m.entries.Set(key, p)
	}
	if !p.named {
		return p.tr, p.canonical, nil
	}
	tr, err := imgurl.Expand(p.tr, func(name string) (string, bool) {
		def, ok := acc.NamedTransformations[name]
		return def, ok
	})
	if err != nil {
		return imgurl.Transformation{}, "", err
	}
	return tr, tr.String(), nil
}

func parseRaw(pathSteps, querySteps string) (*parsed, error) {
	ps, err := url.PathUnescape(pathSteps)
	if err != nil {
		return nil, errkind.New(errkind.Invalid, "bad_path", "malformed path escaping")
	}
	pt, err := imgurl.Parse(ps)
	if err != nil {
		return nil, err
	}
	qt, err := imgurl.Parse(querySteps)
	if err != nil {
		return nil, err
	}
	tr := imgurl.Chain(pt, qt)
	p := &parsed{tr: tr, canonical: tr.String()}
	for _, st := range tr.Steps {
		if st.Named != "" {
			p.named = true
		}
	}
	return p, nil
}
