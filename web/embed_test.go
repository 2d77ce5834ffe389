package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func serve(t *testing.T, s *Static) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle(Pattern, s)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	req.Header.Set("Accept-Encoding", "identity")
	if len(header) > 0 && header[0] == "Accept-Encoding" {
		req.Header.Set("Accept-Encoding", header[1])
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	b, _ := io.ReadAll(r)
	return res, string(b)
}

func TestStaticEmbedded(t *testing.T) {
	s, err := NewStatic("")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Prefix()) != len("/static/")+16+1 {
		t.Fatalf("prefix %q", s.Prefix())
	}
	srv := serve(t, s)
	res, body := get(t, srv.URL+s.Prefix()+"sdk/parley.js")
	h := res.Header
	if res.StatusCode != 200 || !strings.Contains(body, "export class ParleyClient") {
		t.Fatalf("%d %.80s", res.StatusCode, body)
	}
	for k, want := range map[string]string{"Cache-Control": "public, max-age=31536000, immutable",
		"Access-Control-Allow-Origin": "*", "Content-Type": "text/javascript; charset=utf-8"} {
		if h.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, h.Get(k), want)
		}
	}
	gz, gzBody := get(t, srv.URL+s.Prefix()+"sdk/parley.js", "Accept-Encoding", "gzip, br")
	if gz.Header.Get("Content-Encoding") != "gzip" || gzBody != body || gz.Header.Get("ETag") == h.Get("ETag") {
		t.Fatalf("gzip: %v, same body %v", gz.Header, gzBody == body)
	}
	old, _ := get(t, srv.URL+"/static/0123456789abcdef/sdk/parley.js")
	if old.StatusCode != 200 || old.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("an old hash: %d %q", old.StatusCode, old.Header.Get("Cache-Control"))
	}
	for _, p := range []string{"sdk/nope.js", "sdk/../embed.go", "sdk", "sdk/.hidden"} {
		if res, body := get(t, srv.URL+s.Prefix()+p); res.StatusCode == 200 || strings.Contains(body, "package web") {
			t.Errorf("%s: %d %.40q, want it refused", p, res.StatusCode, body)
		}
	}
}

func TestStaticFromDisk(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sdk"), 0o755)
	os.WriteFile(filepath.Join(dir, "sdk", "parley.js"), []byte("// v1"), 0o644)
	s, err := NewStatic(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, s)
	os.WriteFile(filepath.Join(dir, "sdk", "parley.js"), []byte("// v2, edited"), 0o644)
	res, body := get(t, srv.URL+s.Prefix()+"sdk/parley.js")
	if body != "// v2, edited" || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("dev mode: %q %q", body, res.Header.Get("Cache-Control"))
	}
}
