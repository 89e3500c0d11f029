package httpapi_test

import (
	"net/http"
	"reflect"
	"slices"
	"testing"
)

// ok requires status want and returns the body decoded as T.
func ok[T any](t *testing.T, r response, want int) T {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d (%s), want %d", r.status, r.body, want)
	}
	var zero T
	if want == http.StatusNoContent {
		return zero
	}
	return decode[T](t, r.body)
}

// wantFields requires the JSON object in body to have exactly these keys:
// every documented field present, nothing else.
func wantFields(t *testing.T, body []byte, keys ...string) {
	t.Helper()
	m := decode[map[string]any](t, body)
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Fatalf("fields %v, want %v (%s)", got, keys, body)
	}
}

// unchanged runs f and fails when the config version or anything edges
// see moved: a refused request has no side effect.
func (a *api) unchanged(t *testing.T, f func()) {
	t.Helper()
	v0, s0 := a.version(), a.state()
	f()
	v1, s1 := a.version(), a.state()
	s0.Version, s1.Version = 0, 0
	if v1 != v0 || !reflect.DeepEqual(s0, s1) {
		t.Fatalf("state changed (version %d -> %d)", v0, v1)
	}
}

type endpoint struct {
	ID                   string   `json:"id"`
	Description          string   `json:"description"`
	URLPrefix            string   `json:"urlPrefix"`
	Origins              []string `json:"origins"`
	CustomDomains        []string `json:"customDomains"`
	RestrictUnsignedURLs bool     `json:"restrictUnsignedUrls"`
	URLEndpoint          string   `json:"urlEndpoint"`
}

func (a *api) createEndpoint(k string, body map[string]any) endpoint {
	a.t.Helper()
	return ok[endpoint](a.t, a.do("POST", "/v1/accounts/url-endpoints", jsonBody(body), key(k)), http.StatusCreated)
}

type named struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Transformation string `json:"transformation"`
	Enabled        bool   `json:"enabled"`
}

func (a *api) createNamed(k, name, tr string) named {
	a.t.Helper()
	return ok[named](a.t, a.do("POST", "/v1/named-transformations", jsonBody(map[string]any{"name": name, "transformation": tr}), key(k)), http.StatusCreated)
}

func (a *api) purge(k, url string) string {
	a.t.Helper()
	return ok[struct{ RequestID string }](a.t, a.do("POST", "/v1/files/purge", jsonBody(map[string]any{"url": url}), key(k)), http.StatusCreated).RequestID
}
