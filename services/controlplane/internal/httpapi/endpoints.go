package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// urlEndpointJSON is a URL-endpoint on the wire: ImageKit's fields, plus
// Pictor's customDomains, restrictUnsignedUrls and urlEndpoint.
type urlEndpointJSON struct {
	ID                   string   `json:"id"`
	Description          string   `json:"description"`
	URLPrefix            string   `json:"urlPrefix"`
	Origins              []string `json:"origins"`
	CustomDomains        []string `json:"customDomains"`
	RestrictUnsignedURLs bool     `json:"restrictUnsignedUrls"`
	// URLEndpoint is the endpoint's base URL on the edges, as ImageKit's
	// dashboard shows it.
	URLEndpoint string `json:"urlEndpoint"`
}

func (s *server) toURLEndpointJSON(e tenant.URLEndpoint) urlEndpointJSON {
	base := s.PublicEdgeURL + "/" + e.AccountID
	id := e.ID
	if e.Default() {
		id = tenant.DefaultEndpointID
	} else {
		base += "/" + e.URLPrefix
	}
	return urlEndpointJSON{
		ID:                   id,
		Description:          e.Description,
		URLPrefix:            e.URLPrefix,
		Origins:              nonNil(e.OriginIDs),
		CustomDomains:        nonNil(e.CustomDomains),
		RestrictUnsignedURLs: e.RestrictUnsignedURLs,
		URLEndpoint:          base,
	}
}

// nonNil keeps empty lists "[]" in JSON, never null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// urlEndpointRequest is the body of create and update. Pointers tell an
// omitted field from an empty one.
type urlEndpointRequest struct {
	Description          *string         `json:"description"`
	URLPrefix            *string         `json:"urlPrefix"`
	Origins              []string        `json:"origins"`
	CustomDomains        []string        `json:"customDomains"`
	RestrictUnsignedURLs bool            `json:"restrictUnsignedUrls"`
	URLRewriter          json.RawMessage `json:"urlRewriter"`
}

// readEndpoint decodes and validates an endpoint body; whether its prefix
// may be empty depends on the endpoint, which the caller checks.
func (s *server) readEndpoint(c echo.Context) (urlEndpointRequest, tenant.URLEndpoint, error) {
	var req urlEndpointRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return req, tenant.URLEndpoint{}, err
	}
	if len(req.URLRewriter) > 0 && string(req.URLRewriter) != "null" {
		return req, tenant.URLEndpoint{}, &errkind.Error{Kind: errkind.Unsupported, Reason: "url_rewriter_unsupported", Field: "urlRewriter",
			Msg: "urlRewriter (Cloudinary, Imgix, Akamai URL rewriting) is not supported"}
	}
	e := tenant.URLEndpoint{OriginIDs: nonNil(req.Origins), RestrictUnsignedURLs: req.RestrictUnsignedURLs}
	if req.Description != nil {
		e.Description = *req.Description
	}
	if req.URLPrefix != nil {
		e.URLPrefix = *req.URLPrefix
	}
	if err := tenant.CheckEndpoint(e); err != nil {
		return req, e, err
	}
	if req.URLPrefix != nil && *req.URLPrefix != "" {
		if err := tenant.CheckURLPrefix(*req.URLPrefix); err != nil {
			return req, e, err
		}
	}
	domains, err := tenant.NormalizeCustomDomains(req.CustomDomains)
	if err != nil {
		return req, e, err
	}
	e.CustomDomains = domains
	return req, e, nil
}

// endpointID returns the :id path parameter: "default" or a stored id.
func endpointID(c echo.Context) (string, error) {
	id := c.Param("id")
	if id != tenant.DefaultEndpointID && !tenant.ValidID(id) {
		return "", errkind.New(errkind.NotFound, "url_endpoint_not_found", "no URL-endpoint with this id")
	}
	return id, nil
}

func (s *server) listEndpoints(c echo.Context) error {
	list, err := s.Store.ListEndpoints(c.Request().Context(), callerOf(c))
	if err != nil {
		return err
	}
	out := make([]urlEndpointJSON, 0, len(list))
	for _, e := range list {
		out = append(out, s.toURLEndpointJSON(e))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) getEndpoint(c echo.Context) error {
	id, err := endpointID(c)
	if err != nil {
		return err
	}
	e, err := s.Store.FindEndpoint(c.Request().Context(), callerOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.toURLEndpointJSON(e))
}

func (s *server) createEndpoint(c echo.Context) error {
	_, e, err := s.readEndpoint(c)
	if err != nil {
		return err
	}
	// The default endpoint exists from account creation; every other one
	// needs a prefix of its own.
	if err := tenant.CheckURLPrefix(e.URLPrefix); err != nil {
		return err
	}
	e, err = s.Store.CreateEndpoint(c.Request().Context(), callerOf(c), e)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, s.toURLEndpointJSON(e))
}

// updateEndpoint replaces the endpoint (PUT): omitted origins and domains
// become empty, an omitted restrictUnsignedUrls false. An omitted urlPrefix
// keeps the prefix, so renaming an endpoint never moves its URLs.
func (s *server) updateEndpoint(c echo.Context) error {
	id, err := endpointID(c)
	if err != nil {
		return err
	}
	req, e, err := s.readEndpoint(c)
	if err != nil {
		return err
	}
	e, err = s.Store.UpdateEndpoint(c.Request().Context(), callerOf(c), id, tenant.EndpointUpdate{
		Description:          e.Description,
		URLPrefix:            req.URLPrefix,
		OriginIDs:            e.OriginIDs,
		CustomDomains:        e.CustomDomains,
		RestrictUnsignedURLs: e.RestrictUnsignedURLs,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.toURLEndpointJSON(e))
}

func (s *server) deleteEndpoint(c echo.Context) error {
	id, err := endpointID(c)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteEndpoint(c.Request().Context(), callerOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
