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
// any public host is allowed. S3 and S3_COMPATIBLE origins have bucket,
// prefix and accessKey (which ImageKit leaves out; an access key id is
// not a secret), S3_COMPATIBLE ones also endpoint and s3ForcePathStyle,
// and neither has baseUrl or allowedHosts. AZURE_BLOB origins have
// container, accountName and prefix, and no baseUrl or allowedHosts. The
// secret key and the SAS token are never returned: there is no field for
// them.
type originJSON struct {
	ID                        string    `json:"id"`
	Type                      string    `json:"type"`
	Name                      string    `json:"name"`
	BaseURL                   *string   `json:"baseUrl,omitempty"`
	ForwardHostHeaderToOrigin bool      `json:"forwardHostHeaderToOrigin"`
	IncludeCanonicalHeader    bool      `json:"includeCanonicalHeader"`
	BaseURLForCanonicalHeader string    `json:"baseUrlForCanonicalHeader"`
	AllowedHosts              *[]string `json:"allowedHosts,omitempty"`
	Bucket                    *string   `json:"bucket,omitempty"`
	Prefix                    *string   `json:"prefix,omitempty"`
	AccessKey                 *string   `json:"accessKey,omitempty"`
	Endpoint                  *string   `json:"endpoint,omitempty"`
	S3ForcePathStyle          *bool     `json:"s3ForcePathStyle,omitempty"`
	Container                 *string   `json:"container,omitempty"`
	AccountName               *string   `json:"accountName,omitempty"`
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
	Bucket                    string   `json:"bucket"`
	Prefix                    string   `json:"prefix"`
	AccessKey                 string   `json:"accessKey"`
	// SecretKey "" on a PUT keeps the stored one.
	SecretKey        string `json:"secretKey"`
	Endpoint         string `json:"endpoint"`
	S3ForcePathStyle bool   `json:"s3ForcePathStyle"`
	// UseIAMRole is ImageKit's alternative to keys for S3, which Pictor
	// does not offer: true is refused.
	UseIAMRole bool `json:"useIAMRole"`
	// AZURE_BLOB's fields. SASToken "" on a PUT keeps the stored one.
	Container   string `json:"container"`
	AccountName string `json:"accountName"`
	SASToken    string `json:"sasToken"`
}

// origin is the request as a tenant.Origin, not yet validated.
func (req originRequest) origin() tenant.Origin {
	return tenant.Origin{
		Type:                      req.Type,
		Name:                      req.Name,
		BaseURL:                   req.BaseURL,
		ForwardHostHeaderToOrigin: req.ForwardHostHeaderToOrigin,
		IncludeCanonicalHeader:    req.IncludeCanonicalHeader,
		BaseURLForCanonicalHeader: req.BaseURLForCanonicalHeader,
		AllowedHosts:              req.AllowedHosts,
		Bucket:                    req.Bucket,
		Prefix:                    req.Prefix,
		AccessKey:                 req.AccessKey,
		SecretKey:                 req.SecretKey,
		Endpoint:                  req.Endpoint,
		S3ForcePathStyle:          req.S3ForcePathStyle,
		Container:                 req.Container,
		AccountName:               req.AccountName,
		SASToken:                  req.SASToken,
	}
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
	switch {
	case o.Type == tenant.OriginWebProxy:
		hosts := nonNil(o.AllowedHosts)
		out.AllowedHosts = &hosts
	case tenant.ObjectStorage(o.Type):
		out.Bucket, out.Prefix, out.AccessKey = &o.Bucket, &o.Prefix, &o.AccessKey
		if o.Type == tenant.OriginS3Compatible {
			out.Endpoint, out.S3ForcePathStyle = &o.Endpoint, &o.S3ForcePathStyle
		}
	case o.Type == tenant.OriginAzureBlob:
		out.Container, out.AccountName, out.Prefix = &o.Container, &o.AccountName, &o.Prefix
	default:
		out.BaseURL = &o.BaseURL
	}
	return out
}

// readOrigin decodes and validates an origin from the request body for
// the origin id (a new one when creating). An "id" in the body is ignored:
// the path or the server decides it. A secret key comes back sealed for
// that id, never in the clear, and so does a SAS token (without its
// leading '?'): storage only ever sees the ciphertext.
func (s *server) readOrigin(c echo.Context, id string, create bool) (tenant.Origin, error) {
	var req originRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return tenant.Origin{}, err
	}
	if req.UseIAMRole {
		return tenant.Origin{}, &errkind.Error{Kind: errkind.Unsupported, Reason: "unsupported_iam_role", Field: "useIAMRole",
			Msg: "useIAMRole is not supported: give the origin an accessKey and a secretKey"}
	}
	o := req.origin()
	check := s.OriginPolicy.CheckOrigin
	if create {
		check = s.OriginPolicy.CheckNewOrigin
	}
	if err := check(o); err != nil {
		return tenant.Origin{}, err
	}
	o.ID = id
	o.Prefix = tenant.CleanPrefix(o.Prefix)
	if o.SecretKey != "" {
		o.SecretKeyCiphertext = s.Keyring.SealOriginSecret(id, o.SecretKey)
		o.SecretKey = ""
	}
	if t := tenant.CleanSASToken(o.SASToken); t != "" {
		o.SecretKeyCiphertext = s.Keyring.SealOriginSecret(id, t)
	}
	o.SASToken = ""
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
	o, err := s.readOrigin(c, tenant.NewID(), true)
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
	o, err := s.readOrigin(c, id, false)
	if err != nil {
		return err
	}
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
