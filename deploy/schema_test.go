package deploy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The Kubernetes API's OpenAPI schemas come compiled into the npm package
// kubernetes-models (deploy/schema, pinned by its package-lock.json), so
// nothing is fetched while validating. They add what strict Go decoding
// cannot see: required fields, enums and formats.

var (
	schemaOnce sync.Once
	schemaErr  error
)

// schemaValidator returns the directory of deploy/schema/validate.mjs once
// its npm packages are installed: `npm ci` from the lock file on first use,
// and again whenever package.json or the lock file changes (a checksum in
// node_modules records the last install).
func schemaValidator(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "deploy/schema")
	schemaOnce.Do(func() {
		for _, tool := range []string{"node", "npm"} {
			if _, err := exec.LookPath(tool); err != nil {
				schemaErr = err
				return
			}
		}
		h := sha256.New()
		for _, f := range []string{"package.json", "package-lock.json"} {
			data, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				schemaErr = err
				return
			}
			h.Write(data)
		}
		sum := hex.EncodeToString(h.Sum(nil))
		stamp := filepath.Join(dir, "node_modules", ".pictor-install.sha256")
		if got, err := os.ReadFile(stamp); err == nil && string(got) == sum {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			schemaErr = &installError{err: err, out: string(out)}
			return
		}
		schemaErr = os.WriteFile(stamp, []byte(sum), 0o644)
	})
	if schemaErr != nil {
		t.Fatalf("Kubernetes schema validator (deploy/schema; needs Node >= 20 and npm): %v", schemaErr)
	}
	return dir
}

type installError struct {
	err error
	out string
}

func (e *installError) Error() string { return "npm ci: " + e.err.Error() + "\n" + e.out }

// validateSchemas writes docs to a file and runs validate.mjs on it. ok is
// false when a resource is invalid; out is what the validator printed.
func validateSchemas(t *testing.T, docs [][]byte) (out string, ok bool) {
	t.Helper()
	dir := schemaValidator(t)
	file := filepath.Join(t.TempDir(), "manifests.yaml")
	if err := os.WriteFile(file, bytes.Join(docs, []byte("\n---\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(dir, "validate.mjs"), file)
	cmd.Dir = dir
	b, err := cmd.CombinedOutput()
	if ee, isExit := err.(*exec.ExitError); isExit && ee.ExitCode() == 1 {
		return string(b), false
	}
	if err != nil {
		t.Fatalf("validate.mjs: %v\n%s", err, b)
	}
	return string(b), true
}

// TestKubernetesSchema validates the base and every overlay, as rendered by
// kustomize, against the Kubernetes OpenAPI schemas.
func TestKubernetesSchema(t *testing.T) {
	k8sDir := filepath.Join(repoRoot(t), "deploy/k8s")
	dirs, _ := filepath.Glob(filepath.Join(k8sDir, "overlays/*"))
	dirs = append([]string{filepath.Join(k8sDir, "base")}, dirs...)
	for _, dir := range dirs {
		docs, err := renderKustomization(dir)
		if err != nil {
			t.Fatalf("kustomize build %s: %v", dir, err)
		}
		if out, ok := validateSchemas(t, docs); !ok {
			t.Errorf("%s does not match the Kubernetes schemas:\n%s", dir, out)
		}
	}
}

// TestKubernetesSchemaRejects shows the validator catches what strict Go
// decoding lets through: a missing required field and a value outside an
// enum.
func TestKubernetesSchemaRejects(t *testing.T) {
	out, ok := validateSchemas(t, splitDocs(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{image: "i:1"}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: y}
spec:
  rules:
    - http: {paths: [{path: /, pathType: Everything, backend: {service: {name: s, port: {number: 80}}}}]}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: z}
`))
	if ok {
		t.Fatalf("invalid manifests passed:\n%s", out)
	}
	for _, want := range []string{
		"Deployment x: data/spec/template/spec/containers/0 must have required property name",
		"Ingress y: data/spec/rules/0/http/paths/0/pathType must be equal to one of the allowed values",
		"Widget z: no schema for this kind",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validator output lacks %q:\n%s", want, out)
		}
	}
}
