package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
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
	ctxSession      = "pictor.session"
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
		err := next(c)
		if err != nil {
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
			slog.String("route", routeOf(c)),
			slog.Int("status", res.Status),
			slog.Int64("bytes_out", res.Size),
			slog.Int64("duration_ms", time.Since(start).Milliseconds()),
			slog.String("remote_addr", req.RemoteAddr),
			// The address the per-client limits count (clientAddr).
			slog.String("client_ip", s.clientAddr(req).String()),
		}
		if err != nil {
			// Why a request was refused (rate_limited, bad_login, ...).
			attrs = append(attrs, slog.String("reason", errkind.Reason(fromEcho(err))))
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

// accountAuth admits account API requests: with an Authorization header,
// by private key (keyAuth); without one, by dashboard session cookie.
// Unsafe methods must pass the cross-origin check either way: a browser
// attaches the cookie to cross-site requests, and also Basic credentials a
// user once typed into its own login dialog. SDKs and scripts send neither
// Sec-Fetch-Site nor Origin, so the check never stands in their way.
func (s *server) accountAuth(next echo.HandlerFunc) echo.HandlerFunc {
	withKey := s.sameOrigin(s.keyAuth(next))
	withSession := s.sameOrigin(s.sessionAuth(next))
	return func(c echo.Context) error {
		if c.Request().Header.Get(echo.HeaderAuthorization) != "" {
			return withKey(c)
		}
		if _, err := c.Cookie(s.cookieName()); err == nil {
			return withSession(c)
		}
		return s.unauthorized(c, "no_credentials", "authenticate with HTTP Basic, your private API key as the username")
	}
}

// unauthorized answers 401 with a Basic challenge, except to a browser's
// script (fetch, XHR), where the challenge would pop up the browser's own
// login dialog over the dashboard.
func (s *server) unauthorized(c echo.Context, reason, msg string) error {
	if mode := c.Request().Header.Get("Sec-Fetch-Mode"); mode == "" || mode == "navigate" {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="pictor"`)
	}
	return errkind.New(errkind.Unauthorized, reason, msg)
}

// keyAuth admits requests whose HTTP Basic username is an active private
// key of an active account (the password is ignored, as ImageKit does) and
// scopes the request to that account.
func (s *server) keyAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		secret, _, ok := c.Request().BasicAuth()
		if !ok || secret == "" {
			return s.unauthorized(c, "no_credentials", "authenticate with HTTP Basic, your private API key as the username")
		}
		if !auth.WellFormedKey(secret) {
			return s.unauthorized(c, "malformed_key", "invalid API key")
		}
		// Any well-formed string reaches the database: an address that
		// sent too many unknown keys waits before it does.
		client := s.clientKey(c.Request())
		if err := s.unknownCredentialsWait(c, client); err != nil {
			return err
		}
		key, err := s.Store.FindKeyByDigest(c.Request().Context(), auth.Digest(secret))
		if err != nil {
			if errkind.KindOf(err) == errkind.Unauthorized {
				s.unknownCredentials.Spend(client)
				return s.unauthorized(c, errkind.Reason(err), errkind.SafeMessage(err))
			}
			return fmt.Errorf("authenticate: %w", err)
		}
		if !s.Keyring.Verify(key.ID, secret, key.Ciphertext) {
			// The digest matched, so the row is ours but does not open:
			// the master key changed or the row was tampered with.
			s.Log.Error("API key digest matches but ciphertext does not verify", "key_id", key.ID, "account_id", key.AccountID)
			s.unknownCredentials.Spend(client)
			return s.unauthorized(c, "key_unverifiable", "invalid API key")
		}
		if key.AccountStatus != tenant.StatusActive {
			return errkind.New(errkind.Forbidden, "account_suspended", "this account is suspended")
		}
		c.Set(ctxCaller, tenant.Caller{AccountID: key.AccountID, Actor: "key:" + key.ID, RequestID: requestIDOf(c)})
		return next(c)
	}
}

// sessionAuth admits requests carrying a live dashboard session cookie.
func (s *server) sessionAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		cookie, err := c.Cookie(s.cookieName())
		if err != nil {
			return errkind.New(errkind.Unauthorized, "no_session", "not logged in")
		}
		digest, ok := sessionDigest(cookie.Value)
		if !ok {
			return errkind.New(errkind.Unauthorized, "no_session", "not logged in or the session expired")
		}
		client := s.clientKey(c.Request())
		if err := s.unknownCredentialsWait(c, client); err != nil {
			return err
		}
		sess, err := s.Store.FindSession(c.Request().Context(), digest)
		if err != nil {
			if errkind.KindOf(err) == errkind.Unauthorized {
				s.unknownCredentials.Spend(client)
			}
			return fmt.Errorf("authenticate session: %w", err)
		}
		if sess.AccountStatus != tenant.StatusActive {
			return errkind.New(errkind.Forbidden, "account_suspended", "this account is suspended")
		}
		c.Set(ctxSession, sess)
		c.Set(ctxCaller, tenant.Caller{AccountID: sess.AccountID, Actor: "user:" + sess.UserID, RequestID: requestIDOf(c)})
		return next(c)
	}
}

// sameOrigin refuses unsafe cross-origin browser requests (CSRF) with
// Go's Sec-Fetch-Site/Origin check; the configured dashboard origin is
// trusted. Requests without those headers are not from a browser page.
func (s *server) sameOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.csrf.Check(c.Request()); err != nil {
			return errkind.Wrap(errkind.Forbidden, "cross_origin", "cross-origin request refused", err)
		}
		return next(c)
	}
}

// cors lets the configured dashboard origin, and only it, call the API
// from a browser with credentials. Any other Origin gets no CORS headers
// at all (never an echo of what it sent), so browsers keep its scripts
// from reading responses.
func (s *server) cors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.DashboardOrigin == "" {
			return next(c)
		}
		h := c.Response().Header()
		h.Add(echo.HeaderVary, echo.HeaderOrigin)
		req := c.Request()
		if req.Header.Get(echo.HeaderOrigin) != s.DashboardOrigin {
			return next(c)
		}
		h.Set(echo.HeaderAccessControlAllowOrigin, s.DashboardOrigin)
		h.Set(echo.HeaderAccessControlAllowCredentials, "true")
		h.Set(echo.HeaderAccessControlExposeHeaders, "X-Request-Id, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining")
		if req.Method == http.MethodOptions && req.Header.Get(echo.HeaderAccessControlRequestMethod) != "" {
			h.Add(echo.HeaderVary, echo.HeaderAccessControlRequestMethod)
			h.Add(echo.HeaderVary, echo.HeaderAccessControlRequestHeaders)
			h.Set(echo.HeaderAccessControlAllowMethods, "GET, POST, PUT, PATCH, DELETE")
			h.Set(echo.HeaderAccessControlAllowHeaders, "Authorization, Content-Type, X-Request-Id")
			h.Set(echo.HeaderAccessControlMaxAge, "600")
			return c.NoContent(http.StatusNoContent)
		}
		return next(c)
	}
}

// rateLimit counts the request against its account's window (shared by
// every replica through the store) and refuses it past the limit with 429
// and Retry-After. Each account has its own counter, so one busy tenant
// never slows another.
func (s *server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		caller := callerOf(c)
		hits, reset, err := s.Store.Hit(c.Request().Context(), caller.AccountID, "api", s.RateWindow)
		if err != nil {
			return fmt.Errorf("rate limit: %w", err)
		}
		h := c.Response().Header()
		h.Set("X-RateLimit-Limit", strconv.Itoa(s.RateLimit))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, s.RateLimit-hits)))
		if hits > s.RateLimit {
			return tooManyRequests(c, reset, "rate_limited", "this account made more than "+strconv.Itoa(s.RateLimit)+" API requests in the current window")
		}
		return next(c)
	}
}

// callerOf returns the caller the auth middleware established.
func callerOf(c echo.Context) tenant.Caller {
	caller, _ := c.Get(ctxCaller).(tenant.Caller)
	return caller
}
