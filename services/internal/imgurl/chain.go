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
// rules of any conditional hold: none of those parameters, no layers, no
// client hints, no block inside a block; and a step where a chained block
// starts or ends holds no other if- block.
type ChainBlock struct {
	If         Cond
	Then, Else []Step
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
	if len(branch) == 0 {
		branch = []Step{{}}
	}
	out := make([]Step, 0, len(steps)-1+len(branch))
	out = append(out, steps[:i]...)
	out = append(out, branch...)
	return append(out, steps[i+1:]...), nil
}

// String is the block's canonical form, its branches' steps joined by ':'.
func (c ChainBlock) String() string {
	join := func(steps []Step) string {
		return Transformation{Steps: steps}.String()
	}
	s := "if-" + c.If.String()
	if t := join(c.Then); t != "" {
		s += "," + t
	}
	if e := join(c.Else); e != "" {
		s += ",if-else," + e
	}
	return s + ",if-end"
}

// parseSteps parses a chain of steps (s split at top-level ':'), reading an
// if- block that runs over a ':' into a ChainBlock step.
func parseSteps(s string) ([]Step, error) {
	raw := splitTop(s, ':')
	out := make([]Step, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		params := splitTop(raw[i], ',')
		open, err := openBlock(params)
		if err != nil {
			return nil, err
		}
		if open < 0 {
			st, err := parseStep(raw[i])
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
		steps, err := chainSteps(params, open, raw[i+1:j], splitTop(raw[j], ','), end)
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
func chainSteps(first []string, open int, middle []string, last []string, end int) ([]Step, error) {
	cond, err := parseCond(strings.TrimPrefix(first[open], "if-"))
	if err != nil {
		return nil, err
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
	before, liftedBefore, err := besideBlock(first[:open])
	if err != nil {
		return nil, err
	}
	after, liftedAfter, err := besideBlock(last[end+1:])
	if err != nil {
		return nil, err
	}
	block := &ChainBlock{If: cond}
	if block.Then, err = branchSteps(then, before, after); err != nil {
		return nil, err
	}
	if block.Else, err = branchSteps(els, before, after); err != nil {
		return nil, err
	}
	var out []Step
	for _, lifted := range [][]string{liftedBefore, nil, liftedAfter} {
		if lifted == nil {
			out = append(out, Step{Chain: block})
			continue
		}
		if len(lifted) > 0 {
			st, err := parseStep(strings.Join(lifted, ","))
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
	case key == "l":
		return unsupported("l", "layers inside conditionals")
	case (key == "w" || key == "dpr") && value == "auto":
		return unsupported(key+"-auto", "client hints inside conditionals")
	case isIfOpen(p):
		return invalidValue("if", "conditionals do not nest: close the block with if-end first")
	}
	return nil
}

// besideBlock sorts the parameters standing beside a chained block in its
// first or last step: those decided before the image is read are lifted
// out, the rest join the branches.
func besideBlock(params []string) (kept, lifted []string, err error) {
	lifted = []string{}
	for _, p := range params {
		key, _, _ := strings.Cut(p, "-")
		switch {
		case key == "if":
			return nil, nil, unsupported("if", "another if- block in a step where a chained if- block starts or ends")
		case condForbidden[key] != "":
			lifted = append(lifted, p)
		default:
			kept = append(kept, p)
		}
	}
	return kept, lifted, nil
}

// branchSteps parses a branch's groups as steps, the parameters beside the
// block joining its first and last; empty steps are dropped, as anywhere.
func branchSteps(groups [][]string, before, after []string) ([]Step, error) {
	groups = append([][]string(nil), groups...)
	groups[0] = append(append([]string(nil), before...), groups[0]...)
	last := len(groups) - 1
	groups[last] = append(append([]string(nil), groups[last]...), after...)
	var out []Step
	for _, g := range groups {
		st, err := parseStep(strings.Join(g, ","))
		if err != nil {
			return nil, err
		}
		if !st.IsZero() {
			out = append(out, st)
		}
	}
	return out, nil
}
