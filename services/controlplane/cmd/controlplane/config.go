package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"pictor/services/controlplane/internal/auth"
)

// config is the control plane's settings, all from the environment.
type config struct {
	DatabaseURL         string
	HTTPAddr            string
	GRPCAddr            string
	AdminToken          string
	EdgeToken           string
	MasterKey           []byte
	AllowPrivateOrigins bool
	PublicEdgeURL       string
	LogLevel            slog.Level
	LogFormat           string
}

// Environment variables and defaults.
const (
	envDatabaseURL         = "PICTOR_DATABASE_URL"
	envHTTPAddr            = "PICTOR_HTTP_ADDR"
	envGRPCAddr            = "PICTOR_GRPC_ADDR"
	envAdminToken          = "PICTOR_ADMIN_TOKEN"
	envMasterKey           = "PICTOR_MASTER_KEY"
	envEdgeToken           = "PICTOR_EDGE_TOKEN"
	envAllowPrivateOrigins = "PICTOR_ALLOW_PRIVATE_ORIGINS"
	envPublicEdgeURL       = "PICTOR_PUBLIC_EDGE_URL"
	envLogLevel            = "PICTOR_LOG_LEVEL"
	envLogFormat           = "PICTOR_LOG_FORMAT"

	defaultHTTPAddr      = ":8080"
	defaultGRPCAddr      = ":8090"
	defaultPublicEdgeURL = "http://127.0.0.1:8081"
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

	c.PublicEdgeURL = strings.TrimRight(orDefault(getenv(envPublicEdgeURL), defaultPublicEdgeURL), "/")
	if u, err := url.Parse(c.PublicEdgeURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("%s: want an absolute http(s) URL such as %s, got %q", envPublicEdgeURL, defaultPublicEdgeURL, c.PublicEdgeURL))
	}
	return c, errors.Join(errs...)
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
	if len(c.AdminToken) < minTokenLen {
		w = append(w, envAdminToken+" is shorter than 16 characters; use a long random token outside development")
	}
	if len(c.EdgeToken) < minTokenLen {
		w = append(w, envEdgeToken+" is shorter than 16 characters; use a long random token outside development")
	}
	if c.AllowPrivateOrigins {
		w = append(w, envAllowPrivateOrigins+" is true: origins may point at private and loopback addresses")
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
		slog.String("admin_token", mask(c.AdminToken)),
		slog.String("edge_token", mask(c.EdgeToken)),
		slog.String("master_key", mask(string(c.MasterKey))),
		slog.Bool("allow_private_origins", c.AllowPrivateOrigins),
		slog.String("public_edge_url", c.PublicEdgeURL),
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
