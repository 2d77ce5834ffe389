package web

import (
	"bytes"
	"html"
	"io/fs"
	"net/http"
	"net/url"
)

// DesktopPattern mounts the agent desktop's page (sign-in and desk).
const DesktopPattern = "GET /agent"

// tokenURLPlaceholder in the desktop's page becomes PARLEY_AGENT_TOKEN_URL.
const tokenURLPlaceholder = "__PARLEY_AGENT_TOKEN_URL__"

// Desktop serves web/agent/index.html at /agent with the hashed static
// prefix filled in, under a CSP that runs only this origin's scripts (so
// nothing a visitor types can run even if it reached markup). tokenURL,
// when not empty, is the business's endpoint the desktop gets its access
// tokens from instead of Parley's sign-in; the CSP lets the page call it.
func (s *Static) Desktop(tokenURL string) http.Handler {
	connect := ""
	if u, err := url.Parse(tokenURL); tokenURL != "" && err == nil {
		connect = " " + u.Scheme + "://" + u.Host
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := fs.ReadFile(s.files, "agent/index.html")
		if err != nil {
			http.Error(w, "the agent desktop is missing", http.StatusInternalServerError)
			return
		}
		page := bytes.ReplaceAll(raw, []byte(staticPlaceholder), []byte(s.Prefix()))
		page = bytes.ReplaceAll(page, []byte(tokenURLPlaceholder), []byte(html.EscapeString(tokenURL)))
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' "+wsOrigin(r)+connect+
			"; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		serveText(w, r, "text/html; charset=utf-8", page, false)
	})
}
