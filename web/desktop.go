package web

import (
	"bytes"
	"io/fs"
	"net/http"
)

// DesktopPattern mounts the agent desktop's page (sign-in and desk).
const DesktopPattern = "GET /agent"

// Desktop serves web/agent/index.html at /agent with the hashed static
// prefix filled in, under a CSP that runs only this origin's scripts (so
// nothing a visitor types can run even if it reached markup).
func (s *Static) Desktop() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := fs.ReadFile(s.files, "agent/index.html")
		if err != nil {
			http.Error(w, "the agent desktop is missing", http.StatusInternalServerError)
			return
		}
		page := bytes.ReplaceAll(raw, []byte(staticPlaceholder), []byte(s.Prefix()))
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' "+wsOrigin(r)+
			"; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		serveText(w, r, "text/html; charset=utf-8", page, false)
	})
}
