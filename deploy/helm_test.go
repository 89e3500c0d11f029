package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The Helm chart (deploy/helm/pictor) is linted and rendered by the Helm
// CLI that scripts/bootstrap.sh --test builds at a pinned version; what it
// renders goes through the same checks as the kustomize output.

func helmBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(repoRoot(t), ".dev/bin/helm")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no helm at %s: run bash scripts/bootstrap.sh --test (make test does)", bin)
	}
	return bin
}

// helm runs the Helm CLI on the chart with args; it returns stdout and
// whether it succeeded, with stderr.
func helm(t *testing.T, args ...string) (out string, stderr string, ok bool) {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	cmd.Dir = repoRoot(t)
	// No user's Helm config or repositories.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Fatalf("helm %v: %v", args, err)
	}
	return o.String(), e.String(), err == nil
}

const chartDir = "deploy/helm/pictor"

// helmValues are the values files make test renders the chart with.
var helmValues = []struct{ name, file string }{
	{"defaults", ""},
	{"production example", "deploy/helm/examples/production.yaml"},
}

func valuesArgs(file string) []string {
	if file == "" {
		return nil
	}
	return []string{"-f", file}
}

// exampleSecrets are the Secrets the chart references but never creates,
// as an operator would make them: the example overlay's placeholders, and
// a Redis password.
func exampleSecrets(t *testing.T) [][]byte {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy/k8s/overlays/example/secrets.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return append(splitDocs(string(b)), []byte(`apiVersion: v1
kind: Secret
metadata: {name: pictor-redis}
type: Opaque
stringData: {PICTOR_REDIS_PASSWORD: REPLACE_ME}`))
}

func TestHelmChart(t *testing.T) {
	bins := binaries(t)
	images := map[string]imageDefaults{}
	for name := range bins {
		images[name] = mustDockerfile(t, filepath.Join(repoRoot(t), "deploy/docker", name+".Dockerfile")).defaults()
	}
	for _, v := range helmValues {
		t.Run(v.name, func(t *testing.T) {
			if out, errOut, ok := helm(t, append([]string{"lint", "--strict", chartDir}, valuesArgs(v.file)...)...); !ok {
				t.Fatalf("helm lint: %s%s", out, errOut)
			}
			out, errOut, ok := helm(t, append([]string{"template", "pictor", chartDir, "--namespace", "pictor"}, valuesArgs(v.file)...)...)
			if !ok {
				t.Fatalf("helm template: %s", errOut)
			}
			docs := append(splitDocs(out), exampleSecrets(t)...)
			if out, ok := validateSchemas(t, docs); !ok {
				t.Errorf("the chart's output does not match the Kubernetes schemas:\n%s", out)
			}
			m, ps := decodeManifests(docs)
			report(t, v.name, ps)
			report(t, v.name, checkManifests(m, bins, images, k8sOptions{placeholderSecrets: true}))
			checkHelmSpecifics(t, m, out)
		})
	}
}

// checkHelmSpecifics: what the chart adds to the kustomize base.
func checkHelmSpecifics(t *testing.T, m *manifests, out string) {
	t.Helper()
	if len(m.jobs) != 1 || m.jobs[0].Annotations["helm.sh/hook"] != "pre-install,pre-upgrade" {
		t.Errorf("want one migration Job as a pre-install,pre-upgrade hook; got %d jobs", len(m.jobs))
	}
	for _, d := range m.deployments {
		if d.Labels["app.kubernetes.io/component"] != "edge" {
			continue
		}
		// The budget is 80 % of the container's memory limit, which the
		// edge reads from its cgroup when nothing overrides it.
		c := d.Spec.Template.Spec.Containers[0]
		if c.Resources.Limits.Memory().IsZero() {
			t.Error("edge Deployment: no memory limit, so no memory budget from it")
		}
		for _, e := range c.Env {
			if e.Name == "PICTOR_EDGE_MEMORY_LIMIT" {
				t.Errorf("edge Deployment: PICTOR_EDGE_MEMORY_LIMIT overrides the budget the limit gives: %+v", e)
			}
		}
		for _, from := range c.EnvFrom {
			if cm := from.ConfigMapRef; cm != nil && m.configMaps[cm.Name] != nil {
				if _, set := m.configMaps[cm.Name].Data["PICTOR_EDGE_MEMORY_LIMIT"]; set {
					t.Errorf("edge ConfigMap %s sets PICTOR_EDGE_MEMORY_LIMIT, overriding the budget the limit gives", cm.Name)
				}
			}
		}
	}
	if strings.Contains(out, "kind: Secret") {
		t.Error("the chart renders a Secret; it must only reference existing ones")
	}
}

// TestHelmValuesSchema: values.schema.json refuses what would otherwise be
// silently ignored or rendered wrong.
func TestHelmValuesSchema(t *testing.T) {
	cases := []struct {
		name string
		set  string
	}{
		{"misspelt key", "edge.autoscalling.minReplicas=3"},
		{"unknown top-level key", "replicaCount=3"},
		{"bad pull policy", "image.pullPolicy=Sometimes"},
		{"no database secret", "secrets.database.existingSecret="},
		{"Redis address without port", "redis.addrs={redis.example.com}"},
		{"setting not PICTOR_", "controlplane.extraConfig.DATABASE_URL=x"},
		{"edge without a memory limit", "edge.resources.limits=null"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if out, _, ok := helm(t, "template", "pictor", chartDir, "--set", tc.set); ok {
				t.Errorf("--set %s rendered:\n%.300s", tc.set, out)
			}
		})
	}
}

// TestHelmMatchesKustomize: the settings both install paths give the
// services are the same: the chart's default ConfigMaps hold what the
// kustomize base's do.
func TestHelmMatchesKustomize(t *testing.T) {
	out, errOut, ok := helm(t, "template", "pictor", chartDir)
	if !ok {
		t.Fatalf("helm template: %s", errOut)
	}
	hm, ps := decodeManifests(splitDocs(out))
	report(t, "helm", ps)
	docs, err := renderKustomization(filepath.Join(repoRoot(t), "deploy/k8s/base"))
	if err != nil {
		t.Fatal(err)
	}
	km, ps := decodeManifests(docs)
	report(t, "kustomize", ps)
	for _, name := range []string{"pictor-controlplane", "pictor-edge"} {
		h := hm.configMaps[name]
		var k *corev1.ConfigMap
		for kname, cm := range km.configMaps {
			if strings.HasPrefix(kname, name+"-") || kname == name {
				k = cm
			}
		}
		if h == nil || k == nil {
			t.Fatalf("ConfigMap %s: helm %v, kustomize %v", name, h != nil, k != nil)
		}
		for key, want := range k.Data {
			if got, ok := h.Data[key]; !ok || got != want {
				t.Errorf("%s: %s is %q in the chart, %q in deploy/k8s/base", name, key, got, want)
			}
		}
		for key := range h.Data {
			if _, ok := k.Data[key]; !ok {
				t.Errorf("%s: %s is set by the chart's defaults but not by deploy/k8s/base", name, key)
			}
		}
	}
}
