// Package opsrefs lists the metrics the operators' kit queries: the
// Grafana dashboards in deploy/grafana and the Prometheus alert rules (and
// their unit tests) in deploy/prometheus. Each service's metrics tests
// check that it exports every one it owns, so a renamed metric cannot
// leave a dashboard panel empty or an alert silent.
package opsrefs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Files are the operators' kit, as globs under the repository root.
var Files = []string{"deploy/grafana/*.json", "deploy/prometheus/*.yaml"}

var metricName = regexp.MustCompile(`\bpictor_[a-z0-9_]+`)

// Metrics maps each metric name the kit names to the files naming it.
func Metrics(root string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, g := range Files {
		paths, err := filepath.Glob(filepath.Join(root, g))
		if err != nil {
			return nil, err
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("no file matches %s under %s", g, root)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			rel, _ := filepath.Rel(root, p)
			for _, name := range metricName.FindAllString(string(b), -1) {
				if !slices.Contains(out[name], rel) {
					out[name] = append(out[name], rel)
				}
			}
		}
	}
	return out, nil
}

// Missing are the names in refs with prefix that exported (the metric
// families a service serves, histograms by their base name) lacks.
func Missing(refs map[string][]string, prefix string, exported map[string]bool) []string {
	var out []string
	for name, files := range refs {
		if !strings.HasPrefix(name, prefix) || exported[name] {
			continue
		}
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if base != name && exported[base] {
			continue
		}
		out = append(out, fmt.Sprintf("%s (in %s)", name, strings.Join(files, ", ")))
	}
	slices.Sort(out)
	return out
}

// NotExported is Missing for the kit under root and the metric families a
// service's scrape served: what each service's metrics test asserts empty.
func NotExported(root, prefix string, families []string) ([]string, error) {
	refs, err := Metrics(root)
	if err != nil {
		return nil, err
	}
	exported := make(map[string]bool, len(families))
	for _, name := range families {
		exported[name] = true
	}
	return Missing(refs, prefix, exported), nil
}
