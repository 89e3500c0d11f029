package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

type purgeRequest struct {
	URL string `json:"url"`
}

type purgeCreatedJSON struct {
	RequestID string `json:"requestId"`
}

type purgeStatusJSON struct {
	Status string `json:"status"`
}

// createPurge purges an image path (every variant) or, with a trailing *,
// every path under a prefix, on every edge (DESIGN §7).
func (s *server) createPurge(c echo.Context) error {
	var req purgeRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	u, err := tenant.ParsePurgeURL(req.URL)
	if err != nil {
		return err
	}
	p, err := s.Store.CreatePurge(c.Request().Context(), callerOf(c), u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, purgeCreatedJSON{RequestID: p.ID})
}

func (s *server) purgeStatus(c echo.Context) error {
	id := c.Param("requestId")
	if !tenant.ValidID(id) {
		return errkind.New(errkind.NotFound, "purge_not_found", "no purge request with this id")
	}
	status, err := s.Store.PurgeStatus(c.Request().Context(), callerOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, purgeStatusJSON{Status: status})
}
