package imgurl

import (
	"fmt"
	"strings"

	"pictor/services/internal/errkind"
)

// ChainBlock is an if- block whose branches are chains of steps, as
// ImageKit allows ("transformations_on_true … can be a chain of
// transformations as well"): tr:if-ar_gt_1,w-200:rt-90,if-else,w-300,if-end.
// It reads as text: the block is replaced by the branch that holds, and
// the parameters before the block in its first step and after it in its
// last join that branch's first and last steps, so
// "w-100,if-c,w-200:rt-90,if-end:bl-5" is "w-100,w-200:rt-90:bl-5" when c
// holds and "w-100:bl-5" when it does not. The condition is evaluated
// once, on the image as the block's first step receives it (Unfold).
//
// Parameters decided before the image is read (f, q, …, see condForbidden)
// that stand beside the block are lifted into steps of their own around it,
// where they act as they would anywhere in the chain. Within a branch the
// rules of any conditional hold: none of those parameters, no client
// hints, no block inside a block. Beside a chained block any other
// parameter may stand, a step's own if- blocks too, but not a second
// chained block beginning in the step where one ends.
type ChainBlock struct {
	If         Cond
	Then, Else []Step // the branches' steps, empty ones kept where written
	// Before and After are the parameters beside the block in the step it
	// starts in and the step it ends in.
	Before, After Step
}

// Unfold returns steps with steps[i], when it is a chained block, replaced
// by the steps of its branch that holds on v (one empty step for an empty
// branch, so that steps[i] exists); other steps are returned as they are.
func Unfold(steps []Step, i int, v Vars) ([]Step, error) {
	if i >= len(steps) || steps[i].Chain == nil {
		return steps, nil
	}
	c := steps[i].Chain
	ok, err := c.If.Holds(v)
	if err != nil {
		return nil, invalidValue("if", err.Error())
	}
	branch := c.Else
	if ok {
		branch = c.Then
	}
	branch = append([]Step(nil), branch...)
	if len(branch) == 0 {
		branch = []Step{{}}
	}
	last := len(branch) - 1
	if branch[0], err = joinSteps(c.Before, branch[0]); err != nil {
		return nil, err
	}
	if branch[last], err = joinSteps(branch[last], c.After); err != nil {
		return nil, err
	}
	out := make([]Step, 0, len(steps)-1+len(branch))
	out = append(out, steps[:i]...)
	out = append(out, branch...)
	return append(out, steps[i+1:]...), nil
}

// steps lists every step the block holds, beside ones first: withSteps
// takes them back in the same order.
func (c *ChainBlock) steps() Transformation {
	return Transformation{Steps: append(append([]Step{c.Before, c.After}, c.Then...), c.Else...)}
}

func (c *ChainBlock) withSteps(all []Step) *ChainBlock {
	n := len(c.Then)
	return &ChainBlock{If: c.If, Before: all[0], After: all[1], Then: all[2 : 2+n], Else: all[2+n:]}
}

// joinSteps is one step with a's parameters, then b's (which win).
func joinSteps(a, b Step) (Step, error) {
	if a.IsZero() {
		return b, nil
	}
	if b.IsZero() {
		return a, nil
	}
	return parseStepIn(joinNonEmpty(a.String(), b.String()), a.inLayer || b.inLayer)
}

// String is the block's canonical form, its branches' steps joined by ':'.
func (c ChainBlock) String() string {
	// Empty steps are kept: "w-100,if-c,:rt-90,if-end" is w-100 then a
	// rotation, not both in one step.
	join := func(steps []Step) string {
		parts := make([]string, len(steps))
		for i, st := range steps {
			parts[i] = st.String()
		}
		return strings.Join(parts, ":")
	}
	var parts []string
	if b := c.Before.String(); b != "" {
		parts = append(parts, b)
	}
	parts = append(parts, "if-"+c.If.String())
	if t := join(c.Then); t != "" {
		parts = append(parts, t)
	}
	if e := join(c.Else); e != "" {
		parts = append(parts, "if-else", e)
	}
	parts = append(parts, "if-end")
	if a := c.After.String(); a != "" {
		parts = append(parts, a)
	}
	return strings.Join(parts, ",")
}

// parseSteps parses a chain of steps (s split at top-level ':'), reading an
// if- block that runs over a ':' into a ChainBlock step.
func parseSteps(s string) ([]Step, error) { return parseStepsIn(s, false) }

// parseStepsIn is parseSteps for a transformation's steps or, inLayer, a
// layer's own.
func parseStepsIn(s string, inLayer bool) ([]Step, error) {
	raw := splitTop(s, ':')
	out := make([]Step, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		params := splitTop(raw[i], ',')
		open, err := openBlock(params)
		if err != nil {
			return nil, err
		}
		if open < 0 {
			st, err := parseStepIn(raw[i], inLayer)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
			continue
		}
		j, end, err := blockEnd(raw, i+1)
		if err != nil {
			return nil, err
		}
		steps, err := chainSteps(params, open, raw[i+1:j], splitTop(raw[j], ','), end, inLayer)
		if err != nil {
			return nil, err
		}
		out = append(out, steps...)
		i = j
	}
	return out, nil
}

func isIfOpen(p string) bool { return strings.HasPrefix(p, "if-") && p != "if-else" && p != "if-end" }

// openBlock is the index of the if- block left open at the end of a
// step's parameters, or -1 when every block closes in the step.
func openBlock(params []string) (int, error) {
	open := -1
	for k, p := range params {
		switch {
		case isIfOpen(p):
			if open >= 0 {
				return 0, invalidValue("if", "conditionals do not nest: close the block with if-end first")
			}
			open = k
		case p == "if-end":
			open = -1
		}
	}
	return open, nil
}

// blockEnd finds the if-end closing a block left open before raw[from]:
// the step and the parameter it is in.
func blockEnd(raw []string, from int) (int, int, error) {
	for j := from; j < len(raw); j++ {
		for k, p := range splitTop(raw[j], ',') {
			switch {
			case p == "if-end":
				return j, k, nil
			case isIfOpen(p):
				return 0, 0, invalidValue("if", "conditionals do not nest: close the block with if-end first")
			}
		}
	}
	return 0, 0, invalidValue("if", "an if- block has no if-end")
}

// chainSteps reads one chained block: first are the parameters of the step
// where it opens (at first[open]), middle the steps it spans whole, last
// the parameters of the step where it ends (at last[end]).
func chainSteps(first []string, open int, middle []string, last []string, end int, inLayer bool) ([]Step, error) {
	cond, err := parseCond(strings.TrimPrefix(first[open], "if-"))
	if err != nil {
		return nil, err
	}
	if k, err := openBlock(last[end+1:]); err != nil || k >= 0 {
		return nil, unsupported("if", "a chained if- block beginning in the step where another ends")
	}
	groups := [][]string{first[open+1:]}
	for _, m := range middle {
		groups = append(groups, splitTop(m, ','))
	}
	groups = append(groups, last[:end])
	then, els, err := splitElse(groups)
	if err != nil {
		return nil, err
	}
	block := &ChainBlock{If: cond}
	if block.Then, err = branchSteps(then, inLayer); err != nil {
		return nil, err
	}
	if block.Else, err = branchSteps(els, inLayer); err != nil {
		return nil, err
	}
	before, liftedBefore := besideBlock(first[:open])
	after, liftedAfter := besideBlock(last[end+1:])
	if block.Before, err = parseStepIn(strings.Join(before, ","), inLayer); err != nil {
		return nil, err
	}
	if block.After, err = parseStepIn(strings.Join(after, ","), inLayer); err != nil {
		return nil, err
	}
	var out []Step
	for _, lifted := range [][]string{liftedBefore, nil, liftedAfter} {
		if lifted == nil {
			out = append(out, Step{Chain: block, inLayer: inLayer})
			continue
		}
		if len(lifted) > 0 {
			st, err := parseStepIn(strings.Join(lifted, ","), inLayer)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// splitElse splits the block's groups of parameters (one per step) at its
// if-else into the two branches; without one the else branch is one empty
// group, so the parameters beside the block still make a step.
func splitElse(groups [][]string) (then, els [][]string, err error) {
	els = [][]string{nil}
	then = groups
	found := false
	for g, params := range groups {
		for k, p := range params {
			if p != "if-else" {
				if err := condParam(p); err != nil {
					return nil, nil, err
				}
				continue
			}
			if found {
				return nil, nil, invalidValue("if", "if-else outside an if- block, or twice in one")
			}
			found = true
			then = append(append([][]string(nil), groups[:g]...), params[:k])
			els = append([][]string{params[k+1:]}, groups[g+1:]...)
		}
	}
	return then, els, nil
}

// condParam applies the rules of a conditional's branch to one parameter.
func condParam(p string) error {
	key, value, _ := strings.Cut(p, "-")
	if what, ok := condForbidden[key]; ok {
		return errkind.New(errkind.Unsupported, "unsupported_parameter",
			fmt.Sprintf("transformation parameter %q cannot be set inside a conditional (%s is decided before the image is read)", key, what))
	}
	switch {
	case (key == "w" || key == "dpr") && value == "auto":
		return unsupported(key+"-auto", "client hints inside conditionals")
	case isIfOpen(p):
		return invalidValue("if", "conditionals do not nest: close the block with if-end first")
	}
	return nil
}

// besideBlock sorts the parameters standing beside a chained block in its
// first or last step: those decided before the image is read are lifted
// out (lifted is never nil), the rest stay beside it.
func besideBlock(params []string) (kept, lifted []string) {
	lifted = []string{}
	for _, p := range params {
		key, _, _ := strings.Cut(p, "-")
		if condForbidden[key] != "" {
			lifted = append(lifted, p)
		} else {
			kept = append(kept, p)
		}
	}
	return kept, lifted
}

// branchSteps parses a branch's groups of parameters as steps, one a group.
func branchSteps(groups [][]string, inLayer bool) ([]Step, error) {
	out := make([]Step, 0, len(groups))
	for _, g := range groups {
		st, err := parseStepIn(strings.Join(g, ","), inLayer)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}
