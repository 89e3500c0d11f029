package fleettest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// API is a client of a replica's REST API: config writes go through it,
// exactly as a customer's do.
type API struct {
	base       string
	adminToken string
	http       *http.Client
}

// NewAPI returns a client of the replica at httpAddr.
func NewAPI(httpAddr, adminToken string) *API {
	return &API{base: "http://" + httpAddr, adminToken: adminToken, http: &http.Client{Timeout: 30 * time.Second}}
}

// Account is an account as the fleet uses it.
type Account struct {
	ID         string
	PrivateKey string
}

// CreateAccount creates an account through the admin API.
func (a *API) CreateAccount(ctx context.Context, id string) (Account, error) {
	var out struct {
		PrivateKey string `json:"privateKey"`
	}
	body := map[string]string{"id": id, "name": "Account " + id, "ownerEmail": id + "@example.com"}
	if err := a.do(ctx, http.MethodPost, "/admin/v1/accounts", "Bearer "+a.adminToken, body, &out); err != nil {
		return Account{}, err
	}
	return Account{ID: id, PrivateKey: out.PrivateKey}, nil
}

type originBody struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	BaseURL string `json:"baseUrl"`
}

// CreateOrigin adds a web-server origin and returns its id. The account's
// first origin serves its default URL-endpoint.
func (a *API) CreateOrigin(ctx context.Context, acct Account, name, baseURL string) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := a.do(ctx, http.MethodPost, "/v1/accounts/origins", basic(acct), originBody{"WEB_FOLDER", name, baseURL}, &out)
	return out.ID, err
}

// UpdateOrigin replaces an origin's name and base URL.
func (a *API) UpdateOrigin(ctx context.Context, acct Account, id, name, baseURL string) error {
	return a.do(ctx, http.MethodPut, "/v1/accounts/origins/"+id, basic(acct), originBody{"WEB_FOLDER", name, baseURL}, nil)
}

// DeleteOrigin deletes an origin no endpoint uses.
func (a *API) DeleteOrigin(ctx context.Context, acct Account, id string) error {
	return a.do(ctx, http.MethodDelete, "/v1/accounts/origins/"+id, basic(acct), nil, nil)
}

// Purge asks for a purge of url and returns the request id.
func (a *API) Purge(ctx context.Context, acct Account, url string) (string, error) {
	var out struct {
		RequestID string `json:"requestId"`
	}
	err := a.do(ctx, http.MethodPost, "/v1/files/purge", basic(acct), map[string]string{"url": url}, &out)
	return out.RequestID, err
}

// PurgeStatus returns "Pending" or "Completed".
func (a *API) PurgeStatus(ctx context.Context, acct Account, requestID string) (string, error) {
	var out struct {
		Status string `json:"status"`
	}
	err := a.do(ctx, http.MethodGet, "/v1/files/purge/"+requestID, basic(acct), nil, &out)
	return out.Status, err
}

func basic(acct Account) string {
	req := http.Request{Header: http.Header{}}
	req.SetBasicAuth(acct.PrivateKey, "")
	return req.Header.Get("Authorization")
}

func (a *API) do(ctx context.Context, method, path, authorization string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", authorization)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode response: %w", method, path, err)
		}
	}
	return nil
}

// Admin GETs an admin API path into out.
func (a *API) Admin(ctx context.Context, path string, out any) error {
	return a.do(ctx, http.MethodGet, path, "Bearer "+a.adminToken, nil, out)
}
