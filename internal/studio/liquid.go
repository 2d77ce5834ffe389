package studio

import (
	"errors"
	"fmt"
	"io"
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
