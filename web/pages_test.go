package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// loaderBudget is the most the launcher script may weigh, gzipped: all a
// website loads until the visitor opens the chat.
const loaderBudget = 20 * 1024

func TestLoaderSize(t *testing.T) {
	s, err := NewStatic("")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.LoaderScript()
	if err != nil {
		t.Fatal(err)
	}
	gz := len(gzipBytes(b))
	t.Logf("webchat.js: %d bytes, %d gzipped (budget %d)", len(b), gz, loaderBudget)
	if gz > loaderBudget {
		t.Errorf("webchat.js is %d bytes gzipped, over the %d budget", gz, loaderBudget)
	}
	// What the first open adds (the panel's modules and the SDK), for the record.
	panel := 0
	for _, name := range []string{"widget/panel.js", "widget/session.js", "widget/dom.js", "widget/form.js", "widget/styles.js", "sdk/parley.js"} {
		src, err := fs.ReadFile(s.files, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		panel += len(gzipBytes(src))
	}
	t.Logf("the panel's modules on first open: %d bytes gzipped", panel)
}

func TestLoaderServed(t *testing.T) {
	s, err := NewStatic("")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(LoaderPattern, s.Loader())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	res, body := get(t, srv.URL+"/webchat.js")
	h := res.Header
	if res.StatusCode != 200 || !strings.Contains(body, `var STATIC = "`+s.Prefix()+`"`) || strings.Contains(body, staticPlaceholder) {
		t.Fatalf("%d, the static prefix not filled in: %.300s", res.StatusCode, body)
	}
	for k, want := range map[string]string{"Cache-Control": "no-cache", "Content-Type": "text/javascript; charset=utf-8",
		"Access-Control-Allow-Origin": "*"} {
		if h.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, h.Get(k), want)
		}
	}
	etag := h.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if again, _ := get(t, srv.URL+"/webchat.js", "If-None-Match", etag); again.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation with the ETag: %d, want 304", again.StatusCode)
	}
	gz, gzBody := get(t, srv.URL+"/webchat.js", "Accept-Encoding", "gzip")
	if gz.Header.Get("Content-Encoding") != "gzip" || gzBody != body || gz.Header.Get("ETag") == etag {
		t.Errorf("gzip: %v, same body %v", gz.Header, gzBody == body)
	}
}

func TestDemoPage(t *testing.T) {
	s, err := NewStatic("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		site DemoSite
		want []string
		not  []string
	}{
		{DemoSite{AccountSID: "AC123", FlexFlowSID: "FO456"},
			[]string{`accountSid: "AC123"`, `flexFlowSid: "FO456"`, `<script src="/webchat.js"></script>`}, []string{"incomplete"}},
		{DemoSite{AccountSID: "AC123"}, []string{"The default Flex setup is incomplete"}, []string{"/webchat.js\"></script>"}},
		{DemoSite{AccountSID: `"</script><script>alert(1)//`, FlexFlowSID: "FO1"}, []string{`\u003c/script\u003e`}, []string{"</script><script>alert(1)"}},
	} {
		mux := http.NewServeMux()
		mux.Handle(DemoPattern, s.Demo(tc.site))
		srv := httptest.NewServer(mux)
		res, body := get(t, srv.URL+"/")
		srv.Close()
		if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-cache" || res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%+v: %d %v", tc.site, res.StatusCode, res.Header)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%+v: the page lacks %q", tc.site, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(body, n) {
				t.Errorf("%+v: the page has %q", tc.site, n)
			}
		}
	}
}
