package app

import (
	"net/http"
	"strings"

	"github.com/parleychat/parley/internal/rest"
)

// jsonMuxErrors turns the ServeMux's own plain-text 404 and 405 answers
// (an unknown path, a known path with another method) into Twilio's JSON
// error body. Handlers' own errors are JSON already and pass untouched.
func jsonMuxErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&muxErrorWriter{ResponseWriter: w, r: r}, r)
	})
}

type muxErrorWriter struct {
	http.ResponseWriter
	r        *http.Request
	replaced bool
}

func (m *muxErrorWriter) WriteHeader(code int) {
	plain := strings.HasPrefix(m.Header().Get("Content-Type"), "text/plain")
	if plain && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		m.replaced = true
		m.Header().Del("X-Content-Type-Options")
		e := rest.NotFound("The requested resource %s was not found", m.r.URL.Path)
		if code == http.StatusMethodNotAllowed {
			e = rest.NewError(code, rest.CodeMethodNotAllow, "Method %s is not allowed on %s", m.r.Method, m.r.URL.Path)
		}
		_ = rest.WriteJSON(m.ResponseWriter, code, e)
		return
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *muxErrorWriter) Write(b []byte) (int, error) {
	if m.replaced {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (and WebSocket upgrades) reach the writer.
func (m *muxErrorWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }
