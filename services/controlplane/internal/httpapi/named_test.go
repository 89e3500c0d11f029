package httpapi_test

import (
	"io"
	"strings"
	"testing"

	"pictor/services/controlplane/internal/tenant"
	"pictor/services/internal/errkind"
	"pictor/services/internal/imgurl"
)

func TestNamedTransformations(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	k := a.createAccount("acme").PrivateKey

	r := a.do("POST", "/v1/named-transformations", jsonBody(map[string]any{"name": "thumb", "transformation": "w-100,h-100"}), key(k))
	thumb := ok[named](t, r, 201)
	wantFields(t, r.body, "id", "name", "transformation", "enabled", "createdAt", "updatedAt")
	if !tenant.ValidID(thumb.ID) || thumb.Name != "thumb" || thumb.Transformation != "w-100,h-100" || !thumb.Enabled {
		t.Fatalf("created %s", r.body)
	}
	banner := ok[named](t, a.do("POST", "/v1/named-transformations", jsonBody(map[string]any{
		"name": "Banner_2-x", "transformation": "w-1200,h-300:e-grayscale", "enabled": false}), key(k)), 201)
	if banner.Enabled {
		t.Fatal("enabled: false ignored")
	}
	if list := ok[[]named](t, a.do("GET", "/v1/named-transformations", nil, key(k)), 200); len(list) != 2 || list[0] != thumb || list[1] != banner {
		t.Fatalf("list %+v", list)
	}

	// PATCH changes only what is sent.
	v0 := a.version()
	got := ok[named](t, a.do("PATCH", "/v1/named-transformations/"+thumb.ID, jsonBody(map[string]any{"enabled": false}), key(k)), 200)
	if got.Enabled || got.Name != "thumb" || got.Transformation != "w-100,h-100" {
		t.Fatalf("patch enabled %+v", got)
	}
	got = ok[named](t, a.do("PATCH", "/v1/named-transformations/"+thumb.ID, jsonBody(map[string]any{"transformation": "w-200", "name": "small"}), key(k)), 200)
	if got.Enabled || got.Name != "small" || got.Transformation != "w-200" {
		t.Fatalf("patch transformation %+v", got)
	}
	if v := a.version(); v != v0+2 {
		t.Fatalf("version %d, want %d", v, v0+2)
	}
	// Edges get it.
	nts := a.state().Accounts[0].NamedTransformations
	if len(nts) != 2 || nts[1].Name != "small" || nts[1].Transformation != "w-200" || nts[1].Enabled {
		t.Fatalf("edge view %+v", nts)
	}

	// The parser's own message comes back, naming the parameter.
	_, perr := imgurl.ParseNamed("w-abc")
	e := wantError(t, a.do("POST", "/v1/named-transformations", jsonBody(map[string]any{"name": "x", "transformation": "w-abc"}), key(k)), 400, "transformation")
	if !strings.Contains(e.Message, errkind.SafeMessage(perr)) {
		t.Fatalf("message %q does not carry the parser's %q", e.Message, errkind.SafeMessage(perr))
	}

	body := func(m map[string]any) io.Reader { return jsonBody(m) }
	errs := []struct {
		name, method, path string
		body               io.Reader
		status             int
		field              string
	}{
		{"bad value", "POST", "", body(map[string]any{"name": "x", "transformation": "w-abc"}), 400, "transformation"},
		{"unknown parameter", "POST", "", body(map[string]any{"name": "x", "transformation": "zz-1"}), 400, "transformation"},
		{"unsupported layer", "POST", "", body(map[string]any{"name": "x", "transformation": "l-video,i-clip.mp4,l-end"}), 400, "transformation"},
		{"nested named", "POST", "", body(map[string]any{"name": "x", "transformation": "n-small"}), 400, "transformation"},
		{"empty transformation", "POST", "", body(map[string]any{"name": "x", "transformation": ""}), 400, "transformation"},
		{"missing transformation", "POST", "", body(map[string]any{"name": "x"}), 400, "transformation"},
		{"transformation wrong type", "POST", "", body(map[string]any{"name": "x", "transformation": 5}), 400, "transformation"},
		{"missing name", "POST", "", body(map[string]any{"transformation": "w-1"}), 400, "name"},
		{"name with space", "POST", "", body(map[string]any{"name": "a b", "transformation": "w-1"}), 400, "name"},
		{"name with colon", "POST", "", body(map[string]any{"name": "a:b", "transformation": "w-1"}), 400, "name"},
		{"name too long", "POST", "", body(map[string]any{"name": strings.Repeat("n", 101), "transformation": "w-1"}), 400, "name"},
		{"name taken", "POST", "", body(map[string]any{"name": "small", "transformation": "w-1"}), 409, "name"},
		{"enabled wrong type", "POST", "", body(map[string]any{"name": "y", "transformation": "w-1", "enabled": "yes"}), 400, "enabled"},
		{"patch rename to taken", "PATCH", "/" + thumb.ID, body(map[string]any{"name": "Banner_2-x"}), 409, "name"},
		{"patch bad transformation", "PATCH", "/" + thumb.ID, body(map[string]any{"transformation": "q-500"}), 400, "transformation"},
		{"patch nothing", "PATCH", "/" + thumb.ID, body(map[string]any{}), 400, ""},
		{"patch unknown", "PATCH", "/" + tenant.NewID(), body(map[string]any{"enabled": true}), 404, ""},
		{"get unknown", "GET", "/" + tenant.NewID(), nil, 404, ""},
		{"get malformed", "GET", "/thumb", nil, 404, ""},
		{"delete unknown", "DELETE", "/" + tenant.NewID(), nil, 404, ""},
		{"put not allowed", "PUT", "/" + thumb.ID, body(map[string]any{"enabled": true}), 405, ""},
		{"too large", "POST", "", raw(`{"name":"` + strings.Repeat("x", 5000) + `"}`), 413, ""},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			a.unchanged(t, func() {
				wantError(t, a.do(tt.method, "/v1/named-transformations"+tt.path, tt.body, key(k)), tt.status, tt.field)
			})
		})
	}

	ok[any](t, a.do("DELETE", "/v1/named-transformations/"+thumb.ID, nil, key(k)), 204)
	wantError(t, a.do("GET", "/v1/named-transformations/"+thumb.ID, nil, key(k)), 404, "")
	if nts := a.state().Accounts[0].NamedTransformations; len(nts) != 1 || nts[0].Name != "Banner_2-x" {
		t.Fatalf("edge view after delete %+v", nts)
	}
}

// TestNamedTransformationNamesMatchTheEdge: a name is accepted exactly
// when the edge's grammar accepts n-{name}, so every stored name is usable.
func TestNamedTransformationNamesMatchTheEdge(t *testing.T) {
	for _, name := range []string{"a", "thumb", "Banner_2-x", strings.Repeat("z", 100), strings.Repeat("z", 101), "", "a b", "a,b", "a:b", "a.b", "ä", "a/b", "a@@b"} {
		_, edgeErr := imgurl.Parse("n-" + name)
		apiErr := tenant.CheckNamedTransformationName(name)
		if (edgeErr == nil) != (apiErr == nil) {
			t.Errorf("name %q: edge %v, API %v", name, edgeErr, apiErr)
		}
	}
}
