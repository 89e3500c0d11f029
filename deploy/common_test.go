// Package deploy holds the tests that validate Pictor's deployment files
// (docker-compose.yml, deploy/docker/*.Dockerfile, deploy/k8s) without a
// Docker engine or a cluster: they parse the files, render the kustomize
// overlays, decode every manifest strictly into the Kubernetes API types,
// and check that images, ports, environment variables and probes refer to
// things the services' Go source actually has.
//
// The checkers return problems as strings instead of failing a test, so the
// negative tests (negative_test.go) can assert that a broken file is caught.
package deploy

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// problems collects what a checker found wrong, each prefixed with where.
type problems []string

func (p *problems) addf(format string, args ...any) {
	*p = append(*p, fmt.Sprintf(format, args...))
}

// report fails t with every problem, one per line.
func report(t *testing.T, what string, ps problems) {
	t.Helper()
	for _, p := range ps {
		t.Errorf("%s: %s", what, p)
	}
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// repoRoot is the repository root: the nearest parent of the test's working
// directory (deploy/) that holds go.work and services/.
func repoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := filepath.Abs(".")
		if err != nil {
			rootErr = err
			return
		}
		for {
			if fileExists(filepath.Join(dir, "go.work")) && dirExists(filepath.Join(dir, "services")) {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = fmt.Errorf("no repository root (go.work + services/) above the working directory")
				return
			}
			dir = parent
		}
	})
	if rootErr != nil {
		t.Fatal(rootErr)
	}
	return rootDir
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// floatingTags never pin anything: they move on every release.
var floatingTags = map[string]bool{
	"latest": true, "stable": true, "edge": true, "nightly": true, "main": true, "master": true,
}

// imagePinProblem says why an image reference is not pinned, or "". A
// reference is pinned by a digest, or by an explicit tag that is not one of
// the conventionally floating ones (latest, stable, ...).
func imagePinProblem(ref string) string {
	if ref == "" {
		return "no image"
	}
	if strings.Contains(ref, "$") {
		return fmt.Sprintf("image %q uses a variable the validator cannot resolve", ref)
	}
	if strings.Contains(ref, "@sha256:") {
		return ""
	}
	// The tag follows the last ':' after the last '/' (a registry may have a
	// port: registry:5000/name).
	name := ref
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		name = ref[i+1:]
	}
	i := strings.LastIndex(name, ":")
	if i < 0 {
		return fmt.Sprintf("image %q has no tag (means latest): pin a version tag or a digest", ref)
	}
	if tag := name[i+1:]; tag == "" || floatingTags[strings.ToLower(tag)] {
		return fmt.Sprintf("image %q uses the floating tag %q: pin a version tag or a digest", ref, tag)
	}
	return ""
}

// imageBase is the last path element of an image reference without tag or
// digest: registry.example.com/pictor/edge:1.0 -> edge.
func imageBase(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	if i := strings.LastIndex(ref, ":"); i >= 0 {
		ref = ref[:i]
	}
	return ref
}

// splitHostPort splits host:port and checks the port is a number.
func splitHostPort(addr string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	return h, n, nil
}

// loopbackHost reports whether a listen host accepts only local connections,
// which inside a container means nobody else can reach the service.
func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// lookupFlag finds a Go-style flag (-name v, --name v, -name=v) in args.
func lookupFlag(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		trimmed := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if trimmed == a {
			continue
		}
		if trimmed == name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(trimmed, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// sortedKeys returns a map's keys in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var pictorEnvName = regexp.MustCompile(`^PICTOR_[A-Z0-9_]+$`)

// healthPaths are the health endpoints both services serve: /healthz is
// liveness (the process answers), /readyz readiness (it can do its job).
var healthPaths = map[string]bool{"/healthz": true, "/readyz": true}
