// Package web holds Parley's browser code (the client SDK, the web chat
// widget, the demo site, and later the agent desktop) as plain JavaScript
// embedded in the binary, and serves it: modules under a content-hashed
// prefix, the widget's loader script and the demo page at stable URLs.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed sdk widget demo agent
var embedded embed.FS

// Files is the web tree: the embedded copy, or dir on disk when set
// (PARLEY_WEB_DIR, for development: a browser refresh picks up edits).
func Files(dir string) fs.FS {
	if dir != "" {
		return os.DirFS(dir)
	}
	return embedded
}

// Static serves a web tree under /static/{hash}/..., where hash names
// the tree's content. A page that links the current hash may be cached
// forever (a new release has a new hash); relative imports between
// modules keep working because they share the prefix. Any origin may load
// the files, so that the widget's modules load on customers' sites.
type Static struct {
	files fs.FS
	hash  string
	dev   bool

	mu   sync.Mutex
	gzip map[string][]byte // compressed copies of the embedded files
}

// NewStatic hashes the tree once. With dir set it serves from disk and
// never lets browsers cache, since the files change under it.
func NewStatic(dir string) (*Static, error) {
	s := &Static{files: Files(dir), dev: dir != "", gzip: map[string][]byte{}}
	if s.dev {
		s.hash = "dev"
		return s, nil
	}
	h := sha256.New()
	err := fs.WalkDir(s.files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(s.files, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: hash embedded files: %w", err)
	}
	s.hash = hex.EncodeToString(h.Sum(nil))[:16]
	return s, nil
}

// Prefix is the URL path the tree is served under, ending in "/".
func (s *Static) Prefix() string { return "/static/" + s.hash + "/" }

// Pattern is the ServeMux pattern to mount ServeHTTP on.
const Pattern = "GET /static/{hash}/{path...}"

// ServeHTTP serves one file. An old hash (a page from before a release)
// still gets the current file, but without the long cache lifetime.
func (s *Static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("path")
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	if !fs.ValidPath(name) || name == "." || strings.HasPrefix(path.Base(name), ".") {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(s.files, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if r.PathValue("hash") == s.hash && !s.dev {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = http.DetectContentType(b)
	}
	h.Set("Content-Type", ctype)
	h.Add("Vary", "Accept-Encoding")
	etag := `"` + s.hash
	if gz := s.compressed(name, b); gz != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		b, etag = gz, etag+"-gz"
	}
	if !s.dev {
		h.Set("ETag", etag+`"`)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

// compressed returns a gzip copy of an embedded text file worth
// compressing (computed once), or nil.
func (s *Static) compressed(name string, b []byte) []byte {
	if s.dev || len(b) < 1024 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if gz, ok := s.gzip[name]; ok {
		return gz
	}
	s.gzip[name] = gzipBytes(b)
	return s.gzip[name]
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = io.Copy(zw, bytes.NewReader(b))
	_ = zw.Close()
	return buf.Bytes()
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
