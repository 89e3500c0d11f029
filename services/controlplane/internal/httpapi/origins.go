package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// originJSON is an origin on the wire, in ImageKit's shape. Every field is
// always present; on input, omitted booleans are false.
type originJSON struct {
	ID                        string `json:"id"`
	Type                      string `json:"type"`
	Name                      string `json:"name"`
	BaseURL                   string `json:"baseUrl"`
	ForwardHostHeaderToOrigin bool   `json:"forwardHostHeaderToOrigin"`
	IncludeCanonicalHeader    bool   `json:"includeCanonicalHeader"`
	BaseURLForCanonicalHeader string `json:"baseUrlForCanonicalHeader"`
}

func toOriginJSON(o tenant.Origin) originJSON {
	return originJSON{
		ID:                        o.ID,
		Type:                      o.Type,
		Name:                      o.Name,
		BaseURL:                   o.BaseURL,
		ForwardHostHeaderToOrigin: o.ForwardHostHeaderToOrigin,
		IncludeCanonicalHeader:    o.IncludeCanonicalHeader,
		BaseURLForCanonicalHeader: o.BaseURLForCanonicalHeader,
	}
}

// readOrigin decodes and validates an origin from the request body. An
// "id" in the body is ignored: the path or the server decides it.
func (s *server) readOrigin(c echo.Context) (tenant.Origin, error) {
	var req originJSON
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
