package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/auth"
	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

const (
	headerRequestID = "X-Request-Id"
	ctxRequestID    = "pictor.request_id"
	ctxCaller       = "pictor.caller"
)

// requestID takes a well-formed X-Request-Id from the client (a load
// balancer may have set it) or makes one, and echoes it in the response.
func (s *server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(headerRequestID)
		if !validRequestID(id) {
			b := make([]byte, 16)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(headerRequestID, id)
		return next(c)
	}
}

// validRequestID admits short ids of safe characters only: the id lands in
// logs and the audit table.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

func requestIDOf(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// accessLog writes one line per request. Errors are rendered here, so the
// status logged is the status sent. Probes log at debug: they are noise.
func (s *server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		req, res := c.Request(), c.Response()
		level := slog.LevelInfo
		if p := req.URL.Path; p == "/healthz" || p == "/readyz" {
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("request_id", requestIDOf(c)),
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.Int("status", res.Status),
			slog.Int64("bytes_out", res.Size),
			slog.Int64("duration_ms", time.Since(start).Milliseconds()),
			slog.String("remote_addr", req.RemoteAddr),
		}
		if caller, ok := c.Get(ctxCaller).(tenant.Caller); ok {
			attrs = append(attrs, slog.String("account_id", caller.AccountID), slog.String("actor", caller.Actor))
		}
		s.Log.LogAttrs(req.Context(), level, "http request", attrs...)
		return nil
	}
}

// recoverPanic turns a handler panic into a 500 instead of a dead process.
func (s *server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r) // net/http's own way to abort a response
			}
			s.Log.Error("handler panic", "request_id", requestIDOf(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = errkind.New(errkind.Internal, "panic", "")
		}()
		return next(c)
	}
}

// timeout bounds the work of each request, database calls included.
func (s *server) timeout(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// adminAuth admits requests with "Authorization: Bearer <admin token>".
func (s *server) adminAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		scheme, token, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		if !strings.EqualFold(scheme, "Bearer") || !auth.TokenEqual(token, s.AdminToken) {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="pictor-admin"`)
			return errkind.New(errkind.Unauthorized, "bad_admin_token", "missing or wrong admin token")
		}
		c.Set(ctxCaller, tenant.Caller{Actor: "admin", RequestID: requestIDOf(c)})
		return next(c)
	}
}

// keyAuth admits requests whose HTTP Basic username is an active private
// key of an active account (the password is ignored, as ImageKit does) and
// scopes the request to that account.
func (s *server) keyAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		unauthorized := func(reason, msg string) error {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="pictor"`)
			return errkind.New(errkind.Unauthorized, reason, msg)
		}
		secret, _, ok := c.Request().BasicAuth()
		if !ok || secret == "" {
			return unauthorized("no_credentials", "authenticate with HTTP Basic, your private API key as the username")
		}
		if !auth.WellFormedKey(secret) {
			return unauthorized("malformed_key", "invalid API key")
		}
		key, err := s.Keys.FindKeyByDigest(c.Request().Context(), auth.Digest(secret))
		if err != nil {
			if errkind.KindOf(err) == errkind.Unauthorized {
				return unauthorized(errkind.Reason(err), errkind.SafeMessage(err))
			}
			return fmt.Errorf("authenticate: %w", err)
		}
		if !s.Keyring.Verify(key.ID, secret, key.Ciphertext) {
			// The digest matched, so the row is ours but does not open:
			// the master key changed or the row was tampered with.
			s.Log.Error("API key digest matches but ciphertext does not verify", "key_id", key.ID, "account_id", key.AccountID)
			return unauthorized("key_unverifiable", "invalid API key")
		}
		if key.AccountStatus != tenant.StatusActive {
			return errkind.New(errkind.Forbidden, "account_suspended", "this account is suspended")
		}
		c.Set(ctxCaller, tenant.Caller{AccountID: key.AccountID, Actor: "key:" + key.ID, RequestID: requestIDOf(c)})
		return next(c)
	}
}

// callerOf returns the caller the auth middleware established.
func callerOf(c echo.Context) tenant.Caller {
	caller, _ := c.Get(ctxCaller).(tenant.Caller)
	return caller
}
