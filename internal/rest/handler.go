package rest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
)

// HandlerFunc is an HTTP handler that returns its error instead of
// writing it, so that one place renders every error the same way.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP renders a returned *Error as Twilio's error body. Any other
// error is logged with the request's context and becomes a 500 whose body
// says nothing about the cause.
func (h HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		WriteError(w, r, err)
	}
}

// WriteError renders err as Twilio's error body.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := AsError(err)
	if !ok {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			return // the client went away; nobody reads the answer
		}
		slog.ErrorContext(r.Context(), "request failed", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Any("error", err))
		e = NewError(http.StatusInternalServerError, CodeInternal, "Internal server error; the request id is in the Twilio-Request-Id header")
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
	}
	_ = WriteJSON(w, e.Status, e)
}

// Router mounts handlers on a ServeMux with authentication. Public routes
// skip it; every other route needs a Principal.
type Router struct {
	Mux  *http.ServeMux
	Auth Authenticator
	// BaseURL is the public base URL every returned url is built on.
	BaseURL string
	// MaxBody is the request body limit ParseForm applies.
	MaxBody int64
}

// Handle mounts an authenticated route.
func (rt *Router) Handle(pattern string, h HandlerFunc) {
	rt.Mux.Handle(pattern, rt.Authenticated(h))
}

// Authenticated is h behind the router's authentication, for a route
// that must wrap its refusals too (CORS headers on a 401, so that a
// browser page can read it) and so mounts it with Public.
func (rt *Router) Authenticated(h HandlerFunc) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := rt.Auth.Authenticate(r)
		if err != nil {
			return err
		}
		if p == nil {
			return Unauthorized("Authenticate: send HTTP Basic credentials (AccountSid:AuthToken, an API key, or token:<access token>)")
		}
		return h(w, r.WithContext(WithPrincipal(r.Context(), p)))
	}
}

// Public mounts a route that needs no credentials.
func (rt *Router) Public(pattern string, h HandlerFunc) {
	rt.Mux.Handle(pattern, h)
}

// Form parses the request's parameters with the router's body limit.
func (rt *Router) Form(r *http.Request) (*Form, error) {
	return ParseForm(r, rt.MaxBody)
}

// URL joins the public base URL and a path.
func (rt *Router) URL(path string) string { return rt.BaseURL + path }
