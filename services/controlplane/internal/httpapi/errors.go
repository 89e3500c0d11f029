package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"pictor/services/internal/errkind"
)

// statusOf is the one table from error kind to HTTP status for this API.
var statusOf = map[errkind.Kind]int{
	errkind.Internal:         http.StatusInternalServerError,
	errkind.Invalid:          http.StatusBadRequest,
	errkind.Unsupported:      http.StatusBadRequest,
	errkind.Unauthorized:     http.StatusUnauthorized,
	errkind.Forbidden:        http.StatusForbidden,
	errkind.NotFound:         http.StatusNotFound,
	errkind.MethodNotAllowed: http.StatusMethodNotAllowed,
	errkind.Conflict:         http.StatusConflict,
	errkind.TooLarge:         http.StatusRequestEntityTooLarge,
	errkind.Unprocessable:    http.StatusUnprocessableEntity,
	errkind.RateLimited:      http.StatusTooManyRequests,
	errkind.BadGateway:       http.StatusBadGateway,
	errkind.Unavailable:      http.StatusServiceUnavailable,
	// A timeout here is the database or this server being slow, not a
	// gateway's upstream: retryable like any other unavailability.
	errkind.Timeout: http.StatusServiceUnavailable,
	errkind.Loop:    http.StatusLoopDetected,
}

// helpOf tells a client what to do about each kind of error.
var helpOf = map[errkind.Kind]string{
	errkind.Internal:         "This is a bug in Pictor; report it with the X-Request-Id header value.",
	errkind.Invalid:          "Fix the request as the message says and send it again.",
	errkind.Unsupported:      "Pictor does not implement this yet.",
	errkind.Unauthorized:     "Authenticate with a private API key as the HTTP Basic username (admin routes: Authorization: Bearer <admin token>).",
	errkind.Forbidden:        "The account is not allowed to do this.",
	errkind.NotFound:         "Check the path and the id; objects of other accounts are never visible.",
	errkind.MethodNotAllowed: "This path does not accept this HTTP method.",
	errkind.Conflict:         "The request conflicts with the current state; retrying it unchanged will not help.",
	errkind.TooLarge:         "Send a smaller request body.",
	errkind.RateLimited:      "Slow down and retry after the time in Retry-After.",
	errkind.Unavailable:      "Retry later.",
	errkind.Timeout:          "Retry later.",
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Message string `json:"message"`
	Help    string `json:"help"`
	Field   string `json:"field,omitempty"`
}

// handleError renders err as the JSON error response. It is Echo's error
// handler, so routing errors (404, 405) take the same shape.
func (s *server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	err = fromEcho(err)
	kind := errkind.KindOf(err)
	status, ok := statusOf[kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		// The only place internal detail goes: the log.
		s.Log.LogAttrs(c.Request().Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestIDOf(c)),
			slog.String("method", c.Request().Method),
			slog.String("path", c.Request().URL.Path),
			slog.Int("status", status),
			slog.String("reason", errkind.Reason(err)),
			slog.String("err", err.Error()))
	}
	if kind == errkind.Conflict {
		// ImageKit's SDKs retry 409 unless told not to.
		c.Response().Header().Set("X-Should-Retry", "false")
	}
	body := errorBody{Message: errkind.SafeMessage(err), Help: helpOf[kind], Field: errkind.FieldOf(err)}
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(status)
	} else {
		err = c.JSON(status, body)
	}
	if err != nil {
		s.Log.Debug("write error response", "request_id", requestIDOf(c), "err", err)
	}
}

// fromEcho gives Echo's own errors (no route, wrong method, ...) a kind.
func fromEcho(err error) error {
	var he *echo.HTTPError
	if !errors.As(err, &he) || errkind.Of(err) != nil {
		return err
	}
	switch he.Code {
	case http.StatusNotFound:
		return errkind.New(errkind.NotFound, "no_route", "no such route")
	case http.StatusMethodNotAllowed:
		return errkind.New(errkind.MethodNotAllowed, "method_not_allowed", "method not allowed on this path")
	case http.StatusRequestEntityTooLarge:
		return errkind.New(errkind.TooLarge, "body_too_large", "request body too large")
	case http.StatusUnauthorized:
		return errkind.New(errkind.Unauthorized, "unauthorized", "unauthorized")
	case http.StatusBadRequest:
		return errkind.Wrap(errkind.Invalid, "bad_request", "bad request", err)
	}
	return errkind.Wrap(errkind.Internal, "echo_error", "", err)
}
