package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wantProblems fails unless every substring matches one of the problems.
func wantProblems(t *testing.T, ps problems, want ...string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, p := range ps {
			if strings.Contains(p, w) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no problem mentions %q; got:\n  %s", w, strings.Join(ps, "\n  "))
		}
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func splitDocs(s string) [][]byte {
	var out [][]byte
	for _, d := range strings.Split(s, "\n---\n") {
		if strings.TrimSpace(d) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

func TestImagePinProblem(t *testing.T) {
	for ref, pinned := range map[string]bool{
		"postgres:15-bookworm":                    true,
		"registry:5000/pictor/edge:1.2.3":         true,
		"redis@sha256:" + strings.Repeat("a", 64): true,
		"redis":                     false,
		"redis:latest":              false,
		"registry:5000/pictor/edge": false,
		"ghcr.io/x/y:stable":        false,
		"pictor/edge:${TAG}":        false,
	} {
		if got := imagePinProblem(ref) == ""; got != pinned {
			t.Errorf("imagePinProblem(%q) pinned = %v, want %v", ref, got, pinned)
		}
	}
}

func TestExtractSettings(t *testing.T) {
	src := `package main
const (
	envAddr = "PICTOR_X_ADDR"
	defAddr = ":9000"
)
const usage = ` + "`" + `
  PICTOR_DB     database (required)
  PICTOR_TOKEN  token (required by serve)
  PICTOR_LEVEL  log level (default info)
` + "`" + `
func load(getenv func(string) string) {
	_ = orDefault(getenv(envAddr), defAddr)
	_ = str("PICTOR_DIR", "/data")
	_ = dur("PICTOR_WAIT", 5)
	_ = errors.New("PICTOR_KEY is required (the key)")
	_ = fmt.Errorf("%s is required", envAddr)
	_ = flag.String("listen", "127.0.0.1:1", "address")
	_ = "mentions PICTOR_NOT_A_SETTING in a sentence"
}`
	f, err := parser.ParseFile(token.NewFileSet(), "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := extractSettings([]*ast.File{f})
	if got, want := strings.Join(sortedKeys(b.env), " "), "PICTOR_DIR PICTOR_KEY PICTOR_WAIT PICTOR_X_ADDR"; got != want {
		// PICTOR_KEY is a literal only inside its message; it is found as
		// required, not as a setting name: check those separately.
		if !strings.Contains(got, "PICTOR_X_ADDR") || !strings.Contains(got, "PICTOR_DIR") || strings.Contains(got, "NOT_A_SETTING") {
			t.Errorf("settings %q, want %q", got, want)
		}
	}
	if b.defaults["PICTOR_X_ADDR"] != ":9000" || b.defaults["PICTOR_DIR"] != "/data" {
		t.Errorf("defaults %v", b.defaults)
	}
	if _, ok := b.defaults["PICTOR_WAIT"]; ok {
		t.Errorf("a non-string default was taken: %v", b.defaults)
	}
	if b.flagDefaults["listen"] != "127.0.0.1:1" {
		t.Errorf("flag defaults %v", b.flagDefaults)
	}
	want := map[string]string{"PICTOR_DB": "", "PICTOR_TOKEN": "serve", "PICTOR_KEY": "", "PICTOR_X_ADDR": ""}
	for k, v := range want {
		if got, ok := b.required[k]; !ok || got != v {
			t.Errorf("required[%s] = %q, %v; want %q", k, got, ok, v)
		}
	}
	if _, ok := b.required["PICTOR_LEVEL"]; ok {
		t.Error("PICTOR_LEVEL taken as required")
	}
	if got := b.requiredFor([]string{"migrate"}); contains(got, "PICTOR_TOKEN") {
		t.Errorf("requiredFor(migrate) = %v includes a serve-only setting", got)
	}
}

func TestParseDockerfile(t *testing.T) {
	df, err := parseDockerfile("x", `# syntax=docker/dockerfile:1
ARG GLOBAL=1
FROM golang:1.26-bookworm AS Build
RUN a && \
    # a comment inside a continuation
    b

FROM debian:bookworm-slim
COPY --from=build --chmod=755 /out/a /out/b /usr/local/bin/
USER 65532:65532
HEALTHCHECK --interval=5s CMD ["/usr/local/bin/a", "http://127.0.0.1:1/healthz"]
ENTRYPOINT ["/usr/local/bin/a"]
CMD ["serve"]
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(df.stages) != 2 || df.stages[0].name != "build" || df.stages[0].instrs[1].args != "a &&  b" {
		t.Fatalf("stages parsed wrong: %+v %+v", df.stages[0], df.stages[0].instrs)
	}
	im := df.defaults()
	if uid, ok := im.uid(); !ok || uid != 65532 {
		t.Errorf("uid %d %v", uid, ok)
	}
	if got := im.args([]string{"migrate"}); strings.Join(got, " ") != "migrate" {
		t.Errorf("args %v", got)
	}
	if !df.final().provided()["/usr/local/bin/b"] || len(im.healthcheck) != 2 {
		t.Errorf("provided %v, healthcheck %v", df.final().provided(), im.healthcheck)
	}
	if _, err := parseDockerfile("y", "RUN x\n"); err == nil {
		t.Error("instruction before FROM accepted")
	}
	if _, err := parseDockerfile("z", "FROM a:1\nRUN <<EOF\nx\nEOF\n"); err == nil {
		t.Error("heredoc accepted")
	}
}

func TestDockerfileProblems(t *testing.T) {
	bins := binaries(t)
	root := repoRoot(t)

	df, err := parseDockerfile("bad", `FROM golang:latest
COPY nothere/ /x/
USER root
EXPOSE 9999
ENTRYPOINT ["/usr/local/bin/edge"]
`)
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, checkDockerfile(df, root, bins["edge"]),
		"single stage",
		`floating tag "latest"`,
		"COPY nothere/: not in the build context",
		"USER root: use a numeric uid",
		"EXPOSE 9999: edge does not listen there",
		"listens on 8081, which is not EXPOSEd",
		"no exec-form HEALTHCHECK",
		"ENTRYPOINT /usr/local/bin/edge: no COPY",
		"-X main.version",
	)

	// A build context with a module whose replace target is not copied,
	// and a file .dockerignore keeps out.
	ctx := writeFiles(t, map[string]string{
		"app/go.mod":    "module app\n\ngo 1.26\n\nrequire lib v0.0.0\n\nreplace lib => ../lib\n",
		"lib/go.mod":    "module lib\n\ngo 1.26\n",
		"secret.env":    "X=1\n",
		".dockerignore": "secret.env\n",
	})
	df, err = parseDockerfile(filepath.Join(ctx, "Dockerfile"), `FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY app/ app/
COPY secret.env /s
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /out/x /x
COPY --from=build /out/demo-origin /out/healthcheck /usr/local/bin/
USER 0
EXPOSE 8079
HEALTHCHECK CMD ["/usr/local/bin/healthcheck", "http://127.0.0.1:9000/statusz"]
ENTRYPOINT ["/usr/local/bin/demo-origin"]
`)
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, checkDockerfile(df, ctx, bins["demo-origin"]),
		"replaces lib with ../lib, but the Dockerfile does not COPY lib",
		"COPY secret.env: excluded from the build context by .dockerignore",
		"COPY --from=builder is no earlier stage",
		"USER 0: the final stage must not run as root",
		"demo-origin's http listener is 127.0.0.1:8079: unreachable from outside the container",
		"serves HTTP on port 8079, not 9000",
		"/statusz is not a health path",
	)
}

func TestComposeProblems(t *testing.T) {
	root := repoRoot(t)
	raw := []byte(`
services:
  redis:
    image: redis:latest
  db:
    image: postgres:15
    environment:
      POSTGRES_PASSWORD: hunter2
  cp:
    build: {context: ., dockerfile: deploy/docker/controlplane.Dockerfile}
    image: pictor/controlplane:test
    command: ["serve"]
    environment:
      PICTOR_DATABASE_URL: postgres://postgres:wrong@db:5432/pictor
      PICTOR_ADMIN_TOKEN: literal-token
      PICTOR_MASTER_KEY: ${KEY:?}
      PICTOR_EDGE_TOKEN: ${TOKEN:?}
    ports: ["127.0.0.1:8080:8080"]
  edge:
    build: {context: ., dockerfile: deploy/docker/edge.Dockerfile}
    image: pictor/edge:test
    read_only: true
    environment:
      PICTOR_EDGE_ADDR: "127.0.0.1:8081"
      PICTOR_BOGUS: "1"
      PICTOR_CONTROL_PLANE_ADDR: cp:9999
      PICTOR_REDIS_ADDRS: cache:6379
    ports: ["8081:9999"]
    depends_on:
      db: {condition: service_healthy}
    healthcheck:
      test: ["CMD", "/usr/local/bin/healthcheck", "http://127.0.0.1:8081/statusz"]
`)
	p, err := loadCompose(root, filepath.Join(root, "test-compose.yml"), raw, map[string]string{"KEY": "k", "TOKEN": "t"})
	if err != nil {
		t.Fatal(err)
	}
	ps := checkComposeProject(p, binaries(t), composePublished, devPorts(t))
	wantProblems(t, ps,
		`service redis: image "redis:latest" uses the floating tag`,
		"service redis: Redis is a cache here: bound it with --maxmemory",
		"service db: no volume on /var/lib/postgresql/data",
		"service edge: PICTOR_BOGUS is not a setting edge reads",
		"service edge: PICTOR_EDGE_TOKEN is required by `edge` but not set",
		"service edge: listens on 127.0.0.1:8081",
		"service edge: publishes container port 9999",
		"service edge: port 9999 is published on every host interface",
		"/statusz is not a health path edge serves",
		"service edge: waits for db to be healthy, but db has no healthcheck",
		"service edge: PICTOR_EDGE_DATA_DIR (/var/lib/pictor-edge) is not on a writable volume",
		"service edge: read_only root file system, but /tmp is not mounted",
		`PICTOR_CONTROL_PLANE_ADDR "cp:9999": cp serves gRPC on 8090`,
		`PICTOR_REDIS_ADDRS entry "cache:6379": no Redis service`,
		"service cp: the control plane must start after the migrations",
		"service cp: uses the database service db but does not",
		"service cp: PICTOR_DATABASE_URL password differs",
		`service cp: PICTOR_DATABASE_URL database "pictor", but db creates "postgres"`,
		"no service edge-1",
		"no service controlplane: it should publish its grpc port on 8090",
		"service cp publishes 8080:8080, which the dev stack does not",
		`service cp: PICTOR_SIGNUP_ENABLED is "": self-service sign-up is on`,
	)
	wantProblems(t, checkComposeSecrets(raw),
		"service db: POSTGRES_PASSWORD has a literal value",
		"service cp: PICTOR_ADMIN_TOKEN has a literal value",
		"service cp: PICTOR_DATABASE_URL has a literal password",
	)

	// The compose-spec schema rejects what docker compose would.
	bad := []byte("services:\n  x:\n    image: a:1\n    portz: [\"80:80\"]\n")
	if _, err := loadCompose(root, filepath.Join(root, "bad.yml"), bad, nil); err == nil || !strings.Contains(err.Error(), "portz") {
		t.Errorf("unknown attribute not rejected: %v", err)
	}
}

func TestComposeEnvExampleProblems(t *testing.T) {
	compose := "x: ${A:?set A} ${B:-dflt} ${C:?set C} ${E:?set E}"
	example := "A=literal-secret\nD=1\n#B=dflt\n#E=\n"
	env, ps := checkComposeEnvExample(compose, example)
	wantProblems(t, ps,
		"A has a value; ship secrets empty",
		"C (used by the compose file) is not documented",
		"E is required by the compose file; list it (empty)",
		"D is not used by the compose file",
	)
	if env["C"] == "" || env["A"] != "literal-secret" {
		t.Errorf("env for loading: %v", env)
	}
}

func TestManifestProblems(t *testing.T) {
	bins := binaries(t)
	root := repoRoot(t)
	images := map[string]imageDefaults{}
	for name := range bins {
		images[name] = mustDockerfile(t, filepath.Join(root, "deploy/docker", name+".Dockerfile")).defaults()
	}

	// Strict decoding: a misspelt field is an error, an unknown kind too.
	_, ps := decodeManifests(splitDocs(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  replica: 2
  selector: {matchLabels: {a: b}}
  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: "i:1"}]}}
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: h}
---
apiVersion: v1
kind: Service
metadata: {name: s}
spec:
  ports: [{port: "eighty"}]
`))
	wantProblems(t, ps,
		`Deployment x: error unmarshaling JSON: while decoding JSON: json: unknown field "replica"`,
		"autoscaling/v1 HorizontalPodAutoscaler h: no schema",
		"v1 Service s:",
	)

	m, ps := decodeManifests(splitDocs(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: pictor-edge}
spec:
  replicas: 3
  selector: {matchLabels: {app: edge}}
  template:
    metadata: {labels: {app: edge}}
    spec:
      securityContext: {runAsUser: 1000}
      containers:
        - name: edge
          image: pictor/edge:latest
          ports: [{name: http, containerPort: 8080}]
          env:
            - {name: PICTOR_BOGUS, value: "1"}
            - {name: PICTOR_CONTROL_PLANE_ADDR, value: "pictor-cp:8090"}
            - name: PICTOR_EDGE_TOKEN
              valueFrom: {secretKeyRef: {name: missing, key: token}}
          envFrom:
            - configMapRef: {name: absent}
          livenessProbe: {httpGet: {path: /readyz, port: http}}
          volumeMounts: [{name: nope, mountPath: /tmp}]
---
apiVersion: v1
kind: Service
metadata: {name: pictor-edge}
spec:
  selector: {app: edje}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: pictor-edge}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: pictor-edg}
  minReplicas: 1
  maxReplicas: 3
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: pictor-edge}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: edje}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  tls: [{hosts: [a.example], secretName: t}]
  rules:
    - host: b.example
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: gone, port: {number: 80}}}}]}
`))
	report(t, "decode", ps)
	wantProblems(t, checkManifests(m, bins, images, k8sOptions{}),
		`image "pictor/edge:latest" uses the floating tag`,
		"set resources.requests.cpu and .memory",
		"set resources.limits.memory",
		"runAsNonRoot must be true",
		"runAsUser 1000 differs from the image's USER 65532:65532",
		"readOnlyRootFilesystem must be true",
		"allowPrivilegeEscalation must be false",
		"capabilities must drop ALL",
		"set seccompProfile RuntimeDefault",
		"PICTOR_BOGUS is not a setting edge reads",
		"PICTOR_EDGE_TOKEN comes from Secret missing key token, which does not exist",
		"envFrom ConfigMap absent does not exist",
		"listens on 8081 (http) but declares no such containerPort",
		"containerPort 8080: edge does not listen there",
		"no readinessProbe (want httpGet /readyz)",
		`livenessProbe path "/readyz": want /healthz`,
		"volumeMount nope names no volume",
		"PICTOR_EDGE_DATA_DIR (/var/lib/pictor-edge) must be a writable volume mount",
		"Service pictor-edge: selector map[app:edje] matches no Deployment",
		"scaleTargetRef apps/v1 Deployment pictor-edg is no Deployment here",
		"PodDisruptionBudget pictor-edge: selector matches no Deployment's pods",
		"want exactly one PodDisruptionBudget selecting its pods, found 0",
		"runs the edge but no HorizontalPodAutoscaler targets it",
		"no topologySpreadConstraints",
		"PICTOR_CONTROL_PLANE_ADDR pictor-cp:8090: no Service pictor-cp",
		"Ingress web: backend Service gone does not exist",
		"Ingress web: tls host a.example has no rule",
		"TLS without a cert-manager.io/cluster-issuer",
	)

	// HPA on a Deployment that fixes its replicas, without CPU requests;
	// a control plane with one replica; an example Secret with a value.
	m, ps = decodeManifests(splitDocs(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: pictor-edge}
spec:
  replicas: 2
  selector: {matchLabels: {app: edge}}
  template:
    metadata: {labels: {app: edge}}
    spec:
      containers: [{name: edge, image: "pictor/edge:1"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cp}
spec:
  replicas: 1
  selector: {matchLabels: {app: cp}}
  template:
    metadata: {labels: {app: cp}}
    spec:
      containers: [{name: cp, image: "pictor/controlplane:1"}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: pictor-edge}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: pictor-edge}
  minReplicas: 2
  maxReplicas: 3
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: all}
spec:
  minAvailable: 1
  selector: {matchExpressions: [{key: app, operator: Exists}]}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {PICTOR_EDGE_TOKEN: 0123456789abcdef}
---
apiVersion: v1
kind: Service
metadata: {name: cp}
spec:
  selector: {app: cp}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: api}
spec:
  rules:
    - host: api.example
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: cp, port: {name: http}}}}]}
`))
	report(t, "decode", ps)
	wantProblems(t, checkManifests(m, bins, images, k8sOptions{placeholderSecrets: true}),
		"Deployment pictor-edge sets replicas, which every apply would reset",
		"scales on CPU utilization, but container edge has no CPU request",
		"PodDisruptionBudget all: selector matches the pods of several Deployments",
		"Deployment cp: run at least 2 control plane replicas",
		"Secret s: PICTOR_EDGE_TOKEN is not a REPLACE_ME placeholder",
		`Deployment cp container cp: PICTOR_SIGNUP_ENABLED is "": self-service sign-up is on`,
		"Deployment cp container cp: an Ingress routes to it but PICTOR_TRUSTED_PROXIES is not set",
	)
}

func TestKustomizationProblems(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"kustomization.yaml": "resources:\n  - present.yaml\n  - missing.yaml\n  - https://example.com/remote.yaml\n",
		"present.yaml":       "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
	})
	wantProblems(t, checkKustomizationFiles(dir),
		"lists missing.yaml, which is neither a file nor a directory",
		"remote resource https://example.com/remote.yaml",
	)
	if _, err := renderKustomization(dir); err == nil {
		t.Error("kustomize rendered a kustomization with a missing resource")
	}
	typo := writeFiles(t, map[string]string{"kustomization.yaml": "resource:\n  - a.yaml\n"})
	wantProblems(t, checkKustomizationFiles(typo), `unknown field "resource"`)
}
