package studio

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/osteele/liquid"
	"github.com/osteele/liquid/render"
)

// maxRenderBytes bounds what one template may produce: a loop in a
// flow's template cannot fill the memory.
const maxRenderBytes = 64 << 10

// liquidEngine renders every template. Tags that reach outside the
// template (include reads files) are replaced by ones that refuse.
var liquidEngine = func() *liquid.Engine {
	e := liquid.NewEngine()
	e.RegisterTag("include", func(render.Context) (string, error) {
		return "", errors.New("the include tag is not available in Parley flows")
	})
	return e
}()

// isTemplate reports whether s holds Liquid markup at all.
func isTemplate(s string) bool { return strings.Contains(s, "{{") || strings.Contains(s, "{%") }

// checkTemplate parses s (without rendering it).
func checkTemplate(s string) error {
	if !isTemplate(s) {
		return nil
	}
	_, err := liquidEngine.ParseString(s)
	if err != nil {
		return errors.New(cleanLiquidError(err))
	}
	return nil
}

// renderTemplate renders s against bindings, bounded in size. The
// library panics when its writer fails (our size limit) and may panic on
// its own bugs; either is this template's error, never the node's crash.
func renderTemplate(s string, bindings map[string]any) (out string, err error) {
	if !isTemplate(s) {
		return s, nil
	}
	if err := checkRanges(s, bindings); err != nil {
		return "", err
	}
	defer func() {
		if p := recover(); p != nil {
			out, err = "", errRenderTooLarge
			if e, ok := p.(error); !ok || !errors.Is(e, errRenderTooLarge) {
				err = fmt.Errorf("the template failed to render: %v", p)
			}
		}
	}()
	t, err := liquidEngine.ParseString(s)
	if err != nil {
		return "", errors.New(cleanLiquidError(err))
	}
	var b strings.Builder
	if err := t.FRender(&limitWriter{w: &b, left: maxRenderBytes}, bindings); err != nil {
		if errors.Is(err, errRenderTooLarge) {
			return "", errRenderTooLarge
		}
		return "", errors.New(cleanLiquidError(err))
	}
	return b.String(), nil
}

var errRenderTooLarge = errors.New("the template renders to more than 64 KiB")

type limitWriter struct {
	w    io.Writer
	left int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.left {
		return 0, errRenderTooLarge
	}
	l.left -= len(p)
	return l.w.Write(p)
}

func cleanLiquidError(err error) string {
	s := err.Error()
	if strings.Contains(s, errRenderTooLarge.Error()) {
		return errRenderTooLarge.Error()
	}
	s = strings.TrimPrefix(s, "Liquid error: ")
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// A loop over a range renders nothing per pass when its body is empty,
// so the output limit cannot stop (1..1000000000). Before rendering, each
// range's bounds are evaluated (they may be variables a visitor set) and
// the passes of all ranges together, nested or not, are bounded.
var rangeExpr = regexp.MustCompile(`\(\s*([^()\s]+)\s*\.\.\s*([^()\s]+)\s*\)`)

const maxRangePasses = 10000

var errTooManyPasses = fmt.Errorf("the template's ranges make more than %d loop passes", maxRangePasses)

func checkRanges(s string, bindings map[string]any) error {
	if !strings.Contains(s, "..") { // no range at all: skip the regexp (most renders)
		return nil
	}
	passes := 1
	for _, m := range rangeExpr.FindAllStringSubmatch(s, -1) {
		lo, ok1 := rangeBound(m[1], bindings)
		hi, ok2 := rangeBound(m[2], bindings)
		if !ok1 || !ok2 || hi < lo {
			continue
		}
		n := hi - lo + 1
		if n > maxRangePasses || passes*n > maxRangePasses {
			return errTooManyPasses
		}
		passes *= n
	}
	return nil
}

// rangeBound evaluates one bound: a number, or a variable.
func rangeBound(expr string, bindings map[string]any) (int, bool) {
	if n, err := strconv.Atoi(expr); err == nil {
		return n, true
	}
	out, rerr := liquidEngine.ParseAndRenderString("{{"+expr+"}}", bindings)
	if rerr != nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
	switch {
	case err != nil:
		return 0, false
	case f > 1e12: // clamp: a huge bound is a huge range
		return 1 << 40, true
	case f < -1e12:
		return -(1 << 40), true
	}
	return int(f), true
}
