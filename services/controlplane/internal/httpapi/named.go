package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// namedJSON is a named transformation in ImageKit's shape (plus updatedAt).
type namedJSON struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Transformation string    `json:"transformation"`
	Enabled        bool      `json:"enabled"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

func toNamedJSON(n tenant.NamedTransformation) namedJSON {
	return namedJSON{ID: n.ID, Name: n.Name, Transformation: n.Transformation, Enabled: n.Enabled,
		CreatedAt: n.CreatedAt.UTC(), UpdatedAt: n.UpdatedAt.UTC()}
}

// namedRequest is the body of create (name and transformation required,
// enabled true when omitted) and of PATCH (only what is sent changes).
type namedRequest struct {
	Name           *string `json:"name"`
	Transformation *string `json:"transformation"`
	Enabled        *bool   `json:"enabled"`
}

func (r namedRequest) check() error {
	if r.Name != nil {
		if err := tenant.CheckNamedTransformationName(*r.Name); err != nil {
			return err
		}
	}
	if r.Transformation != nil {
		if err := tenant.CheckNamedTransformationDefinition(*r.Transformation); err != nil {
			return err
		}
	}
	return nil
}

func namedID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !tenant.ValidID(id) {
		return "", errkind.New(errkind.NotFound, "named_transformation_not_found", "no named transformation with this id")
	}
	return id, nil
}

func (s *server) listNamed(c echo.Context) error {
	list, err := s.Store.ListNamedTransformations(c.Request().Context(), callerOf(c))
	if err != nil {
		return err
	}
	out := make([]namedJSON, 0, len(list))
	for _, n := range list {
		out = append(out, toNamedJSON(n))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) getNamed(c echo.Context) error {
	id, err := namedID(c)
	if err != nil {
		return err
	}
	n, err := s.Store.FindNamedTransformation(c.Request().Context(), callerOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toNamedJSON(n))
}

func (s *server) createNamed(c echo.Context) error {
	var req namedRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Name == nil {
		return errkind.InvalidField("name", "name is required")
	}
	if req.Transformation == nil {
		return errkind.InvalidField("transformation", "transformation is required")
	}
	if err := req.check(); err != nil {
		return err
	}
	n := tenant.NamedTransformation{Name: *req.Name, Transformation: *req.Transformation, Enabled: true}
	if req.Enabled != nil {
		n.Enabled = *req.Enabled
	}
	n, err := s.Store.CreateNamedTransformation(c.Request().Context(), callerOf(c), n)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toNamedJSON(n))
}

func (s *server) patchNamed(c echo.Context) error {
	id, err := namedID(c)
	if err != nil {
		return err
	}
	var req namedRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Name == nil && req.Transformation == nil && req.Enabled == nil {
		return errkind.New(errkind.Invalid, "empty_patch", "send at least one of name, transformation and enabled")
	}
	if err := req.check(); err != nil {
		return err
	}
	n, err := s.Store.UpdateNamedTransformation(c.Request().Context(), callerOf(c), id, tenant.NamedTransformationPatch{
		Name: req.Name, Transformation: req.Transformation, Enabled: req.Enabled,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toNamedJSON(n))
}

func (s *server) deleteNamed(c echo.Context) error {
	id, err := namedID(c)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteNamedTransformation(c.Request().Context(), callerOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
