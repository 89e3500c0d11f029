// Package errkind gives every error a kind and a message that is safe to
// show a client. Each transport (edge HTTP, Echo API, gRPC) keeps one table
// from Kind to its own status codes; internal detail stays in the wrapped
// error, which is logged but never sent.
package errkind

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies an error by what the client should be told.
type Kind int

const (
	Internal         Kind = iota // a bug or an unexpected fault
	Invalid                      // the request is malformed or fails validation
	Unsupported                  // valid syntax for a feature Pictor does not have yet
	Unauthorized                 // missing, wrong or expired credentials or signature
	Forbidden                    // authenticated but not allowed (e.g. suspended)
	NotFound                     // no such object, or not visible to this tenant
	MethodNotAllowed             // HTTP method not served
	Conflict                     // the change conflicts with existing state
	TooLarge                     // request body over its cap
	Unprocessable                // the source image cannot be processed
	RateLimited                  // over a quota
	BadGateway                   // the origin failed or sent something that is not an image
	Unavailable                  // overloaded or a dependency is down; retry later
	Timeout                      // the origin did not answer in time
	Loop                         // a request came back to Pictor from its own origin fetch
)

var names = [...]string{
	Internal:         "internal",
	Invalid:          "invalid",
	Unsupported:      "unsupported",
	Unauthorized:     "unauthorized",
	Forbidden:        "forbidden",
	NotFound:         "not_found",
	MethodNotAllowed: "method_not_allowed",
	Conflict:         "conflict",
	TooLarge:         "too_large",
	Unprocessable:    "unprocessable",
	RateLimited:      "rate_limited",
	BadGateway:       "bad_gateway",
	Unavailable:      "unavailable",
	Timeout:          "timeout",
	Loop:             "loop",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(names) {
		return names[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is an error with a kind, a short machine-readable reason, a message
// safe for clients and, optionally, the input field at fault.
type Error struct {
	Kind   Kind
	Reason string // snake_case, for logs and metrics: "source_too_large"
	Msg    string // safe to show a client
	Field  string // the input field at fault, if one is
	Err    error  // internal cause; never shown to clients
}

func (e *Error) Error() string {
	s := e.Kind.String()
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with a client-safe message.
func New(k Kind, reason, msg string) *Error {
	return &Error{Kind: k, Reason: reason, Msg: msg}
}

// Wrap returns an error of kind k that keeps err as its internal cause.
func Wrap(k Kind, reason, msg string, err error) *Error {
	return &Error{Kind: k, Reason: reason, Msg: msg, Err: err}
}

// InvalidField reports a validation failure of one named input field.
func InvalidField(field, msg string) *Error {
	return &Error{Kind: Invalid, Reason: "invalid_field", Msg: msg, Field: field}
}

// Of returns the outermost *Error in err's chain, or nil.
func Of(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// KindOf returns the kind of err. Context deadlines count as Timeout and
// cancellations as Unavailable so they never surface as a bug.
func KindOf(err error) Kind {
	if err == nil {
		return Internal
	}
	if e := Of(err); e != nil {
		return e.Kind
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	case errors.Is(err, context.Canceled):
		return Unavailable
	}
	return Internal
}

// Reason returns the machine-readable reason of err, or the kind's name.
func Reason(err error) string {
	if e := Of(err); e != nil && e.Reason != "" {
		return e.Reason
	}
	return KindOf(err).String()
}

// SafeMessage returns what a client may be told about err.
func SafeMessage(err error) string {
	if e := Of(err); e != nil && e.Msg != "" {
		return e.Msg
	}
	switch KindOf(err) {
	case Timeout:
		return "timed out"
	case Unavailable:
		return "service unavailable, retry later"
	}
	return "internal error"
}

// FieldOf returns the input field at fault, if any.
func FieldOf(err error) string {
	if e := Of(err); e != nil {
		return e.Field
	}
	return ""
}
