package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// composePublished: the compose stack publishes the dev stack's ports.
var composePublished = []publishedPort{
	{"controlplane", "http", "PICTOR_DEV_HTTP_PORT"},
	{"controlplane", "grpc", "PICTOR_DEV_GRPC_PORT"},
	{"edge-1", "http", "PICTOR_DEV_EDGE1_PORT"},
	{"edge-2", "http", "PICTOR_DEV_EDGE2_PORT"},
	{"demo-origin", "http", "PICTOR_DEV_ORIGIN_PORT"},
}

// TestSourceFacts guards the extraction the other tests rely on: if the
// services' config loaders change shape so that nothing is found, this
// fails instead of every check passing vacuously.
func TestSourceFacts(t *testing.T) {
	bins := binaries(t)
	cp, edge, origin := bins["controlplane"], bins["edge"], bins["demo-origin"]

	for _, want := range []string{"PICTOR_DATABASE_URL", "PICTOR_ADMIN_TOKEN", "PICTOR_EDGE_TOKEN", "PICTOR_MASTER_KEY", "PICTOR_HTTP_ADDR", "PICTOR_GRPC_ADDR"} {
		if !cp.env[want] {
			t.Errorf("controlplane: %s not found among its settings %v", want, sortedKeys(cp.env))
		}
	}
	serve := strings.Join(cp.requiredFor([]string{"serve"}), " ")
	for _, want := range []string{"PICTOR_DATABASE_URL", "PICTOR_ADMIN_TOKEN", "PICTOR_EDGE_TOKEN", "PICTOR_MASTER_KEY"} {
		if !strings.Contains(serve, want) {
			t.Errorf("controlplane serve: %s not found required (found %s)", want, serve)
		}
	}
	if got := cp.requiredFor([]string{"migrate", "up"}); len(got) != 1 || got[0] != "PICTOR_DATABASE_URL" {
		t.Errorf("controlplane migrate requires %v, want only PICTOR_DATABASE_URL", got)
	}
	if got := edge.requiredFor(nil); !contains(got, "PICTOR_EDGE_TOKEN") {
		t.Errorf("edge requires %v, want PICTOR_EDGE_TOKEN among them", got)
	}
	for b, want := range map[*binary]map[string]string{
		cp:   {"PICTOR_HTTP_ADDR": ":8080", "PICTOR_GRPC_ADDR": ":8090"},
		edge: {"PICTOR_EDGE_ADDR": ":8081", "PICTOR_EDGE_DATA_DIR": "/var/lib/pictor-edge"},
	} {
		for k, v := range want {
			if b.defaults[k] != v {
				t.Errorf("%s: default of %s = %q, want %q", b.name, k, b.defaults[k], v)
			}
		}
	}
	if got := origin.flagDefaults["addr"]; got != "127.0.0.1:8079" {
		t.Errorf("demo-origin: -addr default %q", got)
	}
	for _, b := range []*binary{cp, edge} {
		for p := range healthPaths {
			if !b.served[p] {
				t.Errorf("%s: %s not found in its source", b.name, p)
			}
		}
	}
	if !origin.served["/healthz"] {
		t.Error("demo-origin: /healthz not found in its source")
	}
}

// TestDockerfiles checks every deploy/docker/*.Dockerfile against the
// repository root (the build context) and the program it packages.
func TestDockerfiles(t *testing.T) {
	root := repoRoot(t)
	bins := binaries(t)
	files, err := filepath.Glob(filepath.Join(root, "deploy/docker/*.Dockerfile"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Dockerfiles under deploy/docker (%v)", err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".Dockerfile")
		seen[name] = true
		bin := bins[name]
		if bin == nil {
			t.Errorf("%s: packages no program the validator knows (%v)", f, sortedKeys(bins))
			continue
		}
		df := mustDockerfile(t, f)
		report(t, f, checkDockerfile(df, root, bin))
	}
	for name := range bins {
		if !seen[name] {
			t.Errorf("no deploy/docker/%s.Dockerfile", name)
		}
	}
}

func mustDockerfile(t *testing.T, path string) *dockerfile {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	df, err := parseDockerfile(path, string(src))
	if err != nil {
		t.Fatal(err)
	}
	return df
}

// TestCompose loads docker-compose.yml with compose-go (schema validation
// and interpolation as `docker compose` does them) with the values of
// deploy/compose.env.example, then checks it.
func TestCompose(t *testing.T) {
	root := repoRoot(t)
	composePath := filepath.Join(root, "docker-compose.yml")
	raw, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(root, "deploy/compose.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	env, ps := checkComposeEnvExample(string(raw), string(example))
	report(t, "deploy/compose.env.example", ps)
	report(t, "docker-compose.yml", checkComposeSecrets(raw))

	p, err := loadCompose(root, composePath, raw, env)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	report(t, "docker-compose.yml", checkComposeProject(p, binaries(t), composePublished, devPorts(t)))

	// Without the secrets compose must refuse to start, not run with empty
	// tokens.
	if _, err := loadCompose(root, composePath, raw, map[string]string{}); err == nil {
		t.Error("docker-compose.yml loads without any secret set; require them with ${VAR:?message}")
	}
}

// TestKubernetes checks every kustomization under deploy/k8s, renders the
// base and each overlay with kustomize, decodes every resource strictly
// into the Kubernetes API types and checks the overlays' manifests.
func TestKubernetes(t *testing.T) {
	root := repoRoot(t)
	k8sDir := filepath.Join(root, "deploy/k8s")
	var dirs []string
	err := filepath.WalkDir(k8sDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "kustomization.yaml" {
			dirs = append(dirs, filepath.Dir(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		report(t, dir, checkKustomizationFiles(dir))
	}

	bins := binaries(t)
	images := map[string]imageDefaults{}
	for name := range bins {
		images[name] = mustDockerfile(t, filepath.Join(root, "deploy/docker", name+".Dockerfile")).defaults()
	}

	// The base alone renders and decodes; it leaves the Secrets to overlays.
	docs, err := renderKustomization(filepath.Join(k8sDir, "base"))
	if err != nil {
		t.Fatalf("kustomize build deploy/k8s/base: %v", err)
	}
	_, ps := decodeManifests(docs)
	report(t, "deploy/k8s/base", ps)

	overlays, _ := filepath.Glob(filepath.Join(k8sDir, "overlays/*/kustomization.yaml"))
	if len(overlays) == 0 {
		t.Fatal("no overlays under deploy/k8s/overlays")
	}
	for _, k := range overlays {
		dir := filepath.Dir(k)
		rel, _ := filepath.Rel(root, dir)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			docs, err := renderKustomization(dir)
			if err != nil {
				t.Fatalf("kustomize build %s: %v", rel, err)
			}
			m, ps := decodeManifests(docs)
			report(t, rel, ps)
			if len(m.deployments) == 0 || len(m.jobs) == 0 || len(m.hpas) == 0 || len(m.pdbs) == 0 {
				t.Errorf("%s: want Deployments, the migration Job, an HPA and PodDisruptionBudgets; got %d, %d, %d, %d",
					rel, len(m.deployments), len(m.jobs), len(m.hpas), len(m.pdbs))
			}
			opts := k8sOptions{placeholderSecrets: filepath.Base(dir) == "example"}
			report(t, rel, checkManifests(m, bins, images, opts))
		})
	}
}
