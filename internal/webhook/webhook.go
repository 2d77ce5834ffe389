// Package webhook sends Parley's outgoing webhooks the way Twilio does:
// form-encoded, signed with the account's auth token in
// X-Twilio-Signature, retried with backoff, and bounded in time and size
// so that a slow or hostile endpoint never holds up a visitor or an agent.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Signature computes X-Twilio-Signature: HMAC-SHA1, keyed with the auth
// token, of the full URL followed by each POST parameter's name and value
// (names sorted, then each name's values sorted), base64-encoded. For a
// GET the parameters are already in the URL and params is nil.
func Signature(authToken, rawURL string, params url.Values) string {
	var b strings.Builder
	b.WriteString(rawURL)
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		vs := slices.Clone(params[k])
		slices.Sort(vs)
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Valid reports whether signature is right for the request, in constant time.
func Valid(authToken, rawURL string, params url.Values, signature string) bool {
	return hmac.Equal([]byte(Signature(authToken, rawURL, params)), []byte(signature))
}

// Request is one webhook to deliver.
type Request struct {
	// AccountSID names the account whose auth token signs the request.
	AccountSID string
	URL        string
	// Method is POST (default) or GET (params go in the query string).
	Method string
	Params url.Values
	// Retries is how many more attempts follow a failed first one (0-5).
	Retries int
}

// Response is what the endpoint answered.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
}

// Error is a delivery that failed after every attempt.
type Error struct {
	URL      string
	Attempts int
	Status   int // the last HTTP status, 0 when no answer came
	Err      error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("webhook: %s answered %d after %d attempts", redact(e.URL), e.Status, e.Attempts)
	}
	return fmt.Sprintf("webhook: %s failed after %d attempts: %v", redact(e.URL), e.Attempts, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// redact drops the query and credentials from a URL before it is logged.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(malformed url)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// TokenSource returns an account's auth token, the signing key.
type TokenSource func(ctx context.Context, accountSID string) (string, error)

// Options bound the client. Zero values take the defaults.
type Options struct {
	Timeout  time.Duration // per attempt; default 5s (Twilio retries after 5 s too)
	MaxBody  int64         // response bytes read; default 64 KiB
	Backoff  time.Duration // first retry delay, doubled each time, with jitter; default 500ms
	Workers  int           // goroutines delivering Send requests; default 8
	Queue    int           // Send requests waiting; default 10,000
	Client   *http.Client  // default: a client with Timeout and no redirects
	MaxRetry int           // cap on Request.Retries; default 5
}

// Client delivers webhooks.
type Client struct {
	opts   Options
	tokens TokenSource
	logger *slog.Logger
	http   *http.Client
	queue  chan Request
	wg     sync.WaitGroup
	stop   chan struct{}
	once   sync.Once
}

// New starts a client with its Send workers.
func New(tokens TokenSource, logger *slog.Logger, opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 64 << 10
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.Queue <= 0 {
		opts.Queue = 10000
	}
	if opts.MaxRetry <= 0 {
		opts.MaxRetry = 5
	}
	hc := opts.Client
	if hc == nil {
		hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	c := &Client{opts: opts, tokens: tokens, logger: logger.With("component", "webhook"), http: hc,
		queue: make(chan Request, opts.Queue), stop: make(chan struct{})}
	for range opts.Workers {
		c.wg.Add(1)
		go c.worker()
	}
	return c
}

// Call delivers req now and returns the endpoint's 2xx answer, retrying
// network errors, timeouts, 429 and 5xx answers up to req.Retries times.
// Other 4xx answers are final. ctx bounds the whole call.
func (c *Client) Call(ctx context.Context, req Request) (*Response, error) {
	token, err := c.tokens(ctx, req.AccountSID)
	if err != nil {
		return nil, fmt.Errorf("webhook: signing key: %w", err)
	}
	retries := min(max(req.Retries, 0), c.opts.MaxRetry)
	delay := c.opts.Backoff
	var last *Error
	for attempt := 1; ; attempt++ {
		res, err := c.attempt(ctx, token, req)
		if err == nil && res.Status >= 200 && res.Status < 300 {
			return res, nil
		}
		last = &Error{URL: req.URL, Attempts: attempt, Err: err}
		if res != nil {
			last.Status = res.Status
		}
		if attempt > retries || !retryable(res, err) {
			return res, last
		}
		jittered := delay/2 + rand.N(delay)
		select {
		case <-ctx.Done():
			last.Err = ctx.Err()
			return nil, last
		case <-time.After(jittered):
		}
		delay *= 2
	}
}

func retryable(res *Response, err error) bool {
	if err != nil {
		return !errors.Is(err, context.Canceled)
	}
	return res.Status == http.StatusTooManyRequests || res.Status >= 500
}

func (c *Client) attempt(ctx context.Context, token string, req Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	method := req.Method
	if method == "" {
		method = http.MethodPost
	}
	target := req.URL
	var body io.Reader
	signParams := req.Params
	if method == http.MethodGet {
		u, err := url.Parse(req.URL)
		if err != nil {
			return nil, err
		}
		q := u.Query()
		for k, vs := range req.Params {
			q[k] = append(q[k], vs...)
		}
		u.RawQuery = q.Encode()
		if u.Path == "" {
			u.Path = "/"
		}
		target, signParams = u.String(), nil
	} else {
		body = strings.NewReader(req.Params.Encode())
	}
	hr, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	hr.Header.Set("User-Agent", "Parley-Webhook/1")
	hr.Header.Set("X-Twilio-Signature", Signature(token, target, signParams))
	res, err := c.http.Do(hr)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, c.opts.MaxBody))
	if err != nil {
		return nil, err
	}
	return &Response{Status: res.StatusCode, ContentType: res.Header.Get("Content-Type"), Body: b}, nil
}

// Send queues req for delivery in the background and returns at once. A
// full queue drops the request and logs it: the caller's action is already
// committed and must not wait on someone else's endpoint.
func (c *Client) Send(req Request) {
	select {
	case c.queue <- req:
	default:
		c.logger.Warn("webhook queue full; request dropped", slog.String("url", redact(req.URL)))
	}
}

func (c *Client) worker() {
	defer c.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-c.stop; cancel() }()
	for {
		select {
		case <-c.stop:
			return
		case req := <-c.queue:
			if _, err := c.Call(ctx, req); err != nil && ctx.Err() == nil {
				c.logger.Warn("webhook not delivered", slog.String("url", redact(req.URL)), slog.Any("error", err))
			}
		}
	}
}

// Close stops the workers; queued requests not yet started are dropped.
func (c *Client) Close() {
	c.once.Do(func() { close(c.stop) })
	c.wg.Wait()
}
