package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

type keyJSON struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	DisplayPrefix string    `json:"displayPrefix"`
	CreatedAt     time.Time `json:"createdAt"`
}

type createdKeyJSON struct {
	keyJSON
	// PrivateKey is shown this once.
	PrivateKey string `json:"privateKey"`
}

func toKeyJSON(k tenant.KeyInfo) keyJSON {
	return keyJSON{ID: k.ID, Name: k.Name, DisplayPrefix: k.DisplayPrefix, CreatedAt: k.CreatedAt.UTC()}
}

type createKeyRequest struct {
	Name string `json:"name"`
}

func (s *server) listKeys(c echo.Context) error {
	keys, err := s.Store.ListKeys(c.Request().Context(), callerOf(c))
	if err != nil {
		return err
	}
	out := make([]keyJSON, 0, len(keys))
	for _, k := range keys {
		out = append(out, toKeyJSON(k))
	}
	return c.JSON(http.StatusOK, out)
}

// createKey adds an active key, so keys rotate without downtime: create
// the new one, deploy it, revoke the old one.
func (s *server) createKey(c echo.Context) error {
	var req createKeyRequest
	if err := s.decodeOptionalJSON(c, &req); err != nil {
		return err
	}
	if err := tenant.CheckKeyName(req.Name); err != nil {
		return err
	}
	key := s.Keyring.NewKey()
	info, err := s.Store.CreateKey(c.Request().Context(), callerOf(c), req.Name, key.Stored)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, createdKeyJSON{keyJSON: toKeyJSON(info), PrivateKey: key.Secret})
}

func (s *server) revokeKey(c echo.Context) error {
	id := c.Param("id")
	if !tenant.ValidID(id) {
		return errkind.New(errkind.NotFound, "key_not_found", "no active API key with this id")
	}
	if err := s.Store.RevokeKey(c.Request().Context(), callerOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
