package taskrouter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file is TaskRouter's expression language, as used in a TaskQueue's
// TargetWorkers, a workflow filter's expression, a target's expression and
// skip_if:
//
//	languages HAS "es" AND (level >= 2 OR task.vip == true)
//	worker.id IN task.preferred_agents
//	1==1
//
// Operators (case-insensitive): == (also =), !=, >, >=, <, <=, IN, NOT IN,
// HAS, CONTAINS, AND (&&), OR (||), NOT (!), and parentheses. Literals are
// strings in ' or ", numbers, true, false, null and [arrays]. A key is an
// unquoted path of names and [index]es; a key that is not there is null.
// Parse once when the queue or workflow is saved (errors say where and
// why), evaluate many times against an Env.

// maxExprLen and maxExprDepth bound the work a hostile expression can ask for.
const (
	maxExprLen   = 4096
	maxExprDepth = 64
)

// SyntaxError says where (a 1-based character position) and why an
// expression is invalid.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("at position %d: %s", e.Pos, e.Msg) }

// Expr is a parsed expression.
type Expr struct {
	src  string
	root node
}

// String returns the source text.
func (e *Expr) String() string { return e.src }

// Env resolves a key path (["task", "customer", "tier"]) to a JSON value:
// string, float64, bool, nil, []any or map[string]any. ok is false when
// the key does not exist.
type Env func(path []string) (v any, ok bool)

// Eval reports whether the expression holds in env.
func (e *Expr) Eval(env Env) bool { return truthy(e.root.eval(env)) }

// Keys calls fn with the path of every key the expression reads.
func (e *Expr) Keys(fn func(path []string)) { walkKeys(e.root, fn) }

// ParseExpr parses src, or returns a *SyntaxError.
func ParseExpr(src string) (*Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &SyntaxError{Pos: 1, Msg: "the expression is empty"}
	}
	if len(src) > maxExprLen {
		return nil, &SyntaxError{Pos: maxExprLen, Msg: fmt.Sprintf("the expression is longer than %d characters", maxExprLen)}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	root, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t, "unexpected %s; expected AND, OR or the end", t.describe())
	}
	return &Expr{src: src, root: root}, nil
}

// ---- lexer ----

type tokKind int

const (
	tEOF tokKind = iota
	tKey
	tString
	tNumber
	tTrue
	tFalse
	tNull
	tOp    // == != > >= < <=
	tIn    // IN
	tNotIn // NOT IN
	tHas   // HAS
	tContains
	tAnd
	tOr
	tNot
	tLParen
	tRParen
	tLBrack
	tRBrack
	tComma
)

type token struct {
	kind tokKind
	text string // operator, key or decoded string
	num  float64
	pos  int // 1-based
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return strconv.Quote(t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

var keywords = map[string]tokKind{"and": tAnd, "or": tOr, "not": tNot, "in": tIn, "has": tHas,
	"contains": tContains, "true": tTrue, "false": tFalse, "null": tNull}

var punctuation = map[byte]tokKind{'(': tLParen, ')': tRParen, '[': tLBrack, ']': tRBrack, ',': tComma}

func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		pos := i + 1
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '[' || c == ']' || c == ',':
			kind := punctuation[c]
			toks = append(toks, token{kind: kind, text: string(c), pos: pos})
			i++
		case c == '\'' || c == '"':
			s, n, err := lexString(src[i:], pos)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, text: s, pos: pos})
			i += n
		case c == '=' || c == '!' || c == '<' || c == '>' || c == '&' || c == '|':
			t, n, err := lexOperator(src[i:], pos)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i += n
		case c == '-' || c == '.' || (c >= '0' && c <= '9'):
			n := numberLen(src[i:])
			f, err := strconv.ParseFloat(src[i:i+n], 64)
			if c == '-' && n == 1 {
				return nil, &SyntaxError{Pos: pos, Msg: `unexpected "-": keys cannot contain hyphens, and a number must follow a minus sign`}
			}
			if err != nil || n == 0 || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, &SyntaxError{Pos: pos, Msg: fmt.Sprintf("%q is not a number", src[i:i+max(n, 1)])}
			}
			toks = append(toks, token{kind: tNumber, text: src[i : i+n], num: f, pos: pos})
			i += n
		case isKeyStart(c):
			n := keyLen(src[i:])
			word := src[i : i+n]
			if err := checkKey(word, pos); err != nil {
				return nil, err
			}
			t := token{kind: tKey, text: word, pos: pos}
			if k, ok := keywords[strings.ToLower(word)]; ok {
				t.kind = k
			}
			toks = append(toks, t)
			i += n
		default:
			return nil, &SyntaxError{Pos: pos, Msg: fmt.Sprintf("unexpected character %q", rune(src[i]))}
		}
	}
	toks = append(toks, token{kind: tEOF, pos: len(src) + 1})
	return joinNotIn(toks), nil
}

// joinNotIn turns NOT followed by IN into one NOT IN operator.
func joinNotIn(toks []token) []token {
	out := toks[:0]
	for i := 0; i < len(toks); i++ {
		if toks[i].kind == tNot && i+1 < len(toks) && toks[i+1].kind == tIn {
			out = append(out, token{kind: tNotIn, text: "NOT IN", pos: toks[i].pos})
			i++
			continue
		}
		out = append(out, toks[i])
	}
	return out
}

func lexString(s string, pos int) (string, int, error) {
	quote := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case quote:
			return b.String(), i + 1, nil
		case '\\':
			if i+1 < len(s) {
				i++
			}
		}
		b.WriteByte(s[i])
	}
	return "", 0, &SyntaxError{Pos: pos, Msg: "the string is not closed with " + string(quote)}
}

func lexOperator(s string, pos int) (token, int, error) {
	two := s[:min(2, len(s))]
	switch two {
	case "==", "!=", ">=", "<=":
		return token{kind: tOp, text: two, pos: pos}, 2, nil
	case "&&":
		return token{kind: tAnd, text: "AND", pos: pos}, 2, nil
	case "||":
		return token{kind: tOr, text: "OR", pos: pos}, 2, nil
	}
	switch s[0] {
	case '=':
		return token{kind: tOp, text: "==", pos: pos}, 1, nil
	case '>', '<':
		return token{kind: tOp, text: s[:1], pos: pos}, 1, nil
	case '!':
		return token{kind: tNot, text: "NOT", pos: pos}, 1, nil
	}
	return token{}, 0, &SyntaxError{Pos: pos, Msg: fmt.Sprintf("unexpected %q; write AND as AND or &&, OR as OR or ||", s[:1])}
}

func numberLen(s string) int {
	n := 0
	if n < len(s) && s[n] == '-' {
		n++
	}
	for n < len(s) && (s[n] >= '0' && s[n] <= '9' || s[n] == '.' || s[n] == 'e' || s[n] == 'E' ||
		((s[n] == '+' || s[n] == '-') && n > 0 && (s[n-1] == 'e' || s[n-1] == 'E'))) {
		n++
	}
	return n
}

func isKeyStart(c byte) bool {
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func keyLen(s string) int {
	n := 0
	for n < len(s) {
		c := s[n]
		if isKeyStart(c) || (c >= '0' && c <= '9') || c == '.' {
			n++
			continue
		}
		if c == '[' { // an index: [0]
			j := n + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j > n+1 && j < len(s) && s[j] == ']' {
				n = j + 1
				continue
			}
		}
		break
	}
	return n
}

func checkKey(word string, pos int) error {
	if strings.HasSuffix(word, ".") || strings.Contains(word, "..") {
		return &SyntaxError{Pos: pos, Msg: fmt.Sprintf("%q is not a valid key: a dot must join two names", word)}
	}
	return nil
}

// splitKey turns "a.b[0].c" into ["a", "b", "0", "c"].
var indexReplacer = strings.NewReplacer("[", ".", "]", "")

func splitKey(key string) []string {
	key = indexReplacer.Replace(key)
	return strings.Split(key, ".")
}

// ---- parser ----

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) errAt(t token, format string, args ...any) error {
	return &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) or(depth int) (node, error) {
	if depth > maxExprDepth {
		return nil, p.errAt(p.peek(), "the expression nests deeper than %d levels", maxExprDepth)
	}
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOr {
		p.next()
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		left = &logicNode{op: tOr, left: left, right: right}
	}
	return left, nil
}

func (p *parser) and(depth int) (node, error) {
	left, err := p.not(depth)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tAnd {
		p.next()
		right, err := p.not(depth)
		if err != nil {
			return nil, err
		}
		left = &logicNode{op: tAnd, left: left, right: right}
	}
	return left, nil
}

func (p *parser) not(depth int) (node, error) {
	if p.peek().kind == tNot {
		p.next()
		if depth > maxExprDepth {
			return nil, p.errAt(p.peek(), "the expression nests deeper than %d levels", maxExprDepth)
		}
		inner, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return &notNode{inner: inner}, nil
	}
	return p.comparison(depth)
}

func (p *parser) comparison(depth int) (node, error) {
	left, err := p.operand(depth)
	if err != nil {
		return nil, err
	}
	op := p.peek()
	switch op.kind {
	case tOp, tIn, tNotIn, tHas, tContains:
		p.next()
	default:
		return left, nil
	}
	right, err := p.operand(depth)
	if err != nil {
		return nil, err
	}
	return &cmpNode{op: op.kind, text: op.text, left: left, right: right}, nil
}

func (p *parser) operand(depth int) (node, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return &litNode{v: t.text}, nil
	case tNumber:
		return &litNode{v: t.num}, nil
	case tTrue, tFalse:
		return &litNode{v: t.kind == tTrue}, nil
	case tNull:
		return &litNode{v: nil}, nil
	case tKey:
		return &keyNode{path: splitKey(t.text)}, nil
	case tLBrack:
		return p.array(t)
	case tLParen:
		if depth >= maxExprDepth {
			return nil, p.errAt(t, "the expression nests deeper than %d levels", maxExprDepth)
		}
		inner, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, p.errAt(c, "expected ) to close the ( at position %d, found %s", t.pos, c.describe())
		}
		return inner, nil
	case tEOF:
		return nil, p.errAt(t, "the expression ends where a value or key was expected")
	}
	return nil, p.errAt(t, "expected a value or key, found %s", t.describe())
}

func (p *parser) array(open token) (node, error) {
	var items []any
	for {
		t := p.next()
		switch t.kind {
		case tRBrack:
			if len(items) == 0 {
				return &litNode{v: []any{}}, nil
			}
			return nil, p.errAt(t, "expected a value after the comma")
		case tString:
			items = append(items, t.text)
		case tNumber:
			items = append(items, t.num)
		case tTrue, tFalse:
			items = append(items, t.kind == tTrue)
		default:
			return nil, p.errAt(t, "an array (opened at position %d) holds only strings, numbers and booleans, found %s", open.pos, t.describe())
		}
		switch sep := p.next(); sep.kind {
		case tComma:
		case tRBrack:
			return &litNode{v: items}, nil
		default:
			return nil, p.errAt(sep, "expected , or ] in the array opened at position %d, found %s", open.pos, sep.describe())
		}
	}
}

// ---- evaluation ----

type node interface {
	eval(env Env) any
	write(b *strings.Builder)
}

type litNode struct{ v any }
type keyNode struct{ path []string }
type notNode struct{ inner node }
type logicNode struct {
	op          tokKind
	left, right node
}
type cmpNode struct {
	op          tokKind
	text        string
	left, right node
}

func (n *litNode) eval(Env) any { return n.v }

func (n *keyNode) eval(env Env) any {
	if env == nil {
		return nil
	}
	v, _ := env(n.path)
	return v
}

func (n *notNode) eval(env Env) any { return !truthy(n.inner.eval(env)) }

func (n *logicNode) eval(env Env) any {
	l := truthy(n.left.eval(env))
	if n.op == tAnd {
		return l && truthy(n.right.eval(env))
	}
	return l || truthy(n.right.eval(env))
}

func (n *cmpNode) eval(env Env) any {
	l, r := n.left.eval(env), n.right.eval(env)
	switch n.op {
	case tIn:
		return in(l, r)
	case tNotIn:
		return !in(l, r)
	case tHas:
		return in(r, l)
	case tContains:
		return contains(l, r)
	}
	switch n.text {
	case "==":
		return equal(l, r)
	case "!=":
		return !equal(l, r)
	}
	c, ok := compare(l, r)
	if !ok {
		return false
	}
	switch n.text {
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "<":
		return c < 0
	default:
		return c <= 0
	}
}

func truthy(v any) bool {
	b, ok := v.(bool)
	return ok && b
}

// number reads numbers, and strings that hold one, as float64: attributes
// often carry "2" where an expression says 2.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

func equal(l, r any) bool {
	switch a := l.(type) {
	case nil:
		return r == nil
	case bool:
		b, ok := r.(bool)
		return ok && a == b
	case string:
		if b, ok := r.(string); ok {
			return a == b
		}
	case []any:
		b, ok := r.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		return false
	}
	if _, isBool := r.(bool); isBool || r == nil {
		return false
	}
	x, ok1 := number(l)
	y, ok2 := number(r)
	return ok1 && ok2 && x == y
}

func compare(l, r any) (int, bool) {
	if a, ok := l.(string); ok {
		if b, ok := r.(string); ok {
			if _, na := number(a); !na {
				return strings.Compare(a, b), true
			}
		}
	}
	x, ok1 := number(l)
	y, ok2 := number(r)
	if !ok1 || !ok2 {
		return 0, false
	}
	switch {
	case x < y:
		return -1, true
	case x > y:
		return 1, true
	}
	return 0, true
}

// in reports whether needle is an element of haystack; an array needle is
// in when any of its elements is. A scalar haystack is a one-element list.
func in(needle, haystack any) bool {
	if ns, ok := needle.([]any); ok {
		for _, n := range ns {
			if in(n, haystack) {
				return true
			}
		}
		return false
	}
	hs, ok := haystack.([]any)
	if !ok {
		return haystack != nil && equal(needle, haystack)
	}
	for _, h := range hs {
		if equal(needle, h) {
			return true
		}
	}
	return false
}

// contains is substring containment; on an array, any element containing it.
func contains(l, r any) bool {
	sub, ok := r.(string)
	if !ok {
		return in(r, l)
	}
	switch x := l.(type) {
	case string:
		return strings.Contains(x, sub)
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok && strings.Contains(s, sub) {
				return true
			}
		}
	}
	return false
}

func walkKeys(n node, fn func([]string)) {
	switch x := n.(type) {
	case *keyNode:
		fn(x.path)
	case *notNode:
		walkKeys(x.inner, fn)
	case *logicNode:
		walkKeys(x.left, fn)
		walkKeys(x.right, fn)
	case *cmpNode:
		walkKeys(x.left, fn)
		walkKeys(x.right, fn)
	}
}

// ---- canonical text (used by the fuzz test's round trip) ----

func (e *Expr) canonical() string {
	var b strings.Builder
	e.root.write(&b)
	return b.String()
}

func (n *litNode) write(b *strings.Builder) { writeValue(b, n.v) }

func writeValue(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case string:
		b.WriteString(`"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(x) + `"`)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, e)
		}
		b.WriteByte(']')
	}
}

func (n *keyNode) write(b *strings.Builder) { b.WriteString(strings.Join(n.path, ".")) }

func (n *notNode) write(b *strings.Builder) {
	b.WriteString("NOT (")
	n.inner.write(b)
	b.WriteByte(')')
}

func (n *logicNode) write(b *strings.Builder) {
	b.WriteByte('(')
	n.left.write(b)
	b.WriteString(map[tokKind]string{tAnd: ") AND (", tOr: ") OR ("}[n.op])
	n.right.write(b)
	b.WriteByte(')')
}

func (n *cmpNode) write(b *strings.Builder) {
	b.WriteByte('(')
	n.left.write(b)
	b.WriteString(") " + strings.ToUpper(n.text) + " (")
	n.right.write(b)
	b.WriteByte(')')
}
