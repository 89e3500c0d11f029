package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"

	"pictor/services/controlplane/internal/httpapi"
)

// TestOpenAPIMatchesRoutes holds the served OpenAPI document and Echo's
// routes together: a route missing from the document, or a documented
// route that does not exist, fails. Every $ref must resolve and every
// operation must document its responses.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	e, err := httpapi.New(httpapi.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:([A-Za-z]+)`)
	var routes []string
	for _, r := range e.Routes() {
		routes = append(routes, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}

	a := newAPIWithURL(t, "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	res := a.do("GET", "/v1/openapi.json", nil)
	if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /v1/openapi.json: %d %s", res.status, res.header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			var o struct {
				Responses   map[string]json.RawMessage `json:"responses"`
				OperationID string                     `json:"operationId"`
				Parameters  []struct{ Name, In string }
			}
			if err := json.Unmarshal(op, &o); err != nil || len(o.Responses) == 0 || o.OperationID == "" {
				t.Errorf("%s %s: no responses or operationId (%v)", method, path, err)
			}
			// Path parameters are declared.
			for _, m := range regexp.MustCompile(`\{([A-Za-z]+)\}`).FindAllStringSubmatch(path, -1) {
				if !slices.ContainsFunc(o.Parameters, func(p struct{ Name, In string }) bool { return p.Name == m[1] && p.In == "path" }) {
					t.Errorf("%s %s: path parameter %s undeclared", method, path, m[1])
				}
			}
		}
	}
	slices.Sort(routes)
	slices.Sort(documented)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in the OpenAPI document", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("the OpenAPI document names %s, which is not a route", d)
		}
	}

	// Every $ref points at something.
	var whole map[string]any
	json.Unmarshal(res.body, &whole)
	for _, ref := range regexp.MustCompile(`"\$ref":\s*"#/([^"]+)"`).FindAllStringSubmatch(string(res.body), -1) {
		var node any = whole
		for _, part := range strings.Split(ref[1], "/") {
			m, _ := node.(map[string]any)
			node = m[part]
		}
		if node == nil {
			t.Errorf("dangling $ref #/%s", ref[1])
		}
	}
}
