package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/auth"
	"pictor/services/controlplane/internal/tenant"
)

type createAccountRequest struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	OwnerEmail    string `json:"ownerEmail"`
	OwnerPassword string `json:"ownerPassword"`
}

type accountJSON struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	OwnerEmail string    `json:"ownerEmail"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"createdAt"`
}

type urlEndpointJSON struct {
	ID                   string   `json:"id"`
	Description          string   `json:"description"`
	URLPrefix            string   `json:"urlPrefix"`
	Origins              []string `json:"origins"`
	CustomDomains        []string `json:"customDomains"`
	RestrictUnsignedURLs bool     `json:"restrictUnsignedUrls"`
	// URLEndpoint is the endpoint's base URL on the edges (Pictor's
	// addition, as ImageKit's dashboard shows it).
	URLEndpoint string `json:"urlEndpoint"`
}

type createAccountResponse struct {
	Account     accountJSON     `json:"account"`
	URLEndpoint urlEndpointJSON `json:"urlEndpoint"`
	// PrivateKey is shown this once; only its digest and ciphertext are kept.
	PrivateKey string `json:"privateKey"`
}

func (s *server) createAccount(c echo.Context) error {
	var req createAccountRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if err := tenant.CheckAccountID(req.ID); err != nil {
		return err
	}
	if err := tenant.CheckName("name", req.Name); err != nil {
		return err
	}
	if err := tenant.CheckEmail("ownerEmail", req.OwnerEmail); err != nil {
		return err
	}
	var pwHash string
	if req.OwnerPassword != "" {
		if err := tenant.CheckPassword("ownerPassword", req.OwnerPassword); err != nil {
			return err
		}
		pwHash = auth.HashPassword(req.OwnerPassword)
	}
	key := s.Keyring.NewKey()
	acct, ep, err := s.Accounts.CreateAccount(c.Request().Context(), callerOf(c), tenant.NewAccount{
		ID:                req.ID,
		Name:              req.Name,
		OwnerEmail:        req.OwnerEmail,
		OwnerPasswordHash: pwHash,
		Key:               key.Stored,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, createAccountResponse{
		Account:     toAccountJSON(acct),
		URLEndpoint: s.toURLEndpointJSON(ep),
		PrivateKey:  key.Secret,
	})
}

func toAccountJSON(a tenant.Account) accountJSON {
	return accountJSON{ID: a.ID, Name: a.Name, OwnerEmail: a.OwnerEmail, Status: a.Status, CreatedAt: a.CreatedAt.UTC()}
}

func (s *server) toURLEndpointJSON(e tenant.URLEndpoint) urlEndpointJSON {
	base := s.PublicEdgeURL + "/" + e.AccountID
	if e.URLPrefix != "" {
		base += "/" + e.URLPrefix
	}
	return urlEndpointJSON{
		ID:                   e.ID,
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
