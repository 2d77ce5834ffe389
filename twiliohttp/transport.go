// Package twiliohttp points Twilio's official helper libraries at a
// Parley server. Twilio's libraries call https://{product}.twilio.com/...;
// Parley serves every product on one port under {base}/{product}/...
// This transport rewrites the first into the second and changes nothing
// else, so code written against Twilio works unchanged:
//
//	c := &client.Client{
//		Credentials: client.NewCredentials(accountSid, authToken),
//		HTTPClient:  twiliohttp.Client("http://127.0.0.1:8080"),
//	}
//	c.SetAccountSid(accountSid)
//	tw := twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
package twiliohttp

import (
	"net/http"
	"net/url"
	"strings"
)

// Transport rewrites requests for *.twilio.com to Base. Requests for any
// other host (such as the paging URLs Parley itself returns) pass through.
type Transport struct {
	Base *url.URL
	// Next sends the rewritten request; nil means http.DefaultTransport.
	Next http.RoundTripper
}

// New returns a Transport for the Parley server at base
// (e.g. "https://chat.example.com" or "http://127.0.0.1:8080").
func New(base string) (*Transport, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil {
		return nil, err
	}
	return &Transport{Base: u}, nil
}

// Client returns an *http.Client using the Transport for base. It panics
// on a malformed base URL, which is a programming error.
func Client(base string) *http.Client {
	t, err := New(base)
	if err != nil {
		panic("twiliohttp: bad base URL: " + err.Error())
	}
	return &http.Client{Transport: t}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	host := req.URL.Hostname()
	if !strings.HasSuffix(host, ".twilio.com") {
		return next.RoundTrip(req)
	}
	// product.twilio.com, product.region.twilio.com, product.edge.region.twilio.com
	product := host[:strings.IndexByte(host, '.')]
	r := req.Clone(req.Context())
	r.URL.Scheme = t.Base.Scheme
	r.URL.Host = t.Base.Host
	r.URL.Path = t.Base.Path + "/" + product + req.URL.Path
	if req.URL.RawPath != "" {
		r.URL.RawPath = t.Base.EscapedPath() + "/" + product + req.URL.RawPath
	}
	r.Host = ""
	return next.RoundTrip(r)
}
