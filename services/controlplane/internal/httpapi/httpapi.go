// Package httpapi is the control plane's REST API on Echo (DESIGN §8):
// health probes, the admin API (bearer admin token), the ImageKit-compatible
// account API (HTTP Basic with a private key, or a dashboard session
// cookie), dashboard sign-up/login and the OpenAPI document. It decodes and
// checks input, calls the tenant services and renders their results and
// errors; errors become JSON {message, help, field} through one
// kind-to-status table, and clients never see internal detail.
package httpapi

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"

	"pictor/services/controlplane/internal/auth"
	"pictor/services/controlplane/internal/probe"
	"pictor/services/controlplane/internal/tenant"
	"pictor/services/controlplane/internal/throttle"
)

// Pinger reports whether the database answers (/readyz).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Store is everything the API needs from storage.
type Store interface {
	Pinger
	tenant.AccountService
	tenant.KeyService
	tenant.OriginService
	tenant.EndpointService
	tenant.NamedTransformationService
	tenant.PurgeService
	tenant.UsageService
	tenant.DeliveryErrorService
	tenant.SettingsService
	tenant.SessionService
	tenant.RateLimiter
	tenant.LoginLimiter
	tenant.EdgeService
}

// Options configure the API.
type Options struct {
	AdminToken string
	// PublicEdgeURL is the base URL of the edges, used to show each
	// URL-endpoint's full URL ("{PublicEdgeURL}/{accountId}").
	PublicEdgeURL string
	OriginPolicy  tenant.OriginPolicy
	// S3URL and AzureBlobURL are where Amazon S3 buckets and Azure storage
	// accounts live, for "Test origin" (objectstore's defaults when "").
	S3URL, AzureBlobURL string
	// BodyLimit caps request bodies; 1 MiB by default.
	BodyLimit int64
	// RequestTimeout bounds each request's work; 15 s by default.
	RequestTimeout time.Duration

	// RateLimit is how many account API requests one account may make
	// per RateWindow, across every replica; 1200 by default.
	RateLimit  int
	RateWindow time.Duration // 1 minute by default
	// LoginRateLimit bounds login attempts per email per LoginWindow,
	// across every replica, whether or not the email has an account;
	// 10 by default.
	LoginRateLimit int
	// LoginWindow starts at an email's first attempt; 15 minutes by
	// default.
	LoginWindow time.Duration
	// LoginIPRate bounds failed logins per client address, per replica.
	LoginIPRate throttle.Rate
	// CredentialIPRate bounds requests per client address, per replica,
	// that carry an API key or session cookie the database does not know.
	CredentialIPRate throttle.Rate
	// SignupIPRate bounds sign-ups per client address, per replica.
	SignupIPRate throttle.Rate
	// PasswordGate bounds concurrent password hashing (login, sign-up);
	// nil makes the default one.
	PasswordGate *throttle.Gate
	// TrustedProxies are the load balancers and proxies whose
	// X-Forwarded-For tells the client's address (clientAddr); none by
	// default, and then the connection's peer is the client.
	TrustedProxies []netip.Prefix

	// SignupEnabled opens POST /v1/auth/signup to anyone.
	SignupEnabled bool
	// DashboardOrigin is the one cross-origin site allowed to call the
	// API from a browser with credentials (CORS, CSRF). "" allows none:
	// the dashboard is served by the control plane itself.
	DashboardOrigin string
	// SecureCookies marks the session cookie Secure (and names it with
	// the __Host- prefix); set it when clients reach the API over TLS.
	SecureCookies bool
	// SessionTTL is a dashboard session's lifetime; 7 days by default.
	SessionTTL time.Duration

	// Dashboard is the built dashboard (index.html at its top), served at
	// every path no route takes; nil serves none.
	Dashboard fs.FS
	// EgressAddresses are the addresses edges fetch from origins with,
	// shown by the dashboard for customers' allow-lists.
	EgressAddresses []string

	// Observer, when set, sees every API response (metrics).
	Observer Observer
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// TracerProvider, when set, makes every request a server span.
	TracerProvider trace.TracerProvider

	Store   Store
	Keyring *auth.Keyring
	Log     *slog.Logger
}

type server struct {
	Options
	csrf   *http.CrossOriginProtection
	prober *probe.Prober // "Test origin" fetches
	tracer trace.Tracer  // nil: tracing off
	// Per-client limits (limits.go), keyed by clientKey.
	failedLogins, unknownCredentials, signups *throttle.Buckets[netip.Addr]
}

// New returns the API's HTTP handler. It fails only on a malformed
// DashboardOrigin.
func New(o Options) (*echo.Echo, error) {
	if o.BodyLimit <= 0 {
		o.BodyLimit = 1 << 20
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 15 * time.Second
	}
	if o.RateLimit <= 0 {
		o.RateLimit = 1200
	}
	if o.RateWindow <= 0 {
		o.RateWindow = time.Minute
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 7 * 24 * time.Hour
	}
	o.PublicEdgeURL = strings.TrimRight(o.PublicEdgeURL, "/")
	s := &server{Options: o, csrf: http.NewCrossOriginProtection(), prober: probe.New(o.OriginPolicy.AllowPrivate, o.S3URL, o.AzureBlobURL)}
	s.setLimits()
	if o.TracerProvider != nil {
		s.tracer = o.TracerProvider.Tracer("pictor/controlplane/httpapi")
	}
	if o.DashboardOrigin != "" {
		if err := s.csrf.AddTrustedOrigin(o.DashboardOrigin); err != nil {
			return nil, err
		}
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	// Outermost first: every response, errors and panics included, gets a
	// request id, a metrics sample, a span (when tracing is on) and an
	// access-log line.
	e.Use(s.requestID, s.observe, s.accessLog, s.recoverPanic, s.cors, s.timeout)
	s.routes(e)
	return e, nil
}

// routes registers every route. The OpenAPI document must describe each
// one (a test holds them together).
func (s *server) routes(e *echo.Echo) {
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/v1/openapi.json", s.openAPI)
	e.GET("/metrics", s.metrics)

	admin := s.adminAuth
	e.POST("/admin/v1/accounts", s.createAccount, admin)
	e.GET("/admin/v1/accounts", s.listAccounts, admin)
	e.GET("/admin/v1/accounts/:id", s.getAccount, admin)
	e.PATCH("/admin/v1/accounts/:id", s.patchAccount, admin)
	e.DELETE("/admin/v1/accounts/:id", s.deleteAccount, admin)
	e.GET("/admin/v1/edges", s.listEdges, admin)

	e.POST("/v1/auth/signup", s.signup, s.sameOrigin)
	e.POST("/v1/auth/login", s.login, s.sameOrigin)
	e.POST("/v1/auth/logout", s.logout, s.sameOrigin)
	e.GET("/v1/auth/me", s.me, s.sessionAuth)

	// Account API: a key or a session, then the account's rate limit.
	acct := []echo.MiddlewareFunc{s.accountAuth, s.rateLimit}
	e.GET("/v1/accounts/origins", s.listOrigins, acct...)
	e.POST("/v1/accounts/origins", s.createOrigin, acct...)
	e.POST("/v1/accounts/origins/test", s.testOrigin, acct...)
	e.GET("/v1/accounts/origins/:id", s.getOrigin, acct...)
	e.PUT("/v1/accounts/origins/:id", s.updateOrigin, acct...)
	e.DELETE("/v1/accounts/origins/:id", s.deleteOrigin, acct...)

	e.GET("/v1/accounts/url-endpoints", s.listEndpoints, acct...)
	e.POST("/v1/accounts/url-endpoints", s.createEndpoint, acct...)
	e.GET("/v1/accounts/url-endpoints/:id", s.getEndpoint, acct...)
	e.PUT("/v1/accounts/url-endpoints/:id", s.updateEndpoint, acct...)
	e.DELETE("/v1/accounts/url-endpoints/:id", s.deleteEndpoint, acct...)

	e.GET("/v1/named-transformations", s.listNamed, acct...)
	e.POST("/v1/named-transformations", s.createNamed, acct...)
	e.GET("/v1/named-transformations/:id", s.getNamed, acct...)
	e.PATCH("/v1/named-transformations/:id", s.patchNamed, acct...)
	e.DELETE("/v1/named-transformations/:id", s.deleteNamed, acct...)

	e.POST("/v1/files/purge", s.createPurge, acct...)
	e.GET("/v1/files/purge/:requestId", s.purgeStatus, acct...)

	e.GET("/v1/accounts/usage", s.usage, acct...)
	e.GET("/v1/accounts/delivery-errors", s.deliveryErrors, acct...)

	e.GET("/v1/api-keys", s.listKeys, acct...)
	e.POST("/v1/api-keys", s.createKey, acct...)
	e.DELETE("/v1/api-keys/:id", s.revokeKey, acct...)

	e.GET("/v1/accounts/settings", s.getSettings, acct...)
	e.PATCH("/v1/accounts/settings", s.patchSettings, acct...)

	s.dashboardRoutes(e)
}

func (s *server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
