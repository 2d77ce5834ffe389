package studio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The rule for a flow's outgoing HTTP (make-http-request, run-function):
//
//   - Parley never adds credentials of its own: no Authorization, no auth
//     token, no signature. add_twilio_auth is accepted and ignored.
//   - A request to Parley's own origin (its public URL's host, or its
//     listen address) that carries credentials (an Authorization,
//     Proxy-Authorization, X-Twilio-Token or Cookie header, or a user in
//     the URL) is refused, also after a redirect. Otherwise a visitor's
//     text rendered into a URL could make a flow act on Parley's REST or
//     admin API with whatever credentials the flow's author put in it.
//   - Each request is bounded: a timeout (the widget's, at most
//     Options.MaxHTTPTimeout) and a response size (Options.MaxResponseBytes;
//     a longer body is cut and not parsed).

// credentialHeaders are the request headers that carry credentials to Parley.
var credentialHeaders = []string{"Authorization", "Proxy-Authorization", "X-Twilio-Token", "Cookie"}

// errSelfWithCredentials is the refusal of the rule above.
var errSelfWithCredentials = errors.New("refused: a flow may not send credentials to Parley's own URL")

type httpCaller struct {
	client  *http.Client
	maxBody int64
	maxWait time.Duration
	self    map[string]bool // host:port of Parley's own origins
}

type httpCall struct {
	Method, URL, ContentType string
	Body                     []byte
	Header                   http.Header
	Timeout                  time.Duration
}

type httpAnswer struct {
	Status      int
	ContentType string
	Body        []byte
	Truncated   bool
}

func newHTTPCaller(opts Options) *httpCaller {
	c := &httpCaller{maxBody: opts.MaxResponseBytes, maxWait: opts.MaxHTTPTimeout, self: map[string]bool{}}
	for _, origin := range opts.SelfOrigins {
		if u, err := url.Parse(origin); err == nil && u.Host != "" {
			c.self[hostPort(u)] = true
		} else if origin != "" {
			c.self[strings.ToLower(origin)] = true
		}
	}
	base := opts.HTTPClient
	if base == nil {
		base = &http.Client{Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 16, IdleConnTimeout: 60 * time.Second, ResponseHeaderTimeout: opts.MaxHTTPTimeout}}
	}
	cl := *base
	cl.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("stopped after 5 redirects")
		}
		return c.check(req)
	}
	c.client = &cl
	return c
}

// hostPort is u's host with the scheme's default port made explicit, lower-case.
func hostPort(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return strings.ToLower(net.JoinHostPort(host, port))
}

// check applies the credentials rule to one request (the first or a redirect).
func (c *httpCaller) check(req *http.Request) error {
	if !c.isSelf(req.URL) {
		return nil
	}
	if req.URL.User != nil {
		return errSelfWithCredentials
	}
	for _, h := range credentialHeaders {
		if req.Header.Get(h) != "" {
			return errSelfWithCredentials
		}
	}
	return nil
}

func (c *httpCaller) isSelf(u *url.URL) bool {
	hp := hostPort(u)
	if c.self[hp] {
		return true
	}
	// 127.0.0.1, localhost and [::1] reach the same listener.
	_, port, _ := net.SplitHostPort(hp)
	if isLoopbackName(u.Hostname()) {
		for s := range c.self {
			h, p, _ := net.SplitHostPort(s)
			if p == port && (isLoopbackName(h) || h == "0.0.0.0" || h == "::" || h == "") {
				return true
			}
		}
	}
	return false
}

func isLoopbackName(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// do sends the call and reads a bounded answer.
func (c *httpCaller) do(ctx context.Context, call httpCall) (*httpAnswer, error) {
	u, err := url.Parse(call.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http or https URL", truncate(call.URL, 200))
	}
	timeout := call.Timeout
	if timeout <= 0 || timeout > c.maxWait {
		timeout = c.maxWait
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if call.Body != nil {
		body = bytes.NewReader(call.Body)
	}
	req, err := http.NewRequestWithContext(ctx, call.Method, u.String(), body)
	if err != nil {
		return nil, err
	}
	for k, vs := range call.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if call.ContentType != "" && call.Body != nil {
		req.Header.Set("Content-Type", call.ContentType)
	}
	req.Header.Set("User-Agent", "Parley-Studio/1")
	if err := c.check(req); err != nil {
		return nil, err
	}
	res, err := c.client.Do(req)
	if err != nil {
		return nil, cleanHTTPError(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, c.maxBody+1))
	if err != nil {
		return nil, cleanHTTPError(err)
	}
	ans := &httpAnswer{Status: res.StatusCode, ContentType: res.Header.Get("Content-Type"), Body: b}
	if int64(len(b)) > c.maxBody {
		ans.Body, ans.Truncated = b[:c.maxBody], true
	}
	return ans, nil
}

// cleanHTTPError keeps the reason but drops the URL (it may hold a query
// with secrets) from errors shown in Steps.
func cleanHTTPError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if errors.Is(ue.Err, context.DeadlineExceeded) || ue.Timeout() {
			return errors.New("the request timed out")
		}
		return fmt.Errorf("%s failed: %v", ue.Op, ue.Err)
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// output is widgets.<name> after an HTTP call: status_code, content_type,
// body and, for a JSON answer, parsed.
func (a *httpAnswer) output() map[string]any {
	out := map[string]any{"status_code": a.Status, "content_type": a.ContentType, "body": string(a.Body)}
	if a.Truncated {
		out["truncated"] = true
		return out
	}
	mt, _, _ := mime.ParseMediaType(a.ContentType)
	looksJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
	trimmed := bytes.TrimSpace(a.Body)
	if !looksJSON && len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		looksJSON = true
	}
	if looksJSON {
		var v any
		if err := json.Unmarshal(trimmed, &v); err == nil {
			out["parsed"] = v
		}
	}
	return out
}

func (a *httpAnswer) ok() bool { return a.Status >= 200 && a.Status < 300 }
