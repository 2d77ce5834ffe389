package rest

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Form is a request's parameters, as Twilio sends them: form-encoded
// PascalCase names, dotted names for nested values, repeated names for
// lists, booleans as true/false. Getters record the first problem they
// meet; the handler checks Err once, which keeps handlers short:
//
//	f, err := rest.ParseForm(r, limit)
//	name := f.Required("FriendlyName")
//	enabled := f.Bool("Enabled")
//	if err := f.Err(); err != nil { return err }
type Form struct {
	values url.Values
	err    error
}

// ParseForm reads the query string and, for a form-encoded body, the body
// (at most limit bytes). twilio-go sends the form content type even on GET
// and DELETE, and none when it follows a next_page_url; both are fine.
func ParseForm(r *http.Request, limit int64) (*Form, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && r.Method != http.MethodGet && r.Method != http.MethodDelete {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data") {
			return nil, NewError(http.StatusUnsupportedMediaType, CodeInvalidParam,
				"Unsupported Content-Type %q: send application/x-www-form-urlencoded", ct)
		}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, TooLarge(limit)
		}
		return nil, BadRequest("The request body is not valid form encoding: %s", cleanErr(err))
	}
	for name, vs := range r.Form {
		for _, v := range vs {
			if !utf8.ValidString(v) || !utf8.ValidString(name) {
				return nil, BadRequest("Parameter %s is not valid UTF-8", strconv.Quote(name))
			}
		}
	}
	return &Form{values: r.Form}, nil
}

// NewForm wraps values, for tests and for callers that decoded elsewhere.
func NewForm(v url.Values) *Form { return &Form{values: v} }

func cleanErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// Err is the first problem any getter met.
func (f *Form) Err() error { return f.err }

func (f *Form) fail(err error) {
	if f.err == nil {
		f.err = err
	}
}

// Has reports whether the parameter was sent at all (even empty).
func (f *Form) Has(name string) bool {
	_, ok := f.values[name]
	return ok
}

// String returns the parameter's value, or "" when absent.
func (f *Form) String(name string) string { return f.values.Get(name) }

// Optional returns nil when the parameter is absent.
func (f *Form) Optional(name string) *string {
	if !f.Has(name) {
		return nil
	}
	s := f.values.Get(name)
	return &s
}

// Required returns the value, or records a missing-parameter error.
func (f *Form) Required(name string) string {
	s := f.values.Get(name)
	if s == "" {
		f.fail(MissingParam(name))
	}
	return s
}

// MaxLen records an error if the parameter is longer than n characters.
func (f *Form) MaxLen(name string, n int) {
	if utf8.RuneCountInString(f.values.Get(name)) > n {
		f.fail(InvalidParam(name, "must be at most %d characters", n))
	}
}

// Strings returns every value of a repeated parameter.
func (f *Form) Strings(name string) []string { return f.values[name] }

// Bool parses true or false (any case); nil when absent.
func (f *Form) Bool(name string) *bool {
	if !f.Has(name) {
		return nil
	}
	var b bool
	switch strings.ToLower(f.values.Get(name)) {
	case "true":
		b = true
	case "false":
	default:
		f.fail(InvalidParam(name, "%q is not true or false", f.values.Get(name)))
		return nil
	}
	return &b
}

// Int parses a whole number in [min, max]; nil when absent.
func (f *Form) Int(name string, min, max int) *int {
	if !f.Has(name) {
		return nil
	}
	s := f.values.Get(name)
	n, err := strconv.Atoi(s)
	if err != nil {
		f.fail(InvalidParam(name, "%q is not a whole number", s))
		return nil
	}
	if n < min || n > max {
		f.fail(InvalidParam(name, "%d is outside the range %d to %d", n, min, max))
		return nil
	}
	return &n
}

// OneOf returns the value if it is one of allowed (or absent: "").
func (f *Form) OneOf(name string, allowed ...string) string {
	s := f.values.Get(name)
	if s == "" {
		return ""
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	f.fail(InvalidParam(name, "%q is not one of %s", s, strings.Join(allowed, ", ")))
	return ""
}

// SID returns the value if it is a SID with prefix (or absent: "").
func (f *Form) SID(name, prefix string) string {
	s := f.values.Get(name)
	if s != "" && !IsSID(prefix, s) {
		f.fail(InvalidParam(name, "%q is not a %s SID (%s followed by 32 hex digits)", s, prefix, prefix))
		return ""
	}
	return s
}

// JSON returns the value if it parses as JSON (or absent: nil), limited to
// max bytes. Twilio's attributes-like fields are JSON text.
func (f *Form) JSON(name string, max int) *string {
	s := f.Optional(name)
	if s == nil {
		return nil
	}
	if len(*s) > max {
		f.fail(InvalidParam(name, "must be at most %d bytes", max))
		return nil
	}
	if !json.Valid([]byte(*s)) {
		f.fail(InvalidParam(name, "is not valid JSON"))
		return nil
	}
	return s
}

// URL returns the value if it is an absolute http(s) URL (or absent: "").
func (f *Form) URL(name string) string {
	s := f.values.Get(name)
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		f.fail(InvalidParam(name, "%q is not an absolute http or https URL", s))
		return ""
	}
	return s
}
