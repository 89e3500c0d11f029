package httpapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"pictor/services/controlplane/internal/auth"
	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
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

type createAccountResponse struct {
	Account     accountJSON     `json:"account"`
	URLEndpoint urlEndpointJSON `json:"urlEndpoint"`
	// PrivateKey is shown this once; only its digest and ciphertext are kept.
	PrivateKey string `json:"privateKey"`
}

func toAccountJSON(a tenant.Account) accountJSON {
	return accountJSON{ID: a.ID, Name: a.Name, OwnerEmail: a.OwnerEmail, Status: a.Status, CreatedAt: a.CreatedAt.UTC()}
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
	if req.OwnerPassword != "" {
		if err := tenant.CheckPassword("ownerPassword", req.OwnerPassword); err != nil {
			return err
		}
	}
	res, _, err := s.newAccount(c, callerOf(c), req.ID, req.Name, req.OwnerEmail, req.OwnerPassword)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, res)
}

// newAccount creates a validated account with its owner (password "" for
// none), first key and default endpoint; it returns the response and the
// owner's user id.
func (s *server) newAccount(c echo.Context, caller tenant.Caller, id, name, email, password string) (createAccountResponse, string, error) {
	var pwHash string
	if password != "" {
		pwHash = auth.HashPassword(password)
	}
	key := s.Keyring.NewKey()
	owner := tenant.NewID()
	acct, ep, err := s.Store.CreateAccount(c.Request().Context(), caller, tenant.NewAccount{
		ID:                id,
		Name:              name,
		OwnerID:           owner,
		OwnerEmail:        email,
		OwnerPasswordHash: pwHash,
		Key:               key.Stored,
	})
	if err != nil {
		return createAccountResponse{}, "", err
	}
	return createAccountResponse{
		Account:     toAccountJSON(acct),
		URLEndpoint: s.toURLEndpointJSON(ep),
		PrivateKey:  key.Secret,
	}, owner, nil
}

// Account list page sizes.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

type accountPageJSON struct {
	Accounts []accountJSON `json:"accounts"`
	// NextCursor continues the list (?cursor=); "" on the last page.
	NextCursor string `json:"nextCursor"`
}

// listAccounts pages through accounts by id: ?limit=1..200&cursor=. The
// cursor is opaque to clients (base64url of the last id shown).
func (s *server) listAccounts(c echo.Context) error {
	limit := defaultPageSize
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return errkind.InvalidField("limit", "limit must be a number from 1 to "+strconv.Itoa(maxPageSize))
		}
		limit = n
	}
	var after string
	if v := c.QueryParam("cursor"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || tenant.CheckAccountID(string(b)) != nil {
			return errkind.InvalidField("cursor", "cursor is not one this API returned")
		}
		after = string(b)
	}
	page, err := s.Store.ListAccounts(c.Request().Context(), after, limit)
	if err != nil {
		return err
	}
	out := accountPageJSON{Accounts: make([]accountJSON, 0, len(page.Accounts))}
	for _, a := range page.Accounts {
		out.Accounts = append(out.Accounts, toAccountJSON(a))
	}
	if page.Next != "" {
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(page.Next))
	}
	return c.JSON(http.StatusOK, out)
}

// accountID returns the :id path parameter; a malformed id names no account.
func accountID(c echo.Context) (string, error) {
	id := c.Param("id")
	if tenant.CheckAccountID(id) != nil {
		return "", errkind.New(errkind.NotFound, "account_not_found", "no account with this id")
	}
	return id, nil
}

func (s *server) getAccount(c echo.Context) error {
	id, err := accountID(c)
	if err != nil {
		return err
	}
	a, err := s.Store.FindAccount(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAccountJSON(a))
}

type patchAccountRequest struct {
	Name   *string `json:"name"`
	Status *string `json:"status"`
}

// patchAccount suspends or reactivates an account (and may rename it).
// Suspension reaches the edges with the next config version: the
// account's images then answer 403, as its API calls do at once.
func (s *server) patchAccount(c echo.Context) error {
	id, err := accountID(c)
	if err != nil {
		return err
	}
	var req patchAccountRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Name == nil && req.Status == nil {
		return errkind.New(errkind.Invalid, "empty_patch", "send status and/or name")
	}
	if req.Name != nil {
		if err := tenant.CheckName("name", *req.Name); err != nil {
			return err
		}
	}
	if req.Status != nil {
		if err := tenant.CheckStatus(*req.Status); err != nil {
			return err
		}
	}
	a, err := s.Store.UpdateAccount(c.Request().Context(), callerOf(c), id, tenant.AccountPatch{Name: req.Name, Status: req.Status})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAccountJSON(a))
}

func (s *server) deleteAccount(c echo.Context) error {
	id, err := accountID(c)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteAccount(c.Request().Context(), callerOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type edgeJSON struct {
	NodeID          string `json:"nodeId"`
	EdgeGroup       string `json:"edgeGroup"`
	AppliedVersion  uint64 `json:"appliedVersion"`
	LastAckVersion  uint64 `json:"lastAckVersion"`
	LastNackVersion uint64 `json:"lastNackVersion"`
	LastNackDetail  string `json:"lastNackDetail"`
	// Rejected: the accounts the edge serves at an older version, having
	// refused them alone in the version it applied.
	Rejected  []tenant.Rejection `json:"rejected"`
	Connected bool               `json:"connected"`
	LastSeen  time.Time          `json:"lastSeen"`
}

func (s *server) listEdges(c echo.Context) error {
	edges, err := s.Store.ListEdges(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]edgeJSON, 0, len(edges))
	for _, n := range edges {
		out = append(out, edgeJSON{
			NodeID:          n.NodeID,
			EdgeGroup:       n.EdgeGroup,
			AppliedVersion:  n.AppliedVersion,
			LastAckVersion:  n.LastAckVersion,
			LastNackVersion: n.LastNackVersion,
			LastNackDetail:  n.LastNackDetail,
			Rejected:        n.Rejected,
			Connected:       n.Connected,
			LastSeen:        n.LastSeen.UTC(),
		})
	}
	return c.JSON(http.StatusOK, out)
}
