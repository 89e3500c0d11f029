package imgurl

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"pictor/services/internal/errkind"
)

// Arithmetic expressions and conditionals, ImageKit's way: a numeric
// parameter may be an expression over the image's dimensions
// ("w-iw_div_2", "h-ch_sub_20"), and a step may hold blocks that apply only
// when a condition on them holds ("if-iw_gt_1000,w-1000,if-else,w-iw,if-end").
// Both depend on the image, so they are kept as parsed here, printed in
// canonical form for the cache key, and bound to numbers by Step.Bind when
// the transform engine reaches the step and knows the sizes.
//
// Variables: iw, ih, iar (the input image: width, height, width ÷ height)
// and cw, ch, car (the image as the step receives it, after the steps
// before it); inside a layer, bw, bh and bar name the base it is drawn on
// (elsewhere they are refused). Operators add, sub, mul, div, mod and
// pow, with the usual precedence (pow first, right to left; then mul, div,
// mod; then add, sub; each level left to right). Numbers are plain
// decimals, N for negative.

// MaxExprOperands bounds an expression, so a URL cannot make one expensive.
const MaxExprOperands = 8

// exprKeys are the parameters whose value may be an expression; Bind writes
// the evaluated value back through the parameter's own parser, so the
// limits and messages are those of a literal.
var exprKeys = map[string]func(*Step){
	"w":  func(s *Step) { s.Width, s.WidthAuto = Size{}, false },
	"h":  func(s *Step) { s.Height = Size{} },
	"x":  func(s *Step) { s.X = OptInt{} },
	"y":  func(s *Step) { s.Y = OptInt{} },
	"xc": func(s *Step) { s.XC = OptInt{} },
	"yc": func(s *Step) { s.YC = OptInt{} },
	"r":  func(s *Step) { s.Radius, s.RadiusMax = 0, false },
	// dpr keeps two decimals where the others round to whole pixels.
	"dpr": func(s *Step) { s.DPR, s.DPRAuto = 0, false },
}

// Vars are the values an expression can name.
type Vars struct {
	IW, IH int // the input image
	CW, CH int // the image as the step receives it
	BW, BH int // inside a layer: the base it is drawn on
}

// Expr is a parsed expression: operands and the operators between them.
type Expr struct {
	operands []operand
	ops      []string // len(operands)-1
}

type operand struct {
	name  string // a variable, or "" for a number
	value float64
	ratio string // a condition's W-H ratio as written ("4-3"); value is W÷H
}

// KeyExpr is a parameter given as an expression.
type KeyExpr struct {
	Key  string
	Expr *Expr
}

var exprOps = map[string]int{"add": 1, "sub": 1, "mul": 2, "div": 2, "mod": 2, "pow": 3}

// isExpression recognises a value that names a variable or an operator:
// "iw_div_2", "ch", "ih_mul_0.5". Plain numbers, colours and words like
// "auto" are not.
func isExpression(v string) bool {
	for _, tok := range strings.Split(v, "_") {
		if _, ok := exprOps[tok]; ok {
			return true
		}
		if _, ok := variableNames[tok]; ok {
			return true
		}
	}
	return false
}

var variableNames = map[string]bool{"iw": true, "ih": true, "iar": true, "cw": true, "ch": true, "car": true,
	"bw": false, "bh": false, "bar": false} // false: only inside a layer

func parseExpr(key, v string) (*Expr, error) { return parseExprIn(key, v, false, false) }

// parseExprWith parses an expression; inLayer admits the base variables.
func parseExprWith(key, v string, inLayer bool) (*Expr, error) {
	return parseExprIn(key, v, inLayer, false)
}

// condNames are the properties ImageKit's conditions name besides the
// expression variables: the image at this step.
var condNames = map[string]string{"w": "cw", "h": "ch", "ar": "car"}

// parseExprIn parses an expression; inCond admits a condition's w, h and
// ar and its W-H ratios.
func parseExprIn(key, v string, inLayer, inCond bool) (*Expr, error) {
	toks := strings.Split(v, "_")
	if len(toks)%2 == 0 || len(toks) > 2*MaxExprOperands-1 {
		return nil, invalidValue(key, fmt.Sprintf("want an expression like iw_div_2: operands and operators (add, sub, mul, div, mod, pow) joined by '_', at most %d operands", MaxExprOperands))
	}
	e := &Expr{}
	for i, tok := range toks {
		if i%2 == 1 {
			if _, ok := exprOps[tok]; !ok {
				return nil, invalidValue(key, fmt.Sprintf("%q is not an operator (want add, sub, mul, div, mod or pow)", tok))
			}
			e.ops = append(e.ops, tok)
			continue
		}
		if supported, ok := variableNames[tok]; ok {
			if !supported && !inLayer {
				return nil, errkind.New(errkind.Invalid, "invalid_parameter",
					fmt.Sprintf("transformation parameter %q: %s names a layer's base (bw, bh, bar), which only a layer has", key, v))
			}
			e.operands = append(e.operands, operand{name: tok})
			continue
		}
		if name, ok := condNames[tok]; ok && inCond {
			e.operands = append(e.operands, operand{name: name})
			continue
		}
		if a, b, ok := strings.Cut(tok, "-"); ok && inCond {
			x, err1 := parseDecimal(a)
			y, err2 := parseDecimal(b)
			if err1 != nil || err2 != nil || x <= 0 || y <= 0 {
				return nil, invalidValue(key, fmt.Sprintf("%q is not a ratio W-H", tok))
			}
			e.operands = append(e.operands, operand{value: x / y, ratio: fmtFloat(x) + "-" + fmtFloat(y)})
			continue
		}
		f, err := parseDecimal(tok)
		if err != nil {
			return nil, invalidValue(key, fmt.Sprintf("%q is neither a variable (iw, ih, iar, cw, ch, car) nor a number", tok))
		}
		e.operands = append(e.operands, operand{value: f})
	}
	return e, nil
}

// String is the canonical form: numbers normalised, as parsed otherwise.
func (e *Expr) String() string {
	var b strings.Builder
	for i, o := range e.operands {
		if i > 0 {
			b.WriteString("_" + e.ops[i-1] + "_")
		}
		switch {
		case o.name != "":
			b.WriteString(o.name)
		case o.ratio != "":
			b.WriteString(o.ratio)
		default:
			b.WriteString(fmtFloat(o.value))
		}
	}
	return b.String()
}

// Eval computes e. Division or modulo by zero, and results that are not
// finite, are errors (a 400: the URL asks for something impossible).
func (e *Expr) Eval(v Vars) (float64, error) {
	vals := make([]float64, len(e.operands))
	for i, o := range e.operands {
		vals[i] = o.value
		switch o.name {
		case "iw":
			vals[i] = float64(v.IW)
		case "ih":
			vals[i] = float64(v.IH)
		case "iar":
			vals[i] = float64(v.IW) / float64(max(v.IH, 1))
		case "cw":
			vals[i] = float64(v.CW)
		case "ch":
			vals[i] = float64(v.CH)
		case "car":
			vals[i] = float64(v.CW) / float64(max(v.CH, 1))
		case "bw":
			vals[i] = float64(v.BW)
		case "bh":
			vals[i] = float64(v.BH)
		case "bar":
			vals[i] = float64(v.BW) / float64(max(v.BH, 1))
		}
	}
	ops := append([]string(nil), e.ops...)
	// pow binds tightest and groups right to left.
	for i := len(ops) - 1; i >= 0; i-- {
		if ops[i] == "pow" {
			vals[i] = math.Pow(vals[i], vals[i+1])
			vals, ops = remove(vals, i+1), remove(ops, i)
		}
	}
	for _, level := range []int{2, 1} {
		for i := 0; i < len(ops); {
			if exprOps[ops[i]] != level {
				i++
				continue
			}
			r, err := apply(ops[i], vals[i], vals[i+1])
			if err != nil {
				return 0, err
			}
			vals[i] = r
			vals, ops = remove(vals, i+1), remove(ops, i)
		}
	}
	if math.IsNaN(vals[0]) || math.IsInf(vals[0], 0) {
		return 0, fmt.Errorf("%s is not a finite number", e)
	}
	return vals[0], nil
}

func apply(op string, a, b float64) (float64, error) {
	switch op {
	case "add":
		return a + b, nil
	case "sub":
		return a - b, nil
	case "mul":
		return a * b, nil
	case "div", "mod":
		if b == 0 {
			return 0, fmt.Errorf("%s by zero", op)
		}
		if op == "div" {
			return a / b, nil
		}
		return math.Mod(a, b), nil
	}
	return 0, fmt.Errorf("unknown operator %q", op)
}

func remove[T any](s []T, i int) []T { return append(s[:i], s[i+1:]...) }

// Cond is an if- condition, as ImageKit writes it: comparisons of two
// expressions ("iw_gt_1000", "ar_lt_4-3"; w, h and ar are the image at
// this step, iw, ih and iar the original) joined by and and or, and
// binding tighter than or.
type Cond struct {
	Any [][]Comparison // or of ands
}

// Comparison is one term of a condition.
type Comparison struct {
	Left, Right *Expr
	Op          string // eq, ne, gt, gte, lt, lte
}

var condOps = map[string]bool{"eq": true, "ne": true, "gt": true, "gte": true, "lt": true, "lte": true}

// MaxComparisons bounds a condition.
const MaxComparisons = 8

func parseCond(v string) (Cond, error) {
	var c Cond
	var and []Comparison
	var term []string
	n := 0
	flush := func() error {
		cmp, err := parseComparison(term)
		if err != nil {
			return err
		}
		n++
		and, term = append(and, cmp), nil
		return nil
	}
	for _, tok := range strings.Split(v, "_") {
		if tok != "and" && tok != "or" {
			term = append(term, tok)
			continue
		}
		if err := flush(); err != nil {
			return Cond{}, err
		}
		if tok == "or" {
			c.Any, and = append(c.Any, and), nil
		}
	}
	if err := flush(); err != nil {
		return Cond{}, err
	}
	c.Any = append(c.Any, and)
	if n > MaxComparisons {
		return Cond{}, invalidValue("if", fmt.Sprintf("at most %d comparisons in a condition", MaxComparisons))
	}
	return c, nil
}

func parseComparison(toks []string) (Comparison, error) {
	at := -1
	for i, tok := range toks {
		if condOps[tok] {
			if at >= 0 {
				at = -2
				break
			}
			at = i
		}
	}
	if at <= 0 || at == len(toks)-1 {
		return Comparison{}, invalidValue("if", "want a condition like ar_gt_1 or iw_gte_1000_and_h_lt_500: expressions compared with eq, ne, gt, gte, lt or lte, joined by and, or")
	}
	left, err := parseExprIn("if", strings.Join(toks[:at], "_"), false, true)
	if err != nil {
		return Comparison{}, err
	}
	right, err := parseExprIn("if", strings.Join(toks[at+1:], "_"), false, true)
	if err != nil {
		return Comparison{}, err
	}
	return Comparison{Left: left, Right: right, Op: toks[at]}, nil
}

func (c Cond) String() string {
	ors := make([]string, len(c.Any))
	for i, and := range c.Any {
		terms := make([]string, len(and))
		for j, t := range and {
			terms[j] = t.Left.String() + "_" + t.Op + "_" + t.Right.String()
		}
		ors[i] = strings.Join(terms, "_and_")
	}
	return strings.Join(ors, "_or_")
}

// Holds evaluates c.
func (c Cond) Holds(v Vars) (bool, error) {
	for _, and := range c.Any {
		all := true
		for _, t := range and {
			ok, err := t.holds(v)
			if err != nil {
				return false, err
			}
			all = all && ok
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

func (t Comparison) holds(v Vars) (bool, error) {
	a, err := t.Left.Eval(v)
	if err != nil {
		return false, err
	}
	b, err := t.Right.Eval(v)
	if err != nil {
		return false, err
	}
	switch t.Op {
	case "eq":
		return a == b, nil
	case "ne":
		return a != b, nil
	case "gt":
		return a > b, nil
	case "gte":
		return a >= b, nil
	case "lt":
		return a < b, nil
	}
	return a <= b, nil
}

// Conditional is one if-…,if-else,…,if-end block of a step.
type Conditional struct {
	If         Cond
	Then, Else Step // parameters only: no conditionals, no expressions of their own bound yet
}

// condForbidden are parameters a conditional block may not set: they decide
// things before the image is known (format, quality, metadata, the source
// itself, client hints) or expand into other steps.
var condForbidden = map[string]string{
	"f": "the output format", "q": "quality", "pr": "progressive output", "lo": "lossless output",
	"md": "metadata", "cp": "the colour profile", "orig": "the original", "di": "the default image",
	"n": "named transformations", "pg": "the page of the source",
}

// Bind returns the step as it applies to an image of these sizes: each
// conditional block replaced by the parameters of its branch that holds
// (applied over the step's own, last one wins as anywhere in a step), and
// each expression by its value, checked as that literal would be. A step
// with neither is returned as it is.
func (s Step) Bind(v Vars) (Step, error) {
	if s.Chain != nil {
		return Step{}, errkind.New(errkind.Internal, "chain_not_unfolded", "a chained if- block reached Bind (Unfold it first)")
	}
	if len(s.Conds) == 0 && len(s.Exprs) == 0 && (s.Gradient == nil || s.Gradient.StopExpr == nil) {
		return s, nil
	}
	cur := s
	cur.Conds = nil
	for _, c := range s.Conds {
		ok, err := c.If.Holds(v)
		if err != nil {
			return Step{}, invalidValue("if", err.Error())
		}
		branch := c.Else
		if ok {
			branch = c.Then
		}
		if branch.IsZero() {
			continue
		}
		if cur, err = parseStepIn(joinNonEmpty(cur.String(), branch.String()), s.inLayer); err != nil {
			return Step{}, err
		}
	}
	exprs := cur.Exprs
	cur.Exprs = nil
	for _, ke := range exprs {
		f, err := ke.Expr.Eval(v)
		if err != nil {
			return Step{}, invalidValue(ke.Key, err.Error())
		}
		if math.Abs(f) > 1e9 {
			return Step{}, invalidValue(ke.Key, fmt.Sprintf("%s is %g, out of range", ke.Expr, f))
		}
		val := math.Round(f)
		if ke.Key == "dpr" {
			val = math.Round(f*100) / 100
		}
		lit := fmtFloat(val)
		if ke.Key == "r" && lit == "0" {
			continue // no radius
		}
		if err := specsByKey[ke.Key].parse(&cur, lit); err != nil {
			return Step{}, errkind.Wrap(errkind.Invalid, "invalid_parameter",
				fmt.Sprintf("transformation parameter %q: %s is %s for this image", ke.Key, ke.Expr, strconv.FormatFloat(val, 'f', -1, 64)), err)
		}
	}
	if g := cur.Gradient; g != nil && g.StopExpr != nil {
		bound := *g
		f, err := g.StopExpr.Eval(v)
		if err != nil {
			return Step{}, invalidValue("e-gradient", err.Error())
		}
		if f > 1 {
			f = math.Round(f) // pixels, as a literal would be
		}
		if err := bound.setStop(f); err != nil {
			return Step{}, errkind.Wrap(errkind.Invalid, "invalid_parameter",
				fmt.Sprintf("transformation parameter \"e-gradient\": sp %s is %g for this image", g.StopExpr, f), err)
		}
		cur.Gradient = &bound
	}
	return cur, nil
}

// setExpr records key's value as an expression, replacing what the step
// had for key: the last value of a parameter wins.
func (s *Step) setExpr(key string, e *Expr) {
	exprKeys[key](s)
	s.dropExpr(key)
	s.Exprs = append(s.Exprs, KeyExpr{Key: key, Expr: e})
}

func (s *Step) dropExpr(key string) {
	for i, ke := range s.Exprs {
		if ke.Key == key {
			s.Exprs = append(s.Exprs[:i:i], s.Exprs[i+1:]...)
			return
		}
	}
}

func (s *Step) exprOf(key string) *Expr {
	for _, ke := range s.Exprs {
		if ke.Key == key {
			return ke.Expr
		}
	}
	return nil
}
