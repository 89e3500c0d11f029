package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

type settingsJSON struct {
	AVIFEnabled    bool  `json:"avifEnabled"`
	DefaultQuality int   `json:"defaultQuality"`
	CacheMaxAge    int64 `json:"cacheMaxAge"`
}

type settingsPatch struct {
	AVIFEnabled    *bool  `json:"avifEnabled"`
	DefaultQuality *int   `json:"defaultQuality"`
	CacheMaxAge    *int64 `json:"cacheMaxAge"`
}

func settingsOut(st tenant.Settings) settingsJSON {
	return settingsJSON{AVIFEnabled: st.AVIFEnabled, DefaultQuality: st.DefaultQuality, CacheMaxAge: st.CacheMaxAge}
}

func (s *server) getSettings(c echo.Context) error {
	st, err := s.Store.Settings(c.Request().Context(), callerOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, settingsOut(st))
}

// patchSettings changes what is sent; the edges get it with the next
// config version (AVIF for f-auto, the quality of URLs without q, the
// Cache-Control max-age of shareable images).
func (s *server) patchSettings(c echo.Context) error {
	var req settingsPatch
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if req.AVIFEnabled == nil && req.DefaultQuality == nil && req.CacheMaxAge == nil {
		return errkind.New(errkind.Invalid, "empty_patch", "send avifEnabled, defaultQuality and/or cacheMaxAge")
	}
	if req.DefaultQuality != nil {
		if err := tenant.CheckDefaultQuality(*req.DefaultQuality); err != nil {
			return err
		}
	}
	if req.CacheMaxAge != nil {
		if err := tenant.CheckCacheMaxAge(*req.CacheMaxAge); err != nil {
			return err
		}
	}
	st, err := s.Store.UpdateSettings(c.Request().Context(), callerOf(c), tenant.SettingsPatch{
		AVIFEnabled: req.AVIFEnabled, DefaultQuality: req.DefaultQuality, CacheMaxAge: req.CacheMaxAge,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, settingsOut(st))
}
