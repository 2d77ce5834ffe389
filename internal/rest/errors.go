// Package rest holds Twilio's REST conventions, written once for every
// Parley API: SIDs, form decoding, JSON and dates, paging envelopes, the
// error catalogue, the error-returning handler adapter and authentication.
package rest

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Error is a Twilio-style API error. It is both a Go error and the exact
// JSON body Twilio returns: {"code", "message", "more_info", "status"}.
type Error struct {
	Status   int    `json:"status"`
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	// Details, when set, is sent as "details" (Studio lists a definition's problems there).
	Details any `json:"details,omitempty"`
	// RetryAfter, when set, is sent as a Retry-After header (seconds).
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %d: %s", e.Status, e.Code, e.Message) }

// Twilio error codes Parley uses. Each links to Twilio's page for it.
const (
	CodeInvalidParam    = 20001
	CodeAuthenticate    = 20003
	CodeMethodNotAllow  = 20004
	CodeForbidden       = 20403
	CodeNotFound        = 20404
	CodeTooManyRequests = 20429
	CodeInternal        = 20500
	CodeUnavailable     = 20503
)

// NewError builds an Error with more_info pointing at Twilio's error page.
func NewError(status, code int, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...),
		MoreInfo: "https://www.twilio.com/docs/errors/" + strconv.Itoa(code)}
}

// Errors of the catalogue.
func NotFound(format string, args ...any) *Error {
	return NewError(http.StatusNotFound, CodeNotFound, format, args...)
}

func BadRequest(format string, args ...any) *Error {
	return NewError(http.StatusBadRequest, CodeInvalidParam, format, args...)
}

func InvalidParam(name, format string, args ...any) *Error {
	return BadRequest("Invalid parameter %s: %s", name, fmt.Sprintf(format, args...))
}

func MissingParam(name string) *Error {
	return BadRequest("Missing required parameter %s in the post body", name)
}

func Unauthorized(format string, args ...any) *Error {
	return NewError(http.StatusUnauthorized, CodeAuthenticate, format, args...)
}

func Forbidden(format string, args ...any) *Error {
	return NewError(http.StatusForbidden, CodeForbidden, format, args...)
}

func Conflict(code int, format string, args ...any) *Error {
	return NewError(http.StatusConflict, code, format, args...)
}

func TooManyRequests(retryAfterSeconds int) *Error {
	e := NewError(http.StatusTooManyRequests, CodeTooManyRequests, "Too many requests: retry after %d seconds", retryAfterSeconds)
	e.RetryAfter = retryAfterSeconds
	return e
}

func TooLarge(limit int64) *Error {
	return NewError(http.StatusRequestEntityTooLarge, CodeInvalidParam, "Request body is larger than the limit of %d bytes", limit)
}

// AsError returns the *Error inside err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
