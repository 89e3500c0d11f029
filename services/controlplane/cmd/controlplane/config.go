package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"pictor/services/controlplane/internal/auth"
	"pictor/services/internal/objectstore"
	"pictor/services/internal/tracing"
)

// config is the control plane's settings, all from the environment.
type config struct {
	DatabaseURL         string
	HTTPAddr            string
	GRPCAddr            string
	GRPCTLSCert         string // PEM files; both empty: plaintext gRPC
	GRPCTLSKey          string
	AdminToken          string
	EdgeToken           string
	MasterKey           []byte
	AllowPrivateOrigins bool
	// Where Amazon S3 buckets and Azure storage accounts live, for
	// "Test origin"; the edges read the same variables.
	S3URL, AzureBlobURL string
	PublicEdgeURL       string
	EgressAddresses     []string // IP addresses or CIDR ranges
	TrustedProxies      []netip.Prefix
	APIRateLimit        int
	SignupEnabled       bool
	DashboardOrigin     string
	CookieSecure        bool
	LogLevel            slog.Level
	LogFormat           string
	Tracing             tracing.Config
}

// Environment variables and defaults.
const (
	envDatabaseURL         = "PICTOR_DATABASE_URL"
	envHTTPAddr            = "PICTOR_HTTP_ADDR"
	envGRPCAddr            = "PICTOR_GRPC_ADDR"
	envGRPCTLSCert         = "PICTOR_GRPC_TLS_CERT"
	envGRPCTLSKey          = "PICTOR_GRPC_TLS_KEY"
	envAdminToken          = "PICTOR_ADMIN_TOKEN"
	envMasterKey           = "PICTOR_MASTER_KEY"
	envEdgeToken           = "PICTOR_EDGE_TOKEN"
	envAllowPrivateOrigins = "PICTOR_ALLOW_PRIVATE_ORIGINS"
	envPublicEdgeURL       = "PICTOR_PUBLIC_EDGE_URL"
	envS3URL               = "PICTOR_S3_URL"
	envAzureBlobURL        = "PICTOR_AZURE_BLOB_URL"
	envEgressAddresses     = "PICTOR_EDGE_EGRESS_ADDRESSES"
	envTrustedProxies      = "PICTOR_TRUSTED_PROXIES"
	envAPIRateLimit        = "PICTOR_API_RATE_LIMIT"
	envSignupEnabled       = "PICTOR_SIGNUP_ENABLED"
	envDashboardOrigin     = "PICTOR_DASHBOARD_ORIGIN"
	envCookieSecure        = "PICTOR_COOKIE_SECURE"
	envLogLevel            = "PICTOR_LOG_LEVEL"
	envLogFormat           = "PICTOR_LOG_FORMAT"

	defaultHTTPAddr      = ":8080"
	defaultGRPCAddr      = ":8090"
	defaultPublicEdgeURL = "http://127.0.0.1:8081"
	defaultAPIRateLimit  = 1200
)

// minTokenLen is the shortest token accepted without a warning.
const minTokenLen = 16

// loadLogConfig reads only the logging settings, so that errors in the rest
// of the configuration can be logged in the format asked for.
func loadLogConfig(getenv func(string) string) (level slog.Level, format string, err error) {
	level = slog.LevelInfo
	if v := getenv(envLogLevel); v != "" {
		if uerr := level.UnmarshalText([]byte(v)); uerr != nil {
			err = fmt.Errorf("%s: want debug, info, warn or error, got %q", envLogLevel, v)
		}
	}
	format = strings.ToLower(getenv(envLogFormat))
	switch format {
	case "":
		format = "text"
	case "text", "json":
	default:
		err = errors.Join(err, fmt.Errorf("%s: want text or json, got %q", envLogFormat, format))
		format = "text"
	}
	return level, format, err
}

func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// loadConfig reads and validates the configuration. serve selects the full
// set; the migrate command needs only the database URL. Every problem is
// reported, not just the first.
func loadConfig(getenv func(string) string, serve bool) (config, error) {
	var errs []error
	c := config{}
	var err error
	c.LogLevel, c.LogFormat, err = loadLogConfig(getenv)
	errs = append(errs, err)

	c.DatabaseURL = getenv(envDatabaseURL)
	if c.DatabaseURL == "" {
		errs = append(errs, fmt.Errorf("%s is required (postgres://user:password@host:port/db)", envDatabaseURL))
	}
	if !serve {
		return c, errors.Join(errs...)
	}

	c.HTTPAddr = orDefault(getenv(envHTTPAddr), defaultHTTPAddr)
	errs = append(errs, checkAddr(envHTTPAddr, c.HTTPAddr))
	c.GRPCAddr = orDefault(getenv(envGRPCAddr), defaultGRPCAddr)
	errs = append(errs, checkAddr(envGRPCAddr, c.GRPCAddr))
	// The files themselves are loaded (and checked) when serving starts.
	c.GRPCTLSCert, c.GRPCTLSKey = getenv(envGRPCTLSCert), getenv(envGRPCTLSKey)
	if (c.GRPCTLSCert == "") != (c.GRPCTLSKey == "") {
		errs = append(errs, fmt.Errorf("%s and %s go together: set both for TLS on the edge stream, or neither", envGRPCTLSCert, envGRPCTLSKey))
	}

	c.Tracing, err = tracing.LoadConfig(getenv)
	errs = append(errs, err)

	c.AdminToken = getenv(envAdminToken)
	errs = append(errs, checkToken(envAdminToken, c.AdminToken))
	c.EdgeToken = getenv(envEdgeToken)
	errs = append(errs, checkToken(envEdgeToken, c.EdgeToken))

	if v := getenv(envMasterKey); v == "" {
		errs = append(errs, fmt.Errorf("%s is required (64 hex digits or base64 of 32 bytes; e.g. `openssl rand -hex 32`)", envMasterKey))
	} else if c.MasterKey, err = auth.ParseMasterKey(v); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", envMasterKey, err))
	}

	if v := getenv(envAllowPrivateOrigins); v != "" {
		if c.AllowPrivateOrigins, err = strconv.ParseBool(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: want true or false, got %q", envAllowPrivateOrigins, v))
		}
	}

	c.S3URL = orDefault(getenv(envS3URL), objectstore.DefaultS3URL)
	if err := objectstore.CheckS3URL(c.S3URL); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", envS3URL, err))
	}
	c.AzureBlobURL = orDefault(getenv(envAzureBlobURL), objectstore.DefaultAzureBlobURL)
	if err := objectstore.CheckAzureBlobURL(c.AzureBlobURL); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", envAzureBlobURL, err))
	}

	c.PublicEdgeURL = strings.TrimRight(orDefault(getenv(envPublicEdgeURL), defaultPublicEdgeURL), "/")
	if u, err := url.Parse(c.PublicEdgeURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("%s: want an absolute http(s) URL such as %s, got %q", envPublicEdgeURL, defaultPublicEdgeURL, c.PublicEdgeURL))
	}

	c.EgressAddresses, err = parseEgressAddresses(getenv(envEgressAddresses))
	errs = append(errs, err)
	c.TrustedProxies, err = parseTrustedProxies(getenv(envTrustedProxies))
	errs = append(errs, err)

	c.APIRateLimit = defaultAPIRateLimit
	if v := getenv(envAPIRateLimit); v != "" {
		if c.APIRateLimit, err = strconv.Atoi(v); err != nil || c.APIRateLimit < 1 {
			errs = append(errs, fmt.Errorf("%s: want a positive number of requests per minute per account, got %q", envAPIRateLimit, v))
		}
	}
	c.SignupEnabled = true
	if v := getenv(envSignupEnabled); v != "" {
		if c.SignupEnabled, err = strconv.ParseBool(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: want true or false, got %q", envSignupEnabled, v))
		}
	}
	if v := getenv(envCookieSecure); v != "" {
		if c.CookieSecure, err = strconv.ParseBool(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: want true or false, got %q", envCookieSecure, v))
		}
	}
	// An origin is scheme://host[:port] exactly: CORS compares it byte for
	// byte with the browser's Origin header.
	if v := getenv(envDashboardOrigin); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("%s: want an origin such as https://dashboard.example.com, got %q", envDashboardOrigin, v))
		} else {
			c.DashboardOrigin = u.Scheme + "://" + u.Host
		}
	}
	return c, errors.Join(errs...)
}

// parseEgressAddresses reads a comma-separated list of IP addresses and
// CIDR ranges (the addresses edges reach origins from), written back in
// canonical form.
func parseEgressAddresses(v string) ([]string, error) {
	var out []string
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if a, err := netip.ParseAddr(item); err == nil && a.Zone() == "" {
			out = append(out, a.String())
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked().String())
			continue
		}
		return nil, fmt.Errorf("%s: want IP addresses or CIDR ranges separated by commas, got %q", envEgressAddresses, item)
	}
	return out, nil
}

// parseTrustedProxies reads a comma-separated list of IP addresses and
// CIDR ranges; an address is a range of one.
func parseTrustedProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if a, err := netip.ParseAddr(item); err == nil && a.Zone() == "" {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		// Peers are compared unmapped, so an IPv4-mapped range would
		// never match: ask for the IPv4 form instead.
		if p, err := netip.ParsePrefix(item); err == nil && !p.Addr().Is4In6() {
			out = append(out, p.Masked())
			continue
		}
		return nil, fmt.Errorf("%s: want IP addresses or CIDR ranges separated by commas, got %q", envTrustedProxies, item)
	}
	return out, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func checkAddr(name, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s: want host:port or :port, got %q", name, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%s: invalid port in %q", name, addr)
	}
	return nil
}

func checkToken(name, tok string) error {
	switch {
	case tok == "":
		return fmt.Errorf("%s is required", name)
	case strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("%s must not contain spaces or control characters", name)
	}
	return nil
}

// warnings returns advice about settings that work but are weak.
func (c config) warnings() []string {
	var w []string
	if c.GRPCTLSCert == "" && !loopbackAddr(c.GRPCAddr) {
		w = append(w, envGRPCAddr+" is reachable beyond this host without TLS: edge tokens and signing keys travel in the clear; set "+
			envGRPCTLSCert+" and "+envGRPCTLSKey+" unless a private network or a TLS proxy protects it")
	}
	if len(c.AdminToken) < minTokenLen {
		w = append(w, envAdminToken+" is shorter than 16 characters; use a long random token outside development")
	}
	if len(c.EdgeToken) < minTokenLen {
		w = append(w, envEdgeToken+" is shorter than 16 characters; use a long random token outside development")
	}
	if c.AllowPrivateOrigins {
		w = append(w, envAllowPrivateOrigins+" is true: origins may point at private and loopback addresses")
	}
	if c.SignupEnabled {
		w = append(w, envSignupEnabled+" is true: anyone who reaches the API can create an account")
	}
	for _, p := range c.TrustedProxies {
		if p.Bits() == 0 {
			w = append(w, envTrustedProxies+" trusts "+p.String()+": any client can choose the address its requests are limited under")
		}
	}
	return w
}

// logAttrs is the configuration as printed at start-up, secrets masked.
func (c config) logAttrs(serve bool) []any {
	attrs := []any{
		slog.String("database_url", redactDatabaseURL(c.DatabaseURL)),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", c.LogFormat),
	}
	if !serve {
		return attrs
	}
	return append(attrs,
		slog.String("http_addr", c.HTTPAddr),
		slog.String("grpc_addr", c.GRPCAddr),
		slog.String("grpc_tls_cert", c.GRPCTLSCert),
		slog.String("admin_token", mask(c.AdminToken)),
		slog.String("edge_token", mask(c.EdgeToken)),
		slog.String("master_key", mask(string(c.MasterKey))),
		slog.Bool("allow_private_origins", c.AllowPrivateOrigins),
		slog.String("s3_url", c.S3URL),
		slog.String("azure_blob_url", c.AzureBlobURL),
		slog.String("public_edge_url", c.PublicEdgeURL),
		slog.Any("edge_egress_addresses", c.EgressAddresses),
		slog.Any("trusted_proxies", c.TrustedProxies),
		slog.Int("api_rate_limit", c.APIRateLimit),
		slog.Bool("signup_enabled", c.SignupEnabled),
		slog.String("dashboard_origin", c.DashboardOrigin),
		slog.Bool("cookie_secure", c.CookieSecure),
		slog.String("otlp_endpoint", c.Tracing.Masked()),
	)
}

func mask(secret string) string {
	if secret == "" {
		return ""
	}
	return "********"
}

var dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// redactDatabaseURL hides the password of a postgres:// URL (in the
// userinfo or a password= parameter) or of a key=value DSN.
func redactDatabaseURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	return dsnPassword.ReplaceAllString(s, "${1}xxxxx")
}

// loopbackAddr reports whether a listen address accepts only local
// connections.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
