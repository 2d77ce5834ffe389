package rest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func post(body, contentType string) *http.Request {
	r := httptest.NewRequest("POST", "/x", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestParseForm(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, body, ct string
		status         int // 0 = ok
	}{
		{"form", "FriendlyName=a&Integration.FlowSid=FW1", form, 0},
		{"no content type (twilio-go next_page_url)", "", "", 0},
		{"charset", "A=b", form + "; charset=utf-8", 0},
		{"json refused", `{"a":1}`, "application/json", 415},
		{"bad escape", "A=%zz", form, 400},
		{"invalid utf-8", "A=%ff%fe", form, 400},
		{"too large", "A=" + strings.Repeat("x", 2000), form, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseForm(post(tc.body, tc.ct), 1024)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if tc.body != "" && f.String(strings.SplitN(tc.body, "=", 2)[0]) == "" {
					t.Fatalf("value lost")
				}
				return
			}
			e, ok := AsError(err)
			if !ok || e.Status != tc.status {
				t.Fatalf("got %v, want status %d", err, tc.status)
			}
		})
	}
}

func TestFormGetters(t *testing.T) {
	f := NewForm(url.Values{
		"Enabled": {"True"}, "Off": {"false"}, "Bad": {"yes"}, "N": {"42"}, "Big": {"999"},
		"Attrs": {`{"a":1}`}, "NotJSON": {"{a"}, "Type": {"public"}, "Sid": {NewSID("FW")},
		"Url": {"https://example.com/hook"}, "Perm": {"a", "b"},
	})
	if b := f.Bool("Enabled"); b == nil || !*b {
		t.Error("Enabled")
	}
	if b := f.Bool("Off"); b == nil || *b {
		t.Error("Off")
	}
	if f.Bool("Missing") != nil || f.Int("Missing", 0, 1) != nil || f.Optional("Missing") != nil {
		t.Error("absent values must be nil")
	}
	if n := f.Int("N", 0, 100); n == nil || *n != 42 {
		t.Error("N")
	}
	if f.JSON("Attrs", 100) == nil || f.OneOf("Type", "public", "private") != "public" || f.SID("Sid", "FW") == "" || f.URL("Url") == "" {
		t.Error("valid values refused")
	}
	if got := f.Strings("Perm"); len(got) != 2 {
		t.Errorf("Strings = %v", got)
	}
	if err := f.Err(); err != nil {
		t.Fatalf("unexpected error %v", err)
	}
	for name, get := range map[string]func(*Form){
		"Bad":      func(f *Form) { f.Bool("Bad") },
		"Big":      func(f *Form) { f.Int("Big", 0, 100) },
		"NotJSON":  func(f *Form) { f.JSON("NotJSON", 100) },
		"Type":     func(f *Form) { f.OneOf("Type", "private") },
		"Sid":      func(f *Form) { f.SID("Sid", "WW") },
		"Url":      func(f *Form) { f.URL("Perm") },
		"Required": func(f *Form) { f.Required("Nothing") },
		"MaxLen":   func(f *Form) { f.MaxLen("Url", 5) },
	} {
		g := NewForm(f.values)
		get(g)
		e, ok := AsError(g.Err())
		if !ok || e.Status != 400 || e.Code != CodeInvalidParam {
			t.Errorf("%s: got %v, want 400/20001", name, g.Err())
			continue
		}
		if name != "Url" && name != "Required" && name != "MaxLen" && !strings.Contains(e.Message, name) {
			t.Errorf("%s: message %q does not name the parameter", name, e.Message)
		}
	}
}

// FuzzParseForm feeds arbitrary bodies to the form decoder and getters:
// they must never panic, and an accepted form holds only valid UTF-8.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"", "A=b", "A=%zz", "A=%ff", "PageSize=10&Page=x", "Enabled=maybe&N=-1",
		"Attributes=%7B%22a%22%3A1%7D", "A&&&=&=", "PageToken=PA12", "PageToken=PB", "PageToken=PZ9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := ParseForm(post(body, "application/x-www-form-urlencoded"), 4096)
		if err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("non-REST error %v", err)
			}
			return
		}
		form.Bool("Enabled")
		form.Int("N", -10, 10)
		form.JSON("Attributes", 100)
		form.SID("Sid", "AC")
		form.URL("Url")
		if _, err := ParsePage(form, 100); err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("non-REST paging error %v", err)
			}
		}
		if err := form.Err(); err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("non-REST error %v", err)
			}
		}
	})
}
