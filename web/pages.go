package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

// LoaderPath is the stable URL of the web chat loader script that
// websites include; LoaderPattern mounts it.
const (
	LoaderPath    = "/webchat.js"
	LoaderPattern = "GET " + LoaderPath
	// staticPlaceholder in webchat.js becomes the hashed static prefix.
	staticPlaceholder = "__PARLEY_STATIC__"
)

// Loader serves web/widget/webchat.js at /webchat.js. Websites link this
// URL for years, so it is never cached without asking (no-cache plus an
// ETag, so asking is cheap); it names the current hashed prefix of the
// panel modules, which are cached forever.
func (s *Static) Loader() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := s.LoaderScript()
		if err != nil {
			http.Error(w, "webchat.js is missing", http.StatusInternalServerError)
			return
		}
		serveText(w, r, "text/javascript; charset=utf-8", b, true)
	})
}

// LoaderScript is webchat.js as served: the static prefix filled in.
func (s *Static) LoaderScript() ([]byte, error) {
	b, err := fs.ReadFile(s.files, "widget/webchat.js")
	if err != nil {
		return nil, err
	}
	return bytes.ReplaceAll(b, []byte(staticPlaceholder), []byte(s.Prefix())), nil
}

// serveText answers with b, no-cache and a content ETag (so a browser
// revalidates with one cheap request), gzipped when the client takes it.
func serveText(w http.ResponseWriter, r *http.Request, ctype string, b []byte, cors bool) {
	h := w.Header()
	if cors {
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	}
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	sum := sha256.Sum256(b)
	etag := `"` + hex.EncodeToString(sum[:8])
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		b, etag = gzipBytes(b), etag+"-gz"
	}
	h.Set("ETag", etag+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

// DemoPattern mounts the demo site on the root page only.
const DemoPattern = "GET /{$}"

// DemoSite is what the demo page embeds: the account and the Flex Flow
// of the default setup (empty when the setup is incomplete).
type DemoSite struct {
	AccountSID  string
	FlexFlowSID string
}

// Demo serves the sample website at /, with the widget embedded on site's
// flow, so that the quick start ends with a chat in a browser.
func (s *Static) Demo(site DemoSite) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := fs.ReadFile(s.files, "demo/index.html")
		if err != nil {
			http.Error(w, "the demo page is missing", http.StatusInternalServerError)
			return
		}
		t, err := template.New("demo").Parse(string(raw))
		if err != nil {
			http.Error(w, "the demo page is broken: "+err.Error(), http.StatusInternalServerError)
			return
		}
		var out bytes.Buffer
		if err := t.Execute(&out, site); err != nil {
			http.Error(w, fmt.Sprintf("the demo page: %v", err), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self' "+wsOrigin(r)+"; img-src 'self' data:")
		serveText(w, r, "text/html; charset=utf-8", out.Bytes(), false)
	})
}

// wsOrigin is the WebSocket origin of the request's host, for the CSP.
func wsOrigin(r *http.Request) string {
	scheme := "ws://"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "wss://"
	}
	return scheme + r.Host
}
