package webhook

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const token = "12345"

func client(t *testing.T, opts Options) *Client {
	opts.Backoff = 10 * time.Millisecond
	c := New(func(ctx context.Context, acct string) (string, error) {
		if acct != "AC1" {
			return "", errors.New("unknown account")
		}
		return token, nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)), opts)
	t.Cleanup(c.Close)
	return c
}

// The example from Twilio's request-validation docs and helper-library snippets.
func TestSignatureTwilioExample(t *testing.T) {
	params := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675310"}, "Digits": {"1234"},
		"From": {"+14158675310"}, "To": {"+18005551212"}}
	got := Signature(token, "https://mycompany.com/myapp.php?foo=1&bar=2", params)
	if got != "GvWf1cFY/Q7PnoempGyD5oXAezc=" {
		t.Fatalf("signature %s", got)
	}
	if !Valid(token, "https://mycompany.com/myapp.php?foo=1&bar=2", params, got) || Valid("other", "https://mycompany.com/myapp.php?foo=1&bar=2", params, got) {
		t.Fatal("Valid disagrees")
	}
}

func TestCallSignsAndRetries(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		full := "http://" + r.Host + r.URL.RequestURI()
		if !Valid(token, full, r.PostForm, r.Header.Get("X-Twilio-Signature")) {
			w.WriteHeader(403)
			return
		}
		if hits.Add(1) < 3 {
			w.WriteHeader(503)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"instruction":"accept"}`)
	}))
	defer srv.Close()
	c := client(t, Options{})
	res, err := c.Call(context.Background(), Request{AccountSID: "AC1", URL: srv.URL + "/hook?x=1", Params: url.Values{"EventType": {"onMessageSent"}, "Body": {"hi"}}, Retries: 2})
	if err != nil || res.Status != 200 || string(res.Body) != `{"instruction":"accept"}` || hits.Load() != 3 {
		t.Fatalf("res %+v err %v hits %d", res, err, hits.Load())
	}

	// GET puts the parameters in the signed URL.
	get := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" || r.URL.Query().Get("A") != "b" || !Valid(token, "http://"+r.Host+r.URL.RequestURI(), nil, r.Header.Get("X-Twilio-Signature")) {
			w.WriteHeader(400)
		}
	}))
	defer get.Close()
	if _, err := c.Call(context.Background(), Request{AccountSID: "AC1", URL: get.URL, Method: "GET", Params: url.Values{"A": {"b"}}}); err != nil {
		t.Fatalf("GET: %v", err)
	}
}

func TestCallFailures(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
		}
		w.WriteHeader(400)
	}))
	defer srv.Close()
	c := client(t, Options{Timeout: 100 * time.Millisecond})

	_, err := c.Call(context.Background(), Request{AccountSID: "AC1", URL: srv.URL, Retries: 3})
	var we *Error
	if !errors.As(err, &we) || we.Status != 400 || hits.Load() != 1 {
		t.Fatalf("a 400 is final: %v hits %d", err, hits.Load())
	}
	_, err = c.Call(context.Background(), Request{AccountSID: "AC1", URL: srv.URL + "/slow", Retries: 1})
	if !errors.As(err, &we) || we.Attempts != 2 || we.Status != 0 {
		t.Fatalf("timeouts retry then fail: %v", err)
	}
	if _, err := c.Call(context.Background(), Request{AccountSID: "AC2", URL: srv.URL}); err == nil {
		t.Fatal("unknown account signed")
	}
	_, err = c.Call(context.Background(), Request{AccountSID: "AC1", URL: srv.URL + "/x?secret=hunter2"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error text leaks the query: %v", err)
	}
}

func TestSendIsAsync(t *testing.T) {
	got := make(chan string, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		r.ParseForm()
		got <- r.PostForm.Get("Body")
	}))
	defer srv.Close()
	defer close(release)
	c := client(t, Options{Timeout: 5 * time.Second})
	// The endpoint blocks until release; were Send to wait for it, this
	// test would deadlock here instead of reaching the release.
	c.Send(Request{AccountSID: "AC1", URL: srv.URL + "?secret=1", Params: url.Values{"Body": {"hello"}}})
	release <- struct{}{}
	select {
	case b := <-got:
		if b != "hello" {
			t.Fatalf("body %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send never delivered")
	}
}
