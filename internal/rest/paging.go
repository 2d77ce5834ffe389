package rest

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Page is a list request's paging: PageSize, the echoed Page number, and
// the PageToken decoded into a keyset cursor on the table's sequence
// column. Keyset paging never skips or repeats rows when rows are added
// between pages. Tokens are "PA<seq>" (rows after seq) and "PB<seq>"
// (rows before seq, for previous_page_url).
type Page struct {
	Size   int
	Number int
	After  int64
	Before int64
}

// ParsePage reads PageSize (default 50, at most max), Page and PageToken.
func ParsePage(f *Form, max int) (Page, error) {
	p := Page{Size: 50}
	if n := f.Int("PageSize", 1, max); n != nil {
		p.Size = *n
	}
	if n := f.Int("Page", 0, 1<<30); n != nil {
		p.Number = *n
	}
	if err := f.Err(); err != nil {
		return p, err
	}
	if tok := f.String("PageToken"); tok != "" {
		seq, err := strconv.ParseInt(tok[min(2, len(tok)):], 10, 64)
		switch {
		case err != nil || seq < 0:
			return p, InvalidParam("PageToken", "%q is not a page token this API issued", tok)
		case strings.HasPrefix(tok, "PA"):
			p.After = seq
		case strings.HasPrefix(tok, "PB"):
			p.Before = seq
		default:
			return p, InvalidParam("PageToken", "%q is not a page token this API issued", tok)
		}
	}
	return p, nil
}

// Backward reports whether the page reads rows before a cursor.
func (p Page) Backward() bool { return p.Before > 0 }

// Fetch is how many rows a store should read: one more than the page, so
// that the list knows whether another page follows.
func (p Page) Fetch() int { return p.Size + 1 }

// List is one page of a list response.
type List[T any] struct {
	// Key is the list key the spec names ("keys", "channels", ...).
	Key string
	// URL is the absolute list URL without a query string.
	URL string
	// Rows as the store returned them for Page: at most Fetch() rows, in
	// ascending seq order, or descending when Page.Backward().
	Rows []T
	Seq  func(T) int64
	Page Page
	// Query carries the request's filters, repeated in paging URLs.
	Query url.Values
}

// Meta is the Twilio v1/v2 paging envelope's meta object.
type Meta struct {
	Page            int     `json:"page"`
	PageSize        int     `json:"page_size"`
	FirstPageURL    string  `json:"first_page_url"`
	PreviousPageURL *string `json:"previous_page_url"`
	URL             string  `json:"url"`
	NextPageURL     *string `json:"next_page_url"`
	Key             string  `json:"key"`
}

// window trims the extra row and puts rows in ascending order, returning
// whether rows exist past each end.
func (l *List[T]) window() (rows []T, more bool) {
	rows = l.Rows
	if len(rows) > l.Page.Size {
		rows, more = rows[:l.Page.Size], true
	}
	if l.Page.Backward() {
		rows = slices.Clone(rows)
		slices.Reverse(rows)
	}
	return rows, more
}

func (l *List[T]) pageURL(number int, token string) string {
	q := url.Values{}
	for k, vs := range l.Query {
		if k != "PageSize" && k != "Page" && k != "PageToken" {
			q[k] = vs
		}
	}
	q.Set("PageSize", strconv.Itoa(l.Page.Size))
	q.Set("Page", strconv.Itoa(number))
	if token != "" {
		q.Set("PageToken", token)
	}
	return l.URL + "?" + q.Encode()
}

// links computes first, current, previous and next URLs.
func (l *List[T]) links() (rows []T, first, cur string, prev, next *string) {
	rows, more := l.window()
	first = l.pageURL(0, "")
	cur = l.pageURL(l.Page.Number, token(l.Page))
	hasNext := more || (l.Page.Backward() && len(rows) > 0)
	hasPrev := (l.Page.Backward() && more) || (!l.Page.Backward() && l.Page.After > 0 && len(rows) > 0)
	if hasNext && len(rows) > 0 {
		s := l.pageURL(l.Page.Number+1, "PA"+strconv.FormatInt(l.Seq(rows[len(rows)-1]), 10))
		next = &s
	}
	if hasPrev && l.Page.Number > 0 {
		s := l.pageURL(l.Page.Number-1, "PB"+strconv.FormatInt(l.Seq(rows[0]), 10))
		prev = &s
	}
	return rows, first, cur, prev, next
}

func token(p Page) string {
	switch {
	case p.After > 0:
		return "PA" + strconv.FormatInt(p.After, 10)
	case p.Before > 0:
		return "PB" + strconv.FormatInt(p.Before, 10)
	}
	return ""
}

// Write sends the page in the v1/v2 envelope: {"meta": {...}, key: [...]}.
func (l *List[T]) Write(w http.ResponseWriter) error {
	rows, first, cur, prev, next := l.links()
	if rows == nil {
		rows = []T{}
	}
	return WriteJSON(w, http.StatusOK, map[string]any{
		"meta": Meta{Page: l.Page.Number, PageSize: l.Page.Size, FirstPageURL: first,
			PreviousPageURL: prev, URL: cur, NextPageURL: next, Key: l.Key},
		l.Key: rows,
	})
}

// Write2010 sends the page in the 2010 API's envelope, whose paging
// fields are URIs relative to the API host and sit beside the list.
// hostBase is the absolute URL that stands for https://api.twilio.com.
func (l *List[T]) Write2010(w http.ResponseWriter, hostBase string) error {
	rows, first, cur, prev, next := l.links()
	if rows == nil {
		rows = []T{}
	}
	rel := func(s string) string { return strings.TrimPrefix(s, hostBase) }
	relp := func(s *string) *string {
		if s == nil {
			return nil
		}
		r := rel(*s)
		return &r
	}
	start := l.Page.Number * l.Page.Size
	return WriteJSON(w, http.StatusOK, map[string]any{
		"first_page_uri": rel(first), "uri": rel(cur), "next_page_uri": relp(next), "previous_page_uri": relp(prev),
		"page": l.Page.Number, "page_size": l.Page.Size, "start": start, "end": start + max(len(rows)-1, 0),
		l.Key: rows,
	})
}
