// Package fault defines the one error type the application reports to its
// callers. Each error carries a Code; the HTTP layer maps codes to status
// codes and to the platform's {"faultcode","faultstring"} body in one place.
package fault

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an error for the caller.
type Code string

// Codes are written to the wire as the faultcode.
const (
	Invalid         Code = "InvalidRequest"
	Unauthorized    Code = "Unauthorized"
	Forbidden       Code = "Forbidden"
	NotFound        Code = "NotFound"
	Conflict        Code = "Conflict"
	Locked          Code = "AccountSuspended"
	Internal        Code = "InternalError"
	Unavailable     Code = "ServiceUnavailable"
	Unsupported     Code = "UnsupportedMediaType"
	PreconditionErr Code = "PreconditionFailed"
	TooMany         Code = "TooManyRequests"
)

// Error is an error whose message is safe to show to the client.
type Error struct {
	Code    Code
	Message string
	// RetryAfter, when set, tells the client how long to wait (TooMany).
	RetryAfter time.Duration
}

// Throttled returns a TooMany error asking the client to wait d.
func Throttled(d time.Duration, format string, args ...any) *Error {
	e := New(TooMany, format, args...)
	e.RetryAfter = d
	return e
}

// RetryAfterOf returns how long err asks the client to wait, or 0.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// New returns an *Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok { // AsType: no allocation, CodeOf is on every request
		return e.Code
	}
	return Internal
}

// MessageOf returns the client-safe message of err. Errors that are not
// *Error get a generic message so that internals never leak.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "An error occurred processing the call."
}

// Wrap prefixes a non-nil *errp with the operation that failed, keeping its
// code and client message: defer fault.Wrap(&err, "store.Session(%x)", hash).
// Wrapped errors still match errors.Is and errors.As.
func Wrap(errp *error, format string, args ...any) {
	if *errp != nil {
		*errp = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), *errp)
	}
}
