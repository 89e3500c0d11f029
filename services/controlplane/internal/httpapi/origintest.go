package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
)

// originTestRequest is an origin as it would be saved, plus the path to
// try on it.
type originTestRequest struct {
	originRequest
	Path string `json:"path"`
}

// testOrigin fetches one path from an origin as given — saved or not —
// the way an edge would, for the dashboard's "Test origin". The origin is
// checked as saving would check it; what the origin answered, failures
// included, is a 200 describing it.
func (s *server) testOrigin(c echo.Context) error {
	var req originTestRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if tenant.ObjectStorage(req.Type) || req.Type == tenant.OriginAzureBlob {
		// Saved S3 and AZURE_BLOB origins are served by edges; trying
		// one here is not offered yet.
		return &errkind.Error{Kind: errkind.Unsupported, Reason: "unsupported_origin_type", Field: "type",
			Msg: "testing " + req.Type + " origins is not supported yet"}
	}
	if req.Name == "" {
		req.Name = "origin test" // a name is only for the dashboard
	}
	o := req.origin()
	if err := s.OriginPolicy.CheckOrigin(o); err != nil {
		return err
	}
	target, hosts, err := probeTarget(o, req.Path)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.prober.Fetch(c.Request().Context(), target, hosts))
}

// probeTarget is the URL an edge would fetch for path on o, and for a web
// proxy the hosts it may fetch from (nil: any).
func probeTarget(o tenant.Origin, path string) (string, []string, error) {
	path = strings.TrimSpace(path)
	if path == "" || len(path) > tenant.MaxURLLen {
		return "", nil, errkind.InvalidField("path", "path is required: the path of an image to try (at most 2048 characters)")
	}
	if o.Type == tenant.OriginWebProxy {
		u, err := url.Parse(path)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return "", nil, errkind.InvalidField("path", "a web proxy fetches absolute URLs: path must be an http(s) URL such as https://images.example.com/a.jpg")
		}
		var hosts []string
		if len(o.AllowedHosts) > 0 {
			hosts = o.AllowedHosts
		}
		return u.String(), hosts, nil
	}
	u, err := url.Parse("/" + strings.TrimLeft(path, "/"))
	if err != nil || u.Host != "" || strings.Contains(path, "\\") {
		return "", nil, errkind.InvalidField("path", "path must be an image path such as photos/sample.jpg")
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return "", nil, errkind.InvalidField("path", "path must not contain '.' or '..' segments")
		}
	}
	target := strings.TrimRight(o.BaseURL, "/") + u.EscapedPath()
	if u.RawQuery != "" {
		target += "?" + u.RawQuery
	}
	return target, nil, nil
}
