package standalone

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pictor/services/edge/internal/routing"
)

const example = `
accounts:
  - id: demo
    status: active
    defaultQuality: 80
    keys:
      - id: k1
        secret: private_demo_secret
    origins:
      - id: web
        type: WEB_FOLDER
        name: Website
        baseUrl: https://www.example.com
    endpoints:
      - id: default
        urlPrefix: ""
        originIds: [web]
`

func TestLoadExample(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pictor.yaml")
	if err := os.WriteFile(path, []byte(example), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	table, err := routing.Build(snap)
	if err != nil {
		t.Fatalf("example does not validate: %v", err)
	}
	if table.Version() != 1 || table.Account("demo") == nil {
		t.Fatalf("loaded table: version %d, demo %v", table.Version(), table.Account("demo"))
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, doc, errHas string }{
		{"not yaml", "accounts: [", "not valid YAML"},
		{"unknown field", "acounts: []", "snapshot schema"},
		{"wrong type", "accounts: 5", "snapshot schema"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err = %v, want %q", err, tc.errHas)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml")); err == nil {
		t.Fatal("missing file loaded")
	}
}
