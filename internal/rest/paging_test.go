package rest

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

type row struct {
	Seq int64 `json:"seq"`
}

func seqOf(r row) int64 { return r.Seq }

func rowsFrom(from, to int64) []row {
	var out []row
	for i := from; i <= to; i++ {
		out = append(out, row{i})
	}
	return out
}

func writeList(t *testing.T, l List[row]) (Meta, []row) {
	t.Helper()
	w := httptest.NewRecorder()
	if err := l.Write(w); err != nil {
		t.Fatal(err)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	var m Meta
	var rows []row
	json.Unmarshal(body["meta"], &m)
	json.Unmarshal(body[l.Key], &rows)
	return m, rows
}

func TestListLinks(t *testing.T) {
	base := List[row]{Key: "things", URL: "http://x/v1/Things", Seq: seqOf, Query: url.Values{"FriendlyName": {"a b"}}}

	first := base
	first.Page = Page{Size: 2}
	first.Rows = rowsFrom(1, 3) // one extra: another page follows
	m, rows := writeList(t, first)
	if len(rows) != 2 || m.NextPageURL == nil || m.PreviousPageURL != nil || m.Key != "things" || m.PageSize != 2 {
		t.Fatalf("first page: %+v %v", m, rows)
	}
	if !strings.Contains(*m.NextPageURL, "PageToken=PA2") || !strings.Contains(*m.NextPageURL, "FriendlyName=a+b") || !strings.Contains(*m.NextPageURL, "Page=1") {
		t.Fatalf("next url %s", *m.NextPageURL)
	}

	last := base
	last.Page = Page{Size: 2, Number: 1, After: 2}
	last.Rows = rowsFrom(3, 3)
	m, rows = writeList(t, last)
	if len(rows) != 1 || m.NextPageURL != nil || m.PreviousPageURL == nil || !strings.Contains(*m.PreviousPageURL, "PageToken=PB3") {
		t.Fatalf("last page: %+v %v", m, rows)
	}

	back := base
	back.Page = Page{Size: 2, Number: 0, Before: 3}
	back.Rows = []row{{2}, {1}} // descending, as the store reads backwards
	m, rows = writeList(t, back)
	if len(rows) != 2 || rows[0].Seq != 1 || m.NextPageURL == nil || !strings.Contains(*m.NextPageURL, "PageToken=PA2") {
		t.Fatalf("backward page: %+v %v", m, rows)
	}

	empty := base
	empty.Page = Page{Size: 50}
	w := httptest.NewRecorder()
	empty.Write(w)
	if !strings.Contains(w.Body.String(), `"things":[]`) {
		t.Fatalf("empty list must be [], got %s", w.Body.String())
	}
}

func TestParsePage(t *testing.T) {
	for _, tc := range []struct {
		q      string
		ok     bool
		size   int
		after  int64
		before int64
	}{
		{"", true, 50, 0, 0},
		{"PageSize=1000", true, 1000, 0, 0},
		{"PageSize=1001", false, 0, 0, 0},
		{"PageSize=0", false, 0, 0, 0},
		{"PageToken=PA17&PageSize=5", true, 5, 17, 0},
		{"PageToken=PB9", true, 50, 0, 9},
		{"PageToken=XX9", false, 0, 0, 0},
		{"PageToken=PA-1", false, 0, 0, 0},
	} {
		v, _ := url.ParseQuery(tc.q)
		p, err := ParsePage(NewForm(v), 1000)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v", tc.q, err)
			continue
		}
		if tc.ok && (p.Size != tc.size || p.After != tc.after || p.Before != tc.before) {
			t.Errorf("%q: got %+v", tc.q, p)
		}
	}
}

func TestTimeFormats(t *testing.T) {
	b, _ := json.Marshal(struct {
		A Time
		B RFC2822
		C Time
	}{Time(Millis(1470089440000)), RFC2822(Millis(1470089440000)), Time{}})
	want := `{"A":"2016-08-01T22:10:40Z","B":"Mon, 01 Aug 2016 22:10:40 +0000","C":null}`
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}
