package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// reqFromHeader is the header every edge sends to origins (DESIGN §5), so a
// customer's WAF can recognise Pictor's requests.
const reqFromHeader = "X-Req-From: pictor"

// dashboardConfigJSON tells the dashboard about this deployment.
type dashboardConfigJSON struct {
	// EdgeURL is the public base URL of the edges (PICTOR_PUBLIC_EDGE_URL).
	EdgeURL       string `json:"edgeUrl"`
	SignupEnabled bool   `json:"signupEnabled"`
	// EgressAddresses are the addresses edges reach origins from
	// (PICTOR_EDGE_EGRESS_ADDRESSES), for customers' allow-lists.
	EgressAddresses []string `json:"egressAddresses"`
	ReqFromHeader   string   `json:"reqFromHeader"`
}

// dashboardConfig answers without authentication: the sign-in page needs
// it, and it holds nothing an image URL or the sign-up form does not show.
func (s *server) dashboardConfig(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, dashboardConfigJSON{
		EdgeURL:         s.PublicEdgeURL,
		SignupEnabled:   s.SignupEnabled,
		EgressAddresses: nonNil(s.EgressAddresses),
		ReqFromHeader:   reqFromHeader,
	})
}

// dashboardRoutes registers the dashboard's configuration route and, when
// the options carry the built dashboard, the static files. The files take
// only what no route matched (Echo's RouteNotFound), and never a path of
// the APIs or probes, so they cannot shadow one.
func (s *server) dashboardRoutes(e *echo.Echo) {
	e.GET("/v1/dashboard/config", s.dashboardConfig)
	if s.Dashboard == nil {
		return
	}
	d := newDashboard(s.Dashboard, s.PublicEdgeURL)
	e.RouteNotFound("/*", func(c echo.Context) error { return d.serve(c, e) })
}

// dashboard serves the single-page app: its files by path, and its
// index.html for every other page a browser navigates to, where the app's
// own router takes over.
type dashboard struct {
	files     fs.FS
	index     []byte
	indexETag string
	csp       string
}

func newDashboard(files fs.FS, edgeURL string) *dashboard {
	d := &dashboard{files: files, csp: contentSecurityPolicy(edgeURL)}
	if b, err := fs.ReadFile(files, "index.html"); err == nil {
		sum := sha256.Sum256(b)
		d.index, d.indexETag = b, `"`+hex.EncodeToString(sum[:16])+`"`
	}
	return d
}

// contentSecurityPolicy allows the dashboard's own scripts and styles only,
// and images and fetches from itself and the edges (the URL builder shows
// and measures live images).
func contentSecurityPolicy(edgeURL string) string {
	edge := ""
	if u, err := url.Parse(edgeURL); err == nil && u.Scheme != "" && u.Host != "" {
		edge = " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:" + edge +
		"; connect-src 'self'" + edge + "; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// apiPath reports whether p belongs to the APIs or the probes: such a path
// that no route matched is a 404, never the dashboard.
func apiPath(p string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	switch first {
	case "v1", "admin", "healthz", "readyz":
		return true
	}
	return false
}

func (d *dashboard) serve(c echo.Context, e *echo.Echo) error {
	req := c.Request()
	if (req.Method != http.MethodGet && req.Method != http.MethodHead) || apiPath(req.URL.Path) {
		return noRoute(c, e)
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", d.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")

	name := strings.TrimPrefix(path.Clean("/"+req.URL.Path), "/")
	if name != "" && name != "index.html" {
		if st, err := fs.Stat(d.files, name); err == nil && st.Mode().IsRegular() {
			return d.file(c, name)
		}
		// A missing asset is a 404, and so is anything a browser does not
		// ask for as a page (a script's fetch, curl, an SDK).
		if strings.HasPrefix(name, "assets/") || !acceptsHTML(req) {
			return echo.ErrNotFound
		}
	}
	return d.page(c)
}

// file serves one of the app's files. Vite names everything under assets/
// after a hash of its content, so those are cached for a year; anything
// else (favicon, …) is revalidated.
func (d *dashboard) file(c echo.Context, name string) error {
	b, err := fs.ReadFile(d.files, name)
	if err != nil {
		return echo.ErrNotFound
	}
	if strings.HasPrefix(name, "assets/") {
		c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Response().Header().Set("Cache-Control", "no-cache")
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = http.DetectContentType(b)
	}
	return blob(c, ctype, b)
}

// page serves index.html, never cached without revalidation: it names the
// current build's hashed assets.
func (d *dashboard) page(c echo.Context) error {
	if d.index == nil {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", d.indexETag)
	if match := c.Request().Header.Get("If-None-Match"); match != "" && strings.Contains(match, d.indexETag) {
		return c.NoContent(http.StatusNotModified)
	}
	return blob(c, echo.MIMETextHTMLCharsetUTF8, d.index)
}

// blob answers 200 with b, or only its headers to HEAD.
func blob(c echo.Context, ctype string, b []byte) error {
	if c.Request().Method == http.MethodHead {
		h := c.Response().Header()
		h.Set(echo.HeaderContentType, ctype)
		h.Set(echo.HeaderContentLength, strconv.Itoa(len(b)))
		c.Response().WriteHeader(http.StatusOK)
		return nil
	}
	return c.Blob(http.StatusOK, ctype, b)
}

// noRoute answers what Echo would without the dashboard: 405 with Allow
// when the path is a route for other methods, else 404. (Echo prefers a
// RouteNotFound handler to its own 405, so the methods are looked up here.)
func noRoute(c echo.Context, e *echo.Echo) error {
	req := c.Request()
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := e.NewContext(req, nil)
		e.Router().Find(m, req.URL.Path, probe)
		if probe.Path() != "/*" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		return echo.ErrNotFound
	}
	c.Response().Header().Set(echo.HeaderAllow, strings.Join(allowed, ", "))
	return echo.ErrMethodNotAllowed
}

// acceptsHTML reports whether the request is a browser asking for a page.
func acceptsHTML(r *http.Request) bool {
	return r.Header.Get("Sec-Fetch-Mode") == "navigate" || strings.Contains(r.Header.Get("Accept"), "text/html")
}
