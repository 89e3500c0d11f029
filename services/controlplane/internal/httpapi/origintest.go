package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
	"pictor/services/internal/objectstore"
)

// originTestRequest is an origin as it would be saved, plus the path to
// try on it.
type originTestRequest struct {
	originRequest
	Path string `json:"path"`
	// ID names the saved origin being edited: a bucket or container sent
	// without its secret is tried with the stored one, which the API never
	// sends back.
	ID string `json:"id"`
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
	if req.Name == "" {
		req.Name = "origin test" // a name is only for the dashboard
	}
	o := req.origin()
	if err := s.OriginPolicy.CheckOrigin(o); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if tenant.HasSecret(o.Type) {
		path, err := objectPath(req.Path)
		if err != nil {
			return err
		}
		if err := s.storedSecret(c, req.ID, &o); err != nil {
			return err
		}
		if o.Type == tenant.OriginAzureBlob {
			a := &objectstore.Azure{Account: o.AccountName, Container: o.Container, Prefix: tenant.CleanPrefix(o.Prefix),
				SAS: tenant.CleanSASToken(o.SASToken)}
			return c.JSON(http.StatusOK, s.prober.FetchAzure(ctx, a, path))
		}
		b := &objectstore.S3{Bucket: o.Bucket, Prefix: tenant.CleanPrefix(o.Prefix), AccessKey: o.AccessKey, SecretKey: o.SecretKey}
		if o.Type == tenant.OriginS3Compatible {
			b.Endpoint, b.PathStyle = o.Endpoint, o.S3ForcePathStyle
		}
		return c.JSON(http.StatusOK, s.prober.FetchS3(ctx, b, path))
	}
	target, hosts, err := probeTarget(o, req.Path)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.prober.Fetch(ctx, target, hosts))
}

// storedSecret fills in o's secret, when the request left it out, from
// the saved origin id of the caller's account (of a type whose secret
// means the same).
func (s *server) storedSecret(c echo.Context, id string, o *tenant.Origin) error {
	secret := &o.SecretKey
	field := "secretKey"
	if o.Type == tenant.OriginAzureBlob {
		secret, field = &o.SASToken, "sasToken"
	}
	if *secret != "" {
		return nil
	}
	if id == "" {
		return errkind.InvalidField(field, field+" is required to test an origin that is not saved yet")
	}
	if !tenant.ValidID(id) {
		return errkind.New(errkind.NotFound, "origin_not_found", "no origin with this id")
	}
	saved, err := s.Store.FindOriginSecret(c.Request().Context(), callerOf(c), id)
	if err != nil {
		return err
	}
	if !tenant.SameSecretKind(saved.Type, o.Type) || len(saved.SecretKeyCiphertext) == 0 {
		return errkind.InvalidField(field, "the saved origin has no "+field+" for a "+o.Type+" origin: give one to test it")
	}
	if *secret, err = s.Keyring.OpenOriginSecret(saved.ID, saved.SecretKeyCiphertext); err != nil {
		return fmt.Errorf("open the secret of origin %s: %w", saved.ID, err)
	}
	return nil
}

// objectPath is a bucket or container's image path, escaped as an edge
// sends it (a query is not sent to buckets).
func objectPath(path string) (string, error) {
	u, err := imagePath(path)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(u.EscapedPath(), "/"), nil
}

// probeTarget is the URL an edge would fetch for path on o, and for a web
// proxy the hosts it may fetch from (nil: any).
func probeTarget(o tenant.Origin, path string) (string, []string, error) {
	if o.Type == tenant.OriginWebProxy {
		path = strings.TrimSpace(path)
		if path == "" || len(path) > tenant.MaxURLLen {
			return "", nil, errPathRequired
		}
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
	u, err := imagePath(path)
	if err != nil {
		return "", nil, err
	}
	target := strings.TrimRight(o.BaseURL, "/") + u.EscapedPath()
	if u.RawQuery != "" {
		target += "?" + u.RawQuery
	}
	return target, nil, nil
}

var errPathRequired = errkind.InvalidField("path", "path is required: the path of an image to try (at most 2048 characters)")

// imagePath is a relative image path as an edge would take it: '/'
// first, no '.' or '..' segments.
func imagePath(path string) (*url.URL, error) {
	path = strings.TrimSpace(path)
	if path == "" || len(path) > tenant.MaxURLLen {
		return nil, errPathRequired
	}
	u, err := url.Parse("/" + strings.TrimLeft(path, "/"))
	if err != nil || u.Host != "" || strings.Contains(path, "\\") {
		return nil, errkind.InvalidField("path", "path must be an image path such as photos/sample.jpg")
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return nil, errkind.InvalidField("path", "path must not contain '.' or '..' segments")
		}
	}
	return u, nil
}
