// Package httpapi is the control plane's REST API on Echo: health probes,
// the admin API (bearer admin token) and the ImageKit-compatible account
// API (HTTP Basic with a private key), DESIGN §8. It decodes and checks
// input, calls the tenant services and renders their results and errors;
// errors become JSON {message, help, field} through one kind-to-status
// table, and clients never see internal detail.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/auth"
	"pictor/services/controlplane/internal/tenant"
)

// Pinger reports whether the database answers (/readyz).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options configure the API.
type Options struct {
	AdminToken string
	// PublicEdgeURL is the base URL of the edges, used to show each
	// URL-endpoint's full URL ("{PublicEdgeURL}/{accountId}").
	PublicEdgeURL string
	OriginPolicy  tenant.OriginPolicy
	// BodyLimit caps request bodies; 1 MiB by default.
	BodyLimit int64
	// RequestTimeout bounds each request's work; 15 s by default.
	RequestTimeout time.Duration

	Accounts tenant.AccountService
	Origins  tenant.OriginService
	Keys     tenant.KeyService
	Keyring  *auth.Keyring
	DB       Pinger
	Log      *slog.Logger
}

type server struct {
	Options
}

// New returns the API's HTTP handler.
func New(o Options) *echo.Echo {
	if o.BodyLimit <= 0 {
		o.BodyLimit = 1 << 20
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 15 * time.Second
	}
	o.PublicEdgeURL = strings.TrimRight(o.PublicEdgeURL, "/")
	s := &server{Options: o}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	// Outermost first: every response, errors and panics included, gets a
	// request id and an access-log line.
	e.Use(s.requestID, s.accessLog, s.recoverPanic, s.timeout)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)

	e.POST("/admin/v1/accounts", s.createAccount, s.adminAuth)

	e.GET("/v1/accounts/origins", s.listOrigins, s.keyAuth)
	e.POST("/v1/accounts/origins", s.createOrigin, s.keyAuth)
	e.GET("/v1/accounts/origins/:id", s.getOrigin, s.keyAuth)
	e.PUT("/v1/accounts/origins/:id", s.updateOrigin, s.keyAuth)
	e.DELETE("/v1/accounts/origins/:id", s.deleteOrigin, s.keyAuth)
	return e
}

func (s *server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
