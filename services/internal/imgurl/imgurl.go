// Package imgurl is Pictor's transformation grammar: it parses ImageKit-style
// transformation strings ("w-300,h-200:rt-90") into typed steps, validates
// every value against the limits in DESIGN §3/§5, and prints a canonical
// form that is the cache key's view of a transformation.
//
// The edge parses request URLs with it and the control plane validates named
// transformations with it, so both sides agree on what is valid.
//
// Grammar: ':' chains steps (applied left to right), ',' separates
// parameters within a step, the first '-' splits a key from its value, '_'
// separates sub-values, a leading 'N' makes a number negative and '@@'
// stands for '/' inside a path value. A key Pictor knows but does not
// implement (layers, expressions, AI effects, video) is refused as
// unsupported, never ignored.
package imgurl

import (
	"fmt"
	"strings"

	"pictor/services/internal/errkind"
)

// MaxLength bounds a transformation string, so a hostile URL cannot make the
// parser or the cache key arbitrarily expensive.
const MaxLength = 2048

// MaxSteps bounds the chain length for the same reason.
const MaxSteps = 16

// Transformation is an ordered chain of steps.
type Transformation struct {
	Steps []Step
}

// Empty reports whether t changes nothing.
func (t Transformation) Empty() bool {
	for _, s := range t.Steps {
		if !s.IsZero() {
			return false
		}
	}
	return true
}

// String returns the canonical form: within a step, parameters in a fixed
// order with normalised values; empty steps dropped. Parsing the canonical
// form yields an equal Transformation.
func (t Transformation) String() string {
	var parts []string
	for _, s := range t.Steps {
		if c := s.String(); c != "" {
			parts = append(parts, c)
		}
	}
	return strings.Join(parts, ":")
}

// Chain returns a followed by b, as when a URL has both a path `tr:` segment
// and a `?tr=` query (path steps first).
func Chain(a, b Transformation) Transformation {
	steps := make([]Step, 0, len(a.Steps)+len(b.Steps))
	steps = append(steps, a.Steps...)
	steps = append(steps, b.Steps...)
	return Transformation{Steps: steps}
}

// PageOf is the page t asks to render (pg-, 1-based): the last step's that
// sets one, 0 when none does.
func PageOf(t Transformation) int {
	page := 0
	for _, s := range t.Steps {
		if s.Page != 0 {
			page = s.Page
		}
	}
	return page
}

// Parse parses a transformation string as found after "tr:" in a path or in
// the tr query parameter. An empty string is the empty transformation.
// Errors are errkind Invalid or Unsupported and name the parameter at fault.
func Parse(s string) (Transformation, error) {
	if s == "" {
		return Transformation{}, nil
	}
	if len(s) > MaxLength {
		return Transformation{}, errkind.New(errkind.Invalid, "transformation_too_long",
			fmt.Sprintf("transformation is longer than %d characters", MaxLength))
	}
	if n := len(splitTop(s, ':')); n > MaxSteps {
		return Transformation{}, errkind.New(errkind.Invalid, "too_many_steps",
			fmt.Sprintf("transformation has more than %d chained steps", MaxSteps))
	}
	steps, err := parseSteps(s)
	if err != nil {
		return Transformation{}, err
	}
	t := Transformation{Steps: steps}
	if n := t.CountLayers(); n > MaxLayers {
		return Transformation{}, errkind.New(errkind.Invalid, "too_many_layers",
			fmt.Sprintf("transformation has %d layers, over the limit of %d", n, MaxLayers))
	}
	return t, nil
}

func parseStep(s string) (Step, error) { return parseStepIn(s, false) }

// parseStepIn parses one step; inLayer says it is a layer's own.
func parseStepIn(s string, inLayer bool) (Step, error) {
	st := Step{inLayer: inLayer}
	if s == "" {
		return st, nil
	}
	// block is the conditional being read and branch the side of it that
	// parameters go to; nil outside a block.
	var block *Conditional
	var branch *Step
	for _, p := range splitTop(s, ',') {
		if p == "" {
			continue
		}
		key, value, hasValue := strings.Cut(p, "-")
		if key == "l" {
			l, err := parseLayerParam(p, 1+layerDepth(inLayer))
			if err != nil {
				return Step{}, err
			}
			if branch != nil {
				// Drawn when the branch holds, after the step's own layers.
				branch.Layers = append(branch.Layers, l)
			} else {
				st.Layers = append(st.Layers, l)
			}
			continue
		}
		if key == "if" {
			var err error
			if block, branch, err = conditional(&st, block, branch, value); err != nil {
				return Step{}, err
			}
			continue
		}
		dst := &st
		if branch != nil {
			if what, ok := condForbidden[key]; ok {
				return Step{}, errkind.New(errkind.Unsupported, "unsupported_parameter",
					fmt.Sprintf("transformation parameter %q cannot be set inside a conditional (%s is decided before the image is read)", key, what))
			}
			if (key == "w" || key == "dpr") && value == "auto" {
				return Step{}, unsupported(key+"-auto", "client hints inside conditionals")
			}
			dst = branch
		}
		if err := parseParam(dst, key, value, hasValue, inLayer); err != nil {
			return Step{}, err
		}
	}
	if block != nil {
		return Step{}, invalidValue("if", "an if- block has no if-end")
	}
	if len(st.Conds) > MaxConditionals {
		return Step{}, invalidValue("if", fmt.Sprintf("at most %d conditional blocks in a step", MaxConditionals))
	}
	return st, nil
}

// MaxConditionals bounds the if- blocks of one step.
const MaxConditionals = 4

// conditional reads "if-COND", "if-else" and "if-end": it opens a block,
// switches it to its else branch, or closes it onto st.
func conditional(st *Step, block *Conditional, branch *Step, value string) (*Conditional, *Step, error) {
	switch value {
	case "else":
		if block == nil || branch != &block.Then {
			return nil, nil, invalidValue("if", "if-else outside an if- block, or twice in one")
		}
		return block, &block.Else, nil
	case "end":
		if block == nil {
			return nil, nil, invalidValue("if", "if-end without an if- block")
		}
		st.Conds = append(st.Conds, *block)
		return nil, nil, nil
	}
	if block != nil {
		return nil, nil, invalidValue("if", "conditionals do not nest: close the block with if-end first")
	}
	c, err := parseCond(value)
	if err != nil {
		return nil, nil, err
	}
	block = &Conditional{If: c}
	return block, &block.Then, nil
}

// parseParam sets one key-value parameter on st.
func parseParam(st *Step, key, value string, hasValue, inLayer bool) error {
	if _, ok := exprKeys[key]; ok && hasValue && isExpression(value) {
		e, err := parseExprWith(key, value, inLayer)
		if err != nil {
			return err
		}
		st.setExpr(key, e)
		return nil
	}
	if err := checkUnsupported(key, value); err != nil {
		return err
	}
	if _, ok := layerKeys[key]; ok {
		return errLayerKey(key)
	}
	if _, ok := unsupportedInLayer[key]; ok {
		return errLayerKey(key)
	}
	spec, ok := specsByKey[key]
	if !ok {
		return errkind.New(errkind.Invalid, "unknown_parameter",
			fmt.Sprintf("unknown transformation parameter %q", key))
	}
	if !hasValue || value == "" {
		return invalidValue(key, "missing value")
	}
	if err := spec.parse(st, value); err != nil {
		return err
	}
	if len(st.Exprs) > 0 {
		st.dropExpr(key)
	}
	return nil
}

func invalidValue(key, why string) error {
	return errkind.New(errkind.Invalid, "invalid_parameter",
		fmt.Sprintf("invalid value for transformation parameter %q: %s", key, why))
}

// unsupportedKeys are parameters of ImageKit's grammar that Pictor does not
// implement. Answering "unsupported" keeps a URL written for ImageKit from
// silently rendering something different.
var unsupportedKeys = map[string]string{
	"so": "video", "eo": "video", "du": "video", "vc": "video", "ac": "video", "sr": "video",
	"abs": "video", "raw": "raw transformations",
}

var unsupportedEffects = map[string]bool{
	"upscale": true, "retouch": true, "genvar": true,
	"changebg": true, "bgremove": true, "removedotbg": true, "edit": true,
}

func checkUnsupported(key, value string) error {
	if what, ok := unsupportedKeys[key]; ok {
		return unsupported(key, what)
	}
	if key == "e" {
		name, _, _ := strings.Cut(value, "-")
		if unsupportedEffects[name] {
			return unsupported("e-"+name, "this effect")
		}
	}
	if key == "fo" && (strings.HasPrefix(value, "custom") || isObjectFocus(value)) {
		return unsupported("fo-"+value, "custom and object focus")
	}
	gradient := key == "e" && strings.HasPrefix(value, "gradient-")    // its sp parses its own expression
	if key != "di" && key != "n" && !gradient && isExpression(value) { // a path or a name may contain "_ch_"
		return errkind.New(errkind.Unsupported, "unsupported_parameter",
			fmt.Sprintf("transformation parameter %q does not take an arithmetic expression here (w, h, x, y, xc, yc, r, dpr and e-gradient's sp do, and in a layer lx, ly, lxc, lyc, and a text's fs, lh and pa)", key))
	}
	return nil
}

func unsupported(param, what string) error {
	return errkind.New(errkind.Unsupported, "unsupported_parameter",
		fmt.Sprintf("transformation parameter %q is unsupported (%s are not implemented)", param, what))
}

// isObjectFocus recognises ImageKit's object-detection focus names.
func isObjectFocus(v string) bool {
	switch v {
	case "person", "car", "dog", "cat", "bottle", "chair", "laptop", "bicycle":
		return true
	}
	return false
}
