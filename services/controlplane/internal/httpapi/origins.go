package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// originJSON is an origin as the API returns it, in ImageKit's shape for
// its type. Every field a type has is always present: a WEB_FOLDER origin
// has baseUrl and no allowedHosts; a WEB_PROXY origin has no baseUrl (as
// with ImageKit) and always has allowedHosts, a Pictor extension, [] when
// any public host is allowed.
type originJSON struct {
	ID                        string    `json:"id"`
	Type                      string    `json:"type"`
	Name                      string    `json:"name"`
	BaseURL                   *string   `json:"baseUrl,omitempty"`
	ForwardHostHeaderToOrigin bool      `json:"forwardHostHeaderToOrigin"`
	IncludeCanonicalHeader    bool      `json:"includeCanonicalHeader"`
	BaseURLForCanonicalHeader string    `json:"baseUrlForCanonicalHeader"`
	AllowedHosts              *[]string `json:"allowedHosts,omitempty"`
}

// originRequest is an origin as a client sends it (POST, PUT); omitted
// fields are false, "" or empty.
type originRequest struct {
	Type                      string   `json:"type"`
	Name                      string   `json:"name"`
	BaseURL                   string   `json:"baseUrl"`
	ForwardHostHeaderToOrigin bool     `json:"forwardHostHeaderToOrigin"`
	IncludeCanonicalHeader    bool     `json:"includeCanonicalHeader"`
	BaseURLForCanonicalHeader string   `json:"baseUrlForCanonicalHeader"`
	AllowedHosts              []string `json:"allowedHosts"`
}

func toOriginJSON(o tenant.Origin) originJSON {
	out := originJSON{
		ID:                        o.ID,
		Type:                      o.Type,
		Name:                      o.Name,
		ForwardHostHeaderToOrigin: o.ForwardHostHeaderToOrigin,
		IncludeCanonicalHeader:    o.IncludeCanonicalHeader,
		BaseURLForCanonicalHeader: o.BaseURLForCanonicalHeader,
	}
	if o.Type == tenant.OriginWebProxy {
		hosts := nonNil(o.AllowedHosts)
		out.AllowedHosts = &hosts
	} else {
		out.BaseURL = &o.BaseURL
	}
	return out
}

// readOrigin decodes and validates an origin from the request body. An
// "id" in the body is ignored: the path or the server decides it.
func (s *server) readOrigin(c echo.Context) (tenant.Origin, error) {
	var req originRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return tenant.Origin{}, err
	}
	o := tenant.Origin{
		Type:                      req.Type,
		Name:                      req.Name,
		BaseURL:                   req.BaseURL,
		ForwardHostHeaderToOrigin: req.ForwardHostHeaderToOrigin,
		IncludeCanonicalHeader:    req.IncludeCanonicalHeader,
		BaseURLForCanonicalHeader: req.BaseURLForCanonicalHeader,
		AllowedHosts:              req.AllowedHosts,
	}
	if err := s.OriginPolicy.CheckOrigin(o); err != nil {
		return tenant.Origin{}, err
	}
	return o, nil
}

// originID returns the :id path parameter; a malformed id names no origin.
func originID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !tenant.ValidID(id) {
		return "", errkind.New(errkind.NotFound, "origin_not_found", "no origin with this id")
	}
	return id, nil
}

func (s *server) listOrigins(c echo.Context) error {
	origins, err := s.Store.ListOrigins(c.Request().Context(), callerOf(c))
	if err != nil {
		return err
	}
	out := make([]originJSON, 0, len(origins))
	for _, o := range origins {
		out = append(out, toOriginJSON(o))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) getOrigin(c echo.Context) error {
	id, err := originID(c)
	if err != nil {
		return err
	}
	o, err := s.Store.FindOrigin(c.Request().Context(), callerOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toOriginJSON(o))
}

func (s *server) createOrigin(c echo.Context) error {
	o, err := s.readOrigin(c)
	if err != nil {
		return err
	}
	o, err = s.Store.CreateOrigin(c.Request().Context(), callerOf(c), o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toOriginJSON(o))
}

func (s *server) updateOrigin(c echo.Context) error {
	id, err := originID(c)
	if err != nil {
		return err
	}
	o, err := s.readOrigin(c)
	if err != nil {
		return err
	}
	o.ID = id
	o, err = s.Store.UpdateOrigin(c.Request().Context(), callerOf(c), o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toOriginJSON(o))
}

func (s *server) deleteOrigin(c echo.Context) error {
	id, err := originID(c)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteOrigin(c.Request().Context(), callerOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
